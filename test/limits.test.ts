/**
 * The limits the README states, by value: the route tests take them from the
 * code (each at its boundary), so only here would a changed value be seen.
 */
import { expect, test } from 'bun:test'
import { IN_FLIGHT_FACTOR } from '../src/auth/throttle'
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../src/modules/auth/model'
import { MAX_JOBS_SUBMITTED, MAX_TASKS_SUBMITTED } from '../src/modules/datasets/model'
import { MAX_MINUTE_TEXT, MAX_VALUE_TEXT } from '../src/modules/progress/offers'
import { MAX_QUEUE_TASKS, MAX_TIME_USED } from '../src/modules/queue/model'
import { MAX_CONFIG_TASKS, MAX_DEPENDS } from '../src/modules/scheduler/task-plan'

test('the limits are the README\'s', () => {
  expect({
    MAX_USERNAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    IN_FLIGHT_FACTOR,
    MAX_CONFIG_TASKS,
    MAX_DEPENDS,
    MAX_JOBS_SUBMITTED,
    MAX_TASKS_SUBMITTED,
    MAX_QUEUE_TASKS,
    MAX_TIME_USED,
    MAX_VALUE_TEXT,
    MAX_MINUTE_TEXT,
  }).toEqual({
    MAX_USERNAME_LENGTH: 256,
    MAX_PASSWORD_LENGTH: 1024,
    IN_FLIGHT_FACTOR: 4,
    MAX_CONFIG_TASKS: 1000,
    MAX_DEPENDS: 1000,
    MAX_JOBS_SUBMITTED: 10_000_000,
    MAX_TASKS_SUBMITTED: 10_000_000_000,
    MAX_QUEUE_TASKS: 100_000,
    MAX_TIME_USED: 1e9,
    MAX_VALUE_TEXT: 256,
    MAX_MINUTE_TEXT: 65_536,
  })
})
