/**
 * Progress and queue diagnostics (API.md §7.3), on the injected clock:
 * counts by status, the tasks expected, the completions of the last hour
 * (whatever route completed them) and the ETA at that rate against a
 * simulated completion rate; the queue diagnostics against offers that meet
 * and miss each requirement key, forgetting offers older than an hour, in
 * bounded memory.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { timestamp } from '../src/db/documents'
import { MAX_JOBS_SUBMITTED, MAX_TASKS_SUBMITTED } from '../src/modules/datasets/model'
import { MAX_KEYS, MAX_MINUTE_TEXT, MAX_VALUE_TEXT, MAX_VALUES, OfferLog } from '../src/modules/progress/offers'
import { QueueFixture } from './queue-support'
import { FakeClock, startTestApp, type TestApp } from './support'

const MINUTE = 60_000
/** What a pilot offers for the tasks the scheduler makes with the default requirements. */
const SLOT = { cpu: 1, gpu: 0, memory: 1, disk: 10, time: 1 }

describe('progress', () => {
  const clock = new FakeClock()
  let t: TestApp
  let f: QueueFixture
  beforeAll(async () => {
    t = await startTestApp({ logLevel: 'error' }, {}, { clock: clock.now })
    f = new QueueFixture(t)
  })
  afterAll(() => t.close())

  const progress = async (datasetId: string) => {
    const r = await t.call('GET', `/datasets/${datasetId}/progress`)
    expect(r.status).toBe(200)
    return r.body
  }

  test('the ETA follows the rate of the last hour: R × 3600 / r seconds from now, null when nothing completes or nothing is left', async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 50, tasks_submitted: 100 })
    await t.call('PUT', `/datasets/${datasetId}/config`, { body: { tasks: [{ name: 'a' }, { name: 'b' }] } })
    await t.scheduler.materializer.idle()
    expect(await progress(datasetId)).toEqual({ jobs: { processing: 50 }, tasks: { queued: 100 }, tasks_expected: 100, completed_last_hour: 0, eta: null })

    // One task completes each minute for 70 minutes: the last hour holds 60 of them.
    const pilot = await t.token('pilot', { ttl: 86_400 })
    for (let minute = 0; minute < 70; minute++) {
      if (minute > 0) clock.advance(MINUTE)
      const claimed = await t.call('POST', '/task_actions/process', { body: { requirements: SLOT }, token: pilot })
      expect((await t.call('POST', `/tasks/${claimed.body.task_id}/task_actions/complete`, { body: { instance_id: claimed.body.instance_id }, token: pilot })).status).toBe(200)
    }
    expect(await progress(datasetId)).toEqual({
      // Claims take the tasks in creation order: the first 35 jobs are done.
      jobs: { processing: 15, complete: 35 },
      tasks: { queued: 30, complete: 70 },
      tasks_expected: 100,
      completed_last_hour: 60,
      // 30 left at 60 an hour.
      eta: timestamp(clock.now() + 30 * 60_000),
    })

    // Half an hour without completions: 30 in the last hour, an hour to go.
    clock.advance(30 * MINUTE)
    expect(await progress(datasetId)).toMatchObject({ completed_last_hour: 30, eta: timestamp(clock.now() + 60 * MINUTE) })
    clock.advance(30 * MINUTE)
    expect(await progress(datasetId)).toMatchObject({ completed_last_hour: 0, eta: null })

    // Completions by any route count: a status PUT and a bulk action.
    const queued = t.ctx.sqlite.query("SELECT task_id FROM tasks WHERE dataset_id = ? AND status = 'queued'").all(datasetId) as { task_id: string }[]
    await t.call('PUT', `/tasks/${queued[0]!.task_id}/status`, { body: { status: 'complete' } })
    clock.advance(MINUTE)
    expect((await t.call('POST', `/datasets/${datasetId}/task_actions/bulk_status/complete`, { body: { status: ['queued'] } })).body).toEqual({ changed: 29 })
    expect(await progress(datasetId)).toEqual({ jobs: { complete: 50 }, tasks: { complete: 100 }, tasks_expected: 100, completed_last_hour: 30, eta: null })
  })

  test('tasks expected: jobs_submitted × the config tasks, else × tasks_per_job, else tasks_submitted', async () => {
    const withConfig = await f.dataset(undefined, { jobs_submitted: 7, tasks_submitted: 1, tasks_per_job: 5 })
    await t.call('PUT', `/datasets/${withConfig}/config`, { body: { tasks: [{ name: 'a' }, { name: 'b' }, { name: 'c' }], suspend: true } })
    await t.call('POST', `/datasets/${withConfig}/dataset_actions/suspend`)
    expect((await progress(withConfig)).tasks_expected).toBe(21)
    const perJob = await f.dataset(undefined, { jobs_submitted: 7, tasks_submitted: 1, tasks_per_job: 5 })
    expect((await progress(perJob)).tasks_expected).toBe(35)
    const submitted = await f.dataset(undefined, { jobs_submitted: 7, tasks_submitted: 9 })
    expect(await progress(submitted)).toEqual({ jobs: {}, tasks: {}, tasks_expected: 9, completed_last_hour: 0, eta: null })
  })

  test('jobs_submitted and tasks_submitted past their limits are 400 and change nothing', async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 3 })
    const group = (JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text) as { group: string }).group
    const datasets = () => t.count('datasets')
    const before = datasets()
    for (const extra of [{ jobs_submitted: MAX_JOBS_SUBMITTED + 1 }, { jobs_submitted: 1e308 }, { tasks_submitted: MAX_TASKS_SUBMITTED + 1 }, { tasks_submitted: 1e308 }]) {
      const r = await t.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group, ...extra } })
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: { code: 400, error: expect.stringMatching(/^key (jobs|tasks)_submitted: .*less or equal to/) } })
    }
    expect(datasets()).toBe(before)
    const r = await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: MAX_JOBS_SUBMITTED + 1 } })
    expect(r.status).toBe(400)
    expect(JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text).jobs_submitted).toBe(3)
  })

  test('an ETA past the year 9999 is null, and a tasks_per_job that is no real count is not used', async () => {
    const completeOne = async (datasetId: string) => expect((await t.call('PUT', `/tasks/${await f.task(datasetId)}/status`, { body: { status: 'complete' } })).status).toBe(200)
    // 10^10 and 2 × 10^8 tasks left at one an hour: after the year 9999.
    for (const tasks_submitted of [MAX_TASKS_SUBMITTED, 2e8]) {
      const datasetId = await f.dataset(undefined, { jobs_submitted: 1, tasks_submitted })
      await completeOne(datasetId)
      expect(await progress(datasetId)).toMatchObject({ tasks_expected: tasks_submitted, completed_last_hour: 1, eta: null })
    }
    // A tasks_per_job above a config's 1,000 tasks is kept as sent and not used.
    const datasetId = await f.dataset(undefined, { jobs_submitted: MAX_JOBS_SUBMITTED, tasks_submitted: 5, tasks_per_job: 1e308 })
    await completeOne(datasetId)
    expect(await progress(datasetId)).toMatchObject({ tasks_expected: 5, completed_last_hour: 1, eta: timestamp(clock.now() + 4 * 3600_000) })
  })

  test('a reader of the dataset may ask; others may not', async () => {
    const datasetId = await f.dataset()
    const group = (JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text) as { group: string }).group
    expect((await t.call('GET', `/datasets/${datasetId}/progress`, { token: await t.token('user', { groups: [group], ttl: 86_400 }) })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${datasetId}/progress`, { token: await t.token('user', { groups: ['/elsewhere'], ttl: 86_400 }) })).status).toBe(403)
    expect((await t.call('GET', '/datasets/nosuchdataset/progress')).status).toBe(404)
  })
})

describe('queue diagnostics', () => {
  const clock = new FakeClock()
  let t: TestApp
  let datasetId: string
  beforeAll(async () => {
    t = await startTestApp({ logLevel: 'error' }, {}, { clock: clock.now })
    const f = new QueueFixture(t)
    datasetId = await f.dataset()
    for (const requirements of [
      { cpu: 4, memory: 8 },
      { cpu: 1, gpu: 1, os: 'RHEL_8' },
      { memory: 2, site: ['A', 'B'], cuda: [11, 12] },
      { disk: 0, time: 2, os: 'RHEL_7', gpu: ['0', '1'] },
      {},
      { cpu: 2, memory: null },
    ]) await f.task(datasetId, { requirements })
    // Suspended, the dataset hands nothing out: its tasks stay queued whatever is offered.
    await t.call('POST', `/datasets/${datasetId}/dataset_actions/suspend`)
  })
  afterAll(() => t.close())

  const diagnostics = async () => {
    const r = await t.call('GET', `/datasets/${datasetId}/queue_diagnostics`)
    expect(r.status).toBe(200)
    return r.body
  }
  const offer = async (requirements: Record<string, unknown>) => {
    const r = await t.call('POST', '/task_actions/process', { body: { requirements }, token: await t.token('pilot', { ttl: 86_400 }) })
    expect(r.status).toBe(404)
  }

  test('without offers, every requirement a queued task states is unmet', async () => {
    expect(await diagnostics()).toEqual({ queued: 6, offers_last_hour: 0, unmatched: { cpu: 3, gpu: 2, memory: 2, os: 2, cuda: 1, disk: 1, site: 1, time: 1 } })
  })

  test('offers that meet and miss each key: numbers by the largest offered, lists by any of their values, others by equal values', async () => {
    await offer({ cpu: 2, memory: 16, os: 'RHEL_8', site: 'B', cuda: 12 })
    // cpu 4 > 2; gpu 1 not offered, nor a gpu of ['0', '1']; RHEL_7 not offered; time 2 not offered. disk 0 needs nothing.
    expect(await diagnostics()).toEqual({ queued: 6, offers_last_hour: 1, unmatched: { gpu: 2, cpu: 1, os: 1, time: 1 } })
    clock.advance(10 * MINUTE)
    await offer({ cpu: 8, gpu: 1, time: 4, os: 'RHEL_9' })
    // The number 1 is no string '1'.
    expect(await diagnostics()).toEqual({ queued: 6, offers_last_hour: 2, unmatched: { gpu: 1, os: 1 } })
    await offer({ gpu: '1', os: 'RHEL_7' })
    expect(await diagnostics()).toEqual({ queued: 6, offers_last_hour: 3, unmatched: {} })
  })

  test('offers older than an hour are forgotten', async () => {
    clock.advance(55 * MINUTE)
    // The first offer (65 minutes ago) is gone, and with it the only memory, site, cuda and RHEL_8 offered.
    const left = await diagnostics()
    expect(left).toEqual({ queued: 6, offers_last_hour: 2, unmatched: { memory: 2, cuda: 1, os: 1, site: 1 } })
    // Most unmet first, then by name.
    expect(Object.keys(left.unmatched)).toEqual(['memory', 'cuda', 'os', 'site'])
    clock.advance(10 * MINUTE)
    expect(await diagnostics()).toEqual({ queued: 6, offers_last_hour: 0, unmatched: { cpu: 3, gpu: 2, memory: 2, os: 2, cuda: 1, disk: 1, site: 1, time: 1 } })
  })

  test('admins and readers of the dataset may ask; services may not', async () => {
    const group = (JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text) as { group: string }).group
    expect((await t.call('GET', `/datasets/${datasetId}/queue_diagnostics`, { token: await t.token('anonymous', { groups: [group], ttl: 86_400 }) })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${datasetId}/queue_diagnostics`, { token: await t.token('system', { ttl: 86_400 }) })).status).toBe(403)
  })
})

describe('the offer log', () => {
  test('keeps a bounded summary whatever is offered, and still knows the largest numbers', () => {
    const clock = new FakeClock()
    const log = new OfferLog(clock.now)
    // An hour of offers, 300 a minute, each with values of its own under many keys; then another hour.
    // A minute's offers pass every bound: more keys than MAX_KEYS, more values of memory and host than MAX_VALUES.
    const perMinute = 300
    expect([200, perMinute].every((n) => n > MAX_KEYS) && perMinute > MAX_VALUES).toBe(true)
    const hourOfOffers = (from: number) => {
      for (let i = from; i < from + 60 * perMinute; i++) {
        const offer: Record<string, unknown> = { memory: i % 1000, host: `node${i}` }
        for (let k = 0; k < 8; k++) offer[`key${(i + k) % 200}`] = i
        log.record(offer)
        if (i % perMinute === perMinute - 1) clock.advance(MINUTE)
      }
    }
    hourOfOffers(0)
    const afterAnHour = log.heldValues()
    expect(afterAnHour).toBeLessThanOrEqual(60 * MAX_KEYS * MAX_VALUES)
    hourOfOffers(60 * perMinute)
    expect(log.heldValues()).toBeLessThanOrEqual(afterAnHour)
    const hour = log.lastHour()
    // The clock stands at the start of a minute without offers: the 59 minutes before it.
    expect(hour.offers).toBe(59 * perMinute)
    expect(hour.largest.get('memory')).toBe(999)
  })

  test('keeps no long value and a bounded amount of text per minute, also from claims that hand out nothing', async () => {
    const clock = new FakeClock()
    const app = await startTestApp({}, {}, { clock: clock.now })
    try {
      const pilot = await app.token('pilot', { ttl: 86_400 })
      // An hour of claims (no task is queued: each is answered 404), each offering four distinct strings, each longer than a minute's bound.
      for (let i = 0; i < 60; i++) {
        const requirements: Record<string, string> = { site: 'WIPAC' }
        for (let k = 0; k < 4; k++) requirements[`k${k}`] = String(i).padEnd(MAX_MINUTE_TEXT + 1, `x${k}`)
        expect((await app.call('POST', '/task_actions/process', { token: pilot, body: { requirements } })).status).toBe(404)
        clock.advance(MINUTE)
      }
      clock.advance(-MINUTE)
      const offers = app.ctx.offers
      // Only the keys and the short value are kept, once a minute.
      expect(offers.heldText()).toBe(60 * 'site"WIPAC"k0k1k2k3'.length)
      expect([...offers.lastHour().values.get('site')!]).toEqual(['"WIPAC"'])
      expect([...offers.lastHour().values.get('k0')!]).toEqual([])
    } finally {
      app.close()
    }
  })

  test("a minute's values hold at most MAX_MINUTE_TEXT characters, each at most MAX_VALUE_TEXT", () => {
    const clock = new FakeClock()
    const log = new OfferLog(clock.now)
    // Distinct values of exactly MAX_VALUE_TEXT characters of JSON (with their quotes), as many as the key and value counts allow.
    for (let i = 0; i < MAX_KEYS * MAX_VALUES; i++) log.record({ [`key${i % MAX_KEYS}`]: String(i).padEnd(MAX_VALUE_TEXT - 2, 'v') })
    expect(log.heldText()).toBeLessThanOrEqual(MAX_MINUTE_TEXT)
    expect(log.heldText()).toBeGreaterThan(MAX_MINUTE_TEXT - MAX_VALUE_TEXT)
    clock.advance(MINUTE)
    log.record({ long: 'v'.repeat(MAX_VALUE_TEXT - 1), ['k'.repeat(MAX_VALUE_TEXT + 1)]: 1 })
    expect(log.lastHour().values.get('long')!.size).toBe(0)
    expect(log.lastHour().values.has('k'.repeat(MAX_VALUE_TEXT + 1))).toBe(false)
  })
})
