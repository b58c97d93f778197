/**
 * No task is ever handed to two pilots: many simultaneous claims against one
 * server over real HTTP, and against two server processes sharing one
 * database file.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QueueFixture } from './queue-support'
import { TaskService } from '../src/modules/tasks/service'
import { startServerProcess, type ServerProcess } from './server-process'
import { startTestApp, type TestApp } from './support'

// These tests start real processes: allow more than the 5 s default on a busy machine.
setDefaultTimeout(60_000)

interface ClaimOutcome {
  status: number
  taskId?: string
}

async function claimOver(base: string, token: string, requirements?: Record<string, unknown>): Promise<ClaimOutcome> {
  const response = await fetch(`${base}/task_actions/process`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(requirements ? { requirements } : {}),
  })
  const body = (await response.json()) as { task_id?: string; status?: string }
  if (response.status === 200) expect(body.status).toBe('processing')
  return { status: response.status, taskId: body.task_id }
}

/** Every claimed id, asserting that none repeats. */
function claimedIds(outcomes: ClaimOutcome[]): string[] {
  for (const outcome of outcomes) expect([200, 404]).toContain(outcome.status)
  const ids = outcomes.filter((o) => o.status === 200).map((o) => o.taskId as string)
  expect(new Set(ids).size).toBe(ids.length)
  return ids
}

describe('one server', () => {
  let t: TestApp
  let f: QueueFixture
  let server: ReturnType<typeof Bun.serve>
  let base: string
  beforeAll(async () => {
    t = await startTestApp({ scheduler: false })
    f = new QueueFixture(t)
    server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (request) => t.app.handle(request) })
    base = `http://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await server.stop(true)
    t.close()
  })

  test('300 simultaneous claims over 120 queued tasks hand out each task exactly once', async () => {
    const d1 = await f.dataset(1)
    const d2 = await f.dataset(3)
    const created = [...(await f.tasks(d1, 60)), ...(await f.tasks(d2, 60))]
    expect(await f.queue({ num_tasks: 1000 })).toBe(120)
    const pilot = await t.token('pilot')
    const outcomes = await Promise.all(Array.from({ length: 300 }, () => claimOver(base, pilot)))
    const ids = claimedIds(outcomes)
    expect(ids.sort()).toEqual([...created].sort())
    expect(outcomes.filter((o) => o.status === 404)).toHaveLength(180)
    expect(t.count('task_queue')).toBe(0)
    const statuses = t.ctx.sqlite.query('SELECT status, count(*) AS n FROM tasks GROUP BY status').all()
    expect(statuses).toEqual([{ status: 'processing', n: 120 }])
  })

  test('simultaneous claims with different offers each get a task that fits, none twice', async () => {
    const d = await f.dataset()
    const gpuTasks = await f.tasks(d, 20, { requirements: { gpu: 1 } })
    const cpuTasks = await f.tasks(d, 20, { requirements: { cpu: 1, os: ['RHEL_8'] } })
    expect(await f.queue()).toBe(40)
    const pilot = await t.token('pilot')
    const offers = Array.from({ length: 100 }, (_, i) => (i % 2 ? { gpu: 1 } : { cpu: 2, os: 'RHEL_8' }))
    const outcomes = await Promise.all(offers.map((offer) => claimOver(base, pilot, offer)))
    claimedIds(outcomes)
    outcomes.forEach((outcome, i) => {
      if (outcome.status !== 200) return
      expect((i % 2 ? gpuTasks : cpuTasks).includes(outcome.taskId as string)).toBe(true)
    })
    expect(outcomes.filter((o) => o.status === 200)).toHaveLength(40)
  })

  test('claims through app.handle in one burst behave the same', async () => {
    const d = await f.dataset()
    const created = await f.tasks(d, 30)
    await f.queue()
    const outcomes = await Promise.all(
      Array.from({ length: 90 }, async () => {
        const r = await t.call('POST', '/task_actions/process', { body: {} })
        return { status: r.status, taskId: r.body?.task_id }
      }),
    )
    expect(claimedIds(outcomes).sort()).toEqual([...created].sort())
  })
})

describe('two server processes on one database file', () => {
  const secret = 'two-process-secret-two-process-secret-0123'
  let dir: string
  let db: string
  const servers: ServerProcess[] = []

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iceprod-two-'))
    db = join(dir, 'iceprod.sqlite')
  })
  afterAll(async () => {
    for (const server of servers) server.proc.kill('SIGTERM')
    await Promise.all(servers.map((server) => server.proc.exited))
    rmSync(dir, { recursive: true, force: true })
  })

  test('pilots hammering both servers never get the same task, and every task ends processing', async () => {
    // The dataset and its tasks written first, in this process (through the task service: making them is not what
    // is tested), which also migrates the file, so that the two servers do not both migrate it.
    const total = 400
    const seeding = await startTestApp({ db, scheduler: false })
    const fixture = new QueueFixture(seeding)
    const datasetId = await fixture.dataset()
    const jobId = await fixture.job(datasetId)
    const tasks = new TaskService(seeding.ctx.db, seeding.ctx.transitions, seeding.ctx.clock)
    const created = await Promise.all(
      Array.from({ length: total }, (_, i) => tasks.create({ dataset_id: datasetId, job_id: jobId, task_index: i, name: `t${i}`, depends: [], requirements: {} })),
    )
    seeding.close()
    servers.push(...(await Promise.all([startServerProcess(db, { ICEPROD_JWT_SECRET: secret, ICEPROD_SCHEDULER: 'off' }), startServerProcess(db, { ICEPROD_JWT_SECRET: secret, ICEPROD_SCHEDULER: 'off' })])))
    const [first, second] = servers.map((server) => server.url) as [string, string]
    const [admin, pilot] = await Promise.all([servers[0]!.token('admin'), servers[0]!.token('pilot', 'pilot1')])

    const api = async (base: string, method: string, path: string, body: unknown) => {
      const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: r.status, body: (await r.json()) as any }
    }
    // Two queue actions at once on both servers: each task is queued once.
    const queued = await Promise.all([api(first, 'POST', '/task_actions/queue', { num_tasks: total }), api(second, 'POST', '/task_actions/queue', { num_tasks: total })])
    expect(queued[0].body.queued + queued[1].body.queued).toBe(total)

    // 16 pilots per server, each claiming until the queue is empty.
    const outcomes: ClaimOutcome[] = []
    await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        const base = i % 2 ? first : second
        for (;;) {
          const outcome = await claimOver(base, pilot)
          outcomes.push(outcome)
          if (outcome.status === 404) return
        }
      }),
    )
    const ids = claimedIds(outcomes)
    expect(ids.sort()).toEqual([...created].sort())

    const counts = await api(first, 'GET', `/datasets/${datasetId}/task_counts/status`, undefined)
    expect(counts.body).toEqual({ processing: total })
  }, 60_000)
})
