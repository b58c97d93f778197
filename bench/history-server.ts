/**
 * The project's server with its status history written or not (AppOptions
 * `history`), for bench/history.ts; otherwise the same server `iceprod-rest
 * serve` runs. bench/history.ts compiles it with the flags of `bun run build`.
 * Usage: history-server --db FILE --port N --history yes|no
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config'
import { startServer } from '../src/server'

const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string' }, history: { type: 'string' } } })
// No top-level await: `bun build --bytecode` refuses it.
void startServer(loadConfig({ db: values.db, port: values.port, logLevel: 'error' }), { history: values.history !== 'no' }).then((running) =>
  process.on('SIGTERM', async () => {
    await running.stop()
    process.exit(0)
  }),
)
