/**
 * The time, as the app reads it: milliseconds since the epoch. The app is
 * built with one (AppOptions.clock), so that tests set the time rather than
 * wait for it to pass.
 */
export type Clock = () => number

/** The wall clock, to the microsecond that timestamps carry. */
export const systemClock: Clock = () => performance.timeOrigin + performance.now()
