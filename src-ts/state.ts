/**
 * The life cycle shared by {@link RealtimeProcessor}, {@link StreamingPipeline}
 * and {@link StreamProcessor}: `state` and its `'statechange'` event.
 *
 * ```
 * idle -> starting -> running -> stopping -> stopped
 *            \            \          \
 *             +------------+----------+--> error
 * ```
 *
 * `stopped` and `error` may start again. Starting while `starting` or
 * `running`, and stopping in `idle`, are refused with `ERR_INVALID_STATE`.
 */
import type { EventEmitter } from 'node:events'
import { makeError } from './errors'

/** Where a stream is in its life cycle. */
export type StreamState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'error'

/** The payload of a `'statechange'` event. */
export interface StateChange {
  /** The new state (equal to the emitter's `state` when the event fires). */
  state: StreamState
  /** The state before. */
  previous: StreamState
  /** With `state: 'error'`: what failed. */
  error?: Error
}

const NEXT: Record<StreamState, readonly StreamState[]> = {
  idle: ['starting'],
  starting: ['running', 'stopping', 'stopped', 'error'],
  running: ['stopping', 'stopped', 'error'],
  stopping: ['stopped', 'error'],
  stopped: ['starting'],
  error: ['starting'],
}

/** @internal Holds a state and emits `'statechange'` on `emitter` for every change, in order. */
export class StateMachine {
  private current: StreamState = 'idle'
  constructor(
    private readonly emitter: EventEmitter,
    private readonly what: string,
  ) {}

  get state(): StreamState {
    return this.current
  }

  /** Moves to `next`; a move to the same state is a no-op. @throws InternalError for a move the diagram forbids (a resonode bug) */
  set(next: StreamState, error?: Error): void {
    if (next === this.current) return
    if (!NEXT[this.current].includes(next)) {
      throw makeError('ERR_INTERNAL', `internal error: ${this.what} cannot go from '${this.current}' to '${next}'`)
    }
    const change: StateChange = { state: next, previous: this.current }
    if (error) change.error = error
    this.current = next
    this.emitter.emit('statechange', change)
  }

  /** Moves to `starting`. @throws InvalidStateError while starting or running */
  beginStart(): void {
    if (this.current === 'starting' || this.current === 'running' || this.current === 'stopping') {
      throw makeError('ERR_INVALID_STATE', `invalid state: ${this.what} is ${this.current}; stop it before starting again`)
    }
    this.set('starting')
  }

  /** Refuses a stop before any start. @throws InvalidStateError in `idle` */
  checkStop(): void {
    if (this.current === 'idle') throw makeError('ERR_INVALID_STATE', `invalid state: ${this.what} was never started`)
  }
}
