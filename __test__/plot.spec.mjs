// plot() and `resonode plot` / `analyze --plot` (issue 16): images of real
// recordings checked by their pixels — size, the beat grid at the
// analyzer's beat times, a 1 kHz tone at 1 kHz on the spectrogram's axis —
// plus SVG output, the CLI, and typed errors that leave no partial image.
import test from 'ava'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { lib, asset, tempDir, writeWav, tone, runCli } from './helpers.mjs'
import { renderSongs } from './mixer-fixtures.mjs'

// crates/plot/src/render.rs: BEAT_COLOUR, DOWNBEAT_COLOUR (documented in plot.ts).
const BEAT = [255, 140, 0]
const DOWNBEAT = [214, 0, 80]

function readPng(path) {
  return PNG.sync.read(readFileSync(path))
}

function pixel(png, x, y) {
  const i = (y * png.width + x) * 4
  return [png.data[i], png.data[i + 1], png.data[i + 2]]
}

const same = (a, b) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2]

/** Column of time `t` in a panel, as documented on PlotPanel. */
function xOf(panel, t) {
  return panel.x + Math.floor(((t - panel.timeStartS) / (panel.timeEndS - panel.timeStartS)) * panel.width)
}

/** Row of frequency `f` in the (logarithmic) spectrogram panel, as documented. */
function yOf(panel, f) {
  return panel.y + panel.height * (1 - Math.log(f / panel.fMinHz) / Math.log(panel.fMaxHz / panel.fMinHz))
}

/** Colours found in column `x` of `panel`, sampled every 4 rows. */
function columnHas(png, panel, x, colour) {
  for (let y = panel.y + 1; y < panel.y + panel.height - 1; y += 4) if (same(pixel(png, x, y), colour)) return true
  return false
}

/**
 * Asserts the beat grid of `png` is drawn at `beats` (downbeats in
 * `downbeats`): the beat (or downbeat) colour in the column of every beat,
 * and neither colour in the column halfway between consecutive beats.
 */
function assertBeatGrid(t, png, panel, beats, downbeats, what) {
  t.true(beats.length > 4, `${what}: ${beats.length} beats`)
  const down = new Set(downbeats)
  for (const b of beats) {
    const colour = down.has(b) ? DOWNBEAT : BEAT
    t.true(columnHas(png, panel, xOf(panel, b), colour), `${what}: no ${down.has(b) ? 'downbeat' : 'beat'} line at ${b.toFixed(3)} s (x ${xOf(panel, b)})`)
  }
  for (let i = 0; i + 1 < beats.length; i++) {
    const x = xOf(panel, (beats[i] + beats[i + 1]) / 2)
    t.false(columnHas(png, panel, x, BEAT) || columnHas(png, panel, x, DOWNBEAT), `${what}: a beat line halfway between ${beats[i]} and ${beats[i + 1]} s`)
  }
}

test('plot(): music.wav, all panels; the image has the requested size and the beat grid sits at analyze()\'s beats', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'music.png')
  const a = await lib.analyze(asset('music.wav'))
  const fractions = []
  const r = await lib.plot(asset('music.wav'), { out, onProgress: (f) => fractions.push(f) })
  t.is(r.out, out)
  t.is(r.format, 'png')
  t.is(r.width, 1600)
  const png = readPng(out)
  t.is(png.width, 1600)
  t.is(png.height, r.height)
  t.deepEqual(r.panels.map((p) => p.name), ['waveform', 'spectrogram', 'chroma', 'loudness'])
  t.true(Math.abs(r.durationS - a.durationS) < 1e-9)
  // One pass gives the same analysis as analyze() (with the path).
  t.deepEqual(r.analysis, a)
  t.is(a.path, asset('music.wav'))
  t.is(fractions.at(-1), 1)
  const wave = r.panels[0]
  assertBeatGrid(t, png, wave, a.beats, a.downbeats, 'music.wav')
  for (const p of r.panels) t.true(p.x + p.width <= png.width && p.y + p.height <= png.height)
  t.deepEqual(readdirSync(dir), ['music.png'])
})

test('plot(): a rendered song of known tempo (120 BPM): tempo in the title, grid at the beats; width is honoured', async (t) => {
  const dir = tempDir()
  const songs = await renderSongs(join(dir, 'songs'), { songs: [{ id: 'ref-120-C', tonic: 0, mode: 'major', bpm: 120 }] })
  const song = songs['ref-120-C']
  const a = await lib.analyze(song)
  t.true(Math.abs(a.tempoBpm - 120) / 120 < 0.02, `${a.tempoBpm} BPM`)
  const out = join(dir, 'song.png')
  const r = await lib.plot(song, { out, width: 1000, show: ['beats'] })
  const png = readPng(out)
  t.is(png.width, 1000)
  t.is(png.height, r.height)
  t.deepEqual(r.panels.map((p) => p.name), ['waveform'])
  assertBeatGrid(t, png, r.panels[0], a.beats, a.downbeats, 'song')
  // The beats are ~0.5 s apart: halfway columns are well clear of the lines.
  t.true(r.panels[0].width / r.durationS * 0.25 > 4)
})

test('plot(analysis): draws the analysis as given (its beats, tempo, key), decoding its path for the panels', async (t) => {
  const dir = tempDir()
  const a = await lib.analyze(asset('music.wav'))
  // A grid of our own, every 0.75 s from 0.3 s, downbeats every 4th.
  const beats = Array.from({ length: 15 }, (_, i) => 0.3 + 0.75 * i)
  const given = { ...a, tempoBpm: 80, beats, downbeats: beats.filter((_, i) => i % 4 === 0), key: 'F#', mode: 'major', camelot: '2B' }
  const out = join(dir, 'given.svg')
  const r = await lib.plot(given, { out, show: ['waveform', 'beats', 'loudness'] })
  t.is(r.analysis, given)
  const svg = readFileSync(out, 'utf8')
  t.true(svg.includes('80.0 BPM') && svg.includes('F# major (2B)'), svg.slice(0, 400))
  const png = join(dir, 'given.png')
  const r2 = await lib.plot(given, { out: png, show: ['beats'] })
  assertBeatGrid(t, readPng(png), r2.panels[0], beats, given.downbeats, 'given grid')
  const { path: _, ...noPath } = a
  t.is((await t.throwsAsync(lib.plot(noPath, { out: join(dir, 'x.png') }))).code, 'ERR_INVALID_PARAMETER')
  t.is((await t.throwsAsync(lib.plot({ ...given, key: 'H' }, { out: join(dir, 'x.png') }))).code, 'ERR_INVALID_PARAMETER')
  t.deepEqual(readdirSync(dir).sort(), ['given.png', 'given.svg'])
})

test('spectrogram: a 1 kHz sine is brightest at the row of 1 kHz on the axis (within one band)', async (t) => {
  const dir = tempDir()
  const rate = 44100
  const wav = writeWav(join(dir, 'sine.wav'), [tone(1000, rate * 4, rate, 0.5)], rate)
  const out = join(dir, 'sine.png')
  const r = await lib.plot(wav, { out, show: ['spectrogram'], width: 800 })
  const [spec] = r.panels
  t.is(spec.name, 'spectrogram')
  t.true(spec.logFrequency)
  t.is(spec.fMinHz, 30)
  t.is(spec.fMaxHz, 11025)
  const png = readPng(out)
  let best = -1
  let bestRow = -1
  for (let y = spec.y; y < spec.y + spec.height; y++) {
    let sum = 0
    for (let x = spec.x + Math.floor(spec.width / 4); x < spec.x + Math.floor((3 * spec.width) / 4); x++) {
      const [r0, g, b] = pixel(png, x, y)
      sum += r0 + g + b
    }
    if (sum > best) [best, bestRow] = [sum, y]
  }
  // 240 log-spaced bands over the panel's rows.
  const bandPx = spec.height / 240
  const want = yOf(spec, 1000)
  t.true(Math.abs(bestRow + 0.5 - want) <= Math.max(bandPx, 1) + 0.5, `brightest row ${bestRow}, 1 kHz at ${want.toFixed(1)}`)
  // And not at 2 kHz or 500 Hz: an octave is many rows away.
  t.true(Math.abs(yOf(spec, 2000) - want) > 10)
})

/** Minimal XML well-formedness: every tag closes in order, attributes quoted, `&` only in entities. */
function assertWellFormed(t, xml) {
  const stack = []
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g
  let last = 0
  let m
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '')
  while ((m = tag.exec(body))) {
    t.false(body.slice(last, m.index).includes('<'), `stray '<' before offset ${m.index}`)
    last = tag.lastIndex
    const [, close, name, , selfClose] = m
    if (close) t.is(stack.pop(), name, `</${name}> closes the wrong element`)
    else if (!selfClose) stack.push(name)
  }
  t.is(body.slice(last).trim(), '')
  t.deepEqual(stack, [])
  t.false(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(xml), 'bare & in the SVG')
}

test('SVG output is well-formed and carries the title with tempo, key and loudness', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'music.svg')
  const r = await lib.plot(asset('music.wav'), { out, width: 900 })
  t.is(r.format, 'svg')
  const svg = readFileSync(out, 'utf8')
  assertWellFormed(t, svg)
  t.true(svg.startsWith('<svg'))
  t.regex(svg, new RegExp(`width="900" height="${r.height}"`))
  const a = r.analysis
  const title = `music.wav — ${a.tempoBpm.toFixed(1)} BPM — ${a.key} ${a.mode} (${a.camelot}) — ${a.loudnessLufs.toFixed(1)} LUFS`
  t.true(svg.includes(title), `title ${title} missing`)
  // The spectrogram and chromagram are embedded PNGs.
  t.is((svg.match(/<image /g) ?? []).length, 2)
})

test('CLI: `analyze --plot` writes the image and prints the same analysis as `analyze --json`; `plot --json` gives the layout', async (t) => {
  const dir = tempDir()
  const out = join(dir, 'a.png')
  const plain = await runCli(['analyze', asset('music.wav'), '--json'])
  t.is(plain.status, 0, plain.stderr)
  const withPlot = await runCli(['analyze', asset('music.wav'), '--json', '--plot', out])
  t.is(withPlot.status, 0, withPlot.stderr)
  t.deepEqual(JSON.parse(withPlot.stdout), JSON.parse(plain.stdout))
  t.is(readPng(out).width, 1600)
  const svg = join(dir, 'p.svg')
  const p = await runCli(['plot', asset('music.wav'), '--out', svg, '--show', 'spectrogram,chroma', '--width', '640', '--json'])
  t.is(p.status, 0, p.stderr)
  const j = JSON.parse(p.stdout)
  t.is(j.width, 640)
  t.deepEqual(j.panels.map((x) => x.name), ['spectrogram', 'chroma'])
  t.true(existsSync(svg))
  const bad = await runCli(['plot', asset('music.wav'), '--out', join(dir, 'x.png'), '--show', 'waveform,spectrum'])
  t.is(bad.status, 1)
  t.regex(bad.stderr, /^resonode: ERR_INVALID_PARAMETER: .*spectrum.*waveform, spectrogram, chroma, beats, loudness/)
  t.deepEqual(readdirSync(dir).sort(), ['a.png', 'p.svg'])
})

test('errors are typed and leave no partial image', async (t) => {
  const dir = tempDir()
  const music = asset('music.wav')
  const code = async (p) => (await t.throwsAsync(p)).code
  t.is(await code(lib.plot(music, { out: join(dir, 'x.jpg') })), 'ERR_INVALID_PARAMETER')
  t.is(await code(lib.plot(music, { out: join(dir, 'x') })), 'ERR_INVALID_PARAMETER')
  const unknown = await t.throwsAsync(lib.plot(music, { out: join(dir, 'x.png'), show: ['waveform', 'sonogram'] }))
  t.is(unknown.code, 'ERR_INVALID_PARAMETER')
  t.regex(unknown.message, /sonogram.*accepted: waveform, spectrogram, chroma, beats, loudness/)
  t.is(await code(lib.plot(music, { out: join(dir, 'x.png'), width: 100 })), 'ERR_INVALID_PARAMETER')
  t.is(await code(lib.plot(music, { out: join(dir, 'x.png'), width: 9000 })), 'ERR_INVALID_PARAMETER')
  t.is(await code(lib.plot(music, { out: join(dir, 'x.png'), colour: 'red' })), 'ERR_INVALID_PARAMETER')
  t.is(await code(lib.plot(join(dir, 'missing.wav'), { out: join(dir, 'x.png') })), 'ERR_NOT_FOUND')
  // A WAV cut inside its header.
  const truncated = join(dir, 'truncated.wav')
  writeFileSync(truncated, readFileSync(music).subarray(0, 30))
  t.true(['ERR_DECODE', 'ERR_UNSUPPORTED_FORMAT'].includes(await code(lib.plot(truncated, { out: join(dir, 'x.png') }))))
  // Writing into a missing directory.
  t.is(await code(lib.plot(music, { out: join(dir, 'no', 'such', 'x.png') })), 'ERR_IO')
  // Aborted: nothing written.
  const ac = new AbortController()
  const running = lib.plot(music, { out: join(dir, 'x.png'), signal: ac.signal })
  ac.abort()
  const aborted = await t.throwsAsync(running)
  t.is(aborted.code, 'ERR_ABORTED')
  t.deepEqual(readdirSync(dir), ['truncated.wav'])
})
