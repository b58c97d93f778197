/**
 * Runs the HTTP server: first-start bootstrap, listening, and a graceful stop
 * on SIGTERM/SIGINT (stop accepting, let requests in flight finish, close the
 * database cleanly).
 */
import { createApp, type AppOptions } from './app'
import type { Config } from './config'
import { deferInlineCheckpoints, inlineCheckpoints, startBackgroundCheckpoints, walSize } from './db'

export interface RunningServer {
  /** The address actually listened on (port 0 picks a free port). */
  url: string
  /** Stops accepting, lets requests in flight finish, flushes the log and closes the database. */
  stop(): Promise<void>
}

/** The server could not listen: the port is taken, or the address is not this host's. */
export class ListenError extends Error {
  constructor(config: Config, cause: unknown) {
    const code = (cause as { code?: string } | undefined)?.code
    const where = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`
    super(
      code === 'EADDRINUSE' ? `cannot listen on ${where}: the port is already in use by another process`
      : code === 'EACCES' ? `cannot listen on ${where}: permission denied`
      : code === 'EADDRNOTAVAIL' ? `cannot listen on ${where}: the address is not one of this host's`
      : `cannot listen on ${where}: ${(cause as Error)?.message ?? String(cause)}`,
    )
  }
}

/** How often a server that has not written yet looks whether it has. */
const FIRST_WRITE_POLL_MS = 100

/**
 * Listens on the configured address with the server's own options and closes
 * again at once: a start refused for its port is refused before the database
 * is opened, so that a second server started by mistake beside a running one
 * (a newer version, say) never migrates the file under it. The listen after
 * the app is built still catches a port taken in between.
 */
function refuseTakenPort(config: Config): void {
  if (config.port === 0) return
  try {
    Bun.serve({ hostname: config.host, port: config.port, reusePort: false, fetch: () => new Response(null, { status: 503 }) }).stop(true)
  } catch (error) {
    throw new ListenError(config, error)
  }
}

/** Builds the app and listens; the caller decides when to stop. */
export async function startServer(config: Config, options: AppOptions = {}): Promise<RunningServer> {
  refuseTakenPort(config)
  const built = createApp(config, options)
  const { app, minting } = built
  // Elysia's listen hands its routes to Bun's native router, which dispatches
  // straight to each compiled route handler.
  try {
    app.listen({
      hostname: config.host,
      port: config.port,
      // Elysia asks for SO_REUSEPORT, with which a second server on the same
      // port starts and the two split the requests between two databases.
      reusePort: false,
      // The body parser enforces ICEPROD_MAX_BODY itself, before reading a declared
      // length and while reading a chunked one, and answers 413 as JSON; Bun's own
      // limit (an empty 413) is lifted so that it never answers first.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    })
  } catch (error) {
    built.close()
    throw new ListenError(config, error)
  }
  const server = app.server!
  // The first start (of a new database, or of one only migrated so far) prints an
  // admin token, once the port is ours: a start that fails never prints one.
  const firstToken = await minting.bootstrapAdmin()
  if (firstToken) {
    // Printed as is rather than logged: the request log never carries tokens.
    process.stderr.write(`iceprod-rest: new database ${config.db}; admin token (user "admin"):\n${firstToken}\n`)
  }
  // The checkpoint worker starts once the write-ahead log has something in it,
  // within a tenth of a second of the first write (a stat of the WAL file each
  // time): it adds nothing to start-up, and a server that only reads never pays
  // for the worker's memory. Until then SQLite checkpoints inline only at the
  // backstop: at its default of every 4 MiB of WAL, a busy first moment would
  // put an fsync on the request path again and again; a whole second without
  // checkpoints let a stream of claims grow the WAL past 100 MiB first. If
  // the worker cannot start, inline checkpoints as usual.
  deferInlineCheckpoints(built.ctx.sqlite)
  let checkpoints: Promise<() => Promise<void>> | undefined
  const firstWritePoll = setInterval(() => {
    if (walSize(config.db) === 0) return
    clearInterval(firstWritePoll)
    checkpoints = startBackgroundCheckpoints(built.ctx.sqlite, config.db).then(
      (stop) => {
        built.log.info('background checkpoints started')
        return stop
      },
      (error) => {
        built.log.warn({ err: error }, 'background checkpoints unavailable; checkpointing inline')
        inlineCheckpoints(built.ctx.sqlite)
        return async () => {}
      },
    )
  }, FIRST_WRITE_POLL_MS)
  firstWritePoll.unref()
  // The app asks for a client's address only when it needs one (GET /metrics).
  built.clientAddresses.use((request) => server.requestIP(request)?.address)
  const url = `http://${server.hostname?.includes(':') ? `[${server.hostname}]` : server.hostname}:${server.port}`
  return {
    url,
    async stop() {
      // Event streams never end by themselves: end them, so that the requests in flight can finish.
      built.events.close()
      await server.stop(false)
      await built.flushLogs()
      clearInterval(firstWritePoll)
      if (checkpoints) await (await checkpoints)()
      built.close()
    },
  }
}

export async function serve(config: Config): Promise<void> {
  const running = await startServer(config)
  process.stderr.write(`iceprod-rest: listening on ${running.url}\n`)

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`iceprod-rest: ${signal}, finishing requests in flight\n`)
    await running.stop()
    // Exits once the line is out: stderr may be a pipe whose reader is slower than this process.
    await new Promise<void>((written) => process.stderr.write('iceprod-rest: stopped\n', () => written()))
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}
