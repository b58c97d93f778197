/**
 * GET /events (API.md §8): one event per status change, after its commit and
 * in commit order, to the tokens that may read its dataset; `dataset_id`
 * narrows it; a keep-alive comment every 15 s; a client that reads too slowly
 * is dropped and the others go on. In-process, with the event stream's timer
 * moved by the test (no waiting); the server-process test checks that a
 * stop ends open streams.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventHub, KEEP_ALIVE_MS, type StatusEvent, type Ticker } from '../src/modules/events/hub'
import { POLL_MS } from '../src/modules/events/service'
import { TaskService } from '../src/modules/tasks/service'
import { startServerProcess } from './server-process'
import { FakeClock, startTestApp, type TestApp } from './support'

/** A ticker that ticks when the test says: `fire(ms)` runs the callbacks registered for that interval. */
class ManualTicker {
  private readonly callbacks = new Map<number, Set<() => void>>()
  ticker: Ticker = (ms, tick) => {
    const set = this.callbacks.get(ms) ?? new Set()
    set.add(tick)
    this.callbacks.set(ms, set)
    return { stop: () => void set.delete(tick) }
  }
  fire(ms: number) {
    for (const tick of [...(this.callbacks.get(ms) ?? [])]) tick()
  }
  registered(ms: number) {
    return this.callbacks.get(ms)?.size ?? 0
  }
}

/** Reads an event stream's text as it arrives. */
type ReadResult = { done: true; value?: undefined } | { done: false; value: Uint8Array }

class StreamReader {
  private readonly reader: { read(): Promise<ReadResult>; cancel(): Promise<void> }
  private readonly decoder = new TextDecoder()
  /** The read in progress: one at a time, so that no chunk goes to a read nobody waits for. */
  private pending: Promise<ReadResult> | undefined
  text = ''
  ended = false
  constructor(readonly response: Response) {
    this.reader = response.body!.getReader() as unknown as StreamReader['reader']
  }
  private async take(result: ReadResult) {
    this.pending = undefined
    if (result.done) this.ended = true
    else this.text += this.decoder.decode(result.value)
  }
  /** Reads until `pattern` has arrived; throws when the stream ends first. */
  async until(pattern: RegExp): Promise<string> {
    while (!pattern.test(this.text)) {
      if (this.ended) throw new Error(`stream ended before ${pattern}: ${this.text.slice(-500)}`)
      await this.take(await (this.pending ??= this.reader.read()))
    }
    return this.text
  }
  /** Whatever has arrived by now, without waiting for more. */
  async drain(): Promise<string> {
    while (!this.ended) {
      const next = await Promise.race([(this.pending ??= this.reader.read()), Bun.sleep(0).then(() => 'idle' as const)])
      if (next === 'idle') break
      await this.take(next)
    }
    return this.text
  }
  events(): StatusEvent[] {
    return [...this.text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as StatusEvent)
  }
  cancel() {
    return this.reader.cancel()
  }
}

let t: TestApp
const ticks = new ManualTicker()
const tokens: Record<string, string> = {}
let datasetA: string
let datasetB: string
let taskA: string
let taskB: string

beforeAll(async () => {
  t = await startTestApp({}, { ICEPROD_SCHEDULER: 'off' }, { ticker: ticks.ticker })
  for (const name of ['/a', '/b']) await t.call('POST', '/groups', { body: { name } })
  const dataset = async (group: string) => (await t.call('POST', '/datasets', { body: { description: group, jobs_submitted: 1, tasks_submitted: 1, group } })).body.result.split('/')[2] as string
  datasetA = await dataset('/a')
  datasetB = await dataset('/b')
  const task = async (datasetId: string) => {
    const job = (await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: 0 } })).body.result
    return (await t.call('POST', '/tasks', { body: { dataset_id: datasetId, job_id: job, task_index: 0, name: 'generate', depends: [], requirements: {} } })).body.result as string
  }
  taskA = await task(datasetA)
  taskB = await task(datasetB)
  tokens.admin = t.adminToken
  tokens.system = await t.token('system')
  tokens.pilot = await t.token('pilot')
  tokens.readerA = await t.token('user', { username: 'alice', groups: ['/a'] })
  tokens.anonymousB = await t.token('anonymous', { username: 'bob', groups: ['/b'] })
})
afterAll(() => t.close())

async function subscribe(token: string | null, query = ''): Promise<StreamReader> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const response = await t.app.handle(new Request(`http://localhost/events${query}`, { headers }))
  return new StreamReader(response)
}

/** A status change through the API (committed when it answers). */
async function setStatus(path: string, status: string, token = tokens.admin) {
  const r = await t.call('PUT', `${path}/status`, { body: { status }, token })
  expect(r.status).toBe(200)
}

describe('GET /events', () => {
  test('needs a valid token (401 with WWW-Authenticate); any role may listen', async () => {
    for (const token of [null, 'nope']) {
      const r = await t.app.handle(new Request('http://localhost/events', { headers: token ? { authorization: `Bearer ${token}` } : {} }))
      expect({ status: r.status, auth: r.headers.get('www-authenticate'), body: await r.json() }).toEqual({ status: 401, auth: 'Bearer', body: { code: 401, error: expect.any(String) } })
    }
    for (const token of [tokens.admin, tokens.pilot, tokens.anonymousB]) {
      const stream = await subscribe(token!)
      expect(stream.response.status).toBe(200)
      expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      expect(stream.response.headers.get('cache-control')).toBe('no-cache')
      await stream.until(/^: connected\n\n/)
      await stream.cancel()
    }
  })

  test('one event per status change, after its commit, in commit order: the history entry with dataset_id, job_id and task_id', async () => {
    const stream = await subscribe(tokens.admin)
    await stream.until(/connected/)
    await setStatus(`/tasks/${taskA}`, 'processing')
    await setStatus(`/datasets/${datasetB}`, 'suspended')
    // A refused change writes no history and sends nothing.
    expect((await t.call('PUT', `/tasks/${taskA}/status`, { body: { status: 'bogus' } })).status).toBe(400)
    await setStatus(`/tasks/${taskA}`, 'complete', tokens.system)
    // Nothing is sent until the history is read (every POLL_MS).
    expect(stream.events()).toEqual([])
    ticks.fire(POLL_MS)
    await stream.until(/(data: .*\n\n){3}/)
    const jobA = (await t.call('GET', `/tasks/${taskA}`)).body.job_id
    const history = (await t.call('GET', `/datasets/${datasetA}/tasks/${taskA}/history?num=2`)).body.history
    expect(stream.events()).toEqual([
      { ...history[0], dataset_id: datasetA, job_id: jobA, task_id: taskA },
      { dataset_id: datasetB, job_id: null, task_id: null, time: expect.any(String), from: 'processing', to: 'suspended', by: { username: 'admin', role: 'admin' } },
      { ...history[1], dataset_id: datasetA, job_id: jobA, task_id: taskA },
    ])
    expect(stream.events()[2]!.by).toEqual({ username: 'system', role: 'system' })
    await stream.cancel()
  })

  test('a token sees only the datasets it may read; admin, system and client see all; dataset_id narrows', async () => {
    const admin = await subscribe(tokens.admin)
    const reader = await subscribe(tokens.readerA!)
    const anonymous = await subscribe(tokens.anonymousB!)
    const pilot = await subscribe(tokens.pilot!)
    const onlyB = await subscribe(tokens.system, `?dataset_id=${datasetB}`)
    await Promise.all([admin, reader, anonymous, pilot, onlyB].map((s) => s.until(/connected/)))
    await setStatus(`/tasks/${taskA}`, 'reset')
    await setStatus(`/tasks/${taskB}`, 'failed')
    ticks.fire(POLL_MS)
    await admin.until(/(data: .*\n\n){2}/)
    await Promise.all([reader.until(/data:/), anonymous.until(/data:/), onlyB.until(/data:/)])
    const datasetsOf = async (s: StreamReader) => (await s.drain(), s.events().map((e) => e.dataset_id))
    expect(await datasetsOf(admin)).toEqual([datasetA, datasetB])
    expect(await datasetsOf(reader)).toEqual([datasetA])
    expect(await datasetsOf(anonymous)).toEqual([datasetB])
    expect(await datasetsOf(onlyB)).toEqual([datasetB])
    expect(await datasetsOf(pilot)).toEqual([])
    for (const s of [admin, reader, anonymous, pilot, onlyB]) await s.cancel()
  })

  test('dataset_id of a dataset the token may not read is 403; a missing one is 404 to roles that see all, 403 to others', async () => {
    const status = async (token: string, query: string) => {
      const r = await t.app.handle(new Request(`http://localhost/events${query}`, { headers: { authorization: `Bearer ${token}` } }))
      const body = r.headers.get('content-type')?.startsWith('application/json') ? await r.json() : (await r.body?.cancel(), 'stream')
      return { status: r.status, body }
    }
    expect(await status(tokens.readerA!, `?dataset_id=${datasetB}`)).toEqual({ status: 403, body: { code: 403, error: 'not allowed' } })
    expect(await status(tokens.pilot!, `?dataset_id=${datasetA}`)).toEqual({ status: 403, body: { code: 403, error: 'not allowed' } })
    expect(await status(tokens.readerA!, '?dataset_id=nosuch')).toEqual({ status: 403, body: { code: 403, error: 'not allowed' } })
    expect(await status(tokens.admin, '?dataset_id=nosuch')).toEqual({ status: 404, body: { code: 404, error: 'dataset nosuch not found' } })
    expect(await status(tokens.readerA!, `?dataset_id=${datasetA}`)).toEqual({ status: 200, body: 'stream' })
    expect((await status(tokens.admin, `?dataset_id=${datasetA}&dataset_id=${datasetB}`)).status).toBe(400)
  })

  test('a rule changed while listening applies from the next event on', async () => {
    const reader = await subscribe(tokens.readerA!)
    await reader.until(/connected/)
    await t.call('PUT', `/auths/${datasetA}`, { body: { read_groups: ['/b'], write_groups: ['/b'] } })
    await setStatus(`/tasks/${taskA}`, 'waiting')
    await t.call('PUT', `/auths/${datasetA}`, { body: { read_groups: ['/a'], write_groups: ['/a'] } })
    ticks.fire(POLL_MS)
    // Read in one batch after the rule came back: the rule at the time of sending decides.
    await reader.until(/data:/)
    await t.call('PUT', `/auths/${datasetA}`, { body: { read_groups: ['/b'], write_groups: ['/b'] } })
    await setStatus(`/tasks/${taskA}`, 'queued')
    ticks.fire(POLL_MS)
    await reader.drain()
    expect(reader.events().map((e) => e.to)).toEqual(['waiting'])
    await t.call('PUT', `/auths/${datasetA}`, { body: { read_groups: ['/a'], write_groups: ['/a'] } })
    await reader.cancel()
  })

  test('a keep-alive comment every 15 s; the history is read only while someone listens', async () => {
    expect(ticks.registered(POLL_MS)).toBe(0)
    expect(ticks.registered(KEEP_ALIVE_MS)).toBe(0)
    const stream = await subscribe(tokens.pilot!)
    await stream.until(/connected/)
    expect(ticks.registered(POLL_MS)).toBe(1)
    ticks.fire(KEEP_ALIVE_MS)
    ticks.fire(KEEP_ALIVE_MS)
    await stream.until(/(: keep-alive\n\n){2}/)
    await stream.cancel()
    // The cancel reaches the hub on the next turn.
    await Bun.sleep(0)
    expect(ticks.registered(POLL_MS)).toBe(0)
    expect(ticks.registered(KEEP_ALIVE_MS)).toBe(0)
  })

  test('a client that reads too slowly is dropped; the others go on receiving', async () => {
    const slow = await subscribe(tokens.admin)
    const fast = await subscribe(tokens.admin)
    await Promise.all([slow.until(/connected/), fast.until(/connected/)])
    const { events } = t
    const dropped = events.hub.dropped
    // 1,000 changes, about 500 KB of events each round, until the slow one is past the bound (1 MiB);
    // the fast reader takes them, the slow one never reads. Made through the service, each committed
    // on its own as a PUT commits it: the events are what is tested here, not the route. The actor's
    // username is as long as a username may be (256 characters), so that fewer changes fill the bound.
    const tasks = new TaskService(t.ctx.db, t.ctx.transitions, t.ctx.clock)
    const admin = { username: 'admin'.padEnd(256, '-'), role: 'admin' }
    for (let round = 0; round < 8 && events.hub.dropped === dropped; round++) {
      for (let i = 0; i < 500; i++) {
        await tasks.setStatus(taskB, 'processing', admin)
        await tasks.setStatus(taskB, 'queued', admin)
      }
      ticks.fire(POLL_MS)
      await fast.drain()
    }
    expect(events.hub.dropped).toBe(dropped + 1)
    await expect(slow.until(/never/)).rejects.toThrow('event stream reader too slow')
    // The fast one got every event, in order.
    expect(fast.events().length % 2).toBe(0)
    expect(fast.events().every((e, i) => e.to === (i % 2 === 0 ? 'processing' : 'queued'))).toBe(true)
    await setStatus(`/tasks/${taskB}`, 'failed')
    ticks.fire(POLL_MS)
    await fast.until(/"to":"failed"/)
    await fast.cancel()
  }, 60_000)
})

describe('a token that expires while listening', () => {
  test("ends its stream at exp + ICEPROD_CLOCK_SKEW on the app's clock, sending nothing after; other streams go on", async () => {
    const clock = new FakeClock()
    const manual = new ManualTicker()
    const app = await startTestApp({}, { ICEPROD_SCHEDULER: 'off', ICEPROD_CLOCK_SKEW: '30' }, { ticker: manual.ticker, clock: clock.now })
    try {
      await app.call('POST', '/groups', { body: { name: '/g' } })
      const dataset = (await app.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/g' } })).body.result.split('/')[2]
      const open = async (token: string) => new StreamReader(await app.app.handle(new Request('http://localhost/events', { headers: { authorization: `Bearer ${token}` } })))
      const expiring = await open(await app.token('admin', { ttl: 600 }))
      const lasting = await open(app.adminToken)
      await Promise.all([expiring.until(/connected/), lasting.until(/connected/)])
      const change = async (status: string) => {
        expect((await app.call('PUT', `/datasets/${dataset}/status`, { body: { status } })).status).toBe(200)
        manual.fire(POLL_MS)
      }
      // The last millisecond the token is valid: the stream is open and hears the change.
      clock.advance((600 + 30) * 1000 - 1)
      await change('suspended')
      await Promise.all([expiring.until(/"to":"suspended"/), lasting.until(/"to":"suspended"/)])
      clock.advance(1)
      await change('processing')
      await lasting.until(/"to":"processing"/)
      await expiring.drain()
      expect({ ended: expiring.ended, events: expiring.events().map((e) => e.to) }).toEqual({ ended: true, events: ['suspended'] })
      expect(lasting.ended).toBe(false)
      await lasting.cancel()
    } finally {
      app.close()
    }
  })
})

describe('EventHub', () => {
  test('unsent text is bounded: a subscriber past the bound is dropped at once, its stream ends with an error', async () => {
    const hub = new EventHub({ maxBufferedBytes: 10_000, ticker: new ManualTicker().ticker })
    const stream = hub.subscribe(() => true)
    const event: StatusEvent = { dataset_id: 'd', job_id: null, task_id: null, time: 't', from: 'a', to: 'b', by: 'server' }
    for (let i = 0; i < 90; i++) hub.publish([event])
    expect(hub.size).toBe(1)
    hub.publish(Array(100).fill(event))
    expect({ size: hub.size, dropped: hub.dropped }).toEqual({ size: 0, dropped: 1 })
    await expect(new Response(stream).text()).rejects.toThrow('event stream reader too slow')
  })
})

describe('a server process', () => {
  test('SIGTERM ends the open event streams and the server stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iceprod-events-'))
    try {
      const server = await startServerProcess(join(dir, 'db.sqlite'))
      const response = await fetch(`${server.url}/events`, { headers: { authorization: `Bearer ${await server.token('admin')}` } })
      const reader = response.body!.getReader()
      expect(new TextDecoder().decode((await reader.read()).value)).toBe(': connected\n\n')
      server.proc.kill('SIGTERM')
      expect(await server.proc.exited).toBe(0)
      expect((await reader.read().catch(() => ({ done: true }))).done).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
