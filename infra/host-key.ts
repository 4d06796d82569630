// The new server's SSH host key: generated once by the program, kept in Pulumi state as a
// secret, installed by cloud-init, and published as a known_hosts line so the runbooks pin the
// key from the very first connection (no trust-on-first-use).
import * as pulumi from '@pulumi/pulumi'

export interface HostKeyPair {
  /** The private key in OpenSSH's own "openssh-key-v1" PEM format (what sshd and ssh-keygen write). */
  privateKeyOpenssh: string
  /** The public key line: `ssh-ed25519 AAAA... comment`. */
  publicKey: string
}

/**
 * Generates an ed25519 key pair and encodes it the way `ssh-keygen -t ed25519 -N ''` does.
 * Self-contained on purpose: Pulumi serializes this function's text into the dynamic provider,
 * which runs it in a plain CommonJS Node process, so it uses only globals and built-ins and
 * captures nothing from this module.
 */
export function generateHostKey(comment: string): HostKeyPair {
  // getBuiltinModule works both here (ESM) and in the provider host (CommonJS, no import map).
  const crypto = process.getBuiltinModule('node:crypto')
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519')
  const jwkPub = publicKey.export({ format: 'jwk' })
  const jwkPriv = privateKey.export({ format: 'jwk' })
  const pub = Buffer.from(jwkPub.x ?? '', 'base64url')
  const seed = Buffer.from(jwkPriv.d ?? '', 'base64url')
  if (pub.length !== 32 || seed.length !== 32) throw new Error('ed25519 key of unexpected size')

  // The SSH wire format: a string is a uint32 length followed by its bytes (RFC 4251 §5).
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return b
  }
  const str = (b: Buffer | string) => {
    const buf = typeof b === 'string' ? Buffer.from(b) : b
    return Buffer.concat([u32(buf.length), buf])
  }
  const keyType = 'ssh-ed25519'
  const publicBlob = Buffer.concat([str(keyType), str(pub)])

  // PROTOCOL.key in OpenSSH: an unencrypted key has cipher and kdf "none", one key, and a private
  // section with two equal check ints, the key, a comment and padding 1, 2, 3... to 8 bytes.
  const check = crypto.randomBytes(4)
  let priv = Buffer.concat([check, check, str(keyType), str(pub), str(Buffer.concat([seed, pub])), str(comment)])
  const pad: number[] = []
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i)
  priv = Buffer.concat([priv, Buffer.from(pad)])
  const blob = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    str('none'),
    str('none'),
    str(''),
    u32(1),
    str(publicBlob),
    str(priv),
  ])
  const b64 = blob.toString('base64')
  const lines: string[] = []
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70))
  return {
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${keyType} ${publicBlob.toString('base64')} ${comment}`,
  }
}

/** The known_hosts line for the new server: every address a client may use, then the key. */
export function knownHostsLine(addresses: (string | undefined)[], publicKey: string): string {
  const hosts = [...new Set(addresses.filter((a): a is string => typeof a === 'string' && a.length > 0))]
  if (hosts.length === 0) throw new Error('knownHostsLine: no address given')
  // known_hosts takes only "type base64"; the comment of the public key line is dropped.
  const [type, key] = publicKey.trim().split(/\s+/)
  if (type === undefined || key === undefined) throw new Error('knownHostsLine: malformed public key')
  // Addresses are written bare: brackets are only for a non-default port, and we use 22.
  return `${hosts.join(',')} ${type} ${key}`
}

interface HostKeyInputs {
  comment: string
}

// The provider creates the key once; any later diff is "no change" so the key never rotates
// by accident (a new key would break every pinned known_hosts file). Rotate by replacing the
// resource on purpose: `pulumi up --replace <urn>`.
const hostKeyProvider: pulumi.dynamic.ResourceProvider<HostKeyInputs, HostKeyPair & HostKeyInputs> = {
  async create(inputs) {
    const pair = generateHostKey(inputs.comment)
    return { id: pair.publicKey.split(' ')[1] ?? 'host-key', outs: { ...inputs, ...pair } }
  },
  async diff() {
    return { changes: false }
  },
}

export interface HostKeyArgs {
  /** Comment written into the key, e.g. the server name. */
  comment: pulumi.Input<string>
}

export class HostKey extends pulumi.dynamic.Resource {
  declare readonly privateKeyOpenssh: pulumi.Output<string>
  declare readonly publicKey: pulumi.Output<string>

  constructor(name: string, args: HostKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      hostKeyProvider,
      name,
      { comment: args.comment, privateKeyOpenssh: undefined, publicKey: undefined },
      // The private key must never appear in plain text in state or in `stack output`.
      { ...opts, additionalSecretOutputs: ['privateKeyOpenssh'] },
      'ocean',
      'HostKey',
    )
  }
}

/** Exposed for the test that proves the provider survives Pulumi's closure serialization. */
export const hostKeyProviderForTest = hostKeyProvider
