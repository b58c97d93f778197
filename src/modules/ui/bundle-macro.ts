/**
 * A macro (imported `with { type: 'macro' }`): runs while bundle.ts is
 * transpiled, and its result, the dashboard's bundled script and styles, is
 * written into bundle.ts as string literals. `bun run build` thus embeds
 * the bundle in the executable, and a server run from the sources builds
 * the same bundle from the same sources when it first loads bundle.ts.
 */
import { createHash } from 'node:crypto'

export interface DashboardBundle {
  js: string
  css: string
  /** A hash of both, for ETags. */
  hash: string
}

export function bundleDashboard(): DashboardBundle {
  const built = Bun.spawnSync([process.execPath, `${import.meta.dir}/build.ts`], { stdout: 'pipe', stderr: 'pipe' })
  if (built.exitCode !== 0) throw new Error(`the dashboard did not build:\n${built.stderr.toString()}`)
  const { js, css } = JSON.parse(built.stdout.toString()) as { js: string; css: string }
  const hash = createHash('sha256').update(js).update('\0').update(css).digest('base64url').slice(0, 22)
  return { js, css, hash }
}
