// The service's bundle as the image and the benchmarks run it: npm packages inside it (their source
// text minified: less RSS in every process), native addons loaded from node_modules.
import assert from 'node:assert/strict'
import { builtinModules } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { build } from 'esbuild'
import { NATIVE_PACKAGES, serviceBuildOptions } from '../../../services/ocean/runtime.ts'

test('service bundle: every npm package is inside it but the native addons, which stay in node_modules', async () => {
  const result = await build({ ...serviceBuildOptions(path.join(os.tmpdir(), 'ocean-bundle-unwritten')), write: false, metafile: true })
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))
  const external = new Set<string>()
  let bytes = 0
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.mjs')) continue
    bytes += output.bytes
    for (const i of output.imports) if (i.external && !builtins.has(i.path)) external.add(i.path)
  }
  assert.deepEqual([...external].sort(), [...NATIVE_PACKAGES].sort(), 'external: the native packages, and only them')
  const inputs = Object.keys(result.metafile.inputs)
  for (const p of ['fastify', 'ioredis', 'pino', 'prom-client', 'ajv']) assert.ok(inputs.some((f) => f.includes(`node_modules/${p}/`)), `${p} is bundled`)
  // Those packages as they ship are ~2 MB of source; minified the whole bundle is under half that.
  assert.ok(bytes < 1_200_000, `the bundle is minified: ${bytes} bytes`)
})
