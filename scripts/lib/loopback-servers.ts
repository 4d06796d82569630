// Starts real Redis, PostgreSQL and MariaDB servers on 127.0.0.1 for tests and benchmarks, each in its own
// temporary directory on a free port, and stops them by the PID this module started. A missing
// binary fails with the command that installs it (never a silent skip).
import crypto from 'node:crypto'
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface Server {
  port: number
  pid: number
  dir: string
  stop(): Promise<void>
}

export interface RedisServer extends Server {
  password: string
  url: string
}

export interface PostgresServer extends Server {
  user: string
  database: string
  url: string
}

export interface MariadbServer extends Server {
  user: string
  password: string
  database: string
  /** mysql://user:password@127.0.0.1:port/database */
  url: string
  socket: string
}

const INSTALL = 'run `bash scripts/setup` (or: apt-get install -y redis-server postgresql)'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

function findBinary(name: string, dirs: string[], install = INSTALL): string {
  for (const dir of [...dirs, ...(process.env.PATH ?? '').split(':')]) {
    const candidate = path.join(dir, name)
    if (fs.existsSync(candidate)) return candidate
  }
  throw new Error(`${name} not found: ${install}`)
}

function pgBinDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  const dir = versions.map((v) => path.join(root, v, 'bin')).find((d) => fs.existsSync(path.join(d, 'postgres')))
  if (!dir) throw new Error(`PostgreSQL server binaries not found: ${INSTALL}`)
  return dir
}

async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before listening`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`)
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function startRedis(opts: { appendonly?: boolean } = {}): Promise<RedisServer> {
  const bin = findBinary('redis-server', ['/usr/bin'])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-redis-'))
  const port = await freePort()
  const password = `test-${crypto.randomBytes(12).toString('hex')}`
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--dir', dir, '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--protected-mode', 'yes']
  const child = spawn(bin, args, { stdio: 'ignore' })
  await waitForPort(port, child, 'redis-server')
  return { port, pid: child.pid as number, dir, password, url: `redis://:${password}@127.0.0.1:${port}`, stop: stopper(child, dir) }
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = pgBinDir()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-pg-'))
  const data = path.join(dir, 'data')
  const port = await freePort()
  const asUser: string[] = []
  // initdb refuses to run as root; run the server as the postgres system user when we are root.
  if (process.getuid?.() === 0) {
    execFileSync('chown', ['-R', 'postgres:postgres', dir])
    asUser.push('runuser', '-u', 'postgres', '--')
  }
  const run = (cmd: string, args: string[]) => execFileSync(asUser[0] ?? cmd, asUser.length ? [...asUser.slice(1), cmd, ...args] : args, { stdio: 'pipe' })
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'ocean', '--auth=trust', '-E', 'UTF8', '--locale=C'])
  const [cmd, ...pre] = asUser.length ? asUser : [path.join(bin, 'postgres')]
  const args = [...(asUser.length ? [...pre, path.join(bin, 'postgres')] : []), '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'shared_buffers=256MB']
  const child = spawn(cmd as string, args, { stdio: 'ignore' })
  await waitForPort(port, child, 'postgres')
  // Listening is not accepting: until recovery ends it answers "the database system is starting up".
  const ready = Date.now() + 30_000
  while (spawnSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'ocean', '-d', 'postgres'], { stdio: 'ignore' }).status !== 0) {
    if (child.exitCode !== null || Date.now() > ready) {
      await stopper(child, dir)()
      throw new Error(`postgres on 127.0.0.1:${port} did not accept connections within 30 s`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return { port, pid: child.pid as number, dir, user: 'ocean', database: 'postgres', url: `postgres://ocean@127.0.0.1:${port}/postgres`, stop: stopper(child, dir) }
}

const INSTALL_MARIADB = 'run `bash scripts/setup` (or: apt-get install -y mariadb-server)'

/** A throwaway MariaDB: its own data directory and socket in a temp dir, TCP on 127.0.0.1 only. */
export async function startMariadb(): Promise<MariadbServer> {
  const installDb = findBinary('mariadb-install-db', ['/usr/bin', '/usr/sbin'], INSTALL_MARIADB)
  const server = findBinary('mariadbd', ['/usr/sbin', '/usr/bin'], INSTALL_MARIADB)
  const client = findBinary('mariadb', ['/usr/bin'], INSTALL_MARIADB)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocean-maria-'))
  const data = path.join(dir, 'data')
  const socket = path.join(dir, 'mysqld.sock')
  const port = await freePort()
  // As root, the server must be told to stay root (it refuses otherwise); as anyone else it runs as them.
  const user = process.getuid?.() === 0 ? ['--user=root'] : []
  execFileSync(installDb, ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'], { stdio: 'pipe' })
  const args = [
    '--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${socket}`, `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    `--log-error=${path.join(dir, 'error.log')}`, `--tmpdir=${dir}`, ...user, '--skip-name-resolve', '--skip-log-bin',
    '--innodb-buffer-pool-size=256M', '--innodb-flush-log-at-trx-commit=0', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci',
  ]
  const child = spawn(server, args, { stdio: 'ignore' })
  try {
    await waitForPort(port, child, 'mariadbd', 60_000)
  } catch (e) {
    const log = fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000) : ''
    await stopper(child, dir)()
    throw new Error(`${(e as Error).message}\n${log}`)
  }
  const password = `test-${crypto.randomBytes(12).toString('hex')}`
  const sql = `CREATE DATABASE ocean CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; CREATE USER 'ocean'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO 'ocean'@'127.0.0.1';`
  execFileSync(client, ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', sql], { stdio: 'pipe' })
  return { port, pid: child.pid as number, dir, user: 'ocean', password, database: 'ocean', socket, url: `mysql://ocean:${password}@127.0.0.1:${port}/ocean`, stop: stopper(child, dir) }
}
