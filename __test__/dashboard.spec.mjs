// Issue 16, the live dashboard server (startDashboard, `resonode dashboard`):
// the WebSocket protocol with real data, its security (Origin / Host checks,
// only the documented messages), the static files, and the CLI. No audio
// server: the `none` backend plays a rendered 120 BPM song (noneInput) in
// real time into an input-only engine with a MixerSession on it.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { request, createServer } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { lib, root, cli, tempDir, readAll, tone } from './helpers.mjs'
import { renderSongs } from './mixer-fixtures.mjs'

const WebSocket = createRequire(import.meta.url)('ws')
const { Sender } = WebSocket
const { Library, MixerSession, RealtimeProcessor, Gain, startDashboard, setLogger } = lib
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const name = (p) => p.split('/').pop().replace(/\.wav$/, '')
const db = (v) => 20 * Math.log10(v)

/** A WebSocket client of `dashboard` that keeps every message; `next(pred)` waits for one. */
function connect(dashboard, { origin = `http://127.0.0.1:${dashboard.port}` } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${dashboard.port}/ws`, { origin })
  const messages = []
  const waiters = []
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString())
    messages.push(m)
    for (const w of [...waiters]) if (w.pred(m)) w.resolve(m)
  })
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)))
  const opened = new Promise((resolve, reject) => {
    ws.on('open', resolve)
    ws.on('error', reject)
  })
  opened.catch(() => {}) // awaited only by the tests of refusals
  const next = (pred, timeoutMs = 10000, what = 'message') => {
    const seen = messages.find(pred)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m) => {
          clearTimeout(timer)
          waiters.splice(waiters.indexOf(w), 1)
          resolve(m)
        },
      }
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1)
        reject(new Error(`no ${what} within ${timeoutMs} ms; got types ${[...new Set(messages.map((m) => m.type))].join(', ')}`))
      }, timeoutMs)
      waiters.push(w)
    })
  }
  /** Sends `payload` and waits for the reply carrying `id` (or the next error when the message has no usable id). */
  const ask = (payload, id) => {
    const after = messages.length
    const reply = next((m) => messages.indexOf(m) >= after && (id === undefined ? m.type === 'error' : m.id === id), 5000, `reply ${id ?? 'error'}`)
    ws.send(typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload))
    return reply
  }
  return { ws, messages, next, ask, opened, closed }
}

/** A raw WebSocket upgrade request with the given headers; resolves with the HTTP status (101 when accepted). */
function upgrade(port, headers, path = '/ws') {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), ...headers },
    })
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve(res.statusCode)
    })
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', reject)
    req.end()
  })
}

/** GET (or another method) on the dashboard; resolves with { status, headers, body }. */
function http(port, path, { method = 'GET', host } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: host ? { Host: host } : {} }, (res) => {
      const parts = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString() }))
    })
    req.on('error', reject)
    req.end()
  })
}

function interleave(channels) {
  const n = channels[0].length
  const out = new Float32Array(n * channels.length)
  for (let i = 0; i < n; i++) for (let c = 0; c < channels.length; c++) out[i * channels.length + c] = channels[c][i]
  return out
}

// One live setup shared by the protocol tests: the 120 BPM song in C major
// plays in a loop into an input-only engine (a 0 dB gain in its chain, for
// setParameter), analysed by a MixerSession over a library of the songs.
let songs
let library
let libraryPath
let rt
let session
let dashboard
let songPeaksDb
const rejected = []
const logged = []
test.before(async () => {
  // The refusals go through the project's logger (this spec runs in a process of its own).
  setLogger((r) => logged.push(r))
  const songsDir = join(tempDir(), 'songs')
  songs = await renderSongs(songsDir)
  libraryPath = join(tempDir(), 'lib.db')
  library = new Library(libraryPath)
  await library.scan(songsDir)
  const song = await readAll(songs['ref-120-C'])
  songPeaksDb = song.channels.map((ch) => db(ch.reduce((m, v) => Math.max(m, Math.abs(v)), 0)))
  rt = new RealtimeProcessor({
    backend: 'none',
    processors: [new Gain({ db: 0 })],
    config: { sampleRate: song.sampleRate, channelsIn: 2, channelsOut: 0, bufferSize: 512 },
    noneInput: interleave(song.channels),
  })
  session = new MixerSession({ library, realtime: rt, refreshS: 2, limit: 3, playing: songs['ref-120-C'] })
  dashboard = await startDashboard({ realtime: rt, session, port: 0 })
  dashboard.on('rejected', (r) => rejected.push(r))
  await session.start()
  await rt.start()
})

test.after.always(async () => {
  await dashboard?.close()
  if (rt?.isRunning) await rt.stop()
  await session?.stop()
  library?.close()
})

test('hello, then levels, spectrum and stats arrive well-formed; the input levels follow the song, peak for peak', async (t) => {
  const c = connect(dashboard)
  t.teardown(() => c.ws.terminate())
  const hello = await c.next((m) => m.type === 'hello')
  t.is(c.messages[0].type, 'hello', 'hello comes first')
  t.like(hello, { version: 1, sampleRate: 44100, channelsIn: 2, channelsOut: 0, state: 'running', session: true })
  t.is(hello.bands.centerHz.length, 64)
  t.true(hello.bands.centerHz.every((f, i, a) => f > 0 && (i === 0 || f > a[i - 1])), 'band centres rise')
  t.deepEqual(
    hello.parameters.find((p) => p.path === '0.db'),
    { path: '0.db', min: null, max: null, value: 0 },
  )
  const spectrum = await c.next((m) => m.type === 'spectrum')
  t.is(spectrum.bandsDb.length, 64)
  t.true(spectrum.bandsDb.every((v) => Number.isFinite(v) && v >= -120 && v <= 10), spectrum.bandsDb.join(' '))
  t.true(Math.max(...spectrum.bandsDb) > -60, 'music is in the spectrum')
  const stats = await c.next((m) => m.type === 'stats', 3000)
  t.like(stats, { state: 'running' })
  for (const k of ['xruns', 'callbackLoadMean', 'callbackLoadPeak', 'tapDropped']) t.is(typeof stats[k], 'number', k)
  // The meters see every frame, and each levels message covers the frames since the previous one:
  // over one pass of the 16 s song their maximum is the song's peak, per channel.
  const firstLevels = await c.next((m) => m.type === 'levels')
  await c.next((m) => m.type === 'levels' && m.timeS > firstLevels.timeS + 16.5, 30000, 'levels over one pass of the song')
  const levels = c.messages.filter((m) => m.type === 'levels')
  t.true(levels.length > 100, `${levels.length} levels messages`)
  t.is(firstLevels.output, null, 'input-only: no output levels')
  for (const l of levels) {
    t.is(l.input.peakDbfs.length, 2)
    t.true(l.input.rmsDbfs.every((r, ch) => r <= l.input.peakDbfs[ch] + 1e-6))
  }
  const times = levels.map((l) => l.timeS)
  t.true(times.every((v, i) => i === 0 || v >= times[i - 1]), 'stream time never goes back')
  for (let ch = 0; ch < 2; ch++) {
    const peak = Math.max(...levels.map((l) => l.input.peakDbfs[ch]))
    t.log(`channel ${ch}: meters peak ${peak} dBFS, song peak ${songPeaksDb[ch].toFixed(3)} dBFS`)
    t.true(Math.abs(peak - songPeaksDb[ch]) < 0.05, `channel ${ch}: meters peak ${peak} dBFS, song peak ${songPeaksDb[ch].toFixed(3)} dBFS`)
    const peaks = levels.map((l) => l.input.peakDbfs[ch])
    t.true(Math.max(...peaks) - Math.min(...peaks) > 6, 'the meters move with the music')
  }
})

test('analysis carries the song tempo within 2 %, recommendations follow, and feedback from the page is stored and trains the model', async (t) => {
  const c = connect(dashboard)
  t.teardown(() => c.ws.terminate())
  // Once most of the song was heard (the first estimates can still move).
  const analysis = await c.next((m) => m.type === 'analysis' && m.timeS > 14 && m.tempoBpm != null, 60000, 'analysis after 14 s')
  t.log(`tempo ${analysis.tempoBpm.toFixed(2)} BPM, ${analysis.camelot}, at ${analysis.timeS.toFixed(1)} s`)
  t.true(Math.abs(analysis.tempoBpm - 120) / 120 < 0.02, `tempo ${analysis.tempoBpm}`)
  t.is(analysis.camelot, '8B')
  for (const k of ['timeS', 'tempoConfidence', 'lastBeatS', 'nextBeatsS', 'key', 'mode', 'keyConfidence', 'energyTrend', 'energyChangeDb', 'levelDbfs', 'loudnessLufs']) t.true(k in analysis, k)
  t.true(Array.isArray(analysis.nextBeatsS))
  // Those of the same refresh (the server sends them after its analysis).
  const recs = await c.next((m) => m.type === 'recommendations' && c.messages.indexOf(m) > c.messages.indexOf(analysis) && m.items.length > 0, 20000, 'recommendations')
  const first = recs.items[0]
  t.is(name(first.path), 'same-120-C', 'the twin of what plays ranks first')
  t.is(first.title, 'same-120-C.wav')
  t.false(recs.items.some((r) => name(r.path) === 'ref-120-C'), 'what plays is left out')
  for (const k of ['tempo', 'harmonic', 'energy', 'timbre', 'learned']) t.is(typeof first.components[k], 'number', k)

  const other = new Library(libraryPath)
  t.teardown(() => other.close())
  const before = await other.model()
  const reply = await c.ask({ type: 'feedback', id: 'f1', trackId: first.trackId, accepted: true, rating: 0.9 }, 'f1')
  t.like(reply, { type: 'feedbackResult', id: 'f1', ok: true })
  t.true(Number.isInteger(reply.feedbackId))
  // Read back from the database file by another connection.
  const after = await other.model()
  t.is(after.updates, before.updates + 1)
  t.notDeepEqual(after.weights, before.weights, 'the model learned from it')

  const missing = await c.ask({ type: 'feedback', id: 2, trackId: 999999, accepted: false }, 2)
  t.like(missing, { type: 'error', id: 2, code: 'ERR_TRACK_NOT_FOUND' })
})

test('invalid messages are answered with an error, logged as rejected, never executed, and the connection stays usable', async (t) => {
  const c = connect(dashboard)
  t.teardown(() => c.ws.terminate())
  await c.next((m) => m.type === 'hello')
  // Other tests refuse connections to the same dashboard meanwhile: only message refusals are counted here.
  const refusals = () => rejected.filter((r) => !/WebSocket|HTTP/.test(r.reason))
  const rejectedBefore = refusals().length
  const bad = [
    ['not json {', undefined],
    [{ type: 'exec', id: 1, cmd: 'rm -rf /' }, 1],
    [{ type: 'feedback', id: 2, trackId: '1', accepted: true }, 2],
    [{ type: 'feedback', id: 3, trackId: 1.5, accepted: true }, 3],
    [{ type: 'feedback', id: 4, trackId: 1, accepted: true, rating: 2 }, 4],
    [{ type: 'feedback', id: 5, trackId: 1, accepted: 'yes' }, 5],
    [{ type: 'feedback', id: 6, trackId: 1, accepted: true, extra: 1 }, 6],
    [{ type: 'setParameter', id: 7, path: '5.cutoff', value: 100 }, 7],
    [{ type: 'setParameter', id: 8, path: '0.db', value: 'loud' }, 8],
    [{ type: 'setParameter', id: 9, path: '0.db', value: null }, 9],
    [{ type: 'setParameter', id: 10, path: '0.db', value: 100 }, 10],
    [{ type: 'feedback', id: 11, trackId: 1, accepted: true, pad: 'x'.repeat(5000) }, undefined],
    [[1, 2, 3], undefined],
    [Buffer.from([1, 2, 3]), undefined],
  ]
  for (const [payload, id] of bad) {
    const reply = await c.ask(payload, id)
    t.is(reply.type, 'error', JSON.stringify(payload).slice(0, 80))
    t.is(reply.code, 'ERR_INVALID_PARAMETER', `${JSON.stringify(payload).slice(0, 80)}: ${reply.message}`)
    t.true(reply.message.length > 10)
  }
  t.regex((await c.ask('nope')).message, /not JSON/)
  t.regex((await c.ask({ type: 'x'.repeat(4100) })).message, /at most 4096/)
  // The engine's range check (gain -120..60 dB) is relayed; nothing was set.
  t.is(rt.getParameter('0.db'), 0)
  t.is(refusals().length - rejectedBefore, bad.length + 2, 'every refusal is a rejected event')
  t.true(refusals().slice(rejectedBefore).every((r) => r.origin === `http://127.0.0.1:${dashboard.port}` && r.remoteAddress.includes('127.0.0.1')))
  // Still usable: a valid change goes through.
  const ok = await c.ask({ type: 'setParameter', id: 'p', path: '0.db', value: -0.5 }, 'p')
  t.deepEqual(ok, { type: 'parameterResult', id: 'p', ok: true, path: '0.db', value: -0.5 })
  t.true(Math.abs(rt.getParameter('0.db') + 0.5) < 1e-9)
  await c.ask({ type: 'setParameter', id: 'q', path: '0.db', value: 0 }, 'q')
  t.is(c.ws.readyState, WebSocket.OPEN)
  const records = logged.filter((r) => r.target === 'resonode::dashboard' && r.level === 'warn')
  t.true(records.some((r) => /not JSON/.test(r.message)), 'logged through setLogger')
  t.true(records.some((r) => /unknown type "exec"/.test(r.message)))
})

test('WebSocket upgrades from a foreign or missing Origin, with a wrong Host, or on another path are refused (403 / 404) and reported', async (t) => {
  const port = dashboard.port
  const own = `http://127.0.0.1:${port}`
  const upgrades = () => rejected.filter((r) => /WebSocket/.test(r.reason))
  const before = upgrades().length
  t.is(await upgrade(port, { Origin: own, Host: `127.0.0.1:${port}` }), 101, 'control: the own origin is accepted')
  t.is(await upgrade(port, { Origin: `http://localhost:${port}`, Host: `localhost:${port}` }), 101, 'loopback spellings are the same origin')
  t.is(await upgrade(port, { Origin: 'http://evil.example', Host: `127.0.0.1:${port}` }), 403)
  t.is(await upgrade(port, { Origin: `http://127.0.0.1:${port + 1}`, Host: `127.0.0.1:${port}` }), 403, 'another port is another origin')
  t.is(await upgrade(port, { Host: `127.0.0.1:${port}` }), 403, 'no Origin')
  t.is(await upgrade(port, { Origin: `http://rebind.example:${port}`, Host: `rebind.example:${port}` }), 403, 'DNS rebinding: a foreign Host')
  t.is(await upgrade(port, { Origin: own, Host: `127.0.0.1:${port}` }, '/other'), 404)
  const reasons = upgrades().slice(before).map((r) => r.reason)
  t.is(reasons.length, 5, reasons.join('; '))
  t.regex(reasons[0], /foreign Origin/)
  t.is(upgrades()[before].origin, 'http://evil.example')
  t.regex(reasons[2], /without an Origin/)
  t.regex(reasons[3], /foreign Host/)
  // The ws client library sees the refusal too.
  const c = connect(dashboard, { origin: 'http://evil.example' })
  await t.throwsAsync(c.opened, { message: /403/ })
})

test('HTTP: the page and uPlot are served with strict headers, nothing else', async (t) => {
  const port = dashboard.port
  const page = await http(port, '/')
  if (existsSync(join(root, 'dashboard', 'index.html'))) {
    t.is(page.status, 200)
    t.regex(page.headers['content-type'], /^text\/html/)
    t.regex(page.body, /<html/i)
  } else t.is(page.status, 404)
  const u = await http(port, '/uPlot.min.js')
  t.is(u.status, 200)
  t.regex(u.headers['content-type'], /^text\/javascript/)
  t.regex(u.body, /uPlot/)
  t.is((await http(port, '/uPlot.min.css')).status, 200)
  for (const h of [u.headers, page.headers]) {
    t.is(h['cache-control'], 'no-store')
    t.is(h['x-content-type-options'], 'nosniff')
    t.regex(h['content-security-policy'], /default-src 'none'; script-src 'self'/)
    t.true(h['content-security-policy'].includes(`connect-src 'self' ws://127.0.0.1:${port}`))
  }
  for (const p of ['/index.html', '/package.json', '/../package.json', '/%2e%2e/package.json', '/dist/index.js', '/ws', '/favicon.ico']) t.is((await http(port, p)).status, 404, p)
  const post = await http(port, '/', { method: 'POST' })
  t.is(post.status, 405)
  t.is(post.headers.allow, 'GET, HEAD')
  const head = await http(port, '/uPlot.min.css', { method: 'HEAD' })
  t.is(head.status, 200)
  t.is(head.body, '')
  t.is((await http(port, '/', { host: `rebind.example:${port}` })).status, 403, 'a foreign Host is refused on HTTP too')
})

test('the engine stopping sends state stopped; close() closes the clients and frees the port; the spectrum puts a 1 kHz tone at 1 kHz', async (t) => {
  const rate = 48000
  const engine = new RealtimeProcessor({ backend: 'none', config: { sampleRate: rate, channelsIn: 1, channelsOut: 0 }, noneInput: tone(1000, rate, rate, 0.5) })
  const d = await startDashboard({ realtime: engine, port: 0, levelsIntervalMs: 20 })
  t.teardown(async () => {
    await d.close()
    if (engine.isRunning) await engine.stop()
  })
  await engine.start()
  const c = connect(d)
  const hello = await c.next((m) => m.type === 'hello')
  t.like(hello, { session: false, state: 'running', channelsIn: 1 })
  await sleep(200)
  const s = await c.next((m) => m.type === 'spectrum' && m.timeS > 0.2)
  const loudest = s.bandsDb.indexOf(Math.max(...s.bandsDb))
  const centre = hello.bands.centerHz[loudest]
  t.true(Math.abs(Math.log(centre / 1000)) < Math.log(1.12), `loudest band at ${centre} Hz`)
  t.like(await c.ask({ type: 'feedback', id: 1, trackId: 1, accepted: true }, 1), { type: 'error', code: 'ERR_INVALID_STATE' }, 'no session: no feedback')
  t.is(d.clients, 1)
  await engine.stop()
  t.like(await c.next((m) => m.type === 'state' && m.state === 'stopped'), { type: 'state', state: 'stopped' })
  t.like(await c.ask({ type: 'setParameter', id: 2, path: '0.db', value: 0 }, 2), { type: 'error', code: 'ERR_INVALID_STATE' })
  const port = d.port
  await d.close()
  await d.close() // idempotent
  t.is(await c.closed, 1001)
  t.is(d.clients, 0)
  t.is(engine.listenerCount('audio'), 0, 'its listeners are removed')
  t.is(engine.listenerCount('statechange'), 0)
  // The port is free again.
  const again = createServer()
  await new Promise((resolve, reject) => again.once('error', reject).listen(port, '127.0.0.1', resolve))
  await new Promise((resolve) => again.close(resolve))
})

test('a client flooding feedback has at most 16 requests served at once; the others are refused at once', async (t) => {
  const emptyLibrary = new Library(join(tempDir(), 'empty.db'))
  const engine = new RealtimeProcessor({ backend: 'none', config: { channelsIn: 1, channelsOut: 0 } })
  const s = new MixerSession({ library: emptyLibrary, realtime: engine })
  const d = await startDashboard({ realtime: engine, session: s, port: 0 })
  t.teardown(async () => {
    await d.close()
    emptyLibrary.close()
  })
  const c = connect(d)
  await c.next((m) => m.type === 'hello')
  // The 40 frames go out in one TCP write, so the server reads them in one
  // chunk and handles them in one turn of its event loop, before any
  // database call can return: exactly 16 are served, 24 refused.
  const frames = Array.from({ length: 40 }, (_, i) =>
    Buffer.concat(Sender.frame(Buffer.from(JSON.stringify({ type: 'feedback', id: i, trackId: 1, accepted: true })), { fin: true, rsv1: false, opcode: 1, mask: true, readOnly: false })),
  )
  c.ws._socket.write(Buffer.concat(frames))
  await c.next(() => c.messages.filter((m) => m.type === 'error').length === 40, 10000, '40 replies')
  const replies = c.messages.filter((m) => m.type === 'error')
  t.deepEqual(replies.map((m) => m.id).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i))
  const served = replies.filter((m) => m.code === 'ERR_TRACK_NOT_FOUND').length
  const busy = replies.filter((m) => m.code === 'ERR_INVALID_STATE' && /still being served/.test(m.message)).length
  t.log(`${served} served, ${busy} refused`)
  t.is(served + busy, 40)
  t.is(served, 16, `${served} served, ${busy} refused`)
  // Once answered, the client is served again.
  t.like(await c.ask({ type: 'feedback', id: 'later', trackId: 1, accepted: true }, 'later'), { code: 'ERR_TRACK_NOT_FOUND' })
  await d[Symbol.asyncDispose]()
  t.is(await c.closed, 1001, 'disposing closes it')
})

test('a page connected before the engine runs gets the parameters when it starts', async (t) => {
  const engine = new RealtimeProcessor({ backend: 'none', processors: [new Gain({ db: -3 })], config: { channelsIn: 1, channelsOut: 0 } })
  const d = await startDashboard({ realtime: engine, port: 0 })
  t.teardown(async () => {
    await d.close()
    if (engine.isRunning) await engine.stop()
  })
  const c = connect(d)
  const hello = await c.next((m) => m.type === 'hello')
  t.like(hello, { state: 'idle', parameters: [] })
  await engine.start()
  const params = await c.next((m) => m.type === 'parameters')
  t.true(c.messages.indexOf(params) > c.messages.findIndex((m) => m.type === 'state' && m.state === 'running'), 'after the running state')
  t.deepEqual(params.parameters.map((p) => p.path).sort(), ['0.db', '0.linear'])
  t.deepEqual(params.parameters.find((p) => p.path === '0.db'), { path: '0.db', min: null, max: null, value: -3 })
  t.true(Math.abs(params.parameters.find((p) => p.path === '0.linear').value - 10 ** (-3 / 20)) < 1e-6, '-3 dB as a factor')
})

test('refused messages: each is a rejected event, the log gets the first 5 of a client, then counts', async (t) => {
  const engine = new RealtimeProcessor({ backend: 'none', config: { channelsIn: 1, channelsOut: 0 } })
  const d = await startDashboard({ realtime: engine, port: 0 })
  const events = []
  d.on('rejected', (r) => events.push(r))
  t.teardown(() => d.close())
  const c = connect(d)
  await c.next((m) => m.type === 'hello')
  const n = 30
  for (let i = 0; i < n; i++) await c.ask({ type: 'exec', id: i }, i)
  t.is(events.length, n, 'one rejected event per message')
  c.ws.close()
  await c.closed
  // Records reach setLogger asynchronously.
  const mine = () => logged.filter((r) => r.target === 'resonode::dashboard' && r.message.includes(`127.0.0.1:${d.port}`))
  const deadline = Date.now() + 5000
  while (!mine().some((r) => /more refused/.test(r.message)) && Date.now() < deadline) await sleep(50)
  const records = mine()
  const single = records.filter((r) => !/more refused/.test(r.message))
  const summaries = records.filter((r) => /more refused/.test(r.message))
  t.is(single.length, 5, records.map((r) => r.message).join('\n'))
  t.true(summaries.length >= 1 && summaries.length <= 3, `${summaries.length} summaries`)
  const counted = summaries.reduce((sum, r) => sum + Number(/: (\d+) more refused/.exec(r.message)[1]), 0)
  t.is(single.length + counted, n, 'every refusal is logged or counted')
})

test('a host other than loopback is logged as a warning (no authentication)', async (t) => {
  const engine = new RealtimeProcessor({ backend: 'none', config: { channelsIn: 1, channelsOut: 0 } })
  const d = await startDashboard({ realtime: engine, port: 0, host: '0.0.0.0' })
  t.teardown(() => d.close())
  const warned = () => logged.find((r) => r.level === 'warn' && r.target === 'resonode::dashboard' && r.message.includes(`0.0.0.0`) && r.message.includes(`port ${d.port} `))
  const deadline = Date.now() + 5000
  while (!warned() && Date.now() < deadline) await sleep(50)
  t.regex(warned()?.message ?? '', /no authentication/)
  const local = await startDashboard({ realtime: engine, port: 0, host: 'LocalHost' })
  t.teardown(() => local.close())
  await sleep(300)
  t.false(logged.some((r) => r.message.includes(`port ${local.port} `)), 'loopback (any case): no warning')
})

test('start-up errors: options, a running engine without its tap, a port in use', async (t) => {
  await t.throwsAsync(startDashboard({ realtime: rt, port: 0, colour: 'red' }), { code: 'ERR_INVALID_PARAMETER', message: /colour/ })
  await t.throwsAsync(startDashboard({ realtime: {}, port: 0 }), { code: 'ERR_INVALID_PARAMETER', message: /realtime/ })
  await t.throwsAsync(startDashboard({ realtime: rt, port: 70000 }), { code: 'ERR_INVALID_PARAMETER', message: /port/ })
  await t.throwsAsync(startDashboard({ realtime: rt, port: 0, bands: 0 }), { code: 'ERR_INVALID_PARAMETER', message: /bands/ })
  await t.throwsAsync(startDashboard({ realtime: rt, port: 0, session: {} }), { code: 'ERR_INVALID_PARAMETER', message: /session/ })
  const e = await t.throwsAsync(startDashboard({ realtime: rt, port: dashboard.port }), { code: 'ERR_IO' })
  t.true(e.message.includes(`127.0.0.1:${dashboard.port}`), e.message)
  const untapped = new RealtimeProcessor({ backend: 'none', config: { channelsIn: 1, channelsOut: 0 }, readBufferFrames: 0 })
  await untapped.start()
  t.teardown(() => untapped.stop())
  const s = await t.throwsAsync(startDashboard({ realtime: untapped, port: 0 }), { code: 'ERR_INVALID_STATE' })
  t.regex(s.message, /before rt\.start\(\)|tapFrames/)
})

test("require('resonode') does not load ws; startDashboard does", (t) => {
  const probe = (expr) => {
    const r = spawnSync(process.execPath, ['-e', `const m = require(${JSON.stringify(join(root, 'dist', 'index.js'))}); ${expr}; process.stdout.write(String(Object.keys(require.cache).some((f) => f.includes('/node_modules/ws/'))))`], { encoding: 'utf8' })
    t.is(r.status, 0, r.stderr)
    return r.stdout
  }
  t.is(probe(''), 'false')
  t.is(probe('m.startDashboard'), 'true')
})

/** Starts `resonode dashboard ...args`; resolves once it printed its first line, with that line parsed. */
async function startCli(t, args) {
  const child = spawn(process.execPath, [cli, 'dashboard', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  const out = { stdout: '', stderr: '' }
  child.stderr.on('data', (d) => (out.stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const line = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out.stdout += d
      if (out.stdout.includes('\n')) resolve(out.stdout.split('\n')[0])
    })
    exited.then(() => reject(new Error(`exited before printing: ${out.stderr}`)))
  })
  return { child, out, exited, info: JSON.parse(line) }
}

test('resonode dashboard --backend none --port 0 --json prints the URL, serves, and exits 0 on SIGINT', async (t) => {
  const { child, out, exited, info } = await startCli(t, ['--backend', 'none', '--port', '0', '--json', '--db', join(tempDir(), 'cli.db')])
  t.is(info.host, '127.0.0.1')
  t.true(info.port > 0)
  t.is(info.url, `http://127.0.0.1:${info.port}/`)
  t.is((await http(info.port, '/uPlot.min.js')).status, 200)
  const c = connect({ port: info.port })
  const hello = await c.next((m) => m.type === 'hello')
  t.like(hello, { state: 'running', channelsIn: 2, session: true })
  child.kill('SIGINT')
  t.deepEqual(await exited, { code: 0, signal: null }, out.stderr)
  t.is(await c.closed, 1001)
  t.is(out.stdout.trim().split('\n').length, 1, 'one JSON line')
  t.notRegex(out.stderr, /warning/)
})

test('resonode dashboard --host 0.0.0.0 warns that it has no authentication, still checks origins, and exits 0 on SIGTERM', async (t) => {
  const { child, out, exited, info } = await startCli(t, ['--backend', 'none', '--host', '0.0.0.0', '--port', '0', '--json', '--channels', '1', '--db', join(tempDir(), 'cli-any.db')])
  t.is(info.host, '0.0.0.0')
  t.is(info.url, `http://127.0.0.1:${info.port}/`, 'the URL is the loopback spelling')
  t.regex(out.stderr, /WARN resonode::dashboard: the dashboard listens on 0\.0\.0\.0, not loopback, and has no authentication/)
  t.is(out.stderr.match(/no authentication/g).length, 1, 'warned once')
  t.is(await upgrade(info.port, { Origin: `http://127.0.0.1:${info.port}`, Host: `127.0.0.1:${info.port}` }), 101)
  t.is(await upgrade(info.port, { Origin: 'http://evil.example', Host: `127.0.0.1:${info.port}` }), 403)
  t.is(await upgrade(info.port, { Origin: `http://rebind.example:${info.port}`, Host: `rebind.example:${info.port}` }), 403)
  child.kill('SIGTERM')
  t.deepEqual(await exited, { code: 0, signal: null }, out.stderr)
})
