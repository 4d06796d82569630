// Installs the legacy API stand-in (legacy-api/server.ts) on the lab's old host as a systemd unit,
// ocean-legacy-api, listening on the old host's port 8030: the old system the rehearsal's clients
// reach through the floating address until the cutover. Runs on a copy of this machine's node
// (the old host is Debian 12 like this one); idempotent: files are rewritten only when they differ.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { docker, execIn, mustExec, placeFiles, waitFor } from './lab-docker.ts'
import type { Lab } from './lab-types.ts'

export const LEGACY_UNIT = 'ocean-legacy-api'
export const LEGACY_PORT = 8030
const DIR = '/usr/local/lib/ocean-legacy-api'
const here = path.dirname(fileURLToPath(import.meta.url))

export function legacyUnit(): string {
  return [
    '[Unit]',
    'Description=Old Ocean API (lab stand-in)',
    'After=network-online.target postgresql.service',
    '',
    '[Service]',
    `EnvironmentFile=/etc/ocean-legacy/api.env`,
    `ExecStart=${DIR}/node ${DIR}/server.cjs`,
    'User=nobody',
    'Restart=on-failure',
    'RestartSec=1',
    'TimeoutStopSec=5',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')
}

async function bundle(): Promise<Buffer> {
  const r = await build({
    entryPoints: [path.join(here, 'legacy-api', 'server.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['pg-native'],
    write: false,
    logLevel: 'silent',
  })
  return Buffer.from(r.outputFiles[0]!.contents)
}

const sha = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex')

/** Puts the stand-in on the old host (or leaves it as it is) and waits until it answers. */
export async function installLegacyApi(lab: Lab, apiKey: string, log: (line: string) => void = () => {}): Promise<string> {
  const c = docker().getContainer(lab.old.containerId)
  const server = await bundle()
  const env = `DATABASE_URL=postgres://${lab.oldDb.pgUser}:${encodeURIComponent(lab.oldDb.pgPassword)}@127.0.0.1:${lab.oldDb.pgPort}/${lab.oldDb.pgDatabase}\nOCEAN_API_KEY=${apiKey}\nPORT=${LEGACY_PORT}\n`
  const want = sha(Buffer.concat([server, Buffer.from(env), Buffer.from(legacyUnit())]))
  const have = (await execIn(c, ['cat', `${DIR}/installed.sha256`])).stdout.trim()
  if (have !== want) {
    log(`installing the legacy API stand-in on the old host (${(server.length / 1024).toFixed(0)} KiB + node)`)
    await placeFiles(c, [
      { path: `${DIR}/node`, content: fs.readFileSync(process.execPath), mode: 0o755 },
      { path: `${DIR}/server.cjs`, content: server, mode: 0o644 },
      { path: '/etc/ocean-legacy/api.env', content: env, mode: 0o600 },
      { path: `/etc/systemd/system/${LEGACY_UNIT}.service`, content: legacyUnit(), mode: 0o644 },
      { path: `${DIR}/installed.sha256`, content: `${want}\n`, mode: 0o644 },
    ])
    await mustExec(c, 'starting the legacy API', ['sh', '-c', `systemctl daemon-reload && systemctl enable ${LEGACY_UNIT} && systemctl restart ${LEGACY_UNIT}`])
  } else {
    await mustExec(c, 'starting the legacy API', ['systemctl', 'start', LEGACY_UNIT])
  }
  const url = `http://${lab.old.address}:${LEGACY_PORT}`
  await waitFor('the legacy API answering', 30_000, async () => ((await fetch(`${url}/health`)).ok ? true : undefined))
  return url
}
