/**
 * `serve` on a port another process already listens on (API.md §5): it exits
 * non-zero with a one-line reason, rather than sharing the port with the
 * other server and splitting the requests between two databases. Every
 * listener here is a real socket on a loopback port of its own (iceprod-rest:
 * the compiled binary, in a process of its own; the other program: Bun's
 * server in this one; freePort never hands a port out twice); the tests run
 * at the same time, and share only the first server, which they only read.
 */
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { builtBinary } from './binary'
import { freePort } from './ldap-server'
import { startServerProcess, type ServerProcess } from './server-process'
import { TEST_SECRET } from './support'

// These tests start real processes: allow more than the 5 s default on a busy machine.
setDefaultTimeout(60_000)

const dir = mkdtempSync(join(tmpdir(), 'iceprod-port-'))
const running: ReturnType<typeof Bun.spawn>[] = []
const listeners: ReturnType<typeof Bun.serve>[] = []
afterAll(async () => {
  for (const proc of running) {
    proc.kill('SIGKILL')
    await proc.exited
  }
  await Promise.all(listeners.map((listener) => listener.stop(true)))
  rmSync(dir, { recursive: true, force: true })
})

/** The first server: started once, on a free port, for the tests that need one running. */
let first: Promise<ServerProcess> | undefined
const firstServer = () =>
  (first ??= startServerProcess(join(dir, 'first.sqlite')).then((server) => {
    running.push(server.proc)
    return server
  }))

interface Outcome {
  exitCode: number | null
  stderrLines: string[]
}

/** Runs `iceprod-rest serve` on `port` and waits (up to 15 s) for it to exit; a server still running then is stopped and reported with exitCode null. */
async function serveOn(port: number, host: string, db: string): Promise<Outcome> {
  const proc = Bun.spawn([resolve(await builtBinary()), 'serve', '--db', db, '--host', host, '--port', String(port)], {
    env: { ...process.env, ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'error' },
    stdout: 'ignore',
    stderr: 'pipe',
  })
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(15_000).then(() => false)])
  if (!exited) {
    proc.kill('SIGKILL')
    await proc.exited
  }
  const stderr = await new Response(proc.stderr as ReadableStream).text()
  return { exitCode: exited ? proc.exitCode : null, stderrLines: stderr.trim().split('\n') }
}

/** Another program listening on `port` (SO_REUSEPORT set when `reusePort`): Bun's server, in this process. */
async function otherListener(host: string, port: number, reusePort: boolean): Promise<void> {
  const listener = Bun.serve({ hostname: host, port, reusePort, fetch: () => new Response('other') })
  listeners.push(listener)
  expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('other')
}

function expectRefusedToStart(outcome: Outcome, host: string, port: number): void {
  expect(outcome).toEqual({ exitCode: 2, stderrLines: [`iceprod-rest: cannot listen on ${host}:${port}: the port is already in use by another process`] })
}

test.concurrent('a second iceprod-rest on the port of a running one exits 2 with one line; the first keeps serving alone', async () => {
  const first = await firstServer()
  const second = await serveOn(first.port, '127.0.0.1', join(dir, 'second.sqlite'))
  expectRefusedToStart(second, '127.0.0.1', first.port)
  // Every request reaches the first server's database: none goes to a second one.
  const token = await first.token('admin')
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${first.url}/groups`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ name: `/port/${i}` }) })
    expect(r.status).toBe(201)
  }
  const groups = (await (await fetch(`${first.url}/groups`, { headers: { authorization: `Bearer ${token}` } })).json()) as { results: { name: string }[] }
  expect(groups.results.filter((g) => g.name.startsWith('/port/'))).toHaveLength(20)
  // The refused start printed no admin token, and never opened its database: not even created.
  expect(second.stderrLines.join('\n')).not.toContain('admin token')
  expect(existsSync(join(dir, 'second.sqlite'))).toBe(false)
})

test.concurrent('a port another program holds with SO_REUSEPORT is refused too (two servers must never share a port)', async () => {
  const port = await freePort()
  await otherListener('127.0.0.1', port, true)
  expectRefusedToStart(await serveOn(port, '127.0.0.1', join(dir, 'reuse.sqlite')), '127.0.0.1', port)
})

test.concurrent('a port held on any address that would clash is refused: 0.0.0.0 taken, 127.0.0.1 asked, and the reverse', async () => {
  // The two cases, on ports of their own, at the same time.
  await Promise.all([
    (async () => {
      const wildcard = await freePort()
      await otherListener('0.0.0.0', wildcard, false)
      expectRefusedToStart(await serveOn(wildcard, '127.0.0.1', join(dir, 'specific.sqlite')), '127.0.0.1', wildcard)
    })(),
    (async () => {
      const loopback = await freePort()
      await otherListener('127.0.0.1', loopback, true)
      expectRefusedToStart(await serveOn(loopback, '0.0.0.0', join(dir, 'wildcard.sqlite')), '0.0.0.0', loopback)
    })(),
  ])
})

test('freePort never hands out a port twice, so the tests running at the same time never share one', async () => {
  // Far more draws than these tests make: the system alone would hand some port out twice.
  const ports = []
  for (let i = 0; i < 1000; i++) ports.push(await freePort())
  expect(new Set(ports).size).toBe(ports.length)
})

test('two workers of `bun test --parallel` never hand out the same port', async () => {
  const draw = async (worker: string) => {
    const script = `import { freePort } from '${import.meta.dir}/ldap-server'; const ports = []; for (let i = 0; i < 300; i++) ports.push(await freePort()); console.log(JSON.stringify(ports))`
    const proc = Bun.spawn([process.execPath, '--eval', script], { env: { ...process.env, BUN_TEST_WORKER_ID: worker, ICEPROD_TEST_WORKERS: '2' }, stdout: 'pipe' })
    const [ports] = await Promise.all([new Response(proc.stdout).json() as Promise<number[]>, proc.exited])
    return ports
  }
  const [first, second] = await Promise.all([draw('1'), draw('2')])
  expect(new Set(first.map((port) => Math.floor(port / 2) % 2))).toEqual(new Set([1]))
  expect(new Set(second.map((port) => Math.floor(port / 2) % 2))).toEqual(new Set([0]))
  expect(first.filter((port) => second.includes(port))).toEqual([])
})

test.concurrent('a free port still starts (the check refuses only a taken one)', async () => {
  // The first server, on a port freePort handed out.
  const server = await firstServer()
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  expect(existsSync(join(dir, 'first.sqlite'))).toBe(true)
})
