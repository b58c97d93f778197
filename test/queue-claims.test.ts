/**
 * Claims that arrive together share one transaction (group commit): they are
 * taken one after another in arrival order, and a fault fails only its own claim.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { ClaimService } from '../src/modules/queue/claims'
import { startTestApp, type TestApp } from './support'

let t: TestApp
let queue: ClaimService
const pilot = { username: 'pilot', role: 'pilot' }
beforeAll(async () => {
  t = await startTestApp({ scheduler: false })
  queue = new ClaimService(t.ctx.db, t.ctx.transitions)
})
afterAll(() => t.close())

function queuedTask(taskId: string, requirements: Record<string, unknown>): void {
  const doc = { task_id: taskId, dataset_id: 'd', status: 'queued', requirements }
  t.ctx.sqlite.run('INSERT INTO tasks (task_id, doc) VALUES (?, ?)', [taskId, JSON.stringify(doc)])
}
const statusOf = (taskId: string) => (t.ctx.sqlite.query('SELECT status FROM tasks WHERE task_id = ?').get(taskId) as { status: string }).status
const idOf = (doc: string | undefined) => (doc === undefined ? undefined : (JSON.parse(doc).task_id as string))

beforeEach(() => t.ctx.sqlite.run('DELETE FROM tasks'))

test('claims made together are taken in arrival order, each seeing the ones before it', async () => {
  queuedTask('small', { memory: 1 })
  queuedTask('big', { memory: 8 })
  queuedTask('any', {})
  const results = await Promise.all([
    queue.claim({ memory: 8 }, pilot),
    queue.claim({ memory: 8 }, pilot),
    queue.claim({ memory: 2 }, pilot),
    queue.claim({ memory: 8 }, pilot),
    queue.claim({}, pilot),
  ])
  expect(results.map(idOf)).toEqual(['small', 'big', 'any', undefined, undefined])
  for (const id of ['small', 'big', 'any']) expect(statusOf(id)).toBe('processing')
})

test('a claim that faults fails alone; the others in its batch are still answered', async () => {
  queuedTask('a', {})
  queuedTask('b', {})
  const faulty = {
    get cpu(): number {
      throw new Error('offer cannot be read')
    },
  }
  const results = await Promise.allSettled([queue.claim({}, pilot), queue.claim(faulty, pilot), queue.claim({}, pilot)])
  expect(results[0]).toEqual({ status: 'fulfilled', value: expect.any(String) })
  expect(results[1]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: 'offer cannot be read' }) })
  expect(results[2]).toEqual({ status: 'fulfilled', value: expect.any(String) })
  const ids = results.flatMap((r) => (r.status === 'fulfilled' ? [idOf(r.value)] : []))
  expect(ids.sort()).toEqual(['a', 'b'])
  expect(t.count('task_queue')).toBe(0)
})

test('a claim made after a batch was answered starts a new one', async () => {
  queuedTask('first', {})
  queuedTask('second', {})
  expect(idOf(await queue.claim({}, pilot))).toBe('first')
  expect(idOf(await queue.claim({}, pilot))).toBe('second')
  expect(await queue.claim({}, pilot)).toBeUndefined()
})
