/**
 * Ctrl-C in the command line: long commands run with an `AbortSignal`
 * that SIGINT (and, for some, SIGTERM) aborts; the call then rejects with
 * an `AbortError` whose `stats` say what was written, and the command
 * reports them and exits 130 (128 + SIGINT, as shells do).
 */
import { AbortError } from './errors'

/** Runs `work` with a signal aborted by `signals`; the handlers are removed afterwards. */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>, signals: NodeJS.Signals[] = ['SIGINT']): Promise<T> {
  const ac = new AbortController()
  const interrupt = () => ac.abort()
  for (const s of signals) process.once(s, interrupt)
  try {
    return await work(ac.signal)
  } finally {
    for (const s of signals) process.off(s, interrupt)
  }
}

/**
 * The result of an interruptible call: what it resolved with, or the
 * partial result of its `AbortError` (then `process.exitCode` is 130).
 * Other errors, and an abort without partial stats, are rethrown.
 */
export async function resultOrPartial<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    if (!(e instanceof AbortError) || e.stats === undefined) throw e
    process.exitCode = 130
    return e.stats as T
  }
}
