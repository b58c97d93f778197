import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { timestamp } from '../src/db/documents'
import { expectCreated, FakeClock, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
let clientToken: string
let pilotToken: string
const clock = new FakeClock()
beforeAll(async () => {
  t = await startTestApp({}, {}, { clock: clock.now })
  clientToken = await t.token('client')
  pilotToken = await t.token('pilot')
})
afterAll(() => t.close())

const pilotBody = { queue_host: 'ce.example.org', queue_version: '2.7.0', resources: { cpu: 1, memory: 4.0 } }

async function createPilot(body: Record<string, unknown> = pilotBody): Promise<string> {
  const r = await t.call('POST', '/pilots', { token: clientToken, body })
  expect(r.status).toBe(201)
  return r.body.result
}

const getPilot = async (pilotId: string) => (await t.call('GET', `/pilots/${pilotId}`, { token: pilotToken })).body

describe('POST /pilots', () => {
  test('creates a pilot with the server fields and every default, 201 with Location', async () => {
    const r = await t.call('POST', '/pilots', { token: clientToken, body: pilotBody })
    const pilotId = expectCreated(r, '/pilots')
    const pilot = await getPilot(pilotId)
    expect(pilot).toEqual({
      ...pilotBody,
      pilot_id: pilotId,
      submit_time: expect.stringMatching(TIMESTAMP),
      start_date: expect.stringMatching(TIMESTAMP),
      last_update: expect.stringMatching(TIMESTAMP),
      tasks: [],
      host: '',
      version: '',
      grid_queue_id: '',
      available: {},
      claimed: {},
    })
    expect(pilot.grid_id).toBeUndefined()
  })

  test('client values replace the defaults; server fields win; extras are kept as sent', async () => {
    const body = {
      ...pilotBody,
      grid_id: 'g1',
      tasks: ['t1'],
      host: 'node7',
      version: '2.7.1',
      grid_queue_id: '1234.0',
      available: { cpu: 1 },
      claimed: { gpu: 0 },
      pilot_id: 'mine',
      submit_time: 'then',
      start_date: 'then',
      last_update: 'then',
      extra: { a: [1.5, null, false] },
    }
    const pilotId = await createPilot(body)
    const pilot = await getPilot(pilotId)
    expect(pilot).toEqual({
      ...body,
      pilot_id: pilotId,
      submit_time: expect.stringMatching(TIMESTAMP),
      start_date: expect.stringMatching(TIMESTAMP),
      last_update: expect.stringMatching(TIMESTAMP),
    })
  })

  test.each([
    [{ queue_version: '1', resources: {} }, 'missing key: queue_host'],
    [{ queue_host: 'h', resources: {} }, 'missing key: queue_version'],
    [{ queue_host: 'h', queue_version: '1' }, 'missing key: resources'],
    [{ queue_host: 1, queue_version: '1', resources: {} }, 'key queue_host must be a string'],
    [{ queue_host: 'h', queue_version: '1', resources: {}, grid_id: 5 }, 'key grid_id must be a string'],
    [{ queue_host: 'h', queue_version: '1', resources: {}, tasks: 'x' }, 'key tasks must be an array'],
  ])('rejects %j with 400 and writes nothing', async (body, message) => {
    const before = t.count('pilots')
    const r = await t.call('POST', '/pilots', { token: clientToken, body })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect(t.count('pilots')).toBe(before)
  })
})

describe('GET /pilots', () => {
  test('lists pilots keyed by id in creation order, filtered by grid_id, projected by keys', async () => {
    const a1 = await createPilot({ ...pilotBody, grid_id: 'gridA' })
    const b1 = await createPilot({ ...pilotBody, grid_id: 'gridB' })
    const a2 = await createPilot({ ...pilotBody, grid_id: 'gridA', host: 'n2' })

    const all = await t.call('GET', '/pilots', { token: clientToken })
    expect(all.status).toBe(200)
    expect(Object.keys(all.body).slice(-3)).toEqual([a1, b1, a2])

    const gridA = await t.call('GET', '/pilots?grid_id=gridA')
    expect(Object.keys(gridA.body)).toEqual([a1, a2])
    expect(gridA.body[a2]).toEqual(await getPilot(a2))

    const projected = await t.call('GET', '/pilots?grid_id=gridA&keys=host|grid_id|nosuchkey')
    expect(projected.body).toEqual({ [a1]: { pilot_id: a1, host: '', grid_id: 'gridA' }, [a2]: { pilot_id: a2, host: 'n2', grid_id: 'gridA' } })

    expect((await t.call('GET', '/pilots?grid_id=nosuchgrid')).body).toEqual({})
  })

  test('an empty keys parameter is 400', async () => {
    const r = await t.call('GET', '/pilots?keys=')
    expect(r.status).toBe(400)
  })
})

describe('PATCH /pilots/<pilot_id>', () => {
  test('merges, refreshes last_update and returns the pilot', async () => {
    const pilotId = await createPilot()
    const before = await getPilot(pilotId)
    clock.advance(1500)
    const r = await t.call('PATCH', `/pilots/${pilotId}`, { token: pilotToken, body: { available: { cpu: 0 }, host: 'node9', note: null } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ ...before, available: { cpu: 0 }, host: 'node9', note: null, last_update: timestamp(clock.now()) })
    expect(r.body.last_update > before.last_update).toBe(true)
    expect(await getPilot(pilotId)).toEqual(r.body)
  })

  test('refuses an empty body, a changed pilot_id and wrong types; 404 when missing', async () => {
    const pilotId = await createPilot()
    const before = (await t.call('GET', `/pilots/${pilotId}`)).text
    for (const body of [{}, { pilot_id: 'other' }, { tasks: [1] }, { resources: 3 }]) {
      expect((await t.call('PATCH', `/pilots/${pilotId}`, { body })).status).toBe(400)
    }
    expect((await t.call('GET', `/pilots/${pilotId}`)).text).toBe(before)
    expect((await t.call('PATCH', '/pilots/nosuchpilot', { body: { a: 1 } })).status).toBe(404)
  })
})

describe('PUT /pilots/<pilot_id>/tasks', () => {
  test('replaces the task list and refreshes last_update', async () => {
    const pilotId = await createPilot({ ...pilotBody, tasks: ['old1', 'old2'] })
    const before = await getPilot(pilotId)
    clock.advance(1500)
    const r = await t.call('PUT', `/pilots/${pilotId}/tasks`, { token: pilotToken, body: { tasks: ['t9'] } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({})
    const after = await getPilot(pilotId)
    expect(after).toEqual({ ...before, tasks: ['t9'], last_update: timestamp(clock.now()) })
    expect(after.last_update > before.last_update).toBe(true)
    expect((await t.call('PUT', `/pilots/${pilotId}/tasks`, { body: { tasks: [] } })).status).toBe(200)
    expect((await getPilot(pilotId)).tasks).toEqual([])
  })

  test('400 without a list of strings, 404 for a missing pilot', async () => {
    const pilotId = await createPilot()
    for (const body of [{}, { tasks: 'a' }, { tasks: [1] }]) {
      expect((await t.call('PUT', `/pilots/${pilotId}/tasks`, { body })).status).toBe(400)
    }
    const missing = await t.call('PUT', '/pilots/nosuchpilot/tasks', { body: { tasks: [] } })
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ code: 404, error: expect.stringContaining('nosuchpilot') })
  })
})

describe('DELETE /pilots/<pilot_id>', () => {
  test('deletes the pilot; a second delete and a GET are 404', async () => {
    const pilotId = await createPilot()
    const r = await t.call('DELETE', `/pilots/${pilotId}`, { token: pilotToken })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({})
    expect((await t.call('GET', `/pilots/${pilotId}`)).status).toBe(404)
    expect((await t.call('DELETE', `/pilots/${pilotId}`)).status).toBe(404)
  })
})

describe('pilot access', () => {
  test('each route admits exactly its roles', async () => {
    const pilotId = await createPilot()
    const routes: [string, string, unknown, string[]][] = [
      ['GET', '/pilots', undefined, ['admin', 'system', 'client']],
      ['POST', '/pilots', pilotBody, ['admin', 'client']],
      ['GET', `/pilots/${pilotId}`, undefined, ['admin', 'client', 'pilot']],
      ['PATCH', `/pilots/${pilotId}`, { note: 1 }, ['admin', 'client', 'pilot']],
      ['PUT', `/pilots/${pilotId}/tasks`, { tasks: [] }, ['admin', 'client', 'pilot']],
    ]
    for (const [method, path, body, allowed] of routes) {
      for (const role of ['admin', 'system', 'client', 'pilot', 'user', 'anonymous']) {
        const r = await t.call(method, path, { token: await t.token(role), body })
        expect([method, path, role, r.status < 300]).toEqual([method, path, role, allowed.includes(role)])
        if (!allowed.includes(role)) expect(r.status).toBe(403)
      }
    }
    for (const role of ['system', 'user', 'anonymous']) {
      expect((await t.call('DELETE', `/pilots/${pilotId}`, { token: await t.token(role) })).status).toBe(403)
    }
    expect((await t.call('DELETE', `/pilots/${pilotId}`, { token: clientToken })).status).toBe(200)
  })
})
