/**
 * The compiled binary, exactly as `bun run build` makes it, and the other
 * programs the tests compile with its flags: each built at most once per
 * test run (whichever test asks first; the others wait for the same build,
 * in this process or another), and not again in a later run while nothing it
 * is built from has changed and no other build has replaced it.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { buildCommand } from '../bench/lib/binary'

export const BINARY = 'dist/iceprod-rest'

/** A hash of everything a build reads: Bun, the build script and dependencies, the sources, `extra` files, the command. */
function inputsHash(command: string[], extra: string[]): string {
  const hash = createHash('sha256').update(`${Bun.version} ${Bun.revision}\n${command.join(' ')}\n`)
  const files = ['package.json', 'bun.lock', 'tsconfig.json', 'bunfig.toml', ...new Bun.Glob('src/**/*').scanSync(), ...extra].sort()
  for (const file of files) hash.update(`${file}\n`).update(readFileSync(file))
  return hash.digest('hex')
}

/** What `output` was built from, and its size and time when it was. */
const stampOf = (output: string, inputs: string) => {
  const { size, mtimeMs } = statSync(output)
  return `${inputs} ${size} ${mtimeMs}\n`
}

/** A lock older than this was left by a run that was killed. */
const STALE_LOCK_MS = 120_000

/** Holds `lock` while `work` runs, so that test files run in parallel (`bun test --parallel`) build once between them. */
async function locked<T>(lock: string, work: () => Promise<T>): Promise<T> {
  mkdirSync('dist', { recursive: true })
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
    }
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
    if (age > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true })
    else await Bun.sleep(50)
  }
  try {
    return await work()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** Runs `command`, which writes `output`, unless `output` is already what it would write. */
async function build(output: string, command: string[], extraInputs: string[] = []): Promise<string> {
  const inputs = inputsHash(command, extraInputs)
  const stamp = `${output}.built-from`
  return locked(`${output}.building`, async () => {
    if (existsSync(output) && existsSync(stamp) && readFileSync(stamp, 'utf8') === stampOf(output, inputs)) return output
    const proc = Bun.spawn(command, { stdout: 'pipe', stderr: 'pipe' })
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
    if (code !== 0) throw new Error(`${command.join(' ')} failed: ${stderr}`)
    writeFileSync(stamp, stampOf(output, inputs))
    return output
  })
}

const builds = new Map<string, Promise<string>>()
const once = (output: string, start: () => Promise<string>) => builds.get(output) ?? builds.set(output, start()).get(output)!

/** The path of the binary built from the current sources. */
export function builtBinary(): Promise<string> {
  return once(BINARY, () => build(BINARY, ['bun', 'run', 'build']))
}

/** `entry` compiled with the flags of `bun run build` (test/build.test.ts compares what such a program generates with the source's). */
export function compiledLikeBuild(entry: string): Promise<string> {
  const output = `dist/${entry.replace(/\W+/g, '-')}`
  return once(output, () => build(output, ['bun', 'build', ...buildCommand().flags, entry, '--outfile', output], [entry]))
}
