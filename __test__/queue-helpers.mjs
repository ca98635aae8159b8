// Shared by the queue specs: `resonode worker --json` processes (each the
// leader of its own process group, so that SIGKILL takes its sandboxes
// too), their event lines, waits on conditions, and folders of distinct
// songs.
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { cli, lib, readAll, writeWav } from './helpers.mjs'

/** How long a graceful stop may take before the worker is killed: longer than any job of the specs. */
const STOP_TIMEOUT_MS = 60_000
import { renderSongs } from './mixer-fixtures.mjs'

/** Resolves once `check()` returns a truthy value (polled), which it resolves with; rejects after `timeoutMs` with `what`. */
export async function waitUntil(check, what, { timeoutMs = 180_000, intervalMs = 100 } = {}) {
  const t0 = Date.now()
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** A `resonode worker --json` process: its events as they arrive, and how to stop it. */
export class WorkerProcess {
  constructor(args) {
    this.events = []
    this.stderr = ''
    this.child = spawn(process.execPath, [cli, 'worker', '--json', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    this.child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim()) this.events.push(JSON.parse(line))
      }
    })
    this.child.stderr.setEncoding('utf8').on('data', (d) => (this.stderr += d))
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })))
  }
  /** Events named `event` so far. */
  of(event) {
    return this.events.filter((e) => e.event === event)
  }
  /** Resolves with the first event matching `pred` (past or future). */
  waitFor(pred, what, timeoutMs) {
    return waitUntil(() => this.events.find(pred), what, { timeoutMs })
  }
  ready() {
    return this.waitFor((e) => e.event === 'ready', `worker ${this.child.pid} ready (stderr: ${this.stderr})`)
  }
  /** SIGKILL to the whole process group: the worker and its sandboxes die at once. */
  async kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid, 'SIGKILL')
      } catch {}
    }
    return this.exited
  }
  /** SIGTERM: graceful (the jobs in flight finish); SIGKILL after 60 s so that no worker outlives its spec. Resolves with the exit. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    let timer
    const late = new Promise((r) => (timer = setTimeout(r, STOP_TIMEOUT_MS)))
    const first = await Promise.race([this.exited, late.then(() => null)])
    clearTimeout(timer)
    return first ?? this.kill()
  }
}

/**
 * `count` distinct 16-s songs (the mixer fixtures' six, each at several
 * gains: other bytes, so no analysis is reused) in `dir`; resolves with
 * their paths.
 */
export async function songFolder(dir, count, cacheDir) {
  const songs = await renderSongs(cacheDir)
  const ids = Object.keys(songs)
  const decoded = {}
  mkdirSync(dir, { recursive: true })
  const paths = []
  for (let i = 0; i < count; i++) {
    const id = ids[i % ids.length]
    decoded[id] ??= await readAll(songs[id])
    const { channels, sampleRate } = decoded[id]
    const g = 0.5 + 0.02 * Math.floor(i / ids.length)
    const p = join(dir, `${id}-${String(i).padStart(2, '0')}.wav`)
    writeWav(p, channels.map((c) => c.map((v) => v * g)), sampleRate)
    paths.push(p)
  }
  return paths
}

/** The library's descriptors of a track, for comparing two libraries. */
export function descriptors(t) {
  const { id, analyzedAt, mtimeMs, ...rest } = t
  return rest
}

export const { Library, enqueueScan, startWorker, jobStatus } = lib
