// Issue 13, "Node streams and web streams": StreamSource (encoded or raw
// bytes from a Readable / ReadableStream), StreamSink (WAV / FLAC / raw to a
// Writable / WritableStream) and resonode.transform (a raw-PCM Transform).
//
// Fixture: node-streams/music-4s.mp3, made with
//   ffmpeg -i assets/music.wav -t 4 -c:a libmp3lame -b:a 96k __test__/node-streams/music-4s.mp3
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request, createServer } from 'node:http'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline as pump } from 'node:stream/promises'
import { lib, asset, root, tempDir, testSignal, parseWav, readAll, maxAbsDiff, wavBytes, joinBlocks } from './helpers.mjs'

const { StreamingPipeline, FileSource, FileSink, CallbackSource, CallbackSink, StreamSource, StreamSink, transform, HighPass, Gain, ProcessorChain, parseChain } = lib

const mp3 = join(root, '__test__/node-streams/music-4s.mp3')
const dirs = []
const dir = () => {
  const d = tempDir()
  dirs.push(d)
  return d
}
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** Planar samples of any file sox reads (decoded by sox, not by resonode), via a float WAV in a cleaned-up directory. */
function soxDecode(path) {
  const wav = join(dir(), 'sox.wav')
  execFileSync('sox', ['-V1', path, '-t', 'wav', '-e', 'floating-point', '-b', '32', wav])
  return parseWav(readFileSync(wav))
}

/** Every block a pipeline delivers, joined per channel. */
function collector() {
  const parts = []
  const sink = new CallbackSink((ch) => {
    parts.push(ch.map((c) => c.slice()))
  })
  return { sink, planar: () => joinBlocks(parts) }
}

/** Bytes of `buf` in pieces of varying size (none a multiple of a frame). */
function* pieces(buf, sizes = [1, 333, 4097, 70, 12_001, 5]) {
  for (let at = 0, k = 0; at < buf.length; k++) {
    const n = sizes[k % sizes.length]
    yield buf.subarray(at, at + n)
    at += n
  }
}

const interleave = (planar, format) => {
  const ch = planar.length
  const frames = planar[0].length
  const bps = format === 's16le' ? 2 : 4
  const out = Buffer.alloc(frames * ch * bps)
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < ch; c++) {
      const at = (i * ch + c) * bps
      if (format === 's16le') out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(planar[c][i] * 32768))), at)
      else out.writeFloatLE(planar[c][i], at)
    }
  }
  return out
}

const deinterleave = (bytes, format, ch) => {
  const bps = format === 's16le' ? 2 : 4
  const frames = bytes.length / (bps * ch)
  const out = Array.from({ length: ch }, () => new Float32Array(frames))
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < ch; c++) {
      const at = (i * ch + c) * bps
      out[c][i] = format === 's16le' ? bytes.readInt16LE(at) / 32768 : bytes.readFloatLE(at)
    }
  }
  return out
}

test('an MP3 uploaded to a local HTTP server (chunked) is decoded as it streams, processed and sent back as WAV equal to the file pipeline', async (t) => {
  const runs = []
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'audio/wav')
    const p = new StreamingPipeline({
      source: new StreamSource(req),
      processors: [new HighPass(200), new Gain({ db: -3 })],
      sink: new StreamSink(res, { format: 'wav' }),
      chunkSize: 2048,
    })
    const run = p.run()
    runs.push(run)
    run.catch((e) => res.destroy(e))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const body = readFileSync(mp3)
  const response = await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.address().port, method: 'POST', path: '/' }, (res) => {
      const parts = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => resolve({ res, bytes: Buffer.concat(parts) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    // No Content-Length: Node sends the body chunked. Small pieces with
    // pauses, so the server decodes while the upload is still arriving.
    ;(async () => {
      for (const piece of pieces(body, [1500, 700, 4096])) {
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r))
        await new Promise((r) => setImmediate(r))
      }
      req.end()
    })()
  })
  t.is(response.res.headers['transfer-encoding'], 'chunked')
  const stats = await runs[0]
  const wav = response.bytes
  t.is(wav.readUInt32LE(4), 0xffffffff, 'RIFF size: unknown (streamed)')
  const got = parseWav(wav)

  // Reference: the same MP3 from its path through the same chain (the native file job).
  const ref = join(dir(), 'ref.wav')
  await new StreamingPipeline({ source: new FileSource(mp3), processors: [new HighPass(200), new Gain({ db: -3 })], sink: new FileSink(ref, { encoding: 'float32' }) }).run()
  const want = await readAll(ref)
  t.is(got.sampleRate, 44100)
  t.is(got.channels.length, 2)
  t.is(got.channels[0].length, want.channels[0].length)
  t.is(stats.framesProcessed, want.channels[0].length)
  // Same decoder (symphonia), same priming/padding trim, same filter: sample-exact.
  for (let c = 0; c < 2; c++) t.is(maxAbsDiff(got.channels[c], want.channels[c]), 0, `channel ${c}`)
  t.true(want.channels[0].length > 4 * 44100 - 2000, `${want.channels[0].length} frames`)
  // sox reads the streamed (unknown-length) WAV to its end too.
  const saved = join(dir(), 'response.wav')
  writeFileSync(saved, wav)
  const viaSox = execFileSync('sox', ['-V1', saved, '-t', 'f32', '-'], { maxBuffer: 1 << 26 })
  t.is(viaSox.length / 8, want.channels[0].length)
})

test('a raw-PCM Transform under back-pressure (slow consumer, small highWaterMark) loses no frames and equals the chain applied offline', async (t) => {
  const sampleRate = 48000
  const signal = testSignal(2, 3 * sampleRate + 17, sampleRate)
  const chain = 'highpass(80) gain(-3db)'
  // Offline: the whole signal through the chain in one call.
  const offline = (input) => new ProcessorChain(parseChain(chain), { sampleRate, channels: 2, maxBlockFrames: input[0].length }).process(input.map((c) => c.slice()))
  for (const format of ['f32le', 's16le']) {
    const input = interleave(signal, format)
    const tr = transform(chain, { format, sampleRate, channels: 2 })
    let maxQueued = 0
    const parts = []
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk, _enc, cb) {
        parts.push(chunk)
        maxQueued = Math.max(maxQueued, tr.readableLength + tr.writableLength)
        setTimeout(cb, parts.length % 4 === 0 ? 2 : 0)
      },
    })
    // Pieces of up to 40001 bytes: blocks of 4096+ frames take the worker-thread path (processAsync).
    await pump(Readable.from(pieces(input, [1, 333, 4097, 70, 40_001, 5, 12_001])), tr, slow)
    const out = Buffer.concat(parts)
    t.is(out.length, input.length, `${format}: output bytes = input bytes`)
    // Back-pressure held the Transform's buffers far below the 1+ MB that went through.
    t.log(`${format}: at most ${maxQueued} bytes queued in the Transform (${input.length} through it)`)
    t.true(maxQueued < 256 * 1024, `${format}: at most ${maxQueued} bytes queued`)
    const want = offline(deinterleave(input, format, 2))
    const got = deinterleave(out, format, 2)
    for (let c = 0; c < 2; c++) {
      // f32le: float rounding only; s16le: 1 LSB.
      const bound = format === 'f32le' ? 1e-6 : 1 / 32768 + 1e-9
      t.true(maxAbsDiff(got[c], want[c]) <= bound, `${format} channel ${c}: ${maxAbsDiff(got[c], want[c])}`)
    }
    if (format === 's16le') {
      // The transform's int16 conversion is FileSink's (float_to_int): a StreamSink s16le of the offline result gives the same bytes.
      const bytes = []
      await new StreamingPipeline({
        source: new CallbackSource([want], { sampleRate }),
        sink: new StreamSink(new Writable({ write: (c, _e, cb) => (bytes.push(c), cb()) }), { format: 's16le' }),
      }).run()
      t.true(Buffer.concat(bytes).equals(out), 'transform s16le == StreamSink s16le of the offline result')
    }
  }
})

test('transform: frames split across chunks are carried; a stream ending inside a frame is a DecodeError', async (t) => {
  const tr = transform([new Gain({ db: 0 })], { format: 's16le', sampleRate: 8000, channels: 2 })
  const out = []
  const input = Buffer.from([1, 0, 2, 0, 3, 0, 4, 0, 5])
  tr.on('data', (d) => out.push(d))
  const failed = new Promise((resolve) => tr.on('error', resolve))
  tr.write(input.subarray(0, 3))
  tr.end(input.subarray(3))
  const err = await failed
  t.is(err.code, 'ERR_DECODE')
  t.regex(err.message, /1 stray bytes after 2 frames/)
  t.true(Buffer.concat(out).equals(input.subarray(0, 8)), 'the two whole frames went through unchanged')
  t.throws(() => transform('gain(0db)', { format: 's16le', sampleRate: 8000, channels: 2, rate: 1 }), { code: 'ERR_INVALID_PARAMETER', message: /`rate`/ })
  t.throws(() => transform('gain(0db)', { format: 's24le', sampleRate: 8000, channels: 2 }), { code: 'ERR_INVALID_PARAMETER', message: /`format`/ })
  t.throws(() => transform('nosuch(3)', { format: 's16le', sampleRate: 8000, channels: 2 }), { code: 'ERR_INVALID_CHAIN' })
})

for (const format of ['flac', 'wav']) {
  test(`a ${format} StreamSink on a file write stream, stopped mid-file, leaves a valid file holding the frames processed`, async (t) => {
    const d = dir()
    const chain = () => [new HighPass(120)]
    // Reference: the whole file through the chain.
    const full = collector()
    await new StreamingPipeline({ source: new FileSource(asset('music.wav')), processors: chain(), sink: full.sink }).run()
    const want = full.planar()

    const stopAt = async (how) => {
      const out = join(d, `${how}.${format}`)
      const p = new StreamingPipeline({
        source: new FileSource(asset('music.wav')),
        processors: chain(),
        sink: new StreamSink(createWriteStream(out), { format, encoding: 'int16' }),
        chunkSize: 4096,
      })
      const ac = new AbortController()
      p.on('progress', (e) => {
        if (e.frames >= 3 * 44100) how === 'stop' ? p.stop() : ac.abort(new Error('enough'))
      })
      let stats
      if (how === 'stop') stats = await p.run()
      else {
        const err = await t.throwsAsync(p.run({ signal: ac.signal }), { code: 'ERR_ABORTED' })
        t.is(err.name, 'AbortError')
        stats = err.stats
      }
      t.true(stats.framesProcessed >= 3 * 44100 && stats.framesProcessed < want[0].length, `${how}: ${stats.framesProcessed} frames`)
      // Decoded by resonode and by sox (independent of resonode).
      const info = new FileSource(out).info()
      t.is(info.frames, stats.framesProcessed, `${how}: resonode reads every processed frame`)
      // The header leaves the length unknown (FLAC STREAMINFO 0, WAV sizes 0xFFFFFFFF); sox decodes to the end.
      const soxBytes = execFileSync('sox', ['-V1', out, '-t', 'f32', '-'], { maxBuffer: 1 << 26 }).length
      t.is(soxBytes / 8, stats.framesProcessed, `${how}: sox decodes every processed frame`)
      const got = soxDecode(out)
      t.is(got.channels[0].length, stats.framesProcessed)
      for (let c = 0; c < 2; c++) {
        t.true(maxAbsDiff(got.channels[c], want[c].subarray(0, stats.framesProcessed)) <= 0.5 / 32768 + 1e-9, `${how} channel ${c}: within half an LSB (rounding to int16)`)
      }
    }
    await stopAt('stop')
    await stopAt('signal')
  })
}

test('a client hanging up mid-response stops the server pipeline with ERR_IO; the bytes it got are a valid WAV', async (t) => {
  // An endless source: only the hang-up can end the run.
  const block = (k) => testSignal(2, 4410, 44100, k + 1)
  async function* endless() {
    for (let k = 0; ; k++) yield block(k)
  }
  let run
  const server = createServer((req, res) => {
    const p = new StreamingPipeline({ source: new CallbackSource(endless(), { sampleRate: 44100 }), sink: new StreamSink(res, { format: 'wav', encoding: 'float32' }) })
    run = p.run()
    run.catch(() => {})
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const received = await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.address().port }, (res) => {
      const parts = []
      let n = 0
      res.on('data', (d) => {
        parts.push(d)
        n += d.length
        if (n > 200_000) {
          res.destroy()
          resolve(Buffer.concat(parts))
        }
      })
    })
    req.on('error', reject)
    req.end()
  })
  const err = await t.throwsAsync(run)
  t.is(err.code, 'ERR_IO')
  t.regex(err.message, /destination/)
  const got = parseWav(received)
  t.is(got.sampleRate, 44100)
  const frames = got.channels[0].length
  t.true(frames >= 24_000, `${frames} frames received`)
  const want = Array.from({ length: Math.ceil(frames / 4410) }, (_, k) => block(k))
  for (let c = 0; c < 2; c++) {
    const ref = new Float32Array(want.length * 4410)
    want.forEach((b, k) => ref.set(b[c], k * 4410))
    t.is(maxAbsDiff(got.channels[c], ref.subarray(0, frames)), 0, `channel ${c}`)
  }
})

test('a fast input is paused, not buffered: bytes read ahead of the decoder stay bounded', async (t) => {
  const sampleRate = 48000
  const frames = 10 * sampleRate
  const wav = wavBytes(testSignal(2, frames, sampleRate, 5), sampleRate, { float: true }) // 3.84 MB
  let pulled = 0
  let at = 0
  const fast = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      const piece = wav.subarray(at, at + 64 * 1024)
      at += piece.length
      pulled += piece.length
      this.push(piece.length ? piece : null)
    },
  })
  let delivered = 0
  let maxAhead = 0
  const slow = new CallbackSink(async (ch) => {
    delivered += ch[0].length
    maxAhead = Math.max(maxAhead, pulled - (44 + delivered * 8))
    await new Promise((r) => setTimeout(r, 2))
  })
  const stats = await new StreamingPipeline({ source: new StreamSource(fast), sink: slow, chunkSize: 4096 }).run()
  t.is(stats.framesProcessed, frames)
  // The decoder's byte queue (256 KiB), symphonia's read-ahead buffer, the Readable's own buffer and one piece in flight.
  t.log(`read ahead of the decoder: at most ${maxAhead} bytes of ${wav.length}`)
  t.true(maxAhead < 1024 * 1024, `read ahead of the decoder: at most ${maxAhead} bytes of ${wav.length}`)
})

test('StreamSource reads raw s16le and f32le from a web ReadableStream and from a Readable', async (t) => {
  const sampleRate = 16000
  const signal = testSignal(2, 20_001, sampleRate, 7)
  for (const format of ['s16le', 'f32le']) {
    const bytes = interleave(signal, format)
    const expected = deinterleave(bytes, format, 2)
    const inputs = {
      'Readable.toWeb': Readable.toWeb(Readable.from(pieces(bytes))),
      'new ReadableStream': new ReadableStream({
        start(controller) {
          for (const p of pieces(bytes, [999, 3])) controller.enqueue(new Uint8Array(p))
          controller.close()
        },
      }),
      Readable: Readable.from(pieces(bytes)),
    }
    for (const [kind, input] of Object.entries(inputs)) {
      const { sink, planar } = collector()
      const stats = await new StreamingPipeline({ source: new StreamSource(input, { format, sampleRate, channels: 2 }), sink, chunkSize: 1000 }).run()
      t.is(stats.framesProcessed, 20_001, `${format} ${kind}`)
      const got = planar()
      for (let c = 0; c < 2; c++) t.deepEqual(got[c], expected[c], `${format} ${kind} channel ${c}`)
    }
  }
})

test('StreamSource decodes FLAC / Ogg Vorbis / WAV from a web ReadableStream exactly as FileSource does', async (t) => {
  for (const name of ['crates/io/tests/fixtures/flac16.flac', 'crates/io/tests/fixtures/vorbis_q5.ogg', 'assets/speech.wav']) {
    const path = join(root, name)
    const a = collector()
    await new StreamingPipeline({ source: new StreamSource(Readable.toWeb(Readable.from(pieces(readFileSync(path))))), sink: a.sink }).run()
    const b = collector()
    await new StreamingPipeline({ source: new FileSource(path), sink: b.sink }).run()
    t.deepEqual(a.planar(), b.planar(), name)
  }
})

test('a StreamSink to a web WritableStream writes a FLAC that sox decodes', async (t) => {
  const sampleRate = 22050
  const signal = testSignal(1, 30_000, sampleRate, 3)
  const parts = []
  const ws = new WritableStream({ write: (chunk) => void parts.push(Buffer.from(chunk)) }, { highWaterMark: 2 })
  await new StreamingPipeline({ source: new CallbackSource([signal], { sampleRate }), sink: new StreamSink(ws, { format: 'flac', encoding: 'int16' }), chunkSize: 3000 }).run()
  const out = join(dir(), 'web.flac')
  writeFileSync(out, Buffer.concat(parts))
  const got = soxDecode(out)
  t.is(got.sampleRate, sampleRate)
  t.is(got.channels[0].length, 30_000)
  t.true(maxAbsDiff(got.channels[0], signal[0]) <= 0.5 / 32768 + 1e-9)
})

test('garbage, empty, truncated and failing inputs give typed errors, not a crash or a hang', async (t) => {
  const run = (input, sink = collector().sink) => new StreamingPipeline({ source: new StreamSource(input), sink }).run()
  const garbage = Buffer.alloc(50_000)
  for (let i = 0, s = 1; i < garbage.length; i++) garbage[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24
  await t.throwsAsync(run(Readable.from(pieces(garbage))), { code: 'ERR_UNSUPPORTED_FORMAT', message: /not a recognised audio stream/ })
  await t.throwsAsync(run(Readable.from([])), { code: 'ERR_EMPTY_AUDIO' })
  // A truncated upload: every decoded frame reaches the sink, then ERR_DECODE.
  const flac = readFileSync(join(root, 'crates/io/tests/fixtures/flac16.flac'))
  const c = collector()
  await t.throwsAsync(run(Readable.from(pieces(flac.subarray(0, flac.length >> 1))), c.sink), { code: 'ERR_DECODE', message: /truncated/ })
  t.true(c.planar()[0].length > 10_000)
  // The input stream itself failing (an aborted upload): ERR_IO naming why.
  const failing = new Readable({ read() {} })
  failing.push(readFileSync(asset('speech.wav')).subarray(0, 40_000))
  setTimeout(() => failing.destroy(new Error('socket hang up')), 20)
  await t.throwsAsync(run(failing), { code: 'ERR_IO', message: /socket hang up/ })
  // Strings are not bytes.
  await t.throwsAsync(run(Readable.from(['RIFF....'])), { code: 'ERR_INVALID_PARAMETER', message: /strings/ })
  // Raw PCM ending inside a frame.
  await t.throwsAsync(
    new StreamingPipeline({ source: new StreamSource(Readable.from([Buffer.alloc(7)]), { format: 's16le', sampleRate: 8000, channels: 2 }), sink: collector().sink }).run(),
    { code: 'ERR_DECODE', message: /inside a frame/ },
  )
})

test('options: unknown keys and missing raw parameters are refused; a stream is read once', async (t) => {
  const r = () => Readable.from([])
  t.throws(() => new StreamSource(r(), { fromat: 's16le' }), { code: 'ERR_INVALID_PARAMETER', message: /`fromat`/ })
  t.throws(() => new StreamSource(r(), { format: 's16le', channels: 2 }), { code: 'ERR_INVALID_PARAMETER', message: /`sampleRate`/ })
  t.throws(() => new StreamSource(r(), { sampleRate: 8000 }), { code: 'ERR_INVALID_PARAMETER' })
  t.throws(() => new StreamSource('not a stream'), { code: 'ERR_INVALID_PARAMETER', message: /`input`/ })
  const w = new Writable({ write: (_c, _e, cb) => cb() })
  t.throws(() => new StreamSink(w, { format: 'wav', bits: 16 }), { code: 'ERR_INVALID_PARAMETER', message: /`bits`/ })
  t.throws(() => new StreamSink(w, { format: 'mp3' }), { code: 'ERR_INVALID_PARAMETER', message: /`format`/ })
  t.throws(() => new StreamSink(w, { format: 'flac', encoding: 'float32' }), { code: 'ERR_INVALID_PARAMETER', message: /encoding/ })
  const once = new StreamSource(Readable.from([Buffer.alloc(8)]), { format: 'f32le', sampleRate: 8000, channels: 1 })
  await new StreamingPipeline({ source: once, sink: collector().sink }).run()
  await t.throwsAsync(new StreamingPipeline({ source: once, sink: collector().sink }).run(), { code: 'ERR_INVALID_STATE' })
})

test('StreamSink with end: false leaves the writable open', async (t) => {
  const parts = []
  const w = new Writable({ write: (c, _e, cb) => (parts.push(c), cb()) })
  await new StreamingPipeline({ source: new CallbackSource([[new Float32Array([0.5, -0.25])]], { sampleRate: 8000 }), sink: new StreamSink(w, { format: 'f32le', end: false }) }).run()
  t.false(w.writableEnded)
  t.deepEqual([...new Float32Array(new Uint8Array(Buffer.concat(parts)).buffer)], [0.5, -0.25])
  w.end()
})
