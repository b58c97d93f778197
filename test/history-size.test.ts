/**
 * The status history costs little on disk (issue "Operator actions", point
 * 3): at most 100 bytes per entry on average, table and index pages
 * together as SQLite's dbstat counts them, over a realistic mix of entries:
 * an operator's bulk actions (a 22-character username), the scheduler's
 * follow-ups and roll-ups (no username), and pilots' claims and completions.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { QueueFixture } from './queue-support'
import { startTestApp, type TestApp } from './support'

const JOBS = 5000

let t: TestApp
beforeAll(async () => {
  t = await startTestApp({ logLevel: 'error', bufferJobs: JOBS })
})
afterAll(() => t.close())

test('at most 100 bytes per history entry on disk, over bulk actions, scheduler steps and pilots', async () => {
  const f = new QueueFixture(t)
  const datasetId = await f.dataset(undefined, { jobs_submitted: JOBS })
  await t.call('PUT', `/datasets/${datasetId}/config`, { body: { tasks: [{ name: 'generate' }, { name: 'filter', depends: ['generate'] }] } })
  await t.scheduler.materializer.idle()
  const group = (JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text) as { group: string }).group
  const operator = await t.token('user', { username: 'simulation-production', groups: [group] })
  const act = async (action: string, body: unknown) => {
    const r = await t.call('POST', `/datasets/${datasetId}/task_actions/${action}`, { body, token: operator })
    expect(r.status).toBe(200)
  }
  await act('bulk_suspend', {})
  await act('bulk_reset', {})
  const pilot = await t.token('pilot', { username: 'pilot-at-a-grid-site' })
  for (let i = 0; i < 500; i++) {
    const claimed = await t.call('POST', '/task_actions/process', { body: { requirements: { cpu: 1, memory: 2, disk: 20, time: 2 } }, token: pilot })
    await t.call('POST', `/tasks/${claimed.body.task_id}/task_actions/complete`, { body: { instance_id: claimed.body.instance_id }, token: pilot })
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
