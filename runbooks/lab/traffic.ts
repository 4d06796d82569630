// The old Ocean app's write traffic on demand: runs ocean-legacy-traffic on the old host (a
// script in its image that writes through PostgreSQL's loopback port as the app's role), bounded
// in rate and time, and returns what it wrote.
import { OpsError } from '@ocean-ops/common'
import { docker, mustExec } from './lab-docker.ts'
import type { Lab } from './lab-types.ts'

export interface TrafficCounts {
  seconds: number
  /** New users, each with a billing row and a session. */
  users: number
  /** Sessions written (new users' plus existing users'). */
  sessions: number
  billingUpdates: number
  telemetry: number
}

export const TRAFFIC_LIMITS = { rate: 10_000, seconds: 3600 }

export async function simulateTraffic(lab: Lab, opts: { rate: number; seconds: number }): Promise<TrafficCounts> {
  const { rate, seconds } = opts
  if (!Number.isInteger(rate) || rate < 1 || rate > TRAFFIC_LIMITS.rate) throw new OpsError('OPS_E_USAGE', `traffic rate must be 1..${TRAFFIC_LIMITS.rate} writes/s, got ${rate}`)
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > TRAFFIC_LIMITS.seconds) throw new OpsError('OPS_E_USAGE', `traffic duration must be 1..${TRAFFIC_LIMITS.seconds} s, got ${seconds}`)
  const out = await mustExec(docker().getContainer(lab.old.containerId), 'simulated app traffic', ['/usr/local/bin/ocean-legacy-traffic', String(rate), String(seconds)])
  const last = out.trim().split('\n').pop() ?? ''
  try {
    return JSON.parse(last) as TrafficCounts
  } catch {
    throw new OpsError('OPS_E_LAB', `ocean-legacy-traffic printed no summary: ${out.slice(-500)}`)
  }
}
