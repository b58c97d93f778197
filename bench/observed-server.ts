/**
 * The project's server with its request observability (request ids, log lines,
 * request metrics) on or off, for bench/observability.ts. Otherwise the same
 * server `iceprod-rest serve` runs.
 * Usage: bun bench/observed-server.ts --db FILE --port N --observe yes|no
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config'
import { startServer } from '../src/server'

const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string' }, observe: { type: 'string' }, 'log-level': { type: 'string', default: 'info' } } })
const running = await startServer(loadConfig({ db: values.db, port: values.port, logLevel: values['log-level'] as 'info' }), {
  observe: values.observe !== 'no',
})
process.on('SIGTERM', async () => {
  await running.stop()
  process.exit(0)
})
