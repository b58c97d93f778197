/**
 * The raw baseline for the authenticated lookup: a minimal Bun.serve +
 * bun:sqlite program answering GET /tasks/<id> with the stored JSON. It only
 * checks that an Authorization header is present.
 * Usage: bun bench/baseline-lookup.ts --db FILE --port N
 */
import { Database } from 'bun:sqlite'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string' } } })
const db = new Database(values.db!, { readonly: true })
const lookup = db.prepare<{ doc: string }, [string]>('SELECT doc FROM tasks WHERE task_id = ?')
const headers = { 'content-type': 'application/json' }

Bun.serve({
  hostname: '127.0.0.1',
  port: Number(values.port),
  fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/healthz') return new Response('{"status":"ok"}', { headers })
    if (!request.headers.get('authorization')) return new Response('{"code":401,"error":"no token"}', { status: 401, headers })
    const id = url.pathname.slice('/tasks/'.length)
    const row = lookup.get(id)
    if (!row) return new Response('{"code":404,"error":"not found"}', { status: 404, headers })
    return new Response(row.doc, { headers })
  },
})
