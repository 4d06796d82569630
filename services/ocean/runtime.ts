// How the Ocean service runs where it is deployed (its image), and where the benchmarks and crash
// tests measure it: src/ and the npm packages it imports bundled by esbuild into main.mjs and the
// chunks each role imports, minified (no TypeScript loader at run time: its hooks thread and
// transform cache cost ~28 MB of idle RSS), a 4 MB V8 semi-space and one malloc arena. Measured
// under single-event ingest load (one process, 50 connections, 2 cores, RSS peak): ~200 MB with
// tsx; bundled ~165 MB; + MALLOC_ARENA_MAX=1 and a 4 MB semi-space ~141 MB (2 MB: ~136 MB but
// visibly fewer requests per second). The packages in the bundle, minified: each process holds
// their source text (V8 keeps it to compile functions lazily), ~2 MB of it as the packages ship it
// and ~0.8 MB minified; measured with 7 API processes + engine under bench 12's load, the largest
// API process 81.6-83.4 MB against 89.3-90.8 MB with the packages loaded from node_modules, the
// supervisor 50 MB against 57 MB. Native addons (better-sqlite3, DuckDB) stay in node_modules.
// DUCKDB_JE_MALLOC_CONF: DuckDB's node bindings allocate its memory with their own jemalloc (its
// symbols prefixed duckdb_je_; glibc's malloc and MALLOC_ARENA_MAX do not reach it), which DuckDB
// starts with one arena per core, freed pages kept 1 s, then handed back lazily (MADV_FREE, still
// counted in RSS) for another second. One arena, and freed pages handed back at once after that
// second (muzzy_decay_ms:0): the engine's memory outside V8 at its RSS peak through bench 12's 3.4
// M-event backlog 206-226 MB against 211-262 MB (engine probe, 4 runs each, alternating), the backlog
// stored in as long. Handing pages back at once (dirty_decay_ms:0 as well) kept 5-10 MB less but
// stored the backlog 20-30 % slower. API processes and the supervisor do not load DuckDB.
// The Dockerfile repeats NODE_FLAGS and RUNTIME_ENV (a unit test holds them equal).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BuildOptions } from 'esbuild'

export const SERVICE_DIR = path.dirname(fileURLToPath(import.meta.url))
/** The bundle, relative to the service's directory (native addons stay external: node_modules next to it). */
export const BUNDLE = 'dist/main.mjs'
/** npm packages with a native addon: loaded from node_modules at run time, not bundled. */
export const NATIVE_PACKAGES = ['better-sqlite3', '@duckdb/node-api', '@duckdb/node-bindings']
export const NODE_FLAGS = ['--max-semi-space-size=4']
export const RUNTIME_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '1', DUCKDB_JE_MALLOC_CONF: 'narenas:1,muzzy_decay_ms:0' }

/** esbuild's options for the service's bundle, written to `outdir`. */
export function serviceBuildOptions(outdir: string): BuildOptions {
  return {
    entryPoints: { main: path.join(SERVICE_DIR, 'src/main.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Packages with a native addon load it from node_modules; everything else is in the bundle.
    external: NATIVE_PACKAGES,
    minify: true,
    // Function and class names kept: stack traces, pino's error `type` and Fastify's plugin names read them.
    keepNames: true,
    // The CommonJS packages' require() of node's own modules, in an ES module.
    banner: { js: "import { createRequire as __oceanRequire } from 'node:module'; const require = __oceanRequire(import.meta.url);" },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    logLevel: 'warning',
  }
}

/**
 * Bundles src/main.ts into <outDir>/dist (default: this checkout's services/ocean): main.mjs and the
 * chunks it imports by role (split at main's dynamic imports, so the supervisor never loads the HTTP
 * stack or the stores). Chunks are named by their content, so they are moved in first and main.mjs
 * last, each by a rename: processes bundling at once, or running the previous bundle, never see half
 * a file or a main.mjs without its chunks. Chunks no bundle has written for an hour are removed.
 * Returns main.mjs's path.
 */
export async function bundleService(outDir = SERVICE_DIR): Promise<string> {
  const { build } = await import('esbuild')
  const dist = path.dirname(path.join(outDir, BUNDLE))
  fs.mkdirSync(dist, { recursive: true })
  fs.chmodSync(dist, 0o755) // the image runs the service as another user than root
  const tmp = fs.mkdtempSync(path.join(dist, '.build-'))
  try {
    await build(serviceBuildOptions(tmp))
    const chunks = fs.readdirSync(tmp).filter((f) => f !== path.basename(BUNDLE))
    for (const f of chunks) fs.renameSync(path.join(tmp, f), path.join(dist, f))
    fs.renameSync(path.join(tmp, path.basename(BUNDLE)), path.join(outDir, BUNDLE))
    const now = Date.now()
    for (const f of fs.readdirSync(dist)) {
      if (!/^chunk-.*\.mjs$/.test(f) || chunks.includes(f)) continue
      const file = path.join(dist, f)
      try {
        if (now - fs.statSync(file).mtimeMs > 3_600_000) fs.rmSync(file, { force: true })
      } catch {
        // removed by another bundler meanwhile
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return path.join(outDir, BUNDLE)
}

/** The argv (after `node`) and environment that run a bundle the way the image does. */
export function runtimeCommand(bundle: string): { args: string[]; env: Record<string, string> } {
  return { args: [...NODE_FLAGS, bundle], env: { ...RUNTIME_ENV } }
}
