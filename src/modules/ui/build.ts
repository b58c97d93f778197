/**
 * Bundles the dashboard's browser code (browser/main.tsx and the CSS it
 * imports, with Preact) and prints `{"js", "css"}` as JSON on stdout.
 *
 * Run by bundle-macro.ts in a process of its own: Bun cannot bundle from
 * inside a macro of the bundle it is making.
 */
const result = await Bun.build({
  entrypoints: [`${import.meta.dir}/browser/main.tsx`],
  target: 'browser',
  format: 'esm',
  minify: true,
  // Exact builds: the same sources always make the same bytes (and the same ETag).
  sourcemap: 'none',
})
if (!result.success) {
  for (const log of result.logs) console.error(log)
  process.exit(1)
}
const byKind: Record<string, string> = {}
for (const output of result.outputs) {
  const kind = output.path.endsWith('.css') ? 'css' : output.kind === 'entry-point' ? 'js' : undefined
  if (!kind) throw new Error(`unexpected build output ${output.path} (${output.kind})`)
  byKind[kind] = await output.text()
}
process.stdout.write(JSON.stringify({ js: byKind.js ?? '', css: byKind.css ?? '' }))
