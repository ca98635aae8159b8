/**
 * Debug logging. The Rust core logs device choices and stream opens,
 * restarts and backend fallbacks (`resonode::device`), ONNX Runtime
 * resolution and model loads (`resonode::ml`), file pipeline jobs with
 * their start, progress and end (`resonode::pipeline`), analyses
 * (`resonode::analysis`) and library scans (`resonode::library`); the
 * dashboard server logs refused connections and messages
 * (`resonode::dashboard`).
 *
 * The level comes from the `RESONODE_LOG` environment variable, read when
 * the addon loads: a level (`error|warn|info|debug|trace|off`, default
 * `warn`) for resonode's targets, optionally with `target=level` directives,
 * comma-separated, e.g. `RESONODE_LOG=resonode::device=debug,info`. An
 * invalid value prints one warning on stderr and keeps `warn`. Other
 * libraries' records are off unless named (`RESONODE_LOG=warn,symphonia_core=debug`).
 *
 * Records go to stderr, one line each
 * (`resonode DEBUG resonode::device: opened output stream ...`), or to the
 * function given to {@link setLogger}.
 *
 * Real-time safety: nothing logs inside the audio callback; events of the
 * callback (xruns, device loss) arrive as `RealtimeProcessor` events.
 */
import native = require('./native')
import { callNative, makeError } from './errors'

/** A log level; `off` logs nothing. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'off'

/** One log record, as a {@link setLogger} function receives it. */
export interface LogRecord {
  /** Severity (never `off`). */
  level: Exclude<LogLevel, 'off'>
  /** Where it comes from, e.g. `resonode::device`, `resonode::ml`, `resonode::pipeline`. */
  target: string
  message: string
  /** When it was logged, in milliseconds since the Unix epoch (`Date.now()`'s clock). */
  timestampMs: number
}

const LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace', 'off']

/**
 * Sets the level of resonode's records, replacing what `RESONODE_LOG` (or
 * an earlier call) set, per-target directives included.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) when `level` is not
 *   one of `error`, `warn`, `info`, `debug`, `trace`, `off`
 */
export function setLogLevel(level: LogLevel): void {
  if (typeof level !== 'string' || !LEVELS.includes(level)) {
    const shown = typeof level === 'string' ? JSON.stringify(level.slice(0, 40)) : typeof level
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`level\`: ${shown} is not one of ${LEVELS.join(', ')}`)
  }
  callNative(() => native.setLogFilter(level))
}

/**
 * Sends every record that passes the level to `fn` instead of stderr;
 * `null` sends them to stderr again. `fn` runs on the JS thread,
 * asynchronously (records are queued from the threads that log them). One
 * function per process: the last call wins, also across worker threads.
 * The queue holds 1024 records; records logged while it is full are dropped
 * and counted, and a `resonode::logging` warning with the count precedes the
 * next record delivered. `fn` does not keep the process alive. An
 * exception thrown by `fn` is an uncaught exception, as from an event
 * listener.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) when `fn` is
 *   neither a function nor `null`
 */
export function setLogger(fn: ((record: LogRecord) => void) | null): void {
  if (fn !== null && typeof fn !== 'function') {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`fn\`: must be a function or null, got ${typeof fn}`)
  }
  callNative(() => native.setLogHook(fn))
}

/**
 * @internal Logs a record from a TS module through the same filter and
 * hook as the Rust core's records (`target`: `resonode::<area>`).
 */
export function logRecord(level: Exclude<LogLevel, 'off'>, target: string, message: string): void {
  callNative(() => native.logRecord(level, target, message))
}
