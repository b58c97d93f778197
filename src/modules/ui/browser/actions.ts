/**
 * The operator actions of API.md §7.2 as the page offers them, each calling
 * its own route, and whether the token may run them (the server's answer).
 */
import { ApiError, enc, get, post } from './api'
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
const changedTasks = async (path: string, body: object = {}) => `done, ${plural((await post<{ changed: number }>(path, body)).changed, 'task')} changed.`
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

/** On the tasks the list's filter selects (every page of them). */
export function filteredActions(name: string, datasetId: string, filter: TaskFilter): Action[] {
  const which = [filter.status, 'tasks', filter.name && `named ${filter.name}`].filter(Boolean).join(' ')
  const body = { ...(filter.status ? { status: [filter.status] } : {}), ...(filter.name ? { name: filter.name } : {}) }
  return bulkActions(`the ${which} of ${name}`, (action) => `datasets/${enc(datasetId)}/task_actions/${action}`, body)
}

/** On the tasks of one job. */
export const jobActions = (name: string, datasetId: string, jobId: string) =>
  bulkActions(`the tasks of ${name}`, (action) => `datasets/${enc(datasetId)}/job_actions/${action}`, { job_ids: [jobId] })
