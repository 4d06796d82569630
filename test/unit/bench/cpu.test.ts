import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { CpuMeter, cpuTicksOfStat, describeCores, totalCpuMs } from '../../../scripts/bench/cpu.ts'

describe('bench CPU accounting', () => {
  it('reads utime + stime + cutime + cstime after a command name holding spaces and parentheses', () => {
    // Fields 14-17 = 1234, 56, 7, 8 (then priority 20); the name hides a ") " that a naive split would take.
    const stat = '4242 (node:api (x) 1) S 1 4242 4242 0 -1 4194560 9 0 0 0 1234 56 7 8 20 0 11 0 2577795 3133440 380'
    assert.equal(cpuTicksOfStat(stat), 1305)
  })

  it('refuses a line that is not /proc/<pid>/stat', () => {
    assert.throws(() => cpuTicksOfStat('not a stat line'), /not a \/proc\/<pid>\/stat line/)
  })

  it("reads a real process's stat: a child that burned CPU shows more ticks than one that slept", () => {
    // /proc/<pid>/stat of a child is gone once it is reaped, so each child prints its own.
    const ticks = (code: string) => cpuTicksOfStat(spawnSync(process.execPath, ['-e', `${code}; process.stdout.write(require('fs').readFileSync('/proc/self/stat', 'utf8'))`], { encoding: 'utf8' }).stdout)
    const busy = ticks('let x = 0; for (let i = 0; i < 3e8; i++) x += i % 7')
    const idle = ticks('Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300)')
    assert.ok(busy > idle, `busy child ${busy} ticks, sleeping child ${idle}`)
  })

  it("counts a reaped child's CPU (a shell pipeline's) under children, beside this process's", () => {
    const meter = new CpuMeter({}, 'bench').start()
    spawnSync(process.execPath, ['-e', 'let x = 0; for (let i = 0; i < 3e8; i++) x += i % 7'])
    const use = meter.stop()
    assert.deepEqual(Object.keys(use), ['bench', 'children'])
    assert.ok(use.children!.ms >= 10, `children ${use.children!.ms} ms`)
    assert.equal(totalCpuMs(use), use.bench!.ms + use.children!.ms)
  })

  it('describes the cores each side kept busy', () => {
    assert.equal(describeCores({ ocean: { ms: 1040, cores: 1.04 }, redis: { ms: 50, cores: 0.05 }, 'load generator': { ms: 500, cores: 0.5 } }), 'ocean 1.04, redis 0.05, load generator 0.50')
  })
})
