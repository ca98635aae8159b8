/**
 * Text-prompted source separation with SAM-Audio (Segment Anything Model
 * for Audio, Meta, arXiv 2512.18099): describe the sound ("a man speaking",
 * "the siren") and get it as `target`, everything else as `residual`. The
 * algorithm is that of mlx-audio 0.6.2 (`mlx_audio/sts/models/sam_audio/
 * model.py`): a DAC-VAE codec encodes the mixture at 48 kHz, a T5 encoder
 * the description, and a flow-matching diffusion transformer is integrated
 * by an ODE solver from Gaussian noise (t = 0) to the separated latents
 * (t = 1), which the codec decodes. All of it runs in Rust (ONNX Runtime)
 * on worker threads, from a folder made by `scripts/export_sam_audio.py`
 * (`modelDir`, whose name contains `sam-audio`).
 *
 * Three entry points, as in the reference:
 * - {@link PromptSeparator.separate} (and {@link PromptSeparator.separateBatch}):
 *   short audio at once (about 10 to 30 s), with temporal anchors;
 * - {@link PromptSeparator.separateLong}: any length in overlapping chunks
 *   blended with a raised-cosine crossfade, memory bounded by the chunk;
 * - {@link PromptSeparator.separateStreaming}: the same chunks as pieces,
 *   the first after one model chunk (an async iterator, or a callback).
 *
 * Audio out is mono at 48 kHz (`Float32Array`, frames): inputs at other
 * rates are resampled (rubato) and their channels averaged first (the
 * reference averages channels too), so results are as long as the input
 * at 48 kHz.
 *
 * The ODE solver trades speed for quality: `euler` runs one transformer
 * call per step, `midpoint` (the default, as the reference) two; the
 * default step size 2/32 gives 16 steps (32 calls with midpoint). Fewer
 * steps (a larger `stepSize`) are proportionally faster and coarser.
 *
 * Speed on CPU: the real-time factor depends on the model's size far more
 * than on resonode (the transformer dominates); a released checkpoint runs
 * well below real time on a laptop CPU, the tiny test model far above. See
 * bench/RESULTS.md section l for measured times per ODE step and per file.
 */
import native = require('./native')
import { abortError, awaitNative, callNative, checkSignal, makeError } from './errors'
import { inference, INFERENCE_KEYS, type InferenceOptions } from './inference'
import { checkOptions, keysOf } from './options'
import { isPlanar, wholeInput, withControl } from './separation'
import { FileSource } from './sources'

/** Options of {@link PromptSeparator}. */
export interface PromptSeparatorOptions extends InferenceOptions {
  /** A SAM-Audio export folder (`manifest.json`, four ONNX graphs, `tokenizer.json`; see `scripts/export_sam_audio.py`). */
  modelDir: string
}
const SEPARATOR_KEYS = keysOf<PromptSeparatorOptions>()(['modelDir', ...INFERENCE_KEYS] as const)

/** What the loaded model is (its `manifest.json`). */
export interface PromptModelInfo {
  /** The export's name, e.g. `sam-audio-small`. */
  name: string
  /** Sample rate in Hz of input and output (48000). */
  sampleRate: number
  /** Audio samples per latent frame (the codec's hop; 1920 for the released models). */
  hopLength: number
  /** Latent channels per stem; the noise has `2 * codebookDim` channels. */
  codebookDim: number
  /** Longest input in latent frames (`maxFrames * hopLength / sampleRate` seconds for `separate()`, and per chunk). */
  maxFrames: number
}

/**
 * A temporal anchor, in seconds of the input: `['+', start, end]` says the
 * described sound is present there, `['-', start, end]` that it is not
 * (the reference's `anchors`). `0 <= start < end <= duration`; a `+` and a
 * `-` span may not overlap.
 */
export type Anchor = ['+' | '-', number, number]

/** The ODE solver of the flow-matching transformer, integrated from t = 0 (noise) to 1. */
export interface OdeOptions {
  /** `midpoint` (default, as the reference: 2 transformer calls per step) or `euler` (1 call per step: about twice as fast, coarser). */
  method?: 'euler' | 'midpoint'
  /** Step in t, in (0, 1) exclusive; `floor(1 / stepSize)` steps (default 2/32: 16 steps). */
  stepSize?: number
}

/**
 * Audio to separate: a file path (any format resonode reads), a
 * {@link FileSource} without options (read as its path; a `sampleRate`,
 * `mono` or `channels` option is refused with `ERR_INVALID_PARAMETER`
 * naming it: SAM-Audio always averages all channels and resamples to
 * 48 kHz itself; to separate some channels, give them as planar arrays),
 * or planar `Float32Array[]` (channels x frames) with `sampleRate`.
 * Channels are averaged to mono (as the reference does) and the signal
 * resampled to 48 kHz (rubato); a file is decoded progressively by the
 * chunked methods.
 */
export type PromptInput = string | FileSource | Float32Array[]

/** Options every entry point takes. */
export interface PromptCallOptions {
  /** Sample rate in Hz of planar input (required for it): a whole number > 0. */
  sampleRate?: number
  /** The ODE solver (default midpoint, stepSize 2/32). */
  ode?: OdeOptions
  /** Decode the latents in chunks of this many frames (a whole number >= 8, with 4 frames of linear crossfade, as the reference's `ode_decode_chunk_size`); default: at once. */
  decodeChunkSize?: number
  /**
   * The initial noise (N(0, 1), shape `noiseShape`), given back as the
   * result's `noise` to reproduce a run exactly, or the reference's noise
   * for parity. Its length must be batch x frames x 2 x codebookDim
   * (`ERR_SHAPE` otherwise).
   */
  noise?: Float32Array
  /**
   * Aborting stops the run within one model call and rejects with an
   * `AbortError` (`ERR_ABORTED`); a signal already aborted rejects at once.
   */
  signal?: AbortSignal
}

/** Options of {@link PromptSeparator.separate}. */
export interface PromptSeparateOptions extends PromptCallOptions {
  /** What to extract, in words (e.g. `'a man speaking'`); empty is `ERR_INVALID_PARAMETER`. */
  description: string
  /** Temporal anchors in seconds (see {@link Anchor}); without them the processor's null anchor is used, as the reference. */
  anchors?: Anchor[]
  /** Seed of the noise: a whole number in [0, 2^53) (default: drawn, and returned as `seed`); `noise`, when given, is used instead. */
  seed?: number
}
const SEPARATE_KEYS = keysOf<PromptSeparateOptions>()(['description', 'anchors', 'seed', 'sampleRate', 'ode', 'decodeChunkSize', 'noise', 'signal'] as const)

/** Options of {@link PromptSeparator.separateBatch}. */
export interface PromptBatchOptions extends PromptCallOptions {
  /** One description per input. */
  descriptions: string[]
  /** One anchor list per input (an empty list: none for that input). */
  anchors?: Anchor[][]
  /** Seed of the batch's noise (see {@link PromptSeparateOptions.seed}). */
  seed?: number
}
const BATCH_KEYS = keysOf<PromptBatchOptions>()(['descriptions', 'anchors', 'seed', 'sampleRate', 'ode', 'decodeChunkSize', 'noise', 'signal'] as const)

/** What a separation took and used. */
export interface PromptRunInfo {
  /** Sample rate of the outputs in Hz (48000). */
  sampleRate: number
  /** The initial noise, row-major `noiseShape`; pass it back as `noise` to reproduce the output exactly. */
  noise: Float32Array
  /** `[batch, frames, 2 * codebookDim]` (chunked methods: the chunks' noises concatenated along frames, batch 1). */
  noiseShape: [number, number, number]
  /** The seed the noise came from; null when `noise` was given. */
  seed: number | null
  /**
   * Peak resident set of the whole process since it started, in bytes
   * (VmHWM on Linux, ru_maxrss elsewhere): not this call's own use, and it
   * never goes down.
   */
  peakMemoryBytes: number
  /** Wall time of the separation in seconds (model load and input decoding excluded for `separate`). */
  processingTimeS: number
  /** Audio seconds per processing second. */
  realtimeFactor: number
}

/** What {@link PromptSeparator.separate} returns. */
export interface PromptSeparation extends PromptRunInfo {
  /** The described sound: mono frames at 48 kHz (the model's rate; not resampled back to the input's), as long as the input at 48 kHz. */
  target: Float32Array
  /**
   * Everything else: mono frames at 48 kHz, same length. Decoded from the
   * latent channels [C, 2C) as the reference does, so it is the model's
   * own estimate and does not sum with `target` to the input.
   */
  residual: Float32Array
}

/** What {@link PromptSeparator.separateBatch} returns. */
export interface PromptBatchSeparation extends PromptRunInfo {
  /**
   * Per input, in order: `target` and `residual`, mono frames at 48 kHz (not
   * resampled back), each as long as its input at 48 kHz; the residual is
   * decoded from latent channels [C, 2C) and does not sum with the target
   * to the input.
   */
  items: { target: Float32Array; residual: Float32Array }[]
}

/** Options of {@link PromptSeparator.separateLong}. */
export interface PromptLongOptions extends PromptCallOptions {
  /** What to extract, in words. */
  description: string
  /** Chunk length in seconds (default 10, as the reference). */
  chunkSeconds?: number
  /** Overlap between chunks in seconds, crossfaded with a raised cosine (default 3). */
  overlapSeconds?: number
  /** Chunk i draws its noise from `seed + i` (default 42, as the reference). */
  seed?: number
  /** Receives the completed fraction in [0, 1] about five times a second and 1 at the end. */
  onProgress?: (fraction: number) => void
  /** Write `<outDir>/target.wav` and `<outDir>/residual.wav` (48 kHz mono float WAV) as pieces become final, instead of returning arrays. */
  outDir?: string
}
const LONG_KEYS = keysOf<PromptLongOptions>()(['description', 'chunkSeconds', 'overlapSeconds', 'seed', 'onProgress', 'outDir', 'sampleRate', 'ode', 'decodeChunkSize', 'noise', 'signal'] as const)

/** What {@link PromptSeparator.separateLong} returns in memory. */
export interface PromptLongSeparation extends PromptSeparation {
  /** The seed of chunk 0. */
  seed: number
  /** Model chunks run. */
  chunks: number
  /** Seconds until the first piece was final. */
  timeToFirstAudioS: number | null
  /**
   * True only on the partial result an abort carries (the `stats` of the
   * `AbortError`): the arrays (or files, finalised) hold what was separated
   * until then. A completed call resolves with false.
   */
  stopped: boolean
}

/**
 * What {@link PromptSeparator.separateLong} returns with `outDir`. The
 * noise is not built then (it is about as large as the input; memory stays
 * bounded by the chunk): `noise` is null, `noiseShape` still says its
 * size, and chunk i used the noise of `seed + i`, so the same `seed`
 * regenerates it (`separateLong` without `outDir` returns it).
 */
export interface PromptLongFiles extends Omit<PromptLongSeparation, 'target' | 'residual' | 'noise'> {
  /** Path of `target.wav` (48 kHz mono float WAV: the model's rate, not resampled back). */
  target: string
  /** Path of `residual.wav` (48 kHz mono float WAV; decoded from latent channels [C, 2C), it does not sum with the target to the input). */
  residual: string
  /** Not built with `outDir` (see above). */
  noise: null
  /** Frames in each file (the input's at 48 kHz). */
  frames: number
}

/** Options of {@link PromptSeparator.separateStreaming}. */
export interface PromptStreamingOptions extends PromptCallOptions {
  /** What to extract, in words. */
  description: string
  /** Chunk length in seconds (default 10). */
  chunkSeconds?: number
  /** Overlap between chunks in seconds (default 3). */
  overlapSeconds?: number
  /** Chunk i draws its noise from `seed + i` (default 42). */
  seed?: number
}
const STREAMING_KEYS = keysOf<PromptStreamingOptions>()(['description', 'chunkSeconds', 'overlapSeconds', 'seed', 'sampleRate', 'ode', 'decodeChunkSize', 'noise', 'signal'] as const)

/** One piece of a streaming separation (the reference's `_separate_streaming_generator`). */
export interface PromptPiece {
  /** Mono frames at 48 kHz (the model's rate, not resampled back) of the target in this piece. */
  target: Float32Array
  /** Same for the residual (decoded from latent channels [C, 2C); it does not sum with the target to the input). */
  residual: Float32Array
  /**
   * The reference's per-piece counter (`chunk_idx` of its
   * `_separate_streaming_generator`): 0, 1, 2, ... one per piece. It is not
   * the model chunk: every model chunk after the first yields two pieces
   * (the blended overlap, then the middle).
   */
  chunkIdx: number
  /** Whether the piece ends the output. */
  isLast: boolean
  /** First frame of the piece in the output (pieces are contiguous; their concatenation equals `separateLong`'s output). */
  startFrame: number
  /**
   * Seconds from the start of the separation until the piece was final.
   * The clock starts in the first `next()`, on the worker, once the model
   * is loaded, the input opened and the description encoded (none of
   * that is counted).
   */
  timeS: number
}

/** What a streaming separation did. */
export interface PromptStreamStats {
  /** Frames delivered (the input's at 48 kHz once complete). */
  totalFrames: number
  /** Model chunks run. */
  chunks: number
  /** The chunks' noises concatenated along frames, row-major `noiseShape` (regenerated from the seeds when the stream ends). */
  noise: Float32Array
  /** `[1, frames, 2 * codebookDim]`. */
  noiseShape: [number, number, number]
  /** The seed of chunk 0. */
  seed: number
  /** Peak resident set of the whole process since it started, in bytes (VmHWM on Linux): not this stream's own use. */
  peakMemoryBytes: number
  /** Seconds from the start of the separation (see {@link PromptPiece.timeS}) to its end. */
  processingTimeS: number
  /** Audio seconds per processing second. */
  realtimeFactor: number
  /** Seconds until the first piece (same clock as {@link PromptPiece.timeS}). */
  timeToFirstAudioS: number | null
  /** Sample rate of the pieces in Hz (48000). */
  sampleRate: number
  /** True when the stream ended before its last piece (abort, `break`, `close()`); as HTDemucs' `StreamingStats.stopped`. */
  stopped: boolean
}

const CHUNKED_ANCHORS = 'invalid parameter `anchors`: anchors are not supported by the chunked methods, as in the reference; use separate()'

/**
 * An input as the native calls take it: the HTDemucs separator's
 * `wholeInput` rules (path, FileSource, planar; empty arrays are
 * `ERR_EMPTY_AUDIO`), with a FileSource's options refused.
 */
function inputDesc(input: PromptInput, sampleRate: number | undefined, what: string): native.PromptInputDesc {
  if (input instanceof FileSource) {
    const set = Object.keys(input.options).filter((k) => (input.options as Record<string, unknown>)[k] !== undefined)
    if (set.length > 0) {
      throw makeError(
        'ERR_INVALID_PARAMETER',
        `invalid parameter \`${set[0]}\`: ${what} reads a FileSource as its path only (all channels averaged, resampled to 48 kHz); give new FileSource(path) without options, or planar Float32Array[] for a channel selection`,
      )
    }
  }
  if (!(typeof input === 'string' || input instanceof FileSource || isPlanar(input) || (Array.isArray(input) && (input as unknown[]).length === 0))) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`input\`: ${what} takes a file path, a FileSource or planar Float32Array[]`)
  }
  const [desc, planar] = wholeInput(input, sampleRate, what)
  return planar ? { channels: planar, sampleRate: desc.sampleRate } : { path: desc.path }
}

/** `ERR_INVALID_PARAMETER` naming `name` unless `v` is undefined or passes `ok`. */
function checkNumber(name: string, v: unknown, ok: (n: number) => boolean, expected: string): void {
  if (v === undefined) return
  if (typeof v !== 'number' || !ok(v)) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: expected ${expected}, got ${typeof v === 'number' ? String(v) : typeof v === 'string' ? JSON.stringify(v) : typeof v}`)
  }
}

/** The numeric options every entry point shares, checked before anything native. */
function checkNumbers(o: PromptCallOptions & { seed?: unknown; chunkSeconds?: unknown; overlapSeconds?: unknown }): void {
  checkNumber('sampleRate', o.sampleRate, (n) => Number.isInteger(n) && n > 0 && n <= 0xffffffff, 'a whole number of Hz > 0')
  checkNumber('decodeChunkSize', o.decodeChunkSize, (n) => Number.isInteger(n) && n >= 8 && n <= 0xffffffff, 'a whole number of frames >= 8')
  checkNumber('seed', o.seed, (n) => Number.isSafeInteger(n) && n >= 0, 'a whole number in [0, 2^53)')
  checkNumber('chunkSeconds', o.chunkSeconds, Number.isFinite, 'a finite number of seconds')
  checkNumber('overlapSeconds', o.overlapSeconds, Number.isFinite, 'a finite number of seconds')
}

function checkDescription(d: unknown, name = 'description'): string {
  if (typeof d !== 'string') throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: expected a string describing the sound, got ${d === undefined ? 'none' : typeof d}`)
  return d
}

function anchorDescs(list: unknown, name: string): native.AnchorDesc[] {
  if (!Array.isArray(list)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}\`: expected a list of ['+' | '-', startS, endS]`)
  return list.map((a, i) => {
    if (!Array.isArray(a) || a.length !== 3 || (a[0] !== '+' && a[0] !== '-') || typeof a[1] !== 'number' || typeof a[2] !== 'number') {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`${name}[${i}]\`: expected ['+' | '-', startS, endS], got ${JSON.stringify(a)}`)
    }
    return { kind: a[0], startS: a[1], endS: a[2] }
  })
}

function odeDesc(o: OdeOptions | undefined): native.OdeDesc | undefined {
  if (o === undefined) return undefined
  checkOptions(o, ['method', 'stepSize'], 'ode')
  if (o.method !== undefined && o.method !== 'euler' && o.method !== 'midpoint') {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`ode.method\`: expected 'euler' or 'midpoint', got ${JSON.stringify(o.method)}`)
  }
  // The range (0, 1) is the core's check (OdeOptions::check); only the type is checked here.
  checkNumber('ode.stepSize', o.stepSize, () => true, 'a number in (0, 1)')
  return { method: o.method, stepSize: o.stepSize }
}

function checkNoise(n: unknown): Float32Array | undefined {
  if (n === undefined) return undefined
  if (!(n instanceof Float32Array)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `noise`: expected a Float32Array')
  return n
}

function shape3(s: number[]): [number, number, number] {
  return [s[0] ?? 0, s[1] ?? 0, s[2] ?? 0]
}

/**
 * Text-prompted separation with a SAM-Audio export. The model loads on a
 * worker thread at the first call (or {@link load}) and stays loaded for
 * the separator's life; every call runs on worker threads.
 *
 * @throws (rejects with) `ERR_NOT_FOUND` (folder or file missing), `ERR_MODEL` (damaged file or manifest),
 *   `ERR_MODEL_MISMATCH` (graphs not of the manifest's shapes), `ERR_RUNTIME_NOT_FOUND` for the model;
 *   `ERR_INVALID_PARAMETER` for options (empty description, anchors outside the audio or contradictory,
 *   `stepSize` outside (0, 1), unknown method, input longer than the model's `maxFrames`),
 *   `ERR_SHAPE` (noise length, ragged channels), `ERR_NON_FINITE_SAMPLE`, `ERR_EMPTY_AUDIO`, file errors,
 *   `ERR_ABORTED` (an `AbortError`) when `signal` aborts.
 */
export class PromptSeparator {
  private loading: Promise<native.NativePromptSeparator> | null = null
  private info: PromptModelInfo | null = null

  /** @throws InvalidParameterError for unknown options or a missing `modelDir` */
  constructor(readonly options: PromptSeparatorOptions) {
    checkOptions(options, SEPARATOR_KEYS, 'PromptSeparator')
    if (typeof options?.modelDir !== 'string' || options.modelDir === '') {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `modelDir`: PromptSeparator needs the folder of a SAM-Audio export')
    }
  }

  /** Sample rate in Hz of the outputs (SAM-Audio's codec rate, 48000; the manifest's once loaded). */
  get sampleRate(): number {
    return this.info?.sampleRate ?? 48000
  }

  /** The loaded model's manifest values; null until the model is loaded (see {@link load}). */
  get modelInfo(): PromptModelInfo | null {
    return this.info ? { ...this.info } : null
  }

  /**
   * Loads the model now (otherwise the first call does), on a worker
   * thread, and resolves with its {@link PromptModelInfo}. A failed load
   * is retried by the next call.
   *
   * @throws NotFoundError, ModelError, ModelMismatchError, RuntimeNotFoundError
   */
  async load(): Promise<PromptModelInfo> {
    await this.model()
    return this.modelInfo!
  }

  private model(): Promise<native.NativePromptSeparator> {
    if (!this.loading) {
      const { modelDir, ...inf } = this.options
      this.loading = awaitNative(callNative(() => native.loadPromptSeparator(modelDir, inference(inf)))).then(
        (m) => {
          const i = m.info
          this.info = { name: i.name, sampleRate: i.sampleRate, hopLength: i.hopLength, codebookDim: i.codebookDim, maxFrames: i.maxFrames }
          return m
        },
        (e) => {
          this.loading = null
          throw e
        },
      )
    }
    return this.loading
  }

  /**
   * Separates short audio at once: the reference's processor path
   * (`SAMAudio.separate` through `SAMAudioProcessor`): the input is encoded
   * by the codec, the description by T5, the ODE integrated from the noise
   * over `floor(1 / stepSize)` steps, and target and residual decoded and
   * trimmed to the input's length at 48 kHz (the reference keeps up to one
   * hop of padding). Without `anchors` the processor's null anchor applies
   * (as the reference); with them, each span conditions its frames.
   * Memory grows with the input; use {@link separateLong} for long audio.
   *
   * @throws see the class; `ERR_INVALID_PARAMETER` also for audio longer than `modelInfo.maxFrames` latent frames
   */
  async separate(input: PromptInput, options: PromptSeparateOptions): Promise<PromptSeparation> {
    checkOptions(options, SEPARATE_KEYS, 'PromptSeparator.separate()')
    const description = checkDescription(options?.description)
    const anchors = options.anchors === undefined ? undefined : anchorDescs(options.anchors, 'anchors')
    const r = await this.runBatch('PromptSeparator.separate()', [input], [description], anchors && [anchors], options)
    return {
      target: r.targets[0],
      residual: r.residuals[0],
      ...runInfo(r, r.frames[0] ?? 0),
    }
  }

  /**
   * Separates several inputs in one batch, one description each (the
   * reference's batch: every input zero-padded to the longest, one ODE
   * over the batch; each output trimmed to its input's length). Same maths
   * as {@link separate}, with one noise tensor `[inputs, frames, 2C]`.
   *
   * @throws see {@link separate}; `ERR_INVALID_PARAMETER` when `descriptions` (or `anchors`) and `inputs` differ in length
   */
  async separateBatch(inputs: PromptInput[], options: PromptBatchOptions): Promise<PromptBatchSeparation> {
    checkOptions(options, BATCH_KEYS, 'PromptSeparator.separateBatch()')
    if (!Array.isArray(inputs) || inputs.length === 0) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `inputs`: separateBatch() takes a non-empty list of inputs')
    const descriptions = options?.descriptions
    if (!Array.isArray(descriptions) || descriptions.length !== inputs.length) {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`descriptions\`: one description per input (${inputs.length}), got ${Array.isArray(descriptions) ? descriptions.length : typeof descriptions}`)
    }
    descriptions.forEach((d, i) => checkDescription(d, `descriptions[${i}]`))
    let anchors: native.AnchorDesc[][] | undefined
    if (options.anchors !== undefined) {
      if (!Array.isArray(options.anchors) || options.anchors.length !== inputs.length) {
        throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`anchors\`: one anchor list per input (${inputs.length})`)
      }
      anchors = options.anchors.map((l, i) => anchorDescs(l, `anchors[${i}]`))
    }
    const r = await this.runBatch('PromptSeparator.separateBatch()', inputs, descriptions, anchors, options)
    return {
      items: r.targets.map((target, i) => ({ target, residual: r.residuals[i] })),
      ...runInfo(r, Math.max(0, ...r.frames)),
    }
  }

  private async runBatch(
    what: string,
    inputs: PromptInput[],
    descriptions: string[],
    anchors: native.AnchorDesc[][] | undefined,
    options: PromptCallOptions & { seed?: number },
  ): Promise<native.PromptSeparationResult> {
    const signal = checkSignal(options.signal)
    checkNumbers(options)
    const descs = inputs.map((i) => inputDesc(i, options.sampleRate, what.replace('PromptSeparator.', '')))
    const opts: native.PromptSeparateDesc = { anchors, ode: odeDesc(options.ode), decodeChunkSize: options.decodeChunkSize, seed: options.seed }
    const noise = checkNoise(options.noise)
    if (signal?.aborted) throw abortError(signal, undefined, what)
    const model = await this.model()
    return withControl(what, signal, undefined, (control) => model.separate(descs, descriptions, opts, noise, control), (r) => r)
  }

  /**
   * Separates audio of any length in chunks: the reference's
   * `separate_long` (batch 1): chunks of `chunkSeconds` overlapping by
   * `overlapSeconds`, chunk i separated with the noise of `seed + i` and
   * no anchor conditioning (as the reference), the outputs blended with a
   * raised-cosine crossfade over the overlap. A file is streamed: about
   * one chunk of audio is held at a time, and with `outDir` the output
   * goes to `target.wav` / `residual.wav` (48 kHz mono float WAV) as it
   * becomes final, so memory is bounded by the chunk, not the file. Input
   * no longer than one chunk is one pass. The output equals the
   * concatenated pieces of {@link separateStreaming}.
   *
   * Aborting `signal` stops within one model call and rejects with an
   * `AbortError` whose `stats` is the partial result (`outDir`: the files
   * finalised with what was separated).
   *
   * @throws see the class; `ERR_INVALID_PARAMETER` for `anchors` (not supported by the chunked methods), chunk/overlap values
   */
  separateLong(input: PromptInput, options: PromptLongOptions & { outDir: string }): Promise<PromptLongFiles>
  separateLong(input: PromptInput, options: PromptLongOptions): Promise<PromptLongSeparation>
  async separateLong(input: PromptInput, options: PromptLongOptions): Promise<PromptLongSeparation | PromptLongFiles> {
    const { description, signal, desc, opts, noise } = chunkedCall(input, options, LONG_KEYS, 'separateLong')
    if (signal?.aborted) throw abortError(signal, undefined, 'PromptSeparator.separateLong()')
    const model = await this.model()
    const shape = (r: native.PromptSeparationResult): PromptLongSeparation | PromptLongFiles => {
      const frames = r.frames[0] ?? 0
      const common = { ...runInfo(r, frames), seed: r.seed ?? 0, chunks: r.chunks, timeToFirstAudioS: r.timeToFirstAudioS ?? null, stopped: r.stopped }
      return r.paths
        ? { ...common, noise: null, target: r.paths[0], residual: r.paths[1], frames }
        : { ...common, noise: r.noise ?? new Float32Array(0), target: r.targets[0] ?? new Float32Array(0), residual: r.residuals[0] ?? new Float32Array(0) }
    }
    return withControl('PromptSeparator.separateLong()', signal, options.onProgress, (control) => model.separateLong(desc, description, opts, noise, control), shape)
  }

  /**
   * Streaming separation: the chunks of {@link separateLong} as pieces, as
   * the reference's `separate_streaming` yields them (the first chunk
   * minus its overlap tail; then per chunk the blended overlap and the
   * middle; the last piece has `isLast`), each computed on a worker thread
   * when `next()` asks for it (at most one model chunk per piece). The
   * first piece comes after one model chunk. Their concatenation equals
   * {@link separateLong}'s output. No anchor conditioning (as the
   * reference).
   *
   * With `onChunk`, awaits it for every piece and resolves with the
   * {@link PromptStreamStats}.
   *
   * @throws (synchronously, or the promise with `onChunk` rejects) `ERR_INVALID_PARAMETER` for options and `anchors`;
   *   the pieces' errors reject `next()` (see the class)
   */
  separateStreaming(input: PromptInput, options: PromptStreamingOptions & { onChunk: (piece: PromptPiece) => void | Promise<void> }): Promise<PromptStreamStats>
  separateStreaming(input: PromptInput, options: PromptStreamingOptions): PromptSeparationStream
  separateStreaming(
    input: PromptInput,
    options: PromptStreamingOptions & { onChunk?: (piece: PromptPiece) => void | Promise<void> },
  ): PromptSeparationStream | Promise<PromptStreamStats> {
    const onChunk = options?.onChunk
    let stream: PromptSeparationStream
    try {
      const { description, signal, desc, opts, noise } = chunkedCall(input, options, onChunk ? [...STREAMING_KEYS, 'onChunk'] : STREAMING_KEYS, 'separateStreaming')
      if (onChunk !== undefined && typeof onChunk !== 'function') throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `onChunk`: expected a function')
      stream = new PromptSeparationStream(async () => {
        const model = await this.model()
        return callNative(() => model.stream(desc, description, opts, noise))
      }, signal)
    } catch (e) {
      if (onChunk) return Promise.reject(e)
      throw e
    }
    if (!onChunk) return stream
    return (async () => {
      for await (const piece of stream) await onChunk(piece)
      return (await stream.close())!
    })()
  }
}

/** Checks the options of a chunked method (`separateLong`, `separateStreaming`) and builds its native call. */
function chunkedCall(input: PromptInput, options: PromptLongOptions, keys: readonly string[], method: 'separateLong' | 'separateStreaming') {
  if (options && typeof options === 'object' && 'anchors' in options) throw makeError('ERR_INVALID_PARAMETER', CHUNKED_ANCHORS)
  checkOptions(options, keys, `PromptSeparator.${method}()`)
  const description = checkDescription(options?.description)
  const signal = checkSignal(options.signal)
  checkNumbers(options)
  const desc = inputDesc(input, options.sampleRate, `${method}()`)
  const opts: native.PromptLongDesc = {
    chunkSeconds: options.chunkSeconds,
    overlapSeconds: options.overlapSeconds,
    ode: odeDesc(options.ode),
    decodeChunkSize: options.decodeChunkSize,
    seed: options.seed,
    outDir: options.outDir,
  }
  return { description, signal, desc, opts, noise: checkNoise(options.noise) }
}

function runInfo(r: native.PromptSeparationResult, frames: number): PromptRunInfo {
  return {
    sampleRate: r.sampleRate,
    noise: r.noise ?? new Float32Array(0),
    noiseShape: shape3(r.noiseShape),
    seed: r.seed ?? null,
    peakMemoryBytes: r.peakMemoryBytes,
    processingTimeS: r.processingTimeS,
    realtimeFactor: r.processingTimeS > 0 ? frames / r.sampleRate / r.processingTimeS : 0,
  }
}

function streamStats(s: native.PromptStreamStats): PromptStreamStats {
  return {
    totalFrames: s.totalFrames,
    chunks: s.chunks,
    noise: s.noise,
    noiseShape: shape3(s.noiseShape),
    seed: s.seed,
    peakMemoryBytes: s.peakMemoryBytes,
    processingTimeS: s.processingTimeS,
    realtimeFactor: s.processingTimeS > 0 ? s.totalFrames / s.sampleRate / s.processingTimeS : 0,
    timeToFirstAudioS: s.timeToFirstAudioS ?? null,
    sampleRate: s.sampleRate,
    stopped: s.stopped,
  }
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * A running streaming separation ({@link PromptSeparator.separateStreaming}):
 * an async iterator of {@link PromptPiece}s. Each `next()` runs at most one
 * model chunk on a worker thread (the first also opens the input and
 * encodes the description there); nothing runs between calls. Calls made
 * before the previous one settled are queued, so pieces come in order.
 * Errors reject `next()` with a typed error; an aborted `signal` ends the
 * iteration with an `AbortError` whose `stats` are the
 * {@link PromptStreamStats} so far (a signal already aborted throws at the
 * first `next()`, before the model loads). Leaving a `for await` loop
 * (`break`, `return`, an exception) closes the stream: its file, buffers
 * and text features are freed at once. Otherwise call {@link close}.
 */
export class PromptSeparationStream implements AsyncIterableIterator<PromptPiece> {
  private native: native.NativePromptStream | null = null
  private readonly opening: Promise<void>
  private finished = false
  private closing: Promise<PromptStreamStats | null> | null = null
  /** The chain of `next()` calls (each runs after the previous settled). */
  private queue: Promise<unknown> = Promise.resolve()
  /** The running native `next()`, settled (what close() waits for). */
  private running: Promise<unknown> = Promise.resolve()
  private readonly signal: AbortSignal | undefined
  private readonly onAbort = () => this.native?.stop()

  /** @internal */
  constructor(open: () => Promise<native.NativePromptStream>, signal?: AbortSignal) {
    this.signal = signal
    if (signal?.aborted) {
      this.opening = Promise.reject(abortError(signal, undefined, 'PromptSeparator.separateStreaming()'))
    } else {
      signal?.addEventListener('abort', this.onAbort, { once: true })
      this.opening = open().then((s) => {
        this.native = s
        if (signal?.aborted) s.stop()
      })
    }
    this.opening.catch(() => {})
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Whether the stream was closed (its native job freed): by {@link close}, `return()` (leaving `for await`) or the end of the iteration. */
  get closed(): boolean {
    return this.native ? callNative(() => this.native!.closed) : this.finished
  }

  /**
   * The statistics so far: a snapshot the worker updates after each piece,
   * so this never waits for a running model chunk (`noise` is empty until
   * the stream ends); null until the stream has opened.
   */
  stats(): PromptStreamStats | null {
    return this.native ? streamStats(callNative(() => this.native!.stats())) : null
  }

  private async aborted(): Promise<never> {
    const stats = await this.close()
    throw abortError(this.signal, stats ?? undefined, 'PromptSeparator.separateStreaming()')
  }

  /** The next piece; done after the last. Concurrent calls are served in order. */
  next(): Promise<IteratorResult<PromptPiece, undefined>> {
    const r = this.queue.then(() => this.step())
    this.queue = r.catch(() => {})
    return r
  }

  private async step(): Promise<IteratorResult<PromptPiece, undefined>> {
    if (this.finished) return DONE
    try {
      await this.opening
    } catch (e) {
      this.finished = true
      this.signal?.removeEventListener('abort', this.onAbort)
      throw e
    }
    if (this.signal?.aborted) return this.aborted()
    if (this.finished) return DONE
    const call = awaitNative(this.native!.next())
    this.running = call.catch(() => {})
    let piece: native.PromptPiece | null
    try {
      piece = await call
    } catch (e) {
      if (this.signal?.aborted) return this.aborted()
      await this.close()
      throw e
    }
    if (this.signal?.aborted) return this.aborted()
    if (piece === null) {
      await this.close()
      return DONE
    }
    return { done: false, value: { target: piece.target, residual: piece.residual, chunkIdx: piece.chunkIdx, isLast: piece.isLast, startFrame: piece.startFrame, timeS: piece.timeS } }
  }

  /** Called by `for await` on `break` (or an exception): closes the stream. */
  async return(): Promise<IteratorResult<PromptPiece, undefined>> {
    await this.close()
    return DONE
  }

  /**
   * Ends the run: stops a running `next()` within one model call, waits
   * for it to settle, then frees the native job (file handle, buffers,
   * text features) on a worker thread and resolves with the final
   * statistics (`stopped` when it ended before its last piece); null when
   * the stream never opened. Later `next()` calls resolve done; closing
   * again resolves with the same statistics.
   */
  close(): Promise<PromptStreamStats | null> {
    this.finished = true
    this.signal?.removeEventListener('abort', this.onAbort)
    return (this.closing ??= this.closeNative())
  }

  private async closeNative(): Promise<PromptStreamStats | null> {
    try {
      await this.opening
    } catch {
      return null
    }
    const n = this.native!
    n.stop()
    await this.running
    return streamStats(await awaitNative(callNative(() => n.close())))
  }
}
