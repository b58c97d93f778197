/**
 * The structured log: one JSON object per line on stderr. Lines are collected
 * in memory and handed to Bun's native writer for stderr in batches (when 64 KiB
 * have gathered, or 100 ms after the first line of a batch), so that a request
 * never waits for a write and a line costs a string append. Bun's writer is used
 * instead of pino's own destination (sonic-boom), which costs several times more
 * per line on Bun.
 *
 * pino formats the lines other than the request lines (those are written by
 * request-batch.ts), and is loaded when the first of them is written: most of
 * a start's module loading otherwise, for a log that at `warn` or above may
 * never write one.
 */
import type { DestinationStream, Logger as PinoLogger } from 'pino'
import type { Config } from '../config'

type Level = Exclude<Config['logLevel'], 'silent'>

/** Writes one line: a message, or fields and a message. */
interface LogFn {
  (message: string): void
  (fields: object, message?: string): void
}

/** The log's levels, each a LogFn, and whether a level is written at all. */
export type Logger = Record<Level, LogFn> & { isLevelEnabled(level: Level): boolean }

/** pino's numbers for the levels: a line is written when its level's is at least the log's. */
const LEVEL_VALUES: Record<Config['logLevel'], number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity }

export interface LogOutput {
  destination: DestinationStream
  /** Writes out whatever is buffered (before the process exits). */
  flush(): Promise<void>
}

/** How long a line may wait before it is written. */
const FLUSH_DELAY_MS = 100
/** Write a batch early once it is this long (in UTF-16 code units, close enough to bytes here). */
const BATCH_LENGTH = 64 * 1024

/** stderr, asynchronous and buffered. */
export function stderrOutput(): LogOutput {
  const sink = Bun.stderr.writer({ highWaterMark: BATCH_LENGTH })
  let batch = ''
  let timer: ReturnType<typeof setTimeout> | undefined
  const writeBatch = async (): Promise<void> => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (batch === '') return
    const text = batch
    batch = ''
    try {
      sink.write(text)
      await sink.flush()
    } catch {
      // stderr is gone (the reader hung up): nothing more can be logged.
    }
  }
  return {
    destination: {
      write(line: string) {
        batch += line
        if (batch.length >= BATCH_LENGTH) void writeBatch()
        else if (timer === undefined) {
          timer = setTimeout(writeBatch, FLUSH_DELAY_MS)
          // A pending batch must not keep a finished process alive; the app flushes on close.
          timer.unref()
        }
      },
    },
    flush: writeBatch,
  }
}

let lastMs = -1
let lastIso = ''

/** `ms` (since the epoch) as ISO 8601 UTC; consecutive calls for the same millisecond format it once. */
export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms
    lastIso = new Date(ms).toISOString()
  }
  return lastIso
}

export function createLogger(level: Config['logLevel'], output: LogOutput): Logger {
  let formatter: PinoLogger | undefined
  const pinoLogger = (): PinoLogger => {
    if (formatter) return formatter
    const { pino } = require('pino') as typeof import('pino')
    return (formatter = pino(
      {
        level,
        // pid and hostname are added by journald or the collector; keep lines short.
        base: null,
        timestamp: () => `,"time":"${isoTime(Date.now())}"`,
        formatters: { level: (label) => ({ level: label }) },
      },
      output.destination,
    ))
  }
  const threshold = LEVEL_VALUES[level]
  const isLevelEnabled = (at: Level) => LEVEL_VALUES[at] >= threshold
  const writer =
    (at: Level): LogFn =>
    (...args: [object | string, string?]) => {
      if (isLevelEnabled(at)) (pinoLogger()[at] as (...line: [object | string, string?]) => void)(...args)
    }
  return { isLevelEnabled, debug: writer('debug'), info: writer('info'), warn: writer('warn'), error: writer('error') }
}
