// A bound on one status item: the work gets an AbortSignal and the item gets an answer within
// `ms`, so one host that does not answer never makes the whole screen slow.
import { OpsError } from '@ocean-ops/common'

export async function within<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort()
      reject(new OpsError('OPS_E_TIMEOUT', `no answer within ${ms / 1000} s`))
    }, ms)
  })
  try {
    return await Promise.race([fn(ac.signal), late])
  } finally {
    clearTimeout(timer)
  }
}
