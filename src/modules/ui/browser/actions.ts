/**
 * The operator actions of API.md §7.2 as the page offers them, each calling
 * its own route, and whether the token may run them (the server's answer).
 */
import { ApiError, enc, get, patch, post, put } from './api'
import type { Action } from './components'
import { formatNumber, useLoad } from './data'

/** The server's answer alone decides (`GET /auths/<d>/actions/write`: admins, and the dataset's write groups). */
export const useMayWrite = (datasetId: string) =>
  useLoad(
    () =>
      get(`auths/${enc(datasetId)}/actions/write`).then(
        () => true,
        (error: unknown) => (error instanceof ApiError && error.status === 403 ? false : Promise.reject(error)),
      ),
    [datasetId],
  )

export interface TaskFilter {
  status: string
  name: string
}

export const plural = (n: number, one: string) => `${formatNumber(n)} ${one}${n === 1 ? '' : 's'}`
/** What an action's `{"changed": n}` says: tasks changed, or for a status action whether the dataset's status changed. */
const changedTasks = async (path: string, body: object = {}, send = post<{ changed: number }>) => `done, ${plural((await send(path, body)).changed, 'task')} changed.`
const changedStatus = (status: string) => async (path: string) =>
  (await post<{ changed: number }>(path, {})).changed > 0 ? `done, the dataset is ${status}.` : `the dataset was ${status} already.`

/** The dataset's own actions: its status, and every one of its tasks. */
export function datasetActions(name: string, datasetId: string): Action[] {
  const id = enc(datasetId)
  const at = (action: string) => `datasets/${id}/dataset_actions/${action}`
  return [
    { label: 'Suspend', question: `Suspend ${name}? No task of it is handed out until it is resumed.`, run: () => changedStatus('suspended')(at('suspend')) },
    { label: 'Resume', question: `Resume ${name}? Its tasks are handed out again.`, run: () => changedStatus('processing')(at('resume')) },
    { label: 'Reset', question: `Reset the failed and suspended tasks of ${name}? They wait to run again, keeping their failure counts.`, run: () => changedTasks(`datasets/${id}/task_actions/bulk_reset`) },
    { label: 'Hard reset', question: `Hard reset ${name}? Every task, complete ones too, runs again from the start with no failures counted.`, run: () => changedTasks(at('hard_reset')), danger: true },
    { label: 'Truncate', question: `Truncate ${name}? No more jobs are made for it; the tasks that exist go on.`, run: () => changedStatus('truncated')(at('truncate')), danger: true },
  ]
}

/** The task actions on some tasks (`what`, as the question names them): `route(action)` with `body` selecting them. */
function bulkActions(what: string, route: (action: string) => string, body: object): Action[] {
  return [
    { label: 'Suspend', question: `Suspend ${what} that are not complete? They are not handed out until reset.`, run: () => changedTasks(route('bulk_suspend'), body) },
    { label: 'Reset', question: `Reset ${what} that are failed or suspended? They wait to run again, keeping their failure counts.`, run: () => changedTasks(route('bulk_reset'), body) },
    { label: 'Hard reset', question: `Hard reset ${what}? They run again from the start with no failures counted, complete ones too.`, run: () => changedTasks(route('bulk_hard_reset'), body), danger: true },
  ]
}

/** The tasks a filter selects, as questions name them, and as the bulk routes take it. */
const filterWhich = (filter: TaskFilter) => [filter.status, 'tasks', filter.name && `named ${filter.name}`].filter(Boolean).join(' ')
const filterBody = (filter: TaskFilter) => ({ ...(filter.status ? { status: [filter.status] } : {}), ...(filter.name ? { name: filter.name } : {}) })

/** On the tasks the list's filter selects (every page of them). */
export const filteredActions = (name: string, datasetId: string, filter: TaskFilter): Action[] =>
  bulkActions(`the ${filterWhich(filter)} of ${name}`, (action) => `datasets/${enc(datasetId)}/task_actions/${action}`, filterBody(filter))

/** Sets `status` ('' while none is chosen) on the tasks the list's filter selects. */
export const setStatusAction = (name: string, datasetId: string, filter: TaskFilter, status: string): Action => ({
  label: 'Set status',
  question: `Set the status of the ${filterWhich(filter)} of ${name} to ${status}? Those already ${status} stay as they are.`,
  run: () => changedTasks(`datasets/${enc(datasetId)}/task_actions/bulk_status/${enc(status)}`, filterBody(filter)),
  disabled: status === '',
})

/** A requirement's value as typed: a number when it reads as one (`cpu` 2, not "2"), else the text. */
export function requirementValue(text: string): number | string {
  const trimmed = text.trim()
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed) ? Number(trimmed) : text
}

/** Merges `{key: value}` into the requirements of every task named `taskName` that is not complete. */
export const setRequirementAction = (name: string, datasetId: string, taskName: string, key: string, value: string): Action => ({
  label: 'Set requirement',
  question: `Set the requirement ${key} to ${JSON.stringify(requirementValue(value))} on the tasks named ${taskName} of ${name} that are not complete?`,
  run: () => changedTasks(`datasets/${enc(datasetId)}/task_actions/bulk_requirements/${enc(taskName)}`, { [key.trim()]: requirementValue(value) }, patch<{ changed: number }>),
  disabled: taskName === '' || key.trim() === '' || value.trim() === '',
})

/** Sets the dataset's priority (`priority` as typed: NaN while it is not a number). */
export const setPriorityAction = (name: string, datasetId: string, priority: number): Action => ({
  label: 'Set priority',
  question: `Set the priority of ${name} to ${priority}? Its queued tasks follow at once.`,
  run: async () => (await put(`datasets/${enc(datasetId)}/priority`, { priority }), `done, the priority is ${priority}.`),
  disabled: !Number.isFinite(priority),
})

/** On the tasks of one job. */
export const jobActions = (name: string, datasetId: string, jobId: string) =>
  bulkActions(`the tasks of ${name}`, (action) => `datasets/${enc(datasetId)}/job_actions/${action}`, { job_ids: [jobId] })
