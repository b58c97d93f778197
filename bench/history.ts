/**
 * What the status history costs (issue "Operator actions", point 3):
 * pilots claiming tasks (POST /task_actions/process, scheduler on) and
 * completing each with its instance_id, against the same server with and
 * without history entries (AppOptions.history; bench/history-server.ts),
 * both compiled with the flags of `bun run build`, each on its own copy of a
 * dataset of 100,000 queued tasks. Target: with history >= 0.90 x without.
 *
 * Both servers run at once, pinned to the same core, each loaded by its own
 * wrk -t1 -c16 on the other core (lib/shared-core.ts): the ratio of
 * the requests they answer is the inverse ratio of their costs per request.
 * The wrk script claims, and completes what it claimed, from one list of
 * claims shared by its connections. Afterwards each database is checked:
 * the claims answered are the tasks that left the queue, the history holds
 * two entries per completed task (one per claim still running) and none
 * without, and the history's bytes per entry on disk (dbstat) are reported.
 * Compiled without the checkpoint worker (a bench entry point cannot find
 * its bundled path), both servers checkpoint inline alike.
 * Usage: bun bench/history.ts [--quick] [--seconds N] [--rounds N] [--groups N]
 */
import { parseArgs } from 'node:util'
import { Database } from 'bun:sqlite'
import { compileLikeBuild } from './lib/binary'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, seedCached, tempDir } from './lib/seed'
import { spawnServer, stopTracked, token, tracked } from './lib/servers'
import { sharedCoreGroups, sharedCoreLines, sharedCoreRatio } from './lib/shared-core'
import { requireWrk } from './lib/wrk'

requireWrk()
const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, groups: { type: 'string', default: '4' } },
})
const quick = values.quick
const seconds = quick ? 2 : Number(values.seconds)
const rounds = quick ? 1 : Number(values.rounds)
const groups = quick ? 1 : Number(values.groups)
const TARGET = 0.9
const QUEUED = 100_000

// One dataset, 1,000 jobs of 100 queued tasks ({"cpu": 1, "memory": 1.5}).
const seeded = seedCached('history-queue-100k', { datasets: 1, jobsPerDataset: 1000, tasksPerJob: 100, status: () => 'queued' })
const bearer = token(seeded.path, 'pilot')
const { dir, cleanup } = tempDir('history')

const script = `wrk.headers["Authorization"] = "Bearer ${bearer}"
wrk.headers["Content-Type"] = "application/json"
local claims = {}
local claim
request = function()
  local n = #claims
  -- Formatted at the first request: wrk adds the Host header only once the script has loaded.
  if n == 0 then
    claim = claim or wrk.format("POST", "/task_actions/process", nil, '{"requirements":{"cpu":4,"memory":8}}')
    return claim
  end
  local c = claims[n]
  claims[n] = nil
  return wrk.format("POST", "/tasks/" .. c[1] .. "/task_actions/complete", nil, '{"instance_id":"' .. c[2] .. '"}')
end
response = function(status, headers, body)
  if status == 200 and string.find(body, '"status":"processing"', 1, true) then
    claims[#claims + 1] = { string.match(body, '"task_id":"(%x+)"'), string.match(body, '"instance_id":"(%x+)"') }
  end
end
`

interface Outcome {
  processing: number
  complete: number
  queued: number
  entries: number
  bytesPerEntry: number
}

function outcome(db: string): Outcome {
  const sqlite = new Database(db)
  try {
    sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    const count = (sql: string) => (sqlite.query(sql).get() as { n: number }).n
    const entries = count('SELECT count(*) AS n FROM status_history')
    const bytes = count("SELECT coalesce(sum(pgsize), 0) AS n FROM dbstat WHERE name IN ('status_history', 'status_history_subject')")
    return {
      processing: count("SELECT count(*) AS n FROM tasks WHERE status = 'processing'"),
      complete: count("SELECT count(*) AS n FROM tasks WHERE status = 'complete'"),
      queued: count('SELECT count(*) AS n FROM task_queue'),
      entries,
      bytesPerEntry: entries > 0 ? bytes / entries : 0,
    }
  } finally {
    sqlite.close()
  }
}

const cpu = cpuShare()
try {
  const server = compileLikeBuild(`${dir}/history-server`, ['bench/history-server.ts'])
  const dbs: { with: string; without: string }[] = []
  const start = (history: 'yes' | 'no', db: string) => tracked(spawnServer([server, '--db', db, '--history', history], { ICEPROD_SCHEDULER: 'on' }, { cpus: '1' }))
  const measured = await sharedCoreGroups(
    async (group) => {
      const groupDbs = { with: copyDatabase(seeded.path, dir, `with-${group}.sqlite`), without: copyDatabase(seeded.path, dir, `without-${group}.sqlite`) }
      dbs.push(groupDbs)
      return [await start('yes', groupDbs.with), await start('no', groupDbs.without)]
    },
    { groups, rounds, seconds, connections: 16, script, wrkCpus: '0' },
  )
  await stopTracked()
  printCpuShare(cpu.stop())

  const checked: Outcome[] = []
  for (const groupDbs of dbs) {
    const withHistory = outcome(groupDbs.with)
    const without = outcome(groupDbs.without)
    for (const [name, o] of [['with', withHistory], ['without', without]] as const) {
      if (o.processing + o.complete + o.queued !== QUEUED) throw new Error(`${name}: ${o.processing} processing + ${o.complete} complete + ${o.queued} queued != ${QUEUED}`)
    }
    // Each claim wrote one entry (queued → processing), each completion one more.
    if (withHistory.entries < withHistory.processing + 2 * withHistory.complete) throw new Error(`with history: ${withHistory.entries} entries for ${withHistory.complete} completions and ${withHistory.processing} claims running`)
    if (without.entries !== 0) throw new Error(`without history: ${without.entries} entries`)
    checked.push(withHistory)
  }
  const ratio = sharedCoreRatio(measured, 0, 1)
  const bytesPerEntry = median(checked.map((o) => o.bytesPerEntry))
  report(`claims and completions with the status history vs without (both servers on one core, wrk -t1 -c16 each; ${groups} pairs of processes)`, {
    ...sharedCoreLines(['with history', 'without'], measured, seconds, [[0, 1]]),
    'tasks completed (with history, per pair)': checked.map((o) => o.complete).join(' '),
    'history entries (per pair)': checked.map((o) => o.entries).join(' '),
    'bytes per entry on disk (median)': bytesPerEntry,
    'ratio (target >= 0.90)': ratio,
    result: ratio >= TARGET ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'history cost',
    figure: `${ratio.toFixed(3)} x without history; ${fmt(bytesPerEntry)} bytes per entry`,
    goal: `>= ${TARGET} x without, <= 100 bytes per entry`,
    met: ratio >= TARGET && bytesPerEntry <= 100,
    baseline: 'the same server without history entries, on the same core at the same time',
  })
} finally {
  await stopTracked()
  cleanup()
}
