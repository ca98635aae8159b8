/**
 * Processors: the effects of a chain. Native processors run in Rust (in
 * file pipelines on a worker thread, and later inside the real-time audio
 * callback); {@link JsProcessor} runs user code on the JS thread, in
 * pipelines and stream processors only.
 *
 * Audio is planar: `Float32Array[]`, one array per channel (channels x frames).
 */
import native = require('./native')
import type { StreamingContext } from './context'
import { callNative, makeError } from './errors'
import { checkOptions } from './options'

/** A processor as data, as the native core understands it. */
export type ProcessorDesc = native.ProcessorDesc

/** Base of every processor. */
export abstract class Processor {
  /** Kind name, as in chain strings (`"lowpass"`), or `"js"`. */
  abstract readonly kind: string
}

/** What a processor is told about the stream. */
export interface StreamInfo {
  /** Sample rate in Hz. */
  sampleRate: number
  /** Channel count. */
  channels: number
}

/**
 * A processor implemented in Rust. Constructors validate what they can
 * without a stream; cutoffs are checked against Nyquist when the stream's
 * sample rate is known.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for invalid values.
 */
export class NativeProcessor extends Processor {
  readonly kind: string
  /** @internal */
  readonly desc: ProcessorDesc

  /** Builds from a kind and named parameters, e.g. `('lowpass', { cutoff: 8000, order: 4 })`. */
  constructor(kind: string, params: Record<string, number | string | undefined> = {}) {
    super()
    const args: native.ArgDesc[] = []
    for (const [name, v] of Object.entries(params)) {
      if (v === undefined) continue
      args.push(typeof v === 'number' ? { name, value: v } : { name, text: v })
    }
    this.kind = kind
    this.desc = { kind, args }
    callNative(() => native.validateProcessor(this.desc))
  }

  /** @internal */
  static fromDesc(desc: ProcessorDesc): NativeProcessor {
    const p = Object.create(NativeProcessor.prototype) as NativeProcessor
    Object.assign(p, { kind: desc.kind, desc })
    return p
  }
}

/**
 * Parses a chain string such as `"highpass(80) lowpass(8000, order=4) gain(-3db)"`
 * into processors. See `resonode process --help` for the grammar and kinds.
 *
 * @throws InvalidChainError for syntax errors and unknown kinds, InvalidParameterError for bad values.
 */
export function parseChain(text: string): NativeProcessor[] {
  return callNative(() => native.parseChain(text)).map((d) => NativeProcessor.fromDesc(d))
}

/** Every processor kind with its positional argument order and parameters. */
export function processorKinds(): native.ProcessorKindInfo[] {
  return native.processorKinds()
}

/** Options of {@link Gain}: exactly one of `db` and `linear` (none: unity gain). */
export interface GainOptions {
  /** Gain in dB, -120..60. */
  db?: number
  /** Amplitude factor, 0..1000 (0 mutes). */
  linear?: number
}

/**
 * Multiplies every sample by a gain. A bare number is a LINEAR amplitude
 * factor, as Web Audio's `GainNode.gain`, torchfx and mlx-audio take it:
 * `new Gain(0.5)` halves the amplitude (-6.02 dB), `new Gain(0)` mutes.
 * Decibels only through `{ db }`: `new Gain({ db: -6 })`. (Chain strings
 * keep their own grammar: `gain(-6db)`, `gain(linear=0.5)`.)
 * Changes are smoothed over ~5 ms so they do not click.
 * Parameters: `db`, `linear`.
 *
 * A negative factor (polarity inversion) is refused: the native gain
 * ramps in magnitude; invert polarity with a {@link JsProcessor}.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for a factor that
 *   is negative, NaN or above 1000, dB outside -120..60, both `db` and
 *   `linear`, or an unknown option key
 */
export class Gain extends NativeProcessor {
  /** @param options amplitude factor (linear) as a number, or `{ db }` / `{ linear }` */
  constructor(options: number | GainOptions = {}) {
    if (typeof options === 'number') {
      if (!(options >= 0)) {
        throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`linear\`: a bare number is a linear amplitude factor >= 0 (0 mutes), got ${options}${options < 0 ? '; polarity inversion is not supported, and for decibels write { db: ' + options + ' }' : ''}`)
      }
      super('gain', { linear: options })
      return
    }
    checkOptions(options, ['db', 'linear'], 'Gain')
    const o = options ?? {}
    checkDbOrLinear(o)
    super('gain', o.linear !== undefined ? { linear: o.linear } : { db: o.db ?? 0 })
  }
}

/** `Gain` and `Normalize` take their level in dB or linear, not both. @throws InvalidParameterError */
function checkDbOrLinear(o: { db?: number; linear?: number }): void {
  if (o.db !== undefined && o.linear !== undefined) {
    throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `db`: give either `db` or `linear`, not both')
  }
}

/** Options of Butterworth filters. */
export interface ButterworthOptions {
  /** Filter order, 1 to 16 (default 2: a 12 dB/octave slope, like sox's 2-pole filters). */
  order?: number
}

/**
 * Butterworth high-pass of any order, as cascaded second-order sections
 * (bilinear transform with prewarping; equals scipy.signal.butter + sosfilt).
 * Parameters: `cutoff` (Hz, -3.01 dB point), `order`.
 */
export class HighPass extends NativeProcessor {
  /** @param cutoff -3 dB frequency in Hz, 0 < cutoff < Nyquist */
  constructor(cutoff: number, options: ButterworthOptions = {}) {
    checkOptions(options, ['order'], 'HighPass')
    super('highpass', { cutoff, order: options?.order })
  }
}

/** Butterworth low-pass of any order; see {@link HighPass}. Parameters: `cutoff`, `order`. */
export class LowPass extends NativeProcessor {
  /** @param cutoff -3 dB frequency in Hz, 0 < cutoff < Nyquist */
  constructor(cutoff: number, options: ButterworthOptions = {}) {
    checkOptions(options, ['order'], 'LowPass')
    super('lowpass', { cutoff, order: options?.order })
  }
}

/** The RBJ Audio EQ Cookbook filter types. */
export type BiquadType = 'lowpass' | 'highpass' | 'bandpass' | 'notch' | 'peaking' | 'lowshelf' | 'highshelf' | 'allpass'

/**
 * A second-order filter from Robert Bristow-Johnson's Audio EQ Cookbook.
 * Parameters: `frequency` (Hz), `q`, `gain` (dB; peaking and shelves).
 */
export class Biquad extends NativeProcessor {
  constructor(type: BiquadType, frequency: number, options: { q?: number; gain?: number } = {}) {
    checkOptions(options, ['q', 'gain'], 'Biquad')
    super('biquad', { type, frequency, q: options?.q, gain: options?.gain })
  }
}

/** Options of {@link Normalize}: exactly one of `db` and `linear` (none: -1 dBFS). */
export interface NormalizeOptions {
  /** Target peak in dBFS, -100..20. */
  db?: number
  /** Target peak as a linear sample value, in (0, 1] (0.95 = -0.45 dBFS). */
  linear?: number
}

/**
 * Two-pass peak normalisation: the whole input is measured first (files are
 * read twice at constant memory), then scaled so its sample peak (all
 * channels) lands on the target. A bare number is the LINEAR target peak:
 * `new Normalize(0.95)` brings the peak to 0.95 (-0.45 dBFS); dBFS through
 * `{ db }`: `new Normalize({ db: -1 })` (the default). Needs a rewindable
 * source: a {@link FileSource} (all-native jobs, JS-driven pipelines and
 * `StreamProcessor.processChunks` alike, with the source's resampling and
 * channel options applied before measuring). Parameters: `peak` (dBFS), `linear`.
 *
 * @throws InvalidParameterError (`ERR_INVALID_PARAMETER`) for a linear
 *   target outside (0, 1], dB outside -100..20, both keys, or an unknown
 *   key (the former `{ peak }` included: it was dBFS, now `{ db }`)
 */
export class Normalize extends NativeProcessor {
  /** @param options target peak as a linear value in (0, 1], or `{ db }` / `{ linear }` */
  constructor(options: number | NormalizeOptions = {}) {
    const o: NormalizeOptions = typeof options === 'number' ? { linear: options } : (options ?? {})
    if ('peak' in o) {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `peak`: Normalize takes `{ db }` (target peak in dBFS) or `{ linear }` (target peak as a sample value in (0, 1]); `{ peak }` is no longer accepted')
    }
    checkOptions(o, ['db', 'linear'], 'Normalize')
    checkDbOrLinear(o)
    // The native processor checks the linear range (0, 1] and converts it to dBFS.
    super('normalize', o.linear !== undefined ? { linear: o.linear } : { peak: o.db })
  }
}

/**
 * Freeverb-style algorithmic reverb (Jezar at Dreampoint's public-domain
 * Freeverb: 8 damped combs and 4 allpasses per channel). Parameters `room`,
 * `damping`, `wet`, `dry`, `width`, all 0..1.
 */
export class Reverb extends NativeProcessor {
  constructor(options: { room?: number; damping?: number; wet?: number; dry?: number; width?: number } = {}) {
    checkOptions(options, ['room', 'damping', 'wet', 'dry', 'width'], 'Reverb')
    super('reverb', { ...options })
  }
}

/** Feedback delay. Parameters: `time` (ms), `feedback` (0..0.99), `mix` (0..1). */
export class Delay extends NativeProcessor {
  constructor(options: { time: number; feedback?: number; mix?: number }) {
    checkOptions(options, ['time', 'feedback', 'mix'], 'Delay')
    super('delay', { ...options })
  }
}

/**
 * Stereo-linked zero-latency peak limiter: output never exceeds `ceiling`
 * dBFS. Parameters: `ceiling` (dBFS), `release` (ms).
 */
export class Limiter extends NativeProcessor {
  constructor(options: { ceiling?: number; release?: number } = {}) {
    checkOptions(options, ['ceiling', 'release'], 'Limiter')
    super('limiter', { ...options })
  }
}

/** Options of {@link Enhance}. */
export interface EnhanceOptions {
  /** Wet/dry balance 0..1 (default 1: only the enhanced signal; 0: only the input, delayed like the enhanced signal). Changeable live as `"<index>.mix"`. */
  mix?: number
  /** A GTCRN streaming `.onnx` model (default: the built-in one, MIT, 16 kHz). */
  modelPath?: string
  /** Intra-op inference threads, 1-64 (default 1: GTCRN is too small to gain from more). */
  threads?: number
  /** `cpu` (default), `cuda` or `coreml`. */
  executionProvider?: 'cpu' | 'cuda' | 'coreml'
  /** STFT window: `periodic` (default) or `symmetric`. */
  window?: 'periodic' | 'symmetric'
  /** A different synthesis window. */
  synthesisWindow?: 'periodic' | 'symmetric'
  /** Extra latency in ms on top of the enhancer's bound, for the worker's scheduling (default: 4 buffers). Raise it if `stats.workerUnderruns` grows. */
  marginMs?: number
}

/**
 * Live speech enhancement (denoising) with the built-in GTCRN model (Rong
 * et al., ICASSP 2024), as an element of a {@link RealtimeProcessor} chain
 * (`enhance()` in chain strings). Any sample rate (resampled to 16 kHz and
 * back), each channel enhanced independently.
 *
 * The network never runs in the audio callback: the callback only writes
 * each block into a lock-free ring to a worker thread and reads the same
 * number of enhanced frames back from a second ring. That adds a fixed
 * latency P = the enhancer's latency bound + `marginMs` (101 ms at 48 kHz
 * with 256-frame buffers): output frame k is the enhanced input frame k - P,
 * sample for sample what {@link SpeechEnhancer} gives offline, delayed.
 * `stats.processingLatencyMs` reports P (it is included in `latencyMs`); when
 * the worker is late its missing frames are silence, counted in
 * `stats.workerUnderruns` and emitted as `'xrun'` (the latency stays P).
 *
 * Live chains only: file pipelines refuse it (`ERR_INVALID_CHAIN`); use
 * `SpeechEnhancer` / `resonode enhance` for files (time-aligned, no delay).
 * The model loads when the realtime processor starts.
 *
 * @throws InvalidParameterError for `mix` outside 0..1, a bad window, provider, thread count or margin.
 * At `start()`: `ERR_NOT_FOUND` (model file missing), `ERR_MODEL`, `ERR_MODEL_MISMATCH`, `ERR_RUNTIME_NOT_FOUND`.
 */
export class Enhance extends NativeProcessor {
  constructor(options: EnhanceOptions = {}) {
    checkOptions(options, ['mix', 'modelPath', 'threads', 'executionProvider', 'window', 'synthesisWindow', 'marginMs'], 'Enhance')
    options ??= {}
    super('enhance', {
      mix: options.mix,
      model: options.modelPath,
      threads: options.threads,
      provider: options.executionProvider,
      window: options.window,
      synthesis: options.synthesisWindow,
      margin: options.marginMs,
    })
  }
}

/**
 * Per-chunk metadata given to {@link JsProcessor.process} (after
 * mlx-audio's per-chunk metadata). Formerly `frameOffset`: now `firstFrame`.
 */
export interface JsProcessContext extends StreamInfo {
  /** Index of this chunk in the run, from 0. */
  chunkIndex: number
  /** Index of the chunk's first frame in the stream (frames before it in this run). */
  firstFrame: number
  /** The run's stream format and chunk size (the one `prepare()` received). */
  context: StreamingContext
}

/** The function form of a JS processor: process planar channels in place, or return new ones of the same shape. */
export type JsProcessFn = (channels: Float32Array[], meta: JsProcessContext) => void | Float32Array[]

/**
 * A processor written in JavaScript (it runs on the JS thread, so never in
 * the real-time callback): in any {@link StreamingPipeline} and in
 * {@link StreamProcessor} (`processFile` and `processChunks`; a chain with
 * a JsProcessor runs JS-driven there). Pass a function or subclass and
 * override {@link JsProcessor.process}.
 *
 * Life cycle per run: `reset()`, then `prepare(context)` once the stream's
 * format is known, then `process(channels, meta)` per chunk. `reset()` is
 * also called by `pipeline.reset()`, and between the analysis pass and the
 * real pass when a {@link Normalize} follows the processor (it then sees
 * the file twice).
 */
export class JsProcessor extends Processor {
  readonly kind = 'js'
  private readonly fn?: JsProcessFn
  constructor(fn?: JsProcessFn) {
    super()
    if (fn !== undefined && typeof fn !== 'function') {
      throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`fn\`: JsProcessor takes a function (channels, meta) => void | Float32Array[], got ${typeof fn}`)
    }
    this.fn = fn
  }
  /** Called once per run before the first chunk, with the stream's format and chunk size. */
  prepare(_context: StreamingContext): void {}
  /** Processes one chunk (planar, channels x frames): in place, or return new arrays of the same shape. Override or pass a function to the constructor. */
  process(channels: Float32Array[], meta: JsProcessContext): void | Float32Array[] {
    if (!this.fn) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `process`: JsProcessor needs a function or an overridden process()')
    return this.fn(channels, meta)
  }
  /** Clears state: before every run, and from `pipeline.reset()`. */
  reset(): void {}
}
