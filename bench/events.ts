/**
 * Target — live events (API.md §8, issue 17): 1,000 subscribers of
 * `GET /events` add <= 50 MB to the server's RSS, and an event reaches a
 * subscriber <= 100 ms after its commit.
 *
 * The subscribers are raw TCP connections from this script (one request
 * each, then reading and discarding, so that the client costs little); the
 * server's VmRSS is read before they connect (the baseline: the same server,
 * same requests, no subscriber) and with all of them connected and idle.
 * Then status changes are made one at a time through the API: a change is
 * committed when its PUT answers, and its latency to each subscriber is the
 * time from that answer to the event's arrival there (measured in this
 * process, so it includes this process reading 1,000 sockets: an upper
 * bound). The PUT's own round trip is printed beside it.
 * Usage: bun bench/events.ts [--quick] [--subscribers N] [--changes N]
 */
import { connect, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, percentile, printResult, report } from './lib/report'
import { copyDatabase, tempDir } from './lib/seed'
import { startProject, stopTracked, token, tracked } from './lib/servers'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, subscribers: { type: 'string' }, changes: { type: 'string' } } })
const quick = values.quick
const subscriberCount = Number(values.subscribers ?? 1000)
const changes = Number(values.changes ?? (quick ? 10 : 40))
const TARGET_RSS_MB = 50
const TARGET_LATENCY_MS = 100

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const authorization = `Bearer ${token(seeded.path, 'admin')}`
const { dir, cleanup } = tempDir('events')

interface Subscriber {
  socket: Socket
  /** Arrival time of each marker seen, by marker. */
  arrivals: Map<string, number>
  connected: Promise<void>
}

/** One subscriber: a raw HTTP/1.1 request for the stream; arrivals of the status markers are noted. */
function subscribe(port: number, markers: Set<string>): Subscriber {
  const arrivals = new Map<string, number>()
  let carry = ''
  let resolveConnected: () => void
  const connected = new Promise<void>((resolve) => (resolveConnected = resolve))
  const socket = connect(port, '127.0.0.1', () => {
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\nAccept: text/event-stream\r\n\r\n`)
  })
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    const now = performance.now()
    const text = carry + chunk
    if (text.includes(': connected')) resolveConnected()
    for (const marker of markers) if (!arrivals.has(marker) && text.includes(marker)) arrivals.set(marker, now)
    carry = text.slice(-200)
  })
  socket.on('error', () => {})
  return { socket, arrivals, connected }
}

const cpu = cpuShare()
try {
  const db = copyDatabase(seeded.path, dir)
  const server = await tracked(startProject(db, { ICEPROD_SCHEDULER: 'off' }))
  const taskIds = seeded.taskIds.slice(0, changes)
  const api = (method: string, path: string, body?: unknown) =>
    fetch(server.url + path, { method, headers: { authorization, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => {
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
      return r.text()
    })
  // The same requests with and without subscribers: the baseline is the server before they come.
  for (let i = 0; i < 20; i++) await api('GET', `/datasets/${datasetId}/task_counts/status`)
  await Bun.sleep(1000)
  const baselineRss = server.rssMb()

  // Each change sets a task to a status of its own; its event carries the task's id.
  const markers = new Set(taskIds.map((id) => `"task_id":"${id}"`))
  const subscribers: Subscriber[] = []
  for (let i = 0; i < subscriberCount; i++) {
    subscribers.push(subscribe(server.port, markers))
    // Connect in small groups: the listen backlog is finite.
    if (i % 100 === 99) await Promise.all(subscribers.slice(-100).map((s) => s.connected))
  }
  await Promise.all(subscribers.map((s) => s.connected))
  await Bun.sleep(1000)
  const connectedRss = server.rssMb()

  const latencies: number[] = []
  const roundTrips: number[] = []
  let missing = 0
  for (const taskId of taskIds) {
    const marker = `"task_id":"${taskId}"`
    const sent = performance.now()
    await api('PUT', `/tasks/${taskId}/status`, { status: 'processing' })
    const committed = performance.now()
    roundTrips.push(committed - sent)
    // Wait (at most 2 s) until every subscriber has the event.
    for (let waited = 0; waited < 2000 && subscribers.some((s) => !s.arrivals.has(marker)); waited += 5) await Bun.sleep(5)
    for (const s of subscribers) {
      const at = s.arrivals.get(marker)
      if (at === undefined) missing++
      else latencies.push(Math.max(0, at - committed))
    }
    await Bun.sleep(50)
  }
  const afterRss = server.rssMb()
  for (const s of subscribers) s.socket.destroy()
  printCpuShare(cpu.stop())

  const addedMb = connectedRss - baselineRss
  const p99 = percentile(latencies, 99)
  report(`live events (${subscriberCount} subscribers, ${changes} status changes)`, {
    'server RSS MB: none, connected, after': `${fmt(baselineRss)}, ${fmt(connectedRss)}, ${fmt(afterRss)}`,
    'RSS added by the subscribers MB': addedMb,
    'per subscriber KB': (addedMb * 1024) / subscriberCount,
    'latency after commit ms p50, p99, max': `${fmt(median(latencies))}, ${fmt(p99)}, ${fmt(Math.max(...latencies))}`,
    'PUT round trip ms (median)': median(roundTrips),
    'events missing (of subscribers × changes)': missing,
  })
  printResult({
    target: 'events memory',
    figure: `${fmt(addedMb)} MB for ${subscriberCount} subscribers`,
    goal: `<= ${TARGET_RSS_MB} MB`,
    met: addedMb <= TARGET_RSS_MB,
    baseline: `${fmt(baselineRss)} MB (the same server, no subscriber)`,
  })
  printResult({
    target: 'events latency',
    figure: `p99 ${fmt(p99)} ms after commit (p50 ${fmt(median(latencies))}, ${missing} missing)`,
    goal: `<= ${TARGET_LATENCY_MS} ms`,
    met: p99 <= TARGET_LATENCY_MS && missing === 0,
    baseline: `PUT round trip ${fmt(median(roundTrips))} ms`,
  })
} finally {
  await stopTracked()
  cleanup()
}
