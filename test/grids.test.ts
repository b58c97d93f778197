import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { timestamp } from '../src/db/documents'
import { expectCreated, FakeClock, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
let clientToken: string
const clock = new FakeClock()
beforeAll(async () => {
  t = await startTestApp({}, {}, { clock: clock.now })
  clientToken = await t.token('client', { username: 'site-a' })
})
afterAll(() => t.close())

const gridBody = { host: 'submit.example.org', queues: { long: { max: 10 } }, version: '2.7.0' }

async function createGrid(body: Record<string, unknown> = gridBody, token: string = clientToken): Promise<string> {
  const r = await t.call('POST', '/grids', { token, body })
  expect(r.status).toBe(201)
  return r.body.result
}

describe('POST /grids', () => {
  test('creates a grid with the server fields and defaults, 201 with Location', async () => {
    const r = await t.call('POST', '/grids', { token: clientToken, body: { ...gridBody, extra: { nested: [1, null, true] } } })
    const gridId = expectCreated(r, '/grids')
    const grid = (await t.call('GET', `/grids/${gridId}`, { token: clientToken })).body
    expect(grid).toEqual({
      ...gridBody,
      extra: { nested: [1, null, true] },
      grid_id: gridId,
      start_date: expect.stringMatching(TIMESTAMP),
      last_update: expect.stringMatching(TIMESTAMP),
      username: 'site-a',
      debug: false,
    })
    expect(grid.last_update).toBe(grid.start_date)
  })

  test('server fields win over the body; a client debug flag is kept', async () => {
    const gridId = await createGrid({ ...gridBody, grid_id: 'mine', username: 'someone', start_date: 'x', last_update: 'y', debug: true })
    const grid = (await t.call('GET', `/grids/${gridId}`)).body
    expect(grid.grid_id).toBe(gridId)
    expect(grid.username).toBe('site-a')
    expect(grid.start_date).toMatch(TIMESTAMP)
    expect(grid.last_update).toMatch(TIMESTAMP)
    expect(grid.debug).toBe(true)
  })

  test.each([
    [{ queues: {}, version: '1' }, 'missing key: host'],
    [{ host: 'h', version: '1' }, 'missing key: queues'],
    [{ host: 'h', queues: {} }, 'missing key: version'],
    [{ host: 3, queues: {}, version: '1' }, 'key host must be a string'],
    // The shared validation message for an array where an object belongs names the key without the type word.
    [{ host: 'h', queues: [], version: '1' }, 'key queues must be an object'],
    [{ host: 'h', queues: {}, version: 2 }, 'key version must be a string'],
    [{ host: 'h', queues: {}, version: '1', debug: 'yes' }, 'key debug must be a boolean'],
  ])('rejects %j with 400 and writes nothing', async (body, message) => {
    const before = t.count('grids')
    const r = await t.call('POST', '/grids', { token: clientToken, body })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect(t.count('grids')).toBe(before)
  })

  test('a body that is not a JSON object is 400', async () => {
    expect((await t.call('POST', '/grids', { body: '[1]' })).status).toBe(400)
    expect((await t.call('POST', '/grids', { body: '{"host":' })).status).toBe(400)
  })
})

describe('GET /grids', () => {
  test('returns every grid keyed by id, in creation order', async () => {
    const ids = [await createGrid(), await createGrid(), await createGrid()]
    const r = await t.call('GET', '/grids', { token: clientToken })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toStartWith('application/json')
    const listed = Object.keys(r.body)
    expect(listed.slice(-3)).toEqual(ids)
    for (const id of listed) expect(r.body[id].grid_id).toBe(id)
  })

  test('GET of a missing grid is 404', async () => {
    const r = await t.call('GET', '/grids/nosuchgrid')
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ code: 404, error: expect.stringContaining('nosuchgrid') })
  })
})

describe('PATCH /grids/<grid_id>', () => {
  test('merges at the top level, refreshes last_update and returns the grid', async () => {
    const gridId = await createGrid()
    const before = (await t.call('GET', `/grids/${gridId}`)).body
    clock.advance(1500)
    const r = await t.call('PATCH', `/grids/${gridId}`, { token: clientToken, body: { queues: { short: {} }, note: 'busy', last_update: 'mine' } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ ...before, queues: { short: {} }, note: 'busy', last_update: timestamp(clock.now()) })
    expect(r.body.last_update > before.last_update).toBe(true)
    expect((await t.call('GET', `/grids/${gridId}`)).body).toEqual(r.body)
  })

  test('refuses an empty body, a changed grid_id and wrong types with 400, changing nothing', async () => {
    const gridId = await createGrid()
    const before = (await t.call('GET', `/grids/${gridId}`)).text
    for (const body of [{}, { grid_id: 'other' }, { host: 1 }, { queues: 'q' }]) {
      const r = await t.call('PATCH', `/grids/${gridId}`, { body })
      expect(r.status).toBe(400)
    }
    expect((await t.call('GET', `/grids/${gridId}`)).text).toBe(before)
    const same = await t.call('PATCH', `/grids/${gridId}`, { body: { grid_id: gridId, x: 1 } })
    expect(same.status).toBe(200)
  })

  test('PATCH of a missing grid is 404', async () => {
    expect((await t.call('PATCH', '/grids/nosuchgrid', { body: { a: 1 } })).status).toBe(404)
  })
})

describe('grid access', () => {
  test('only admin and client may use the grid routes', async () => {
    const gridId = await createGrid()
    for (const role of ['user', 'system', 'pilot', 'anonymous']) {
      const token = await t.token(role)
      expect((await t.call('GET', '/grids', { token })).status).toBe(403)
      expect((await t.call('POST', '/grids', { token, body: gridBody })).status).toBe(403)
      expect((await t.call('GET', `/grids/${gridId}`, { token })).status).toBe(403)
      expect((await t.call('PATCH', `/grids/${gridId}`, { token, body: { a: 1 } })).status).toBe(403)
    }
    expect((await t.call('GET', '/grids', { token: t.adminToken })).status).toBe(200)
    expect((await t.call('POST', '/grids', { token: t.adminToken, body: gridBody })).status).toBe(201)
  })

  test('no token is 401 with WWW-Authenticate', async () => {
    const r = await t.call('GET', '/grids', { token: null })
    expect(r.status).toBe(401)
    expect(r.headers.get('www-authenticate')).toBe('Bearer')
  })
})
