// Docker on a remote host through dockerode, over the host's one pinned SSH connection: each
// HTTP connection dockerode opens is an SSH exec of `docker system dial-stdio` (what
// `docker -H ssh://` and docker-modem's `protocol: 'ssh'` do), but on the connection we
// already verified instead of a fresh one per request.
import http from 'node:http'
import type { Duplex } from 'node:stream'
import Docker from 'dockerode'
import type { SshHost } from './ssh-host.ts'

function dialStdioAgent(host: SshHost, sudo: boolean): http.Agent {
  const agent = new http.Agent({ keepAlive: false })
  const command = sudo ? 'sudo -n docker system dial-stdio' : 'docker system dial-stdio'
  const createConnection = (_options: unknown, callback: (err: Error | null, socket?: Duplex) => void) => {
    host.ssh.exec(command, (err, stream) => {
      if (err) return callback(err)
      // http expects a socket; the channel is a Duplex. Give it the few socket methods http calls.
      const socket = stream as unknown as Duplex & Record<string, unknown>
      for (const m of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) socket[m] ??= () => socket
      callback(null, socket)
    })
    return undefined
  }
  Object.assign(agent, { createConnection })
  return agent
}

/** Whether the SSH user may use Docker without sudo (root, or a member of the docker group). */
async function inDockerGroup(host: SshHost): Promise<boolean> {
  if (host.isRoot) return true
  return /\bdocker\b/.test((await host.exec(['id', '-nG'])).stdout)
}

/** Docker on `host` as its SSH user may reach it: directly in the docker group, else through sudo. */
export async function dockerOn(host: SshHost): Promise<Docker> {
  return dockerOverSsh(host, { sudo: !(await inDockerGroup(host)) })
}

/** A dockerode client for the engine on `host`; sudo when the SSH user is not in the docker group. */
export function dockerOverSsh(host: SshHost, opts: { sudo?: boolean } = {}): Docker {
  const agent = dialStdioAgent(host, Boolean(opts.sudo) && !host.isRoot)
  return new Docker({ protocol: 'http', host: 'docker', port: 80, agent } as Docker.DockerOptions)
}
