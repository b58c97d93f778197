/**
 * The status history costs little on disk (issue "Operator actions", point
 * 3): at most 100 bytes per entry on average, table and index pages
 * together as SQLite's dbstat counts them, over a realistic mix of entries:
 * an operator's bulk actions (a 22-character username), the scheduler's
 * follow-ups and roll-ups (no username), and pilots' claims and completions.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { ClaimService } from '../src/modules/queue/claims'
import { LifecycleService } from '../src/modules/queue/lifecycle'
import { QueueFixture, startSeededApp } from './queue-support'
import type { TestApp } from './support'

const JOBS = 5000

let t: TestApp
let datasetId: string
beforeAll(async () => {
  // A dataset of JOBS jobs of two tasks, materialized by the scheduler: made once, as its making is not what is measured here.
  t = await startSeededApp(async (seeding) => {
    const dataset = await new QueueFixture(seeding).dataset(undefined, { jobs_submitted: JOBS })
    await seeding.call('PUT', `/datasets/${dataset}/config`, { body: { tasks: [{ name: 'generate' }, { name: 'filter', depends: ['generate'] }] } })
    await seeding.scheduler.materializer.idle()
  }, { logLevel: 'error', bufferJobs: JOBS })
  datasetId = (t.ctx.sqlite.query('SELECT dataset_id FROM datasets').get() as { dataset_id: string }).dataset_id
})
afterAll(() => t.close())

test('at most 100 bytes per history entry on disk, over bulk actions, scheduler steps and pilots', async () => {
  expect(t.count('jobs')).toBe(JOBS)
  expect(t.count('tasks')).toBe(2 * JOBS)
  const group = (JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text) as { group: string }).group
  const operator = await t.token('user', { username: 'simulation-production', groups: [group] })
  const act = async (action: string, body: unknown) => {
    const r = await t.call('POST', `/datasets/${datasetId}/task_actions/${action}`, { body, token: operator })
    expect(r.status).toBe(200)
  }
  await act('bulk_suspend', {})
  await act('bulk_reset', {})
  // The pilots' claims and completions through the services the routes call: their entries are what counts here, not the requests.
  const pilot = { username: 'pilot-at-a-grid-site', role: 'pilot' }
  const claims = new ClaimService(t.ctx.db, t.ctx.transitions, t.ctx.clock, t.ctx.offers)
  const lifecycle = new LifecycleService(t.ctx.db, t.ctx.transitions, t.ctx.clock)
  for (let i = 0; i < 500; i++) {
    const claimed = JSON.parse((await claims.claim({ cpu: 1, memory: 2, disk: 20, time: 2 }, pilot))!) as { task_id: string; instance_id: string }
    await lifecycle.complete(claimed.task_id, undefined, pilot, claimed.instance_id)
  }
  await act('bulk_status/complete', { name: 'generate' })

  const entries = (t.ctx.sqlite.query('SELECT count(*) AS n FROM status_history').get() as { n: number }).n
  const byServer = (t.ctx.sqlite.query('SELECT count(*) AS n FROM status_history WHERE username IS NULL').get() as { n: number }).n
  expect(entries).toBeGreaterThan(40_000)
  // A third of them or more are the operator's and the pilot's, with their names.
  expect(entries - byServer).toBeGreaterThan(entries / 3)
  t.ctx.sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  const { bytes } = t.ctx.sqlite.query("SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN ('status_history', 'status_history_subject')").get() as { bytes: number }
  expect(bytes / entries).toBeLessThanOrEqual(100)
}, 30_000) // about 2 s of work: more than the 5 s default allows on a busy machine
