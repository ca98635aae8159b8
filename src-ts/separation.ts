/**
 * Music source separation with HTDemucs (Rouard et al., "Hybrid
 * Transformers for Music Source Separation", ICASSP 2023) exported to ONNX.
 * The STFT/iSTFT, the chunking of `demucs.apply.apply_model` (segments with
 * overlap, triangular or raised-cosine crossfade, the partial last chunk
 * padded with real neighbouring audio) and demucs' `Separator` input
 * normalisation run in Rust, on worker threads.
 *
 * Three entry points, as in the reference tools:
 * - {@link Separator.separate}: a short signal at once;
 * - {@link Separator.separateLong}: any length at bounded working memory;
 * - {@link Separator.separateStreaming}: regions as soon as they are final
 *   (an async iterator, or a callback).
 *
 * and {@link SeparationProcessor}, the same streaming separation as a
 * {@link StreamingPipeline} stage. Audio is planar: `Float32Array[]` per
 * channel (channels x frames); stems are `Float32Array[][]`
 * (stem x channel x frames), at the input's sample rate and length.
 */
import native = require('./native')
import { abortError, awaitNative, callNative, checkSignal, fromNative, makeError } from './errors'
import { inference, INFERENCE_KEYS, type InferenceOptions } from './inference'
import { checkOptions, keysOf } from './options'
import { Processor } from './processors'
import { CallbackSource, FileSource, MicrophoneSource, type ChunkReader } from './sources'

/**
 * demucs' `Separator` input normalisation. `'global'` (default, as demucs):
 * the mean and the unbiased standard deviation (+ 1e-8) of the channel mean
 * of the whole input; the input is normalised with them and the stems
 * scaled back. A stream of blocks cannot see its whole input first, so it
 * takes fixed statistics `{ mean, std }` (e.g. {@link Separator.normalizationStats}
 * of a representative excerpt) or `'off'`.
 */
export type Normalization = 'global' | 'off' | { mean: number; std: number }

/** Options of {@link Separator}. */
export interface SeparatorOptions extends InferenceOptions {
  /** An HTDemucs ONNX export (see docs/htdemucs.md); `name.0.onnx`, `name.1.onnx`, ... load as a bag. */
  model: string
  /** Overlap ratio between segments in [0, 1) (default 0.25, as demucs). */
  overlap?: number
  /** Segment crossfade: `triangular` (default, as demucs `apply_model`) or `cosine` (raised cosine). */
  crossfade?: 'triangular' | 'cosine'
  /**
   * Segment (chunk) length in seconds, as demucs' `--segment`: any length in (0, the export's segment]
   * (default: the export's, 7.8 s for the released models). Each chunk is zero-padded to the export's fixed
   * length and the output trimmed, as `HTDemucs.forward` pads to its training length; a longer segment is
   * `ERR_INVALID_PARAMETER` naming the model's.
   */
  segmentS?: number
  /** Input normalisation (default `'global'`). */
  normalization?: Normalization
  /**
   * Give each model call's intermediate tensors (about 1.2 GB for a 7.8 s segment of the full-size model)
   * back to the system after the call instead of keeping them for the next (default `false`): between calls
   * the process holds about the weights, at the cost of fresh page faults in every call (about +40 % CPU
   * time here); the peak during a call drops less (about 15 %). The stems are identical either way.
   */
  lowMemory?: boolean
}
const SEPARATOR_KEYS = keysOf<SeparatorOptions>()(['model', 'overlap', 'crossfade', 'segmentS', 'normalization', 'lowMemory', ...INFERENCE_KEYS] as const)

/** What a separation into files did. */
export type SeparateResult = native.SeparateResult

/**
 * Audio to separate: a file path, a {@link FileSource} (its resampling and
 * channel options apply), planar `Float32Array[]` (channels x frames, with
 * `sampleRate`), or, for {@link Separator.separateStreaming} only, a stream
 * of planar blocks of any sizes: a {@link CallbackSource}, a
 * {@link MicrophoneSource}, or an (async) iterable of `Float32Array[]`
 * (with `sampleRate`).
 */
export type SeparationInput =
  | string
  | FileSource
  | Float32Array[]
  | CallbackSource
  | MicrophoneSource
  | Iterable<Float32Array[]>
  | AsyncIterable<Float32Array[]>

/** Per-call options shared by every entry point. */
export interface SeparationCallOptions {
  /** Sample rate in Hz of planar or block-stream input (required for them). */
  sampleRate?: number
  /** Overrides the separator's normalisation. */
  normalization?: Normalization
  /** Overrides the separator's overlap ratio. */
  overlap?: number
  /** Overrides the separator's crossfade. */
  crossfade?: 'triangular' | 'cosine'
}
const CALL_KEYS = keysOf<SeparationCallOptions>()(['sampleRate', 'normalization', 'overlap', 'crossfade'])

/** Separated audio. */
export interface SeparatedStems {
  /** stem x channel x frames (`Float32Array` per channel), at `sampleRate`, as long as the input. */
  stems: Float32Array[][]
  /** Stem names in the order of `stems`, e.g. `['drums', 'bass', 'other', 'vocals']`. */
  stemNames: string[]
  /** Sample rate in Hz (the input's). */
  sampleRate: number
  /** Frames per stem channel (= input frames). */
  frames: number
  /** Wall time of the separation in seconds (model load excluded). */
  processingTimeS: number
  /** Audio seconds per processing second. */
  realtimeFactor: number
}

/** Options of {@link Separator.separateLong}. */
export interface LongOptions extends SeparationCallOptions {
  /** Segment (chunk) length in seconds, in (0, the export's segment] (default: the export's; see {@link SeparatorOptions.segmentS}). */
  chunkSeconds?: number
  /** Overlap between segments in seconds (default: 25 % of the segment); exclusive with `overlap`. */
  overlapSeconds?: number
  /** Receives the completed fraction in [0, 1] about five times a second and 1 at the end (unless aborted). */
  onProgress?: (fraction: number) => void
  /**
   * Aborting stops the run within one model call: files are finalised with
   * what was separated until then, and the call rejects with an `AbortError`
   * whose `stats` is that partial result (`stopped: true`). A signal already
   * aborted rejects at once (nothing is loaded or written).
   */
  signal?: AbortSignal
}

/** Options of {@link Separator.separateLong} writing files. */
export interface LongFileOptions extends LongOptions {
  /** Directory for `<stem>.<format>` files (created if missing). */
  outDir: string
  /** Stems to write (default: all of the model's). */
  stems?: string[]
  /** `wav` (default) or `flac`. */
  format?: 'wav' | 'flac'
  /** Sample encoding (default: like the input file, else float32 WAV / int24 FLAC). */
  encoding?: 'int16' | 'int24' | 'float32'
}
const LONG_KEYS = keysOf<LongFileOptions>()([...CALL_KEYS, 'chunkSeconds', 'overlapSeconds', 'onProgress', 'signal', 'outDir', 'stems', 'format', 'encoding'] as const)

/** What {@link Separator.separateLong} returns in memory. */
export interface LongSeparation extends SeparatedStems {
  /** Seconds until the first region was final. */
  timeToFirstAudioS: number | null
  /** Model calls (when stopped: those whose regions were delivered). */
  chunks: number
  /** True only in the `stats` of the `AbortError` of an aborted run: `frames` (fewer than the input's) were separated. */
  stopped: boolean
}

/** What {@link Separator.separateLong} returns when it writes files. */
export interface StemFiles extends Omit<LongSeparation, 'stems'> {
  /** The files written, in the order of `stemNames`. */
  paths: string[]
}

/** Options of {@link Separator.separateStreaming}. */
export interface StreamingOptions extends SeparationCallOptions {
  /** Overlap between segments in seconds; exclusive with `overlap`. */
  overlapSeconds?: number
  /** Frames asked of a {@link MicrophoneSource} per read (default 65536; iterables give what they give). */
  blockFrames?: number
  /**
   * Aborting stops the worker within one model call; the iteration (or the
   * `onChunk` promise) then ends by throwing an `AbortError` whose `stats`
   * are the {@link StreamingStats} so far (`stopped: true`). A signal
   * already aborted throws at the first `next()`, before the model loads.
   */
  signal?: AbortSignal
}
const STREAMING_KEYS = keysOf<StreamingOptions>()([...CALL_KEYS, 'overlapSeconds', 'blockFrames', 'signal'] as const)

/** Options of {@link Separator.separateFile}. */
export interface SeparateFileOptions {
  /** Directory for `<stem>.wav` (created if missing). */
  outDir: string
  /** Stems to write (default: all of the model's). */
  stems?: string[]
  /** Receives the completed fraction in [0, 1] about five times a second and 1 at the end (unless aborted). */
  onProgress?: (fraction: number) => void
  /** Aborting stops the run within one model call and rejects with an `AbortError` whose `stats` is the {@link SeparateResult} so far (`stopped: true`, files finalised). */
  signal?: AbortSignal
}
const SEPARATE_FILE_KEYS = keysOf<SeparateFileOptions>()(['outDir', 'stems', 'onProgress', 'signal'])

/** One final region of a streaming separation. */
export interface SeparatedChunk {
  /** stem x channel x frames of this region. */
  stems: Float32Array[][]
  /** Region index from 0 (region k starts where model chunk k starts). */
  chunkIdx: number
  /** Whether this region ends the output. */
  isLast: boolean
  /** First frame of the region in the input's timeline (regions are contiguous). */
  startFrame: number
  /** Frames in the region. */
  frames: number
  /** Seconds from the start of the separation (model load included) until this region was final. */
  timeS: number
}

/** What a streaming separation did. */
export interface StreamingStats extends native.StreamingStats {
  /** Stem names, in the order of each chunk's `stems`. */
  stemNames: string[]
  /** Sample rate of the stems in Hz. */
  sampleRate: number
}

/** @internal */
export function isPlanar(x: unknown): x is Float32Array[] {
  return Array.isArray(x) && x.length > 0 && x.every((c) => c instanceof Float32Array)
}

function isBlockStream(x: unknown): x is Iterable<Float32Array[]> | AsyncIterable<Float32Array[]> {
  return x !== null && typeof x === 'object' && (Symbol.asyncIterator in x || Symbol.iterator in x)
}

function normalizationDesc(n: Normalization | undefined): native.NormalizationDesc | undefined {
  if (n === undefined) return undefined
  if (n === 'global' || n === 'off') return { mode: n }
  if (n && typeof n === 'object' && !Array.isArray(n)) checkOptions(n, ['mean', 'std'], 'normalization')
  if (n && typeof n === 'object' && typeof n.mean === 'number' && typeof n.std === 'number') return { mode: 'fixed', mean: n.mean, std: n.std }
  throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`normalization\`: expected 'global', 'off' or { mean, std }, got ${JSON.stringify(n)}`)
}

/** File or planar input as the native calls take it (also PromptSeparator's). @internal */
export function wholeInput(input: SeparationInput, sampleRate: number | undefined, what: string): [native.SeparationInputDesc, Float32Array[] | null] {
  if (typeof input === 'string') return [{ path: input }, null]
  if (input instanceof FileSource) return [{ path: input.path, sourceOptions: input.options }, null]
  if (isPlanar(input)) return [{ sampleRate }, input]
  if (Array.isArray(input) && input.length === 0) throw makeError('ERR_EMPTY_AUDIO', 'empty audio: no channels to separate')
  throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`input\`: ${what} takes a file path, a FileSource or planar Float32Array[]; stream blocks with separateStreaming()`)
}

/**
 * Music source separation with an HTDemucs ONNX export: drums, bass, other,
 * vocals (and guitar, piano for `htdemucs_6s`). Every call loads the model
 * on a worker thread and runs there; the JS thread only receives results.
 *
 * @throws (rejects with) `ERR_NOT_FOUND` / `ERR_MODEL` / `ERR_MODEL_MISMATCH` / `ERR_RUNTIME_NOT_FOUND` for the model,
 *   `ERR_INVALID_PARAMETER` for options (a missing `sampleRate`, `chunkSeconds` longer than the model's segment, ...),
 *   `ERR_SHAPE` for ragged channels, `ERR_NON_FINITE_SAMPLE` for NaN/inf input, `ERR_EMPTY_AUDIO`, file errors.
 */
export class Separator {
  constructor(readonly options: SeparatorOptions) {
    checkOptions(options, SEPARATOR_KEYS, 'Separator')
    normalizationDesc(options?.normalization)
  }

  /**
   * demucs' normalisation statistics of planar audio (channels x frames):
   * mean and unbiased std (+ 1e-8) of the channel mean. Give them as
   * `normalization` to a block stream to reproduce a `'global'` run.
   *
   * @throws EmptyAudioError, ShapeError
   */
  static normalizationStats(channels: Float32Array[]): { mean: number; std: number } {
    return callNative(() => native.separationNormalizationStats(channels))
  }

  /** @internal */
  nativeOptions(o: SeparationCallOptions & { overlapSeconds?: number; chunkSeconds?: number } = {}): native.SeparationOptionsDesc {
    const { model, overlap, crossfade, segmentS, normalization, lowMemory, ...inf } = this.options
    return {
      model,
      lowMemory,
      overlap: o.overlap ?? (o.overlapSeconds === undefined ? overlap : undefined),
      overlapS: o.overlapSeconds,
      crossfade: o.crossfade ?? crossfade,
      segmentS: o.chunkSeconds ?? segmentS,
      normalization: normalizationDesc(o.normalization ?? normalization),
      inference: inference(inf),
    }
  }

  /**
   * Separates a short signal at once (demucs' `Separator.separate_tensor`,
   * `shifts=0`): the whole input is resampled (rubato) to the model's rate,
   * normalised by its own statistics, chunked like `apply_model`, and the
   * stems resampled back to the input's rate and length. Memory grows with
   * the input; use {@link separateLong} for long files.
   */
  async separate(input: string | FileSource | Float32Array[], options: SeparationCallOptions = {}): Promise<SeparatedStems> {
    checkOptions(options, CALL_KEYS, 'Separator.separate()')
    const [desc, planar] = wholeInput(input, options.sampleRate, 'separate()')
    const r = await awaitNative(callNative(() => native.separate(desc, planar, this.nativeOptions(options))))
    return { stems: r.stems, stemNames: r.stemNames, sampleRate: r.sampleRate, frames: r.frames, processingTimeS: r.processingTimeS, realtimeFactor: r.realtimeFactor }
  }

  /**
   * Separates input of any length at bounded working memory: a file is
   * streamed from disk (twice with `'global'` normalisation: statistics,
   * then separation), about two segments of audio are held at a time, and
   * each final region is resampled back and either appended to the
   * returned stems or, with `outDir`, written to one file per stem (then
   * total memory is bounded too). The output equals the concatenated
   * regions of {@link separateStreaming} with the same input and options,
   * bit for bit. (For input not at the model's rate it can differ from
   * {@link separate} by resampling in blocks instead of at once, and by
   * taking the statistics at the input's rate: far below audibility.)
   */
  separateLong(input: string | FileSource | Float32Array[], options: LongFileOptions): Promise<StemFiles>
  separateLong(input: string | FileSource | Float32Array[], options?: LongOptions): Promise<LongSeparation>
  async separateLong(input: string | FileSource | Float32Array[], options: LongOptions & Partial<LongFileOptions> = {}): Promise<LongSeparation | StemFiles> {
    checkOptions(options, LONG_KEYS, 'Separator.separateLong()')
    const [desc, planar] = wholeInput(input, options.sampleRate, 'separateLong()')
    const files: native.StemFilesDesc | undefined = options.outDir === undefined ? undefined : { outDir: options.outDir, stems: options.stems, format: options.format, encoding: options.encoding }
    const { onProgress, signal } = options
    const nativeOptions = this.nativeOptions(options)
    return withControl(
      'Separator.separateLong()',
      signal,
      onProgress,
      (control) => native.separateLong(desc, planar, nativeOptions, files, control),
      (r): LongSeparation | StemFiles => {
        const common = { stemNames: r.stemNames, sampleRate: r.sampleRate, frames: r.frames, processingTimeS: r.processingTimeS, realtimeFactor: r.realtimeFactor, timeToFirstAudioS: r.timeToFirstAudioS ?? null, chunks: r.chunks ?? 0, stopped: r.stopped }
        return r.paths ? { ...common, paths: r.paths } : { ...common, stems: r.stems }
      },
    )
  }

  /**
   * Streaming separation: yields each region `{ stems, chunkIdx, isLast,
   * startFrame }` as soon as no later chunk can change it, from a worker
   * thread that owns the model (the JS thread never runs inference). Region
   * k spans `[k * stride, (k + 1) * stride)` with stride = 75 % of the
   * segment (5.85 s for HTDemucs); the first comes after one segment of
   * input and one model call. Their concatenation equals
   * {@link separateLong}'s output exactly, whatever the block sizes of a
   * block stream. The worker computes at most one region ahead of the
   * consumer and holds at most two pushed blocks; breaking out of
   * `for await` (or {@link SeparationStream.close}) stops it within one
   * model call and frees the model.
   *
   * With `onChunk`, awaits it for every region and resolves with the
   * {@link StreamingStats} (`timeToFirstAudioS` included). Block streams
   * need `sampleRate` and `normalization` `{ mean, std }` or `'off'`.
   */
  separateStreaming(input: SeparationInput, options: StreamingOptions & { onChunk: (chunk: SeparatedChunk) => void | Promise<void> }): Promise<StreamingStats>
  separateStreaming(input: SeparationInput, options?: StreamingOptions): SeparationStream
  separateStreaming(
    input: SeparationInput,
    options: StreamingOptions & { onChunk?: (chunk: SeparatedChunk) => void | Promise<void> } = {},
  ): SeparationStream | Promise<StreamingStats> {
    const onChunk = options?.onChunk
    let desc: native.SeparationOptionsDesc
    let signal: AbortSignal | undefined
    try {
      checkOptions(options, onChunk ? [...STREAMING_KEYS, 'onChunk'] : STREAMING_KEYS, 'Separator.separateStreaming()')
      signal = checkSignal(options.signal)
      desc = this.nativeOptions(options)
    } catch (e) {
      if (onChunk) return Promise.reject(e)
      throw e
    }
    const stream = new SeparationStream(() => this.openStream(input, options, desc), signal)
    if (!onChunk) return stream
    return (async () => {
      for await (const chunk of stream) await onChunk(chunk)
      return (await stream.close())!
    })()
  }

  private async openStream(
    input: SeparationInput,
    options: StreamingOptions,
    desc: native.SeparationOptionsDesc,
  ): Promise<{ stream: native.NativeSeparationStream; reader?: ChunkReader; blockFrames: number }> {
    const blockFrames = options.blockFrames ?? 65536
    const open = (i: native.SeparationInputDesc, planar: Float32Array[] | null) => callNative(() => native.NativeSeparationStream.open(i, planar, desc))
    if (typeof input === 'string' || input instanceof FileSource || isPlanar(input)) {
      const [i, planar] = wholeInput(input, options.sampleRate, 'separateStreaming()')
      return { stream: open(i, planar), blockFrames }
    }
    let reader: ChunkReader
    if (input instanceof CallbackSource) reader = await input.openAsync()
    else if (input instanceof MicrophoneSource) reader = input.open()
    else if (isBlockStream(input)) {
      if (!(options.sampleRate! > 0)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `sampleRate`: a block stream needs its sample rate in Hz')
      reader = await new CallbackSource(input, { sampleRate: options.sampleRate! }).openAsync()
    } else {
      throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `input`: expected a path, FileSource, Float32Array[], CallbackSource, MicrophoneSource or an (async) iterable of Float32Array[]')
    }
    try {
      return { stream: open({ pushChannels: reader.channels, sampleRate: reader.sampleRate }, null), reader, blockFrames }
    } catch (e) {
      reader.close()
      throw e
    }
  }

  /**
   * Separates `input` into `<outDir>/<stem>.wav`, one file per stem (the
   * file is streamed; bounded memory). `onProgress` receives the completed
   * fraction. Aborting `signal` stops it like a pipeline: it resolves with
   * `stopped: true` and finalised files of `framesProcessed` frames.
   *
   * @throws RuntimeNotFoundError, ModelError, ModelMismatchError, file errors
   */
  async separateFile(input: string, options: SeparateFileOptions): Promise<SeparateResult> {
    checkOptions(options, SEPARATE_FILE_KEYS, 'Separator.separateFile()')
    const { model, overlap, crossfade, segmentS, lowMemory, inference } = this.nativeOptions()
    return withControl(
      'Separator.separateFile()',
      options?.signal,
      options?.onProgress,
      (control) => native.separateFile({ input, model, outDir: options.outDir, stems: options.stems, overlap, crossfade, segmentS, lowMemory, inference }, control),
      (r) => r,
    )
  }
}

/**
 * Runs a native job that stops and reports progress through a
 * `PipelineControl`, and turns its result into the public one with
 * `result`. `signal` (checked) stops the job within one chunk; the native
 * side finalises its outputs and resolves with `stopped: true`, which
 * becomes the rejection: an `AbortError` carrying that partial result as
 * `stats`. A signal already aborted rejects at once, before the job starts.
 * `onProgress` gets the fraction about five times a second, and 1 at the
 * end of a complete run. `what` names the call in the error message.
 * @internal
 */
export async function withControl<R extends { stopped: boolean }, T>(
  what: string,
  signal: unknown,
  onProgress: ((fraction: number) => void) | undefined,
  start: (control: native.PipelineControl) => Promise<R>,
  result: (r: R) => T,
): Promise<T> {
  const s = checkSignal(signal)
  if (s?.aborted) throw abortError(s, undefined, what)
  const control = new native.PipelineControl()
  const abort = () => control.stop()
  s?.addEventListener('abort', abort, { once: true })
  const timer = onProgress ? setInterval(() => onProgress(control.fraction), 200) : null
  try {
    const r = await awaitNative(callNative(() => start(control)))
    if (r.stopped) throw abortError(s, result(r), what)
    onProgress?.(1)
    return result(r)
  } finally {
    if (timer) clearInterval(timer)
    s?.removeEventListener('abort', abort)
  }
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * A running streaming separation ({@link Separator.separateStreaming}): an
 * async iterator of {@link SeparatedChunk}s. Errors (model, input, shape,
 * NaN) reject the pending `next()` with a typed {@link ResonodeError}.
 * A stream that is neither drained nor closed keeps its worker paused one
 * region ahead, holding the model, until it is garbage-collected: prefer
 * `for await` (which closes it) or {@link SeparationStream.close}.
 */
export class SeparationStream implements AsyncIterableIterator<SeparatedChunk> {
  /** Stem names (known once the first chunk has arrived). */
  stemNames: string[] = []
  /** Sample rate of the chunks in Hz (known once the first chunk has arrived). */
  sampleRate = 0
  /** Channels per stem (known once the first chunk has arrived). */
  channels = 0
  /** Input frames, when the input knows them (files, arrays). */
  totalFrames: number | null = null
  /** Seconds from the start (model load included) until the first region was final; null before. */
  timeToFirstAudioS: number | null = null

  private native: native.NativeSeparationStream | null = null
  private readonly opening: Promise<void>
  private pumpError: unknown = undefined
  private stopping = false
  private finished = false
  private closing: Promise<StreamingStats | null> | null = null
  private finalStats: StreamingStats | null = null
  private readonly signal: AbortSignal | undefined
  private readonly onAbort = () => this.stop()

  /** @internal */
  constructor(open: () => Promise<{ stream: native.NativeSeparationStream; reader?: ChunkReader; blockFrames: number }>, signal?: AbortSignal) {
    this.signal = signal
    if (signal?.aborted) {
      // Nothing is opened: the first next() throws the AbortError.
      this.opening = Promise.reject(abortError(signal, undefined, 'Separator.separateStreaming()'))
    } else {
      signal?.addEventListener('abort', this.onAbort, { once: true })
      this.opening = open().then(({ stream, reader, blockFrames }) => {
        this.native = stream
        // A stop asked for while the model was loading.
        if (this.stopping) stream.stop()
        if (reader) void this.pump(stream, reader, blockFrames)
      })
    }
    // next() reports an opening failure; keep it from being unhandled meanwhile.
    this.opening.catch(() => {})
  }

  /** Ends the iteration of an aborted run: waits for the worker, then throws the AbortError with the stats so far. */
  private async aborted(): Promise<never> {
    this.finished = true
    this.stop()
    const stats = await this.close()
    throw abortError(this.signal, stats ?? undefined, 'Separator.separateStreaming()')
  }

  /** Feeds a block stream to the worker, waiting whenever its queue is full. */
  private async pump(stream: native.NativeSeparationStream, reader: ChunkReader, blockFrames: number): Promise<void> {
    try {
      while (!this.stopping) {
        let block: Float32Array[] | null
        try {
          block = await reader.read(blockFrames)
        } catch (e) {
          // A failing source ends the run, and next() reports its error.
          if (!this.stopping) {
            this.pumpError ??= fromNative(e)
            stream.stop()
          }
          return
        }
        if (!block) break
        if ((block[0]?.length ?? 0) === 0) continue
        await awaitNative(callNative(() => stream.push(block!)))
      }
      if (!this.stopping) callNative(() => stream.end())
    } catch {
      // The worker refused the block: the run is over (stopped, or failed,
      // and next() reports the worker's error).
    } finally {
      reader.close()
    }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** The next region; done after the last (or after a stop). */
  async next(): Promise<IteratorResult<SeparatedChunk, undefined>> {
    if (this.finished) return DONE
    try {
      await this.opening
    } catch (e) {
      this.finished = true
      throw e
    }
    const stream = this.native!
    for (;;) {
      if (this.signal?.aborted) return this.aborted()
      let ev: native.SeparationEvent | null
      try {
        ev = await awaitNative(stream.next())
      } catch (e) {
        if (this.signal?.aborted) return this.aborted()
        this.finished = true
        await this.close()
        throw e
      }
      // A region that was final before the abort is not delivered: the run ends at the abort.
      if (this.signal?.aborted) return this.aborted()
      if (ev === null || ev.kind === 'end') {
        if (ev?.stats) this.finalStats = { ...ev.stats, stemNames: this.stemNames, sampleRate: this.sampleRate }
        this.finished = true
        await this.close()
        if (this.pumpError !== undefined) throw this.pumpError
        return DONE
      }
      if (ev.kind === 'started') {
        this.stemNames = ev.stemNames ?? []
        this.sampleRate = ev.sampleRate ?? 0
        this.channels = ev.channels ?? 0
        this.totalFrames = ev.totalFrames ?? null
        continue
      }
      const stems = ev.stems!
      this.timeToFirstAudioS ??= ev.timeS ?? null
      return {
        done: false,
        value: { stems, chunkIdx: ev.chunkIdx!, isLast: ev.isLast!, startFrame: ev.startFrame!, frames: stems[0]?.[0]?.length ?? 0, timeS: ev.timeS! },
      }
    }
  }

  /** Called by `for await` on `break`: stops and frees the worker. */
  async return(): Promise<IteratorResult<SeparatedChunk, undefined>> {
    if (!this.finished) this.stopping = true
    this.finished = true
    await this.close()
    return DONE
  }

  /** Asks the worker to stop within one model call; iteration then ends. Does not wait. */
  stop(): void {
    this.stopping = true
    this.native?.stop()
  }

  /**
   * Stops the worker (if still running) and resolves, with the final
   * statistics, once its thread has exited and the model is freed.
   */
  close(): Promise<StreamingStats | null> {
    if (!this.finished) this.stopping = true
    this.closing ??= (async () => {
      this.signal?.removeEventListener('abort', this.onAbort)
      try {
        await this.opening
      } catch {
        return null
      }
      const s = await awaitNative(this.native!.close())
      if (!this.finalStats && s) this.finalStats = { ...s, stemNames: this.stemNames, sampleRate: this.sampleRate }
      return this.finalStats
    })()
    return this.closing
  }

  /** Statistics: final after the end, else the progress so far (null before the worker started). */
  get stats(): StreamingStats | null {
    if (this.finalStats) return { ...this.finalStats }
    const s = this.native?.stats()
    return s ? { ...s, stemNames: this.stemNames, sampleRate: this.sampleRate } : null
  }

  /** Whether the worker thread has exited and freed the model (diagnostics). */
  get workerExited(): boolean {
    return this.native?.exited ?? false
  }
}

/** Options of {@link SeparationProcessor} (the pipeline's `run({ signal })` stops it). */
export interface SeparationProcessorOptions extends Omit<StreamingOptions, 'signal'> {
  /** Stems to pass on, in this order (default: all of the model's). */
  stems?: string[]
}
const PROCESSOR_KEYS = keysOf<SeparationProcessorOptions>()([...CALL_KEYS, 'overlapSeconds', 'blockFrames', 'stems'] as const)

/**
 * Source separation as a {@link StreamingPipeline} stage. It turns a
 * `channels`-channel stream into a stem-interleaved one: stem 0's channels,
 * then stem 1's, ... (stems x model channels, e.g. 4 x 2 = 8 channels),
 * which `MultiFileSink({ outputDir, stemNames })` writes as one file per
 * stem and `FileSink(path, { stemIndex })` as one stem. It must be the
 * pipeline's only processor. A {@link FileSource} is read by the worker
 * itself (global normalisation works); other sources are streamed and
 * need `normalization` `{ mean, std }` or `'off'`.
 */
export class SeparationProcessor extends Processor {
  readonly kind = 'separation'
  constructor(
    readonly separator: Separator,
    readonly options: SeparationProcessorOptions = {},
  ) {
    super()
    checkOptions(options, PROCESSOR_KEYS, 'SeparationProcessor')
    normalizationDesc(options?.normalization)
  }

  /** @internal */
  open(source: FileSource | CallbackSource | MicrophoneSource, blockFrames: number): SeparationStream {
    const { stems: _stems, ...streaming } = this.options
    return this.separator.separateStreaming(source, { blockFrames, ...streaming })
  }

  /** @internal Indices of the stems to pass on. */
  select(stemNames: string[]): number[] {
    if (!this.options.stems) return stemNames.map((_, i) => i)
    return this.options.stems.map((n) => {
      const i = stemNames.indexOf(n)
      if (i < 0) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`stems\`: \`${n}\` is not a source of this model (${stemNames.join(', ')})`)
      return i
    })
  }
}
