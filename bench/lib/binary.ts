/**
 * The executable the benchmarks measure: the one `bun run build` makes (what
 * operators run), built from the current source with that script's own flags
 * into a temporary folder, so dist/ is left alone.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmt } from './report'
import { tempDir } from './seed'

const ROOT = join(import.meta.dir, '..', '..')

/** `bun run build`'s flags (all but --outfile) and entry points, read from package.json. */
export function buildCommand(): { flags: string[]; entries: string[] } {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build
  const words = script.trim().split(/\s+/)
  if (words[0] !== 'bun' || words[1] !== 'build') throw new Error(`the build script is not one bun build command: ${script}`)
  const flags: string[] = []
  const entries: string[] = []
  for (let i = 2; i < words.length; i++) {
    const word = words[i]!
    if (word === '--outfile') i++
    else if (word.startsWith('-')) {
      if (!word.startsWith('--outfile=')) flags.push(word)
    } else if (/\.[cm]?[jt]sx?$/.test(word)) entries.push(word)
    // A flag with a separate value would be taken for an entry point here.
    else throw new Error(`the build script has a word that is neither a flag nor an entry point: ${word} (write flag values as --flag=value)`)
  }
  return { flags, entries }
}

/**
 * Compiles `entries` (the first is the program; any others are worker entry
 * points it starts) with the flags of `bun run build`; by default the build's
 * own entry points, which makes the executable `bun run build` makes.
 */
export function compileLikeBuild(outfile: string, entries?: string[]): string {
  const build = buildCommand()
  const args = ['bun', 'build', ...build.flags, ...(entries ?? build.entries), '--outfile', outfile]
  const started = performance.now()
  const r = Bun.spawnSync(args, { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr.toString()}`)
  console.log(`  built ${outfile} in ${fmt((performance.now() - started) / 1000)} s: ${args.slice(0, -2).join(' ')}`)
  return outfile
}

let built: string | undefined

/**
 * The project's executable: `$ICEPROD_BENCH_BINARY` when set (bench/run.ts
 * builds one for all its targets), otherwise built once per script into a
 * folder removed when the script exits.
 */
export function projectBinary(): string {
  const given = process.env.ICEPROD_BENCH_BINARY
  if (given) return given
  if (built === undefined) {
    const { dir, cleanup } = tempDir('binary')
    process.on('exit', cleanup)
    built = compileLikeBuild(join(dir, 'iceprod-rest'))
  }
  return built
}
