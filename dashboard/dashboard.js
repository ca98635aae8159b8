// resonode live dashboard: renders the messages of the dashboard WebSocket
// (protocol version 1, see src-ts/dashboard.ts) and sends the user's
// feedback and parameter changes. Plain browser JS, no build step; uPlot is
// the global `uPlot` loaded before this file.
'use strict'
;(() => {
  const $ = (sel, root = document) => root.querySelector(sel)
  const el = (tag, cls, text) => {
    const e = document.createElement(tag)
    if (cls) e.className = cls
    if (text != null) e.textContent = text
    return e
  }

  const FLOOR_DB = -120 // the server's value for silence
  const METER_MIN_DB = -60
  const PEAK_HOLD_MS = 1500
  const PEAK_FALL_DB_PER_S = 20
  const RECONNECT_MIN_MS = 1000
  const RECONNECT_MAX_MS = 10000
  const TOAST_MS = 5000
  const COMPONENTS = ['tempo', 'harmonic', 'energy', 'timbre', 'learned']

  const status = $('#status')
  const banner = $('#banner')
  const toast = $('#toast')

  // ---- connection state ---------------------------------------------------

  let ws = null
  let connected = false
  let engineState = null // from hello / state / stats
  let engineError = null // { code, message } of the last 'state' message
  let reconnectDelay = RECONNECT_MIN_MS
  let nextRequestId = 1
  const pending = new Map() // request id -> { kind, trackId?, path?, accepted? }

  function setStatus(state, text) {
    status.dataset.state = state
    status.textContent = text || state
    // Everything shown is stale unless we are live.
    document.body.classList.toggle('stale', state !== 'live')
  }

  function showBanner(text) {
    banner.textContent = text
    banner.hidden = !text
  }

  let toastTimer = 0
  function showToast(text) {
    toast.textContent = text
    toast.hidden = false
    clearTimeout(toastTimer)
    toastTimer = setTimeout(() => (toast.hidden = true), TOAST_MS)
  }

  function renderState() {
    if (!connected) {
      setStatus('disconnected')
      showBanner(`Connection to the dashboard server lost; reconnecting in ${Math.round(reconnectDelay / 1000)} s…`)
    } else if (engineState === 'running') {
      setStatus('live')
      showBanner('')
    } else if (engineState === 'stopped' || engineState === 'error' || engineState === 'stopping') {
      setStatus('stopped')
      showBanner(engineError ? `Engine stopped: ${engineError.code}: ${engineError.message}` : 'Engine stopped: no live data.')
    } else {
      // idle / starting: connected, waiting for the engine's first audio.
      setStatus('connecting', 'waiting for engine')
      showBanner('')
    }
  }

  // The status stays 'disconnected' while retrying: the page is not
  // 'connecting' again until a socket actually opens and says hello.
  function connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
    const socket = new WebSocket(url)
    ws = socket
    socket.onmessage = (ev) => {
      let msg
      try {
        msg = JSON.parse(ev.data)
      } catch {
        return showToast('The server sent a message that is not JSON.')
      }
      if (msg && typeof msg.type === 'string' && Object.hasOwn(handlers, msg.type)) handlers[msg.type](msg)
    }
    socket.onclose = () => {
      if (ws !== socket) return
      ws = null
      connected = false
      for (const [, req] of pending) if (req.kind === 'feedback') markPending(req.trackId, false)
      pending.clear()
      renderState()
      setTimeout(connect, reconnectDelay)
      reconnectDelay = Math.min(RECONNECT_MAX_MS, reconnectDelay * 2)
    }
    // An error is always followed by close, which reconnects.
  }

  function send(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      showToast('Not connected: try again when the dashboard is live.')
      return false
    }
    ws.send(JSON.stringify(msg))
    return true
  }

  // ---- level meters ---------------------------------------------------------

  const dbToFraction = (db) => Math.max(0, Math.min(1, (db - METER_MIN_DB) / -METER_MIN_DB))
  const fmtDb = (db) => (db <= FLOOR_DB + 0.5 ? '-∞' : db.toFixed(1))

  class Meter {
    constructor(root) {
      this.root = root
      this.box = $('.channels', root)
      this.readout = $('.readout', root)
      this.rows = []
    }
    setChannels(n) {
      this.box.replaceChildren()
      this.rows = []
      this.root.classList.toggle('absent', n === 0)
      for (let c = 0; c < n; c++) {
        const track = el('div', 'meter-track')
        const peak = el('div', 'meter-peak')
        const rms = el('div', 'meter-rms')
        const hold = el('div', 'meter-hold')
        track.append(peak, rms, hold)
        this.box.append(track)
        this.rows.push({ peak, rms, hold, holdDb: FLOOR_DB, holdAt: 0 })
      }
      this.readout.textContent = n === 0 ? 'no channels' : '–'
      delete this.root.dataset.peakDbfs
      delete this.root.dataset.rmsDbfs
    }
    update(levels, now) {
      if (!levels) return
      const { peakDbfs, rmsDbfs } = levels
      if (peakDbfs.length !== this.rows.length) this.setChannels(peakDbfs.length)
      this.rows.forEach((row, c) => {
        const p = peakDbfs[c]
        // Peak hold: keep the highest peak for PEAK_HOLD_MS, then let it fall.
        const fallen = row.holdDb - (Math.max(0, now - row.holdAt - PEAK_HOLD_MS) / 1000) * PEAK_FALL_DB_PER_S
        if (p >= fallen) {
          row.holdDb = p
          row.holdAt = now
        }
        const shown = Math.max(p, fallen)
        row.peak.style.clipPath = `inset(0 ${100 - dbToFraction(p) * 100}% 0 0)`
        row.rms.style.clipPath = `inset(0 ${100 - dbToFraction(rmsDbfs[c]) * 100}% 0 0)`
        row.hold.style.left = `${dbToFraction(shown) * 100}%`
        row.hold.classList.toggle('clip', shown >= -0.1)
      })
      const peak = Math.max(...peakDbfs)
      const rms = Math.max(...rmsDbfs)
      this.root.dataset.peakDbfs = String(peak)
      this.root.dataset.rmsDbfs = String(rms)
      this.readout.textContent = `${fmtDb(peak)} / ${fmtDb(rms)}`
    }
  }
  const meterIn = new Meter($('#meter-in'))
  const meterOut = new Meter($('#meter-out'))

  const scale = $('.meter-scale')
  for (const db of [-60, -48, -36, -24, -18, -12, -6, -3, 0]) {
    const tick = el('span', null, String(db))
    tick.style.left = `${dbToFraction(db) * 100}%`
    scale.append(tick)
  }

  // ---- spectrum (uPlot) and spectrogram (canvas) -------------------------------

  const SPEC_MIN_DB = -100
  const SPEC_MAX_DB = 0
  const specBox = $('#spectrum')
  let plot = null
  let centers = []
  let peakTrace = []
  const fmtHz = (hz) => (hz >= 1000 ? `${hz / 1000}k` : String(hz))

  function makePlot(centerHz) {
    centers = centerHz
    peakTrace = centerHz.map(() => SPEC_MIN_DB)
    if (plot) plot.destroy()
    specBox.replaceChildren()
    const axis = { stroke: '#9aa4b2', grid: { stroke: '#262c36', width: 1 }, ticks: { stroke: '#262c36', width: 1 } }
    const hzSplits = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    plot = new uPlot(
      {
        width: Math.max(300, specBox.clientWidth),
        height: 220,
        legend: { show: false },
        cursor: { show: false },
        scales: {
          x: { distr: 3, log: 10, range: [centerHz[0], centerHz[centerHz.length - 1]] },
          y: { range: [SPEC_MIN_DB, SPEC_MAX_DB] },
        },
        axes: [
          // Fixed 1-2-5 ticks; uPlot's default log filter would blank all but the decades.
          {
            ...axis,
            label: 'Hz',
            labelSize: 18,
            splits: (u) => hzSplits.filter((f) => f >= u.scales.x.min && f <= u.scales.x.max),
            filter: (u, splits) => splits,
            values: (u, splits) => splits.map(fmtHz),
          },
          { ...axis, label: 'dB', labelSize: 18, size: 44 },
        ],
        series: [
          {},
          { label: 'spectrum', stroke: '#4fc3f7', width: 1.5, fill: 'rgba(79,195,247,0.18)', fillTo: SPEC_MIN_DB, points: { show: false } },
          { label: 'peak', stroke: 'rgba(255,183,77,0.7)', width: 1, points: { show: false } },
        ],
      },
      [centerHz, centerHz.map(() => SPEC_MIN_DB), peakTrace],
      specBox,
    )
  }
  window.addEventListener('resize', () => {
    if (plot) plot.setSize({ width: Math.max(300, specBox.clientWidth), height: 220 })
  })

  const spectrogram = $('#spectrogram')
  const sg = spectrogram.getContext('2d')
  // Maps dB to a dark-blue .. cyan .. yellow colour (a compact 'viridis-ish' ramp).
  function dbColour(db) {
    const t = Math.max(0, Math.min(1, (db - SPEC_MIN_DB) / (SPEC_MAX_DB - SPEC_MIN_DB)))
    const r = Math.round(255 * Math.min(1, Math.max(0, 2.2 * t - 1.0)))
    const g = Math.round(255 * Math.min(1, 1.3 * t))
    const b = Math.round(255 * Math.max(0.15, Math.min(1, 1.6 * t + 0.15) - Math.max(0, 2.5 * t - 1.4)))
    return `rgb(${r},${g},${b})`
  }
  const COLUMN_PX = 2 // per spectrum message: ~30 s across 1200 px at 20 messages/s
  function spectrogramColumn(bandsDb) {
    const w = spectrogram.width
    const h = spectrogram.height
    // Scroll left by one column, then paint the newest on the right; low
    // frequencies at the bottom, one band per row group.
    sg.drawImage(spectrogram, COLUMN_PX, 0, w - COLUMN_PX, h, 0, 0, w - COLUMN_PX, h)
    const n = bandsDb.length
    for (let i = 0; i < n; i++) {
      const y0 = Math.round(h - ((i + 1) * h) / n)
      const y1 = Math.round(h - (i * h) / n)
      sg.fillStyle = dbColour(bandsDb[i])
      sg.fillRect(w - COLUMN_PX, y0, COLUMN_PX, Math.max(1, y1 - y0))
    }
  }
  function sizeSpectrogram() {
    const w = Math.max(300, Math.round(spectrogram.clientWidth))
    if (spectrogram.width !== w) {
      spectrogram.width = w
      sg.fillStyle = dbColour(SPEC_MIN_DB)
      sg.fillRect(0, 0, w, spectrogram.height)
    }
  }
  window.addEventListener('resize', sizeSpectrogram)

  // ---- beat phase ------------------------------------------------------------

  // Engine stream time now, estimated between messages: offset = streamTime
  // - performance.now() of each levels message, smoothed so that network
  // jitter does not make the beat dot stutter; a jump over 0.5 s (a restart)
  // is taken at once.
  let clockOffsetS = null
  let beat = null // { bpm, lastBeatS }
  function onClock(timeS) {
    const offset = timeS - performance.now() / 1000
    if (clockOffsetS == null || Math.abs(offset - clockOffsetS) > 0.5) clockOffsetS = offset
    else clockOffsetS += 0.1 * (offset - clockOffsetS)
  }
  const beatPhase = $('#beat-phase')
  const beatDot = $('.beat-dot', beatPhase)
  const beatFill = $('.beat-fill', beatPhase)
  function animateBeat() {
    requestAnimationFrame(animateBeat)
    const live = status.dataset.state === 'live'
    if (!live || !beat || clockOffsetS == null) {
      beatDot.style.opacity = '0.15'
      beatDot.style.transform = 'scale(1)'
      beatFill.style.width = '0%'
      return
    }
    const nowS = performance.now() / 1000 + clockOffsetS
    const beats = ((nowS - beat.lastBeatS) * beat.bpm) / 60
    const phase = beats - Math.floor(beats)
    const flash = Math.exp(-phase * 6) // bright on the beat, fading through it
    beatDot.style.opacity = String(0.15 + 0.85 * flash)
    beatDot.style.transform = `scale(${1 + 0.5 * flash})`
    beatFill.style.width = `${phase * 100}%`
  }
  requestAnimationFrame(animateBeat)

  // ---- analysis, stats ------------------------------------------------------

  const tempo = $('#tempo')
  const key = $('#key')
  const energy = $('#energy')
  function renderAnalysis(a) {
    if (a.tempoBpm != null) {
      tempo.dataset.bpm = String(a.tempoBpm)
      tempo.textContent = `${a.tempoBpm.toFixed(1)} BPM`
    } else {
      delete tempo.dataset.bpm
      tempo.textContent = '– BPM'
    }
    $('#tempo-confidence').textContent = a.tempoConfidence != null ? `confidence ${(a.tempoConfidence * 100).toFixed(0)} %` : ''
    beat = a.tempoBpm != null && a.lastBeatS != null ? { bpm: a.tempoBpm, lastBeatS: a.lastBeatS } : null

    if (a.camelot) key.dataset.camelot = a.camelot
    else delete key.dataset.camelot
    key.textContent = a.camelot || '–'
    $('#key-name').textContent = a.key ? `${a.key} ${a.mode || ''}`.trim() + (a.keyConfidence != null ? ` · confidence ${(a.keyConfidence * 100).toFixed(0)} %` : '') : ''

    const arrows = { rising: '↗', steady: '→', dropping: '↘' }
    if (a.energyTrend) {
      energy.dataset.trend = a.energyTrend
      const db = a.energyChangeDb != null ? ` ${a.energyChangeDb >= 0 ? '+' : ''}${a.energyChangeDb.toFixed(1)} dB` : ''
      energy.replaceChildren(el('span', 'trend', `${arrows[a.energyTrend] || ''} ${a.energyTrend}`), el('span', 'change', db))
    } else {
      delete energy.dataset.trend
      energy.textContent = '–'
    }
    const parts = []
    if (a.levelDbfs != null) parts.push(`level ${a.levelDbfs.toFixed(1)} dBFS`)
    if (a.loudnessLufs != null) parts.push(`${a.loudnessLufs.toFixed(1)} LUFS`)
    $('#loudness').textContent = parts.join(' · ')
  }

  let lastXruns = null
  function renderStats(s) {
    const xruns = $('#xruns')
    xruns.textContent = String(s.xruns)
    xruns.classList.toggle('bad', s.xruns > 0)
    // Flash when the count grows, so a new glitch is noticed.
    if (lastXruns != null && s.xruns > lastXruns) {
      xruns.classList.remove('flash')
      void xruns.offsetWidth // restart the CSS animation
      xruns.classList.add('flash')
    }
    lastXruns = s.xruns
    const pct = (f) => `${(f * 100).toFixed(0)} %`
    const load = $('#load')
    load.textContent = `${pct(s.callbackLoadMean)} / ${pct(s.callbackLoadPeak)}`
    load.classList.toggle('bad', s.callbackLoadPeak > 0.8)
    $('#tap-dropped').textContent = String(s.tapDropped ?? '–')
  }

  // ---- recommendations ------------------------------------------------------

  const recsBody = $('#recommendations')
  const feedback = new Map() // trackId -> 'accepted' | 'rejected', kept across refreshes
  const rows = new Map() // trackId -> <tr>, reused so a click never lands on a replaced row

  function bar(cls, value, label) {
    const wrap = el('span', `bar ${cls}`)
    wrap.title = label
    wrap.setAttribute('role', 'meter')
    wrap.setAttribute('aria-label', label)
    wrap.setAttribute('aria-valuemin', '0')
    wrap.setAttribute('aria-valuemax', '1')
    wrap.setAttribute('aria-valuenow', String(value))
    const fill = el('span', 'bar-fill')
    fill.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`
    wrap.append(fill)
    return wrap
  }

  function makeRow(trackId) {
    const tr = el('tr', 'recommendation')
    tr.dataset.trackId = String(trackId)
    for (const cls of ['title', 'num bpm', 'camelot', 'num stretch', 'score', 'components', 'actions']) tr.append(el('td', cls))
    const accept = el('button', 'accept', '✓ Accept')
    const reject = el('button', 'reject', '✗ Reject')
    accept.type = reject.type = 'button'
    accept.addEventListener('click', () => sendFeedback(trackId, true))
    reject.addEventListener('click', () => sendFeedback(trackId, false))
    tr.lastChild.append(accept, reject)
    return tr
  }

  function renderRecommendations(items) {
    const seen = new Set()
    items.forEach((item) => {
      seen.add(item.trackId)
      let tr = rows.get(item.trackId)
      if (!tr) rows.set(item.trackId, (tr = makeRow(item.trackId)))
      const [title, bpm, camelot, stretch, score, comps, actions] = tr.children
      title.textContent = item.title
      title.title = item.path
      bpm.textContent = item.tempoBpm != null ? item.tempoBpm.toFixed(1) : '–'
      camelot.textContent = item.camelot || '–'
      stretch.textContent = item.stretchRatio != null ? `×${item.stretchRatio.toFixed(3)}` : '–'
      score.replaceChildren(bar('score-bar', item.score, `score ${item.score.toFixed(2)}`), el('span', 'score-num', item.score.toFixed(2)))
      comps.replaceChildren(...COMPONENTS.map((c) => bar(`comp comp-${c}`, item.components?.[c] ?? 0, `${c} ${(item.components?.[c] ?? 0).toFixed(2)}`)))
      const [accept, reject] = actions.children
      accept.setAttribute('aria-label', `Accept ${item.title}`)
      reject.setAttribute('aria-label', `Reject ${item.title}`)
      const fb = feedback.get(item.trackId)
      if (fb) tr.dataset.feedback = fb
      accept.setAttribute('aria-pressed', String(fb === 'accepted'))
      reject.setAttribute('aria-pressed', String(fb === 'rejected'))
      recsBody.append(tr) // (re)appending keeps the server's order
    })
    for (const [id, tr] of rows) {
      if (!seen.has(id)) {
        tr.remove()
        rows.delete(id)
      }
    }
    $('#recs-empty').hidden = items.length > 0
    if (!items.length) $('#recs-empty').textContent = 'No recommendations: the library has nothing that fits yet.'
  }

  function markPending(trackId, on) {
    const tr = rows.get(trackId)
    if (!tr) return
    tr.classList.toggle('pending', on)
    for (const b of tr.querySelectorAll('button')) b.disabled = on
  }

  function sendFeedback(trackId, accepted) {
    const id = nextRequestId++
    if (!send({ type: 'feedback', id, trackId, accepted })) return
    pending.set(id, { kind: 'feedback', trackId, accepted })
    markPending(trackId, true)
  }

  function onFeedbackResult(msg) {
    const req = pending.get(msg.id)
    if (!req) return
    pending.delete(msg.id)
    markPending(req.trackId, false)
    if (!msg.ok) return
    const state = req.accepted ? 'accepted' : 'rejected'
    feedback.set(req.trackId, state)
    const tr = rows.get(req.trackId)
    if (!tr) return
    tr.dataset.feedback = state
    const [accept, reject] = tr.querySelector('.actions').children
    accept.setAttribute('aria-pressed', String(req.accepted))
    reject.setAttribute('aria-pressed', String(!req.accepted))
  }

  // ---- parameters -----------------------------------------------------------

  const paramBox = $('#parameters')
  const paramInputs = new Map() // path -> { input, param }

  function renderParameters(params) {
    const list = $('.param-list', paramBox)
    list.replaceChildren()
    paramInputs.clear()
    paramBox.hidden = !params || params.length === 0
    for (const p of params || []) {
      const id = `param-${p.path.replace(/[^\w-]/g, '_')}`
      const label = el('label', null, p.path)
      label.htmlFor = id
      // The server announces no ranges: the engine checks the value and an
      // error reply reverts the field.
      const input = el('input')
      Object.assign(input, { type: 'number', step: 'any', id, value: p.value })
      // 'change' fires on commit (Enter, blur, a step): one request per edit, not per keystroke.
      input.addEventListener('change', () => {
        const id = nextRequestId++
        if (send({ type: 'setParameter', id, path: p.path, value: Number(input.value) })) pending.set(id, { kind: 'parameter', path: p.path, previous: p.value })
      })
      paramInputs.set(p.path, { input, param: p })
      const row = el('div', 'param')
      row.append(label, input)
      list.append(row)
    }
  }

  function onParameterResult(msg) {
    pending.delete(msg.id)
    const entry = paramInputs.get(msg.path)
    if (!entry || !msg.ok) return
    entry.param.value = msg.value
    entry.input.value = msg.value
  }

  // ---- message handlers -----------------------------------------------------

  const handlers = {
    hello(msg) {
      // A (re)connection: everything is rendered again from here.
      connected = true
      reconnectDelay = RECONNECT_MIN_MS
      if (msg.version !== 1) showToast(`Unknown protocol version ${msg.version}; this page speaks version 1.`)
      engineState = msg.state
      engineError = null
      $('#engine-info').textContent = `${msg.sampleRate} Hz · ${msg.channelsIn} in / ${msg.channelsOut} out`
      meterIn.setChannels(msg.channelsIn)
      meterOut.setChannels(msg.channelsOut)
      const hasBands = Boolean(msg.bands && msg.bands.centerHz && msg.bands.centerHz.length)
      spectrogram.hidden = !hasBands
      if (hasBands) {
        sizeSpectrogram()
        makePlot(msg.bands.centerHz)
      } else {
        if (plot) plot.destroy()
        plot = null
        specBox.replaceChildren(el('p', 'muted', 'No spectrum: the server sends no frequency bands.'))
      }
      renderParameters(msg.parameters)
      if (msg.session === false) {
        $('#recs-empty').hidden = false
        $('#recs-empty').textContent = 'No mixer session: tempo, key and recommendations are off.'
      }
      clockOffsetS = null
      renderState()
    },
    levels(msg) {
      // Levels only flow while the engine runs: they also tell an 'idle'
      // page that it started, should a state message have been missed.
      if (engineState !== 'running' && engineState !== 'stopped' && engineState !== 'error') {
        engineState = 'running'
        renderState()
      }
      onClock(msg.timeS)
      const now = performance.now()
      meterIn.update(msg.input, now)
      meterOut.update(msg.output, now)
    },
    spectrum(msg) {
      if (!plot || msg.bandsDb.length !== centers.length) return
      const db = msg.bandsDb.map((v) => Math.max(SPEC_MIN_DB, v))
      // The peak trace falls 0.5 dB per frame (about 10 dB/s at 20 frames/s).
      peakTrace = peakTrace.map((p, i) => Math.max(db[i], p - 0.5))
      plot.setData([centers, db, peakTrace])
      spectrogramColumn(db)
    },
    stats(msg) {
      renderStats(msg)
      if (msg.state && msg.state !== engineState) {
        engineState = msg.state
        renderState()
      }
    },
    analysis: renderAnalysis,
    recommendations(msg) {
      renderRecommendations(msg.items || [])
    },
    state(msg) {
      engineState = msg.state
      engineError = msg.error || null
      renderState()
    },
    parameters(msg) {
      // The engine started: its parameters exist now (hello had none).
      renderParameters(msg.parameters)
    },
    feedbackResult: onFeedbackResult,
    parameterResult: onParameterResult,
    error(msg) {
      const req = msg.id != null && pending.get(msg.id)
      if (req) {
        pending.delete(msg.id)
        if (req.kind === 'feedback') markPending(req.trackId, false)
        if (req.kind === 'parameter') {
          const entry = paramInputs.get(req.path)
          if (entry) entry.input.value = req.previous
        }
      }
      showToast(`${msg.code}: ${msg.message}`)
    },
  }

  connect()
})()
