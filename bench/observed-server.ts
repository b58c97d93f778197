/**
 * The project's server with its request observability (request ids, log lines,
 * request metrics) on or off, for bench/observability.ts. Otherwise the same
 * server `iceprod-rest serve` runs. bench/observability.ts compiles it with
 * the flags of `bun run build`, so that it measures what the executable runs.
 * Usage: bun bench/observed-server.ts --db FILE --port N --observe yes|no
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config'
import { startServer } from '../src/server'

const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string' }, observe: { type: 'string' }, 'log-level': { type: 'string', default: 'info' } } })
// No top-level await: `bun build --bytecode` refuses it.
void startServer(loadConfig({ db: values.db, port: values.port, logLevel: values['log-level'] as 'info' }), {
  observe: values.observe !== 'no',
}).then((running) =>
  process.on('SIGTERM', async () => {
    await running.stop()
    process.exit(0)
  }),
)
