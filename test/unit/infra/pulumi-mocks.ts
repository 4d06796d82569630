// Pulumi's own mocks for the infra tests: a fake Hetzner (ids, addresses, server types as the API
// reports them) plus a record of every resource and of the options the SDK sent with it.
import { Module } from 'node:module'
import * as pulumi from '@pulumi/pulumi'

export interface Registered {
  type: string
  name: string
  /** Inputs with secrets unwrapped; their names are in secretInputs. */
  inputs: Record<string, unknown>
  secretInputs: string[]
}

// How the SDK marks a secret value on the wire (runtime/rpc.ts: specialSigKey, specialSecretSig).
const SIG_KEY = '4dabf18193072939515e22adb298388d'
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270'
function unwrapSecrets(inputs: Record<string, unknown>): { inputs: Record<string, unknown>; secretInputs: string[] } {
  const out: Record<string, unknown> = {}
  const secretInputs: string[] = []
  for (const [k, v] of Object.entries(inputs)) {
    const secret = typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
    if (secret) secretInputs.push(k)
    out[k] = secret ? (v as { value: unknown }).value : v
  }
  return { inputs: out, secretInputs }
}

export interface RegisteredOptions {
  type: string
  parent: string
  ignoreChanges: string[]
  additionalSecretOutputs: string[]
}

/** Server types as `GET /server_types` reports them (memory in GB; deprecation per location). */
const current = (name: string) => ({ name, isDeprecated: false, available: true, recommended: true, deprecationAnnounced: '', unavailableAfter: '' })
const deprecated = (name: string) => ({ name, isDeprecated: true, available: true, recommended: false,
  deprecationAnnounced: '2025-10-16T06:00:00Z', unavailableAfter: '2026-01-01T00:00:00Z' })
export const SERVER_TYPES: Record<string, Record<string, unknown>> = {
  cx43: { name: 'cx43', cores: 8, memory: 16, disk: 160, architecture: 'x86', cpuType: 'shared', isDeprecated: false,
    locations: ['fsn1', 'nbg1', 'hel1'].map(current) },
  cx33: { name: 'cx33', cores: 4, memory: 8, disk: 80, architecture: 'x86', cpuType: 'shared', isDeprecated: false,
    locations: ['fsn1', 'nbg1', 'hel1'].map(current) },
  cx42: { name: 'cx42', cores: 8, memory: 16, disk: 160, architecture: 'x86', cpuType: 'shared', isDeprecated: true,
    locations: ['fsn1', 'nbg1', 'hel1'].map(deprecated) },
  cpx41: { name: 'cpx41', cores: 8, memory: 16, disk: 240, architecture: 'x86', cpuType: 'shared', isDeprecated: true,
    locations: ['fsn1', 'nbg1', 'hel1', 'ash'].map(deprecated) },
  cx32: { name: 'cx32', cores: 4, memory: 8, disk: 80, architecture: 'x86', cpuType: 'shared', isDeprecated: true,
    locations: ['fsn1', 'nbg1', 'hel1'].map(deprecated) },
}

export const FAKE = { ipv4: '203.0.113.10', ipv6: '2001:db8:1::1', floatingIp: '198.51.100.7',
  storageBoxUser: 'u400123', storageBoxServer: 'u400123.your-storagebox.de' }

export const recorded = {
  resources: [] as Registered[],
  options: new Map<string, RegisteredOptions>(),
  calls: [] as { token: string; inputs: Record<string, unknown> }[],
  /** The id the fake Hetzner gave each resource, by resource name. */
  ids: new Map<string, string>(),
  reset() {
    this.resources.length = 0
    this.options.clear()
    this.ids.clear()
    this.calls.length = 0
  },
}

let nextId = 1000

// The dynamic provider runs as the engine would run it: its serialized text is loaded as a
// CommonJS module (like the pulumi-nodejs provider host does) and its create() is called.
async function createDynamic(inputs: Record<string, unknown>) {
  const text = inputs.__provider
  if (typeof text !== 'string') throw new Error('dynamic resource without a serialized provider')
  const mod = new Module('dynamic-provider')
  ;(mod as unknown as { _compile(code: string, file: string): void })._compile(text, '/dynamic-provider.js')
  const provider = (mod.exports as { handler(): pulumi.dynamic.ResourceProvider }).handler()
  const result = await provider.create(inputs)
  return { id: result.id, state: { ...inputs, ...result.outs } }
}

export async function installMocks(stack = 'prod'): Promise<void> {
  await pulumi.runtime.setMocks({
    async newResource(args) {
      recorded.resources.push({ type: args.type, name: args.name, ...unwrapSecrets(args.inputs) })
      if (args.type.startsWith('pulumi-nodejs:dynamic')) return createDynamic(args.inputs)
      const id = String(nextId++)
      recorded.ids.set(args.name, id)
      const state: Record<string, unknown> = { ...args.inputs }
      if (args.type === 'hcloud:index/server:Server') Object.assign(state, { ipv4Address: FAKE.ipv4, ipv6Address: FAKE.ipv6, status: 'running' })
      if (args.type === 'hcloud:index/floatingIp:FloatingIp') Object.assign(state, { ipAddress: FAKE.floatingIp })
      if (args.type === 'hcloud:index/serverNetwork:ServerNetwork' && !state.ip) state.ip = '10.40.0.2'
      // Hetzner names the box's user and host once it exists (username/server are outputs only).
      if (args.type === 'hcloud:index/storageBox:StorageBox') Object.assign(state, { username: FAKE.storageBoxUser, server: FAKE.storageBoxServer, system: 'FSN1-BX355' })
      return { id, state }
    },
    call(args) {
      recorded.calls.push({ token: args.token, inputs: args.inputs })
      if (args.token === 'hcloud:index/getServerType:getServerType') {
        const type = SERVER_TYPES[String(args.inputs.name)]
        // Hetzner answers an unknown name with an error, and so does the provider.
        if (!type) throw new Error(`server type not found: ${String(args.inputs.name)}`)
        return { ...type, id: 1 }
      }
      throw new Error(`unexpected call ${args.token}`)
    },
  }, 'ocean-ops', stack, false)

  // See the resource options (ignoreChanges, parent) exactly as the SDK sends them to the engine.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: unknown): unknown
  }
  const original = monitor.registerResource.bind(monitor)
  monitor.registerResource = (req, cb) => {
    recorded.options.set(req.getName(), {
      type: req.getType(),
      parent: req.getParent(),
      ignoreChanges: req.getIgnorechangesList(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    })
    return original(req, cb)
  }
}

interface RegisterRequest {
  getName(): string
  getType(): string
  getParent(): string
  getIgnorechangesList(): string[]
  getAdditionalsecretoutputsList(): string[]
}

/** The value inside an Output (mocks run as `pulumi up`, so every value is known). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => { resolve(v); return v }))
}

export function byType(type: string): Registered[] {
  return recorded.resources.filter((r) => r.type === `hcloud:index/${type}`)
}

export function one(type: string): Registered {
  const found = byType(type)
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`)
  return found[0] as Registered
}

/** Waits until no resource has been registered for a while: outputs resolve before every
 *  child (e.g. the volume attachment) has been registered, and the tests look at all of them. */
export async function settle(quietMs = 300): Promise<void> {
  let seen = -1
  let quietSince = Date.now()
  for (;;) {
    await new Promise((r) => setTimeout(r, 20))
    if (recorded.resources.length !== seen) {
      seen = recorded.resources.length
      quietSince = Date.now()
    } else if (Date.now() - quietSince >= quietMs) {
      return
    }
  }
}
