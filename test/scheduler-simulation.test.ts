/**
 * A simulation of a dataset run by the scheduler (issue 14, point 3), on a
 * real server over HTTP: a config of three tasks (generate → filter → hist,
 * depending by name), 200 jobs, 32 concurrent pilot loops that register,
 * claim with their pilot_id, and complete, reset with a reason, or vanish
 * (deleted by a grid loop, or silent), with a task grace of 1 s and the sweep
 * driven by the test's clock whenever every pilot waits.
 *
 * At every step it samples (one synchronous read of the database, so one
 * consistent moment) it checks that every job's and the dataset's status is
 * what its tasks call for. At the end: the dataset is complete (or, with
 * max_failures 1, errors with exactly the over-limit tasks failed), every
 * task completed once, no completion from a stale instance_id was accepted,
 * the history tells each retry and eviction, and the counts equal a recount.
 */
import type { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app'
import { loadConfig } from '../src/config'
import type { HistoryService } from '../src/modules/history/service'
import { expectChain, type Entry } from './history-support'
import { checkCounts, checkRollUp, tasksOf, type TaskRow } from './scheduler-support'
import { TEST_SECRET } from './support'

const JOBS = 200
const PILOTS = 32
const CONFIG = {
  tasks: [
    { name: 'generate', requirements: { memory: 2 } },
    { name: 'filter', depends: ['generate'] },
    { name: 'hist', depends: ['filter'] },
  ],
}
const OFFER = { cpu: 4, memory: 8, disk: 50, time: 12, gpu: 0 }

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

interface Odds {
  reset: number
  vanish: number
}

interface Outcome {
  datasetId: string
  sqlite: Database
  /** Completions answered 200, by task. */
  completions: Map<string, number>
  /** Resets a pilot made and the server accepted, with their reasons, by task. */
  resets: Map<string, string[]>
  /** Late answers from pilots whose task was taken back, and how they were answered. */
  lateAnswers: number[]
  samples: number
  rounds: number
  call: (method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; body: any }>
  /** The server's history, read in-process for the checks of every task (the routes are read for the jobs and the dataset). */
  history: HistoryService
  close: () => void
}

/** A small deterministic random source (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

async function simulate(seed: number, odds: Odds, datasetExtra: Record<string, unknown> = {}): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-simulation-'))
  dirs.push(dir)
  let offset = 0
  const clock = () => Date.now() + offset
  const config = loadConfig(
    { db: join(dir, 'iceprod.sqlite') },
    { ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'warn', ICEPROD_TASK_GRACE: '1', ICEPROD_SWEEP_INTERVAL: '1', ICEPROD_PILOT_TIMEOUT: '0' },
  )
  const built = createApp(config, { clock })
  built.app.listen({ hostname: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${built.app.server!.port}`
  const sign = (role: string, username = role) => built.ctx.tokens.sign({ username, role, groups: [], type: 'system', ttl: 3600 })
  const [admin, client, pilot] = await Promise.all([sign('admin'), sign('client', 'grid-site'), sign('pilot', 'pilot')])
  const call = async (method: string, path: string, body?: unknown, token = admin) => {
    const r = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await r.text()
    return { status: r.status, body: text ? JSON.parse(text) : undefined }
  }
  const sqlite = built.ctx.sqlite
  const next = random(seed)

  expect((await call('POST', '/groups', { name: '/sim' })).status).toBe(201)
  const created = await call('POST', '/datasets', { description: 'simulation', jobs_submitted: JOBS, tasks_submitted: 3 * JOBS, group: '/sim', ...datasetExtra })
  const datasetId = created.body.result.split('/')[2] as string
  expect((await call('PUT', `/datasets/${datasetId}/config`, CONFIG)).status).toBe(200)

  const completions = new Map<string, number>()
  const resets = new Map<string, string[]>()
  const lateAnswers: number[] = []
  /** Pilots that vanished and the grid site will delete, with what their ghost still holds. */
  const gone: { pilotId: string; taskId: string; instanceId: string }[] = []
  /** Tasks whose pilot dropped them silently: their ghost answers late after the sweep. */
  const silent: { taskId: string; instanceId: string }[] = []
  let samples = 0
  let rounds = 0
  let done = false

  // Pilots wait for something to change rather than poll: every action that
  // can free work notifies them.
  let waiting: (() => void)[] = []
  let idle = 0
  let allIdle: (() => void) | undefined
  const notify = () => {
    const woken = waiting
    waiting = []
    for (const wake of woken) wake()
  }
  const changed = () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve)
      idle++
      if (idle === PILOTS) allIdle?.()
    }).then(() => {
      idle--
    })

  const sample = () => {
    samples++
    checkRollUp(sqlite, datasetId, JOBS)
  }

  async function pilotLoop(slot: number) {
    while (!done) {
      const registered = await call('POST', '/pilots', { queue_host: `ce${slot}`, queue_version: '3', resources: OFFER, grid_id: 'sim' }, client)
      expect(registered.status).toBe(201)
      const pilotId = registered.body.result as string
      let alive = true
      while (alive && !done) {
        const claimed = await call('POST', '/task_actions/process', { requirements: OFFER, pilot_id: pilotId }, pilot)
        if (claimed.status === 404) {
          await changed()
          continue
        }
        expect(claimed.status).toBe(200)
        const { task_id: taskId, instance_id: instanceId } = claimed.body
        const roll = next()
        if (roll < odds.vanish) {
          alive = false
          if (next() < 0.5) gone.push({ pilotId, taskId, instanceId })
          else {
            // Silent: the pilot loses track of its task and never answers for it.
            expect((await call('PUT', `/pilots/${pilotId}/tasks`, { tasks: [] }, pilot)).status).toBe(200)
            silent.push({ taskId, instanceId })
          }
        } else if (roll < odds.vanish + odds.reset) {
          const reason = `exit code ${1 + Math.floor(next() * 100)}`
          const r = await call('POST', `/tasks/${taskId}/task_actions/reset`, { instance_id: instanceId, reason, time_used: 60 }, pilot)
          expect(r.status).toBe(200)
          resets.set(taskId, [...(resets.get(taskId) ?? []), reason])
        } else {
          const r = await call('POST', `/tasks/${taskId}/task_actions/complete`, { instance_id: instanceId, time_used: 600 }, pilot)
          expect({ taskId, status: r.status }).toEqual({ taskId, status: 200 })
          completions.set(taskId, (completions.get(taskId) ?? 0) + 1)
        }
        if (alive) expect((await call('PUT', `/pilots/${pilotId}/tasks`, { tasks: [] }, pilot)).status).toBe(200)
        if (next() < 0.1) sample()
        notify()
      }
    }
  }

  const datasetStatus = () => (sqlite.query('SELECT status FROM datasets WHERE dataset_id = ?').get(datasetId) as { status: string }).status
  const finished = () => datasetStatus() !== 'processing'

  async function driver() {
    while (!finished()) {
      await new Promise<void>((resolve) => {
        allIdle = resolve
        if (idle === PILOTS) resolve()
      })
      allIdle = undefined
      if (finished()) break
      rounds++
      expect(rounds).toBeLessThan(200)
      sample()
      // The grid site notices its vanished pilots and deletes them; their ghosts answer late.
      for (const ghost of gone.splice(0)) {
        expect((await call('DELETE', `/pilots/${ghost.pilotId}`, undefined, client)).status).toBe(200)
        lateAnswers.push((await call('POST', `/tasks/${ghost.taskId}/task_actions/complete`, { instance_id: ghost.instanceId, time_used: 1 }, pilot)).status)
      }
      // Time passes beyond the grace; the sweep takes back the silently dropped tasks.
      offset += 1100
      await built.scheduler.sweep.run()
      for (const ghost of silent.splice(0)) {
        lateAnswers.push((await call('POST', `/tasks/${ghost.taskId}/task_actions/complete`, { instance_id: ghost.instanceId }, pilot)).status)
      }
      await built.scheduler.materializer.idle()
      sample()
      notify()
    }
    done = true
    notify()
  }

  await Promise.all([driver(), ...Array.from({ length: PILOTS }, (_, slot) => pilotLoop(slot))])
  sample()
  return {
    datasetId,
    sqlite,
    completions,
    resets,
    lateAnswers,
    samples,
    rounds,
    call,
    history: built.ctx.history,
    close: () => {
      void built.app.stop(true)
      built.close()
    },
  }
}

/** Each retry and eviction is told by the history: the pilot's reset with its reason, then the server's steps. */
function checkHistory(run: Outcome, task: TaskRow): Entry[] {
  const entries = run.history.list('task', run.datasetId, task.task_id)
  expectChain(entries, task.status, task.task_id)
  const pilotResets = entries.filter((e) => e.to === 'reset' && e.by !== 'server')
  expect(pilotResets.map((e) => e.reason)).toEqual(run.resets.get(task.task_id) ?? [])
  const evictions = entries.filter((e) => e.to === 'reset' && e.by === 'server')
  expect(evictions.length).toBe(task.evictions)
  for (const e of evictions) expect(['its pilot was deleted', 'lost: no pilot lists it']).toContain(e.reason!)
  entries.forEach((entry, i) => {
    if (entry.to !== 'reset') return
    const after = entries[i + 1]
    expect(after).toBeDefined()
    expect(after!.by).toBe('server')
    if (after!.to === 'waiting') {
      expect(after!.reason).toBe('retry after reset')
      expect(entries[i + 2]).toMatchObject({ from: 'waiting', to: 'queued', by: 'server' })
    } else {
      expect(after).toMatchObject({ to: 'failed', reason: 'failures exceed max_failures' })
    }
  })
  return entries
}

describe('simulation', () => {
  test('200 jobs of generate → filter → hist, 32 pilots completing 85%, resetting 10%, vanishing 5%: the dataset completes', async () => {
    const run = await simulate(14, { reset: 0.1, vanish: 0.05 })
    try {
      const sqlite = run.sqlite
      expect((sqlite.query('SELECT status FROM datasets WHERE dataset_id = ?').get(run.datasetId) as { status: string }).status).toBe('complete')
      const tasks = tasksOf(sqlite, run.datasetId)
      expect(tasks.length).toBe(3 * JOBS)
      expect(new Set(tasks.map((task) => task.status))).toEqual(new Set(['complete']))
      // Every task completed once, and only through its current claim.
      expect([...run.completions.values()].every((n) => n === 1)).toBe(true)
      expect(run.completions.size).toBe(3 * JOBS)
      expect(run.lateAnswers.length).toBeGreaterThan(0)
      expect(run.lateAnswers.every((status) => status === 409)).toBe(true)
      // The run exercised what it is about.
      const resets = [...run.resets.values()].flat().length
      expect(resets).toBeGreaterThan(20)
      expect(tasks.reduce((n, task) => n + task.evictions, 0)).toBe(run.lateAnswers.length)
      expect(tasks.reduce((n, task) => n + task.failures, 0)).toBe(resets)
      for (const task of tasks) checkHistory(run, task)
      const jobs = sqlite.query('SELECT job_id, status FROM jobs WHERE dataset_id = ?').all(run.datasetId) as { job_id: string; status: string }[]
      expect(jobs.length).toBe(JOBS)
      for (const job of jobs.slice(0, 20)) {
        const history = (await run.call('GET', `/datasets/${run.datasetId}/jobs/${job.job_id}/history`)).body.history as Entry[]
        expectChain(history, 'complete', job.job_id)
        expect(history.at(-1)).toMatchObject({ by: 'server', reason: 'all tasks complete' })
      }
      const datasetHistory = (await run.call('GET', `/datasets/${run.datasetId}/history`)).body.history as Entry[]
      expect(datasetHistory).toEqual([expect.objectContaining({ from: 'processing', to: 'complete', by: 'server', reason: 'all jobs complete' })])
      checkCounts(sqlite, run.datasetId)
      expect(run.samples).toBeGreaterThan(10)
    } finally {
      run.close()
    }
  }, 30_000)

  test('with max_failures 1 and more resets, the dataset ends errors with exactly the over-limit tasks failed', async () => {
    const run = await simulate(41, { reset: 0.3, vanish: 0.05 }, { max_failures: 1 })
    try {
      const sqlite = run.sqlite
      expect((sqlite.query('SELECT status FROM datasets WHERE dataset_id = ?').get(run.datasetId) as { status: string }).status).toBe('errors')
      const tasks = tasksOf(sqlite, run.datasetId)
      const overLimit = new Set([...run.resets].filter(([, reasons]) => reasons.length > 1).map(([taskId]) => taskId))
      expect(overLimit.size).toBeGreaterThan(0)
      expect(new Set(tasks.filter((task) => task.status === 'failed').map((task) => task.task_id))).toEqual(overLimit)
      for (const task of tasks) {
        if (overLimit.has(task.task_id)) expect(task.failures).toBe(2)
        else expect(['complete', 'waiting']).toContain(task.status)
        checkHistory(run, task)
      }
      // What waits is blocked by a failure upstream; everything else completed once.
      expect([...run.completions.values()].every((n) => n === 1)).toBe(true)
      expect(run.completions.size).toBe(tasks.filter((task) => task.status === 'complete').length)
      expect(run.lateAnswers.every((status) => status === 409)).toBe(true)
      checkRollUp(sqlite, run.datasetId, JOBS)
      checkCounts(sqlite, run.datasetId)
    } finally {
      run.close()
    }
  }, 30_000)
})
