/** Sign in with a token, or with an LDAP username and password (`POST /ldap`, which returns a token). */
import { useState } from 'preact/hooks'
import { ApiError, call, claimsOf } from '../api'

export function SignIn({ onSignIn, notice }: { onSignIn: (token: string) => void; notice?: string }) {
  const [token, setToken] = useState('')
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)

  const withToken = async (value: string) => {
    const trimmed = value.trim().replace(/^bearer\s+/i, '')
    if (!claimsOf(trimmed)) return setError('That is not a token (a JWT has three parts separated by dots).')
    // The server checks it on the first call: a token it refuses signs out again, saying why.
    onSignIn(trimmed)
  }

  const withLdap = async () => {
    setBusy(true)
    setError(undefined)
    try {
      const reply = await call<{ token: string }>('POST', 'ldap', { username, password }, undefined, null)
      onSignIn(reply.token)
    } catch (e) {
      const status = (e as ApiError).status
      setError(
        status === 401 ? 'Wrong username or password.'
        : status === 429 ? 'Too many failed sign-ins: wait a few minutes.'
        : status === 501 ? 'This server has no LDAP sign-in: use a token.'
        : `Sign-in failed: ${(e as Error).message}.`,
      )
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" class="signin">
      <h1>IceProd</h1>
      {notice && (
        <p class="note" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="note error" role="alert">
          {error}
        </p>
      )}
      <form
        class="card"
        onSubmit={(event) => {
          event.preventDefault()
          void withToken(token)
        }}
      >
        <h2>Sign in with a token</h2>
        <label for="signin-token">Token</label>
        <textarea id="signin-token" rows={3} autocomplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <form
        class="card"
        onSubmit={(event) => {
          event.preventDefault()
          void withLdap()
        }}
      >
        <h2>Sign in with your IceProd account</h2>
        <label for="signin-username">Username</label>
        <input id="signin-username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        <label for="signin-password">Password</label>
        <input id="signin-password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        <button type="submit" disabled={busy}>
          Sign in with LDAP
        </button>
      </form>
      <p class="muted">The token stays in this tab only and is sent to this server alone.</p>
    </main>
  )
}
