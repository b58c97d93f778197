/**
 * One dataset: status, progress, the operator actions of API.md §7.2 (for a
 * token that may write it), job and task counts by status and by task name,
 * task statistics, queue diagnostics and its tasks, paged by the server and
 * filtered by status and name.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { datasetActions, filteredActions, plural, setPriorityAction, setRequirementAction, setStatusAction, useMayWrite, type TaskFilter } from '../actions'
import { ApiError, enc, get, withQuery } from '../api'
import { ActionButtons, ActionForm, Choice, CountsChart, DataTable, ErrorNote, Eta, History, LiveBadge, Progress, Section, StatusBadge, type HistoryEntry } from '../components'
import { duration, formatNumber, formatTime, JOB_STATUSES, parseTime, TASK_STATUSES, useLoad, useNow, type Counts } from '../data'
import { useLive } from '../live'
import { progressOf, type DatasetDoc } from '../progress'
import { hrefOf } from '../router'

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
  avg_hrs: number | null
  min_hrs: number
  max_hrs: number
  stddev_hrs: number | null
  total_hrs: number | null
  efficiency: number | null
}

export function Dataset({ datasetId }: { datasetId: string }) {
  const id = enc(datasetId)
  const dataset = useLoad(() => get<DatasetDoc>(`datasets/${id}`), [datasetId])
  const progress = useLoad(() => progressOf(datasetId), [datasetId])
  const jobCounts = useLoad(() => get<Counts>(`datasets/${id}/job_counts/status`), [datasetId])
  const diagnostics = useLoad(() => get<{ queued: number; offers_last_hour: number; unmatched: Counts }>(`datasets/${id}/queue_diagnostics`), [datasetId])
  const history = useLoad(() => get<{ history: HistoryEntry[] }>(`datasets/${id}/history?num=20`), [datasetId])
  const canWrite = useMayWrite(datasetId)

  const [taskFilter, setTaskFilter] = useState<TaskFilter>({ status: '', name: '' })
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

  const refresh = (datasetChanged: boolean, scans: boolean) => {
    if (datasetChanged) {
      dataset.reload()
      history.reload()
    }
    progress.reload()
    jobCounts.reload()
    tasks.reload()
    diagnostics.reload()
    if (scans) {
      scannedAt.current = Date.now()
      byName.reload()
      stats.reload()
    }
  }
  const live = useLive(datasetId, (events) =>
    // The scans at most every SCAN_REFRESH_MS, however busy the dataset.
    refresh(events.length === 0 || events.some((e) => e.task_id === null && e.job_id === null), Date.now() - scannedAt.current >= SCAN_REFRESH_MS),
  )
  useEffect(() => {
    if (byName.data) scannedAt.current = Date.now()
  }, [byName.data])

  // The fields of the actions that take values; the priority field shows the dataset's until it is edited.
  const [newStatus, setNewStatus] = useState('')
  const [requirement, setRequirement] = useState({ name: '', key: '', value: '' })
  const [priority, setPriority] = useState('')
  useEffect(() => setPriority(String(dataset.data?.priority ?? 0)), [dataset.data?.priority])

  const now = useNow()
  const doc = dataset.data
  const name = doc ? `dataset ${doc.dataset ?? datasetId}` : `dataset ${datasetId}`
  const names = Object.keys(byName.data ?? {})
  const rows = Object.values(tasks.data ?? {})
  const filtered = taskFilter.status !== '' || taskFilter.name !== ''
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
                ETA <Eta eta={progress.data.eta} now={now} /> · {plural(progress.data.completed_last_hour, 'task')} completed in the last hour
              </p>
            </div>
          )}
          <ErrorNote error={progress.error} what="the progress" />
          <section class="card actions" aria-labelledby="actions-title">
            <h2 id="actions-title">Actions</h2>
            <ErrorNote error={canWrite.error} what="whether this token may change this dataset" />
            {canWrite.data === true && (
              <>
                <ActionButtons label={`Actions on ${name}`} actions={datasetActions(name, datasetId)} onDone={() => refresh(true, true)} />
                <ActionForm legend="Priority" action={setPriorityAction(name, datasetId, priority.trim() === '' ? NaN : Number(priority))} onDone={() => refresh(true, false)}>
                  <label>
                    Priority <input type="number" step="any" value={priority} onInput={(e) => setPriority(e.currentTarget.value)} />
                  </label>
                </ActionForm>
                <ActionForm
                  legend="Requirements of a task name"
                  action={setRequirementAction(name, datasetId, requirement.name, requirement.key, requirement.value)}
                  onDone={() => refresh(false, false)}
                >
                  <Choice label="Task name" none="choose…" value={requirement.name} options={names} onChange={(taskName) => setRequirement({ ...requirement, name: taskName })} />
                  <label>
                    Requirement <input type="text" placeholder="cpu" value={requirement.key} onInput={(e) => setRequirement({ ...requirement, key: e.currentTarget.value })} />
                  </label>
                  <label>
                    Value <input type="text" placeholder="2" value={requirement.value} onInput={(e) => setRequirement({ ...requirement, value: e.currentTarget.value })} />
                  </label>
                </ActionForm>
              </>
            )}
            {canWrite.data === false && <p class="muted small">This token may not change this dataset.</p>}
          </section>
        </>
      )}
      <div class="grid2">
        <CountsChart title="Jobs by status" rows={jobCounts.data && [['jobs', jobCounts.data]]} statuses={JOB_STATUSES} error={jobCounts.error} empty="No jobs yet." />
        <CountsChart title="Tasks by status" rows={progress.data && [['tasks', progress.data.tasks]]} statuses={TASK_STATUSES} error={progress.error} empty="No tasks yet." />
      </div>
      <CountsChart title="Tasks by name and status" rows={byName.data && Object.entries(byName.data)} statuses={TASK_STATUSES} error={byName.error} empty="No tasks yet." />
      <Section title="Task statistics">
        <ErrorNote error={stats.error} what="the task statistics" />
        {stats.data && <StatsTable stats={stats.data} />}
      </Section>
      <Section title="Queue diagnostics">
        <Diagnostics data={diagnostics.data} error={diagnostics.error} />
      </Section>
      <Section title="Status history">
        <ErrorNote error={history.error} what="the status history" />
        {history.data && <History entries={history.data.history} caption={`Status changes of ${name}, newest first`} />}
      </Section>
      <Section title="Tasks">
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <Choice label="Status" value={taskFilter.status} options={TASK_STATUSES} onChange={(status) => setTaskFilter({ ...taskFilter, status })} />
          <Choice label="Name" value={taskFilter.name} options={names} onChange={(name) => setTaskFilter({ ...taskFilter, name })} />
        </form>
        {filtered && canWrite.data === true && (
          <>
            <ActionButtons label="Actions on the tasks that match" actions={filteredActions(name, datasetId, taskFilter)} onDone={() => refresh(false, true)} />
            <ActionForm legend="Status of the tasks that match" action={setStatusAction(name, datasetId, taskFilter, newStatus)} onDone={() => refresh(false, true)}>
              <Choice label="New status" none="choose…" value={newStatus} options={TASK_STATUSES} onChange={setNewStatus} />
            </ActionForm>
          </>
        )}
        <ErrorNote error={tasks.error} what="the tasks" />
        <DataTable
          class="tasks"
          caption={`Tasks of ${name}`}
          columns={['Job.task', 'Name', 'Status', 'Failures', 'Status changed']}
          rows={rows.map((task) => ({
            key: task.task_id,
            cells: [
              `${String(task.job_index ?? '?')}.${String(task.task_index ?? '?')}`,
              <a href={hrefOf({ name: 'task', datasetId, taskId: task.task_id })}>{String(task.name ?? task.task_id)}</a>,
              <StatusBadge status={task.status} />,
              String(task.failures ?? 0),
              parseTime(task.status_changed) ? `${duration(now - parseTime(task.status_changed)!.getTime())} ago` : '—',
            ],
          }))}
        />
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
    <DataTable
      caption="Walltime of complete tasks per task name"
      columns={['Name', 'Complete', 'Average', 'Min', 'Max', 'Std dev', 'Total', 'Efficiency']}
      rowHeaders
      rows={entries.map(([name, s]) => ({
        key: name,
        cells: [name, formatNumber(s.count), hours(s.avg_hrs), hours(s.min_hrs), hours(s.max_hrs), hours(s.stddev_hrs), hours(s.total_hrs), s.efficiency === null ? '—' : `${(s.efficiency * 100).toFixed(1)}%`],
      }))}
    />
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

