/**
 * The executable runs the request handlers the source runs. Elysia composes
 * each route's handler from the source text of its hooks and handler (to
 * prepare only what they read); minified text can make it compose slower
 * handlers that prepare everything, silently or with a warning, so the
 * build's flags are checked here on the code it generates.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import { resolve } from 'node:path'
import { compiledLikeBuild } from './binary'

setDefaultTimeout(60_000)

async function generatedBy(cmd: string[]): Promise<string[]> {
  const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe' })
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited with ${code}: ${stderr}`)
  return JSON.parse(stdout) as string[]
}

test('compiled with the flags of `bun run build`, the app composes the same request handlers as from source', async () => {
  const [probe, fromSource] = await Promise.all([compiledLikeBuild('test/composed-handlers.ts'), generatedBy(['bun', 'test/composed-handlers.ts'])])
  const compiled = await generatedBy([resolve(probe)])
  // A handler for each of the app's routes, at least.
  expect(fromSource.filter((code) => code.includes('function handle(c)')).length).toBeGreaterThan(50)
  expect(compiled.length).toBe(fromSource.length)
  const first = compiled.findIndex((code, i) => code !== fromSource[i])
  expect(first === -1 ? 'all the same' : `from source:\n${fromSource[first]}\n\ncompiled:\n${compiled[first]}`).toBe('all the same')
})
