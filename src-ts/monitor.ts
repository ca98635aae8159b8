/**
 * Process monitoring for stats: CPU time and resident memory, as the
 * mixer tools' performance monitors report them. Read on the JS thread,
 * never in an audio callback.
 */
import { cpuUsage, memoryUsage, resourceUsage } from 'node:process'

/** Process-wide resource use, added to pipeline and real-time stats. */
export interface ProcessUsage {
  /** CPU time of the whole process (user + system, every thread) since the run started, in seconds. */
  cpuTimeS: number
  /** Resident memory of the process now, in bytes. */
  rssBytes: number
  /** The process's peak resident memory so far, in bytes. */
  peakRssBytes: number
}

/** @internal A CPU-time origin: `usage(origin)` measures from it. */
export type UsageOrigin = NodeJS.CpuUsage

/** @internal */
export function usageOrigin(): UsageOrigin {
  return cpuUsage()
}

/** @internal Resource use since `origin` (CPU) and now (memory). */
export function usage(origin: UsageOrigin): ProcessUsage {
  const cpu = cpuUsage(origin)
  // resourceUsage().maxRSS is in KiB (getrusage(2)).
  return { cpuTimeS: (cpu.user + cpu.system) / 1e6, rssBytes: memoryUsage.rss(), peakRssBytes: resourceUsage().maxRSS * 1024 }
}
