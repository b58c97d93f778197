/**
 * Requirement matching (API.md 4.5.1): the rule itself, and the claim engine
 * (numeric conditions in SQL on task_queue, the rest in code) agreeing with it.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { fits, jsonEqual, numericBounds, type Requirements } from '../src/modules/queue/requirements'
import { ClaimService } from '../src/modules/queue/claims'
import { SERVER } from '../src/modules/history/service'
import { startTestApp, type TestApp } from './support'

describe('fits', () => {
  const cases: [string, Requirements, Record<string, unknown>, boolean][] = [
    ['no requirements fit any offer', {}, {}, true],
    ['cpu met by an equal offer', { cpu: 2 }, { cpu: 2 }, true],
    ['cpu met by a larger offer', { cpu: 2 }, { cpu: 8 }, true],
    ['cpu not met by a smaller offer', { cpu: 2 }, { cpu: 1 }, false],
    ['memory compares as numbers', { memory: 3.5 }, { memory: 3.49 }, false],
    ['gpu required, offer has none', { gpu: 1 }, { cpu: 8 }, false],
    ['gpu required, offer gpu 0', { gpu: 1 }, { gpu: 0 }, false],
    ['a number is not met by a string', { memory: 4 }, { memory: '8' }, false],
    ['a numeric requirement of 0 needs no offer', { gpu: 0 }, {}, true],
    ['a negative numeric requirement needs no offer', { disk: -1 }, { disk: 'none' }, true],
    ['a missing key is not met', { os: 'RHEL_7' }, {}, false],
    ['os met by an equal value', { os: 'RHEL_7' }, { os: 'RHEL_7' }, true],
    ['os not met by another value', { os: 'RHEL_7' }, { os: 'RHEL_8' }, false],
    ['os list met by any of its values', { os: ['RHEL_7', 'RHEL_8'] }, { os: 'RHEL_8' }, true],
    ['os list not met by another value', { os: ['RHEL_7', 'RHEL_8'] }, { os: 'Ubuntu' }, false],
    ['os list not met by a missing key', { os: ['RHEL_7'] }, { cpu: 1 }, false],
    ['an empty list is met by nothing', { os: [] }, { os: 'RHEL_7' }, false],
    ['a null requirement is not stated', { os: null, gpu: null }, {}, true],
    ['keys only in the offer constrain nothing', { cpu: 1 }, { cpu: 1, gpu: 4, site: 'x', os: 'y' }, true],
    ['a site name by equality', { site: 'WIPAC' }, { site: 'wipac' }, false],
    ['booleans by equality', { cvmfs: true }, { cvmfs: true }, true],
    ['objects by deep equality', { extra: { a: 1, b: [2] } }, { extra: { b: [2], a: 1 } }, true],
    ['every requirement must be met', { cpu: 1, os: 'RHEL_7' }, { cpu: 4, os: 'RHEL_8' }, false],
    ['an offered null does not meet a stated value', { os: 'RHEL_7' }, { os: null }, false],
  ]
  test.each(cases)('%s', (_name, requirements, offer, expected) => {
    expect(fits(requirements, offer)).toBe(expected)
  })

  test('inherited properties of the offer are not offered values', () => {
    expect(fits({ constructor: 'x' }, {})).toBe(false)
    expect(fits({ toString: 1 }, {})).toBe(false)
  })

  test('jsonEqual compares JSON values structurally', () => {
    expect(jsonEqual([1, { a: null }], [1, { a: null }])).toBe(true)
    expect(jsonEqual([1, 2], [2, 1])).toBe(false)
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false)
    expect(jsonEqual({ a: undefined }, { b: undefined })).toBe(false)
    expect(jsonEqual([], {})).toBe(false)
    expect(jsonEqual(null, {})).toBe(false)
  })

  test('numericBounds: the offered number, never below 0; 0 when not a number', () => {
    expect(numericBounds({ cpu: 4, gpu: -2, memory: '8', disk: null })).toEqual({ cpu: 4, gpu: 0, memory: 0, disk: 0, time: 0 })
  })
})

describe('the claim engine agrees with fits', () => {
  let t: TestApp
  let queue: ClaimService
  beforeAll(async () => {
    t = await startTestApp({ scheduler: false })
    queue = new ClaimService(t.ctx.db, t.ctx.transitions)
  })
  afterAll(() => t.close())

  // Small value domains so that ties, misses and exact fits are all common.
  const numeric = fc.oneof(fc.constantFrom(-1, 0, 0.5, 1, 2, 4, 8), fc.constant(null), fc.constantFrom('4', true))
  const word = fc.constantFrom('RHEL_7', 'RHEL_8', 'WIPAC', 'x')
  const other = fc.oneof(word, fc.array(word, { maxLength: 3 }), fc.constant(null), fc.constantFrom(1, 2))
  const requirementsArb = fc.record(
    { cpu: numeric, gpu: numeric, memory: numeric, disk: numeric, time: numeric, os: other, site: other },
    { requiredKeys: [] },
  )
  const offerArb = fc.record(
    { cpu: numeric, gpu: numeric, memory: numeric, disk: numeric, time: numeric, os: other, site: other, extra: word },
    { requiredKeys: [] },
  )
  const taskArb = fc.record({ priority: fc.constantFrom(0, 1, 5), requirements: requirementsArb })

  test('each claim takes the first fitting task in (priority DESC, creation) order', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(taskArb, { minLength: 1, maxLength: 12 }), fc.array(offerArb, { minLength: 1, maxLength: 6 }), async (tasks, offers) => {
        run++
        const db = t.ctx.sqlite
        const model = tasks.map((task, i) => ({ id: `r${run}t${i}`, ...task }))
        // Written in one transaction (one commit, not one per row), through the triggers that fill the queue.
        // Through statements prepared once (Database.run prepares its statement, with the triggers, at every call).
        db.transaction(() => {
          db.query('DELETE FROM tasks').run()
          db.query('DELETE FROM datasets').run()
          const dataset = db.query('INSERT INTO datasets (dataset_id, doc) VALUES (?, ?)')
          for (const priority of [0, 1, 5]) dataset.run(`p${priority}`, JSON.stringify({ dataset_id: `p${priority}`, priority }))
          const insert = db.query('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
          for (const task of model) {
            const doc = { task_id: task.id, dataset_id: `p${task.priority}`, status: 'queued', requirements: task.requirements }
            insert.run(task.id, JSON.stringify(doc))
          }
        })()
        // The reference: a stable sort by priority keeps creation order within a priority.
        const remaining = [...model].sort((a, b) => b.priority - a.priority)
        for (const offer of offers) {
          const index = remaining.findIndex((task) => fits(task.requirements as Requirements, offer))
          const claimed = await queue.claim(offer, SERVER)
          if (index < 0) {
            expect(claimed).toBeUndefined()
            continue
          }
          const expected = remaining.splice(index, 1)[0]!
          expect(claimed).toBeDefined()
          const doc = JSON.parse(claimed as string)
          expect(doc.task_id).toBe(expected.id)
          expect(doc.status).toBe('processing')
        }
        expect(t.count('task_queue')).toBe(remaining.length)
      }),
      { numRuns: 300 },
    )
  })
})
