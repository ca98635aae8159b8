// A quiet machine for the measurements of bench/mixer: wait until nothing
// else uses the CPU, and tell afterwards whether something else did while
// a measurement ran (the machine's CPU time from /proc/stat minus this
// process's own and its waited-for children's).
import { readFileSync } from 'node:fs'
import { compilerRunning } from '../common.mjs'

const HZ = 100 // USER_HZ: /proc/stat and /proc/self/stat count in 1/100 s
/** Other load (cores) above which a measurement counts as disturbed. */
export const MAX_OTHER_CORES = 0.15

function machineBusyS() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / HZ
}

function childrenS() {
  const s = readFileSync('/proc/self/stat', 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  // fields 16 and 17 (cutime, cstime), counted from 1 with pid and comm before
  return (Number(f[13]) + Number(f[14])) / HZ
}

/** Starts a measurement window; `end()` returns wall seconds, own CPU seconds (this process and waited-for children) and the other load in cores. */
export function window() {
  const c0 = process.cpuUsage()
  const ch0 = childrenS()
  const m0 = machineBusyS()
  const t0 = process.hrtime.bigint()
  return {
    end() {
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9
      const c = process.cpuUsage(c0)
      const selfS = (c.user + c.system) / 1e6
      const kidsS = childrenS() - ch0
      const otherCores = Math.max(0, machineBusyS() - m0 - selfS - kidsS) / wallS
      return { wallS, cpuS: selfS + kidsS, selfCpuS: selfS, otherCores }
    },
  }
}

/**
 * Waits until no rustc / cargo runs and the machine has been idle (below
 * MAX_OTHER_CORES) for one second. Returns the seconds waited.
 */
export async function waitQuiet({ log = console.error, noWait = false, timeoutS = 1800 } = {}) {
  const t0 = Date.now()
  let said = -60
  for (;;) {
    const busy = compilerRunning()
    let other = 0
    if (!busy) {
      const w = window()
      await new Promise((r) => setTimeout(r, 1000))
      other = w.end().otherCores
      if (other < MAX_OTHER_CORES) return (Date.now() - t0) / 1000
    }
    const waited = (Date.now() - t0) / 1000
    const why = busy ? `${busy} is running` : `the machine is busy (${other.toFixed(2)} cores used by other processes)`
    if (noWait) throw new Error(`${why}: timings would be noise`)
    if (waited > timeoutS) throw new Error(`${why} for ${timeoutS} s; not benchmarking beside it`)
    if (waited - said >= 60) {
      log(`waiting: ${why}`)
      said = waited
    }
    await new Promise((r) => setTimeout(r, 2000))
  }
}

/**
 * Runs `setup` (not timed), then `fn` inside `waitQuiet` + `window`, until the other load stayed below
 * MAX_OTHER_CORES (at most `tries` times); returns the window's numbers with
 * `out` (fn's result), `tries` and `disturbed` (true when every try was).
 */
export async function measureQuiet(fn, { setup = async () => {}, tries = 5, log = console.error, noWait = false, label = '' } = {}) {
  let last
  for (let k = 1; k <= tries; k++) {
    await setup()
    await waitQuiet({ log, noWait })
    const w = window()
    const out = await fn()
    last = { ...w.end(), out, tries: k, disturbed: false }
    if (last.otherCores < MAX_OTHER_CORES) return last
    log(`  ${label}: other processes used ${last.otherCores.toFixed(2)} cores meanwhile; measuring again`)
  }
  return { ...last, disturbed: true }
}
