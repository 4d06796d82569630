// The engine as it runs in the Ocean image: src/main.ts bundled by esbuild into dist/main.mjs, and
// the read-back worker thread into dist/sums-thread.mjs beside it (targets/sums.ts starts that file
// when it exists, else the tsx shim next to its source). The workspace packages it imports
// (@ocean-ops/common, the service's stores) go into the bundle; npm packages stay external and are
// installed beside it from this package's declared dependencies. No TypeScript loader at run time.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ENGINE_DIR = path.dirname(fileURLToPath(import.meta.url))
export const ENGINE_BUNDLE = 'dist/main.mjs'

/** Bundles into <outDir>/dist (default: this package's own), each file written whole; returns the main bundle's path. */
export async function bundleEngine(outDir = ENGINE_DIR): Promise<string> {
  const { build } = await import('esbuild')
  fs.mkdirSync(outDir, { recursive: true })
  const dist = path.join(outDir, 'dist')
  const tmp = fs.mkdtempSync(path.join(outDir, '.dist-'))
  try {
    await build({
      entryPoints: { main: path.join(ENGINE_DIR, 'src/main.ts'), 'sums-thread': path.join(ENGINE_DIR, 'src/targets/sums-thread.ts'), backup: path.join(ENGINE_DIR, 'src/backup-entry.ts') },
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir: tmp,
      logLevel: 'warning',
      plugins: [
        {
          name: 'npm-packages-external',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@ocean-ops/') || args.path.startsWith('node:') ? undefined : { path: args.path, external: true }))
          },
        },
      ],
    })
    fs.rmSync(dist, { recursive: true, force: true })
    fs.renameSync(tmp, dist)
    fs.chmodSync(dist, 0o755) // mkdtemp made it 0700; the image runs the engine as another user than root
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return path.join(outDir, ENGINE_BUNDLE)
}
