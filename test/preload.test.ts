/**
 * A plain `bun test` runs its files on parallel workers (test/preload.ts) and
 * still fails when a file fails; ICEPROD_TEST_SERIAL=1 keeps one process.
 */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from './server-process'

const projects: string[] = []
afterAll(() => {
  for (const dir of projects) rmSync(dir, { recursive: true, force: true })
})

/** A project of two test files, one failing, whose bunfig preloads ours. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-preload-'))
  projects.push(dir)
  writeFileSync(join(dir, 'bunfig.toml'), `[test]\npreload = [${JSON.stringify(join(import.meta.dir, 'preload.ts'))}]\n`)
  writeFileSync(join(dir, 'passes.test.ts'), `import { test } from 'bun:test'\ntest('passes', () => console.log('worker', process.env.BUN_TEST_WORKER_ID ?? 'none'))\n`)
  writeFileSync(join(dir, 'fails.test.ts'), `import { expect, test } from 'bun:test'\ntest('fails', () => expect(1).toBe(2))\n`)
  return dir
}

async function runTests(dir: string, env: Record<string, string> = {}) {
  // As a plain `bun test` from a shell: not a worker, and serial only when `env` says so.
  const environment: Record<string, string | undefined> = { ...process.env }
  delete environment.BUN_TEST_WORKER_ID
  delete environment.ICEPROD_TEST_SERIAL
  Object.assign(environment, env)
  const { code, stdout, stderr } = await run([process.execPath, 'test'], environment, 4_000, dir)
  return { code, output: stdout + stderr }
}

test('a plain `bun test` runs its files on one worker per core and exits 1 when one fails', async () => {
  const { code, output } = await runTests(project())
  // A machine of one core keeps the one process.
  if (availableParallelism() > 1) {
    expect(output).toContain(`${availableParallelism()}x PARALLEL`)
    expect(output).toMatch(/worker [1-9]/)
  } else expect(output).toContain('worker none')
  expect(output).toContain('1 pass')
  expect(output).toContain('1 fail')
  expect(code).toBe(1)
})

test('ICEPROD_TEST_SERIAL=1 runs every file in one process, and exits 1 when one fails', async () => {
  const { code, output } = await runTests(project(), { ICEPROD_TEST_SERIAL: '1' })
  expect(output).not.toContain('PARALLEL')
  expect(output).toContain('worker none')
  expect(output).toContain('1 fail')
  expect(code).toBe(1)
})
