// The Ocean image: stage a build context from the packages it carries — the service and the
// migration engine (it runs on the new host, beside the files it writes), each as its bundle, its
// package.json and the production dependencies that package.json declares, copied from this
// checkout's install — and build services/ocean/Dockerfile from it. The tag is a content hash of
// the lockfile, the packages' sources and the Dockerfile: same inputs, same image.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { OpsError } from '@ocean-ops/common'
import { bundleEngine } from '@ocean-ops/migrate/build'
import { bundleService } from '@ocean-ops/ocean/runtime'
import { buildImage, contentHash, ensureNodeBase, imageExists, type Log } from './local-images.ts'

/** The workspace packages in the image: what runs there is their bundles (dist/) and their declared dependencies. */
export const IMAGE_PACKAGES = [
  { name: '@ocean-ops/ocean', dir: 'services/ocean' },
  { name: '@ocean-ops/migrate', dir: 'packages/migrate' },
] as const

/** Everything a package's bundle is built from (the workspace packages it bundles included). */
const BUILD_INPUTS = ['services/ocean/package.json', 'services/ocean/src', 'services/ocean/runtime.ts', 'packages/migrate/package.json', 'packages/migrate/src', 'packages/migrate/build.ts', 'packages/common/src']

export function oceanImageTag(repoRoot: string): string {
  return `ocean:${contentHash([
    { path: path.join(repoRoot, 'package-lock.json') },
    { path: path.join(repoRoot, 'services/ocean/Dockerfile') },
    ...BUILD_INPUTS.map((p) => ({ path: path.join(repoRoot, p) })),
    // How the context is staged is an input too.
    { path: path.join(repoRoot, 'runbooks/lib/images/ocean-image.ts') },
  ])}`
}

/**
 * Paths (relative to the repository root) of a workspace package's production dependency closure,
 * from `npm ls --workspace NAME --omit=dev --all --parseable`: hoisted ones under node_modules/
 * and a workspace's own under <its dir>/node_modules/ (versions that differ from the hoisted ones);
 * the links to workspace packages are left out (their code is in the bundles). The staged context
 * keeps that layout so Node resolves exactly as it does in this checkout.
 */
export function prodDependencyDirs(npmLsParseable: string, repoRoot: string): string[] {
  const rel = npmLsParseable
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(repoRoot + path.sep))
    .map((l) => path.relative(repoRoot, l))
    .filter((l) => /^((services|packages)\/[^/]+\/)?node_modules\//.test(l) && !l.startsWith(path.join('node_modules', '@ocean-ops') + path.sep))
  // A nested dependency is copied with its parent directory: keep only the outermost ones.
  const sorted = [...new Set(rel)].sort()
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => p.startsWith(q + path.sep)))
}

/** The production dependency directories of one workspace package, as this checkout installed them. */
export async function packageDependencyDirs(repoRoot: string, name: string): Promise<string[]> {
  const ls = await $({ quiet: true, nothrow: true, cwd: repoRoot })`npm ls --workspace ${name} --omit=dev --all --parseable`
  const dirs = prodDependencyDirs(ls.stdout, repoRoot)
  if (dirs.length === 0) throw new OpsError('OPS_E_IMAGE', `npm ls found no production dependencies of ${name}: run \`npm ci\` at the repository root`)
  return dirs
}

export async function stageOceanContext(repoRoot: string, dir: string): Promise<void> {
  if (!fs.existsSync(path.join(repoRoot, 'node_modules', '@duckdb'))) {
    throw new OpsError('OPS_E_IMAGE', 'node_modules is missing its production dependencies: run `npm ci` at the repository root first')
  }
  const dirs = new Set<string>()
  for (const p of IMAGE_PACKAGES) for (const d of await packageDependencyDirs(repoRoot, p.name)) dirs.add(d)
  for (const d of [...dirs].sort()) fs.cpSync(path.join(repoRoot, d), path.join(dir, d), { recursive: true, verbatimSymlinks: true })
  for (const p of IMAGE_PACKAGES) {
    fs.mkdirSync(path.join(dir, p.dir, 'node_modules'), { recursive: true })
    fs.copyFileSync(path.join(repoRoot, p.dir, 'package.json'), path.join(dir, p.dir, 'package.json'))
  }
  // What the image runs: the bundles (no sources, no TypeScript loader).
  await bundleService(path.join(dir, 'services/ocean'))
  await bundleEngine(path.join(dir, 'packages/migrate'))
  fs.copyFileSync(path.join(repoRoot, 'services/ocean/Dockerfile'), path.join(dir, 'Dockerfile'))
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
