/** Pieces the views share. Every text from the API is rendered as text (JSX children), never as HTML. */
import type { ComponentChildren } from 'preact'
import { useId, useRef } from 'preact/hooks'
import type { ApiError } from './api'
import { formatNumber, total, type Counts } from './data'

export function ErrorNote({ error, what }: { error: ApiError | undefined; what: string }) {
  if (!error) return null
  const reason =
    error.status === 403 ? 'this token may not see it'
    : error.message
  // A part the server does not have yet is no fault: said plainly, not as an alert.
  if (error.noRoute) return <p class="muted">This server does not have {what} yet.</p>
  return (
    <p class="note error" role="alert">
      Cannot show {what}: {reason}.
    </p>
  )
}

/** A titled region (found by its title, as assistive tools find it). */
export function Section({ title, children }: { title: string; children: ComponentChildren; id?: string }) {
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
                    {parts.map(([status, n], i) => (
                      <span key={status}>
                        {i > 0 && ', '}
                        {formatNumber(n)} {status}
                      </span>
                    ))}
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

/**
 * A button that asks first: a modal dialog (keyboard: Escape cancels,
 * focus starts on Cancel) names what will happen; only its confirm button acts.
 */
export function ConfirmButton({ label, question, disabled, onConfirm, danger }: { label: string; question: string; disabled?: boolean; onConfirm: () => void; danger?: boolean }) {
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
