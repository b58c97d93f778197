/**
 * The program as a real child process: a command run to its end, or the
 * server on a loopback port, for tests of what only a process shows: exit
 * codes, kills, signals, shared database files. Both run the compiled binary
 * (test/binary.ts), as a head node does, which starts in a fifth of the time
 * `bun src/cli.ts` takes; `runSourceCli` runs the sources, as `bun run start`.
 */
import { resolve } from 'node:path'
import { TokenService } from '../src/auth/tokens'
import { builtBinary } from './binary'
import { freePort } from './ldap-server'
import { TEST_SECRET } from './support'

export interface CliResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/** Runs `iceprod-rest ...args` with exactly `env` to its end, without blocking the tests beside it. */
export async function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<CliResult> {
  return run([resolve(await builtBinary()), ...args], env, timeoutMs)
}

/** The same, from the sources: `bun src/cli.ts ...args`. */
export function runSourceCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<CliResult> {
  return run(['bun', 'src/cli.ts', ...args], env, timeoutMs)
}

/** Runs `command` with exactly `env` (in `cwd`, by default this one) to its end, killed after `timeoutMs`. */
export async function run(command: string[], env: Record<string, string | undefined>, timeoutMs: number, cwd?: string): Promise<CliResult> {
  const proc = Bun.spawn(command, { env, cwd, stdout: 'pipe', stderr: 'pipe', timeout: timeoutMs })
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  const code = await proc.exited
  const signal = proc.signalCode === null ? null : String(proc.signalCode)
  return { code: signal === null ? code : null, signal, stdout, stderr }
}

/** `work` for every item, `limit` at a time (processes on a small, shared machine), results in order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export interface ServerProcess {
  url: string
  port: number
  proc: ReturnType<typeof Bun.spawn>
  /** Everything the server wrote to stderr so far. */
  stderr(): string
  /** Everything the server wrote to stderr, once it has closed it (its exit does not wait for the last lines to be read). */
  stderrClosed: Promise<string>
  /** A token signed with the server's secret (as `iceprod-rest token` prints it; cli.test.ts tests that command). */
  token(role: string, username?: string): Promise<string>
}

/** A process's output stream as text as it arrives, to wait on without polling. */
export interface StreamText {
  /** Everything written so far. */
  text(): string
  /** The first match of `pattern` in the text, once it has arrived; rejects once the stream ends without one, or after `timeoutMs`. */
  until(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** The whole text, once the stream has ended. */
  closed: Promise<string>
}

export function streamText(stream: ReadableStream<Uint8Array>): StreamText {
  let text = ''
  let ended = false
  let arrived: (() => void)[] = []
  const wake = () => {
    const woken = arrived
    arrived = []
    for (const resolve of woken) resolve()
  }
  const closed = (async () => {
    const decoder = new TextDecoder()
    try {
      for await (const chunk of stream) {
        text += decoder.decode(chunk, { stream: true })
        wake()
      }
    } finally {
      ended = true
      wake()
    }
    return text
  })()
  return {
    text: () => text,
    async until(pattern, timeoutMs = 20_000) {
      let late = false
      const deadline = setTimeout(() => ((late = true), wake()), timeoutMs)
      try {
        for (;;) {
          const match = text.match(pattern)
          if (match) return match
          if (ended) throw new Error(`the stream ended before ${pattern}: ${text}`)
          if (late) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${text}`)
          await new Promise<void>((resolve) => arrived.push(resolve))
        }
      } finally {
        clearTimeout(deadline)
      }
    },
    closed,
  }
}

/** `iceprod-rest serve` on `db` and a free loopback port, once it answers. */
export async function startServerProcess(db: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const [binary, port] = await Promise.all([builtBinary(), freePort()])
  const fullEnv = { ...process.env, ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'error', ...env }
  const proc = Bun.spawn([resolve(binary), 'serve', '--db', db, '--port', String(port)], { env: fullEnv, stdout: 'ignore', stderr: 'pipe' })
  const stderr = streamText(proc.stderr as ReadableStream<Uint8Array>)
  const url = `http://127.0.0.1:${port}`
  // It says so once it listens (whatever the log level), or exits saying why.
  await stderr.until(/listening on/).catch(() => {
    throw new Error(`server did not start: ${stderr.text()}`)
  })
  const health = await fetch(`${url}/healthz`)
  if (!health.ok) throw new Error(`server does not answer /healthz (${health.status}): ${stderr.text()}`)
  const tokens = new TokenService(fullEnv.ICEPROD_JWT_SECRET)
  const token = (role: string, username = role) => tokens.sign({ username, role, groups: [], type: 'user', ttl: 3600 })
  return { url, port, proc, stderr: stderr.text, stderrClosed: stderr.closed, token }
}

export interface JsonAnswer {
  status: number
  /** The parsed JSON body; undefined when the answer has none. */
  body: any
  headers: Headers
}

/** Calls a server over HTTP with `token` as bearer, sending `body` (when given) as JSON. */
export function jsonCaller(url: string, token: string): (method: string, path: string, body?: unknown) => Promise<JsonAnswer> {
  return async (method, path, body) => {
    const response = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers }
  }
}
