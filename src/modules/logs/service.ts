/**
 * Logs: the metadata document lives in `doc` and the (possibly large) text
 * apart in the `data` BLOB, as UTF-8 bytes, gzip-compressed when that pays.
 * Reads splice the text into the stored metadata text; the metadata is only
 * parsed when a `keys` projection asks for it.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { newId, timestamp } from '../../db/documents'
import { fail } from '../../errors'
import type { LogModel } from './model'
import { logQueries } from './queries'

export type NewLog = typeof LogModel.create.static

export interface TaskLogQuery {
  /** At most this many logs (after grouping). */
  num?: number
  order: 'asc' | 'desc'
  /** Only the newest log of each name. */
  group: boolean
  /** Whether the logs' text is wanted, or only their metadata. */
  withData: boolean
}

/** A stored log: its metadata document as JSON text and, when asked for, its text. */
export interface StoredLog {
  doc: string
  data?: string
}

type Encoding = 'identity' | 'gzip'

/** Texts up to this size are stored as is: compressing them saves little and costs a call. */
const COMPRESS_ABOVE = 4096
/** zlib level 3: close to the default level's ratio on log text at about half its cost. */
const GZIP_LEVEL = 3

export class LogService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = logQueries(db)
  }

  /** Stores a log (for the dataset `datasetId` when given, whatever dataset_id the body holds); returns its id. */
  async create(body: NewLog, datasetId?: string): Promise<string> {
    const { data, ...metadata } = datasetId === undefined ? body : { ...body, dataset_id: datasetId }
    // UTF-8 cannot carry a lone surrogate: refuse it rather than store a different text.
    if (!data.isWellFormed()) fail(400, 'key data must be valid Unicode text (it holds a lone surrogate)')
    const logId = newId()
    const doc = { ...metadata, name: metadata.name ?? 'log', log_id: logId, timestamp: timestamp(this.clock()) }
    const stored = encode(data)
    await writeTx(this.db, () => this.queries.insert.run({ log_id: logId, encoding: stored.encoding, data: stored.bytes, doc: JSON.stringify(doc) }))
    return logId
  }

  /** The log with its `data` (JSON text); 404 when missing or, given a dataset, in another dataset. */
  get(logId: string, datasetId?: string): string {
    const row = datasetId === undefined ? this.queries.log.get({ log_id: logId }) : this.queries.logInDataset.get({ log_id: logId, dataset_id: datasetId })
    if (!row) fail(404, `log ${logId} not found`)
    return logJson(row.doc, decode(row.encoding, row.data))
  }

  /** The logs of a task of a dataset, newest first unless `order` is asc; 404 when it has none. */
  taskLogs(datasetId: string, taskId: string, query: TaskLogQuery): StoredLog[] {
    let selected = this.queries.taskLogs.all({ dataset_id: datasetId, task_id: taskId })
    if (query.group) {
      const seen = new Set<string | null>()
      selected = selected.filter((row) => !seen.has(row.name) && (seen.add(row.name), true))
    }
    if (query.order === 'asc') selected.reverse()
    if (query.num !== undefined) selected = selected.slice(0, query.num)
    if (selected.length === 0) fail(404, `no logs for task ${taskId}`)
    return selected.map(({ id }) => {
      if (!query.withData) return { doc: this.queries.doc.get({ log_id: id })!.doc }
      const stored = this.queries.log.get({ log_id: id })!
      return { doc: stored.doc, data: decode(stored.encoding, stored.data) }
    })
  }
}

function encode(text: string): { encoding: Encoding; bytes: Buffer } {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length > COMPRESS_ABOVE) {
    const compressed = Bun.gzipSync(bytes, { level: GZIP_LEVEL })
    if (compressed.length < bytes.length) return { encoding: 'gzip', bytes: Buffer.from(compressed.buffer, compressed.byteOffset, compressed.length) }
  }
  return { encoding: 'identity', bytes }
}

// ignoreBOM keeps a text's leading U+FEFF: by default the decoder would drop it.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

function decode(encoding: string, bytes: Uint8Array): string {
  if (encoding === 'gzip') return utf8.decode(Bun.gunzipSync(new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength)))
  if (encoding === 'identity') return utf8.decode(bytes)
  throw new Error(`unknown log encoding: ${encoding}`)
}

/** A log as JSON text: the metadata document's text with `"data": <text>` added as its last key, when given. */
export function logJson(docJson: string, data: string | undefined): string {
  if (data === undefined) return docJson
  const rest = docJson.slice(0, docJson.lastIndexOf('}'))
  const separator = /^\{\s*$/.test(rest) ? '' : ','
  return rest + separator + '"data":' + JSON.stringify(data) + '}'
}
