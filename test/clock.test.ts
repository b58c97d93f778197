import { describe, expect, test } from 'bun:test'
import { wallClock } from '../src/clock'

/** A monotonic clock that runs `rate` times as fast as the wall clock, both moved by hand. */
function clocks(rate: number) {
  let wall = 1_700_000_000_000
  let mono = 5_000
  return {
    wall: () => wall,
    monotonic: () => mono,
    advance(ms: number) {
      wall += ms
      mono += ms * rate
    },
    step(ms: number) {
      wall += ms
    },
  }
}

describe('the wall clock', () => {
  test('starts at the wall time and keeps the monotonic clock’s fractions of a millisecond', () => {
    const c = clocks(1)
    const clock = wallClock(c.wall, c.monotonic)
    expect(clock()).toBe(1_700_000_000_000)
    c.advance(0.25)
    expect(clock()).toBe(1_700_000_000_000.25)
  })

  test('a monotonic clock running fast does not carry it away from the wall clock', () => {
    const c = clocks(1.0001) // 1 ms in 10 s
    const clock = wallClock(c.wall, c.monotonic)
    for (let second = 0; second < 3600; second++) {
      c.advance(1000)
      clock()
    }
    // Left alone it would be 360 ms ahead after an hour.
    expect(Math.abs(clock() - c.wall())).toBeLessThan(1.2)
  })

  test('follows a step of the wall clock forward within a second, and never goes back after one backward', () => {
    const c = clocks(1)
    const clock = wallClock(c.wall, c.monotonic)
    c.step(5000)
    c.advance(1000)
    expect(clock()).toBe(c.wall())
    const before = clock()
    c.step(-2000)
    c.advance(1000)
    let previous = before
    for (let i = 0; i < 40; i++) {
      const now = clock()
      expect(now).toBeGreaterThanOrEqual(previous)
      previous = now
      c.advance(100)
    }
    // Held still until the wall clock caught up, then it follows it again.
    expect(clock()).toBe(c.wall())
  })
})
