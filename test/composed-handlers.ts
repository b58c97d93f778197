/**
 * Prints, as JSON, the code of every function Elysia and TypeBox generate
 * for the app's routes (request handlers, context builders, validators), all
 * composed at start. Run from source and compiled with the build's flags by
 * test/build.test.ts, which compares the two.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const generated: string[] = []
const record = (args: unknown[]) => generated.push(args.map(String).join('\n'))
globalThis.Function = new Proxy(Function, {
  apply(target, self, args) {
    record(args)
    return Reflect.apply(target, self, args)
  },
  construct(target, args) {
    record(args)
    return Reflect.construct(target, args)
  },
})

// Imported after Function is wrapped; no top-level await, which `bun build --bytecode` refuses.
void import('../src/app').then(async ({ createApp }) => {
  const { loadConfig } = await import('../src/config')
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-composed-'))
  const { app, close } = createApp(loadConfig({ db: join(dir, 'iceprod.sqlite'), jwtSecret: 'composed-handlers-secret-composed-handlers' }, {}))
  // Every route is composed at listen instead of at its first request.
  ;(app.config as { precompile?: boolean }).precompile = true
  app.listen({ hostname: '127.0.0.1', port: 0 })
  await app.stop()
  close()
  rmSync(dir, { recursive: true, force: true })
  await Bun.write(Bun.stdout, JSON.stringify(generated))
  process.exit(0)
})
