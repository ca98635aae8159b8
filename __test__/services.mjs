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

/** A server run by `scripts/<script>` in `/tmp/<name>` on `port`. */
class ScriptServer {
  constructor(script, name, port, url) {
    this.script = script
    this.dir = join('/tmp', name)
    this.port = port
    this.url = url
  }
  /** Starts (or restarts, with the data of the last stop); resolves with the URL the script prints. */
  async start() {
    this.url = await sh(this.script, ['start', this.dir, String(this.port)])
    return this.url
  }
  /** Removes what a former run left in the data directory, then starts empty. */
  async startFresh() {
    await this.remove()
    return this.start()
  }
  /** Shuts down cleanly: the data is kept for the next start. */
  stop() {
    return sh(this.script, ['stop', this.dir])
  }
  /** Stops and deletes the data directory. */
  remove() {
    return sh(this.script, ['remove', this.dir])
  }
}

/** A Redis server in `/tmp/<name>` on `port` (AOF, fsync always: a restart keeps every job). */
export class RedisServer extends ScriptServer {
  constructor(name, port) {
    super('redis-server.sh', name, port, `redis://127.0.0.1:${port}`)
  }
}

/** A PostgreSQL server in `/tmp/<name>` on `port`; `url` is its `postgres` database. */
export class PostgresServer extends ScriptServer {
  constructor(name, port) {
    super('postgres-server.sh', name, port, `postgres://resonode@127.0.0.1:${port}/postgres`)
    this.databases = 0
  }
  /** Immediate shutdown, as a crash would. */
  kill() {
    return sh(this.script, ['kill', this.dir])
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
