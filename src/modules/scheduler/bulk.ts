/**
 * Bulk changes of tasks (API.md §7.2), and the queue action's (4.5.1): the
 * selected tasks of one dataset, or the tasks the queue action chose,
 * changed inside the caller's write transaction by set-based statements,
 * never a loop of single-task changes, following the rules Transitions
 * applies to one task: each step is its own history entry (the client's
 * change, then with the scheduler the server's retry of a reset task and its
 * queueing when ready, §6.2–6.3); the queued dependents of a complete task
 * that runs again go back to waiting, the dependents of a task completed are
 * queued when ready; the jobs whose tasks changed are rolled up together
 * (decided by RollUp's rules, read and written set-based), then their datasets (§6.5).
 *
 * The work is staged in scratch tables (db/scratch.ts: TEMP, in memory,
 * private to the connection, emptied before and after each use): the ids a
 * request names, the selected tasks that change with where each one goes,
 * the dependents that follow them, the jobs to roll up and their changes.
 * The statements are in queries.ts.
 */
import type { Db } from '../../db'
import { fail } from '../../errors'
import { SERVER, type Actor, type HistoryService } from '../history/service'
import type { ServerReason } from '../history/reasons'
import { bulkQueries, schedulerQueries, selectionKey, type BulkQueries } from './queries'
import { RollUp, type JobState } from './rollup'
import type { Transitions } from './transitions'

/** What a bulk action does to each selected task. */
export type BulkAction =
  /** Tasks not complete (and not suspended already) → suspended. */
  | { kind: 'suspend' }
  /** Failed and suspended tasks → waiting, failures kept. */
  | { kind: 'reset' }
  /** Any task → waiting with failures 0; a waiting or queued one keeps its status, its failures set to 0. */
  | { kind: 'hard_reset' }
  /** Tasks not in the status already → that status. */
  | { kind: 'status'; status: string }

/** Which tasks of the dataset an action looks at; the filters combine (AND). */
export interface TaskSelection {
  datasetId: string
  /** Tasks by id; each must be a task of the dataset (400 otherwise). */
  taskIds?: readonly string[]
  /** The tasks of these jobs; each must be a job of the dataset (400 otherwise). */
  jobIds?: readonly string[]
  statuses?: readonly string[]
  name?: string
}

/** Per dataset, whether a job of it went back to processing, and whether one left processing. */
type Datasets = Map<string, { reopened: boolean; stopped: boolean }>

export class BulkTransitions {
  private readonly queries: BulkQueries
  private readonly rollUp: RollUp

  constructor(
    db: Db,
    private readonly history: HistoryService,
    private readonly transitions: Transitions,
  ) {
    this.queries = bulkQueries(db)
    this.rollUp = new RollUp(schedulerQueries(db), history, () => transitions.now())
  }

  /**
   * Inside the caller's write transaction: applies `action` to the selected
   * tasks of the dataset (see TaskSelection) and returns how many it changed.
   * 400, changing nothing, when an id is not a task (job) of the dataset.
   */
  changeTasks(selection: TaskSelection, action: BulkAction, by: Actor): number {
    const { queries } = this
    this.clear()
    const datasetId = selection.datasetId
    const source = selection.taskIds !== undefined ? 'task ids' : selection.jobIds !== undefined ? 'job ids' : 'dataset'
    if (source !== 'dataset') this.checkIds(datasetId, source, (source === 'task ids' ? selection.taskIds : selection.jobIds)!)
    // The filters combine: no status at all matches no task.
    if (selection.statuses?.length === 0) return this.done(0)
    const to = action.kind === 'status' ? action.status : undefined
    const changed = queries
      .selection(selectionKey(action.kind, source, selection.statuses, selection.name !== undefined))
      .run({ dataset_id: datasetId, name: selection.name ?? null, to: to ?? null }).changes
    if (changed === 0) return this.done(0)
    if (this.transitions.scheduling) {
      const retry = queries.datasetRetry.get({ dataset_id: datasetId })
      queries.scheduledFinal.run({ limit: this.transitions.failureLimit(retry?.max_failures), debug: retry?.debug === 1 ? 1 : 0 })
    } else {
      queries.plainFinal.run()
    }
    this.applyStaged(action.kind === 'hard_reset' ? queries.applyHardReset : queries.apply, by, {
      // Only a status change can take a task out of complete, or into it.
      leavesComplete: action.kind === 'hard_reset' || (action.kind === 'status' && to !== 'complete'),
      entersComplete: to === 'complete',
    })
    return this.done(changed)
  }

  /**
   * Inside the caller's write transaction: the queue action's tasks (API.md
   * 4.5.1), ready waiting tasks of any datasets given by rowid, set queued
   * as a status action sets them, with the same history and follow-ups;
   * returns how many.
   */
  queueTasks(rowids: readonly number[], by: Actor): number {
    // Nothing ready is the common answer of a call that refills the queue: nothing staged, nothing to clear.
    if (rowids.length === 0) return 0
    this.clear()
    const changed = this.queries.queueChosen.run({ rowids: JSON.stringify(rowids) }).changes
    if (changed === 0) return this.done(0)
    this.applyStaged(this.queries.apply, by, { leavesComplete: false, entersComplete: false })
    return this.done(changed)
  }

  /**
   * Inside the caller's write transaction: `patch` merged into the
   * requirements (a key of the patch replaces that key) of every task of the
   * dataset with that name that is not complete; returns how many. 404 when
   * no task of the dataset has that name.
   */
  mergeRequirements(datasetId: string, name: string, patch: Record<string, unknown>): number {
    const { queries } = this
    this.clear()
    if (!queries.nameExists.get({ dataset_id: datasetId, name })) fail(404, `no task named ${name} in dataset ${datasetId}`)
    const changed = queries.requirementsOfName.run({ dataset_id: datasetId, name }).changes
    if (changed === 0) return this.done(0)
    queries.distinctRequirements.run()
    // Tasks of one name share a few distinct requirements (raised ones differ): each is merged once.
    const pairs = queries.oldRequirements.all().map(({ old }) => [old, JSON.stringify({ ...(JSON.parse(old) as object), ...patch })])
    queries.newRequirements.run({ pairs: JSON.stringify(pairs) })
    queries.applyRequirements.run()
    return this.done(changed)
  }

  /**
   * The tasks staged in `bulk_task`, each with its final status, changed:
   * the stopped jobs that will be active reopened first, the one UPDATE of
   * the tasks with their counts, the history of each step (the client's
   * change by `by`, then the server's), the dependents that follow a task
   * leaving or entering complete (as `follows` says the action may), and the
   * roll-up of the jobs, then of their datasets.
   */
  private applyStaged(update: BulkQueries['apply'], by: Actor, follows: { leavesComplete: boolean; entersComplete: boolean }): void {
    const { queries } = this
    const scheduling = this.transitions.scheduling
    const now = this.transitions.now()
    const reopened: Datasets = scheduling ? this.reopenJobs() : new Map()
    this.applyToTasks(update, now)
    this.history.recordSelected(queries.clientEntries, by)
    if (!scheduling) return
    this.history.recordSelected(queries.retryEntries, SERVER)
    this.history.recordSelected(queries.queuedEntries, SERVER)
    if (follows.leavesComplete) queries.unqueueDependents.run()
    if (follows.entersComplete) queries.queueDependents.run()
    queries.applyFollow.run({ now })
    this.history.recordSelected(queries.followEntries, SERVER)
    this.rollUpJobs(reopened)
  }

  /**
   * The one UPDATE of the selected tasks, their counts kept set-based: the
   * per-row count triggers skip its rows (see schema.ts, bulkUpdate), and
   * each count is moved by one statement over all of them.
   */
  private applyToTasks(update: BulkQueries['apply'], now: string): void {
    const { queries } = this
    queries.startBulkUpdate.run()
    try {
      update.run({ now })
    } finally {
      queries.endBulkUpdate.run()
    }
    queries.taskCountsLeft.run()
    queries.taskCountsEntered.run()
    queries.jobTaskCountsMoved.run()
  }

  /** 400 naming the first id that is not a task (job) of the dataset; the ids are left in `bulk_id`. */
  private checkIds(datasetId: string, source: 'task ids' | 'job ids', ids: readonly string[]): void {
    this.queries.fillIds.run({ ids: JSON.stringify(ids) })
    const what = source === 'task ids' ? 'task' : 'job'
    const foreign = (source === 'task ids' ? this.queries.foreignTask : this.queries.foreignJob).get({ dataset_id: datasetId })
    if (foreign) fail(400, `${what} ${foreign.id} is not a ${what} of dataset ${datasetId}`)
  }

  /**
   * Before the tasks change: the stopped jobs that will have a task active
   * whatever follows (one the action sets queued, processing, idle or reset)
   * go back to processing at once, as RollUp.job will call for once that
   * task is active. Written before the tasks, the jobs' tasks then enter the
   * queue as a processing job's, rather than being marked so one by one
   * afterwards. Returns, per dataset, the jobs changed (see `rollUpListed`).
   */
  private reopenJobs(): Datasets {
    this.clearRollUp()
    this.queries.activeJobs.run()
    if (this.queries.reopenChanges.run().changes === 0) return new Map()
    return this.applyRollUpChanges()
  }

  /** The jobs whose tasks changed rolled up together, then their datasets (§6.5), those of jobs reopened before included. */
  private rollUpJobs(reopened: Datasets): void {
    this.clearRollUp()
    this.queries.touchedJobs.run()
    this.queries.followJobs.run()
    this.queries.downstreamJobs.run()
    const datasets = new Map(reopened)
    for (const [datasetId, jobs] of this.rollUpListed()) {
      const before = datasets.get(datasetId)
      datasets.set(datasetId, { reopened: jobs.reopened || !!before?.reopened, stopped: jobs.stopped || !!before?.stopped })
    }
    for (const [datasetId, jobs] of datasets) this.transitions.datasetFollowsJobs(datasetId, jobs)
  }

  /**
   * Rolls up every job listed in `rollup_job` as RollUp.job would, reading
   * their states in one statement, writing the changes in one, and their
   * history entries in one.
   */
  private rollUpListed(): Datasets {
    const changes: [string, number, string, string, string, ServerReason][] = []
    for (const job of this.queries.rollUpStates.all() as JobState[]) {
      const to = this.rollUp.nextStatusOf(job)
      if (to) changes.push([job.job_id, job.rowid, job.dataset_id, job.status, to[0], to[1]])
    }
    if (changes.length === 0) return new Map()
    this.queries.saveRollUpChanges.run({ changes: JSON.stringify(changes) })
    return this.applyRollUpChanges()
  }

  /** The changes in `rollup_change` written, with their history entries; per dataset, whether a job went back to processing and whether one left it. */
  private applyRollUpChanges(): Datasets {
    this.queries.applyRollUpChanges.run({ now: this.transitions.now() })
    this.history.recordSelected(this.queries.jobEntries, SERVER)
    const datasets: Datasets = new Map()
    for (const row of this.queries.changedDatasets.all()) datasets.set(row.dataset_id!, { reopened: row.reopened === 1, stopped: row.stopped === 1 })
    return datasets
  }

  private clearRollUp(): void {
    this.queries.clearRollUpJobs.run()
    this.queries.clearRollUpChanges.run()
  }

  /** Empties the scratch tables (the work they held is in the tables it changed). */
  private clear(): void {
    const { queries } = this
    for (const query of [queries.clearIds, queries.clearTasks, queries.clearFollows, queries.clearRequirements, queries.clearRequirementsTasks]) query.run()
    this.clearRollUp()
  }

  private done(changed: number): number {
    this.clear()
    return changed
  }
}
