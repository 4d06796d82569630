// Turns a schema-valid telemetry event into the packed form the buffer carries, applying the
// rules JSON schema cannot express: timestamps in range, `data` given as a JSON string parsed and
// checked like an object. Pure, so every rule is unit-tested.
import { Errors } from '../errors.ts'
import { EventColumns, isEpochMillis, MAX_EPOCH_MS, type PackedEvent } from '../stores/event-columns.ts'

export interface TelemetryEvent {
  sensor_id: string
  timestamp?: string | number
  value?: number
  data?: Record<string, number> | string
}

export interface TimeBounds {
  now: number
  maxPastDays: number
  maxFutureSeconds: number
}

export const MAX_READINGS = 64
const READING_NAME = /^[A-Za-z0-9_.-]{1,64}$/
// ISO 8601 with an explicit zone: a zone-less time would silently be read as the server's local time.
const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/

/** Parses ISO 8601 with a zone; NaN for a date that does not exist (Date.parse rolls Feb 30 into March). */
export function parseIsoWithZone(input: string): number {
  const m = ISO_WITH_ZONE.exec(input)
  if (!m) return NaN
  const [year, month, day, hour, minute, second = 0, offH = 0, offM = 0] = [m[1], m[2], m[3], m[4], m[5], m[7], m[10], m[11]].map(Number) as number[]
  const daysInMonth = new Date(Date.UTC(year as number, month as number, 0)).getUTCDate()
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour! > 23 || minute! > 59 || second > 59 || offH > 23 || offM > 59) return NaN
  return Date.parse(input)
}

function isoOrRaw(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_EPOCH_MS ? new Date(ms).toISOString() : String(ms)
}

export function parseTimestamp(input: string | number | undefined, bounds: TimeBounds, where: string): number {
  if (input === undefined) return bounds.now
  let ms: number
  if (typeof input === 'number') {
    ms = input
  } else {
    ms = parseIsoWithZone(input)
    if (Number.isNaN(ms)) {
      throw Errors.validation(`${where}.timestamp must be a real time in ISO 8601 with a zone (e.g. 2026-01-31T12:00:00Z) or epoch milliseconds`)
    }
  }
  const earliest = bounds.now - bounds.maxPastDays * 86_400_000
  const latest = bounds.now + bounds.maxFutureSeconds * 1000
  if (ms < earliest || ms > latest) {
    throw Errors.timestampRange(
      `${where}.timestamp ${isoOrRaw(ms)} is outside ${isoOrRaw(earliest)} .. ${isoOrRaw(latest)}; check the sender's clock`,
    )
  }
  return Math.trunc(ms)
}

export function parseReadings(input: Record<string, number> | string | undefined, where: string): string | null {
  if (input === undefined) return null
  let readings: unknown = input
  if (typeof input === 'string') {
    try {
      readings = JSON.parse(input)
    } catch {
      throw Errors.validation(`${where}.data is a string but not JSON; send an object of named numbers`)
    }
  }
  if (typeof readings !== 'object' || readings === null || Array.isArray(readings)) {
    throw Errors.validation(`${where}.data must be an object of named numeric readings`)
  }
  const entries = Object.entries(readings)
  if (entries.length > MAX_READINGS) throw Errors.validation(`${where}.data has ${entries.length} readings; at most ${MAX_READINGS}`)
  for (const [name, v] of entries) {
    if (!READING_NAME.test(name)) throw Errors.validation(`${where}.data has an invalid reading name ${JSON.stringify(name)}`)
    if (typeof v !== 'number' || !Number.isFinite(v)) throw Errors.validation(`${where}.data.${name} must be a finite number`)
  }
  return typeof input === 'string' ? JSON.stringify(readings) : JSON.stringify(input)
}

export function packEvent(e: TelemetryEvent, bounds: TimeBounds, where = 'event'): PackedEvent {
  if (e.value === undefined && e.data === undefined) throw Errors.validation(`${where} needs a numeric value, data, or both`)
  const data = parseReadings(e.data, where)
  return [e.sensor_id, parseTimestamp(e.timestamp, bounds, where), e.value ?? null, data]
}

export function packEvents(events: TelemetryEvent[], bounds: TimeBounds): PackedEvent[] {
  return events.map((e, i) => packEvent(e, bounds, `events[${i}]`))
}

/** Splits events into buffer entries of at most `size` events. */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** A buffer entry's events, checked and laid out in columns (the parsed arrays are garbage at once). */
export function decodeEntry(payload: string): EventColumns {
  const events: unknown = JSON.parse(payload)
  if (!Array.isArray(events)) throw new Error('buffer entry is not an array of events')
  for (const e of events) {
    // Every type is checked: the store writes numbers into typed arrays, where a string would turn
    // silently into NaN instead of failing (and the entry going to the dead-letter stream).
    if (!Array.isArray(e) || e.length !== 4 || typeof e[0] !== 'string' || !isEpochMillis(e[1]) || (e[2] !== null && typeof e[2] !== 'number') || (e[3] !== null && typeof e[3] !== 'string')) {
      throw new Error('buffer entry holds a malformed event')
    }
  }
  return EventColumns.from(events as PackedEvent[])
}
