/**
 * What request logging and metrics cost (issue budget: at most 5% of the
 * authenticated-lookup throughput): GET /tasks/<id> as in bench/lookup.ts,
 * against the same server with its request ids, JSON log lines (level info,
 * written to a pipe) and request metrics on, and with them off. A/B/A/B, medians.
 * Usage: bun bench/observability.ts [--seconds N] [--rounds N] [--quick]
 */
import { parseArgs } from 'node:util'
import { median, printResult, randomPathsScript, report, seed, spawnServer, tempDir, token, wrk } from './lib'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false } },
})
const seconds = values.quick ? 3 : Number(values.seconds)
const rounds = values.quick ? 1 : Number(values.rounds)
const { dir, cleanup } = tempDir('observability')
const db = `${dir}/iceprod.sqlite`
try {
  const { taskIds } = seed(db, { datasets: 10, jobsPerDataset: 100, tasksPerJob: values.quick ? 10 : 100 })
  const script = randomPathsScript(
    taskIds.filter((_, i) => i % 10 === 0).map((id) => `/tasks/${id}`),
    { Authorization: `Bearer ${token(db, 'system')}` },
  )
  const observed: number[] = []
  const unobserved: number[] = []
  for (let round = 0; round < rounds; round++) {
    for (const [observe, into] of [['yes', observed], ['no', unobserved]] as const) {
      const server = await spawnServer(['bun', 'bench/observed-server.ts', '--db', db, '--observe', observe])
      const r = wrk(server.url, { connections: 32, seconds, script })
      await server.stop()
      if (r.non2xx || r.errors) throw new Error(`observe=${observe}: ${r.non2xx} non-2xx, ${r.errors} socket errors`)
      into.push(r.requestsPerSec)
    }
  }
  const cost = 1 - median(observed) / median(unobserved)
  report('logging + metrics cost on GET /tasks/<id> (wrk -t1 -c32)', {
    'with logs and metrics req/s (median)': median(observed),
    'without req/s (median)': median(unobserved),
    'with runs': observed.map(Math.round).join(' '),
    'without runs': unobserved.map(Math.round).join(' '),
    'cost (target <= 5%)': `${(100 * cost).toFixed(1)}%`,
    result: cost <= 0.05 ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'observability cost',
    figure: `${(100 * cost).toFixed(1)}% (${Math.round(median(observed))} vs ${Math.round(median(unobserved))} req/s)`,
    goal: '<= 5% of lookup throughput',
    met: cost <= 0.05,
    baseline: `${Math.round(median(unobserved))} req/s without request logs and metrics`,
  })
} finally {
  cleanup()
}
