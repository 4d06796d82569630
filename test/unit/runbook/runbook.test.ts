// The runbook frame on a real SQLite journal: plan mode, --yes, resume, the lock, redaction.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { Journal } from '../../../runbooks/lib/journal/journal.ts'
import { isOpsError } from '../../../packages/common/src/ops-error.ts'
import { runRunbook } from '../../../runbooks/lib/runbook.ts'

const tmpJournal = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'journal-')), 'journal.db')
const quiet = () => {
  const lines: string[] = []
  return { lines, log: (l: string) => lines.push(l) }
}

test('plan mode runs read-only steps, only describes mutating ones, and takes no lock', async () => {
  const journalPath = tmpJournal()
  const out = quiet()
  const ran: string[] = []
  await runRunbook('deploy', { journalPath, plan: true, log: out.log }, async (rb) => {
    const facts = await rb.step('inspect', {}, async () => (ran.push('inspect'), 42))
    assert.equal(facts, 42)
    await rb.step('start container', { mutates: true, describe: 'start ocean:abc' }, async () => void ran.push('start'))
    await rb.step('drop old', { destructive: 'remove the old release' }, async () => void ran.push('drop'))
  })
  assert.deepEqual(ran, ['inspect'])
  assert.ok(out.lines.some((l) => /would start container: start ocean:abc/.test(l)))
  assert.ok(out.lines.some((l) => /DESTRUCTIVE: remove the old release/.test(l)))
  const db = new Database(journalPath)
  assert.deepEqual(db.prepare('SELECT step, result FROM steps ORDER BY rowid').all(), [
    { step: 'inspect', result: 'ok' }, { step: 'start container', result: 'planned' }, { step: 'drop old', result: 'planned' },
  ])
  assert.equal((db.prepare('SELECT count(*) n FROM locks').get() as { n: number }).n, 0)
})

test('a destructive step without --yes stops the run before it, and the journal says so', async () => {
  const journalPath = tmpJournal()
  const ran: string[] = []
  await assert.rejects(
    runRunbook('remove-mysql', { journalPath, interactive: false, log: quiet().log }, async (rb) => {
      await rb.step('dump', { mutates: true }, async () => void ran.push('dump'))
      await rb.step('purge', { destructive: 'purge mariadb-server' }, async () => void ran.push('purge'))
    }),
    (e) => isOpsError(e) && e.code === 'OPS_E_CONFIRM' && /--yes/.test(e.message),
  )
  assert.deepEqual(ran, ['dump'])
  const j = Journal.open(journalPath)
  assert.equal(j.lastRun('remove-mysql')?.result, 'failed')
  j.close()
  await runRunbook('remove-mysql', { journalPath, yes: true, log: quiet().log }, async (rb) => {
    await rb.step('purge', { destructive: 'purge mariadb-server' }, async () => void ran.push('purge'))
  })
  assert.deepEqual(ran, ['dump', 'purge'])
})

test('--resume skips the steps the interrupted run finished and runs the rest', async () => {
  const journalPath = tmpJournal()
  const ran: string[] = []
  const body = (failAt?: string) => async (rb: import('../../../runbooks/lib/runbook.ts').Runbook) => {
    for (const s of ['a', 'b', 'c']) {
      await rb.step(s, { mutates: true }, async () => {
        if (s === failAt) throw new Error('interrupted')
        ran.push(s)
      })
    }
  }
  await assert.rejects(runRunbook('migrate', { journalPath, log: quiet().log }, body('b')))
  await runRunbook('migrate', { journalPath, resume: true, log: quiet().log }, body())
  assert.deepEqual(ran, ['a', 'b', 'c'])
  // The resumed run's journal says what it skipped, not only what it ran.
  const j = Journal.open(journalPath)
  const resumed = j.lastRun('migrate')!
  assert.deepEqual(j.steps(resumed.run_id).map((x) => [x.step, x.result]), [['a', 'skipped'], ['b', 'ok'], ['c', 'ok']])
  j.close()
  await runRunbook('migrate', { journalPath, resume: true, log: quiet().log }, body())
  assert.deepEqual(ran, ['a', 'b', 'c', 'a', 'b', 'c'], 'a finished run is not resumed: the next run starts over')
})

test('--resume runs read-only steps again (later steps use what they found)', async () => {
  const journalPath = tmpJournal()
  const ran: string[] = []
  const body = (fail: boolean) => async (rb: import('../../../runbooks/lib/runbook.ts').Runbook) => {
    const conn = await rb.step('connect', {}, async () => {
      ran.push('connect')
      return 'connection'
    })
    await rb.step('change', { mutates: true }, async () => {
      ran.push(`change with ${conn}`)
      if (fail) throw new Error('interrupted')
    })
  }
  await assert.rejects(runRunbook('cutover', { journalPath, log: quiet().log }, body(true)))
  await runRunbook('cutover', { journalPath, resume: true, log: quiet().log }, body(false))
  assert.deepEqual(ran, ['connect', 'change with connection', 'connect', 'change with connection'])
})

test('the lock refuses a second live runner and is taken over from a dead one', async () => {
  const journalPath = tmpJournal()
  const holder = spawn('sleep', ['30'])
  const j = Journal.open(journalPath)
  j.db.prepare('INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?)').run('cutover', 'alice', holder.pid, os.hostname(), new Date().toISOString(), Date.now() + 60_000)
  await assert.rejects(runRunbook('cutover', { journalPath, log: quiet().log }, async () => undefined), (e) => isOpsError(e) && e.code === 'OPS_E_LOCKED' && /alice/.test(e.message) && /--break-lock/.test(e.message))
  const exited = new Promise((r) => holder.once('exit', r))
  holder.kill('SIGKILL')
  await exited
  await runRunbook('cutover', { journalPath, log: quiet().log }, async () => undefined)
  assert.equal((j.db.prepare('SELECT count(*) n FROM locks').get() as { n: number }).n, 0, 'released at the end')
  j.close()
})

test('inputs are journaled without secrets', async () => {
  const journalPath = tmpJournal()
  await runRunbook('deploy', { journalPath, log: quiet().log, inputs: { host: 'h', apiKey: 'abc123secret', redisPasswordRef: 'env:REDIS_PASSWORD', url: 'redis://:pw123456@h:6379', nested: { token: 't0k3n' } } }, async () => undefined)
  const row = new Database(journalPath).prepare('SELECT inputs FROM runs').get() as { inputs: string }
  assert.doesNotMatch(row.inputs, /abc123secret|pw123456|t0k3n/)
  assert.match(row.inputs, /env:REDIS_PASSWORD/)
})
