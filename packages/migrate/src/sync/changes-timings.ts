// Where a changes run's time went, for the cutover's freeze phases (its own file: the report and
// the copy context both name it, and neither may import the other).

/** A changes run's time: reading (the log, the named rows, recounts), applying (writes, the tail's copy), verifying (rows read back, chunks compared). */
export interface ChangesTimings {
  readMs: number
  applyMs: number
  verifyMs: number
}
