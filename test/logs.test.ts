import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { datasetFixture, expectCreated, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
const tokens: Record<string, string> = {}
let datasetId: string
let otherDatasetId: string
beforeAll(async () => {
  t = await startTestApp()
  ;({ datasetId, otherDatasetId } = await datasetFixture(t, tokens))
})
afterAll(() => t.close())



async function postLog(body: Record<string, unknown>, token = tokens.pilot): Promise<string> {
  const r = await t.call('POST', '/logs', { token, body })
  expect(r.status).toBe(201)
  return r.body.result
}

const storedRow = (logId: string) =>
  t.ctx.sqlite.query('SELECT encoding, length(data) AS size, typeof(data) AS type, doc FROM logs WHERE log_id = ?').get(logId) as { encoding: string; size: number; type: string; doc: string }

/** About `bytes` of pilot-like output with non-ASCII text, control characters and quotes. */
function pilotOutput(bytes: number): string {
  const lines: string[] = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const line = `2024-05-01 12:${String(i % 60).padStart(2, '0')}:00 INFO event ${i} E=${(i * 1.37).toFixed(3)} GeV — ünïcødé ✓ 日本語 "q" \\ \t 🚀 ${i % 7 === 0 ? '\u0001\u001f' : ''}`
    lines.push(line)
    size += Buffer.byteLength(line) + 1
  }
  return lines.join('\n')
}

describe('POST /logs and GET /logs/<log_id>', () => {
  test('stores the log with log_id, timestamp and name "log" by default; 201 with id and Location', async () => {
    const r = await t.call('POST', '/logs', { token: tokens.pilot, body: { data: 'hello\nworld', dataset_id: datasetId, task_id: 'sometask', extra: { a: [1, 2.5, null] } } })
    const logId = expectCreated(r, '/logs')
    const got = await t.call('GET', `/logs/${logId}`)
    expect(got.status).toBe(200)
    expect(got.body).toEqual({
      data: 'hello\nworld',
      dataset_id: datasetId,
      task_id: 'sometask',
      extra: { a: [1, 2.5, null] },
      name: 'log',
      log_id: logId,
      timestamp: expect.stringMatching(TIMESTAMP),
    })
    expect(got.text).toContain('"extra":{"a":[1,2.5,null]}')
  })

  test('a name is kept; server fields win; no dataset or task is needed', async () => {
    const logId = await postLog({ data: 'x', name: 'stderr', log_id: 'mine', timestamp: 'yesterday' }, tokens.admin)
    const log = (await t.call('GET', `/logs/${logId}`)).body
    expect(log).toEqual({ data: 'x', name: 'stderr', log_id: logId, timestamp: expect.stringMatching(TIMESTAMP) })
  })

  test('the text is stored apart from the metadata, as identity up to 4 KiB and gzip above', async () => {
    const small = await postLog({ data: 'ü'.repeat(2048) })
    const smallRow = storedRow(small)
    expect(smallRow).toMatchObject({ encoding: 'identity', size: 4096, type: 'blob' })
    expect(JSON.parse(smallRow.doc).data).toBeUndefined()
    const large = await postLog({ data: 'ü'.repeat(2049) })
    expect(storedRow(large)).toMatchObject({ encoding: 'gzip', type: 'blob' })
    expect(storedRow(large).size).toBeLessThan(200)
    expect((await t.call('GET', `/logs/${large}`)).body.data).toBe('ü'.repeat(2049))
  })

  test('a 1 MB log with non-ASCII text round-trips byte for byte, compressed', async () => {
    const data = pilotOutput(1024 * 1024)
    expect(Buffer.byteLength(data)).toBeGreaterThanOrEqual(1024 * 1024)
    const logId = await postLog({ data, name: 'stdout' })
    const row = storedRow(logId)
    expect(row.encoding).toBe('gzip')
    expect(row.size).toBeLessThan(Buffer.byteLength(data) / 4)
    const got = await t.call('GET', `/logs/${logId}`)
    expect(got.status).toBe(200)
    expect(Buffer.from(got.body.data, 'utf8').equals(Buffer.from(data, 'utf8'))).toBe(true)
    expect(got.body.name).toBe('stdout')
  })

  test('empty text is a valid log', async () => {
    const logId = await postLog({ data: '' })
    expect((await t.call('GET', `/logs/${logId}`)).body.data).toBe('')
  })

  test.each([
    [{}, 'missing key: data'],
    [{ name: 'x' }, 'missing key: data'],
    [{ data: 5 }, 'key data must be a string'],
    [{ data: 'x', name: 7 }, 'key name must be a string'],
    [{ data: 'x', dataset_id: 7 }, 'key dataset_id must be a string'],
    [{ data: 'x', task_id: ['t'] }, 'key task_id must be a string'],
  ])('rejects %j with 400 and writes nothing', async (body, message) => {
    const before = t.count('logs')
    const r = await t.call('POST', '/logs', { body })
    expect(r.body).toEqual({ code: 400, error: message })
    expect(t.count('logs')).toBe(before)
  })

  test('text that UTF-8 cannot carry (a lone surrogate) is refused rather than altered', async () => {
    const before = t.count('logs')
    const r = await t.call('POST', '/logs', { body: '{"data":"abc\\ud800def"}' })
    expect(r.status).toBe(400)
    expect(r.body.error).toContain('key data')
    expect(t.count('logs')).toBe(before)
    // A proper surrogate pair is fine.
    const logId = await postLog(JSON.parse('{"data":"\\ud83d\\ude80"}'))
    expect((await t.call('GET', `/logs/${logId}`)).body.data).toBe('🚀')
  })

  test('POST: admin and pilot; GET: admin only; missing log 404', async () => {
    const before = t.count('logs')
    for (const name of ['system', 'client', 'user', 'writer']) expect((await t.call('POST', '/logs', { token: tokens[name], body: { data: 'x' } })).status).toBe(403)
    expect((await t.call('POST', '/logs', { token: null, body: { data: 'x' } })).status).toBe(401)
    expect(t.count('logs')).toBe(before)
    const logId = await postLog({ data: 'x', dataset_id: datasetId })
    for (const name of ['system', 'client', 'pilot', 'user', 'writer']) expect((await t.call('GET', `/logs/${logId}`, { token: tokens[name] })).status).toBe(403)
    expect((await t.call('GET', '/logs/nosuchlog')).status).toBe(404)
  })
})

describe('POST /datasets/<d>/logs and GET /datasets/<d>/logs/<log_id>', () => {
  test('writers post logs to the dataset; Location under the dataset; dataset_id from the path', async () => {
    const r = await t.call('POST', `/datasets/${datasetId}/logs`, { token: tokens.writer, body: { data: 'from writer', task_id: 't1' } })
    expect(r.status).toBe(201)
    const logId = r.body.result
    expect(r.headers.get('location')).toBe(`/datasets/${datasetId}/logs/${logId}`)
    const got = await t.call('GET', `/datasets/${datasetId}/logs/${logId}`, { token: tokens.reader })
    expect(got.status).toBe(200)
    expect(got.body).toEqual({ data: 'from writer', task_id: 't1', dataset_id: datasetId, name: 'log', log_id: logId, timestamp: expect.stringMatching(TIMESTAMP) })
    // The same dataset_id in the body is accepted.
    expect((await t.call('POST', `/datasets/${datasetId}/logs`, { body: { data: 'y', dataset_id: datasetId } })).status).toBe(201)
  })

  test("the path's dataset_id replaces whatever the body says", async () => {
    for (const dataset_id of [otherDatasetId, 'nosuchdataset', 7, null, ['x']]) {
      const r = await t.call('POST', `/datasets/${datasetId}/logs`, { token: tokens.writer, body: { data: 'copied', dataset_id } })
      expect(r.status).toBe(201)
      expect(r.headers.get('location')).toBe(`/datasets/${datasetId}/logs/${r.body.result}`)
      expect((await t.call('GET', `/datasets/${datasetId}/logs/${r.body.result}`)).body).toMatchObject({ data: 'copied', dataset_id: datasetId })
      expect((await t.call('GET', `/datasets/${otherDatasetId}/logs/${r.body.result}`)).status).toBe(404)
    }
  })

  test('readers, pilots and non-members may not post', async () => {
    const before = t.count('logs')
    expect((await t.call('POST', `/datasets/${datasetId}/logs`, { body: { name: 'x' } })).body).toEqual({ code: 400, error: 'missing key: data' })
    for (const name of ['reader', 'pilot', 'system', 'client', 'other']) {
      expect((await t.call('POST', `/datasets/${datasetId}/logs`, { token: tokens[name], body: { data: 'x' } })).status).toBe(403)
    }
    expect((await t.call('POST', '/datasets/nosuch/logs', { body: { data: 'x' } })).status).toBe(404)
    expect(t.count('logs')).toBe(before)
  })

  test('GET under another dataset is 404; non-readers 403', async () => {
    const logId = await postLog({ data: 'x', dataset_id: datasetId })
    expect((await t.call('GET', `/datasets/${datasetId}/logs/${logId}`, { token: tokens.parent })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${otherDatasetId}/logs/${logId}`)).status).toBe(404)
    const unscoped = await postLog({ data: 'no dataset' })
    expect((await t.call('GET', `/datasets/${datasetId}/logs/${unscoped}`)).status).toBe(404)
    for (const name of ['other', 'pilot', 'client']) expect((await t.call('GET', `/datasets/${datasetId}/logs/${logId}`, { token: tokens[name] })).status).toBe(403)
  })
})

describe('GET /datasets/<d>/tasks/<t>/logs', () => {
  const task = 'task0123456789'
  let ids: string[]
  beforeAll(async () => {
    ids = []
    for (const [name, data] of [['stdout', 'out 1'], ['stderr', 'err 1'], ['stdout', 'out 2'], ['stdlog', pilotOutput(20_000)], ['stderr', 'err 2']] as const) {
      ids.push(await postLog({ data, name, dataset_id: datasetId, task_id: task }))
    }
    await postLog({ data: 'another task', dataset_id: datasetId, task_id: 'othertask' })
    await postLog({ data: 'another dataset', dataset_id: otherDatasetId, task_id: task })
  })
  const get = (query = '', token = tokens.admin) => t.call('GET', `/datasets/${datasetId}/tasks/${task}/logs${query}`, { token })

  test('{"logs": [...]} newest first, each with its data', async () => {
    const r = await get()
    expect(r.status).toBe(200)
    expect(r.body.logs.map((log: any) => log.log_id)).toEqual([...ids].reverse())
    expect(r.body.logs[0]).toEqual({ data: 'err 2', name: 'stderr', dataset_id: datasetId, task_id: task, log_id: ids[4], timestamp: expect.stringMatching(TIMESTAMP) })
    expect(r.body.logs[1].data).toBe(pilotOutput(20_000))
  })

  test('order, num and group', async () => {
    const order = async (query: string) => (await get(query)).body.logs.map((log: any) => log.log_id)
    expect(await order('?order=asc')).toEqual(ids)
    expect(await order('?order=desc')).toEqual([...ids].reverse())
    expect(await order('?num=2')).toEqual([ids[4], ids[3]])
    expect(await order('?num=2&order=asc')).toEqual([ids[0], ids[1]])
    expect(await order('?num=100')).toEqual([...ids].reverse())
    expect(await order('?group=true')).toEqual([ids[4], ids[3], ids[2]])
    expect(await order('?group=true&order=asc')).toEqual([ids[2], ids[3], ids[4]])
    expect(await order('?group=true&num=1')).toEqual([ids[4]])
    expect(await order('?group=false')).toEqual([...ids].reverse())
  })

  test('keys projects each log, keeping log_id; data only when asked for', async () => {
    const r = await get('?keys=name')
    expect(r.body.logs[0]).toEqual({ log_id: ids[4], name: 'stderr' })
    const withData = await get('?keys=data|name&num=1')
    expect(withData.body.logs).toEqual([{ log_id: ids[4], name: 'stderr', data: 'err 2' }])
  })

  test('bad parameters are 400 naming them', async () => {
    for (const num of ['x', '1.5', '0', '-1']) expect((await get(`?num=${num}`)).body.error).toStartWith('query parameter num must be')
    expect((await get('?order=newest')).body).toEqual({ code: 400, error: 'query parameter order must be desc or asc' })
    expect((await get('?group=yes')).body).toEqual({ code: 400, error: 'query parameter group must be true or false' })
  })

  test('no logs is 404; admin and readers only', async () => {
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/nologs/logs`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/nosuch/tasks/${task}/logs`)).status).toBe(404)
    for (const name of ['reader', 'writer', 'parent']) expect((await get('', tokens[name])).status).toBe(200)
    for (const name of ['system', 'client', 'pilot', 'other']) expect((await get('', tokens[name])).status).toBe(403)
  })
})
