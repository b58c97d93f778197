/**
 * Every view has its own address under `<root>ui/`; links change the address
 * with the History API, and reloading or opening an address shows its view.
 */
import { useEffect, useState } from 'preact/hooks'
import { ROOT } from './api'

export type View =
  | { name: 'datasets' }
  | { name: 'dataset'; datasetId: string }
  | { name: 'task'; datasetId: string; taskId: string }
  | { name: 'grids' }
  | { name: 'missing' }

const UI = new URL('ui/', ROOT).pathname
const ID = '([A-Za-z0-9_]+)'

export function viewOf(pathname: string): View {
  if (!pathname.startsWith(UI)) return { name: 'missing' }
  const rest = pathname.slice(UI.length)
  let match: RegExpMatchArray | null
  if (rest === '') return { name: 'datasets' }
  if (rest === 'grids') return { name: 'grids' }
  if ((match = rest.match(new RegExp(`^datasets/${ID}$`)))) return { name: 'dataset', datasetId: match[1]! }
  if ((match = rest.match(new RegExp(`^datasets/${ID}/tasks/${ID}$`)))) return { name: 'task', datasetId: match[1]!, taskId: match[2]! }
  return { name: 'missing' }
}

export function hrefOf(view: View): string {
  switch (view.name) {
    case 'datasets':
      return UI
    case 'grids':
      return `${UI}grids`
    case 'dataset':
      return `${UI}datasets/${view.datasetId}`
    case 'task':
      return `${UI}datasets/${view.datasetId}/tasks/${view.taskId}`
    default:
      return UI
  }
}

const listeners = new Set<() => void>()
addEventListener('popstate', () => listeners.forEach((listener) => listener()))

export function navigate(href: string) {
  if (href === location.pathname + location.search) return
  history.pushState(null, '', href)
  listeners.forEach((listener) => listener())
  scrollTo(0, 0)
}

/** The view of the current address, following navigation. */
export function useView(): View {
  const [view, setView] = useState(() => viewOf(location.pathname))
  useEffect(() => {
    const update = () => setView(viewOf(location.pathname))
    listeners.add(update)
    return () => void listeners.delete(update)
  }, [])
  return view
}

/** Follows a plain left click on an in-page link without reloading; other clicks (new tab...) as the browser does. */
export function followLink(event: MouseEvent) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const anchor = (event.target as Element).closest('a')
  if (!anchor || anchor.target || anchor.origin !== location.origin || !anchor.pathname.startsWith(UI)) return
  event.preventDefault()
  navigate(anchor.pathname + anchor.search)
}
