/**
 * task_queue holds exactly the queued tasks, kept so by triggers whatever
 * statement changes a task: these tests write tasks with plain SQL, as any
 * other route would.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(() => t.close())

const db = () => t.ctx.sqlite
function insertTask(taskId: string, doc: Record<string, unknown>): void {
  db().query('INSERT INTO tasks (task_id, doc) VALUES (?, ?)').run(taskId, JSON.stringify({ task_id: taskId, dataset_id: 'ds', ...doc }))
}
const setStatus = (taskId: string, status: string) =>
  db().query(`UPDATE tasks SET doc = json_set(doc, '$.status', ?) WHERE task_id = ?`).run(status, taskId)
const queueRow = (taskId: string) => db().query('SELECT * FROM task_queue WHERE task_id = ?').get(taskId) as Record<string, unknown> | null
const queuedIds = () => (db().query('SELECT task_id FROM task_queue ORDER BY seq').all() as { task_id: string }[]).map((r) => r.task_id)
const queuedInTasks = () => (db().query("SELECT task_id FROM tasks WHERE status = 'queued' ORDER BY rowid").all() as { task_id: string }[]).map((r) => r.task_id)

beforeEach(() => {
  db().run('DELETE FROM tasks')
  db().run('DELETE FROM datasets')
  db().run(`INSERT INTO datasets (dataset_id, doc) VALUES ('ds', '{"dataset_id":"ds","priority":3.5}')`)
})

describe('task_queue triggers', () => {
  test('a task entering queued gets a row with its dataset priority, creation order and numeric columns', () => {
    insertTask('t1', { status: 'waiting', requirements: { cpu: 2, memory: 4.5, gpu: null, time: 0 } })
    expect(queueRow('t1')).toBeNull()
    setStatus('t1', 'queued')
    const rowid = (db().query("SELECT rowid AS r FROM tasks WHERE task_id = 't1'").get() as { r: number }).r
    expect(queueRow('t1')).toEqual({
      task_id: 't1',
      dataset: 1,
      job_active: 0,
      priority: 3.5,
      seq: rowid,
      cpu: 2,
      gpu: null,
      memory: 4.5,
      disk: null,
      time: 0,
      has_other: 0,
      requirements: '{"cpu":2,"memory":4.5,"gpu":null,"time":0}',
    })
  })

  test('a task inserted as queued is in the queue; a missing dataset weighs priority 0', () => {
    insertTask('t2', { status: 'queued', dataset_id: 'nosuchdataset', requirements: {} })
    expect(queueRow('t2')).toMatchObject({ priority: 0, has_other: 0 })
  })

  test.each([
    ['no requirements key', undefined, 0],
    ['requirements not an object', ['cpu'], 0],
    ['only numeric keys with numbers', { cpu: 1, gpu: 0, memory: 2, disk: 3, time: 4 }, 0],
    ['only nulls', { os: null, site: null }, 0],
    ['a non-numeric key', { os: 'RHEL_7' }, 1],
    ['a list', { os: ['RHEL_7'] }, 1],
    ['a string under a numeric key', { memory: '4GB' }, 1],
    ['an unknown numeric key', { licenses: 1 }, 1],
  ])('has_other with %s', (_name, requirements, hasOther) => {
    insertTask('t3', { status: 'queued', ...(requirements === undefined ? {} : { requirements }) })
    expect(queueRow('t3')?.has_other).toBe(hasOther)
  })

  test('a string under a numeric key leaves the column empty for the code check', () => {
    insertTask('t4', { status: 'queued', requirements: { memory: '4GB', cpu: 1 } })
    expect(queueRow('t4')).toMatchObject({ memory: null, cpu: 1, has_other: 1 })
  })

  test('a task leaves the queue on any status change, and on delete', () => {
    for (const id of ['a', 'b', 'c', 'd']) insertTask(id, { status: 'queued' })
    setStatus('a', 'processing')
    setStatus('b', 'suspended')
    db().run("DELETE FROM tasks WHERE task_id = 'c'")
    expect(queuedIds()).toEqual(['d'])
    setStatus('a', 'queued')
    expect(queuedIds()).toEqual(['a', 'd'])
  })

  test('an update that keeps a task queued keeps its row; a requirements change rewrites it in place', () => {
    insertTask('q', { status: 'queued', requirements: { cpu: 1 } })
    const before = queueRow('q')
    db().run(`UPDATE tasks SET doc = json_set(doc, '$.note', 'x') WHERE task_id = 'q'`)
    expect(queueRow('q')).toEqual(before)
    db().run(`UPDATE tasks SET doc = json_set(doc, '$.requirements', json('{"cpu":4,"os":"RHEL_8"}')) WHERE task_id = 'q'`)
    expect(queueRow('q')).toEqual({ ...before!, cpu: 4, has_other: 1, requirements: '{"cpu":4,"os":"RHEL_8"}' })
  })

  test("a dataset's new priority reaches its queued tasks only", () => {
    insertTask('q1', { status: 'queued' })
    insertTask('w1', { status: 'waiting' })
    db().run(`UPDATE datasets SET doc = json_set(doc, '$.priority', 9) WHERE dataset_id = 'ds'`)
    expect(queueRow('q1')?.priority).toBe(9)
    setStatus('w1', 'queued')
    expect(queueRow('w1')?.priority).toBe(9)
  })

  test('after any mix of writes the queue equals the set of queued tasks', () => {
    const statuses = ['waiting', 'queued', 'processing', 'reset', 'complete']
    let seed = 7
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n
    for (let i = 0; i < 40; i++) insertTask(`m${i}`, { status: statuses[random(5)] })
    for (let step = 0; step < 400; step++) {
      const id = `m${random(40)}`
      const action = random(10)
      if (action === 0) db().query('DELETE FROM tasks WHERE task_id = ?').run(id)
      else if (action === 1) insertTask(`n${step}`, { status: statuses[random(5)] })
      else setStatus(id, statuses[random(5)] as string)
    }
    expect(queuedIds()).toEqual(queuedInTasks())
    expect(queuedIds().length).toBeGreaterThan(0)
  })
})
