/**
 * Typed errors. Every failure from the Rust core arrives as a
 * {@link ResonodeError} whose `code` is stable across versions; switch on
 * `code` (or `instanceof` a subclass), never on the message.
 */

/** The stable error codes. */
export type ErrorCode =
  | 'ERR_INVALID_PARAMETER'
  | 'ERR_INVALID_CHAIN'
  | 'ERR_NOT_FOUND'
  | 'ERR_IO'
  | 'ERR_UNSUPPORTED_FORMAT'
  | 'ERR_DECODE'
  | 'ERR_ENCODE'
  | 'ERR_NON_FINITE_SAMPLE'
  | 'ERR_EMPTY_AUDIO'
  | 'ERR_SHAPE'
  | 'ERR_INVALID_STATE'
  | 'ERR_BACKEND_NOT_AVAILABLE'
  | 'ERR_DEVICE_NOT_FOUND'
  | 'ERR_STREAM'
  | 'ERR_BUFFER_UNDERRUN'
  | 'ERR_BUFFER_OVERRUN'
  | 'ERR_RUNTIME_NOT_FOUND'
  | 'ERR_EXECUTION_PROVIDER_NOT_AVAILABLE'
  | 'ERR_MODEL'
  | 'ERR_MODEL_MISMATCH'
  | 'ERR_DATABASE'
  | 'ERR_DATABASE_LOCKED'
  | 'ERR_DATABASE_UNAVAILABLE'
  | 'ERR_QUEUE_UNAVAILABLE'
  | 'ERR_TRACK_NOT_FOUND'
  | 'ERR_ABORTED'
  | 'ERR_INTERNAL'

/** Base class of every error resonode throws. */
export class ResonodeError extends Error {
  /** Stable machine-readable code, e.g. `ERR_DECODE`. */
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}
/** A parameter value is out of range or of the wrong kind (`ERR_INVALID_PARAMETER`). */
export class InvalidParameterError extends ResonodeError {}
/** A chain string or processor description is not understood (`ERR_INVALID_CHAIN`). */
export class InvalidChainError extends ResonodeError {}
/** The file does not exist (`ERR_NOT_FOUND`). */
export class NotFoundError extends ResonodeError {}
/** An OS-level read/write failure (`ERR_IO`). */
export class IoError extends ResonodeError {}
/** Container or codec not supported (`ERR_UNSUPPORTED_FORMAT`). */
export class UnsupportedFormatError extends ResonodeError {}
/** Damaged or truncated audio data (`ERR_DECODE`). */
export class DecodeError extends ResonodeError {}
/** Writing encoded audio failed (`ERR_ENCODE`). */
export class EncodeError extends ResonodeError {}
/** NaN or infinite sample in the input (`ERR_NON_FINITE_SAMPLE`). */
export class NonFiniteSampleError extends ResonodeError {}
/** Zero channels or zero frames (`ERR_EMPTY_AUDIO`). */
export class EmptyAudioError extends ResonodeError {}
/** Buffers of the wrong shape (`ERR_SHAPE`). */
export class ShapeError extends ResonodeError {}
/** An operation not allowed in the current state (`ERR_INVALID_STATE`). */
export class InvalidStateError extends ResonodeError {}
/** No audio backend or device is usable, e.g. no sound card and no audio server (`ERR_BACKEND_NOT_AVAILABLE`). The message suggests a fix. */
export class BackendNotAvailableError extends ResonodeError {}
/** No device with the requested id (`ERR_DEVICE_NOT_FOUND`). */
export class DeviceNotFoundError extends ResonodeError {}
/** The device refused the configuration, failed, or was lost (`ERR_STREAM`). */
export class StreamError extends ResonodeError {}
/** The output ran out of audio to play (`ERR_BUFFER_UNDERRUN`). */
export class BufferUnderrunError extends ResonodeError {}
/** Captured audio was lost because a buffer was full (`ERR_BUFFER_OVERRUN`). */
export class BufferOverrunError extends ResonodeError {}
/** The ONNX Runtime library was not found or is unusable; the message lists every path tried (`ERR_RUNTIME_NOT_FOUND`). */
export class RuntimeNotFoundError extends ResonodeError {}
/** The requested execution provider (cuda, coreml) is unavailable (`ERR_EXECUTION_PROVIDER_NOT_AVAILABLE`). */
export class ExecutionProviderNotAvailableError extends ResonodeError {}
/** A model file is empty, damaged or failed to run (`ERR_MODEL`). */
export class ModelError extends ResonodeError {}
/** A model's inputs/outputs are not what the caller needs; names expected vs actual shapes (`ERR_MODEL_MISMATCH`). */
export class ModelMismatchError extends ResonodeError {}
/** The library database failed: not a database, damaged, from a newer resonode, or a statement failed (`ERR_DATABASE`). Committed data is kept. */
export class DatabaseError extends ResonodeError {}
/** Another connection held the library database's write lock past the busy timeout (`ERR_DATABASE_LOCKED`); retry later. */
export class DatabaseLockedError extends ResonodeError {}
/**
 * The database server (PostgreSQL) could not be reached, or the connection dropped (or the server went silent for about 30 s)
 * mid-call (`ERR_DATABASE_UNAVAILABLE`). The call committed whole or not at all; when the connection dropped during its COMMIT,
 * which one is unknown, so once the server is back retry only idempotent calls (`add`, `scan`, `remove`, reads), not
 * `beginSession`, `addPlay` or `addFeedback`, which could then be stored twice.
 */
export class DatabaseUnavailableError extends ResonodeError {}
/** The job queue's Redis server could not be reached in time (`ERR_QUEUE_UNAVAILABLE`). Nothing was enqueued by the failed call beyond what it reports; retry once the server is back. */
export class QueueUnavailableError extends ResonodeError {}
/** No track in the library has this id or path (`ERR_TRACK_NOT_FOUND`). */
export class TrackNotFoundError extends ResonodeError {}
/** A bug in resonode, such as a caught Rust panic (`ERR_INTERNAL`). */
export class InternalError extends ResonodeError {}

/**
 * A long-running call was stopped through its `AbortSignal` (`ERR_ABORTED`).
 * Its `name` is `'AbortError'`, as Node's and the DOM's, so code written for
 * `fetch` or `stream.pipeline` recognises it. Outputs were finalised with
 * everything done before the abort; `stats` holds the partial stats or
 * result of the call (its own type), and `cause` the signal's `reason`.
 */
export class AbortError extends ResonodeError {
  /** What the call did before it stopped (the call's stats or result type), when it had started. */
  stats?: unknown
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'AbortError'
  }
}

/** The {@link AbortError} for `signal`, carrying `stats`: what the call did before it stopped. */
export function abortError(signal: AbortSignal | undefined, stats?: unknown, what = 'the operation'): AbortError {
  const err = new AbortError('ERR_ABORTED', `aborted: ${what} was stopped by its AbortSignal`, signal?.reason === undefined ? undefined : { cause: signal.reason })
  if (stats !== undefined) err.stats = stats
  return err
}

/**
 * Checks an `AbortSignal` option: anything but `undefined` or an
 * `AbortSignal` is refused.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`, parameter `signal`)
 */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined
  if (!(signal instanceof AbortSignal)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `signal`: must be an AbortSignal')
  return signal
}

const classes: Record<ErrorCode, new (code: ErrorCode, message: string, options?: { cause?: unknown }) => ResonodeError> = {
  ERR_INVALID_PARAMETER: InvalidParameterError,
  ERR_INVALID_CHAIN: InvalidChainError,
  ERR_NOT_FOUND: NotFoundError,
  ERR_IO: IoError,
  ERR_UNSUPPORTED_FORMAT: UnsupportedFormatError,
  ERR_DECODE: DecodeError,
  ERR_ENCODE: EncodeError,
  ERR_NON_FINITE_SAMPLE: NonFiniteSampleError,
  ERR_EMPTY_AUDIO: EmptyAudioError,
  ERR_SHAPE: ShapeError,
  ERR_INVALID_STATE: InvalidStateError,
  ERR_BACKEND_NOT_AVAILABLE: BackendNotAvailableError,
  ERR_DEVICE_NOT_FOUND: DeviceNotFoundError,
  ERR_STREAM: StreamError,
  ERR_BUFFER_UNDERRUN: BufferUnderrunError,
  ERR_BUFFER_OVERRUN: BufferOverrunError,
  ERR_RUNTIME_NOT_FOUND: RuntimeNotFoundError,
  ERR_EXECUTION_PROVIDER_NOT_AVAILABLE: ExecutionProviderNotAvailableError,
  ERR_MODEL: ModelError,
  ERR_MODEL_MISMATCH: ModelMismatchError,
  ERR_DATABASE: DatabaseError,
  ERR_DATABASE_LOCKED: DatabaseLockedError,
  ERR_DATABASE_UNAVAILABLE: DatabaseUnavailableError,
  ERR_QUEUE_UNAVAILABLE: QueueUnavailableError,
  ERR_TRACK_NOT_FOUND: TrackNotFoundError,
  ERR_ABORTED: AbortError,
  ERR_INTERNAL: InternalError,
}

/** Creates the typed error for `code`. */
export function makeError(code: ErrorCode, message: string, cause?: unknown): ResonodeError {
  const Cls = classes[code] ?? ResonodeError
  return new Cls(code, message, cause === undefined ? undefined : { cause })
}

// The native crate formats every error reason as "<CODE>: <message>"
// (crates/node/src/error.rs); this is the one place that reads it.
const NATIVE = /^(ERR_[A-Z_]+): ([\s\S]*)$/

/**
 * Converts an error thrown by the native binding into a typed error.
 *
 * - `"<CODE>: <message>"` (every error the binding makes itself) becomes the
 *   error class of `<CODE>`.
 * - Every export is compiled with napi-rs' `catch_unwind`: a Rust panic
 *   outside the binding's own guard (e.g. while napi converts an argument
 *   or a return value) arrives as an Error whose `code` is napi's
 *   `'GenericFailure'` and whose message is the panic's. napi-rs uses that
 *   status only for its own internal failures (argument-type mistakes have
 *   their own statuses: `'InvalidArg'`, `'NumberExpected'`, ...), so it
 *   becomes {@link InternalError} (`ERR_INTERNAL`), the original as `cause`.
 * - Anything else (napi's argument-type errors, JS errors) passes unchanged.
 */
export function fromNative(err: unknown): unknown {
  if (err instanceof ResonodeError) return err
  if (err instanceof Error) {
    const m = NATIVE.exec(err.message)
    if (m && m[1] in classes) return makeError(m[1] as ErrorCode, m[2])
    if ((err as { code?: unknown }).code === 'GenericFailure') return makeError('ERR_INTERNAL', `internal error: ${err.message}`, err)
  }
  return err
}

/** Calls a native function, rethrowing its errors as typed errors. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    throw fromNative(e)
  }
}

/** Awaits a native promise, rejecting with typed errors. */
export async function awaitNative<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    throw fromNative(e)
  }
}
