/**
 * The `resonode` command line. Output contract (used by scripts): with
 * `--json`, exactly one JSON object on stdout; errors are one line on
 * stderr (`resonode: <CODE>: <message>`) and a non-zero exit status.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { join, resolve } from 'node:path'
import { mkdirSync } from 'node:fs'
// The API through its lazy index: `--help` loads none of it, and a command
// loads only the modules (and the addon) it calls (issue 14).
import {
  ResonodeError,
  makeError,
  parseChain,
  processorKinds,
  StreamingPipeline,
  FileSource,
  FileSink,
  info,
  listDevices,
  testDevice,
  RealtimeProcessor,
  SpeechEnhancer,
  Separator,
  PromptSeparator,
  type Anchor,
  analyze,
  plot,
  type PlotPanelName,
  mixTransition,
  type Encoding,
  type Backend,
  type StreamingContext,
} from './index'
import { addLibraryCommands } from './cli-library'
import { addQueueCommands } from './cli-queue'
import { addDashboardCommand } from './cli-dashboard'
import { interruptible, resultOrPartial } from './cli-interrupt'
import { barProgress, progressBar } from './cli-bar'
import { positiveInt } from './cli-args'

function chainHelp(): string {
  const kinds = processorKinds()
    .map((k) => `  ${k.name}(${k.positional.join(', ')})`.padEnd(44) + k.summary)
    .join('\n')
  return `
Chain grammar: elements separated by spaces, each "name(args)"; args are
positional or key=value; numbers may carry units: db, hz, khz, ms, s, %.
Example: --chain "highpass(80) lowpass(8000, order=4) gain(-3db) reverb(room=0.3) normalize(-1db)"

Processors:
${kinds}`
}

function fmtDb(v: number): number | string {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : v > 0 ? 'Infinity' : '-Infinity'
}

async function cmdProcess(input: string, output: string, o: { chain?: string; sampleRate?: number; chunkSize?: number; json?: boolean; mono?: boolean; encoding?: Encoding }) {
  const processors = o.chain ? parseChain(o.chain) : []
  const source = new FileSource(input, { sampleRate: o.sampleRate, mono: o.mono })
  const pipeline = new StreamingPipeline({
    source,
    processors,
    sink: new FileSink(output, { encoding: o.encoding }),
    chunkSize: o.chunkSize,
  })
  const bar = progressBar(' {bar} {percentage}% | {eta_formatted} left', o.json)
  bar?.start(100, 0)
  const progress = barProgress(bar)
  pipeline.on('progress', (e: { fraction: number }) => progress(e.fraction))
  const stop = () => pipeline.stop()
  process.once('SIGINT', stop)
  try {
    const s = await pipeline.run()
    bar?.update(100)
    bar?.stop()
    // The stream's format as the run opened it (no second read of the file's packets).
    const format = pipeline.context as StreamingContext
    const result = {
      framesProcessed: s.framesProcessed,
      chunksProcessed: s.chunksProcessed,
      processingTimeS: s.processingTimeS,
      realtimeFactor: s.realtimeFactor,
      sampleRate: format.sampleRate,
      channels: format.channels,
      output: resolve(output),
      warnings: s.warnings ?? [],
    }
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
    else {
      for (const w of result.warnings) console.error(`resonode: warning: ${w}`)
      const audioS = result.framesProcessed / result.sampleRate
      console.log(
        `${output}: ${result.framesProcessed} frames (${audioS.toFixed(2)} s, ${result.channels} ch, ${result.sampleRate} Hz) in ` +
          `${result.processingTimeS.toFixed(3)} s, ${result.chunksProcessed} chunks, ${result.realtimeFactor.toFixed(1)}x real time`,
      )
    }
  } finally {
    bar?.stop()
    process.off('SIGINT', stop)
  }
}

async function cmdInfo(file: string, o: { json?: boolean }) {
  const i = await info(file)
  const out = { ...i, durationS: Math.round(i.durationS * 1e6) / 1e6, peakDbfs: fmtDb(i.peakDbfs), rmsDbfs: fmtDb(i.rmsDbfs) }
  if (o.json) process.stdout.write(JSON.stringify(out) + '\n')
  else {
    console.log(`${file}
  format       ${out.format} (${out.codec})
  sample rate  ${out.sampleRate} Hz
  channels     ${out.channels}
  frames       ${out.frames} (${out.durationS.toFixed(3)} s)
  peak         ${out.peakDbfs} dBFS
  rms          ${out.rmsDbfs} dBFS`)
    for (const w of out.warnings) console.log(`  warning      ${w}`)
  }
}

async function cmdDevices(o: { json?: boolean; backend?: Backend; filter?: 'all' | 'input' | 'output' | 'duplex' }) {
  const devices = await listDevices({ backend: o.backend, filter: o.filter })
  if (o.json) {
    const out = devices.map((d) => ({
      id: d.id,
      name: d.name,
      host: d.host,
      maxInputChannels: d.maxInputChannels,
      maxOutputChannels: d.maxOutputChannels,
      defaultSampleRate: d.defaultSampleRate ?? null,
      isDefaultInput: d.isDefaultInput,
      isDefaultOutput: d.isDefaultOutput,
    }))
    process.stdout.write(JSON.stringify(out) + '\n')
    return
  }
  for (const d of devices) {
    const flags = [d.isDefaultInput && 'default input', d.isDefaultOutput && 'default output'].filter(Boolean).join(', ')
    console.log(`${d.id.padEnd(28)} ${d.host.padEnd(10)} in ${String(d.maxInputChannels).padStart(2)}  out ${String(d.maxOutputChannels).padStart(2)}  ${d.defaultSampleRate ?? '?'} Hz  ${d.name}${flags ? `  [${flags}]` : ''}`)
  }
}

function meter(db: number): string {
  const width = 30
  const filled = Math.max(0, Math.min(width, Math.round(((db + 60) / 60) * width)))
  return '#'.repeat(filled) + '-'.repeat(width - filled)
}

async function cmdLive(o: { input?: string; output?: string; chain?: string; sampleRate?: number; bufferSize?: number; duration?: number; json?: boolean; backend?: Backend; channels?: number; latency?: 'low' | 'balanced' | 'high' }) {
  const processors = o.chain ? parseChain(o.chain) : []
  const tty = !o.json && process.stderr.isTTY
  const rt = new RealtimeProcessor({
    processors,
    backend: o.backend,
    config: { inputDevice: o.input, outputDevice: o.output, sampleRate: o.sampleRate, bufferSize: o.bufferSize, channelsIn: o.channels ?? 1, channelsOut: 2, latency: o.latency },
    tapFrames: tty ? 48000 : undefined,
  })
  let peak = 0
  rt.on('audio', (ch: Float32Array[]) => {
    for (const c of ch) for (const v of c) peak = Math.max(peak, Math.abs(v))
  })
  let xruns = 0
  rt.on('xrun', () => xruns++)
  await rt.start()
  const cfg = rt.config
  const added = rt.stats.processingLatencyMs
  if (!o.json) console.error(`live: ${cfg.direction} ${cfg.sampleRate} Hz, ${cfg.bufferSize} frames (${cfg.bufferMs.toFixed(1)} ms)${added > 0 ? `, processing latency ${added.toFixed(1)} ms` : ''}, chain: ${o.chain ?? '(none)'}; Ctrl-C stops`)
  await new Promise<void>((resolveWait) => {
    const meterTimer = tty
      ? setInterval(() => {
          const db = peak > 0 ? 20 * Math.log10(peak) : -Infinity
          process.stderr.write(`\r ${meter(db)} ${Number.isFinite(db) ? db.toFixed(1).padStart(6) : '  -inf'} dBFS  xruns ${xruns}   `)
          peak = 0
        }, 100)
      : null
    const durationTimer = o.duration ? setTimeout(() => done(), o.duration * 1000) : null
    function done() {
      if (durationTimer) clearTimeout(durationTimer)
      if (meterTimer) clearInterval(meterTimer)
      process.off('SIGINT', done)
      resolveWait()
    }
    process.once('SIGINT', done)
    rt.once('finished', done)
  })
  const s = await rt.stop()
  if (tty) process.stderr.write('\n')
  const result = {
    callbacks: s.callbacks,
    framesProcessed: s.framesProcessed,
    xruns: s.xruns,
    callbackLoadMean: s.callbackLoadMean,
    callbackLoadPeak: s.callbackLoadPeak,
    latencyMs: s.latencyMsMeasured ?? s.latencyMs,
    // What of `xruns` the device reported, and callbacks over their budget:
    // the part attributable to the device path and to resonode's processing.
    deviceXruns: s.deviceXruns,
    lateCallbacks: s.lateCallbacks,
    preemptedCallbacks: s.preemptedCallbacks,
    // Audio threads the OS runs at real-time priority (0: refused, e.g. no
    // CAP_SYS_NICE): without it a loaded machine delays the callbacks.
    realtimeThreads: s.realtimeThreads,
    // Input frames dropped because the two devices' clocks disagree (not xruns).
    driftCorrections: s.driftCorrections,
    // The fixed delay of `enhance()` (included in latencyMs), and how often
    // its worker thread was late (silence out, counted in xruns too).
    processingLatencyMs: s.processingLatencyMs,
    workerUnderruns: s.workerUnderruns,
  }
  if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
  else console.log(`${result.callbacks} callbacks, ${result.framesProcessed} frames, ${result.xruns} xruns, load mean ${(result.callbackLoadMean * 100).toFixed(2)}% peak ${(result.callbackLoadPeak * 100).toFixed(2)}%, latency ${result.latencyMs.toFixed(1)} ms${s.processingLatencyMs > 0 ? ` (of which enhance ${s.processingLatencyMs.toFixed(1)} ms, ${s.workerUnderruns} worker underruns)` : ''}`)
}

async function cmdTestDevice(id: string | undefined, o: { json?: boolean; duration?: number; backend?: Backend }) {
  const r = await testDevice(id, { durationS: o.duration, backend: o.backend })
  if (o.json) process.stdout.write(JSON.stringify(r) + '\n')
  else {
    const parts = [`${r.deviceId}${r.inputDeviceId ? ` -> ${r.inputDeviceId}` : ''} (${r.backend}, ${r.sampleRate} Hz, ${r.durationS} s)`]
    if (r.played) parts.push(`played tone at ${r.outputLevelDbfs?.toFixed(1)} dBFS RMS`)
    if (r.recorded) parts.push(`recorded ${r.inputLevelDbfs?.toFixed(1)} dBFS RMS, peak ${r.inputPeakDbfs?.toFixed(1)} dBFS`)
    if (r.loopback) parts.push(`loopback: correlation ${r.loopbackCorrelation?.toFixed(3)}, round trip ${r.latencyMs?.toFixed(1)} ms`)
    console.log(parts.join('\n  '))
  }
}

async function cmdEnhance(input: string, output: string, o: { model?: string; json?: boolean; threads?: number; window?: 'periodic' | 'symmetric' }) {
  const enhancer = new SpeechEnhancer({ modelPath: o.model, threads: o.threads, window: o.window })
  // Ctrl-C: the file holds the enhancement of what was read; exit 130.
  const r = await resultOrPartial(interruptible((signal) => enhancer.enhanceFile(input, output, { signal })))
  const result = { ...r, output: resolve(output) }
  if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
  else console.log(`${output}: ${r.framesProcessed} frames (${(r.framesProcessed / r.sampleRate).toFixed(2)} s) enhanced in ${r.processingTimeS.toFixed(3)} s, ${r.realtimeFactor.toFixed(1)}x real time${r.stopped ? ' (interrupted: the file holds what was enhanced so far)' : ''}`)
}

type SeparateCliOptions = {
  model?: string
  modelDir?: string
  prompt?: string
  anchor?: Anchor[]
  method?: 'euler' | 'midpoint'
  steps?: number
  seed?: number
  chunkSeconds?: number
  overlapSeconds?: number
  decodeChunkSize?: number
  out?: string
  segment?: number
  overlap?: number
  stems?: string
  json?: boolean
  threads?: number
}

/** Options of one model family named with the other's (`--segment` with `--model-dir`, ...). */
const HTDEMUCS_ONLY = ['segment', 'overlap', 'stems'] as const
const SAM_ONLY = ['prompt', 'anchor', 'method', 'steps', 'seed', 'chunkSeconds', 'overlapSeconds', 'decodeChunkSize'] as const
const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/** Parses `--anchor +1.5:3.0` / `-5:7` (seconds) into an {@link Anchor}; repeatable. */
export function parseAnchor(v: string, previous: Anchor[] = []): Anchor[] {
  const m = /^([+-])([^:]+):([^:]+)$/.exec(v.trim())
  const start = m ? Number(m[2]) : NaN
  const end = m ? Number(m[3]) : NaN
  if (!m || m[2].trim() === '' || m[3].trim() === '' || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new InvalidArgumentError(`--anchor takes +start:end or -start:end in seconds (e.g. +1.5:3.0), got '${v}'`)
  }
  return [...previous, [m[1] as '+' | '-', start, end]]
}

/** A positive number of seconds for `name`. */
function positiveSeconds(name: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number of seconds > 0`)
    return n
  }
}

async function cmdSeparate(input: string, o: SeparateCliOptions, command: Command) {
  // Exactly one model: HTDemucs (--model) or SAM-Audio (--model-dir, with --prompt).
  const usage = (m: string): never => command.error(`error: ${m}`, { code: 'resonode.usage', exitCode: 2 })
  if ((o.model === undefined) === (o.modelDir === undefined)) usage('give exactly one of --model <onnx> (HTDemucs stems) or --model-dir <dir> (SAM-Audio, with --prompt)')
  if (o.modelDir !== undefined) {
    if (o.prompt === undefined) usage('--model-dir needs --prompt <text> (what to extract)')
    const wrong = HTDEMUCS_ONLY.filter((k) => o[k] !== undefined)
    if (wrong.length) usage(`${wrong.map(flag).join(', ')} ${wrong.length > 1 ? 'are' : 'is'} for --model (HTDemucs), not --model-dir`)
    return cmdSeparatePrompt(input, o as SeparateCliOptions & { modelDir: string; prompt: string })
  }
  if (o.prompt !== undefined) usage('--prompt requires --model-dir <dir> (a SAM-Audio export), not --model')
  const wrong = SAM_ONLY.filter((k) => o[k] !== undefined)
  if (wrong.length) usage(`${wrong.map(flag).join(', ')} ${wrong.length > 1 ? 'are' : 'is'} for --model-dir (SAM-Audio), not --model`)
  const bar = progressBar(' {bar} {percentage}% | {eta_formatted} left', o.json)
  bar?.start(100, 0)
  try {
    const separator = new Separator({ model: o.model!, segmentS: o.segment, overlap: o.overlap, threads: o.threads })
    // Ctrl-C: the files hold what was separated so far; exit 130.
    const r = await resultOrPartial(
      interruptible((signal) =>
        separator.separateFile(input, {
          outDir: o.out ?? 'separated',
          stems: o.stems?.split(',').map((s) => s.trim()).filter(Boolean),
          onProgress: barProgress(bar),
          signal,
        }),
      ),
    )
    bar?.stop()
    const result = { stems: r.stems.map((p) => resolve(p)), processingTimeS: r.processingTimeS, realtimeFactor: r.realtimeFactor, timeToFirstAudioS: r.timeToFirstAudioS ?? null, stopped: r.stopped }
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
    else console.log(`${r.stemNames.join(', ')} -> ${o.out ?? 'separated'}/ in ${r.processingTimeS.toFixed(2)} s (${r.realtimeFactor.toFixed(2)}x real time, first audio after ${r.timeToFirstAudioS?.toFixed(2)} s)${r.stopped ? ' (interrupted: the files hold what was separated so far)' : ''}`)
  } finally {
    bar?.stop()
  }
}

/** Inputs up to this long (seconds), and up to the model's one-pass limit, go through `separate()`; longer ones through `separateLong()`. */
const SHORT_PATH_MAX_S = 30

/** The next double below a positive finite `x`. */
function nextDown(x: number): number {
  const f = new Float64Array([x])
  const u = new BigUint64Array(f.buffer)
  u[0] -= 1n
  return f[0]
}

/**
 * The ODE step size that gives exactly `steps` steps: the core (as the
 * reference) takes `floor(1 / stepSize)` steps in f64, and `1 / (1 / n)`
 * falls just under `n` for many `n` (93, 99, 105, ...), which would run
 * `n - 1` steps. So: `1 / steps`, or the largest double below it for which
 * the count comes out right.
 */
export function stepSizeFor(steps: number): number {
  let s = 1 / steps
  while (Math.floor(1 / s) < steps) s = nextDown(s)
  return s
}

/**
 * `resonode separate <in> --prompt <text> --model-dir <dir>`: SAM-Audio into
 * `<out>/target.wav` and `<out>/residual.wav` (48 kHz mono float). Anchors,
 * or input of at most 30 s that one model pass takes (`maxFrames * hop`
 * samples, from the loaded model): `separate()` at once; else
 * `separateLong()` writing the files as it goes. Ctrl-C rejects with an
 * AbortError (the long path's files hold what was separated): fail() exits 130.
 */
async function cmdSeparatePrompt(input: string, o: SeparateCliOptions & { modelDir: string; prompt: string }) {
  const outDir = o.out ?? 'separated'
  const method = o.method ?? 'midpoint'
  const stepSize = stepSizeFor(o.steps ?? 16)
  const steps = Math.floor(1 / stepSize)
  const ode = { method, stepSize }
  const separator = new PromptSeparator({ modelDir: o.modelDir, threads: o.threads })
  const model = await separator.load()
  const { durationS } = await info(input)
  // One frame of margin: resampling may round the input up by a sample.
  const onePassS = ((model.maxFrames - 1) * model.hopLength) / model.sampleRate
  const short = (o.anchor?.length ?? 0) > 0 || durationS <= Math.min(SHORT_PATH_MAX_S, onePassS)
  const bar = short ? null : progressBar(' {bar} {percentage}% | {eta_formatted} left', o.json)
  bar?.start(100, 0)
  try {
    const target = resolve(join(outDir, 'target.wav'))
    const residual = resolve(join(outDir, 'residual.wav'))
    let r: { sampleRate: number; processingTimeS: number; realtimeFactor: number; seed: number | null; peakMemoryBytes: number }
    if (short) {
      const s = await interruptible((signal) =>
        separator.separate(input, { description: o.prompt, anchors: o.anchor, ode, decodeChunkSize: o.decodeChunkSize, seed: o.seed, signal }),
      )
      mkdirSync(outDir, { recursive: true })
      for (const [path, audio] of [[target, s.target], [residual, s.residual]] as const) {
        const w = new FileSink(path, { encoding: 'float32' }).open({ sampleRate: s.sampleRate, channels: 1 })
        await w.write([audio])
        await w.close()
      }
      r = s
    } else {
      r = await interruptible((signal) =>
        separator.separateLong(input, {
          description: o.prompt,
          ode,
          decodeChunkSize: o.decodeChunkSize,
          seed: o.seed,
          chunkSeconds: o.chunkSeconds,
          overlapSeconds: o.overlapSeconds,
          outDir,
          onProgress: barProgress(bar),
          signal,
        }),
      )
    }
    bar?.stop()
    const result = {
      target,
      residual,
      sampleRate: r.sampleRate,
      durationS,
      processingTimeS: r.processingTimeS,
      realtimeFactor: r.realtimeFactor,
      method,
      steps,
      stepSize,
      seed: r.seed,
      peakMemoryBytes: r.peakMemoryBytes,
      path: short ? 'short' : 'long',
    }
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
    else console.log(`"${o.prompt}" -> ${outDir}/target.wav, residual.wav in ${r.processingTimeS.toFixed(2)} s (${r.realtimeFactor.toFixed(2)}x real time, ${method} ${steps} steps, seed ${r.seed})`)
  } finally {
    bar?.stop()
  }
}

function fail(err: unknown): never {
  // The addon opens with the first command that needs it: a platform without
  // one fails there, with the package to install (an install problem: exit 1).
  if (err instanceof Error && (err as { code?: unknown }).code === 'ERR_BINDING_NOT_FOUND') {
    process.stderr.write(`resonode: ERR_BINDING_NOT_FOUND: ${err.message}\n`)
    process.exit(1)
  }
  if (err instanceof ResonodeError) process.stderr.write(`resonode: ${err.code}: ${err.message}\n`)
  else if (err instanceof Error) process.stderr.write(`resonode: ERR_INTERNAL: ${err.message}\n`)
  else process.stderr.write(`resonode: ERR_INTERNAL: ${String(err)}\n`)
  // Interrupted (Ctrl-C) without a partial result to print: 128 + SIGINT, as shells do.
  if (err instanceof ResonodeError && err.code === 'ERR_ABORTED') process.exit(130)
  process.exit(err instanceof ResonodeError && err.code !== 'ERR_INTERNAL' ? 1 : 70)
}

async function cmdAnalyze(file: string, o: { json?: boolean; frames?: string; full?: boolean; plot?: string }) {
  if (o.plot && o.frames) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `--plot`: cannot be combined with --frames')
  const bar = progressBar(' analysing {bar} {percentage}% | {eta_formatted} left', o.json)
  bar?.start(100, 0)
  try {
    const onProgress = barProgress(bar)
    // Ctrl-C rejects with an AbortError: fail() reports it and exits 130 (the CSV holds the frames done).
    // With --plot, the analysis is the plot's (one pass over the file).
    const a = await interruptible((signal) =>
      o.plot ? plot(file, { out: o.plot, signal, onProgress }).then((r) => r.analysis) : analyze(file, { framesCsv: o.frames, signal, onProgress }),
    )
    bar?.update(100)
    bar?.stop()
    const round = (v: number | null | undefined, d = 2) => (v == null ? null : Math.round(v * 10 ** d) / 10 ** d)
    const result: Record<string, unknown> = {
      durationS: a.durationS,
      sampleRate: a.sampleRate,
      channels: a.channels,
      tempoBpm: round(a.tempoBpm),
      tempoConfidence: round(a.tempoConfidence, 3),
      beats: a.beats.map((b) => round(b, 4)),
      downbeats: a.downbeats.map((b) => round(b, 4)),
      key: a.key ?? null,
      mode: a.mode ?? null,
      camelot: a.camelot ?? null,
      keyConfidence: round(a.keyConfidence, 3),
      loudnessLufs: round(a.loudnessLufs),
      loudnessRangeLu: round(a.loudnessRangeLu),
      truePeakDbtp: round(a.truePeakDbtp),
      energy: round(a.energy, 4),
    }
    if (a.tempoReason) result.tempoReason = a.tempoReason
    if (a.keyReason) result.keyReason = a.keyReason
    if (o.full) Object.assign(result, { summary: a.summary, analyzerVersion: a.analyzerVersion })
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
    else {
      const fmt = (v: number | null | undefined, unit: string) => (v == null ? 'n/a' : `${v} ${unit}`)
      console.log(`${file}: ${a.durationS.toFixed(2)} s, ${a.channels} ch, ${a.sampleRate} Hz`)
      console.log(`  tempo     ${a.tempoBpm != null ? `${round(a.tempoBpm)} BPM (confidence ${round(a.tempoConfidence)})` : `none: ${a.tempoReason}`}`)
      console.log(`  beats     ${a.beats.length}${a.beats.length ? ` (first ${a.beats[0].toFixed(3)} s)` : ''}, downbeats ${a.downbeats.length}`)
      console.log(`  key       ${a.key != null ? `${a.key} ${a.mode} (${a.camelot}, confidence ${round(a.keyConfidence)})` : `none: ${a.keyReason}`}`)
      console.log(`  loudness  ${fmt(round(a.loudnessLufs), 'LUFS')}, range ${fmt(round(a.loudnessRangeLu), 'LU')}, true peak ${fmt(round(a.truePeakDbtp), 'dBTP')}`)
      console.log(`  energy    ${a.energy.toFixed(4)} (RMS, full scale = 1)`)
      if (o.frames) console.log(`  frames -> ${o.frames}`)
      if (o.plot) console.log(`  plot   -> ${o.plot}`)
    }
  } finally {
    bar?.stop()
  }
}

const PLOT_PANELS: PlotPanelName[] = ['waveform', 'spectrogram', 'chroma', 'beats', 'loudness']

async function cmdPlot(file: string, o: { out: string; show?: string; width?: number; json?: boolean }) {
  const show = o.show === undefined ? undefined : (o.show.split(',').map((s) => s.trim()).filter(Boolean) as PlotPanelName[])
  const bar = progressBar(' plotting {bar} {percentage}% | {eta_formatted} left', o.json)
  bar?.start(100, 0)
  try {
    // Ctrl-C rejects with an AbortError (nothing written): fail() exits 130.
    const r = await interruptible((signal) =>
      plot(file, {
        out: o.out,
        show,
        width: o.width,
        signal,
        onProgress: barProgress(bar),
      }),
    )
    bar?.update(100)
    bar?.stop()
    if (o.json) {
      const { analysis, ...rest } = r
      const { summary: _s, features: _f, ...a } = analysis
      process.stdout.write(JSON.stringify({ ...rest, analysis: a }) + '\n')
    } else {
      const a = r.analysis
      const tempo = a.tempoBpm != null ? `${a.tempoBpm.toFixed(1)} BPM` : 'no tempo'
      const key = a.key != null ? `${a.key} ${a.mode} (${a.camelot})` : 'no key'
      console.log(`${r.out}: ${r.width}x${r.height} ${r.format.toUpperCase()}, ${r.durationS.toFixed(2)} s; ${tempo}, ${key}, ${a.loudnessLufs != null ? `${a.loudnessLufs.toFixed(1)} LUFS` : 'silence'}`)
    }
  } finally {
    bar?.stop()
  }
}

async function cmdMix(a: string, b: string, out: string, o: { crossfadeBeats?: number; json?: boolean }) {
  // Ctrl-C rejects with an AbortError (nothing written): fail() exits 130.
  const r = await interruptible((signal) => mixTransition(a, b, { out, crossfadeBeats: o.crossfadeBeats, signal }))
  if (o.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
    return
  }
  process.stdout.write(
    `${r.out}: ${r.durationS.toFixed(1)} s; A ${r.tempoABpm.toFixed(1)} BPM, B ${r.tempoBBpm.toFixed(1)} BPM stretched x${r.stretchRatio.toFixed(4)}; ` +
      `crossfade ${r.crossfadeStartS.toFixed(2)}-${r.crossfadeEndS.toFixed(2)} s; B gain ${r.gainBDb.toFixed(1)} dB\n`,
  )
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('resonode')
    .description('Streaming and real-time audio processing with a Rust core.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `resonode: ERR_USAGE: ${s.slice(7)}` : s) })

  program
    .command('process')
    .description('Stream <input> (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC) through a chain into <output> (WAV or FLAC).')
    .argument('<input>')
    .argument('<output>')
    .option('--chain <chain>', 'processor chain, e.g. "highpass(80) gain(-3db)"')
    .option('--sample-rate <hz>', 'resample the input to this rate (Hz)', positiveInt('--sample-rate'))
    .option('--chunk-size <frames>', 'frames per chunk (default 65536)', positiveInt('--chunk-size'))
    .option('--mono', 'downmix to one channel')
    .option('--encoding <enc>', 'output encoding: int16, int24 or float32 (default: like the input)')
    .option('--json', 'print one JSON object with the run statistics')
    .addHelpText('after', chainHelp)
    .action(cmdProcess)

  program
    .command('analyze')
    .description('Analyse the music in <file> (WAV, RF64, AIFF, CAF, FLAC, MP3, Ogg Vorbis/Opus, M4A AAC/ALAC): tempo, beats, key (Camelot), loudness (EBU R128), energy.')
    .argument('<file>')
    .option('--json', 'print one JSON object: { durationS, sampleRate, tempoBpm, tempoConfidence, beats, key, mode, camelot, keyConfidence, loudnessLufs, loudnessRangeLu, truePeakDbtp, energy }')
    .option('--frames <csv>', 'write every frame\'s features (RMS, ZCR, spectral shape, flux, onset strength, MFCC, chroma) to a CSV file')
    .option('--full', 'with --json: add the 44-value summary vector and the analyzer version')
    .option('--plot <png|svg>', 'also draw the plot (all panels, see `resonode plot`) from the same pass over the file')
    .action(cmdAnalyze)

  program
    .command('plot')
    .description('Draw <file>: waveform with the beat grid, log-frequency spectrogram (dB), chromagram with the key, short-term loudness (LUFS); title with tempo, key/Camelot and integrated loudness. One streaming pass, bounded memory.')
    .argument('<file>')
    .requiredOption('--out <png|svg>', 'output image (.png or .svg)')
    .option('--show <panels>', `comma-separated panels (default all): ${PLOT_PANELS.join(',')}`)
    .option('--width <px>', 'image width in px (default 1600, 400..8192)', positiveInt('--width'))
    .option('--json', 'print one JSON object: { out, format, width, height, durationS, panels, analysis }')
    .action(cmdPlot)

  program
    .command('info')
    .description('Print format, codec, sample rate, channels, frames, duration, peak and RMS level of <file>.')
    .argument('<file>')
    .option('--json', 'print one JSON object')
    .action(cmdInfo)

  program
    .command('devices')
    .description('List audio devices.')
    .option('--json', 'print a JSON array')
    .option('--filter <kind>', 'all, input, output or duplex', 'all')
    .option('--backend <name>', 'default or none', 'default')
    .action(cmdDevices)

  program
    .command('live')
    .description('Microphone -> chain -> speaker, inside the audio callback, with a level meter.')
    .option('--input <id>', 'input device id (see `resonode devices`)')
    .option('--output <id>', 'output device id')
    .option('--chain <chain>', 'processor chain (native processors and enhance(), not normalize), e.g. "enhance() gain(3db)"')
    .option('--sample-rate <hz>', 'sample rate in Hz (default 48000)', positiveInt('--sample-rate'))
    .option('--buffer-size <frames>', 'frames per callback (default 512)', positiveInt('--buffer-size'))
    .option('--channels <n>', 'input channels (default 1)', positiveInt('--channels'))
    .option('--duration <s>', 'stop after this many seconds', (v) => {
      const n = Number(v)
      if (!(n > 0)) throw new InvalidArgumentError('--duration must be > 0 seconds')
      return n
    })
    .option('--latency <hint>', 'low, balanced (default) or high: input buffers held back in duplex (1/2/4)')
    .option('--backend <name>', 'default or none', 'default')
    .option('--json', 'print one JSON object with the stats on exit')
    .addHelpText('after', chainHelp)
    .action(cmdLive)

  program
    .command('test-device')
    .description('Play a test tone and/or record from a device; report levels and loopback latency.')
    .argument('[id]')
    .option('--duration <s>', 'seconds (default 1)', Number)
    .option('--backend <name>', 'default or none', 'default')
    .option('--json', 'print one JSON object')
    .action(cmdTestDevice)

  program
    .command('enhance')
    .description('Remove noise from speech in <input> with GTCRN (built in; any sample rate) into <output>.')
    .argument('<input>')
    .argument('<output>')
    .option('--model <path>', 'a GTCRN streaming .onnx model (default: the built-in one)')
    .option('--threads <n>', 'inference threads', positiveInt('--threads'))
    .option('--window <kind>', 'periodic (default) or symmetric')
    .option('--json', 'print one JSON object with the run statistics')
    .action(cmdEnhance)

  program
    .command('separate')
    .description(
      'Split <input>: into stems (drums, bass, other, vocals) with an HTDemucs ONNX model (--model), or into the sound a text prompt describes and the rest with SAM-Audio (--prompt, --model-dir): <out>/target.wav and <out>/residual.wav at 48 kHz.',
    )
    .argument('<input>')
    .option('--model <path>', 'HTDemucs ONNX export (see docs/htdemucs.md); exclusive with --model-dir')
    .option('--model-dir <dir>', 'SAM-Audio export folder (scripts/export_sam_audio.py); needs --prompt')
    .option('--prompt <text>', 'SAM-Audio: what to extract, e.g. "a man speaking"')
    .option('--anchor <+start:end>', 'SAM-Audio: where the sound is (+) or is not (-), in seconds, e.g. +1.5:3.0 or -5:7 (repeatable; forces the whole-input path)', parseAnchor)
    .addOption(new Option('--method <name>', 'SAM-Audio ODE solver: midpoint (default, 2 model calls per step) or euler (1)').choices(['euler', 'midpoint']))
    .option('--steps <n>', 'SAM-Audio ODE steps (step size about 1/n, exactly n steps; default 16)', positiveInt('--steps', 2))
    .option('--seed <n>', 'SAM-Audio noise seed (default: drawn for input <= 30 s, 42 per chunk beyond)', positiveInt('--seed', 0))
    .option('--chunk-seconds <s>', 'SAM-Audio chunk length for input > 30 s (default 10)', positiveSeconds('--chunk-seconds'))
    .option('--overlap-seconds <s>', 'SAM-Audio chunk overlap (default 3)', positiveSeconds('--overlap-seconds'))
    .option('--decode-chunk-size <frames>', 'SAM-Audio: decode the latents in chunks of this many frames (>= 8)', positiveInt('--decode-chunk-size', 8))
    .option('--out <dir>', 'output directory (default ./separated)')
    .option('--segment <s>', "HTDemucs segment length in seconds (at most the model's)", Number)
    .option('--overlap <ratio>', 'HTDemucs overlap between segments (default 0.25)', Number)
    .option('--stems <list>', 'HTDemucs: comma-separated stems to write (default: all)')
    .option('--threads <n>', 'inference threads', positiveInt('--threads'))
    .option(
      '--json',
      'print one JSON object: HTDemucs { stems, processingTimeS, realtimeFactor, timeToFirstAudioS }; SAM-Audio { target, residual, sampleRate, durationS, processingTimeS, realtimeFactor, method, steps, stepSize, seed, peakMemoryBytes, path }',
    )
    .action(cmdSeparate)

  addLibraryCommands(program)
  addQueueCommands(program)
  addDashboardCommand(program)

  program
    .command('mix')
    .description('Render a beat-matched transition from the end of <a> into the start of <b>: B stretched to A\'s tempo (pitch kept), downbeats aligned, equal-power crossfade, loudness matched.')
    .argument('<a>')
    .argument('<b>')
    .argument('<out>', 'output file (.wav float 32 or .flac)')
    .option('--crossfade-beats <n>', 'crossfade length in beats of A (default 16)', positiveInt('--crossfade-beats'))
    .option('--json', 'print one JSON object: tempos, stretchRatio, crossfade times, gains, expectedBeats')
    .action(cmdMix)

  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? 0 : 2)
    }
    if (err instanceof Error && err.message.startsWith('encoding')) fail(makeError('ERR_INVALID_PARAMETER', err.message))
    fail(err)
  }
}
