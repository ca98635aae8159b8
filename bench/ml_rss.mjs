// RSS over time of a benchmarked child process (issue 14: "report RSS over
// time, not only the peak"). The command runs under /usr/bin/time (CPU times
// and the kernel's peak, as `timed` in common.mjs); the parent samples the
// measured process's /proc/PID/status (VmRSS, VmHWM) every `intervalMs`.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readTimeFile } from './common.mjs'

const TIME = '/usr/bin/time'

function readStatusKb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))?.[1])
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') }
  } catch {
    return null
  }
}

// /usr/bin/time forks the command: sample that child, not time itself.
function childOf(pid) {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
    return kids.length ? Number(kids[0]) : null
  } catch {
    return null
  }
}

/**
 * Runs `cmd args` and samples its RSS. Resolves to `{ wall, user, sys, cpu,
 * maxRssMb, stdout, stderr, samples: [{ t, rssMb, hwmMb }] }` (t in s from
 * the start; maxRssMb from /usr/bin/time, i.e. the kernel's peak).
 * Rejects when the command fails.
 */
export function timedWithRss(cmd, args, { cwd, env, tmpDir, intervalMs = 100 } = {}) {
  const useTime = existsSync(TIME) && tmpDir
  const tf = useTime ? join(tmpDir, `time-rss-${process.pid}.txt`) : null
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const since = () => Number(process.hrtime.bigint() - t0) / 1e9
    const child = useTime ? spawn(TIME, ['-f', '%U %S %M', '-o', tf, cmd, ...args], { cwd, env }) : spawn(cmd, args, { cwd, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const samples = []
    let target = useTime ? null : child.pid
    const tick = () => {
      if (target === null) target = childOf(child.pid)
      if (target === null) return
      const s = readStatusKb(target)
      if (s && Number.isFinite(s.rssKb)) samples.push({ t: since(), rssMb: s.rssKb / 1024, hwmMb: s.hwmKb / 1024 })
    }
    const timer = setInterval(tick, intervalMs)
    child.on('error', (e) => {
      clearInterval(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearInterval(timer)
      const wall = since()
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`))
        return
      }
      resolve({ wall, ...readTimeFile(tf), stdout, stderr, samples })
    })
  })
}

/**
 * RSS (MB) at the given fractions of the run's wall time: the last sample
 * at or before each point (the first sample for points before it).
 */
export function rssAt(samples, wall, fractions = [0.1, 0.25, 0.5, 0.75, 1]) {
  return fractions.map((f) => {
    const t = f * wall
    let v = samples.length ? samples[0].rssMb : NaN
    for (const s of samples) {
      if (s.t > t) break
      v = s.rssMb
    }
    return v
  })
}

/** Writes `t_s,rss_mb,hwm_mb` rows to `path`. */
export function writeRssCsv(path, samples) {
  writeFileSync(path, ['t_s,rss_mb,hwm_mb', ...samples.map((s) => `${s.t.toFixed(3)},${s.rssMb.toFixed(1)},${s.hwmMb.toFixed(1)}`)].join('\n') + '\n')
}

// Command line, to measure one command by hand:
//   node bench/ml_rss.mjs OUT.csv CMD ARGS...
if (import.meta.url === `file://${process.argv[1]}`) {
  const [csv, cmd, ...args] = process.argv.slice(2)
  const r = await timedWithRss(cmd, args, { tmpDir: '/tmp' })
  writeRssCsv(csv, r.samples)
  const at = rssAt(r.samples, r.wall)
  console.log(JSON.stringify({ wall: r.wall, cpu: r.cpu, maxRssMb: r.maxRssMb, rssAtMb: at.map((v) => Math.round(v)), last: r.stdout.trim().split('\n').pop() }))
}
