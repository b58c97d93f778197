/** One task: its document, its status history (API.md §7.1), its logs, and the actions on its job (§7.2). */
import { useRef, useState } from 'preact/hooks'
import { jobActions, useMayWrite } from '../actions'
import { enc, get, url, withQuery } from '../api'
import { ActionButtons, ErrorNote, History, JsonView, LiveBadge, Section, StatusBadge, type HistoryEntry } from '../components'
import { formatBytes, formatTime, parseTime, useLoad } from '../data'
import { useLive } from '../live'
import { hrefOf } from '../router'

interface LogEntry {
  log_id: string
  name?: string
  timestamp?: string
}

export function Task({ datasetId, taskId }: { datasetId: string; taskId: string }) {
  const d = enc(datasetId)
  const t = enc(taskId)
  const task = useLoad(() => get<Record<string, unknown>>(`datasets/${d}/tasks/${t}`), [datasetId, taskId])
  const history = useLoad(() => get<{ history: HistoryEntry[] }>(`datasets/${d}/tasks/${t}/history`), [datasetId, taskId])
  const logs = useLoad(
    () => get<{ logs: LogEntry[] }>(withQuery(`datasets/${d}/tasks/${t}/logs`, { keys: 'log_id|name|timestamp' })).catch((e) => (e.status === 404 ? { logs: [] } : Promise.reject(e))),
    [datasetId, taskId],
  )
  const canWrite = useMayWrite(datasetId)
  const refresh = () => {
    task.reload()
    history.reload()
    logs.reload()
  }
  const live = useLive(datasetId, (events) => {
    if (events.length === 0 || events.some((e) => e.task_id === taskId)) refresh()
  })
  const doc = task.data
  const jobId = typeof doc?.job_id === 'string' ? doc.job_id : undefined
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={hrefOf({ name: 'datasets' })}>Datasets</a> › <a href={hrefOf({ name: 'dataset', datasetId })}>Dataset</a> ›{' '}
        <span aria-current="page">{doc ? String(doc.name ?? taskId) : taskId}</span>
      </nav>
      <div class="title-row">
        <h1>Task {doc ? String(doc.name ?? '') : ''}</h1>
        {doc && <StatusBadge status={doc.status} />}
        <LiveBadge mode={live} />
      </div>
      <p class="muted small mono">{taskId}</p>
      <ErrorNote error={task.error} what="this task" />
      {canWrite.data === true && jobId && (
        <Section title="Actions on this task's job">
          <ActionButtons label="Actions on this task's job" actions={jobActions(`job ${String(doc?.job_index ?? jobId)}`, datasetId, jobId)} onDone={refresh} />
        </Section>
      )}
      <ErrorNote error={canWrite.error} what="whether this token may change this dataset" />
      <Section title="Logs">
        <ErrorNote error={logs.error} what="the logs" />
        {logs.data && <Logs datasetId={datasetId} logs={logs.data.logs} />}
      </Section>
      <Section title="History">
        {history.error ? <ErrorNote error={history.error} what="the history" /> : history.data && <History entries={history.data.history} caption="Status changes of this task, newest first" />}
      </Section>
      <Section title="Document">
        {doc && <JsonView value={doc} />}
      </Section>
    </main>
  )
}

/** A log's text, with its size in bytes and lines (counted once: a megabyte takes a while). */
interface LogContent {
  data: string
  bytes: number
  lines: number
}

/** The task's logs, newest first; one is shown at a time, read when first chosen (a log never changes, so one chosen again is not read again). */
function Logs({ datasetId, logs }: { datasetId: string; logs: LogEntry[] }) {
  const [chosen, setChosen] = useState<string | undefined>(logs[0]?.log_id)
  const read = useRef(new Map<string, Promise<LogContent>>()).current
  if (logs.length === 0) return <p class="muted">This task has no logs.</p>
  const current = logs.find((log) => log.log_id === chosen) ?? logs[0]!
  return (
    <>
      <div class="tabs" role="tablist" aria-label="Logs">
        {logs.map((log) => (
          <button
            key={log.log_id}
            type="button"
            role="tab"
            id={`tab-${log.log_id}`}
            aria-selected={log.log_id === current.log_id}
            aria-controls="log-panel"
            onClick={() => setChosen(log.log_id)}
          >
            {String(log.name ?? 'log')}
            {parseTime(log.timestamp) && <span class="muted small"> {formatTime(parseTime(log.timestamp)!)}</span>}
          </button>
        ))}
      </div>
      <div id="log-panel" role="tabpanel" aria-labelledby={`tab-${current.log_id}`}>
        <LogText key={current.log_id} datasetId={datasetId} log={current} read={read} />
      </div>
    </>
  )
}

const contentOf = (data: string): LogContent => ({ data, bytes: new TextEncoder().encode(data).length, lines: data.length === 0 ? 0 : data.split('\n').length })

/** One log; `read` holds the logs of this task read so far, by id (one that failed is read again next time). */
function LogText({ datasetId, log, read }: { datasetId: string; log: LogEntry; read: Map<string, Promise<LogContent>> }) {
  const text = useLoad(() => {
    let content = read.get(log.log_id)
    if (!content) {
      content = get<{ data?: string }>(`datasets/${enc(datasetId)}/logs/${enc(log.log_id)}`).then((l) => contentOf(String(l.data ?? '')))
      read.set(log.log_id, content)
      content.catch(() => read.delete(log.log_id))
    }
    return content
  }, [log.log_id])
  const [wrap, setWrap] = useState(false)
  const [download, setDownload] = useState<string | undefined>()
  if (text.error) return <ErrorNote error={text.error} what="this log" />
  if (text.data === undefined) return <p class="muted">Loading the log…</p>
  const { data, bytes, lines } = text.data
  return (
    <>
      <div class="log-tools">
        <span class="muted small">
          {formatBytes(bytes)}, {lines.toLocaleString('en-US')} lines
        </span>
        <label>
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.currentTarget.checked)} /> Wrap lines
        </label>
        {download ? (
          <a href={download} download={`${log.name ?? 'log'}-${log.log_id}.txt`}>
            Save the log
          </a>
        ) : (
          <button type="button" onClick={() => setDownload(URL.createObjectURL(new Blob([data], { type: 'text/plain' })))}>
            Prepare download
          </button>
        )}
        <a href={url(`datasets/${enc(datasetId)}/logs/${enc(log.log_id)}`)} class="visually-hidden">
          The log as JSON
        </a>
      </div>
      {/* One text node: the browser lays out a megabyte of text at once without any per-line elements. */}
      <pre class={wrap ? 'log wrap' : 'log'} tabIndex={0} aria-label={`Log ${String(log.name ?? '')}`}>
        {data}
      </pre>
    </>
  )
}
