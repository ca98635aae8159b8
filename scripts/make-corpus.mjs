#!/usr/bin/env node
// Makes __test__/corpus/: small broken and odd audio files that
// __test__/corpus.spec.mjs and crates/io/tests/corpus.rs run through `info`,
// `process` and the JS API. Run by hand: `node scripts/make-corpus.mjs`
// (needs sox and ffmpeg with libmp3lame/libvorbis/libopus; CI uses the
// committed files). Every file is made from a short synthetic tone and then
// mutated here, byte by byte, so the script documents what each file is.
// __test__/corpus/expect.json records what each file should give: "ok"
// (with the frame count `info` must report) or an error code. A rerun gives
// the same files and expectations but not the same bytes everywhere (Ogg
// stream serial numbers and sox's dither are random).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const out = join(dirname(fileURLToPath(import.meta.url)), '..', '__test__', 'corpus')
const tmp = mkdtempSync(join(tmpdir(), 'resonode-corpus-'))
const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] })
const sox = (...a) => run('sox', ['-D', '-n', ...a])
const ff = (...a) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-bitexact', ...a])
const tmpFile = (name) => join(tmp, name)
const expect = {}
const put = (name, bytes, want) => {
  writeFileSync(join(out, name), bytes)
  expect[name] = want
}

for (const f of readdirSync(out)) unlinkSync(join(out, f))

// Sources: 0.4 s of a tone, 8 kHz mono 16-bit.
const wavSrc = tmpFile('src.wav')
sox('-r', '8000', '-c', '1', '-b', '16', wavSrc, 'synth', '0.4', 'sine', '440', 'gain', '-6')
const wav = readFileSync(wavSrc) // 44-byte header, 6400 bytes of data
const flacSrc = tmpFile('src.flac')
ff('-i', wavSrc, '-c:a', 'flac', '-frame_size', '512', flacSrc) // 7 frames of 512 samples
// Without ffmpeg's 8 KiB PADDING block: STREAMINFO (marked last), then the frames.
const flacFull = readFileSync(flacSrc)
const flac = (() => {
  let at = 4
  for (;;) {
    const last = flacFull[at] & 0x80
    at += 4 + flacFull.readUIntBE(at + 1, 3)
    if (last) break
  }
  const si = Buffer.from(flacFull.subarray(0, 42))
  si[4] |= 0x80
  return Buffer.concat([si, flacFull.subarray(at)])
})()
const mp3Src = tmpFile('src.mp3')
ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000:duration=0.4', '-c:a', 'libmp3lame', '-b:a', '16k', mp3Src)
const mp3 = readFileSync(mp3Src)
const oggSrc = tmpFile('src.ogg')
ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000:duration=1.5', '-c:a', 'libvorbis', '-page_duration', '200000', oggSrc)
const ogg = readFileSync(oggSrc)
const opusSrc = tmpFile('src.opus')
ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000:duration=1.5', '-c:a', 'libopus', '-b:a', '16k', '-page_duration', '200000', opusSrc)
const opus = readFileSync(opusSrc)
const m4aSrc = tmpFile('src.m4a')
ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000:duration=0.4', '-c:a', 'alac', m4aSrc)
const m4a = readFileSync(m4aSrc)
const aiffSrc = tmpFile('src.aiff')
sox('-r', '8000', '-c', '1', '-b', '16', aiffSrc, 'synth', '0.4', 'sine', '440', 'gain', '-6')
const aiff = readFileSync(aiffSrc)

const indexOf = (buf, ascii, from = 0) => buf.indexOf(Buffer.from(ascii, 'latin1'), from)
const copy = (b) => Buffer.from(b)

// --- empty and header-only
put('empty.wav', Buffer.alloc(0), 'ERR_EMPTY_AUDIO')
put('empty.mp3', Buffer.alloc(0), 'ERR_EMPTY_AUDIO')
{
  const b = copy(wav.subarray(0, 44))
  b.writeUInt32LE(36, 4)
  b.writeUInt32LE(0, 40)
  put('header_only.wav', b, 'ERR_EMPTY_AUDIO')
}
put('riff_only.wav', wav.subarray(0, 12), 'ERR_DECODE')
put('text.wav', Buffer.from('this is not audio, just some text\n'.repeat(4)), 'ERR_UNSUPPORTED_FORMAT')
{
  // An ID3v2 tag and nothing after it (a "metadata-only" MP3).
  const b = Buffer.alloc(10 + 64)
  b.write('ID3', 0, 'latin1')
  b[3] = 4
  b[9] = 64
  b.write('TIT2', 10, 'latin1')
  put('id3_only.mp3', b, 'ERR_DECODE')
}
{
  // FLAC metadata only: STREAMINFO says 0 samples, no frames follow.
  const b = copy(flac.subarray(0, 42))
  b[4] |= 0x80 // last metadata block
  b[21] &= 0xf0 // total samples: 0 (low 4 bits of byte 21 and bytes 22..25)
  b.fill(0, 22, 26)
  put('flac_metadata_only.flac', b, 'ERR_EMPTY_AUDIO')
}

// --- over-declared lengths (deliver what decodes, warn)
{
  const b = copy(wav.subarray(0, 44 + 3200)) // half of the data is gone
  put('wav_overdeclared.wav', b, { frames: 1600, declared: 3200 })
}
put('flac_truncated.flac', flac.subarray(0, Math.floor(flac.length * 0.6)), { frames: 'some', declared: 3200 })
put('aiff_truncated.aiff', aiff.subarray(0, aiff.length - 3200), { frames: 1600, declared: 3200 })
{
  // The Xing header claims 222 s; the file holds 0.4 s.
  const b = copy(mp3)
  const x = Math.max(indexOf(b, 'Xing'), indexOf(b, 'Info'))
  if (x < 0) throw new Error('no Xing/Info header in the MP3')
  const flags = b.readUInt32BE(x + 4)
  if (!(flags & 1)) throw new Error('Xing header without a frame count')
  b.writeUInt32BE(Math.round((222 * 8000) / 576), x + 8)
  put('mp3_xing_overclaim.mp3', b, { frames: 'some', maxFrames: 8000 })
  // The Xing header says 0 frames; the audio is there.
  const z = copy(mp3)
  z.writeUInt32BE(0, x + 8)
  put('mp3_xing_zero_frames.mp3', z, { frames: 'some', minFrames: 2000 })
  // A VBRI header (Fraunhofer) in place of the Xing one, claiming 222 s.
  const v = copy(mp3)
  const at = indexOf(v, 'Xing') >= 0 ? indexOf(v, 'Xing') : indexOf(v, 'Info')
  const frameStart = v.lastIndexOf(0xff, at)
  const vb = frameStart + 36
  v.fill(0, at, at + 8)
  v.write('VBRI', vb, 'latin1')
  v.writeUInt16BE(1, vb + 4) // version
  v.writeUInt16BE(0, vb + 6) // delay
  v.writeUInt16BE(75, vb + 8) // quality
  v.writeUInt32BE(mp3.length * 500, vb + 10) // bytes
  v.writeUInt32BE(Math.round((222 * 8000) / 576), vb + 14) // frames
  v.writeUInt16BE(0, vb + 18) // TOC entries
  v.writeUInt16BE(1, vb + 20) // scale
  v.writeUInt16BE(2, vb + 22) // bytes per entry
  v.writeUInt16BE(1, vb + 24) // frames per entry
  put('mp3_vbri_overclaim.mp3', v, { frames: 'some', maxFrames: 8000 })
}

// Ogg: CRC-32 (poly 0x04C11DB7, no reflection) over the page with the CRC field zeroed.
const crcTable = new Uint32Array(256).map((_, i) => {
  let r = i << 24
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
  return r >>> 0
})
const oggPages = (b) => {
  const pages = []
  for (let at = 0; at + 27 <= b.length; ) {
    if (b.toString('latin1', at, at + 4) !== 'OggS') throw new Error(`no Ogg page at ${at}`)
    const segs = b[at + 26]
    let len = 27 + segs
    for (let s = 0; s < segs; s++) len += b[at + 27 + s]
    pages.push({ at, len })
    at += len
  }
  return pages
}
const oggFixCrc = (b, page) => {
  b.writeUInt32LE(0, page.at + 22)
  let crc = 0
  for (let i = page.at; i < page.at + page.len; i++) crc = ((crc << 8) ^ crcTable[((crc >>> 24) ^ b[i]) & 0xff]) >>> 0
  b.writeUInt32LE(crc, page.at + 22)
}
// The last page's granule position says 2^62.
const granule2e62 = (src) => {
  const b = copy(src)
  const pages = oggPages(b)
  const last = pages[pages.length - 1]
  b.writeBigUInt64LE(1n << 62n, last.at + 6)
  oggFixCrc(b, last)
  return b
}
put('ogg_granule_2e62.ogg', granule2e62(ogg), { frames: 'some', maxFrames: 16000 })
put('opus_granule_2e62.opus', granule2e62(opus), { frames: 'some', maxFrames: 96000 })
// Cut 60% of the way through the audio pages (inside a page).
const cutAudio = (b) => {
  const audioAt = oggPages(b)[2].at
  return b.subarray(0, audioAt + Math.floor((b.length - audioAt) * 0.6))
}
put('ogg_truncated.ogg', cutAudio(ogg), { frames: 'some' })
put('opus_truncated.opus', cutAudio(opus), { frames: 'some' })
put('ogg_headers_only.ogg', ogg.subarray(0, oggPages(ogg)[2]?.at ?? ogg.length), 'ERR_EMPTY_AUDIO')
{
  // Opus with garbage in the audio packets (CRCs fixed so the pages are kept).
  const o = copy(opus)
  const pages = oggPages(o)
  for (const p of pages.slice(2)) {
    const body = p.at + 27 + o[p.at + 26]
    for (let i = body + 1; i < p.at + p.len; i += 3) o[i] ^= 0x5a
    oggFixCrc(o, p)
  }
  put('opus_garbage_packets.opus', o, 'any')
}
put('m4a_truncated.m4a', m4a.subarray(0, Math.floor(m4a.length * 0.5)), 'any')
put('m4a_head_only.m4a', m4a.subarray(0, 64), 'any')
put('mp3_half_frame.mp3', mp3.subarray(0, 300), 'any')

// --- odd but readable headers
{
  // FLAC with a block size of 0 in STREAMINFO (min and max).
  const b = copy(flac)
  b.writeUInt16BE(0, 8)
  b.writeUInt16BE(0, 10)
  put('flac_blocksize_0.flac', b, { frames: 3200 })
}
{
  // FLAC with a CUESHEET block whose offsets are not CD-aligned (not multiples of 588).
  const cue = Buffer.alloc(396 + 2 * (36 + 12))
  // media catalog number: empty (the first 128 bytes stay 0)
  cue.writeBigUInt64BE(0n, 128) // lead-in
  cue[136] = 0x80 // is CD-DA flag set although offsets are not aligned
  cue[395] = 2 // number of tracks
  let t = 396
  const track = (offset, number, indexOffset) => {
    cue.writeBigUInt64BE(BigInt(offset), t)
    cue[t + 8] = number
    cue.write('ABCDE1234567', t + 9, 'latin1')
    cue[t + 35] = number === 170 ? 0 : 1 // index points
    t += 36
    if (number !== 170) {
      cue.writeBigUInt64BE(BigInt(indexOffset), t)
      cue[t + 8] = 1
      t += 12
    }
  }
  track(1000, 1, 7) // 1000 and 7 are not multiples of 588
  track(3200, 170, 0) // lead-out
  const body = cue.subarray(0, t)
  const head = Buffer.alloc(4)
  head[0] = 0x85 // CUESHEET, the last metadata block
  head.writeUIntBE(body.length, 1, 3)
  const b = Buffer.concat([flac.subarray(0, 42), head, body, flac.subarray(42)])
  b[4] &= 0x7f // STREAMINFO is no longer the last block
  put('flac_cuesheet_not_cd_aligned.flac', b, { frames: 3200 })
}
/** A `fmt ` chunk body of `size` bytes: the WAVEFORMATEX fields, then zeros for the caller to fill. */
const fmtChunk = (size, { tag, channels, rate, byteRate, blockAlign, bits, cbSize }) => {
  const fmt = Buffer.alloc(size)
  fmt.writeUInt16LE(tag, 0)
  fmt.writeUInt16LE(channels, 2)
  fmt.writeUInt32LE(rate, 4)
  fmt.writeUInt32LE(byteRate, 8)
  fmt.writeUInt16LE(blockAlign, 12)
  fmt.writeUInt16LE(bits, 14)
  if (cbSize !== undefined) fmt.writeUInt16LE(cbSize, 16)
  return fmt
}
const fmtWav = (fmt, data, extra = Buffer.alloc(0)) => {
  const fh = Buffer.alloc(8)
  fh.write('fmt ', 0, 'latin1')
  fh.writeUInt32LE(fmt.length, 4)
  const dh = Buffer.alloc(8)
  dh.write('data', 0, 'latin1')
  dh.writeUInt32LE(data.length, 4)
  const pad = data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), fh, fmt, extra, dh, data, pad])
  const rh = Buffer.alloc(8)
  rh.write('RIFF', 0, 'latin1')
  rh.writeUInt32LE(body.length, 4)
  return Buffer.concat([rh, body])
}
const pcm16 = wav.subarray(44)
{
  // µ-law and A-law with a 20-byte fmt chunk (cbSize = 2, two extra bytes).
  const ulaw = tmpFile('u.wav')
  run('sox', [wavSrc, '-e', 'u-law', ulaw])
  const alaw = tmpFile('a.wav')
  run('sox', [wavSrc, '-e', 'a-law', alaw])
  for (const [name, file, tag] of [['wav_mulaw_fmt20.wav', ulaw, 7], ['wav_alaw_fmt20.wav', alaw, 6]]) {
    const src = readFileSync(file)
    const d = indexOf(src, 'data')
    const data = src.subarray(d + 8, d + 8 + src.readUInt32LE(d + 4))
    const fmt = fmtChunk(20, { tag, channels: 1, rate: 8000, byteRate: 8000, blockAlign: 1, bits: 8, cbSize: 2 })
    put(name, fmtWav(fmt, data), { frames: 3200 })
  }
}
{
  // WAVE_FORMAT_EXTENSIBLE with an unknown SubFormat GUID, PCM fields consistent.
  const fmt = fmtChunk(40, { tag: 0xfffe, channels: 1, rate: 8000, byteRate: 16000, blockAlign: 2, bits: 16, cbSize: 22 })
  fmt.writeUInt16LE(16, 18)
  fmt.writeUInt32LE(4, 20)
  // Starts like KSDATAFORMAT_SUBTYPE_PCM (0x0001, which sox reads as the tag) but the rest is not the standard tail.
  Buffer.from([0x01, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44]).copy(fmt, 24)
  put('wav_ext_unknown_guid.wav', fmtWav(fmt, pcm16), { frames: 3200 })
  // The same with inconsistent fields (block align says 3 bytes per 16-bit frame).
  const bad = copy(fmt)
  bad.writeUInt16LE(3, 12)
  bad.writeUInt16LE(12, 14)
  put('wav_ext_unknown_guid_inconsistent.wav', fmtWav(bad, pcm16), 'ERR_UNSUPPORTED_FORMAT')
}
{
  // Sample rates outside 1 kHz..768 kHz.
  for (const [name, rate] of [['wav_rate_0.wav', 0], ['wav_rate_1.wav', 1], ['wav_rate_4294967295.wav', 4294967295]]) {
    const b = copy(wav)
    b.writeUInt32LE(rate, 24)
    put(name, b, 'ERR_UNSUPPORTED_FORMAT')
  }
  const f = copy(flac)
  // STREAMINFO sample rate (20 bits at byte 18) = 1 Hz.
  f[18] = 0
  f[19] = 0
  f[20] = (f[20] & 0x0f) | 0x10
  put('flac_rate_1.flac', f, 'ERR_UNSUPPORTED_FORMAT')
}
{
  // 0 channels, 65535 channels, a fmt chunk of 14 bytes, data before fmt.
  const b = copy(wav)
  b.writeUInt16LE(0, 22)
  put('wav_channels_0.wav', b, 'ERR_EMPTY_AUDIO')
  const c = copy(wav)
  c.writeUInt16LE(65535, 22)
  put('wav_channels_65535.wav', c, 'ERR_UNSUPPORTED_FORMAT')
  put('wav_fmt_14_bytes.wav', fmtWav(wav.subarray(20, 34), pcm16), 'ERR_DECODE')
  const fmtHdr = wav.subarray(12, 36)
  const dataHdr = wav.subarray(36, 44)
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), dataHdr, pcm16, fmtHdr])
  const rh = Buffer.alloc(8)
  rh.write('RIFF', 0, 'latin1')
  rh.writeUInt32LE(body.length, 4)
  put('wav_data_before_fmt.wav', Buffer.concat([rh, body]), 'ERR_DECODE')
  // A chunk before the data claims 2 GB.
  const junk = Buffer.alloc(8)
  junk.write('LIST', 0, 'latin1')
  junk.writeUInt32LE(0x7fffffff, 4)
  put('wav_list_chunk_too_long.wav', Buffer.concat([wav.subarray(0, 36), junk, wav.subarray(36)]), 'ERR_DECODE')
  // Data length 0xFFFFFFFF (a streaming writer): read to the end of the file.
  const s = copy(wav)
  s.writeUInt32LE(0xffffffff, 4)
  s.writeUInt32LE(0xffffffff, 40)
  put('wav_streaming_length.wav', s, { frames: 3200 })
}
{
  // RF64 whose ds64 data size is larger than the file, and a BW64 one.
  const rf = tmpFile('rf.wav')
  ff('-i', wavSrc, '-c:a', 'pcm_s16le', '-rf64', 'always', rf)
  const b = readFileSync(rf)
  const ds = indexOf(b, 'ds64')
  const over = copy(b)
  over.writeBigUInt64LE(BigInt(6400 * 1000), ds + 16)
  put('rf64_overdeclared.wav', over, { frames: 3200, declared: 3200000 })
  const bw = copy(b)
  bw.write('BW64', 0, 'latin1')
  put('bw64.wav', bw, { frames: 3200 })
  // RF64 without a ds64 chunk.
  put('rf64_no_ds64.wav', Buffer.concat([Buffer.from('RF64', 'latin1'), wav.subarray(4)]), 'any')
}
{
  // Bit flips in the middle of a FLAC and an MP3 (concealed), random bytes with an MP3 name.
  const f = copy(flac)
  for (let i = 200; i < f.length; i += 97) f[i] ^= 0xff
  put('flac_bitflips.flac', f, 'any')
  const m = copy(mp3)
  for (let i = 300; i < m.length; i += 41) m[i] ^= 0xa5
  put('mp3_bitflips.mp3', m, 'any')
  let x = 12345
  const r = Buffer.alloc(4096).map(() => (x = (x * 1103515245 + 12345) >>> 0) >>> 24)
  put('random_bytes.mp3', r, 'ERR_UNSUPPORTED_FORMAT')
  put('aiff_form_only.aiff', aiff.subarray(0, 12), 'ERR_DECODE')
}

// One entry per line, so the Rust test can read it without a JSON parser.
const lines = Object.entries(expect).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
writeFileSync(join(out, 'expect.json'), `{\n${lines.join(',\n')}\n}\n`)
rmSync(tmp, { recursive: true })
let total = 0
for (const f of readdirSync(out)) total += readFileSync(join(out, f)).length
console.log(`${Object.keys(expect).length} files, ${total} bytes in ${out}`)
