// Small helpers shared by the benchmark sections.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/** Runs a command to completion; throws with its stderr on failure. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts })
  if (r.error) throw r.error
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}`)
  }
  return r
}

/** Last line of stdout parsed as JSON. */
export function runJson(cmd, args, opts) {
  const r = run(cmd, args, opts)
  const line = r.stdout.trim().split('\n').pop()
  return JSON.parse(line)
}

const TIME = '/usr/bin/time'

/**
 * Runs a command and measures it: wall seconds (hrtime around the spawn,
 * so it includes process start-up) and, when /usr/bin/time exists, the
 * child's user and system CPU seconds and peak RSS.
 */
export function timed(cmd, args, { tmpDir, ...opts } = {}) {
  const useTime = existsSync(TIME) && tmpDir
  const tf = useTime ? join(tmpDir, `time-${process.pid}.txt`) : null
  const t0 = process.hrtime.bigint()
  const r = useTime ? run(TIME, ['-f', '%U %S %M', '-o', tf, cmd, ...args], opts) : run(cmd, args, opts)
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  return { wall, ...readTimeFile(tf), stdout: r.stdout, stderr: r.stderr }
}

/**
 * The child's user and system CPU seconds and peak RSS from the file
 * `/usr/bin/time -f '%U %S %M' -o FILE` wrote (NaN without one); removes it.
 */
export function readTimeFile(tf) {
  if (!tf) return { user: NaN, sys: NaN, cpu: NaN, maxRssMb: NaN }
  const last = readFileSync(tf, 'utf8').trim().split('\n').pop()
  const [user, sys, kb] = last.split(/\s+/).map(Number)
  rmSync(tf, { force: true })
  return { user, sys, cpu: user + sys, maxRssMb: kb / 1024 }
}

/** Summary of repeated `timed` results: medians of every field. */
export function summarize(runs) {
  const m = (k) => median(runs.map((r) => r[k]))
  return { reps: runs.length, wall: m('wall'), user: m('user'), sys: m('sys'), cpu: m('cpu'), maxRssMb: m('maxRssMb'), walls: runs.map((r) => r.wall) }
}

/** True while a Rust compiler or cargo runs on this machine (timings would be noise). */
export function compilerRunning() {
  for (const name of ['rustc', 'cargo']) {
    const r = spawnSync('pgrep', ['-x', name], { encoding: 'utf8' })
    if (r.status === 0 && r.stdout.trim()) return name
  }
  return null
}

export const fmt = {
  s: (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a'),
  x: (v) => (Number.isFinite(v) ? `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}x` : 'n/a'),
  n: (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a'),
  e: (v) => (Number.isFinite(v) ? v.toExponential(2) : 'n/a'),
}

/** A markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`]
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`)
  return lines.join('\n')
}
