// The mapping: which source table goes to which target table, column by column, with what rule.
// Read from a JSON file (--mapping); what the file does not say comes from defaults found by
// introspection: a table nobody mapped is copied whole into a SQLite table of its own name, with
// each column's type rule. Pure: it turns introspected tables + a mapping into table plans.
import { OpsError } from '@ocean-ops/common'
import { affinity, storable, transformFor, TRANSFORMS, type Transform } from '../values/canonical-row.ts'
import { defaultWatermark, pagingKey, qualifiedName, type PagingKey, type SourceTable } from '../sources/introspect.ts'
import type { ColumnSource, ColumnSpec, MappingFile, TableSpec } from './mapping-file.ts'
import { OCEAN_LEGACY_MAPPING } from './ocean-legacy-mapping.ts'
import { ruleFor, textRule, type Engine, type Kind, type SqliteType, type TypeRule } from '../values/type-rules.ts'
import { quoteMysqlIdent, quoteSqlIdent } from '../values/sql-ident.ts'

export type { ColumnSource, ColumnSpec, MappingFile, TableSpec } from './mapping-file.ts'

/** A column of an existing target table (the service's schema), as PRAGMA table_info gives it. */
export interface TargetColumnInfo {
  name: string
  type: string
  notnull: boolean
  /** Position in the primary key (1-based), 0 if not part of it. */
  pk: number
}

export interface TargetSchema {
  /** The service's SQLite tables (created by its own migrations before planning). */
  sqlite: Map<string, TargetColumnInfo[]>
}

export type TargetKind = 'sqlite' | 'duckdb' | 'telemetry'

export interface ColumnPlan {
  target: string
  /** Index of the source select this column reads, or null for a constant NULL. */
  selectIndex: number | null
  sourceColumn: string | null
  rule: TypeRule | null
  transform?: Transform
  /** The kind stored (after the transform). */
  kind: Kind
  sqliteType: SqliteType
  duckdbType: string
  notNull: boolean
}

export interface TablePlan {
  /** The source table's name (schema-qualified unless public): the id in the journal and the report. */
  id: string
  source: SourceTable
  targetKind: TargetKind
  targetTable: string
  /** An existing table of the service's schema (not created by the migration). */
  serviceTable: boolean
  /** Source select expressions and the column each reads. */
  selects: string[]
  selectColumns: string[]
  columns: ColumnPlan[]
  key?: PagingKey
  keyRules: TypeRule[]
  /** Target columns of the key, in key order (upserts, deletes, key ranges); empty without a key. */
  targetKey: string[]
  /** Source key columns arrive untransformed in the target and sort alike: chunks are verified by key range. */
  rangeVerifiable: boolean
  dropped: string[]
  watermark?: { column: string; kind: 'updated' | 'monotonic' }
  appendOnly: boolean
  chunkRows: number
  /** Unique indexes for a generic target (target column names). */
  uniqueIndexes: string[][]
  /** Enum labels per target column, for a CHECK in generic SQLite tables. */
  enumChecks: Record<string, string[]>
  warnings: string[]
  reversible: { ok: true } | { ok: false; why: string }
}

const TELEMETRY_COLUMNS: Array<{ name: string; kinds: Kind[]; duck: string; notNull: boolean }> = [
  { name: 'sensor_id', kinds: ['text', 'uuid', 'int'], duck: 'VARCHAR', notNull: true },
  { name: 'ts', kinds: ['timestamp'], duck: 'TIMESTAMP', notNull: true },
  { name: 'value', kinds: ['double', 'int'], duck: 'DOUBLE', notNull: false },
  { name: 'data', kinds: ['json', 'text'], duck: 'VARCHAR', notNull: false },
]

export function quoteIdent(engine: Engine, name: string): string {
  return engine === 'postgres' ? quoteSqlIdent(name) : quoteMysqlIdent(name)
}

/** How `migrate-data --on-new-host` hands a --mapping to the engine in its container. */
export const MAPPING_ENV = 'OCEAN_MIGRATE_MAPPING'

/** The mapping handed over in the environment (see MAPPING_ENV), validated; undefined without one. */
export function mappingFromEnv(env: NodeJS.ProcessEnv): MappingFile | undefined {
  const text = env[MAPPING_ENV]
  return text ? parseMappingFile(text, `the mapping in ${MAPPING_ENV}`) : undefined
}

export function parseMappingFile(text: string, file = 'mapping'): MappingFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new OpsError('OPS_E_MIGRATE_MAPPING', `${file} is not valid JSON (${(e as Error).message})`)
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new OpsError('OPS_E_MIGRATE_MAPPING', `${file}: expected a JSON object with "tables"`)
  const m = parsed as MappingFile
  const problems: string[] = []
  for (const [name, spec] of Object.entries(m.tables ?? {})) {
    if (spec.target !== undefined && !/^(sqlite|duckdb)(:[A-Za-z_][A-Za-z0-9_]*)?$|^telemetry$/.test(spec.target)) {
      problems.push(`tables.${name}.target ${JSON.stringify(spec.target)}: use sqlite, duckdb, sqlite:<table>, duckdb:<table> or telemetry`)
    }
    for (const [col, cs] of Object.entries(spec.columns ?? {})) {
      for (const alt of alternatives(cs)) {
        if (alt.transform && !TRANSFORMS.includes(alt.transform)) problems.push(`tables.${name}.columns.${col}: unknown transform ${alt.transform} (known: ${TRANSFORMS.join(', ')})`)
        if (alt.type !== undefined && alt.type !== 'text') problems.push(`tables.${name}.columns.${col}: type may only be "text"`)
        if (!alt.from && !alt.null) problems.push(`tables.${name}.columns.${col}: say "from" (a source column) or "null": true`)
      }
    }
    if (spec.chunkRows !== undefined && (!Number.isInteger(spec.chunkRows) || spec.chunkRows < 1)) problems.push(`tables.${name}.chunkRows must be a positive integer`)
  }
  if (problems.length) throw new OpsError('OPS_E_MIGRATE_MAPPING', `${file}:\n  ${problems.join('\n  ')}`)
  return m
}

function alternatives(cs: ColumnSpec): ColumnSource[] {
  if (typeof cs === 'string') return [{ from: cs }]
  return Array.isArray(cs) ? cs : [cs]
}

function lookupSpec(tables: Record<string, TableSpec> | undefined, t: SourceTable): TableSpec | undefined {
  if (!tables) return undefined
  return tables[qualifiedName(t)] ?? tables[`${t.schema}.${t.name}`] ?? (t.schema === 'public' || t.schema === '' ? tables[t.name] : undefined)
}

export interface PlanOptions {
  defaultChunkRows?: number
  /** Rows per chunk for DuckDB targets (staged in bulk; default 125k: larger chunks were no faster,
   * and the chunk staged in memory sets the copy's peak memory). */
  duckdbChunkRows?: number
}

/** Turns introspected source tables and a mapping into one plan per table to copy. */
export function buildPlans(engine: Engine, tables: SourceTable[], mapping: MappingFile, target: TargetSchema, opts: PlanOptions = {}): TablePlan[] {
  const preset = mapping.preset === 'none' ? undefined : OCEAN_LEGACY_MAPPING.tables
  const problems: string[] = []
  const plans: TablePlan[] = []
  const usedTargets = new Map<string, string>()
  const known = new Set(tables.map((t) => qualifiedName(t)))
  for (const name of Object.keys(mapping.tables ?? {})) {
    if (!known.has(name) && !tables.some((t) => `${t.schema}.${t.name}` === name)) problems.push(`tables.${name}: no such table in the source`)
  }
  for (const t of tables) {
    const id = qualifiedName(t)
    if (mapping.include && !mapping.include.includes(id)) continue
    if (mapping.exclude?.includes(id)) continue
    const own = lookupSpec(mapping.tables, t)
    const presetSpec = own ? undefined : lookupSpec(preset, t)
    let spec = own ?? presetSpec ?? {}
    if (spec.skip) continue
    try {
      if (presetSpec && !presetFits(presetSpec, t)) spec = {}
      const plan = planTable(engine, t, spec, mapping, target, opts)
      const tk = `${plan.targetKind}:${plan.targetTable}`
      const other = usedTargets.get(tk)
      if (other) problems.push(`${id} and ${other} both go to ${tk}; map one of them elsewhere`)
      usedTargets.set(tk, id)
      plans.push(plan)
    } catch (e) {
      if (e instanceof OpsError) problems.push(`${id}: ${e.message}`)
      else throw e
    }
  }
  if (problems.length) throw new OpsError('OPS_E_MIGRATE_MAPPING', `the mapping does not fit the source:\n  ${problems.join('\n  ')}`)
  return plans
}

/** A preset entry applies only if every column it needs exists (else the table is copied generically). */
function presetFits(spec: TableSpec, t: SourceTable): boolean {
  const names = new Set(t.columns.map((c) => c.name))
  return Object.values(spec.columns ?? {}).every((cs) => alternatives(cs).some((a) => a.null || (a.from !== undefined && names.has(a.from))))
}

function parseTarget(spec: TableSpec, t: SourceTable, target: TargetSchema): { kind: TargetKind; table: string } {
  const raw = spec.target ?? 'sqlite'
  if (raw === 'telemetry') return { kind: 'telemetry', table: 'telemetry' }
  const [kind, table] = raw.split(':') as [TargetKind, string | undefined]
  if (table) return { kind, table }
  let name = t.schema === 'public' || t.schema === '' ? t.name : `${t.schema}_${t.name}`
  // A source table that is not mapped onto a service table must not land in one by its name.
  if ((kind === 'sqlite' && target.sqlite.has(name)) || name.startsWith('migrate_') || name.startsWith('telemetry')) name = `legacy_${name}`
  return { kind, table: name }
}

function planTable(engine: Engine, t: SourceTable, spec: TableSpec, mapping: MappingFile, target: TargetSchema, opts: PlanOptions): TablePlan {
  const id = qualifiedName(t)
  const { kind: targetKind, table: targetTable } = parseTarget(spec, t, target)
  const timeZone = spec.timeZone ?? mapping.timeZone
  const warnings: string[] = []
  const byName = new Map(t.columns.map((c) => [c.name, c]))
  const ruleOf = (name: string, asText: boolean): TypeRule => {
    const col = byName.get(name)
    if (!col) throw new OpsError('OPS_E_MIGRATE_MAPPING', `no column ${name}`)
    return asText ? textRule(engine, col) : ruleFor(engine, col, { timeZone, byteOrderedText: isByteOrdered(col.collation) })
  }
  const selects: string[] = []
  const selectColumns: string[] = []
  const selectIndex = new Map<string, number>()
  const selectFor = (name: string, r: TypeRule, asText: boolean): number => {
    const k = `${name}\u0000${asText}`
    let i = selectIndex.get(k)
    if (i === undefined) {
      i = selects.length
      selects.push(r.select(quoteIdent(engine, name)))
      selectColumns.push(name)
      selectIndex.set(k, i)
    }
    return i
  }

  const serviceCols = targetKind === 'sqlite' ? target.sqlite.get(targetTable) : undefined
  const serviceTable = Boolean(serviceCols)
  if (targetKind === 'telemetry' && !spec.columns) throw new OpsError('OPS_E_MIGRATE_MAPPING', 'a telemetry target needs "columns" for sensor_id, ts, value, data')
  if (serviceTable && !spec.columns) throw new OpsError('OPS_E_MIGRATE_MAPPING', `${targetTable} is a table of the service's schema: map its columns ("columns")`)

  // Target column -> chosen source.
  const wanted: Array<[string, ColumnSource]> = []
  if (spec.columns) {
    for (const [tc, cs] of Object.entries(spec.columns)) {
      const alt = alternatives(cs).find((a) => a.null || (a.from !== undefined && byName.has(a.from)))
      if (!alt) {
        const names = alternatives(cs).map((a) => a.from).filter(Boolean).join(' or ')
        throw new OpsError('OPS_E_MIGRATE_MAPPING', `target column ${tc}: source column ${names} does not exist`)
      }
      wanted.push([tc, alt])
    }
  } else {
    for (const c of t.columns) if (!spec.drop?.includes(c.name)) wanted.push([c.name, { from: c.name }])
  }

  const columns: ColumnPlan[] = []
  for (const [tc, alt] of wanted) {
    if (alt.null || !alt.from) {
      columns.push({ target: tc, selectIndex: null, sourceColumn: null, rule: null, kind: 'text', sqliteType: 'TEXT', duckdbType: 'VARCHAR', notNull: false })
      continue
    }
    const asText = alt.type === 'text'
    const r = ruleOf(alt.from, asText)
    if (r.warning) warnings.push(`${alt.from}: ${r.warning}`)
    let kind = r.kind
    if (alt.transform) kind = transformFor(alt.transform, r.kind).produces
    const src = byName.get(alt.from)
    columns.push({
      target: tc,
      selectIndex: selectFor(alt.from, r, asText),
      sourceColumn: alt.from,
      rule: r,
      transform: alt.transform,
      kind,
      sqliteType: r.sqliteType,
      duckdbType: r.duckdbType,
      notNull: Boolean(src && !src.nullable && !r.forceNullable),
    })
  }

  // Check the columns against the target's own schema.
  if (serviceCols) {
    for (const c of columns) {
      const info = serviceCols.find((s) => s.name === c.target)
      if (!info) throw new OpsError('OPS_E_MIGRATE_MAPPING', `${targetTable} has no column ${c.target}`)
      c.sqliteType = affinity(info.type)
      c.notNull = info.notnull
      if (c.rule && !storable(c.kind, c.sqliteType)) {
        throw new OpsError('OPS_E_MIGRATE_MAPPING', `${c.sourceColumn} (${c.kind}) cannot go into ${targetTable}.${c.target} (${info.type}) without loss${c.kind === 'timestamp' ? '; add "transform": "epoch-ms"' : ''}`)
      }
      if (!c.rule && info.notnull) throw new OpsError('OPS_E_MIGRATE_MAPPING', `${targetTable}.${c.target} is NOT NULL; map a source column to it`)
    }
    for (const info of serviceCols) {
      if (!columns.some((c) => c.target === info.name) && info.notnull) {
        throw new OpsError('OPS_E_MIGRATE_MAPPING', `${targetTable}.${info.name} is NOT NULL and nothing is mapped to it`)
      }
    }
  } else if (targetKind === 'telemetry') {
    for (const tc of TELEMETRY_COLUMNS) {
      const c = columns.find((x) => x.target === tc.name)
      if (!c || !c.rule) throw new OpsError('OPS_E_MIGRATE_MAPPING', `telemetry needs a source column for ${tc.name}`)
      if (!tc.kinds.includes(c.kind)) throw new OpsError('OPS_E_MIGRATE_MAPPING', `telemetry.${tc.name} takes ${tc.kinds.join('/')}, not ${c.kind} (${c.sourceColumn})`)
      if (c.transform) throw new OpsError('OPS_E_MIGRATE_MAPPING', `telemetry.${tc.name}: transforms are not supported for DuckDB targets`)
      c.duckdbType = tc.duck
      c.notNull = tc.notNull
      if (c.kind === 'int' && tc.name === 'value') warnings.push(`value: integers above 2^53 lose precision in telemetry's DOUBLE column`)
    }
    const extra = columns.filter((c) => !TELEMETRY_COLUMNS.some((tc) => tc.name === c.target))
    if (extra.length) throw new OpsError('OPS_E_MIGRATE_MAPPING', `telemetry has no column ${extra.map((c) => c.target).join(', ')}`)
    columns.sort((a, b) => TELEMETRY_COLUMNS.findIndex((x) => x.name === a.target) - TELEMETRY_COLUMNS.findIndex((x) => x.name === b.target))
  } else if (targetKind === 'duckdb') {
    for (const c of columns) if (c.transform) throw new OpsError('OPS_E_MIGRATE_MAPPING', `${c.target}: transforms are not supported for DuckDB targets`)
  }

  const usedSources = new Set(columns.map((c) => c.sourceColumn).filter(Boolean))
  const dropped = t.columns.map((c) => c.name).filter((n) => !usedSources.has(n))
  for (const d of dropped) {
    if (!spec.drop?.includes(d)) warnings.push(`${d}: not mapped to any target column, so not copied (list it under "drop" to confirm)`)
  }

  const key = pagingKey(t)
  const keyRules = key ? key.columns.map((k) => ruleOf(k, false)) : []
  if (!key) warnings.push('no primary key and no NOT NULL unique key: copied whole and verified as a whole; a resumed copy starts it again')
  else if (key.source === 'unique key') warnings.push(`no primary key: paged by the unique key (${key.columns.join(', ')})`)

  // Where the key lands in the target.
  let targetKey: string[] = []
  let rangeVerifiable = false
  if (serviceCols) {
    targetKey = serviceCols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name)
    if (targetKey.length === 0) targetKey = [] // a rowid table without a declared key: none of ours
    const keyCols = targetKey.map((tk) => columns.find((c) => c.target === tk))
    if (keyCols.some((c) => !c || !c.rule)) throw new OpsError('OPS_E_MIGRATE_MAPPING', `the key of ${targetTable} (${targetKey.join(', ')}) must be mapped from source columns`)
    rangeVerifiable = Boolean(key) && key!.columns.length === targetKey.length && keyCols.every((c, i) => c!.sourceColumn === key!.columns[i] && !c!.transform && c!.rule!.rangeOrdered)
  } else if (targetKind !== 'telemetry' && key) {
    const keyCols = key.columns.map((k) => columns.find((c) => c.sourceColumn === k && !c.transform))
    if (keyCols.some((c) => !c)) throw new OpsError('OPS_E_MIGRATE_MAPPING', `the key ${key.columns.join(', ')} must be copied (untransformed) to a generic target`)
    targetKey = keyCols.map((c) => c!.target)
    rangeVerifiable = keyCols.every((c) => c!.rule!.rangeOrdered)
  }

  let watermark: TablePlan['watermark']
  if (spec.watermark) {
    const c = byName.get(spec.watermark)
    if (!c) throw new OpsError('OPS_E_MIGRATE_MAPPING', `watermark column ${spec.watermark} does not exist`)
    watermark = { column: c.name, kind: /timestamp|datetime/i.test(c.dataType) ? 'updated' : 'monotonic' }
  } else {
    watermark = defaultWatermark(t)
  }

  const uniqueIndexes: string[][] = []
  const enumChecks: Record<string, string[]> = {}
  if (!serviceTable && targetKind !== 'telemetry') {
    for (const u of t.uniqueIndexes) {
      const cols = u.map((s) => columns.find((c) => c.sourceColumn === s && !c.transform)?.target)
      if (cols.every(Boolean) && cols.join() !== targetKey.join()) uniqueIndexes.push(cols as string[])
    }
    for (const c of columns) {
      const labels = c.sourceColumn ? byName.get(c.sourceColumn)?.enumLabels : undefined
      if (labels && labels.length && !c.transform) enumChecks[c.target] = labels
    }
  }

  let reversible: TablePlan['reversible'] = { ok: true }
  if (engine !== 'postgres') reversible = { ok: false, why: 'reverse sync writes to PostgreSQL only' }
  else if (targetKind === 'telemetry') reversible = { ok: true }
  else if (targetKey.length === 0 || !key) reversible = { ok: false, why: 'no key: rows changed on the new side cannot be matched to source rows' }
  else {
    const irreversible = columns.find((c) => c.transform && !transformFor(c.transform, c.rule!.kind).reversible && targetKey.includes(c.target))
    if (irreversible) reversible = { ok: false, why: `its key ${irreversible.target} is ${irreversible.transform}(${irreversible.sourceColumn}), which cannot be undone` }
  }

  const chunkRows = spec.chunkRows ?? (targetKind === 'sqlite' ? opts.defaultChunkRows ?? 20_000 : opts.duckdbChunkRows ?? 125_000)
  return {
    id,
    source: t,
    targetKind,
    targetTable,
    serviceTable,
    selects,
    selectColumns,
    columns,
    key,
    keyRules,
    targetKey,
    rangeVerifiable,
    dropped,
    watermark,
    appendOnly: Boolean(spec.appendOnly) || targetKind === 'telemetry',
    chunkRows,
    uniqueIndexes,
    enumChecks,
    warnings,
    reversible,
  }
}

function isByteOrdered(collation: string | null | undefined): boolean {
  return collation === 'C' || collation === 'POSIX' || collation === 'ucs_basic'
}
