// Standard MIDI File writer and reader (node builtins only), for the
// analysis ground truth (scripts/make-groundtruth.mjs).
//
// Writer: format 1, one conductor track (tempo, time and key signature) and
// one track per part. Reader: formats 0 and 1, running status, meta and
// sysex events; gives every event's absolute tick and the tempo map, and
// converts ticks to seconds.

// ---------- writing ----------

function varlen(n) {
  if (n < 0 || !Number.isInteger(n)) throw new Error(`varlen: bad delta ${n}`)
  const bytes = [n & 0x7f]
  n >>>= 7
  while (n > 0) {
    bytes.unshift((n & 0x7f) | 0x80)
    n >>>= 7
  }
  return bytes
}

function u32(n) {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

function u16(n) {
  return [(n >>> 8) & 0xff, n & 0xff]
}

function textBytes(s) {
  return [...Buffer.from(String(s), 'latin1')]
}

/** A track under construction: events are { tick, order, bytes }. */
export class Track {
  constructor(name) {
    this.events = []
    this.seq = 0
    if (name) this.meta(0, 0x03, textBytes(name), -10)
  }

  push(tick, bytes, order = 0) {
    tick = Math.max(0, Math.round(tick))
    this.events.push({ tick, order, seq: this.seq++, bytes })
  }

  meta(tick, type, data, order = -5) {
    this.push(tick, [0xff, type, ...varlen(data.length), ...data], order)
  }

  tempo(tick, microsPerQuarter) {
    const t = Math.round(microsPerQuarter)
    this.meta(tick, 0x51, [(t >>> 16) & 0xff, (t >>> 8) & 0xff, t & 0xff], -9)
  }

  timeSignature(tick, num, den) {
    const dd = Math.round(Math.log2(den))
    this.meta(tick, 0x58, [num, dd, 24, 8], -8)
  }

  /** sf: -7..7 (flats negative), minor: boolean. */
  keySignature(tick, sf, minor) {
    this.meta(tick, 0x59, [sf & 0xff, minor ? 1 : 0], -8)
  }

  text(tick, s) {
    this.meta(tick, 0x01, textBytes(s), -7)
  }

  program(tick, channel, program) {
    this.push(tick, [0xc0 | channel, program & 0x7f], -4)
  }

  control(tick, channel, cc, value) {
    this.push(tick, [0xb0 | channel, cc & 0x7f, value & 0x7f], -3)
  }

  /** A note from tick to tick + dur. Note-offs sort before note-ons at one tick. */
  note(tick, dur, channel, key, velocity) {
    if (key < 0 || key > 127) return
    const on = Math.max(0, Math.round(tick))
    const off = Math.max(on + 1, Math.round(tick + dur))
    velocity = Math.max(1, Math.min(127, Math.round(velocity)))
    this.push(on, [0x90 | channel, key, velocity], 1)
    this.push(off, [0x80 | channel, key, 0], -1)
  }

  end(tick) {
    this.endTick = Math.round(tick)
  }

  bytes() {
    const evs = [...this.events].sort((a, b) => a.tick - b.tick || a.order - b.order || a.seq - b.seq)
    const last = evs.length ? evs[evs.length - 1].tick : 0
    const endTick = Math.max(last, this.endTick ?? last)
    const out = []
    let prev = 0
    for (const e of evs) {
      out.push(...varlen(e.tick - prev), ...e.bytes)
      prev = e.tick
    }
    out.push(...varlen(endTick - prev), 0xff, 0x2f, 0x00)
    return out
  }
}

/** Serialise tracks to a format-1 SMF Buffer. */
export function writeSmf(tracks, ppq) {
  const chunks = [Buffer.from([...textBytes('MThd'), ...u32(6), ...u16(1), ...u16(tracks.length), ...u16(ppq)])]
  for (const t of tracks) {
    const body = t.bytes()
    chunks.push(Buffer.from([...textBytes('MTrk'), ...u32(body.length)]), Buffer.from(body))
  }
  return Buffer.concat(chunks)
}

// ---------- reading ----------

/**
 * Parse an SMF. Returns { format, ppq, tracks: [[event...]] } where each
 * event is { tick, type: 'noteOn'|'noteOff'|'meta'|'sysex'|'program'|'control'|'other', ... }.
 * Meta events carry metaType and data (Uint8Array); tempo events also
 * microsPerQuarter; key signatures sf and minor; time signatures num, den.
 */
export function parseSmf(buf) {
  let p = 0
  const rd32 = () => { const v = buf.readUInt32BE(p); p += 4; return v }
  const rd16 = () => { const v = buf.readUInt16BE(p); p += 2; return v }
  const id = () => { const s = buf.toString('latin1', p, p + 4); p += 4; return s }
  if (id() !== 'MThd') throw new Error('not a Standard MIDI File')
  const hlen = rd32()
  const format = rd16()
  const ntrk = rd16()
  const division = rd16()
  p += hlen - 6
  if (division & 0x8000) throw new Error('SMPTE time division is not supported')
  const tracks = []
  while (tracks.length < ntrk && p + 8 <= buf.length) {
    const cid = id()
    const len = rd32()
    const end = Math.min(buf.length, p + len)
    if (cid !== 'MTrk') { p = end; continue }
    const evs = []
    let tick = 0
    let status = 0
    const vl = () => {
      let v = 0
      for (let i = 0; i < 4; i++) {
        const b = buf[p++]
        v = (v << 7) | (b & 0x7f)
        if (!(b & 0x80)) break
      }
      return v
    }
    while (p < end) {
      tick += vl()
      let b = buf[p]
      if (b === 0xff) {
        p++
        const metaType = buf[p++]
        const l = vl()
        const data = buf.subarray(p, p + l)
        p += l
        const e = { tick, type: 'meta', metaType, data, raw: [0xff, metaType, ...varlen(l), ...data] }
        if (metaType === 0x51 && l >= 3) e.microsPerQuarter = (data[0] << 16) | (data[1] << 8) | data[2]
        if (metaType === 0x59 && l >= 2) { e.sf = data[0] > 127 ? data[0] - 256 : data[0]; e.minor = data[1] === 1 }
        if (metaType === 0x58 && l >= 2) { e.num = data[0]; e.den = 2 ** data[1] }
        if (metaType >= 0x01 && metaType <= 0x07) e.text = Buffer.from(data).toString('latin1')
        evs.push(e)
        if (metaType === 0x2f) break
        continue
      }
      if (b === 0xf0 || b === 0xf7) {
        const start = p
        p++
        const l = vl()
        p += l
        evs.push({ tick, type: 'sysex', raw: [...buf.subarray(start, p)] })
        continue
      }
      if (b & 0x80) { status = b; p++ } // else running status
      const hi = status & 0xf0
      const channel = status & 0x0f
      const d1 = buf[p++]
      if (hi === 0xc0 || hi === 0xd0) {
        evs.push({ tick, type: hi === 0xc0 ? 'program' : 'other', channel, value: d1, raw: [status, d1] })
        continue
      }
      const d2 = buf[p++]
      const raw = [status, d1, d2]
      if (hi === 0x90 && d2 > 0) evs.push({ tick, type: 'noteOn', channel, key: d1, velocity: d2, raw })
      else if (hi === 0x80 || hi === 0x90) evs.push({ tick, type: 'noteOff', channel, key: d1, raw })
      else if (hi === 0xb0) evs.push({ tick, type: 'control', channel, cc: d1, value: d2, raw })
      else evs.push({ tick, type: 'other', channel, raw })
    }
    p = end
    tracks.push(evs)
  }
  return { format, ppq: division, tracks }
}

/**
 * Cut a parsed SMF at tickCut: keep every event before it (end-of-track
 * metas dropped), close the notes still sounding there, and end each track
 * at tickCut + tailTicks. Returns a Buffer (format 1).
 */
export function truncateSmf(smf, tickCut, tailTicks = 0) {
  const tracks = smf.tracks.map((evs) => {
    const t = new Track()
    const open = new Map()
    for (const e of evs) {
      if (e.tick >= tickCut || !e.raw) continue
      if (e.type === 'meta' && e.metaType === 0x2f) continue
      const order = e.type === 'noteOff' ? -1 : e.type === 'noteOn' ? 1 : e.type === 'meta' ? -5 : -3
      t.push(e.tick, e.raw, order)
      const k = e.channel * 128 + e.key
      if (e.type === 'noteOn') open.set(k, (open.get(k) ?? 0) + 1)
      if (e.type === 'noteOff' && open.get(k)) open.set(k, open.get(k) - 1)
    }
    for (const [k, n] of open) for (let i = 0; i < n; i++) t.push(tickCut, [0x80 | (k >> 7), k & 0x7f, 0], -1)
    t.end(tickCut + tailTicks)
    return t
  })
  return writeSmf(tracks, smf.ppq)
}

/** Tempo map [{ tick, microsPerQuarter, seconds }] merged from all tracks, starting at tick 0 (default 120 BPM). */
export function tempoMap(smf) {
  const evs = smf.tracks.flat().filter((e) => e.type === 'meta' && e.metaType === 0x51 && e.microsPerQuarter > 0)
  evs.sort((a, b) => a.tick - b.tick)
  const map = [{ tick: 0, microsPerQuarter: 500000, seconds: 0 }]
  for (const e of evs) {
    const last = map[map.length - 1]
    const seconds = last.seconds + ((e.tick - last.tick) * last.microsPerQuarter) / 1e6 / smf.ppq
    if (e.tick === last.tick) { last.microsPerQuarter = e.microsPerQuarter; continue }
    if (e.microsPerQuarter === last.microsPerQuarter) continue
    map.push({ tick: e.tick, microsPerQuarter: e.microsPerQuarter, seconds })
  }
  return map
}

/** Seconds at a tick, given tempoMap(smf). */
export function tickToSeconds(map, ppq, tick) {
  let i = map.length - 1
  while (i > 0 && map[i].tick > tick) i--
  const m = map[i]
  return m.seconds + ((tick - m.tick) * m.microsPerQuarter) / 1e6 / ppq
}

/** Summary of a parsed SMF: notes (with seconds), key/time signatures, tempo map, end. */
export function summarizeSmf(smf) {
  const map = tempoMap(smf)
  const notes = []
  const keySigs = []
  const timeSigs = []
  let endTick = 0
  for (const tr of smf.tracks) {
    const open = new Map()
    for (const e of tr) {
      endTick = Math.max(endTick, e.tick)
      if (e.type === 'meta' && e.metaType === 0x59 && e.sf !== undefined) keySigs.push({ tick: e.tick, sf: e.sf, minor: e.minor })
      if (e.type === 'meta' && e.metaType === 0x58 && e.num) timeSigs.push({ tick: e.tick, num: e.num, den: e.den })
      if (e.type === 'noteOn') {
        const k = e.channel * 128 + e.key
        if (!open.has(k)) open.set(k, [])
        open.get(k).push(e)
      } else if (e.type === 'noteOff') {
        const k = e.channel * 128 + e.key
        const on = open.get(k)?.shift()
        if (on) notes.push({ channel: e.channel, key: e.key, velocity: on.velocity, startTick: on.tick, endTick: e.tick })
      }
    }
  }
  for (const n of notes) {
    n.start = tickToSeconds(map, smf.ppq, n.startTick)
    n.end = tickToSeconds(map, smf.ppq, n.endTick)
  }
  notes.sort((a, b) => a.start - b.start)
  keySigs.sort((a, b) => a.tick - b.tick)
  timeSigs.sort((a, b) => a.tick - b.tick)
  return { ppq: smf.ppq, tempoMap: map, notes, keySigs, timeSigs, endTick, endSeconds: tickToSeconds(map, smf.ppq, endTick) }
}
