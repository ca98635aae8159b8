// Section e of bench/run.mjs: neural inference (issue 4, "Benchmarks").
//
// 1. GTCRN streaming speech enhancement, 1 inference thread, on the official
//    repository's mix.wav (16 kHz): resonode `SpeechEnhancer.enhance()` /
//    `enhanceFile()` against the same model (models/gtcrn/gtcrn_simple.onnx)
//    driven frame by frame from plain JS through onnxruntime-node (the ONNX
//    Runtime library resonode itself loads; bench/ml_gtcrn_ort.mjs) and from
//    Python onnxruntime (bench/ml_gtcrn_ort.py), all with the same STFT
//    framing. When an already-built `gtcrn_speed` example is found, its
//    Rust-side numbers (model call alone, whole path) are added; it is
//    never built here.
// 2. HTDemucs, full-size architecture with random weights: resonode
//    `Separator.separateFile` against PyTorch `demucs.apply.apply_model`
//    (bench/ml_htdemucs_torch.py, the same network: same constructor, same
//    seed) on the same 60 s stereo 44.1 kHz file, realtime factor, peak
//    RSS and RSS over time of each process (bench/ml_rss.mjs samples
//    /proc/PID/status every 100 ms; CSVs in bench/out/htd_rss_*.csv).
//
// Every implementation runs in a child process of its own.
// Environment:
//   RESONODE_GTCRN_WAV       input of part 1 (default ../shared/models/gtcrn/mix.wav)
//   RESONODE_ML_PYTHON       python with numpy, onnxruntime, torch, demucs,
//                            soundfile (default /tmp/htd-venv/bin/python if
//                            it exists, else python3)
//   RESONODE_GTCRN_SPEED_BIN built gtcrn_speed example (default
//                            /tmp/target-ml/release/examples/gtcrn_speed)
//   RESONODE_HTDEMUCS_MODEL  full-size HTDemucs export (default
//                            bench/out/htdemucs_random.onnx, then
//                            /tmp/htd/full_random.onnx); make one with
//                            `python scripts/export_htdemucs.py --random --out bench/out/htdemucs_random.onnx`
//   RESONODE_HTD_REPS        repetitions of part 2 (default 1: a run takes minutes)
//   RESONODE_ML_PARTS        `gtcrn`, `htdemucs` or both (default `gtcrn,htdemucs`)
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fmt, median, run, runJson, table } from './common.mjs'
import { rssAt, timedWithRss, writeRssCsv } from './ml_rss.mjs'

function pythonFor(modules) {
  const cands = [process.env.RESONODE_ML_PYTHON, '/tmp/htd-venv/bin/python', 'python3'].filter(Boolean)
  for (const py of cands) {
    if (py.startsWith('/') && !existsSync(py)) continue
    const r = spawnSync(py, ['-c', `import ${modules}`], { encoding: 'utf8' })
    if (r.status === 0) return py
  }
  return null
}

function pyVersion(py, expr) {
  const r = spawnSync(py, ['-c', `import sys; ${expr}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : 'n/a'
}

function newestMtime(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'target' && e.name !== 'fixtures') t = Math.max(t, newestMtime(p))
    } else if (/\.(rs|toml)$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs)
  }
  return t
}

function readF32(path) {
  const b = readFileSync(path)
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

/** Max abs difference and SNR (dB) of b against a over their common length. */
function agreement(a, b) {
  const n = Math.min(a.length, b.length)
  let max = 0
  let sig = 0
  let err = 0
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i]
    max = Math.max(max, Math.abs(d))
    sig += a[i] * a[i]
    err += d * d
  }
  return { maxAbsDiff: max, snrDb: 10 * Math.log10(sig / Math.max(err, 1e-30)), lengths: [a.length, b.length] }
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

async function benchGtcrn(ctx, py) {
  const { root, out, reps, log } = ctx
  const input = process.env.RESONODE_GTCRN_WAV || join(root, '../shared/models/gtcrn/mix.wav')
  const model = join(root, 'models/gtcrn/gtcrn_simple.onnx')
  if (!existsSync(input)) throw new Error(`${input} not found (set RESONODE_GTCRN_WAV)`)
  const r = { input, model, reps }

  await ctx.waitForCompilers()
  log('  GTCRN: resonode SpeechEnhancer (threads: 1)')
  r.resonode = runJson('node', [join(root, 'bench/ml_resonode.mjs'), 'gtcrn', input, out, String(reps)], { cwd: root })

  await ctx.waitForCompilers()
  log('  GTCRN: JS frame loop through onnxruntime-node')
  r.js = runJson('node', [join(root, 'bench/ml_gtcrn_ort.mjs'), model, input, join(out, 'gtcrn_js.f32'), String(reps)], { cwd: root })

  if (py) {
    await ctx.waitForCompilers()
    log(`  GTCRN: Python onnxruntime frame loop (${py})`)
    r.python = runJson(py, [join(root, 'bench/ml_gtcrn_ort.py'), model, input, join(out, 'gtcrn_py.f32'), String(reps)], { cwd: root })
  }

  const bin = process.env.RESONODE_GTCRN_SPEED_BIN || '/tmp/target-ml/release/examples/gtcrn_speed'
  if (!existsSync(bin)) {
    r.rustSkipped = `${bin} is not built (building it takes minutes: \`cargo run --release -p resonode-ml --example gtcrn_speed\`)`
  } else {
    // Run as it is (never rebuilt here); the report gives its build time
    // beside the newest source change so that a stale binary shows.
    const src = Math.max(...['core', 'io', 'ml'].map((c) => newestMtime(join(root, 'crates', c))))
    {
      await ctx.waitForCompilers()
      log(`  GTCRN: Rust example ${bin}`)
      const ortLib = join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1')
      const env = existsSync(ortLib) && !process.env.ORT_DYLIB_PATH ? { ...process.env, ORT_DYLIB_PATH: ortLib } : process.env
      const text = run(bin, [input, '1'], { cwd: root, env }).stdout
      const num = (re) => Number(text.match(re)?.[1])
      r.rust = {
        bin,
        builtAt: statSync(bin).mtime.toISOString(),
        sourcesChangedAt: new Date(src).toISOString(),
        text,
        callMedianUs: num(/model call per frame: median ([\d.]+) us/),
        callP99Us: num(/model call per frame: median [\d.]+ us, p99 ([\d.]+) us/),
        callMeanUs: num(/model call per frame: .* mean ([\d.]+) us/),
        offlineMs: num(/offline 16 kHz: ([\d.]+) ms/),
        offlineRtf: num(/offline 16 kHz: .*RTF ([\d.]+)/),
        offlineUsPerFrame: num(/offline 16 kHz: .*, ([\d.]+) us per frame/),
      }
    }
  }

  const ref = readF32(join(out, 'gtcrn_resonode.f32'))
  r.agreement = { js: agreement(ref, readF32(join(out, 'gtcrn_js.f32'))) }
  if (r.python) r.agreement.python = agreement(ref, readF32(join(out, 'gtcrn_py.f32')))
  return r
}

const RSS_POINTS = [0.1, 0.25, 0.5, 0.75, 1]

/**
 * A run with its RSS curve condensed: RSS at RSS_POINTS of the wall time,
 * the sampled peak and when it happened, and the median RSS over the run.
 */
function rssSummary(t) {
  const xs = t.samples
  const peak = xs.reduce((a, s) => (s.rssMb > a.rssMb ? s : a), xs[0] ?? { t: NaN, rssMb: NaN })
  return { ...t, rssAtMb: rssAt(xs, t.wall, RSS_POINTS), sampledPeakMb: peak.rssMb, peakAtS: peak.t, medianRssMb: median(xs.map((s) => s.rssMb)), samplesN: xs.length }
}

// The numbers section e.2 reported before issue 14 (arena and memory
// pattern on), kept beside the new ones for comparison.
const EARLIER_HTD = { date: 'before issue 14', resonodeWallS: 57.5, resonodeRssMb: 3352, torchWallS: 100.6, torchRssMb: 1538 }

async function benchHtdemucs(ctx, py) {
  const { root, out, log } = ctx
  const cands = [process.env.RESONODE_HTDEMUCS_MODEL, join(out, 'htdemucs_random.onnx'), '/tmp/htd/full_random.onnx'].filter(Boolean)
  const model = cands.find((p) => existsSync(p))
  if (!model) return { skipped: `no full-size HTDemucs export (looked for ${cands.join(', ')}); make one with scripts/export_htdemucs.py --random` }
  if (!py) return { skipped: 'no python with torch, demucs and soundfile (set RESONODE_ML_PYTHON)' }
  const input = join(out, 'music_60s.wav')
  if (!existsSync(input)) {
    const music = join(root, 'assets/music.wav')
    run('sox', [music, music, music, music, music, input, 'trim', '0', '60'])
  }
  const reps = Math.max(1, Number(process.env.RESONODE_HTD_REPS || 1))
  const threads = cpus().length
  const r = { model, modelMb: statSync(model).size / 1e6, input, reps, torchThreads: threads, resonode: [], lowMemory: [], torch: [] }
  for (let i = 0; i < reps; i++) {
    await ctx.waitForCompilers()
    log(`  HTDemucs: resonode Separator.separateFile (${i + 1}/${reps})`)
    const dir = join(out, 'htd_resonode')
    mkdirSync(dir, { recursive: true })
    const t = await timedWithRss('node', [join(root, 'bench/ml_resonode.mjs'), 'separate', model, input, dir], { cwd: root, tmpDir: out })
    writeRssCsv(join(out, `htd_rss_resonode${reps > 1 ? `_${i + 1}` : ''}.csv`), t.samples)
    r.resonode.push({ ...rssSummary(t), stdout: undefined, stderr: undefined, samples: undefined, json: JSON.parse(t.stdout.trim().split('\n').pop()) })

    await ctx.waitForCompilers()
    log(`  HTDemucs: resonode Separator.separateFile, lowMemory (${i + 1}/${reps})`)
    const ldir = join(out, 'htd_resonode_low')
    mkdirSync(ldir, { recursive: true })
    const v = await timedWithRss('node', [join(root, 'bench/ml_resonode.mjs'), 'separate', model, input, ldir, '-', 'low-memory'], { cwd: root, tmpDir: out })
    writeRssCsv(join(out, `htd_rss_resonode_low${reps > 1 ? `_${i + 1}` : ''}.csv`), v.samples)
    r.lowMemory.push({ ...rssSummary(v), stdout: undefined, stderr: undefined, samples: undefined, json: JSON.parse(v.stdout.trim().split('\n').pop()) })
    // lowMemory must not change a sample.
    r.lowMemoryIdentical = (r.lowMemoryIdentical ?? true) && ['drums', 'bass', 'other', 'vocals'].every((st) => readFileSync(join(ldir, `${st}.wav`)).equals(readFileSync(join(dir, `${st}.wav`))))

    await ctx.waitForCompilers()
    log(`  HTDemucs: PyTorch apply_model (${i + 1}/${reps})`)
    const tdir = join(out, 'htd_torch')
    const u = await timedWithRss(py, [join(root, 'bench/ml_htdemucs_torch.py'), input, tdir, String(threads)], { cwd: root, tmpDir: out })
    writeRssCsv(join(out, `htd_rss_torch${reps > 1 ? `_${i + 1}` : ''}.csv`), u.samples)
    r.torch.push({ ...rssSummary(u), stdout: undefined, stderr: undefined, samples: undefined, json: JSON.parse(u.stdout.trim().split('\n').pop()) })
  }
  // Agreement of the stems (a sanity check that both ran the same network).
  const cmp = spawnSync(
    py,
    [
      '-c',
      `import sys, json, numpy as np, soundfile as sf
res = {}
for s in ['drums', 'bass', 'other', 'vocals']:
    a, _ = sf.read(sys.argv[1] + '/' + s + '.wav', dtype='float64'); b, _ = sf.read(sys.argv[2] + '/' + s + '.wav', dtype='float64')
    n = min(len(a), len(b)); a = a[:n].ravel(); b = b[:n].ravel()
    al = (a @ b) / max(b @ b, 1e-30)
    res[s] = 10 * np.log10((al * al * (b @ b)) / max(((al * b - a) ** 2).sum(), 1e-30))
print(json.dumps(res))`,
      join(out, 'htd_resonode'),
      join(out, 'htd_torch'),
    ],
    { encoding: 'utf8' },
  )
  r.siSdrDb = cmp.status === 0 ? JSON.parse(cmp.stdout.trim()) : { error: cmp.stderr.trim().split('\n').pop() }
  return r
}

export async function benchMl(ctx) {
  const pyOrt = pythonFor('numpy, onnxruntime')
  const pyTorch = pythonFor('numpy, torch, demucs, soundfile')
  const versions = {
    onnxruntimeNode: JSON.parse(readFileSync(join(ctx.root, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version,
    pythonOrt: pyOrt ? pyVersion(pyOrt, 'import onnxruntime, numpy; print(sys.version.split()[0], "/ onnxruntime", onnxruntime.__version__, "/ numpy", numpy.__version__)') : 'n/a',
    torch: pyTorch ? pyVersion(pyTorch, 'import torch, demucs; print("torch", torch.__version__, "/ demucs", demucs.__version__)') : 'n/a',
  }
  const gtcrn = await benchGtcrn(ctx, pyOrt)
  const parts = (process.env.RESONODE_ML_PARTS || 'gtcrn,htdemucs').split(',')
  const htdemucs = parts.includes('htdemucs') ? await benchHtdemucs(ctx, pyTorch) : { skipped: 'left out of this run (RESONODE_ML_PARTS)' }
  return { versions, gtcrn, htdemucs }
}

export function reportMl(r) {
  const g = r.gtcrn
  const targets = []
  const lines = []
  const frames = g.js.frames // 1 + floor(samples / 256), the STFT frames of the file
  const audioS = g.js.audioS
  const perFrame = (s) => (s * 1e6) / frames
  const res = median(g.resonode.enhance)
  const resFile = median(g.resonode.file)
  const tiny = median(g.resonode.tiny)
  const js = median(g.js.passes)
  const py = g.python && median(g.python.passes)
  const rows = [
    ['resonode `SpeechEnhancer.enhance()` (threads: 1), whole call', fmt.n(perFrame(res), 1), '', fmt.n(res / audioS, 4), fmt.x(js / res), py ? fmt.x(py / res) : ''],
    ['resonode `enhanceFile()` (decode + enhance + write float32 WAV)', fmt.n(perFrame(resFile), 1), '', fmt.n(resFile / audioS, 4), fmt.x(js / resFile), py ? fmt.x(py / resFile) : ''],
  ]
  if (g.rust) {
    rows.push(['resonode Rust, `gtcrn_speed` example: offline 16 kHz path (best of 3)', fmt.n(g.rust.offlineUsPerFrame, 1), `${fmt.n(g.rust.callMedianUs, 1)} (p99 ${fmt.n(g.rust.callP99Us, 1)})`, fmt.n(g.rust.offlineRtf, 4), fmt.x(perFrame(js) / g.rust.offlineUsPerFrame), py ? fmt.x(perFrame(py) / g.rust.offlineUsPerFrame) : ''])
  }
  rows.push([
    `plain JS loop through onnxruntime-node ${r.versions.onnxruntimeNode} (\`await session.run()\` per frame, JS radix-2 FFT)`,
    fmt.n(perFrame(js), 1),
    `${fmt.n(median(g.js.callUs), 1)} (p99 ${fmt.n(quantile(g.js.callUs, 0.99), 1)})`,
    fmt.n(js / audioS, 4),
    '1x',
    py ? fmt.x(py / js) : '',
  ])
  if (g.python) {
    rows.push([
      `Python onnxruntime ${g.python.ort} loop (\`session.run\` per frame, numpy rFFT)`,
      fmt.n(perFrame(py), 1),
      `${fmt.n(median(g.python.callUs), 1)} (p99 ${fmt.n(quantile(g.python.callUs, 0.99), 1)})`,
      fmt.n(py / audioS, 4),
      fmt.x(js / py),
      '1x',
    ])
  }
  const speedup = js / res
  targets.push(['GTCRN, 1 thread: resonode `enhance()` >= 3x the JS onnxruntime-node frame loop (whole file, per frame)', fmt.x(speedup), speedup >= 3 ? 'met' : '**missed**'])
  lines.push(`Input: \`${g.input}\` (${fmt.n(audioS, 2)} s, 16 kHz mono; ${frames} STFT frames of 512 samples every 256), model \`models/gtcrn/gtcrn_simple.onnx\`, 1 intra-op thread everywhere. Median of ${g.reps} passes over the file after one warm-up pass in the same process; model loading is outside the JS and Python timings (JS ${fmt.n(g.js.loadS * 1e3, 1)} ms, Python ${g.python ? fmt.n(g.python.loadS * 1e3, 1) : 'n/a'} ms) but inside every resonode call (each call builds its session on a worker thread).

${table(['implementation', 'us per frame (whole path)', 'model call alone, median us', 'RTF', 'speed-up vs JS loop', 'vs Python loop'], rows)}

- us per frame = time for the file / ${frames} frames (${(256e6 / 16000).toFixed(0)} us of audio per frame); RTF = processing time / audio time.
- resonode's fixed cost per \`enhance()\` call (a 256-sample input: session set-up on a worker thread, hand-off) is ${fmt.n(tiny * 1e3, 2)} ms; without it the file costs ${fmt.n(perFrame(res - tiny), 1)} us per frame (${fmt.x(js / Math.max(res - tiny, 1e-9))} the JS loop). The first call in a process (which loads ONNX Runtime) took ${fmt.n(g.resonode.firstS * 1e3, 1)} ms.
- The outputs agree: resonode vs JS loop max abs diff ${fmt.e(g.agreement.js.maxAbsDiff)} (SNR ${fmt.n(g.agreement.js.snrDb, 1)} dB)${g.agreement.python ? `, vs Python loop ${fmt.e(g.agreement.python.maxAbsDiff)} (SNR ${fmt.n(g.agreement.python.snrDb, 1)} dB)` : ''}: they compute the same thing (the remaining difference is at the very end of the file, where resonode runs one more frame, and float rounding).
- The published reference (GTCRN paper repository): RTF 0.07 for its Python loop on an i5-12400.`)
  if (g.rustSkipped) lines.push(`- Rust example not run: ${g.rustSkipped}.`)
  else if (g.rust) lines.push(`- Rust example (\`${g.rust.bin} ${g.input} 1\`): model call alone median ${fmt.n(g.rust.callMedianUs, 1)} us, mean ${fmt.n(g.rust.callMeanUs, 1)} us per frame vs ${fmt.n(median(g.js.callUs), 1)} us for \`await session.run()\` from JS (${fmt.x(median(g.js.callUs) / g.rust.callMedianUs)}); whole offline path ${fmt.n(g.rust.offlineUsPerFrame, 1)} us per frame. Binary built ${g.rust.builtAt.slice(0, 19)}Z, Rust sources (crates/core, io, ml) last modified ${g.rust.sourcesChangedAt.slice(0, 19)}Z.`)

  const h = r.htdemucs
  let htdMd
  if (h.skipped) {
    htdMd = `Not measured: ${h.skipped}.`
  } else {
    const rs = h.resonode
    const ts = h.torch
    const m = (xs, f) => median(xs.map(f))
    const audio = rs[0].json.result.framesProcessed / rs[0].json.result.sampleRate
    const rWall = m(rs, (x) => x.wall)
    const rCore = m(rs, (x) => x.json.result.processingTimeS)
    const rRss = m(rs, (x) => x.maxRssMb)
    const tWall = m(ts, (x) => x.wall)
    const tCore = m(ts, (x) => x.json.applyS)
    const tRss = m(ts, (x) => x.maxRssMb)
    targets.push(['HTDemucs full-size: resonode >= 1.5x as fast as PyTorch apply_model (process wall time; issue 14)', fmt.x(tWall / rWall), tWall >= 1.5 * rWall ? 'met' : '**missed**'])
    targets.push(['HTDemucs full-size: resonode peak RSS <= 0.5x PyTorch (issue 14)', `${fmt.n(rRss, 0)} vs ${fmt.n(tRss, 0)} MB (${fmt.n(rRss / tRss, 2)}x)`, rRss <= 0.5 * tRss ? 'met' : '**missed**'])
    htdMd = `Model: \`${h.model}\` (${fmt.n(h.modelMb, 0)} MB; the released \`htdemucs\` architecture, ${ts[0].json.params.toLocaleString('en')} parameters, random weights from \`random_htdemucs(seed 0)\` in scripts/export_htdemucs.py; PyTorch builds the same network with the same function and seed). Input: \`${h.input}\` (${fmt.n(audio, 1)} s, stereo 44.1 kHz: 5 x assets/music.wav). Both: shifts 0, split into 7.8 s segments with overlap 0.25, triangular crossfade, Separator normalisation, four 16-bit WAV stems written. Threads: PyTorch \`torch.set_num_threads(${h.torchThreads})\`, ONNX Runtime default (resonode passes no thread count). ${h.reps === 1 ? 'One run each' : `Median of ${h.reps} runs`} (a run takes minutes), in fresh processes, peak RSS from \`/usr/bin/time\`.

${table(
  ['', 'resonode `Separator.separateFile`', `PyTorch ${ts[0].json.torch} \`apply_model\``, 'ratio (PyTorch / resonode)'],
  [
    ['process wall time, s (start-up, model load, separation, writing)', fmt.n(rWall, 1), fmt.n(tWall, 1), fmt.x(tWall / rWall)],
    ['realtime factor of the whole process', fmt.n(rWall / audio, 3), fmt.n(tWall / audio, 3), ''],
    ['separation alone, s (resonode `processingTimeS` incl. model load / `apply_model` call)', fmt.n(rCore, 1), fmt.n(tCore, 1), fmt.x(tCore / rCore)],
    ['realtime factor, separation alone', fmt.n(rCore / audio, 3), fmt.n(tCore / audio, 3), ''],
    ['CPU time (user + sys), s', fmt.n(m(rs, (x) => x.cpu), 1), fmt.n(m(ts, (x) => x.cpu), 1), fmt.x(m(ts, (x) => x.cpu) / m(rs, (x) => x.cpu))],
    ['peak RSS, MB', fmt.n(rRss, 0), fmt.n(tRss, 0), fmt.x(tRss / rRss)],
  ],
)}

RSS over time (MB; \`VmRSS\` of the process sampled every 100 ms from the parent, the last sample at or before each point of the process's wall time; "peak" is the kernel's \`VmHWM\` via \`/usr/bin/time\`; curves in \`bench/out/htd_rss_resonode.csv\`, \`htd_rss_torch.csv\`):

${table(
  ['process', ...RSS_POINTS.map((f) => `${Math.round(f * 100)} %`), 'median over the run', 'peak (at s)'],
  [
    ['resonode', ...RSS_POINTS.map((_, k) => fmt.n(m(rs, (x) => x.rssAtMb[k]), 0)), fmt.n(m(rs, (x) => x.medianRssMb), 0), `${fmt.n(rRss, 0)} (${fmt.n(rs[0].peakAtS, 1)})`],
    ...(h.lowMemory?.length ? [['resonode, `lowMemory: true`', ...RSS_POINTS.map((_, k) => fmt.n(m(h.lowMemory, (x) => x.rssAtMb[k]), 0)), fmt.n(m(h.lowMemory, (x) => x.medianRssMb), 0), `${fmt.n(m(h.lowMemory, (x) => x.maxRssMb), 0)} (${fmt.n(h.lowMemory[0].peakAtS, 1)})`]] : []),
    ['PyTorch', ...RSS_POINTS.map((_, k) => fmt.n(m(ts, (x) => x.rssAtMb[k]), 0)), fmt.n(m(ts, (x) => x.medianRssMb), 0), `${fmt.n(tRss, 0)} (${fmt.n(ts[0].peakAtS, 1)})`],
  ],
)}

- Earlier (${EARLIER_HTD.date}, ONNX Runtime's CPU arena and memory pattern on): resonode ${EARLIER_HTD.resonodeWallS} s, peak ${EARLIER_HTD.resonodeRssMb} MB; PyTorch ${EARLIER_HTD.torchWallS} s, ${EARLIER_HTD.torchRssMb} MB. Since issue 14 HTDemucs sessions run without the memory pattern (\`ActivationMemory::Arena\`): planned after the first run, its block came on top of what the arena already held, doubling the peak.
${h.lowMemory?.length ? `- \`lowMemory: true\` (arena off as well, free heap pages returned after every segment: \`ActivationMemory::Released\`): process wall ${fmt.n(m(h.lowMemory, (x) => x.wall), 1)} s, CPU ${fmt.n(m(h.lowMemory, (x) => x.cpu), 1)} s (default: ${fmt.n(rWall, 1)} s, ${fmt.n(m(rs, (x) => x.cpu), 1)} s), peak ${fmt.n(m(h.lowMemory, (x) => x.maxRssMb), 0)} MB (${fmt.n(m(h.lowMemory, (x) => x.maxRssMb) / tRss, 2)}x PyTorch); stems ${h.lowMemoryIdentical ? 'byte-identical to the default run' : '**differ from the default run**'}. Every segment re-faults the ~1.2 GB its tensors need.` : ''}

- resonode: ${rs[0].json.result.chunks} segments, time to first audio ${fmt.n(rs[0].json.result.timeToFirstAudioS, 2)} s. PyTorch start-up (imports, building the model, reading the WAV) ${fmt.n(m(ts, (x) => x.json.startupS), 1)} s, writing ${fmt.n(m(ts, (x) => x.json.writeS), 2)} s.
- Stems agree (SI-SDR of resonode's against PyTorch's, dB): ${Object.entries(h.siSdrDb).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toFixed(1) : v}`).join(', ')}.`
  }
  const md = `### 1. GTCRN streaming speech enhancement

${lines.join('\n')}

### 2. HTDemucs, full-size architecture (random weights)

${htdMd}

Versions: onnxruntime-node ${r.versions.onnxruntimeNode} (its libonnxruntime is what resonode loads), Python ${r.versions.pythonOrt}, ${r.versions.torch}.`
  return { md, targets }
}
