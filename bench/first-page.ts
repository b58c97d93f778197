/**
 * Target — the dashboard's first page of a big dataset: opening a dataset of
 * 1M tasks in the dashboard shows its first page of tasks, with the status
 * counts and progress, in <= 1 s; and a page of its tasks (`limit=50`,
 * `after`) costs the same at any depth.
 *
 * The view's requests (browser/views/Dataset.tsx) are sent as the page sends
 * them: the first ones at once, timed to the last answer (the first page
 * shown); then the two that read every task (counts by name, statistics),
 * timed to the whole view. The task pages alone are timed at the start, the
 * middle and the end of the dataset. The baseline is
 * bench/baseline-server.ts answering the same pages the straightforward way,
 * with LIMIT/OFFSET, in the same run. A/B alternating, medians.
 * Usage: bun bench/first-page.ts [--quick] [--samples N]
 */
import { parseArgs } from 'node:util'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, tempDir } from './lib/seed'
import { startBaseline, startProject, stopTracked, token, tracked } from './lib/servers'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, samples: { type: 'string' } } })
const quick = values.quick
const samples = Number(values.samples ?? (quick ? 5 : 15))
const PAGE = 50
const TARGET_VIEW_MS = 1000

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const authorization = `Bearer ${token(seeded.path, 'admin')}`
const { dir, cleanup } = tempDir('first-page')

async function timed(url: string): Promise<number> {
  const started = performance.now()
  const response = await fetch(url, { headers: { authorization } })
  await response.arrayBuffer()
  if (response.status >= 500) throw new Error(`${url}: ${response.status}`)
  return performance.now() - started
}

/** What the dataset view asks for when it opens (404s included: routes this server may not have). */
const FIRST_REQUESTS = [
  `/datasets/${datasetId}`,
  `/datasets/${datasetId}/progress`,
  `/datasets/${datasetId}/task_counts/status`,
  `/datasets/${datasetId}/job_counts/status`,
  `/datasets/${datasetId}/queue_diagnostics`,
  `/auths/${datasetId}/actions/write`,
  `/datasets/${datasetId}/tasks?limit=${PAGE}&keys=task_id|name|status|job_index|task_index|failures|status_changed`,
]
/** What it asks for once the first page is there: these read every task of the dataset. */
const SCANS = [`/datasets/${datasetId}/task_counts/name_status`, `/datasets/${datasetId}/task_stats`]

const all = (base: string, paths: string[]) => Promise.all(paths.map((path) => timed(base + path)))

async function viewOnce(base: string): Promise<{ firstPageMs: number; wholeMs: number }> {
  const started = performance.now()
  await all(base, FIRST_REQUESTS)
  const firstPageMs = performance.now() - started
  await all(base, SCANS)
  return { firstPageMs, wholeMs: performance.now() - started }
}

const cpu = cpuShare()
try {
  const db = copyDatabase(seeded.path, dir)
  const [project, baseline] = [await tracked(startProject(db)), await tracked(startBaseline(db))]
  const depths = [0, Math.floor(seeded.taskIds.length / 2), seeded.taskIds.length - PAGE]
  const pages: Record<string, { project: number[]; baseline: number[] }> = {}
  for (const depth of depths) {
    const after = depth === 0 ? '' : `&after=${seeded.taskIds[depth - 1]}`
    const runs = (pages[depth] = { project: [] as number[], baseline: [] as number[] })
    for (let i = 0; i < samples + 1; i++) {
      const p = await timed(`${project.url}/datasets/${datasetId}/tasks?limit=${PAGE}${after}`)
      const b = await timed(`${baseline.url}/datasets/${datasetId}/tasks?limit=${PAGE}&offset=${depth}`)
      // The first of each is a warm-up (cold page cache, prepared statements).
      if (i > 0) runs.project.push(p), runs.baseline.push(b)
    }
  }
  const views: { firstPageMs: number; wholeMs: number }[] = []
  // The first open includes building the view's prepared statements; it counts (a user opening it once sees it).
  for (let i = 0; i < Math.max(3, Math.ceil(samples / 3)); i++) views.push(await viewOnce(project.url))
  printCpuShare(cpu.stop())
  const lines: Record<string, string | number> = {}
  for (const depth of depths) {
    const { project: p, baseline: b } = pages[depth]!
    lines[`page at task ${depth}: project / baseline ms`] = `${fmt(median(p))} / ${fmt(median(b))} (ratio ${fmt(median(p) / median(b))})`
  }
  const worstFirst = Math.max(...views.map((v) => v.firstPageMs))
  lines['first page shown: median, worst ms'] = `${fmt(median(views.map((v) => v.firstPageMs)))}, ${fmt(worstFirst)}`
  lines['whole view (with the scans): median, worst ms'] = `${fmt(median(views.map((v) => v.wholeMs)))}, ${fmt(Math.max(...views.map((v) => v.wholeMs)))}`
  for (const path of SCANS) {
    const alone: number[] = []
    for (let i = 0; i < 3; i++) alone.push(await timed(project.url + path))
    lines[`${path.replace(datasetId, '<d>')} alone ms`] = fmt(median(alone))
  }
  report(`dashboard first page (dataset of ${seeded.taskIds.length} tasks, ${PAGE} a page)`, lines)
  const deepest = pages[depths[depths.length - 1]!]!
  printResult({
    target: 'dashboard first page',
    figure: `${fmt(worstFirst)} ms (worst of ${views.length}), deepest page ${fmt(median(deepest.project))} ms`,
    goal: `<= ${TARGET_VIEW_MS} ms`,
    met: worstFirst <= TARGET_VIEW_MS,
    baseline: `deepest page ${fmt(median(deepest.baseline))} ms (LIMIT/OFFSET)`,
  })
} finally {
  await stopTracked()
  cleanup()
}
