/**
 * A value made on first use. Services declare their prepared statements with
 * it, so that start-up prepares none (each costs a parse and plan in SQLite,
 * tens of them add up to a noticeable part of start-up) and each is prepared
 * once, by the first request that needs it.
 */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined
  let made = false
  return () => {
    if (!made) {
      value = make()
      made = true
    }
    return value as T
  }
}
