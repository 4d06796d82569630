// The import graph of the project's own code (dependency-cruiser, type-only imports included):
// no cycle between files or between folders; every arrow points down the layers — common <
// service < migration engine < runbooks' lib < lab < runbooks < CLI; one package reaches another
// only by its name (its package.json's exports), never by a relative path; scripts (bench, setup)
// and tests may use anything, and nothing of the product imports them.
import assert from 'node:assert/strict'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import { cruise, type ICruiseResult } from 'dependency-cruiser'

const ROOTS = ['packages/common/src', 'packages/migrate/src', 'services/ocean/src', 'services/ocean/runtime.ts', 'runbooks', 'infra', 'scripts']
type Graph = Map<string, Set<string>>

let files: Graph
/** Every import of a product file into another package: [from, to, the specifier written]. */
let crossings: [string, string, string][]

before(async () => {
  const out = await cruise(ROOTS, { tsPreCompilationDeps: true, doNotFollow: { path: 'node_modules' }, exclude: { path: 'node_modules' } }, { extensions: ['.ts', '.js', '.mjs', '.json'], conditionNames: ['import', 'node', 'default'], exportsFields: ['exports'], symlinks: true })
  const result = out.output as ICruiseResult
  files = new Map()
  crossings = []
  // Workspace packages are reached through node_modules/@ocean-ops/* links; dependency-cruiser
  // reports the real paths (packages/..., services/...), which is what the graph is about.
  for (const m of result.modules) {
    if (m.coreModule || m.source.includes('node_modules')) continue
    const deps = m.dependencies.filter((d) => !d.coreModule && !d.couldNotResolve && !d.resolved.includes('node_modules'))
    files.set(m.source, new Set(deps.map((d) => d.resolved)))
    for (const d of deps) if (packageOf(m.source) !== packageOf(d.resolved)) crossings.push([m.source, d.resolved, d.module])
  }
})

/** Strongly connected components with more than one member (or a self-loop): the cycles. */
function cycles(g: Graph): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || g.get(v)?.has(v)) out.push(scc.sort())
    }
  }
  for (const v of g.keys()) if (!idx.has(v)) visit(v)
  return out
}

const within = (folder: string, ancestor: string) => folder === ancestor || folder.startsWith(`${ancestor}/`)

/**
 * Folder to folder. An arrow between a folder and one it contains is left out: a folder's loose
 * files are its shared ground (errors.ts, ops-error.ts) or its entry point (app.ts, run-migration.ts), and
 * the layers above say which arrows those may have.
 */
function folders(g: Graph): Graph {
  const f: Graph = new Map()
  for (const [from, tos] of g) {
    const a = path.dirname(from)
    if (!f.has(a)) f.set(a, new Set())
    for (const to of tos) {
      const b = path.dirname(to)
      if (!within(a, b) && !within(b, a)) f.get(a)!.add(b)
    }
  }
  return f
}

/** The workspace package a file belongs to ('' for the root package: runbooks, infra, scripts, test). */
function packageOf(file: string): string {
  return /^(services\/ocean|packages\/[^/]+)\//.exec(file)?.[1] ?? ''
}

/** The layer of a file: higher layers may import lower ones, never the other way. */
function layer(file: string): number | null {
  if (file.startsWith('packages/common/')) return 0
  if (file.startsWith('services/ocean/')) return 1
  if (file.startsWith('packages/migrate/')) return 2
  if (file.startsWith('runbooks/lib/')) return 3
  if (file.startsWith('runbooks/lab/')) return 4
  if (file.startsWith('runbooks/cli/') || file.startsWith('runbooks/bin/')) return 6
  if (/^runbooks\/[^/]+\.ts$/.test(file)) return 5
  return null // infra, scripts: outside the layers
}

describe('the import graph', () => {
  it('is read (a sanity check on the cruise itself)', () => {
    assert.ok(files.size > 100, `${files.size} files`)
    assert.ok(files.get('runbooks/rehearse.ts')?.has('runbooks/lab/lab.ts'), 'rehearse.ts imports the lab')
  })

  it('has no cycle between files', () => {
    assert.deepEqual(cycles(files), [])
  })

  it('has no cycle between folders', () => {
    assert.deepEqual(cycles(folders(files)), [])
  })

  it('points down the layers: common < service < engine < lib < lab < runbooks < CLI', () => {
    const up: string[] = []
    for (const [from, tos] of files) {
      const a = layer(from)
      for (const to of tos) {
        const b = layer(to)
        if (a !== null && b !== null && b > a) up.push(`${from} -> ${to}`)
      }
    }
    assert.deepEqual(up, [])
  })

  it('reaches another package only by its name, never by a relative path into it', () => {
    const product = (f: string) => /^(packages|services|runbooks|infra)\//.test(f)
    const byPath = crossings.filter(([from, to, spec]) => product(from) && (packageOf(from) !== '' || packageOf(to) !== '') && spec.startsWith('.'))
    assert.deepEqual(byPath.map(([from, , spec]) => `${from}: ${spec}`), [])
    assert.ok(crossings.some(([from, , spec]) => from.startsWith('runbooks/') && spec === '@ocean-ops/migrate'), 'the runbooks use the engine by its name')
  })

  it('nothing of the product imports scripts/ or the tests', () => {
    const product = (f: string) => /^(packages|services|runbooks|infra)\//.test(f)
    const bad = [...files].flatMap(([from, tos]) => (!product(from) ? [] : [...tos].filter((t) => t.startsWith('scripts/') || t.startsWith('test/')).map((t) => `${from} -> ${t}`)))
    assert.deepEqual(bad, [])
  })
})
