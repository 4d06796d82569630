// How the Ocean service runs where it is deployed (its image), and where the benchmarks and crash
// tests measure it: src/ bundled by esbuild into one module (no TypeScript loader at run time: its
// hooks thread and transform cache cost ~28 MB of idle RSS), a 4 MB V8 semi-space and one malloc
// arena. Measured under single-event ingest load (one process, 50 connections, 2 cores, RSS peak):
// ~200 MB with tsx; bundled ~165 MB; + MALLOC_ARENA_MAX=1 and a 4 MB semi-space ~141 MB (2 MB: ~136
// MB but visibly fewer requests per second). The Dockerfile repeats NODE_FLAGS and RUNTIME_ENV (a
// unit test holds them equal).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const SERVICE_DIR = path.dirname(fileURLToPath(import.meta.url))
/** The bundle, relative to the service's directory (npm packages stay external: node_modules next to it). */
export const BUNDLE = 'dist/main.mjs'
export const NODE_FLAGS = ['--max-semi-space-size=4']
export const RUNTIME_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '1' }

/**
 * Bundles src/main.ts into <outDir>/dist/main.mjs (default: this checkout's services/ocean), written
 * to a temporary name and renamed, so processes bundling at once never see half a file. Returns its path.
 */
export async function bundleService(outDir = SERVICE_DIR): Promise<string> {
  const { build } = await import('esbuild')
  const out = path.join(outDir, BUNDLE)
  const tmp = `${out}.${process.pid}.tmp`
  fs.mkdirSync(path.dirname(out), { recursive: true })
  await build({
    entryPoints: [path.join(SERVICE_DIR, 'src/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: tmp,
    logLevel: 'warning',
  })
  fs.renameSync(tmp, out)
  return out
}

/** The argv (after `node`) and environment that run a bundle the way the image does. */
export function runtimeCommand(bundle: string): { args: string[]; env: Record<string, string> } {
  return { args: [...NODE_FLAGS, bundle], env: { ...RUNTIME_ENV } }
}
