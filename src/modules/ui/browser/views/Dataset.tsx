/**
 * One dataset: status, progress, the bulk actions of API.md §7.2, job and
 * task counts by status and by task name, task statistics, queue
 * diagnostics and its tasks, paged by the server and filtered by status and name.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, claimsOf, enc, get, getOptional, post, put, session, withQuery } from '../api'
import { ConfirmButton, ErrorNote, Progress, Section, StatusBadge, StatusBars } from '../components'
import { formatNumber, JOB_STATUSES, parseTime, TASK_STATUSES, useLoad, useNow, duration, formatTime, type Counts } from '../data'
import { useLive } from '../live'
import { progressOf, type DatasetDoc } from '../progress'
import { hrefOf } from '../router'
import { CountsText, Eta, LiveBadge } from './Datasets'
import { History, type HistoryEntry } from './Task'

interface Action {
  label: 'Suspend' | 'Resume' | 'Reset' | 'Hard reset' | 'Truncate'
  question: string
  path: string
  /** What a server without the dataset actions does for the same (a status PUT), if anything. */
  statusFallback?: string
  danger?: boolean
}

const actionsOf = (name: string, id: string): Action[] => [
  { label: 'Suspend', question: `Suspend ${name}? No task of it is handed out until it is resumed.`, path: `datasets/${id}/dataset_actions/suspend`, statusFallback: 'suspended' },
  { label: 'Resume', question: `Resume ${name}? Its tasks are handed out again.`, path: `datasets/${id}/dataset_actions/resume`, statusFallback: 'processing' },
  { label: 'Reset', question: `Reset the failed and suspended tasks of ${name}? They wait to run again, keeping their failure counts.`, path: `datasets/${id}/task_actions/bulk_reset` },
  { label: 'Hard reset', question: `Hard reset ${name}? Every task, complete ones too, runs again from the start with no failures counted.`, path: `datasets/${id}/dataset_actions/hard_reset`, danger: true },
  { label: 'Truncate', question: `Truncate ${name}? No more jobs are made for it; the tasks that exist go on.`, path: `datasets/${id}/dataset_actions/truncate`, statusFallback: 'truncated', danger: true },
]

const TASK_PAGE = 50
/** How often live updates read the counts by name and the statistics again (each reads every task of the dataset). */
const SCAN_REFRESH_MS = 30_000
const TASK_KEYS = 'task_id|name|status|job_index|task_index|failures|status_changed'

interface TaskRow {
  task_id: string
  name?: string
  status?: string
  job_index?: number
  task_index?: number
  failures?: number
  status_changed?: string
}

interface TaskStat {
  count: number
  avg_hrs: number
  min_hrs: number
  max_hrs: number
  stddev_hrs: number | null
  total_hrs: number
  efficiency: number
}

export function Dataset({ datasetId }: { datasetId: string }) {
  const id = enc(datasetId)
  const dataset = useLoad(() => get<DatasetDoc>(`datasets/${id}`), [datasetId])
  const progress = useLoad(() => (dataset.data ? progressOf(dataset.data) : Promise.resolve(undefined)), [dataset.data])
  const jobCounts = useLoad(() => get<Counts>(`datasets/${id}/job_counts/status`), [datasetId])
  const diagnostics = useLoad(() => getOptional<{ queued: number; offers_last_hour: number; unmatched: Counts }>('queue_diagnostics', `datasets/${id}/queue_diagnostics`), [datasetId])
  const history = useLoad(() => getOptional<{ history: HistoryEntry[] }>('history', `datasets/${id}/history?num=20`), [datasetId])
  const canWrite = useLoad(async () => {
    if (claimsOf(session.token() ?? '')?.role === 'admin') return true
    return get(`auths/${id}/actions/write`).then(
      () => true,
      () => false,
    )
  }, [datasetId])

  const [taskFilter, setTaskFilter] = useState({ status: '', name: '' })
  // The ids the pages so far start after: [] is the first page.
  const [pageStarts, setPageStarts] = useState<string[]>([])
  useEffect(() => setPageStarts([]), [taskFilter.status, taskFilter.name, datasetId])
  const after = pageStarts[pageStarts.length - 1]
  const tasks = useLoad(
    () =>
      get<Record<string, TaskRow>>(
        withQuery(`datasets/${id}/tasks`, { status: taskFilter.status, name: taskFilter.name, limit: TASK_PAGE, after, keys: TASK_KEYS }),
      ),
    [datasetId, taskFilter.status, taskFilter.name, after],
  )
  // Counts by name and the statistics read every task of the dataset (a second or more for a
  // million): asked for once the first page of tasks is there, so that it is not kept waiting behind them.
  const firstPageShown = tasks.data !== undefined || tasks.error !== undefined
  const byName = useLoad(() => get<Record<string, Counts>>(`datasets/${id}/task_counts/name_status`), [datasetId], firstPageShown)
  const stats = useLoad(() => get<Record<string, TaskStat>>(`datasets/${id}/task_stats`), [datasetId], firstPageShown)
  const scannedAt = useRef(0)

  const live = useLive(datasetId, (events) => {
    if (events.length === 0 || events.some((e) => e.task_id === null && e.job_id === null)) {
      dataset.reload()
      history.reload()
    } else progress.reload()
    jobCounts.reload()
    tasks.reload()
    diagnostics.reload()
    // The scans at most every SCAN_REFRESH_MS, however busy the dataset.
    if (Date.now() - scannedAt.current >= SCAN_REFRESH_MS) {
      scannedAt.current = Date.now()
      byName.reload()
      stats.reload()
    }
  })

  const [outcome, setOutcome] = useState<{ text: string; error?: boolean } | undefined>()
  const now = useNow()
  const doc = dataset.data
  const name = doc ? `dataset ${doc.dataset ?? datasetId}` : `dataset ${datasetId}`

  const run = async (action: Action) => {
    setOutcome({ text: `${action.label}…` })
    try {
      let reply: { changed?: number } | undefined
      try {
        reply = await post<{ changed?: number }>(action.path, {})
      } catch (error) {
        if (!(error instanceof ApiError && error.noRoute && action.statusFallback)) throw error
        await put(`datasets/${id}/status`, { status: action.statusFallback })
      }
      setOutcome({ text: `${action.label}: done${typeof reply?.changed === 'number' ? `, ${formatNumber(reply.changed)} task${reply.changed === 1 ? '' : 's'} changed` : ''}.` })
    } catch (error) {
      const e = error as ApiError
      setOutcome({ text: `${action.label} failed: ${e.noRoute ? 'this server does not have this action' : e.message}.`, error: true })
    }
    dataset.reload()
    history.reload()
    jobCounts.reload()
    byName.reload()
    tasks.reload()
  }
  useEffect(() => {
    if (byName.data) scannedAt.current = Date.now()
  }, [byName.data])

  const names = Object.keys(byName.data ?? {})
  const rows = Object.values(tasks.data ?? {})
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={hrefOf({ name: 'datasets' })}>Datasets</a> › <span aria-current="page">{doc?.dataset !== undefined ? `Dataset ${doc.dataset}` : datasetId}</span>
      </nav>
      <div class="title-row">
        <h1>{doc?.dataset !== undefined ? `Dataset ${doc.dataset}` : `Dataset ${datasetId}`}</h1>
        {doc && <StatusBadge status={doc.status} />}
        <LiveBadge mode={live} />
      </div>
      <ErrorNote error={dataset.error} what="this dataset" />
      {doc && (
        <>
          <p class="description">{String(doc.description ?? '')}</p>
          <p class="muted small">
            {[doc.username && `by ${doc.username}`, doc.group, `priority ${doc.priority ?? 0}`, parseTime(doc.start_date) && `started ${formatTime(parseTime(doc.start_date)!)}`]
              .filter(Boolean)
              .join(' · ')}
          </p>
          {progress.data && (
            <div class="card">
              <Progress complete={progress.data.tasks.complete ?? 0} expected={progress.data.tasks_expected} label={`Progress of ${name}`} />
              <p class="counts">
                ETA <Eta eta={progress.data.eta} now={now} fromServer={progress.data.fromServer} />
                {typeof progress.data.completed_last_hour === 'number' && ` · ${formatNumber(progress.data.completed_last_hour)} tasks completed in the last hour`}
              </p>
            </div>
          )}
          <ErrorNote error={progress.error} what="the progress" />
          <section class="card actions" aria-labelledby="actions-title">
            <h2 id="actions-title">Actions</h2>
            <div class="buttons">
              {actionsOf(name, id).map((action) => (
                <ConfirmButton key={action.label} label={action.label} question={action.question} disabled={canWrite.data !== true} danger={action.danger} onConfirm={() => void run(action)} />
              ))}
            </div>
            {canWrite.data === false && <p class="muted small">This token may not change this dataset.</p>}
            {outcome && (
              <p class={outcome.error ? 'note error' : 'note'} role="status">
                {outcome.text}
              </p>
            )}
          </section>
        </>
      )}
      <div class="grid2">
        <Section title="Jobs by status" id="jobs">
          <ErrorNote error={jobCounts.error} what="the job counts" />
          {jobCounts.data && <StatusBars rows={[['jobs', jobCounts.data]]} statuses={JOB_STATUSES} label="Jobs by status" />}
        </Section>
        <Section title="Tasks by status" id="tasks-by-status">
          {progress.data && <StatusBars rows={[['tasks', progress.data.tasks]]} statuses={TASK_STATUSES} label="Tasks by status" />}
        </Section>
      </div>
      <Section title="Tasks by name and status" id="by-name">
        <ErrorNote error={byName.error} what="the counts by task name" />
        {byName.data && (names.length > 0 ? <StatusBars rows={Object.entries(byName.data)} statuses={TASK_STATUSES} label="Tasks by name and status" /> : <p class="muted">No tasks yet.</p>)}
      </Section>
      <Section title="Task statistics" id="stats">
        <ErrorNote error={stats.error} what="the task statistics" />
        {stats.data && <StatsTable stats={stats.data} />}
      </Section>
      <Section title="Queue diagnostics" id="diagnostics">
        <Diagnostics data={diagnostics.data} error={diagnostics.error} />
      </Section>
      <Section title="Status history" id="history">
        {history.error ? <ErrorNote error={history.error} what="the status history" /> : history.data && <History entries={history.data.history} />}
      </Section>
      <Section title="Tasks" id="task-list">
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            Status{' '}
            <select value={taskFilter.status} onChange={(e) => setTaskFilter({ ...taskFilter, status: e.currentTarget.value })}>
              <option value="">all</option>
              {TASK_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Name{' '}
            <select value={taskFilter.name} onChange={(e) => setTaskFilter({ ...taskFilter, name: e.currentTarget.value })}>
              <option value="">all</option>
              {names.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        </form>
        <ErrorNote error={tasks.error} what="the tasks" />
        <div class="table-scroll">
          <table class="tasks">
            <caption class="visually-hidden">Tasks of {name}</caption>
            <thead>
              <tr>
                <th scope="col">Job.task</th>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Failures</th>
                <th scope="col">Status changed</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((task) => (
                <tr key={task.task_id}>
                  <td>
                    {String(task.job_index ?? '?')}.{String(task.task_index ?? '?')}
                  </td>
                  <td>
                    <a href={hrefOf({ name: 'task', datasetId, taskId: task.task_id })}>{String(task.name ?? task.task_id)}</a>
                  </td>
                  <td>
                    <StatusBadge status={task.status} />
                  </td>
                  <td>{String(task.failures ?? 0)}</td>
                  <td>{parseTime(task.status_changed) ? `${duration(now - parseTime(task.status_changed)!.getTime())} ago` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {tasks.data && rows.length === 0 && <p class="muted">No task matches.</p>}
        <div class="pager">
          <button type="button" disabled={pageStarts.length === 0} onClick={() => setPageStarts(pageStarts.slice(0, -1))}>
            Previous page
          </button>
          <span class="muted">Page {pageStarts.length + 1}</span>
          <button type="button" disabled={rows.length < TASK_PAGE} onClick={() => setPageStarts([...pageStarts, rows[rows.length - 1]!.task_id])}>
            Next page
          </button>
        </div>
      </Section>
    </main>
  )
}

const hours = (h: number | null) => (h === null ? '—' : h < 1 ? `${(h * 60).toFixed(1)} min` : `${h.toFixed(2)} h`)

function StatsTable({ stats }: { stats: Record<string, TaskStat> }) {
  const entries = Object.entries(stats)
  if (entries.length === 0) return <p class="muted">No task has completed yet.</p>
  return (
    <div class="table-scroll">
      <table>
        <caption class="visually-hidden">Walltime of complete tasks per task name</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Complete</th>
            <th scope="col">Average</th>
            <th scope="col">Min</th>
            <th scope="col">Max</th>
            <th scope="col">Std dev</th>
            <th scope="col">Total</th>
            <th scope="col">Efficiency</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([name, s]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{formatNumber(s.count)}</td>
              <td>{hours(s.avg_hrs)}</td>
              <td>{hours(s.min_hrs)}</td>
              <td>{hours(s.max_hrs)}</td>
              <td>{hours(s.stddev_hrs)}</td>
              <td>{hours(s.total_hrs)}</td>
              <td>{(s.efficiency * 100).toFixed(1)}%</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Diagnostics({ data, error }: { data: { queued: number; offers_last_hour: number; unmatched: Counts } | undefined; error: ApiError | undefined }) {
  if (error) return <ErrorNote error={error} what="the queue diagnostics" />
  if (!data) return <p class="muted">Loading…</p>
  const unmatched = Object.entries(data.unmatched ?? {})
  return (
    <>
      <p>
        {formatNumber(data.queued)} queued task{data.queued === 1 ? '' : 's'}, {formatNumber(data.offers_last_hour)} offer{data.offers_last_hour === 1 ? '' : 's'} from pilots in the last hour.
      </p>
      {unmatched.length > 0 ? (
        <ul>
          {unmatched.map(([key, n]) => (
            <li key={key}>
              <strong>{key}</strong>: {formatNumber(n)} queued task{n === 1 ? '' : 's'} that no recent offer met
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">Every requirement of the queued tasks was met by some recent offer.</p>
      )}
    </>
  )
}

export { CountsText }
