/** Pieces the views share. Every text from the API is rendered as text (JSX children), never as HTML. */
import type { ComponentChildren } from 'preact'
import { useId, useRef, useState } from 'preact/hooks'
import type { ApiError } from './api'
import { duration, formatNumber, formatTime, parseTime, total, type Counts } from './data'
import type { LiveMode } from './live'

export function ErrorNote({ error, what }: { error: ApiError | undefined; what: string }) {
  if (!error) return null
  const reason = error.status === 403 ? 'this token may not see it' : error.message
  return (
    <p class="note error" role="alert">
      Cannot show {what}: {reason}.
    </p>
  )
}

/** A titled region (found by its title, as assistive tools find it). */
export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  const id = useId()
  return (
    <section aria-labelledby={id} class="card">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  )
}

export const StatusBadge = ({ status }: { status: unknown }) => <span class={`badge status-${String(status)}`}>{String(status ?? '—')}</span>

/** The share of `expected` that is complete, as a progress bar whose value is that percentage. */
export function Progress({ complete, expected, label }: { complete: number; expected: number; label: string }) {
  const percent = expected > 0 ? Math.min(100, (complete / expected) * 100) : 0
  const shown = Math.floor(percent * 10) / 10
  return (
    <span class="progress">
      <progress max={100} value={shown} aria-label={label} aria-valuetext={`${shown}% (${formatNumber(complete)} of ${formatNumber(expected)})`} />
      <span class="progress-text">
        {shown}% <span class="muted">({formatNumber(complete)} / {formatNumber(expected)})</span>
      </span>
    </span>
  )
}

/**
 * Counts by status as one stacked bar per row (a chart), each row also
 * written out as text for screen readers and narrow screens.
 */
export function StatusBars({ rows, statuses, label }: { rows: [string, Counts][]; statuses: readonly string[]; label: string }) {
  const widest = Math.max(1, ...rows.map(([, counts]) => total(counts)))
  const seen = statuses.filter((status) => rows.some(([, counts]) => counts[status]))
  return (
    <figure class="chart" aria-label={label}>
      <ul class="legend" aria-hidden="true">
        {seen.map((status) => (
          <li key={status}>
            <span class={`swatch status-${status}`} /> {status}
          </li>
        ))}
      </ul>
      <table class="bars">
        <caption class="visually-hidden">{label}</caption>
        <tbody>
          {rows.map(([name, counts]) => {
            const sum = total(counts)
            const parts = Object.entries(counts).filter(([, n]) => n > 0)
            return (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td class="bar-cell">
                  <svg class="bar" viewBox={`0 0 ${widest} 10`} preserveAspectRatio="none" role="img" aria-label={parts.map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}>
                    {(() => {
                      let x = 0
                      return parts.map(([status, n]) => {
                        const rect = <rect key={status} class={`fill-${status}`} x={x} y={0} width={n} height={10} />
                        x += n
                        return rect
                      })
                    })()}
                  </svg>
                  <span class="bar-text">
                    {formatNumber(sum)}
                    {parts.length > 0 && ': '}
                    <CountsText counts={counts} empty="" />
                  </span>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </figure>
  )
}

/** Counts by status as text (`2 waiting, 1 failed`), those above zero, in the order given. */
export function CountsText({ counts, empty = 'no tasks' }: { counts: Counts; empty?: string }) {
  const entries = Object.entries(counts).filter(([, n]) => n > 0)
  if (entries.length === 0) return empty ? <span class="muted">{empty}</span> : null
  return (
    <span>
      {entries.map(([status, n], i) => (
        <span key={status}>
          {i > 0 && ', '}
          {formatNumber(n)} {status}
        </span>
      ))}
    </span>
  )
}

/** A titled chart of counts by status, one bar per row (`rows` undefined while loading). */
export function CountsChart({ title, rows, statuses, error, empty }: { title: string; rows: [string, Counts][] | undefined; statuses: readonly string[]; error?: ApiError; empty: string }) {
  return (
    <Section title={title}>
      <ErrorNote error={error} what={title.toLowerCase()} />
      {rows && (rows.length > 0 ? <StatusBars rows={rows} statuses={statuses} label={title} /> : <p class="muted">{empty}</p>)}
    </Section>
  )
}

/**
 * A table of rows, scrolled sideways on a narrow screen; with `rowHeaders`
 * each row's first cell names it (as assistive tools and tests find rows).
 */
export function DataTable({ caption, columns, rows, rowHeaders, class: className }: { caption: string; columns: string[]; rows: { key: string; cells: ComponentChildren[] }[]; rowHeaders?: boolean; class?: string }) {
  return (
    <div class="table-scroll">
      <table class={className}>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map(({ key, cells }) => (
            <tr key={key}>
              {cells.map((cell, i) =>
                i === 0 && rowHeaders ? (
                  <th key={i} scope="row">
                    {cell}
                  </th>
                ) : (
                  <td key={i}>{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** A labelled choice of one of `options`, or of none (the value '', shown as `none`: all of them, for a filter). */
export function Choice({ label, value, options, onChange, none = 'all' }: { label: string; value: string; options: readonly string[]; onChange: (value: string) => void; none?: string }) {
  return (
    <label>
      {label}{' '}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{none}</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  )
}

/** One status change of a resource (API.md §7.1). */
export interface HistoryEntry {
  time: string
  from: string
  to: string
  by: { username?: string; role?: string } | string
  reason?: string
}

/** Status changes, newest first. */
export function History({ entries, caption }: { entries: HistoryEntry[]; caption: string }) {
  if (entries.length === 0) return <p class="muted">No status change yet.</p>
  return (
    <DataTable
      caption={caption}
      columns={['Time', 'From', 'To', 'By', 'Reason']}
      rows={[...entries].reverse().map((entry, i) => ({
        key: String(i),
        cells: [
          parseTime(entry.time) ? formatTime(parseTime(entry.time)!) : String(entry.time),
          <StatusBadge status={entry.from} />,
          <StatusBadge status={entry.to} />,
          typeof entry.by === 'string' ? entry.by : `${entry.by?.username ?? '?'} (${entry.by?.role ?? '?'})`,
          String(entry.reason ?? ''),
        ],
      }))}
    />
  )
}

export function Eta({ eta, now }: { eta: string | null; now: number }) {
  const date = parseTime(eta)
  if (!date) return <span class="muted">none</span>
  return <time dateTime={date.toISOString()}>in {duration(date.getTime() - now)}</time>
}

export function LiveBadge({ mode }: { mode: LiveMode }) {
  const text = mode === 'live' ? 'live' : mode === 'connecting' ? 'connecting…' : 'not updating'
  return <span class={`live live-${mode}`}>{text}</span>
}

/**
 * An operator action (API.md §7.2): what its button says, what it asks first,
 * and what it does (its outcome, said after it); `disabled` while the fields it
 * needs are not filled in.
 */
export interface Action {
  label: 'Suspend' | 'Resume' | 'Reset' | 'Hard reset' | 'Truncate' | 'Set status' | 'Set requirement' | 'Set priority'
  question: string
  run: () => Promise<string>
  danger?: boolean
  disabled?: boolean
}

/** The buttons of `actions`, each asking first; the outcome of the last one run is said below them. */
export function ActionButtons({ actions, label, onDone }: { actions: Action[]; label: string; onDone: () => void }) {
  const [outcome, setOutcome] = useState<{ text: string; error?: boolean } | undefined>()
  const run = async (action: Action) => {
    setOutcome({ text: `${action.label}…` })
    try {
      setOutcome({ text: `${action.label}: ${await action.run()}` })
    } catch (error) {
      setOutcome({ text: `${action.label} failed: ${(error as Error).message}.`, error: true })
    }
    onDone()
  }
  return (
    <>
      <div class="buttons" role="group" aria-label={label}>
        {actions.map((action) => (
          <ConfirmButton key={action.label} label={action.label} question={action.question} danger={action.danger} disabled={action.disabled} onConfirm={() => void run(action)} />
        ))}
      </div>
      {outcome && (
        <p class={outcome.error ? 'note error' : 'note'} role="status">
          {outcome.text}
        </p>
      )}
    </>
  )
}

/** Fields under a legend and the one action they fill in (a button that asks first). */
export function ActionForm({ legend, action, onDone, children }: { legend: string; action: Action; onDone: () => void; children: ComponentChildren }) {
  return (
    <fieldset class="action-form">
      <legend>{legend}</legend>
      <div class="filters">{children}</div>
      <ActionButtons label={legend} actions={[action]} onDone={onDone} />
    </fieldset>
  )
}

/**
 * A button that asks first: a modal dialog (keyboard: Escape cancels,
 * focus starts on Cancel) names what will happen; only its confirm button acts.
 */
function ConfirmButton({ label, question, onConfirm, danger, disabled }: { label: string; question: string; onConfirm: () => void; danger?: boolean; disabled?: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null)
  const questionId = useId()
  return (
    <>
      <button type="button" class={danger ? 'danger' : undefined} disabled={disabled} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={questionId}>
        <form
          method="dialog"
          onSubmit={(event) => {
            event.preventDefault()
            dialog.current?.close()
            onConfirm()
          }}
        >
          <p id={questionId}>{question}</p>
          <div class="buttons">
            <button type="button" autofocus onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" class={danger ? 'danger' : 'primary'}>
              {label}
            </button>
          </div>
        </form>
      </dialog>
    </>
  )
}

/** A JSON document, pretty-printed, as text. */
export const JsonView = ({ value }: { value: unknown }) => <pre class="json">{JSON.stringify(value, null, 2)}</pre>
