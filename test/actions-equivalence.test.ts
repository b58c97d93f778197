/**
 * The bulk actions' set-based changes (scheduler/bulk.ts) against the
 * single-task path (a status PUT or PATCH per task, each followed by the
 * scheduler as Transitions does): two servers get the same datasets and the
 * same history of status changes, then one runs a random bulk action with
 * random filters and the other the same change task by task, in creation
 * order. Both must end with the same statuses of every task and job, the
 * same failures, every maintained count equal to a recount and every
 * history chain ending at the current status; the bulk action must count
 * the tasks the other changed, and its dataset, when processing before,
 * must have the status its jobs call for. The set-up and the histories
 * checked go through the services: the routes are not what is compared, and
 * their own tests cover them. (Datasets are not compared: task
 * by task, a dataset the roll-up stopped on the way, say `errors`, no longer
 * follows its jobs, §6.5, and may end elsewhere than after the one change of
 * them all.)
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import fc from 'fast-check'
import { JobService } from '../src/modules/jobs/service'
import { TaskService } from '../src/modules/tasks/service'
import { TASK_STATUSES } from '../src/status'
import { expectChain } from './history-support'
import { checkCounts, checkRollUp } from './scheduler-support'
import { startTestApp, type TestApp } from './support'

setDefaultTimeout(120_000)

const JOBS = 4
/** Per job: a, b after a, c after b; the c of each job after the job before's a, so that jobs wait on each other. */
const TASKS_PER_JOB = 3
const NAMES = ['a', 'b', 'c']
/** Statuses the setup gives tasks (a reset moves on at once: no task stays reset). */
const SETUP_STATUSES = TASK_STATUSES.filter((status) => status !== 'reset')

let bulk: TestApp
let single: TestApp
beforeAll(async () => {
  ;[bulk, single] = await Promise.all([startTestApp({ logLevel: 'error' }), startTestApp({ logLevel: 'error' })])
  for (const t of [bulk, single]) {
    await t.call('POST', '/groups', { body: { name: '/equivalence' } })
    services.set(t, servicesOf(t))
  }
})
afterAll(() => {
  bulk.close()
  single.close()
})

interface Dataset {
  datasetId: string
  /** Task ids by position (job × TASKS_PER_JOB + index in the job), job ids by index. */
  tasks: string[]
  jobs: string[]
}

/**
 * The services behind the routes that make the datasets and their history
 * before the action: what is compared is where the action ends, not the
 * routes, which their own tests cover.
 */
const servicesOf = (t: TestApp) => ({ jobs: new JobService(t.ctx.db, t.ctx.transitions, t.ctx.clock), tasks: new TaskService(t.ctx.db, t.ctx.transitions, t.ctx.clock) })
const services = new Map<TestApp, ReturnType<typeof servicesOf>>()
const ADMIN = { username: 'admin', role: 'admin' }

/** Datasets are made ahead of the runs that take them, this many at a time per max_failures, on both servers alike. */
const BATCH = 25

/**
 * `n` datasets of `maxFailures`, each made as one made alone would be (job by
 * job, each job's a, b, c in turn), side by side: each step of them all
 * shares a commit (GroupCommit) instead of one commit per task.
 */
async function makeDatasets(t: TestApp, maxFailures: number, n: number): Promise<Dataset[]> {
  const { jobs, tasks } = services.get(t)!
  const datasets = await Promise.all(
    Array.from({ length: n }, async (): Promise<Dataset> => {
      const created = await t.call('POST', '/datasets', { body: { description: 'eq', jobs_submitted: JOBS, tasks_submitted: JOBS * TASKS_PER_JOB, group: '/equivalence', max_failures: maxFailures } })
      return { datasetId: created.body.result.split('/')[2] as string, tasks: [], jobs: [] }
    }),
  )
  for (let j = 0; j < JOBS; j++) {
    const jobIds = await Promise.all(datasets.map((d) => jobs.create({ dataset_id: d.datasetId, job_index: j })))
    datasets.forEach((d, i) => d.jobs.push(jobIds[i]!))
    for (let k = 0; k < TASKS_PER_JOB; k++) {
      const taskIds = await Promise.all(
        datasets.map((d) => {
          const depends = k === 0 ? [] : [d.tasks[d.tasks.length - 1]!]
          if (k === 2 && j > 0) depends.push(d.tasks[(j - 1) * TASKS_PER_JOB]!)
          return tasks.create({ dataset_id: d.datasetId, job_id: d.jobs[j]!, task_index: k, name: NAMES[k]!, depends, requirements: {} })
        }),
      )
      datasets.forEach((d, i) => d.tasks.push(taskIds[i]!))
    }
  }
  return datasets
}

const ahead = new Map<number, [Dataset, Dataset][]>()
/** A new dataset of `maxFailures` on each server, alike. */
async function datasetPair(maxFailures: number): Promise<[Dataset, Dataset]> {
  const pairs = ahead.get(maxFailures) ?? ahead.set(maxFailures, []).get(maxFailures)!
  if (pairs.length === 0) {
    const [b, s] = await Promise.all([makeDatasets(bulk, maxFailures, BATCH), makeDatasets(single, maxFailures, BATCH)])
    pairs.push(...b.map((d, i): [Dataset, Dataset] => [d, s[i]!]))
  }
  return pairs.shift()!
}

interface TaskState {
  status: string
  failures: number
}

const taskStates = (t: TestApp, d: Dataset): TaskState[] =>
  d.tasks.map((id) => t.ctx.sqlite.query("SELECT status, json_extract(doc, '$.failures') AS failures FROM tasks WHERE task_id = ?").get(id) as TaskState)

function state(t: TestApp, d: Dataset) {
  return {
    tasks: taskStates(t, d),
    jobs: d.jobs.map((id) => (t.ctx.sqlite.query('SELECT status FROM jobs WHERE job_id = ?').get(id) as { status: string }).status),
  }
}

const datasetStatus = (t: TestApp, d: Dataset) => (t.ctx.sqlite.query('SELECT status FROM datasets WHERE dataset_id = ?').get(d.datasetId) as { status: string }).status

type Action = { kind: 'suspend' } | { kind: 'reset' } | { kind: 'hard_reset' } | { kind: 'status'; status: string }

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ kind: 'suspend' } as const),
  fc.constant({ kind: 'reset' } as const),
  fc.constant({ kind: 'hard_reset' } as const),
  fc.constantFrom(...TASK_STATUSES).map((status) => ({ kind: 'status', status }) as const),
)

const scenario = fc.record({
  maxFailures: fc.integer({ min: 0, max: 3 }),
  setup: fc.array(fc.tuple(fc.nat({ max: JOBS * TASKS_PER_JOB - 1 }), fc.constantFrom(...SETUP_STATUSES), fc.nat({ max: 4 })), { maxLength: 16 }),
  action: actionArb,
  taskIds: fc.option(fc.uniqueArray(fc.nat({ max: JOBS * TASKS_PER_JOB - 1 }), { maxLength: 8 }), { nil: undefined }),
  statuses: fc.option(fc.uniqueArray(fc.constantFrom(...TASK_STATUSES), { minLength: 1, maxLength: 4 }), { nil: undefined }),
  name: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
})

/** Whether the action changes a task in this state (API.md §7.2's count). */
function changes(action: Action, task: TaskState): boolean {
  switch (action.kind) {
    case 'suspend':
      return task.status !== 'complete' && task.status !== 'suspended'
    case 'reset':
      return task.status === 'failed' || task.status === 'suspended'
    case 'hard_reset':
      return !((task.status === 'waiting' || task.status === 'queued') && task.failures === 0)
    case 'status':
      return task.status !== action.status
  }
}

/** The same change of one task through the single-task routes, from the state it is in when its turn comes. */
async function changeOne(t: TestApp, taskId: string, action: Action): Promise<void> {
  const current = (await t.call('GET', `/tasks/${taskId}`)).body as TaskState
  const body =
    action.kind === 'suspend' ? { status: 'suspended' }
    : action.kind === 'reset' ? { status: 'waiting' }
    : action.kind === 'hard_reset' ? { status: current.status === 'waiting' || current.status === 'queued' ? current.status : 'waiting', failures: 0 }
    : { status: action.status }
  const r = await t.call('PATCH', `/tasks/${taskId}`, { body })
  expect(r.status).toBe(200)
}

test('a bulk action ends where the same change made task by task ends', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ maxFailures, setup, action, taskIds, statuses, name }) => {
      const [b, s] = await datasetPair(maxFailures)
      for (const [t, d] of [[bulk, b], [single, s]] as const) {
        for (const [position, status, failures] of setup) {
          await services.get(t)!.tasks.patch(d.tasks[position]!, { failures }, ADMIN)
          await services.get(t)!.tasks.setStatus(d.tasks[position]!, status, ADMIN)
        }
      }
      expect(state(bulk, b)).toEqual(state(single, s))
      expect(datasetStatus(bulk, b)).toBe(datasetStatus(single, s))
      const following = datasetStatus(bulk, b) === 'processing'

      const before = taskStates(single, s)
      const selected = s.tasks.filter((_, i) =>
        changes(action, before[i]!) &&
        (taskIds === undefined || taskIds.includes(i)) &&
        (statuses === undefined || (statuses as readonly string[]).includes(before[i]!.status)) &&
        (name === undefined || NAMES[i % TASKS_PER_JOB] === name))
      const path = action.kind === 'status' ? `task_actions/bulk_status/${action.status}` : `task_actions/bulk_${action.kind}`
      const body = { ...(taskIds && { task_ids: taskIds.map((i) => b.tasks[i]) }), ...(statuses && { status: statuses }), ...(name && { name }) }
      const r = await bulk.call('POST', `/datasets/${b.datasetId}/${path}`, { body })
      expect(r.body).toEqual({ changed: selected.length })
      for (const taskId of selected) await changeOne(single, taskId, action)

      expect(state(bulk, b)).toEqual(state(single, s))
      if (following) checkRollUp(bulk.ctx.sqlite, b.datasetId, JOBS)
      for (const [t, d] of [[bulk, b], [single, s]] as const) {
        checkCounts(t.ctx.sqlite, d.datasetId)
        const now = state(t, d)
        for (const [i, taskId] of d.tasks.entries()) expectChain(t.ctx.history.list('task', d.datasetId, taskId), now.tasks[i]!.status)
        for (const [i, jobId] of d.jobs.entries()) expectChain(t.ctx.history.list('job', d.datasetId, jobId), now.jobs[i]!)
        expectChain(t.ctx.history.list('dataset', d.datasetId, d.datasetId), datasetStatus(t, d))
      }
    }),
    { numRuns: 150 },
  )
})
