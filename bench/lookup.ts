/**
 * Target 1 — authenticated lookup: GET /tasks/<task_id> with a valid token,
 * random ids over 100k tasks, wrk -t1 -c32, against a raw Bun.serve +
 * bun:sqlite baseline serving the same stored JSON. A/B/A/B, medians.
 * Usage: bun bench/lookup.ts [--seconds N]
 */
import { parseArgs } from 'node:util'
import { BENCH_SECRET, median, randomPathsScript, report, seed, spawnServer, startProject, tempDir, token, wrk } from './lib'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' } } })
const seconds = Number(values.seconds)
const { dir, cleanup } = tempDir('lookup')
const db = `${dir}/iceprod.sqlite`
try {
  const { taskIds } = seed(db, { datasets: 10, jobsPerDataset: 100, tasksPerJob: 100 })
  const sample = taskIds.filter((_, i) => i % 10 === 0) // 10k random targets spread over all 100k
  const bearer = token(db, 'system')
  const script = randomPathsScript(sample.map((id) => `/tasks/${id}`), { Authorization: `Bearer ${bearer}` })
  const project: number[] = []
  const baseline: number[] = []
  for (let round = 0; round < Number(values.rounds); round++) {
    const a = await startProject(db)
    const ra = wrk(a.url, { connections: 32, seconds, script })
    await a.stop()
    if (ra.non2xx || ra.errors) throw new Error(`project: ${ra.non2xx} non-2xx, ${ra.errors} socket errors`)
    project.push(ra.requestsPerSec)
    const b = await spawnServer(['bun', 'bench/baseline-lookup.ts', '--db', db], { ICEPROD_JWT_SECRET: BENCH_SECRET })
    const rb = wrk(b.url, { connections: 32, seconds, script })
    await b.stop()
    if (rb.non2xx || rb.errors) throw new Error(`baseline: ${rb.non2xx} non-2xx, ${rb.errors} socket errors`)
    baseline.push(rb.requestsPerSec)
  }
  const ratio = median(project) / median(baseline)
  report('authenticated lookup GET /tasks/<id> (100k tasks, wrk -t1 -c32)', {
    'project req/s (median)': median(project),
    'baseline req/s (median)': median(baseline),
    'project runs': project.map((x) => Math.round(x)).join(' '),
    'baseline runs': baseline.map((x) => Math.round(x)).join(' '),
    'ratio (target >= 0.80)': ratio,
    result: ratio >= 0.8 ? 'MET' : 'NOT MET',
  })
} finally {
  cleanup()
}
