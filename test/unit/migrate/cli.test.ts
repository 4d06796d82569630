// The migrate-data command's flags, the progress line and the Markdown report, without a server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Command } from 'commander'
import { modeOf, registerMigrateDataCommand } from '../../../runbooks/cli/migrate-data.ts'
import { fmtSeconds, TableProgress } from '../../../packages/migrate/src/state/progress.ts'
import { toMarkdown, type MigrationReport } from '../../../packages/migrate/src/report.ts'

const base = { sqlite: 'a', duckdb: 'b', journal: 'j', report: 'r' }

describe('migrate-data flags', () => {
  it('pick one mode; --resume only continues a copy', () => {
    assert.equal(modeOf(base), 'copy')
    assert.equal(modeOf({ ...base, resume: true }), 'copy')
    assert.equal(modeOf({ ...base, delta: true }), 'delta')
    assert.throws(() => modeOf({ ...base, delta: true, reverse: true }), /--delta and --reverse cannot be combined/)
    assert.throws(() => modeOf({ ...base, resume: true, verifyOnly: true }), /--resume continues an interrupted copy/)
  })

  it('registers every documented flag', () => {
    const cli = new Command('ocean-ops')
    registerMigrateDataCommand(cli)
    const cmd = cli.commands.find((c) => c.name() === 'migrate-data')!
    const flags = cmd.options.map((o) => o.long)
    for (const f of ['--plan', '--verify-only', '--resume', '--delta', '--reverse', '--mark-cutover', '--source', '--mapping', '--sqlite', '--duckdb', '--journal', '--report']) {
      assert.ok(flags.includes(f), f)
    }
  })
})

describe('progress and report', () => {
  it('prints rows/s and an ETA', () => {
    const lines: string[] = []
    const p = new TableProgress('  users', 1000, (l) => lines.push(l), 0)
    p.add(250)
    assert.match(lines[0] ?? '', /^ {2}users: 250\/1,000 rows \(25%\), [\d,]+ rows\/s, ETA/)
    assert.equal(fmtSeconds(75), '1 min 15 s')
    assert.equal(fmtSeconds(7260), '2 h 1 min')
  })

  it('lists mismatches and coercions per table', () => {
    const r: MigrationReport = {
      mode: 'verify-only',
      source: 'postgres://ocean:***@old/app',
      sqlite: '/d/ocean.db',
      duckdb: null,
      journal: '/j',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      ok: false,
      foreignKeyViolations: [],
      notes: [],
      tables: [
        {
          table: 'users',
          target: 'sqlite:users',
          status: 'mismatch',
          key: 'id (primary key)',
          sourceRows: 3,
          targetRows: 2,
          sourceChecksum: 'j:1',
          targetChecksum: 'j:2',
          chunks: 1,
          copySeconds: 1,
          verifySeconds: 0.5,
          rowsPerSecond: 3,
          columns: [],
          dropped: [],
          warnings: [],
          coercionCounts: { born: 1 },
          coercions: [{ column: 'born', key: '["7"]', original: '0000-00-00', stored: null, reason: 'zero date 0000-00-00 -> NULL' }],
          mismatches: ['users -> users: chunk 0, id in (-inf, 100]: 1 missing in target (id=7)'],
        },
      ],
    }
    const md = toMarkdown(r)
    assert.match(md, /Result: \*\*FAILED\*\*/)
    assert.match(md, /chunk 0, id in \(-inf, 100\]: 1 missing in target \(id=7\)/)
    assert.match(md, /\| born \| 1 \| \["7"\] \| 0000-00-00 \| – \| zero date/)
    assert.doesNotMatch(md, /s3cret/)
  })
})
