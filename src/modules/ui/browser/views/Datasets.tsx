/** The datasets the token may see: status, progress, counts, ETA; filtered by status and searched by text. */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { get, withQuery } from '../api'
import { Choice, CountsText, ErrorNote, Eta, LiveBadge, Progress, StatusBadge } from '../components'
import { DATASET_STATUSES, formatNumber, useLoad, useNow } from '../data'
import { useLive, type StatusEvent } from '../live'
import { progressOf, type DatasetDoc, type DatasetProgress } from '../progress'
import { hrefOf } from '../router'

const PAGE = 25
const KEYS = 'dataset|description|status|username|group|priority'

export function Datasets() {
  const [status, setStatus] = useState('')
  const [search, setSearch] = useState('')
  const [shown, setShown] = useState(PAGE)
  const datasets = useLoad(() => get<Record<string, DatasetDoc>>(withQuery('datasets', { status: status || undefined, keys: KEYS })), [status])

  const matching = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean)
    const all = Object.values(datasets.data ?? {}).sort((a, b) => (b.dataset ?? 0) - (a.dataset ?? 0))
    if (words.length === 0) return all
    return all.filter((d) => {
      const text = [d.dataset, d.dataset_id, d.description, d.username, d.group, d.status].join(' ').toLowerCase()
      return words.every((word) => text.includes(word))
    })
  }, [datasets.data, search])
  const visible = matching.slice(0, shown)

  // Progress of the visible datasets, refreshed on their status changes.
  const [progress, setProgress] = useState<Record<string, DatasetProgress | Error>>({})
  const refresh = (ids: string[]) => {
    for (const dataset of visible.filter((d) => ids.includes(d.dataset_id))) {
      progressOf(dataset.dataset_id).then(
        (p) => setProgress((all) => ({ ...all, [dataset.dataset_id]: p })),
        (e: Error) => setProgress((all) => ({ ...all, [dataset.dataset_id]: e })),
      )
    }
  }
  const visibleIds = visible.map((d) => d.dataset_id).join(',')
  useEffect(() => refresh(visible.map((d) => d.dataset_id).filter((id) => !(id in progress))), [visibleIds])
  const live = useLive(null, (events: StatusEvent[]) => {
    const named = events.map((e) => e.dataset_id).filter((id): id is string => !!id)
    // Back after a lost stream, or a dataset's own status change: read the list again too.
    if (events.length === 0 || events.some((e) => e.task_id === null && e.job_id === null)) datasets.reload()
    refresh(events.length === 0 ? visible.map((d) => d.dataset_id) : [...new Set(named)])
  })
  const now = useNow()

  return (
    <main id="main">
      <div class="title-row">
        <h1>Datasets</h1>
        <LiveBadge mode={live} />
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Choice label="Status" value={status} options={DATASET_STATUSES} onChange={setStatus} />
        <label>
          Search{' '}
          <input type="search" value={search} placeholder="number, description, user, group" onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
      </form>
      <ErrorNote error={datasets.error} what="the datasets" />
      {datasets.data && (
        <p class="muted" role="status">
          {matching.length === 0 ? 'No dataset matches.' : `${formatNumber(matching.length)} dataset${matching.length === 1 ? '' : 's'}`}
        </p>
      )}
      <ul class="dataset-list">
        {visible.map((dataset) => (
          <DatasetRow key={dataset.dataset_id} dataset={dataset} progress={progress[dataset.dataset_id]} now={now} />
        ))}
      </ul>
      {matching.length > shown && (
        <button type="button" onClick={() => setShown(shown + PAGE)}>
          Show {Math.min(PAGE, matching.length - shown)} more
        </button>
      )}
    </main>
  )
}

function DatasetRow({ dataset, progress, now }: { dataset: DatasetDoc; progress: DatasetProgress | Error | undefined; now: number }) {
  const name = dataset.dataset !== undefined ? `Dataset ${dataset.dataset}` : `Dataset ${dataset.dataset_id}`
  return (
    <li class="card dataset">
      <div class="dataset-head">
        <a href={hrefOf({ name: 'dataset', datasetId: dataset.dataset_id })}>{name}</a>
        <StatusBadge status={dataset.status} />
      </div>
      <p class="description">{String(dataset.description ?? '')}</p>
      {progress instanceof Error ? (
        <p class="note error">Progress unavailable: {progress.message}</p>
      ) : progress ? (
        <>
          <Progress complete={progress.tasks.complete ?? 0} expected={progress.tasks_expected} label={`Progress of ${name}`} />
          <p class="counts">
            <CountsText counts={progress.tasks} /> · ETA <Eta eta={progress.eta} now={now} />
          </p>
        </>
      ) : (
        <p class="muted">Loading progress…</p>
      )}
      <p class="muted small">
        {[dataset.username && `by ${dataset.username}`, dataset.group, dataset.priority ? `priority ${dataset.priority}` : ''].filter(Boolean).join(' · ')}
      </p>
    </li>
  )
}
