/** Grids and their pilots: how many are active per grid, and how long since each last reported. */
import { get, withQuery } from '../api'
import { DataTable, ErrorNote, LiveBadge, Section } from '../components'
import { duration, formatNumber, parseTime, useLoad, useNow } from '../data'
import { useLive } from '../live'

interface Grid {
  grid_id: string
  host?: string
  version?: string
  last_update?: string
  queues?: Record<string, unknown>
}

interface Pilot {
  pilot_id: string
  grid_id?: string
  host?: string
  queue_host?: string
  tasks?: string[]
  last_update?: string
  resources?: Record<string, unknown>
}

export function Grids() {
  const grids = useLoad(() => get<Record<string, Grid>>('grids'), [])
  const pilots = useLoad(() => get<Record<string, Pilot>>(withQuery('pilots', { keys: 'grid_id|host|queue_host|tasks|last_update|resources' })), [])
  const live = useLive(null, (events) => {
    // Pilots and grids are not in the event stream: a refresh follows task changes (pilots take and finish tasks) or a lost stream.
    if (events.length === 0 || events.some((e) => e.task_id)) {
      grids.reload()
      pilots.reload()
    }
  })
  const now = useNow(5000)
  const byGrid = new Map<string, Pilot[]>()
  for (const pilot of Object.values(pilots.data ?? {})) {
    const key = pilot.grid_id ?? ''
    byGrid.set(key, [...(byGrid.get(key) ?? []), pilot])
  }
  const gridList = Object.values(grids.data ?? {})
  const ungrouped = [...byGrid.keys()].filter((key) => !grids.data?.[key])
  const age = (value: unknown) => {
    const date = parseTime(value)
    return date ? `${duration(now - date.getTime())} ago` : '—'
  }
  return (
    <main id="main">
      <div class="title-row">
        <h1>Grids and pilots</h1>
        <LiveBadge mode={live} />
      </div>
      <ErrorNote error={grids.error} what="the grids" />
      <ErrorNote error={pilots.error} what="the pilots" />
      {grids.data && gridList.length === 0 && <p class="muted">No grid has registered.</p>}
      {[...gridList.map((grid) => ({ key: grid.grid_id, grid })), ...ungrouped.map((key) => ({ key, grid: undefined }))].map(({ key, grid }) => {
        const list = byGrid.get(key) ?? []
        const busy = list.filter((p) => (p.tasks ?? []).length > 0).length
        const newest = list.map((p) => parseTime(p.last_update)?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0)
        const title = grid ? `${grid.host ?? key}` : key ? `Grid ${key} (not registered)` : 'Pilots without a grid'
        return (
          <Section key={key || '-'} title={title}>
            <p>
              <strong>{formatNumber(list.length)}</strong> active pilot{list.length === 1 ? '' : 's'}, {formatNumber(busy)} running tasks
              {newest > 0 && <> · newest update {duration(now - newest)} ago</>}
              {grid && <> · grid updated {age(grid.last_update)}{grid.version ? ` · version ${grid.version}` : ''}</>}
            </p>
            {list.length > 0 && (
              <DataTable
                caption={`Pilots of ${title}`}
                columns={['Pilot', 'Host', 'Tasks', 'Last update']}
                rows={list.map((pilot) => ({
                  key: pilot.pilot_id,
                  cells: [<span class="mono">{pilot.pilot_id}</span>, String(pilot.host || pilot.queue_host || '—'), formatNumber((pilot.tasks ?? []).length), age(pilot.last_update)],
                }))}
              />
            )}
          </Section>
        )
      })}
    </main>
  )
}
