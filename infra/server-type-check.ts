// Refuses a server type that cannot carry the Ocean stack or that Hetzner is phasing out, using
// what `hcloud.getServerType` reports, before any resource is created. The whole point of the
// move is leaving a 4 vCPU / 7.6 GB box; a smaller or soon-unavailable type defeats it.
import { InfraError } from './infra-error.ts'

export const MIN_CORES = 8
export const MIN_MEMORY_GB = 16

/** The subset of hcloud's GetServerTypeResult this check reads. */
export interface ServerTypeInfo {
  name?: string
  cores: number
  /** In GB, as Hetzner reports it (16 for cx43). */
  memory: number
  /** Type-wide flag; Hetzner is moving deprecation into the per-location entries. */
  isDeprecated?: boolean
  locations?: ServerTypeLocationInfo[]
}

export interface ServerTypeLocationInfo {
  name: string
  isDeprecated?: boolean
  available?: boolean
  deprecationAnnounced?: string
  unavailableAfter?: string
}

/** Every reason the type is unusable at the location; empty when it is fine. */
export function serverTypeProblems(type: ServerTypeInfo, location: string): string[] {
  const problems: string[] = []
  if (type.cores < MIN_CORES) problems.push(`it has ${type.cores} cores; at least ${MIN_CORES} are needed`)
  if (type.memory < MIN_MEMORY_GB) problems.push(`it has ${type.memory} GB of memory; at least ${MIN_MEMORY_GB} GB are needed`)
  const here = type.locations?.find((l) => l.name === location)
  if (type.locations && !here) {
    const offered = type.locations.filter((l) => !l.isDeprecated).map((l) => l.name)
    problems.push(`it is not offered at ${location} (offered at: ${offered.join(', ') || 'none'})`)
  } else if (here?.isDeprecated || (!here && type.isDeprecated)) {
    const when = here?.unavailableAfter ? `; it becomes unavailable after ${here.unavailableAfter}` : ''
    problems.push(`it is deprecated at ${location}${when}`)
  } else if (here && here.available === false) {
    problems.push(`it is currently unavailable at ${location}`)
  }
  return problems
}

export function checkServerType(type: ServerTypeInfo, typeName: string, location: string): void {
  const problems = serverTypeProblems(type, location)
  if (problems.length === 0) return
  throw new InfraError(
    'OPS_E_INFRA_SERVER_TYPE',
    `server type ${typeName} cannot be used: ${problems.join('; ')}. ` +
      `Pick a current type with >= ${MIN_CORES} vCPU and >= ${MIN_MEMORY_GB} GB (e.g. cx43 or cpx42): ` +
      '`pulumi config set ocean:serverType cx43`',
  )
}
