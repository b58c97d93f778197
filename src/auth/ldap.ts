/**
 * LDAP password check: a simple bind as `uid=<username>,<base>` with ldapts.
 * ldapts (and the socket and TLS code it brings) is loaded at the first
 * login, so that a server nobody logs in to does not pay for it at start.
 */

export class LdapUnavailableError extends Error {}

/**
 * ldapts, loaded at the first call. Through its CommonJS build: the
 * executable's bundle keeps a CommonJS module's own imports (node:net,
 * node:tls, node:crypto...) inside it, where it hoists an ES module's to the
 * program's start, which every command would then pay for.
 */
const loadLdapts = (): typeof import('ldapts') => require('ldapts')

/**
 * Escapes a DN attribute value per RFC 4514 by writing every byte outside
 * [A-Za-z0-9] as `\XX`. RFC 4514 allows a hex pair for any octet, so no
 * character in a username can change the DN's structure.
 */
export function escapeDnValue(value: string): string {
  let out = ''
  for (const ch of value) {
    if (/[A-Za-z0-9]/.test(ch)) out += ch
    else for (const byte of Buffer.from(ch, 'utf8')) out += '\\' + byte.toString(16).padStart(2, '0')
  }
  return out
}

export function userDn(username: string, base: string): string {
  return `uid=${escapeDnValue(username)},${base}`
}

/**
 * True when LDAP accepts the password, false when it rejects the credentials.
 * Throws LdapUnavailableError when the server cannot be reached or answers
 * too slowly; the whole attempt is bounded by `timeoutMs`.
 */
export async function ldapCheckPassword(url: string, base: string, username: string, password: string, timeoutMs: number): Promise<boolean> {
  if (password === '') return false // an empty simple bind is anonymous and would "succeed"
  const { Client, InvalidCredentialsError, ResultCodeError } = loadLdapts()
  const client = new Client({ url, timeout: timeoutMs, connectTimeout: timeoutMs })
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LdapUnavailableError('LDAP server timed out')), timeoutMs)
  })
  try {
    await Promise.race([client.bind(userDn(username, base), password), deadline])
    return true
  } catch (error) {
    if (error instanceof InvalidCredentialsError) return false
    if (error instanceof LdapUnavailableError) throw error
    // Any other LDAP result (e.g. a DN the server will not parse) is a failed login;
    // socket-level failures mean the server is unavailable.
    if (error instanceof ResultCodeError) return false
    throw new LdapUnavailableError(error instanceof Error ? error.message : String(error))
  } finally {
    clearTimeout(timer)
    client.unbind().catch(() => {})
  }
}
