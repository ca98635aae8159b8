/**
 * The `resonode` command line. Output contract (used by scripts): with
 * `--json`, exactly one JSON object on stdout; errors are one line on
 * stderr (`resonode: <CODE>: <message>`) and a non-zero exit status.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { SingleBar, Presets } from 'cli-progress'
import { resolve } from 'node:path'
import { ResonodeError, makeError } from './errors'
import { parseChain, processorKinds } from './processors'
import { StreamingPipeline } from './pipeline'
import { FileSource } from './sources'
import { FileSink, type Encoding } from './sinks'
import { info } from './info'

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1`)
    return n
  }
}

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
  const header = source.info()
  const pipeline = new StreamingPipeline({
    source,
    processors,
    sink: new FileSink(output, { encoding: o.encoding }),
    chunkSize: o.chunkSize,
  })
  const bar = !o.json && process.stderr.isTTY ? new SingleBar({ format: ' {bar} {percentage}% | {eta_formatted} left', stream: process.stderr, hideCursor: true }, Presets.shades_classic) : null
  bar?.start(100, 0)
  pipeline.on('progress', (e: { fraction: number }) => {
    if (Number.isFinite(e.fraction)) bar?.update(Math.round(e.fraction * 100))
  })
  const stop = () => pipeline.stop()
  process.once('SIGINT', stop)
  try {
    const s = await pipeline.run()
    bar?.update(100)
    bar?.stop()
    const result = {
      framesProcessed: s.framesProcessed,
      chunksProcessed: s.chunksProcessed,
      processingTimeS: s.processingTimeS,
      realtimeFactor: s.realtimeFactor,
      sampleRate: o.sampleRate ?? header.sampleRate,
      channels: o.mono ? 1 : header.channels,
      output: resolve(output),
    }
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n')
    else {
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
  }
}

function fail(err: unknown): never {
  if (err instanceof ResonodeError) process.stderr.write(`resonode: ${err.code}: ${err.message}\n`)
  else if (err instanceof Error) process.stderr.write(`resonode: ERR_INTERNAL: ${err.message}\n`)
  else process.stderr.write(`resonode: ERR_INTERNAL: ${String(err)}\n`)
  process.exit(err instanceof ResonodeError && err.code !== 'ERR_INTERNAL' ? 1 : 70)
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('resonode')
    .description('Streaming and real-time audio processing with a Rust core.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `resonode: ERR_USAGE: ${s.slice(7)}` : s) })

  program
    .command('process')
    .description('Stream <input> (WAV, FLAC, MP3, Ogg Vorbis) through a chain into <output> (WAV or FLAC).')
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
    .command('info')
    .description('Print format, codec, sample rate, channels, frames, duration, peak and RMS level of <file>.')
    .argument('<file>')
    .option('--json', 'print one JSON object')
    .action(cmdInfo)

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
