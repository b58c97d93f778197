/**
 * The server as a real child process (`bun src/cli.ts serve`) on a loopback port,
 * for tests of what only a process shows: kills, signals, shared database files.
 */
import { freePort } from './ldap-server'
import { TEST_SECRET } from './support'

export interface ServerProcess {
  url: string
  port: number
  proc: ReturnType<typeof Bun.spawn>
  /** Everything the server wrote to stderr so far. */
  stderr(): string
  /** A token signed with the server's secret. */
  token(role: string, username?: string): string
}

export async function startServerProcess(db: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort()
  const fullEnv = { ...process.env, ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'error', ...env }
  const proc = Bun.spawn(['bun', 'src/cli.ts', 'serve', '--db', db, '--port', String(port)], { env: fullEnv, stdout: 'ignore', stderr: 'pipe' })
  let text = ''
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) text += decoder.decode(chunk)
  })()
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false)
    if (up) break
    if (proc.exitCode !== null || i > 200) throw new Error(`server did not start: ${text}`)
    await Bun.sleep(25)
  }
  const token = (role: string, username = role) => {
    const out = Bun.spawnSync(['bun', 'src/cli.ts', 'token', '--db', db, '--username', username, '--role', role], { env: fullEnv })
    if (out.exitCode !== 0) throw new Error(out.stderr.toString())
    return out.stdout.toString().trim()
  }
  return { url, port, proc, stderr: () => text, token }
}
