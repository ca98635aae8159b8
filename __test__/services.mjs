// Real servers for the specs: Redis (scripts/redis-server.sh) and
// PostgreSQL (scripts/postgres-server.sh), each in its own data directory
// directly under /tmp (the PostgreSQL server runs as `postgres` when the
// tests run as root, and must traverse the parent) on a port the spec owns.
// Start, stop (the data is kept: `start` again on the same DIR and port is
// a restart), kill (PostgreSQL: as a crash would) and remove. A spec names
// its DIRs with its process id and starts them with `startFresh`, so that
// no server or data of an earlier, crashed run is ever reused.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { root } from './helpers.mjs'

const run = promisify(execFile)
const script = (name) => join(root, 'scripts', name)

async function sh(name, args) {
  try {
    const { stdout } = await run('bash', [script(name), ...args], { timeout: 120_000 })
    return stdout.trim()
  } catch (e) {
    throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr || e.message}`)
  }
}

/** A Redis server in `/tmp/<name>` on `port`. */
export class RedisServer {
  constructor(name, port) {
    this.dir = join('/tmp', name)
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
  }
  /** Starts (or restarts, with the data of the last stop: AOF, fsync always); resolves with the URL. */
  async start() {
    this.url = await sh('redis-server.sh', ['start', this.dir, String(this.port)])
    return this.url
  }
  /** Removes what a former run left in the data directory, then starts empty. */
  async startFresh() {
    await this.remove()
    return this.start()
  }
  /** SHUTDOWN: the data is kept for the next start. */
  stop() {
    return sh('redis-server.sh', ['stop', this.dir])
  }
  /** Stops and deletes the data directory. */
  remove() {
    return sh('redis-server.sh', ['remove', this.dir])
  }
}

/** A PostgreSQL server in `/tmp/<name>` on `port`. */
export class PostgresServer {
  constructor(name, port) {
    this.dir = join('/tmp', name)
    this.port = port
    this.url = `postgres://resonode@127.0.0.1:${port}/postgres`
    this.databases = 0
  }
  /** initdb (first time) and start; resolves with the URL of the `postgres` database. */
  async start() {
    this.url = await sh('postgres-server.sh', ['start', this.dir, String(this.port)])
    return this.url
  }
  /** Removes what a former run left in the data directory, then initdb and start. */
  async startFresh() {
    await this.remove()
    return this.start()
  }
  /** Fast shutdown: the data is kept for the next start. */
  stop() {
    return sh('postgres-server.sh', ['stop', this.dir])
  }
  /** Immediate shutdown, as a crash would. */
  kill() {
    return sh('postgres-server.sh', ['kill', this.dir])
  }
  /** Stops and deletes the data directory. */
  remove() {
    return sh('postgres-server.sh', ['remove', this.dir])
  }
  /** A new empty database on this server; resolves with its URL. */
  async createDatabase(prefix = 'db') {
    const name = `${prefix}_${process.pid}_${++this.databases}`
    await run('psql', [this.url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE "${name}"`], { timeout: 60_000 })
    return this.url.replace(/\/[^/]*$/, `/${name}`)
  }
  /** Rows of a query, psql's unaligned output split into fields. */
  async query(url, sql) {
    const { stdout } = await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t', '-c', sql], { timeout: 60_000 })
    return stdout.split('\n').filter(Boolean).map((l) => l.split('\t'))
  }
}
