/**
 * Runs the HTTP server: first-start bootstrap, listening, and a graceful stop
 * on SIGTERM/SIGINT (stop accepting, let requests in flight finish, close the
 * database cleanly).
 */
import { createApp } from './app'
import type { Config } from './config'

export async function serve(config: Config): Promise<void> {
  const built = createApp(config)
  const { app, auth } = built
  if (built.created) {
    const token = await auth.bootstrapAdmin()
    process.stderr.write(
      `iceprod-rest: new database ${config.db}; admin token (user "admin"):\n${token}\n`,
    )
  }
  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    // One byte more than the limit so that the body parser, not Bun, answers 413 as JSON.
    maxRequestBodySize: config.maxBody + 1,
    fetch: (request) => app.handle(request),
  })
  process.stderr.write(`iceprod-rest: listening on http://${server.hostname}:${server.port}\n`)

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`iceprod-rest: ${signal}, finishing requests in flight\n`)
    await server.stop(false)
    built.close()
    process.stderr.write('iceprod-rest: stopped\n')
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}
