/**
 * The compiled binary, exactly as `bun run build` makes it: built at most
 * once per test run (whichever test asks first; the others wait for the same
 * build, in this process or another), and not again in a later run while
 * nothing it is built from has changed and no other build has replaced it.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'

export const BINARY = 'dist/iceprod-rest'
/** What the binary was built from, and the binary's size and time when it was. */
const STAMP = 'dist/iceprod-rest.built-from'

/** A hash of everything the build reads: Bun, the build script and dependencies, the sources. */
function inputsHash(): string {
  const hash = createHash('sha256').update(`${Bun.version} ${Bun.revision}\n`)
  const files = ['package.json', 'bun.lock', 'tsconfig.json', 'bunfig.toml', ...new Bun.Glob('src/**/*').scanSync()].sort()
  for (const file of files) hash.update(`${file}\n`).update(readFileSync(file))
  return hash.digest('hex')
}

const stampOf = (inputs: string) => {
  const { size, mtimeMs } = statSync(BINARY)
  return `${inputs} ${size} ${mtimeMs}\n`
}

/** Held while a test process builds, so that test files run in parallel (`bun test --parallel`) build once between them. */
const LOCK = 'dist/iceprod-rest.building'
/** A lock older than this was left by a run that was killed. */
const STALE_LOCK_MS = 120_000

async function locked<T>(work: () => Promise<T>): Promise<T> {
  mkdirSync('dist', { recursive: true })
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
    }
    const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
    if (age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true })
    else await Bun.sleep(50)
  }
  try {
    return await work()
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

async function build(): Promise<string> {
  const inputs = inputsHash()
  return locked(async () => {
    if (existsSync(BINARY) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === stampOf(inputs)) return BINARY
    const proc = Bun.spawn(['bun', 'run', 'build'], { stdout: 'pipe', stderr: 'pipe' })
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
    if (code !== 0) throw new Error(`build failed: ${stderr}`)
    writeFileSync(STAMP, stampOf(inputs))
    return BINARY
  })
}

let built: Promise<string> | undefined

/** The path of the binary built from the current sources. */
export function builtBinary(): Promise<string> {
  return (built ??= build())
}
