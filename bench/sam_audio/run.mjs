// Section l of bench/RESULTS.md: text-prompted separation (SAM-Audio,
// arXiv 2512.18099), resonode vs the mlx-audio 0.6.2 reference, side by side
// in one run on one machine, same input, same configuration, same weights,
// same initial noise (so both do identical work):
//   - configurations: the committed tiny random-weight model
//     (models/sam-audio-tiny) and a realistically sized random-weight one
//     (mlx-audio's SAM_AUDIO_SMALL_CONFIG: DiT 1024 x 12 layers, full DAC-VAE
//     codec at 48 kHz, T5-base-sized encoder), built and exported once by
//     bench/sam_audio/make_model.py into bench/out/sam-audio-small-random/;
//   - short path on a 10 s mono 48 kHz excerpt of real audio (assets/speech.wav
//     + assets/music.wav): Euler and midpoint with 16 and 8 steps, whole-call
//     wall time, real-time factor, time per ODE step = (T(16) - T(8)) / 8,
//     peak RSS of each whole process (/usr/bin/time), and the SI-SDR of
//     resonode's target against the reference's (Euler 16);
//   - the reference on the small model is far too slow here for whole calls
//     (MLX's CPU backend: about an hour per call), so by default it times its
//     own pieces instead (one Euler and one midpoint step on the full latent,
//     the codec on 0.5 s) and the whole call is extrapolated (marked so in the
//     table; --mlx-whole-small forces whole calls);
//   - long path (chunks 10 s, overlap 3 s, midpoint 16 steps) on 1 and 10
//     minutes: resonode `separateLong` with and without `outDir`, and the
//     reference's `separate_long` (--mlx-streaming: also its
//     `separate_streaming` writing files piece by piece), each only where the
//     10 s call predicts it to finish within the limit (reference: 10 min per
//     run; resonode on the small model: 5 min); wall time and peak RSS.
// resonode runs in child processes of this script (`--child ...`), the
// reference in bench/sam_audio/mlx_ref.py. Rewrites the block between
// <!-- sam:begin --> and <!-- sam:end --> in bench/RESULTS.md (bench/run.mjs
// keeps it on a full run); raw numbers in bench/out/sam_audio.json.
//
//   node bench/sam_audio/run.mjs                       # about 30 min on 2 cores (first run: + 1 min to export the small model); rewrites the block
//   node bench/sam_audio/run.mjs --reps 1 --no-write   # quicker, RESULTS.md untouched
//   node bench/sam_audio/run.mjs --no-small --no-long  # the tiny model's short path only (a few minutes)
//   options: --reps N (resonode, tiny; 3) --small-reps N (resonode, small; 1) --mlx-reps N (reference; 1)
//            --no-mlx (resonode only) --python PATH (the reference's interpreter)
//            --render (rewrite the block from bench/out/sam_audio.json without measuring)
//            --no-wait (measure even while rustc/cargo runs; the block then names the disturbed series)
//
// Needs the built addon (npm run build), /usr/bin/time, and the reference's
// venv: /tmp/mlxvenv/bin/python with mlx, mlx-audio 0.6.2, torch, onnx,
// onnxruntime, scipy, soundfile, transformers, tokenizers (see
// scripts/make_sam_audio_fixtures.py), about 8 GB of memory and 3 GB of disk
// in bench/out for the small model.
import { createRequire } from 'node:module'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { compilerRunning, fmt, median, run, table, timed } from '../common.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const { values: o } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'small-reps': { type: 'string', default: '1' },
    'mlx-reps': { type: 'string', default: '1' },
    'mlx-whole-small': { type: 'boolean', default: false },
    'mlx-streaming': { type: 'boolean', default: false },
    'no-wait': { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'no-small': { type: 'boolean', default: false },
    'no-long': { type: 'boolean', default: false },
    'no-mlx': { type: 'boolean', default: false },
    python: { type: 'string', default: '/tmp/mlxvenv/bin/python' },
    child: { type: 'string' },
    model: { type: 'string' },
    input: { type: 'string' },
    noise: { type: 'string' },
    plan: { type: 'string' },
    'out-dir': { type: 'string' },
    target: { type: 'string' },
  },
})
const reps = Math.max(1, Number(o.reps))
const smallReps = Math.max(1, Number(o['small-reps']))
const mlxReps = Math.max(1, Number(o['mlx-reps']))
/** Seconds of input the reference's codec is timed on for the small model (parts mode). */
const PARTS_SECONDS = 0.5
const WORK = '/tmp/resonode-bench-sam'
const OUT = join(ROOT, 'bench/out')
const PY = o.python
const REF = join(ROOT, 'bench/sam_audio/mlx_ref.py')
const MAKE = join(ROOT, 'bench/sam_audio/make_model.py')
const DESCRIPTION = 'a man speaking'
const SECONDS = 10
const SR = 48000
/** Euler and midpoint at 16 and 8 steps: the 8-step runs give the time per step. */
const PLAN = [
  { method: 'euler', stepSize: 1 / 16, steps: 16 },
  { method: 'euler', stepSize: 1 / 8, steps: 8 },
  { method: 'midpoint', stepSize: 2 / 32, steps: 16 },
  { method: 'midpoint', stepSize: 2 / 16, steps: 8 },
]
const CONFIGS = {
  tiny: {
    label: 'tiny (models/sam-audio-tiny)',
    modelDir: join(ROOT, 'models/sam-audio-tiny'),
    mlxDir: join(OUT, 'sam-audio-tiny-mlx'),
    noise: 'noise-tiny.f32',
  },
  small: {
    label: 'small, random weights (SAM_AUDIO_SMALL_CONFIG + T5-base sizes)',
    modelDir: join(OUT, 'sam-audio-small-random'),
    mlxDir: join(OUT, 'sam-audio-small-random/mlx'),
    noise: 'noise-small.f32',
  },
}
const t00 = Date.now()
const log = (...a) => console.error(`[${((Date.now() - t00) / 1000).toFixed(0).padStart(4)} s]`, ...a)
const sec = (t0) => Number(process.hrtime.bigint() - t0) / 1e9
const lastJson = (stdout) => JSON.parse(stdout.trim().split('\n').pop())

// ---------------------------------------------------------------- children

function api() {
  const require = createRequire(join(ROOT, 'package.json'))
  return require(join(ROOT, 'dist/index.js'))
}

/** resonode, short path: load, one warm-up (Euler, 2 steps), reps rounds over the plan. */
async function childShort() {
  const { PromptSeparator } = api()
  const plan = JSON.parse(o.plan)
  const audio = new Float32Array(readFileSync(o.input).buffer.slice(0))
  const noise = new Float32Array(readFileSync(o.noise).buffer.slice(0))
  const t0 = process.hrtime.bigint()
  const sep = new PromptSeparator({ modelDir: o.model })
  const { hopLength, codebookDim } = await sep.load()
  const loadS = sec(t0)
  const call = async (method, stepSize) => {
    const t = process.hrtime.bigint()
    const r = await sep.separate([audio], { description: DESCRIPTION, sampleRate: SR, ode: { method, stepSize }, noise })
    return { wall: sec(t), r }
  }
  // warm-up on the first second (and the noise's first frames)
  const n1 = Math.ceil(SR / hopLength)
  const warm = async () => {
    const t = process.hrtime.bigint()
    await sep.separate([audio.subarray(0, SR)], { description: DESCRIPTION, sampleRate: SR, ode: { method: 'euler', stepSize: 0.5 }, noise: noise.slice(0, n1 * 2 * codebookDim) })
    return { wall: sec(t) }
  }
  const w = await warm()
  console.error(`resonode warm-up: ${w.wall.toFixed(2)} s`)
  const runs = plan.map((p) => ({ method: p.method, stepSize: p.stepSize, walls: [], processingTimeS: [] }))
  for (let i = 0; i < reps; i++) {
    for (const [k, p] of plan.entries()) {
      const { wall, r } = await call(p.method, p.stepSize)
      runs[k].walls.push(wall)
      runs[k].processingTimeS.push(r.processingTimeS)
      runs[k].peakMemoryBytes = r.peakMemoryBytes
      if (k === 0 && o.target) writeFileSync(o.target, Buffer.from(r.target.buffer, r.target.byteOffset, r.target.byteLength))
      console.error(`resonode ${p.method} ${p.stepSize.toFixed(4)} rep ${i + 1}: ${wall.toFixed(2)} s`)
    }
  }
  console.log(JSON.stringify({ loadS, warmupS: w.wall, runs }))
}

/** resonode, long path: separateLong on a file, into arrays or (with --out-dir) files. */
async function childLong() {
  const { PromptSeparator } = api()
  let t0 = process.hrtime.bigint()
  const sep = new PromptSeparator({ modelDir: o.model })
  await sep.load()
  const loadS = sec(t0)
  t0 = process.hrtime.bigint()
  const opts = { description: DESCRIPTION, chunkSeconds: 10, overlapSeconds: 3, ode: { method: 'midpoint', stepSize: 2 / 32 }, seed: 42 }
  if (o['out-dir']) opts.outDir = o['out-dir']
  const r = await sep.separateLong(o.input, opts)
  const wall = sec(t0)
  const samples = typeof r.target === 'string' ? r.frames : r.target.length
  console.log(JSON.stringify({ loadS, wall, samples, chunks: r.chunks, peakMemoryBytes: r.peakMemoryBytes, timeToFirstAudioS: r.timeToFirstAudioS }))
}

// ---------------------------------------------------------------- parent

async function waitForCompilers() {
  for (let waited = 0; ; waited += 10) {
    const busy = compilerRunning()
    if (!busy) return
    if (o['no-wait']) return log(`${busy} is running: measuring anyway (--no-wait); the block says so`)
    if (waited >= 1800) throw new Error(`${busy} has been running for 30 minutes; not benchmarking beside it`)
    if (waited % 60 === 0) log(`waiting: ${busy} is running and would disturb the timings`)
    await new Promise((r) => setTimeout(r, 10000))
  }
}

/** Series during which a compiler ran on the machine (their timings are disturbed). */
const disturbed = new Set()

function measured(label, cmd, args) {
  if (compilerRunning()) disturbed.add(label)
  const r = timed(cmd, args, { tmpDir: WORK, cwd: ROOT })
  if (compilerRunning()) disturbed.add(label)
  const out = lastJson(r.stdout)
  log(`${label}: process ${r.wall.toFixed(1)} s, peak RSS ${r.maxRssMb.toFixed(0)} MB`)
  return { ...out, processWall: r.wall, maxRssMb: r.maxRssMb, cpu: r.cpu }
}

/** Short path of one configuration by one tool: medians per plan entry, time per step (T16 - T8) / 8. */
function shortSeries(tool, name, n) {
  const c = CONFIGS[name]
  const plan = JSON.stringify(PLAN.map(({ method, stepSize }) => ({ method, stepSize })))
  const input = join(WORK, 'mix-10s.f32')
  const noise = join(WORK, c.noise)
  const target = join(WORK, `${tool}-${name}-euler16.f32`)
  const res =
    tool === 'resonode'
      ? measured(`resonode ${name} short`, process.execPath, [fileURLToPath(import.meta.url), '--child', 'short', '--model', c.modelDir, '--input', input, '--noise', noise, '--plan', plan, '--reps', String(n), '--target', target])
      : measured(`mlx ${name} short`, PY, [REF, 'short', c.mlxDir, input, noise, DESCRIPTION, plan, String(n), target])
  const runs = res.runs.map((r, k) => ({ ...PLAN[k], wall: median(r.walls), walls: r.walls }))
  const at = (method, steps) => runs.find((r) => r.method === method && r.steps === steps).wall
  const perStep = (m) => (at(m, 16) - at(m, 8)) / 8
  return { ...res, mode: 'whole', runs, euler: { wall: at('euler', 16), perStep: perStep('euler') }, midpoint: { wall: at('midpoint', 16), perStep: perStep('midpoint') }, reps: n }
}

/**
 * The reference's pieces for a model too slow for whole calls here: one
 * Euler and one midpoint step on the full latent, the codec on
 * PARTS_SECONDS of audio; a whole call extrapolated from them (text +
 * encode + two decodes, scaled linearly to 10 s, + 16 steps).
 */
function partsSeries(name) {
  const c = CONFIGS[name]
  const res = measured(`mlx ${name} parts`, PY, [REF, 'parts', c.mlxDir, join(WORK, 'mix-10s.f32'), join(WORK, c.noise), DESCRIPTION, String(PARTS_SECONDS)])
  const k = SECONDS / res.codecSeconds
  const fixed = res.textS + k * (res.encodeS + 2 * res.decodeS)
  return {
    ...res,
    mode: 'parts',
    fixed,
    euler: { wall: fixed + 16 * res.eulerStepS, perStep: res.eulerStepS },
    midpoint: { wall: fixed + 16 * res.midpointStepS, perStep: res.midpointStepS },
  }
}

/** SI-SDR (dB) of `est` against `ref`. */
function siSdr(est, ref) {
  const n = Math.min(est.length, ref.length)
  let dot = 0
  let rr = 0
  for (let i = 0; i < n; i++) {
    dot += est[i] * ref[i]
    rr += ref[i] * ref[i]
  }
  const a = dot / rr
  let s = 0
  let e = 0
  for (let i = 0; i < n; i++) {
    const t = a * ref[i]
    s += t * t
    e += (est[i] - t) ** 2
  }
  return 10 * Math.log10(s / e)
}

function readF32(path) {
  return existsSync(path) ? new Float32Array(readFileSync(path).buffer.slice(0)) : null
}

function longRun(tool, name, minutes, files) {
  const c = CONFIGS[name]
  const input = join(WORK, `long-${minutes}min.wav`)
  const outDir = join(WORK, `long-out-${tool}`)
  rmSync(outDir, { recursive: true, force: true })
  const label = `${tool} ${name} long ${minutes} min ${files ? 'files' : 'memory'}`
  const r =
    tool === 'resonode'
      ? measured(label, process.execPath, [fileURLToPath(import.meta.url), '--child', 'long', '--model', c.modelDir, '--input', input, ...(files ? ['--out-dir', outDir] : [])])
      : measured(label, PY, [REF, 'long', c.mlxDir, input, DESCRIPTION, files ? 'files' : 'memory', outDir])
  rmSync(outDir, { recursive: true, force: true })
  return { tool, name, minutes, files, ...r }
}

function commitLabel() {
  const head = run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout.trim()
  const dirty = run('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']).stdout.trim() !== ''
  return dirty ? `${head} with uncommitted changes` : head
}

const CFG_LABEL = { tiny: 'tiny', small: 'small (random)' }

function markdown(r) {
  const s = (v, d = 2) => (Number.isFinite(v) ? `${v.toFixed(d)} s` : 'n/a')
  const ms = (v) => (Number.isFinite(v) ? (v >= 1 ? `${v.toFixed(2)} s` : `${(v * 1000).toFixed(v < 0.1 ? 1 : 0)} ms`) : 'n/a')
  const mark = (e) => (e.mode === 'parts' ? ' ¹' : '')
  const short = []
  const steps = []
  const rss = []
  for (const [name, e] of Object.entries(r.short)) {
    for (const m of ['euler', 'midpoint']) {
      const a = e.resonode[m]
      const b = e.mlx?.[m]
      short.push([
        `${CFG_LABEL[name]}, ${m} 16`,
        s(a.wall),
        b ? `${e.mlx.mode === 'parts' ? '≈ ' : ''}${s(b.wall, e.mlx.mode === 'parts' ? 0 : 2)}${mark(e.mlx)}` : 'not run',
        `${fmt.n(SECONDS / a.wall, 2)}x`,
        b ? `${fmt.n(SECONDS / b.wall, 3)}x` : 'n/a',
        b ? fmt.x(b.wall / a.wall) : 'n/a',
      ])
      steps.push([`${CFG_LABEL[name]}, ${m}`, ms(a.perStep), b ? `${ms(b.perStep)}${e.mlx.mode === 'parts' ? ' ²' : ''}` : 'not run', b ? fmt.x(b.perStep / a.perStep) : 'n/a'])
    }
    const parts = e.mlx?.mode === 'parts'
    rss.push([
      CFG_LABEL[name],
      `${fmt.n(e.resonode.maxRssMb, 0)} MB`,
      e.mlx ? `${fmt.n(e.mlx.maxRssMb, 0)} MB${parts ? ' ³' : ''}` : 'not run',
      e.mlx && !parts ? fmt.x(e.mlx.maxRssMb / e.resonode.maxRssMb) : 'n/a',
      `${s(e.resonode.loadS, 1)} / ${e.mlx ? s(e.mlx.loadS, 1) : 'n/a'}`,
      `${fmt.n(e.resonode.cpu / e.resonode.processWall, 2)} / ${e.mlx ? fmt.n(e.mlx.cpu / e.mlx.processWall, 2) : 'n/a'}`,
      e.sisdr != null ? `${fmt.n(e.sisdr, 1)} dB` : 'n/a (no whole reference call)',
    ])
  }
  const longRows = r.long.map((l) => [
    `${CFG_LABEL[l.name]}, ${l.minutes} min`,
    l.tool === 'resonode' ? (l.files ? 'resonode `separateLong` + `outDir`' : 'resonode `separateLong` (arrays)') : l.files ? 'mlx-audio `separate_streaming` + file callbacks' : 'mlx-audio `separate_long`',
    s(l.wall, 1),
    `${fmt.n((l.minutes * 60) / l.wall, 2)}x`,
    `${fmt.n(l.maxRssMb, 0)} MB`,
    fmt.n(l.cpu / l.processWall, 2),
  ])
  const busy = r.disturbed.length
    ? `\n**Caveat:** a Rust compiler (another build on this machine) was running during: ${r.disturbed.join('; ')}. Those timings are inflated by CPU contention (2 cores); re-run on an idle machine for clean numbers.\n`
    : ''
  const skipped = r.skipped.length ? `\nNot measured (over this section's time budget): ${r.skipped.join('; ')}.\n` : ''
  const sm = r.short.small
  const notes =
    sm?.mlx?.mode === 'parts'
      ? `
¹ Extrapolated, not measured whole: on this machine the reference runs on MLX's CPU backend, and a single whole call of the small model takes about an hour (it did not finish within 15 minutes for 2 Euler steps), so bench/sam_audio/mlx_ref.py times its own pieces instead: T5 on the description (${s(sm.mlx.textS)}), \`_get_audio_features\` (${s(sm.mlx.encodeS, 1)}) and \`audio_codec.decode\` of one stem (${s(sm.mlx.decodeS, 1)}) on the first ${sm.mlx.codecSeconds} s of the input, scaled linearly to 10 s (encode + two decodes = ${s(sm.mlx.fixed, 0)}), plus 16 ODE steps timed as in ².
² Measured directly: one \`_ode_step_euler\` / \`_ode_step_midpoint\` call on the full 10 s latent (${sm.mlx.frames} frames) with the bench's noise, evaluated with \`mx.eval\` as \`separate\` does (the whole-call derivation would take hours here).
³ The process of the pieces (the codec on ${sm.mlx.codecSeconds} s only), not comparable with resonode's whole calls.
`
      : ''
  return `<!-- sam:begin -->
## l. Text-prompted separation (SAM-Audio): resonode vs mlx-audio

Written by \`node bench/sam_audio/run.mjs\` on ${r.date.slice(0, 10)} at ${r.commit}, separately from the sections above; one machine: ${r.cpu}, ${r.cores} cores, ${r.memGb} GB, CPU only; ${r.elapsedMin} minutes for the whole section.
resonode: \`new PromptSeparator({ modelDir }).separate([audio], { description, sampleRate: 48000, ode, noise })\` (codec, T5 and one DiT velocity evaluation as ONNX graphs in ONNX Runtime with its default thread count; the ODE loop, chunking and crossfades in Rust). Reference: mlx-audio 0.6.2 \`SAMAudio.separate\` through its \`SAMAudioProcessor\` (MLX ${r.mlxVersion}, CPU backend), on the identical model (the same random parameters, rebuilt from the saved mlx weights by bench/sam_audio/mlx_ref.py) and the identical initial noise, so both integrate the same ODE; the memory table's last column compares their Euler-16 targets.
Models: **tiny** = the committed models/sam-audio-tiny (codec hop 240, DiT dim 32 x 2 layers, T5 d_model 16); **small** = mlx-audio's \`SAM_AUDIO_SMALL_CONFIG\` (DiT dim 1024 x 12 layers, full-size DAC-VAE codec at 48 kHz, hop 1920, codebook 128; ${fmt.n(r.smallParams / 1e6, 0)} M parameters) with a T5-base-sized encoder (12 layers, d_model 768, ${fmt.n(r.t5Params / 1e6, 0)} M parameters), all weights random (bench/sam_audio/make_model.py; the shapes and the work are those of a real small checkpoint, the output is not meaningful audio).
Input: 10 s of real audio, mono 48 kHz (assets/speech.wav repeated + 0.5 x assets/music.wav), description "${DESCRIPTION}". Each tool runs in its own process: load, one warm-up call (1 s, 2 Euler steps), then Euler and midpoint at 16 and 8 steps; whole-call wall time from the input array to both output arrays (codec encode, T5, ODE, two codec decodes). resonode: medians of ${r.reps} runs (tiny) and ${r.smallReps} (small); mlx-audio: ${r.mlxReps} run each (its calls are slow here; the section is kept under 30 minutes on 2 cores).

Whole call on 10 s, 16 steps (speed = audio seconds / wall seconds):

${table(['model, solver', 'resonode', 'mlx-audio', 'resonode speed', 'mlx-audio speed', 'mlx-audio / resonode time'], short)}

Time per ODE step, (time with 16 steps - time with 8 steps) / 8 for whole calls (a midpoint step is two DiT evaluations):

${table(['model, solver', 'resonode', 'mlx-audio', 'mlx-audio / resonode'], steps)}

Peak RSS of each whole process (load, warm-up and all the calls above), load time, and agreement of the two tools' outputs:

${table(['model', 'resonode peak RSS', 'mlx-audio peak RSS', 'mlx-audio / resonode', 'load (resonode / mlx-audio)', 'cores busy (CPU time / wall; resonode / mlx-audio)', 'SI-SDR of resonode\'s target vs mlx-audio\'s'], rss)}
${notes}
Long files (chunks 10 s, overlap 3 s, midpoint 16 steps, seed 42; the input is the 10 s excerpt repeated, a 48 kHz float WAV; whole processes, one run each; wall time without loading the model). resonode reads the file as it goes; the reference's API takes the whole signal as an array (read with soundfile):

${table(['model, length', 'call', 'wall time', 'speed', 'peak RSS', 'cores busy'], longRows)}
${skipped}${busy}
${r.reading}
<!-- sam:end -->
`
}

function reading(r) {
  const parts = []
  const t = r.short.tiny
  const sm = r.short.small
  if (sm?.mlx) {
    const x = sm.mlx.midpoint.wall / sm.resonode.midpoint.wall
    const y = sm.mlx.midpoint.perStep / sm.resonode.midpoint.perStep
    parts.push(
      `On the small model resonode's midpoint-16 call is ${faster(x)} than the reference's${sm.mlx.mode === 'parts' ? ' (extrapolated)' : ''} and its ODE step ${faster(y)}: both processes kept about one core busy (see the cores column), so the gap is in the kernels: MLX on Linux x86-64 is a CPU fallback whose kernels, convolutions in particular, are not tuned for x86, while ONNX Runtime runs its tuned GEMM and convolution kernels; on Apple silicon, mlx-audio's target, the reference runs on the GPU and this comparison does not apply.`,
    )
    const q = sm.resonode.midpoint.perStep / sm.resonode.euler.perStep
    if (q < 1.5 || q > 2.5) {
      parts.push(`resonode's per-step times on the small model are differences of single runs (${sm.resonode.reps} each, under the contention named above): a midpoint step should cost about twice an Euler step, here the ratio is ${fmt.n(q, 1)}, so read them as ±30 %.`)
    }
    const codec = sm.resonode.midpoint.wall - 16 * sm.resonode.midpoint.perStep
    parts.push(`By the same derivation, resonode's own time on the small model goes about ${fmt.n((100 * codec) / sm.resonode.midpoint.wall, 0)} % into the codec and T5 (about ${s0(codec)} for encode + two full-size DAC-VAE decodes at 48 kHz) and the rest into the 16 midpoint steps (32 DiT evaluations).`)
  }
  if (t?.mlx) {
    parts.push(`On the tiny model the mlx-audio / resonode time ratio is ${fmt.x(t.mlx.midpoint.wall / t.resonode.midpoint.wall)} for midpoint 16; its outputs agree with the reference's to ${fmt.n(t.sisdr, 1)} dB SI-SDR.`)
  }
  const find = (name, minutes, files) => r.long.find((l) => l.tool === 'resonode' && l.name === name && l.minutes === minutes && l.files === files)
  const l1 = find('tiny', 1, true)
  const l10 = find('tiny', 10, true)
  const m1 = find('tiny', 1, false)
  const m10 = find('tiny', 10, false)
  if (l1 && l10) {
    parts.push(
      `\`separateLong\` with \`outDir\` peaks at ${fmt.n(l1.maxRssMb, 0)} MB for 1 minute and ${fmt.n(l10.maxRssMb, 0)} MB for 10 minutes (memory bounded by the chunk, not the file)` +
        (m1 && m10 ? `; returning arrays adds the two output signals (${fmt.n(m1.maxRssMb, 0)} MB and ${fmt.n(m10.maxRssMb, 0)} MB).` : '.'),
    )
  }
  return parts.join(' ')
}

const s0 = (v) => `${v.toFixed(0)} s`
/** "2.5x faster" / "1.3x slower" from a time ratio other / resonode. */
const faster = (x) => (x >= 1 ? `${fmt.x(x)} faster` : `${fmt.x(1 / x)} slower`)

function write(md) {
  const path = join(ROOT, 'bench/RESULTS.md')
  const cur = readFileSync(path, 'utf8')
  const re = /<!-- sam:begin -->[\s\S]*<!-- sam:end -->\n/
  writeFileSync(path, re.test(cur) ? cur.replace(re, md) : cur.replace('## How to reproduce', `${md}\n## How to reproduce`))
  log('wrote the sam block of bench/RESULTS.md')
}

async function main() {
  if (o.child === 'short') return childShort()
  if (o.child === 'long') return childLong()
  if (o.render) {
    // the block again from the last run's raw numbers (bench/out/sam_audio.json)
    const r = JSON.parse(readFileSync(join(OUT, 'sam_audio.json'), 'utf8'))
    r.reading = reading(r)
    const md = markdown(r)
    console.log(md)
    if (!o['no-write']) write(md)
    return
  }
  mkdirSync(WORK, { recursive: true })
  const { PromptSeparator } = api()
  if (!PromptSeparator) throw new Error('dist/index.js has no PromptSeparator: build the addon first (npm run build)')
  const names = o['no-small'] ? ['tiny'] : ['tiny', 'small']
  log('models and inputs')
  run(PY, [MAKE, '--config', 'tiny'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  if (names.includes('small')) run(PY, [MAKE, '--config', 'small'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  run(PY, [REF, 'prepare', WORK], { cwd: ROOT })
  const info = existsSync(join(CONFIGS.small.mlxDir, 'info.json')) ? JSON.parse(readFileSync(join(CONFIGS.small.mlxDir, 'info.json'), 'utf8')) : null
  const mlxVersion = run(PY, ['-c', 'import mlx.core as mx; print(mx.__version__)']).stdout.trim()
  const r = {
    date: new Date().toISOString(),
    commit: commitLabel(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memGb: Math.round(totalmem() / 2 ** 30),
    reps,
    smallReps,
    mlxReps,
    mlxVersion,
    smallParams: info?.parameters?.samAudio ?? NaN,
    t5Params: info?.parameters?.t5 ?? NaN,
    short: {},
    long: [],
    skipped: [],
  }
  await waitForCompilers()
  for (const name of names) {
    const e = { resonode: shortSeries('resonode', name, name === 'tiny' ? reps : smallReps) }
    if (!o['no-mlx']) e.mlx = name === 'small' && !o['mlx-whole-small'] ? partsSeries(name) : shortSeries('mlx', name, mlxReps)
    const a = readF32(join(WORK, `resonode-${name}-euler16.f32`))
    const b = e.mlx?.mode === 'whole' ? readF32(join(WORK, `mlx-${name}-euler16.f32`)) : null
    e.sisdr = a && b ? siSdr(a, b) : null
    r.short[name] = e
    log(`${name}: midpoint 16 resonode ${e.resonode.midpoint.wall.toFixed(2)} s, mlx ${e.mlx?.midpoint.wall.toFixed(2) ?? '-'} s; SI-SDR ${e.sisdr?.toFixed(1) ?? '-'} dB`)
  }
  if (!o['no-long']) {
    // chunks of 10 s with a 3 s overlap: ceil((60 - 3) / 7) = 9 for a minute, 86 for 10 minutes
    const chunks = (min) => Math.ceil((min * 60 - 3) / 7)
    for (const name of names) {
      const e = r.short[name]
      for (const minutes of name === 'tiny' ? [1, 10] : [1]) {
        for (const tool of o['no-mlx'] ? ['resonode'] : ['resonode', 'mlx']) {
          const est = chunks(minutes) * e[tool].midpoint.wall
          const limit = tool === 'mlx' ? 600 : name === 'tiny' ? 600 : 300
          const who = tool === 'mlx' ? 'mlx-audio `separate_long`' : 'resonode `separateLong`'
          if (est > limit) {
            r.skipped.push(`${who}, ${CFG_LABEL[name]} model, ${minutes} min (about ${(est / 60).toFixed(0)} min per run, estimated from the 10 s call; limit ${limit / 60} min)`)
            log(`skipped ${tool} ${name} ${minutes} min: estimated ${est.toFixed(0)} s`)
            continue
          }
          const variants = tool === 'resonode' ? [true, false] : o['mlx-streaming'] ? [false, true] : [false]
          for (const files of variants) r.long.push(longRun(tool, name, minutes, files))
        }
      }
    }
  }
  r.elapsedMin = ((Date.now() - t00) / 60000).toFixed(0)
  r.disturbed = [...disturbed]
  r.reading = reading(r)
  writeFileSync(join(OUT, 'sam_audio.json'), `${JSON.stringify(r, null, 1)}\n`)
  const md = markdown(r)
  console.log(md)
  if (!o['no-write']) write(md)
  log('done')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
