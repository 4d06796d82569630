// The Ocean image: stage a build context (package.json, src/ and its bundle, the production
// node_modules copied from this checkout's install) and build services/ocean/Dockerfile from it. The tag
// is a content hash of the lockfile, the sources and the Dockerfile: same inputs, same image.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { OpsError } from '../ops-error.ts'
import { bundleService } from '../../../services/ocean/runtime.ts'
import { buildImage, contentHash, ensureNodeBase, imageExists, type Log } from './local-images.ts'

const WORKSPACE = '@ocean-ops/ocean'

/**
 * The migration engine rides in the Ocean image so it runs on the new host, beside the files it
 * writes (`migrate-data --on-new-host`): these sources and the npm packages only it needs.
 */
export const ENGINE_PATHS = ['runbooks/lib/migrate', 'runbooks/lib/reports', 'runbooks/lib/ops-error.ts']
export const ENGINE_PACKAGES = ['pg', 'pg-copy-streams', 'mysql2']

export function oceanImageTag(repoRoot: string): string {
  const svc = path.join(repoRoot, 'services/ocean')
  return `ocean:${contentHash([
    { path: path.join(repoRoot, 'package-lock.json') },
    { path: path.join(svc, 'package.json') },
    { path: path.join(svc, 'Dockerfile') },
    { path: path.join(svc, 'src') },
    { path: path.join(svc, 'runtime.ts') },
    ...ENGINE_PATHS.map((p) => ({ path: path.join(repoRoot, p) })),
    // How the context is staged is an input too (it writes runbooks/package.json).
    { path: path.join(repoRoot, 'runbooks/lib/images/ocean-image.ts') },
  ])}`
}

/**
 * The directories (relative to the repository root) of `names` and everything they depend on, as
 * Node resolves them from this checkout's node_modules (nested copies first, then hoisted ones).
 */
export function dependencyClosure(repoRoot: string, names: string[]): string[] {
  const seen = new Set<string>()
  const resolveFrom = (fromDir: string, name: string): string | undefined => {
    for (let d = fromDir; ; d = path.dirname(d)) {
      const candidate = path.join(d, 'node_modules', name)
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate
      if (d === repoRoot || d === path.dirname(d)) return undefined
    }
  }
  const visit = (dir: string) => {
    const rel = path.relative(repoRoot, dir)
    if (seen.has(rel)) return
    seen.add(rel)
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      const found = resolveFrom(dir, dep)
      if (!found) throw new OpsError('OPS_E_IMAGE', `${rel} needs ${dep}, which is not installed: run \`npm ci\` at the repository root`)
      visit(found)
    }
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
      const found = resolveFrom(dir, dep)
      if (found) visit(found)
    }
  }
  for (const name of names) {
    const dir = resolveFrom(repoRoot, name)
    if (!dir) throw new OpsError('OPS_E_IMAGE', `${name} is not installed: run \`npm ci\` at the repository root`)
    visit(dir)
  }
  const sorted = [...seen].sort()
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => p.startsWith(q + path.sep)))
}

/**
 * Paths (relative to the repository root) of the service's production dependency closure:
 * hoisted ones under node_modules/ and the workspace's own under services/ocean/node_modules/
 * (versions that differ from the hoisted ones). The staged context keeps that layout so
 * Node resolves exactly as it does in this checkout.
 */
export function prodDependencyDirs(npmLsParseable: string, repoRoot: string): string[] {
  const rel = npmLsParseable
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(repoRoot + path.sep))
    .map((l) => path.relative(repoRoot, l))
    .filter((l) => /^(services\/ocean\/)?node_modules\//.test(l) && l !== path.join('node_modules', WORKSPACE))
  // A nested dependency is copied with its parent directory: keep only the outermost ones.
  const sorted = [...new Set(rel)].sort()
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => p.startsWith(q + path.sep)))
}

export async function stageOceanContext(repoRoot: string, dir: string): Promise<void> {
  if (!fs.existsSync(path.join(repoRoot, 'node_modules', '@duckdb'))) {
    throw new OpsError('OPS_E_IMAGE', 'node_modules is missing its production dependencies: run `npm ci` at the repository root first')
  }
  const ls = await $({ quiet: true, nothrow: true, cwd: repoRoot })`npm ls --workspace ${WORKSPACE} --omit=dev --all --parseable`
  const dirs = prodDependencyDirs(ls.stdout, repoRoot)
  if (!dirs.some((d) => d.endsWith('fastify'))) {
    throw new OpsError('OPS_E_IMAGE', `npm ls found no production dependencies of ${WORKSPACE}: run \`npm ci\` at the repository root`)
  }
  for (const d of [...dirs, ...dependencyClosure(repoRoot, ENGINE_PACKAGES), ...ENGINE_PATHS]) {
    fs.cpSync(path.join(repoRoot, d), path.join(dir, d), { recursive: true, verbatimSymlinks: true })
  }
  // The engine's sources are ES modules, as the repository's package.json says; the image has no
  // root package.json, so runbooks/ says it itself (as CommonJS, the engine's worker thread could not
  // load its module: "Cannot require() ES Module ... in a cycle").
  fs.writeFileSync(path.join(dir, 'runbooks/package.json'), `${JSON.stringify({ type: 'module' })}\n`)
  const svc = path.join(repoRoot, 'services/ocean')
  fs.mkdirSync(path.join(dir, 'services/ocean/node_modules'), { recursive: true })
  fs.cpSync(path.join(svc, 'src'), path.join(dir, 'services/ocean/src'), { recursive: true })
  fs.copyFileSync(path.join(svc, 'package.json'), path.join(dir, 'services/ocean/package.json'))
  // What the image runs: src/ bundled (src/ itself stays: the migration engine imports from it).
  await bundleService(path.join(dir, 'services/ocean'))
  fs.copyFileSync(path.join(svc, 'Dockerfile'), path.join(dir, 'Dockerfile'))
}

/** Build (or reuse) the Ocean image; returns its tag. */
export async function ensureOceanImage(repoRoot: string, log: Log): Promise<string> {
  const tag = oceanImageTag(repoRoot)
  if (await imageExists(tag)) return tag
  const base = await ensureNodeBase(log)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-image-'))
  try {
    log(`staging the Ocean build context in ${dir}`)
    await stageOceanContext(repoRoot, dir)
    await buildImage({ context: dir, tag, buildArgs: { BASE_IMAGE: base } }, log)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return tag
}
