// A settings file on a host written only when its content differs (0600, the given owner): a
// second deploy with nothing changed writes nothing and restarts nothing.
import crypto from 'node:crypto'
import type { SshHost } from './ssh-host.ts'

/** True when the file was (re)written. */
export async function writeIfChanged(host: SshHost, file: string, text: string, owner: string): Promise<boolean> {
  const now = await host.exec(['sha256sum', file], { sudo: true, allowFail: true })
  if (now.code === 0 && now.stdout.split(' ')[0] === crypto.createHash('sha256').update(text).digest('hex')) return false
  await host.writeFile(file, text, { mode: 0o600, owner, sudo: true })
  return true
}
