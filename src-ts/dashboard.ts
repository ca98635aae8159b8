/**
 * The live dashboard: a local web server that shows a {@link RealtimeProcessor}
 * (level meters, spectrum, xruns and callback load) and a {@link MixerSession}
 * (tempo, beat phase, key, energy trend, recommendations) in a browser page,
 * and takes the user's feedback on recommendations.
 *
 * The page (`dashboard/` in the package, with uPlot from `node_modules/uplot`)
 * is served over HTTP; live data goes over a WebSocket at `/ws` as JSON text
 * frames (protocol version 1, see {@link startDashboard}).
 *
 * Security: it listens on loopback by default and has no authentication.
 * WebSocket upgrades are accepted only from the dashboard's own origin and
 * with its own `Host` (DNS rebinding); requests with another `Host` are
 * refused too. Clients may send only `feedback` and `setParameter` messages,
 * validated field by field; anything else is answered with an `error`
 * message and logged (`resonode::dashboard`), never executed.
 *
 * Real-time safety: nothing here runs in the audio callback. Audio reaches
 * the server through the engine's lock-free tap (`'audio'` events on the JS
 * thread); levels are read from the callback's atomics by `levels()`.
 */
import { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { networkInterfaces } from 'node:os'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { makeError, ResonodeError, type ErrorCode } from './errors'
import { checkOptions, keysOf } from './options'
import { RealtimeProcessor, type ChannelLevels } from './realtime'
import { MixerSession, type SessionPredictions } from './mixer'
import { processorKinds } from './processors'
import { logRecord } from './logging'
import { bandSpectrum } from './spectrum'
import type { StateChange, StreamState } from './state'
import type { Recommendation } from './library'

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /**
   * The engine shown. Start the dashboard before `realtime.start()` (or give the engine `tapFrames`): the spectrum
   * needs its `'audio'` events. The dashboard calls `realtime.levels()` every `levelsIntervalMs` while a page is
   * connected, and `levels()` measures since its previous call by anyone: the app's own `levels()` calls (or a
   * second dashboard on the same engine) share that window, each seeing only the frames since the other's last call.
   */
  realtime: RealtimeProcessor
  /** The mix session whose analysis and recommendations are shown and which takes the page's feedback (without it the page has neither). */
  session?: MixerSession
  /** TCP port (default 8731; 0: an ephemeral one, see {@link Dashboard.port}). */
  port?: number
  /**
   * Address to listen on (default `127.0.0.1`, loopback). Anything else
   * exposes the page and its feedback and parameter messages, which have
   * no authentication, to whoever can reach the port.
   */
  host?: string
  /** Log-spaced bands of the spectrum, 1..512 (default 64; see `bandSpectrum`). */
  bands?: number
  /** Period of the `levels` and `spectrum` messages, ms, 10..10000 (default 50). */
  levelsIntervalMs?: number
}
const DASHBOARD_KEYS = keysOf<DashboardOptions>()(['realtime', 'session', 'port', 'host', 'bands', 'levelsIntervalMs'])

/** A refused connection or client message (the `'rejected'` event). */
export interface DashboardRejection {
  /** Why, e.g. `foreign Origin http://evil.example` or `unknown message type "exec"`. */
  reason: string
  /** The request's `Origin` header, when it had one. */
  origin?: string
  /** The peer's address. */
  remoteAddress: string
}


/** One settable engine parameter as announced in `hello` and `parameters` (min / max always null: processor descriptors carry no ranges, the engine checks each value). */
interface AnnouncedParameter {
  path: string
  min: number | null
  max: number | null
  value: number
}

/** The protocol's version, in `hello`. */
const PROTOCOL_VERSION = 1
/** Frames of the spectrum's window (`bandSpectrum`'s default `nFft`). */
const N_FFT = 4096
/** The largest client message answered (larger ones get an `error`). */
const MAX_MESSAGE_BYTES = 4096
/**
 * The largest frame `ws` reads at all: beyond it the connection is closed
 * (code 1009). Above MAX_MESSAGE_BYTES so that a message a little too large
 * gets an `error` reply and the connection stays usable.
 */
const MAX_FRAME_BYTES = 64 * 1024
/** Bytes queued to a client beyond which live data to it is skipped (a slow client sees fewer updates). */
const LIVE_HIGH_WATER = 256 * 1024
/** Bytes queued to a client beyond which it is disconnected: memory stays bounded whatever a client does. */
const CLIENT_HARD_LIMIT = 4 * 1024 * 1024
const STATS_INTERVAL_MS = 1000
/** Requests of one client being served at once (feedback awaits the database); more are refused, so a flood cannot queue without bound. */
const MAX_PENDING_REQUESTS = 16
/** How long close() waits for clients to answer the close handshake before dropping them. */
const CLOSE_GRACE_MS = 300
const LOG_TARGET = 'resonode::dashboard'
/** Refusals logged one by one per client (and for connections), before they are only counted. */
const REFUSALS_LOGGED = 5
/** Period of the summary of refusals not logged one by one. */
const REFUSAL_SUMMARY_MS = 1000

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]']
/** Whether `host` names this machine's loopback: 127.0.0.0/8, `localhost`, `::1` or `[::1]`, in any case. @internal */
export const isLoopback = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i.test(host)
const isWildcard = (h: string): boolean => h === '0.0.0.0' || h === '::' || h === '[::]'
/** A host as written in URLs and `Host` headers: IPv6 literals in brackets, lower case. */
const urlHost = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h).toLowerCase()

/** The files the server serves, by URL path; nothing else is served. */
const PAGE_DIR = join(__dirname, '..', 'dashboard')
const STATIC_FILES: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: () => join(PAGE_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: () => join(PAGE_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/uPlot.min.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/uPlot.min.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
}

const round = (v: number, digits: number): number => {
  const f = 10 ** digits
  return Math.round(v * f) / f
}
const roundAll = (a: ArrayLike<number>, digits = 2): number[] => Array.from(a, (v) => round(v, digits))
const levelsJson = (l: ChannelLevels | null) => (l ? { peakDbfs: roundAll(l.peakDbfs), rmsDbfs: roundAll(l.rmsDbfs) } : null)

/**
 * The last `N_FFT` frames of the tapped audio (planar), for the spectrum.
 * Filled on the JS thread from `'audio'` events.
 */
class FrameRing {
  private data: Float32Array[] = []
  private pos = 0
  private filled = 0
  /** Whether frames came since the last {@link take}. */
  private fresh = false

  push(channels: Float32Array[]): void {
    if (channels.length === 0 || channels[0].length === 0) return
    if (channels.length !== this.data.length) {
      this.data = channels.map(() => new Float32Array(N_FFT))
      this.pos = 0
      this.filled = 0
    }
    const n = channels[0].length
    const keep = Math.min(n, N_FFT)
    for (let c = 0; c < channels.length; c++) {
      const src = channels[c].subarray(n - keep)
      const first = Math.min(keep, N_FFT - this.pos)
      this.data[c].set(src.subarray(0, first), this.pos)
      if (first < keep) this.data[c].set(src.subarray(first), 0)
    }
    this.pos = (this.pos + keep) % N_FFT
    this.filled = Math.min(N_FFT, this.filled + keep)
    this.fresh = true
  }

  /** The buffered frames in order (channels x up to N_FFT), or null when nothing came since the last call. */
  take(): Float32Array[] | null {
    if (!this.fresh) return null
    this.fresh = false
    return this.data.map((d) => {
      const out = new Float32Array(this.filled)
      const start = (this.pos - this.filled + N_FFT) % N_FFT
      const first = Math.min(this.filled, N_FFT - start)
      out.set(d.subarray(start, start + first), 0)
      if (first < this.filled) out.set(d.subarray(0, this.filled - first), first)
      return out
    })
  }
}

interface Client {
  ws: WebSocket
  origin: string
  remoteAddress: string
  /** Requests not answered yet. */
  pending: number
  /** Its refused messages, for the log. */
  refusals: RefusalLog
}

/**
 * Logs refusals (warn) without letting a client flood the log: the first
 * {@link REFUSALS_LOGGED} one by one, then a summary with the count not
 * logged, at a refusal at least {@link REFUSAL_SUMMARY_MS} after the
 * previous record, and at {@link flush} (the client or the dashboard closes).
 */
class RefusalLog {
  private logged = 0
  private suppressed = 0
  private lastSummaryMs = 0
  private last = ''

  constructor(private readonly who: string) {}

  log(line: string): void {
    if (this.logged < REFUSALS_LOGGED) {
      this.logged++
      logRecord('warn', LOG_TARGET, line)
      this.lastSummaryMs = Date.now()
      return
    }
    this.suppressed++
    this.last = line
    const now = Date.now()
    if (now - this.lastSummaryMs >= REFUSAL_SUMMARY_MS) {
      this.lastSummaryMs = now
      this.flush()
    }
  }

  /** Logs the summary of refusals not logged yet, if any. */
  flush(): void {
    if (this.suppressed === 0) return
    logRecord('warn', LOG_TARGET, `${this.who}: ${this.suppressed} more refused (not logged one by one); the last: ${this.last}`)
    this.suppressed = 0
  }
}

/** A client message refused: answered with an `error` carrying `code`. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
  }
}
const invalid = (message: string) => new Refusal('ERR_INVALID_PARAMETER', message)

/** Refuses keys of a client message other than `accepted`. */
function checkFields(msg: Record<string, unknown>, accepted: readonly string[]): void {
  for (const k of Object.keys(msg)) {
    if (!accepted.includes(k)) throw invalid(`invalid message: \`${msg.type}\` has no field ${JSON.stringify(k.slice(0, 40))} (accepted: ${accepted.join(', ')})`)
  }
}

/**
 * A running dashboard server (see {@link startDashboard}).
 *
 * Events: `'error'` (a server error after start; without a listener it is
 * logged), `'rejected'` ({@link DashboardRejection}: a refused HTTP request,
 * WebSocket upgrade or client message).
 */
export class Dashboard extends EventEmitter {
  /** The page's address, e.g. `http://127.0.0.1:8731/` (for a wildcard host, its loopback spelling). */
  readonly url: string
  /** The address listened on, as given. */
  readonly host: string
  /** The port bound (the ephemeral one when `port: 0` was given). */
  readonly port: number
  private readonly realtime: RealtimeProcessor
  private readonly session: MixerSession | null
  private readonly server: Server
  private readonly wss: WebSocketServer
  private readonly sockets = new Set<Client>()
  private readonly ring = new FrameRing()
  private readonly bands: number
  private readonly centerHz: number[]
  private readonly allowedHosts: Set<string>
  private readonly allowedOrigins: Set<string>
  private readonly timers: NodeJS.Timeout[] = []
  private readonly detach: (() => void)[] = []
  private lastState: StreamState | null = null
  private closing: Promise<void> | null = null
  /** Refused HTTP requests and WebSocket upgrades, for the log. */
  private readonly connectionRefusals = new RefusalLog('connections')

  /** @internal Use {@link startDashboard}. */
  constructor(server: Server, bound: { host: string; port: number }, options: Required<Omit<DashboardOptions, 'session' | 'port' | 'host'>> & { session: MixerSession | null; centerHz: number[] }) {
    super()
    this.server = server
    this.host = bound.host
    this.port = bound.port
    this.realtime = options.realtime
    this.session = options.session
    this.bands = options.bands
    this.centerHz = options.centerHz
    const h = urlHost(bound.host)
    this.url = `http://${isWildcard(bound.host) ? (h.startsWith('[') ? '[::1]' : '127.0.0.1') : h}:${bound.port}/`
    const names = new Set<string>([h])
    if (isLoopback(bound.host) || isWildcard(bound.host)) for (const n of LOOPBACK_NAMES) names.add(n)
    if (isWildcard(bound.host)) {
      for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) names.add(urlHost(a.address.replace(/%.*$/, '')))
    }
    this.allowedHosts = new Set([...names].flatMap((n) => (bound.port === 80 ? [`${n}:80`, n] : [`${n}:${bound.port}`])))
    this.allowedOrigins = new Set([...this.allowedHosts].map((hp) => `http://${hp}`))
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false })
    server.on('request', (req, res) => this.onRequest(req, res))
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head))
    server.on('error', (e) => this.serverError(e))
    server.on('clientError', (_e, socket) => socket.destroy())
    this.wss.on('error', (e) => this.serverError(e))
    this.attach()
    this.timers.push(setInterval(() => this.sendLive(), options.levelsIntervalMs))
    this.timers.push(setInterval(() => this.sendStats(), STATS_INTERVAL_MS))
    for (const t of this.timers) t.unref()
  }

  /** Connected WebSocket clients. */
  get clients(): number {
    return this.sockets.size
  }

  private attach(): void {
    const rt = this.realtime
    const on = (emitter: EventEmitter, event: string, fn: (...args: any[]) => void) => {
      emitter.on(event, fn)
      this.detach.push(() => emitter.off(event, fn))
    }
    // The spectrum is computed only for connected pages.
    on(rt, 'audio', (channels: Float32Array[]) => {
      if (this.sockets.size > 0) this.ring.push(channels)
    })
    on(rt, 'statechange', (c: StateChange) => this.sendState(c.state, c.error))
    on(rt, 'finished', () => this.sendState(rt.state))
    const s = this.session
    if (s) {
      on(s, 'predictions', (p: SessionPredictions) => this.broadcast(this.analysisMessage(p), true))
      on(s, 'recommendations', (recs: Recommendation[]) => this.broadcast(recommendationsMessage(recs), true))
    }
  }

  // ---- HTTP ----

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const remoteAddress = req.socket.remoteAddress ?? ''
    const hostHeader = (req.headers.host ?? '').toLowerCase()
    if (!this.allowedHosts.has(hostHeader)) {
      this.reject({ reason: `HTTP request with a foreign Host ${JSON.stringify(hostHeader.slice(0, 80))}`, origin: req.headers.origin, remoteAddress })
      return this.respond(res, 403, 'forbidden: wrong Host\n', hostHeader)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return this.respond(res, 405, 'method not allowed\n', hostHeader)
    }
    const entry = STATIC_FILES[pathOf(req.url)]
    if (!entry) return this.respond(res, 404, 'not found\n', hostHeader)
    let file: string
    try {
      file = entry.file()
    } catch {
      return this.respond(res, 404, 'not found\n', hostHeader)
    }
    // Read at each request: the page can be edited while the server runs (and nothing is cached).
    readFile(file).then(
      (body) => this.respond(res, 200, body, hostHeader, entry.type, req.method === 'HEAD'),
      () => this.respond(res, 404, 'not found\n', hostHeader),
    )
  }

  private respond(res: ServerResponse, status: number, body: string | Buffer, hostHeader: string, type = 'text/plain; charset=utf-8', headOnly = false): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    // connect-src names the WebSocket explicitly: 'self' does not cover ws: in every browser.
    const wsOrigin = this.allowedHosts.has(hostHeader) ? `ws://${hostHeader}` : ''
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': bytes.length,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${wsOrigin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    })
    res.end(headOnly ? undefined : bytes)
  }

  // ---- WebSocket ----

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    const remoteAddress = req.socket.remoteAddress ?? ''
    const origin = req.headers.origin
    const hostHeader = (req.headers.host ?? '').toLowerCase()
    const refuse = (status: number, reason: string) => {
      this.reject({ reason, origin, remoteAddress })
      const text = status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Service Unavailable'
      const body = `${reason}\n`
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    }
    const path = pathOf(req.url)
    if (path !== '/ws') return refuse(404, `WebSocket upgrade on ${JSON.stringify(path.slice(0, 80))}: only /ws`)
    if (!this.allowedHosts.has(hostHeader)) return refuse(403, `WebSocket with a foreign Host ${JSON.stringify(hostHeader.slice(0, 80))}`)
    if (origin === undefined) return refuse(403, 'WebSocket without an Origin header')
    if (!this.allowedOrigins.has(origin.toLowerCase())) return refuse(403, `WebSocket from a foreign Origin ${JSON.stringify(origin.slice(0, 80))}`)
    if (this.closing) return refuse(503, 'the dashboard is closing')
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, origin, remoteAddress))
  }

  private onConnection(ws: WebSocket, origin: string, remoteAddress: string): void {
    const client: Client = { ws, origin, remoteAddress, pending: 0, refusals: new RefusalLog(`client ${remoteAddress}`) }
    this.sockets.add(client)
    ws.on('close', () => {
      this.sockets.delete(client)
      client.refusals.flush()
    })
    ws.on('error', (e) => logRecord('debug', LOG_TARGET, `client ${remoteAddress}: ${e.message}`))
    ws.on('message', (data, isBinary) => void this.onMessage(client, data, isBinary))
    this.send(client, this.helloMessage(), true)
    const s = this.session
    if (s?.predictions) this.send(client, this.analysisMessage(s.predictions), true)
    if (s?.recommendations) this.send(client, recommendationsMessage(s.recommendations), true)
  }

  private async onMessage(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    let id: unknown
    let counted = false
    try {
      if (isBinary) throw invalid('invalid message: binary frames are not accepted (send JSON text)')
      // ws's default binaryType ('nodebuffer'): a text message is one Buffer.
      const bytes = data as Buffer
      if (bytes.length > MAX_MESSAGE_BYTES) throw invalid(`invalid message: ${bytes.length} bytes, at most ${MAX_MESSAGE_BYTES}`)
      let msg: unknown
      try {
        msg = JSON.parse(bytes.toString('utf8'))
      } catch {
        throw invalid('invalid message: not JSON')
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw invalid('invalid message: a JSON object with a `type` is expected')
      const m = msg as Record<string, unknown>
      id = m.id
      if (m.type === 'feedback') {
        if (client.pending >= MAX_PENDING_REQUESTS) throw new Refusal('ERR_INVALID_STATE', `invalid state: ${MAX_PENDING_REQUESTS} requests of this client are still being served; wait for their replies`)
        client.pending++
        counted = true
        await this.onFeedback(client, m)
      }
      else if (m.type === 'setParameter') this.onSetParameter(client, m)
      else throw invalid(`invalid message: unknown type ${JSON.stringify(m.type)?.slice(0, 40)} (accepted: feedback, setParameter)`)
    } catch (e) {
      const code = e instanceof Refusal || e instanceof ResonodeError ? e.code : 'ERR_INTERNAL'
      const message = e instanceof Error ? e.message : String(e)
      if (e instanceof Refusal) this.reject({ reason: message, origin: client.origin, remoteAddress: client.remoteAddress }, client.refusals)
      else logRecord('warn', LOG_TARGET, `client ${client.remoteAddress}: request failed: ${code}: ${message}`)
      this.send(client, { type: 'error', ...(id === undefined ? {} : { id }), code, message }, true)
    } finally {
      if (counted) client.pending--
    }
  }

  private async onFeedback(client: Client, m: Record<string, unknown>): Promise<void> {
    checkFields(m, ['type', 'id', 'trackId', 'accepted', 'rating'])
    if (!this.session) throw new Refusal('ERR_INVALID_STATE', 'invalid state: this dashboard has no mixer session, feedback is off')
    const { trackId, accepted, rating } = m
    if (typeof trackId !== 'number' || !Number.isSafeInteger(trackId)) throw invalid(`invalid parameter \`trackId\`: an integer track id, got ${JSON.stringify(trackId)?.slice(0, 40)}`)
    if (typeof accepted !== 'boolean') throw invalid(`invalid parameter \`accepted\`: true or false, got ${JSON.stringify(accepted)?.slice(0, 40)}`)
    if (rating !== undefined && rating !== null && !(typeof rating === 'number' && rating >= 0 && rating <= 1)) {
      throw invalid(`invalid parameter \`rating\`: a number within 0..1, got ${JSON.stringify(rating)?.slice(0, 40)}`)
    }
    const r = await this.session.addFeedback(null, trackId, accepted, rating ?? null)
    this.send(client, { type: 'feedbackResult', id: m.id ?? null, ok: true, feedbackId: r.id }, true)
  }

  private onSetParameter(client: Client, m: Record<string, unknown>): void {
    checkFields(m, ['type', 'id', 'path', 'value'])
    const { path, value } = m
    if (typeof path !== 'string') throw invalid(`invalid parameter \`path\`: a string "<index>.<name>", got ${JSON.stringify(path)?.slice(0, 40)}`)
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`invalid parameter \`value\`: a finite number, got ${JSON.stringify(value)?.slice(0, 40)}`)
    if (this.realtime.state !== 'running') throw new Refusal('ERR_INVALID_STATE', `invalid state: the engine is ${this.realtime.state}; parameters change only while it runs`)
    const p = this.parameters().find((q) => q.path === path)
    if (!p) throw invalid(`invalid parameter \`path\`: the engine has no parameter ${JSON.stringify(path.slice(0, 40))}`)
    try {
      this.realtime.setParameter(path, value)
    } catch (e) {
      // The engine checks the value against the processor's range: a refused message like the others.
      if (e instanceof ResonodeError && e.code === 'ERR_INVALID_PARAMETER') throw new Refusal(e.code, e.message)
      throw e
    }
    this.send(client, { type: 'parameterResult', id: m.id ?? null, ok: true, path, value }, true)
  }

  /**
   * The engine's numeric parameters with their values (empty when it is not
   * running). Processor descriptors carry no ranges, so `min` and `max` are
   * null and the engine validates each value.
   */
  private parameters(): AnnouncedParameter[] {
    if (this.realtime.state !== 'running') return []
    const kinds = new Map(processorKinds().map((k) => [k.name, k.params]))
    const out: AnnouncedParameter[] = []
    for (const [i, p] of this.realtime.processors.entries()) {
      for (const name of kinds.get(p.kind) ?? []) {
        const path = `${i}.${name}`
        try {
          out.push({ path, min: null, max: null, value: this.realtime.getParameter(path) })
        } catch {
          // Not a number the engine holds (a filter type, a model path): not settable live.
        }
      }
    }
    return out
  }

  // ---- Outgoing messages ----

  private helloMessage(): Record<string, unknown> {
    const c = this.realtime.config
    return {
      type: 'hello',
      version: PROTOCOL_VERSION,
      sampleRate: c.sampleRate,
      channelsIn: c.channelsIn,
      channelsOut: c.channelsOut,
      bands: { centerHz: this.centerHz },
      state: this.realtime.state,
      parameters: this.parameters(),
      session: this.session !== null,
    }
  }

  private analysisMessage(p: SessionPredictions): Record<string, unknown> {
    const f = this.session?.features
    return {
      type: 'analysis',
      timeS: p.timeS,
      tempoBpm: f?.tempoBpm ?? p.bpm,
      tempoConfidence: f?.tempoConfidence ?? null,
      lastBeatS: p.lastBeatS,
      nextBeatsS: p.nextBeatsS,
      key: f?.key ?? null,
      mode: f?.mode ?? null,
      camelot: f?.camelot ?? null,
      keyConfidence: f?.keyConfidence ?? null,
      energyTrend: p.energyTrend,
      energyChangeDb: p.energyChangeDb,
      levelDbfs: f?.levelDbfs ?? null,
      loudnessLufs: f?.loudnessLufs ?? null,
    }
  }

  private sendLive(): void {
    if (this.sockets.size === 0 || this.realtime.state !== 'running') return
    let timeS: number
    try {
      timeS = this.realtime.streamTimeS
      const levels = this.realtime.levels()
      this.broadcast({ type: 'levels', timeS, input: levelsJson(levels.input), output: levelsJson(levels.output) }, false)
    } catch {
      // Stopping between the state check and the reads.
      return
    }
    const frames = this.ring.take()
    if (!frames) return
    try {
      const { bandsDb } = bandSpectrum(frames, this.realtime.context.sampleRate, { bands: this.bands, nFft: N_FFT })
      this.broadcast({ type: 'spectrum', timeS, bandsDb: roundAll(bandsDb) }, false)
    } catch (e) {
      // A timer callback must not throw (e.g. NaN in the tapped audio): this update is skipped.
      logRecord('debug', LOG_TARGET, `spectrum skipped: ${(e as Error).message}`)
    }
  }

  private sendStats(): void {
    if (this.sockets.size === 0) return
    let s
    try {
      s = this.realtime.stats
    } catch {
      return // never ran, or stopping
    }
    this.broadcast({ type: 'stats', xruns: s.xruns, callbackLoadMean: s.callbackLoadMean, callbackLoadPeak: s.callbackLoadPeak, tapDropped: s.tapDropped, state: this.realtime.state }, false)
  }

  private sendState(state: StreamState, error?: Error): void {
    if (state === this.lastState) return
    this.lastState = state
    const err = error as (Error & { code?: string }) | undefined
    this.broadcast({ type: 'state', state, ...(err ? { error: { code: err.code ?? 'ERR_INTERNAL', message: err.message } } : {}) }, true)
    // Parameters exist only while the engine runs: a page that said hello before has an empty list.
    if (state === 'running') this.broadcast({ type: 'parameters', parameters: this.parameters() }, true)
  }

  private broadcast(msg: Record<string, unknown>, essential: boolean): void {
    if (this.sockets.size === 0) return
    const text = JSON.stringify(msg)
    for (const c of this.sockets) this.send(c, text, essential)
  }

  /** Sends to one client; live data is skipped while the client is behind, and a client far behind is dropped. */
  private send(client: Client, msg: Record<string, unknown> | string, essential: boolean): void {
    const ws = client.ws
    if (ws.readyState !== ws.OPEN) return
    if (ws.bufferedAmount > CLIENT_HARD_LIMIT) {
      logRecord('warn', LOG_TARGET, `client ${client.remoteAddress} dropped: ${ws.bufferedAmount} bytes unread`)
      ws.terminate()
      return
    }
    if (!essential && ws.bufferedAmount > LIVE_HIGH_WATER) return
    ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }

  /** Logs (rate-limited by `log`) and emits a refusal. */
  private reject(r: DashboardRejection, log: RefusalLog = this.connectionRefusals): void {
    log.log(`refused ${r.remoteAddress}${r.origin ? ` (Origin ${r.origin.slice(0, 80)})` : ''}: ${r.reason}`)
    this.emit('rejected', r)
  }

  private serverError(e: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', e)
    else logRecord('error', LOG_TARGET, `server error: ${e.message}`)
  }

  /**
   * Closes the clients (WebSocket close 1001) and the server, and removes
   * the dashboard's listeners from the engine and the session (which keep
   * running). Idempotent; resolves when the port is free.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearInterval(t)
      for (const d of this.detach) d()
      const closed = [...this.sockets].map((c) => new Promise<void>((resolve) => (c.ws.readyState === c.ws.CLOSED ? resolve() : c.ws.once('close', () => resolve()))))
      for (const c of this.sockets) c.ws.close(1001, 'the dashboard closed')
      await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())])
      for (const c of this.sockets) {
        c.ws.terminate()
        c.refusals.flush()
      }
      this.sockets.clear()
      this.connectionRefusals.flush()
      this.wss.close()
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve())
        this.server.closeAllConnections()
      })
    })()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function recommendationsMessage(recs: Recommendation[]): Record<string, unknown> {
  return {
    type: 'recommendations',
    items: recs.map((r) => ({
      trackId: r.trackId,
      path: r.path,
      title: basename(r.path),
      score: r.score,
      components: r.components,
      tempoBpm: r.tempoBpm,
      camelot: r.camelot,
      stretchRatio: r.stretchRatio,
    })),
  }
}

/** The path of a request URL (without query), `''` when unparsable. */
function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '', 'http://x').pathname
  } catch {
    return ''
  }
}

/**
 * Starts the dashboard server for `realtime` (and `session`): the page at
 * `GET /` (with `/dashboard.js`, `/dashboard.css`, `/uPlot.min.js`,
 * `/uPlot.min.css`; anything else 404, methods other than GET/HEAD 405),
 * live data on the WebSocket `/ws`. Resolves once listening.
 *
 * Protocol (version 1, JSON text frames). The server sends:
 * - `hello` on connect: `{ version, sampleRate, channelsIn, channelsOut, bands: { centerHz }, state, parameters: [{ path, min, max, value }], session }`
 *   (`parameters`: the engine's numeric parameters, empty unless it runs; `min`/`max` null: the engine checks values;
 *   `session`: whether analysis, recommendations and feedback are on), then the latest `analysis` and `recommendations` if any;
 * - `parameters` when the engine starts running: `{ parameters }`, as in `hello` (a page connected before has none);
 * - `levels` every `levelsIntervalMs` while running: `{ timeS, input, output }` (`RealtimeProcessor.levels()`,
 *   peak / RMS dBFS per channel over the interval, floor -120; `timeS` is the engine's stream time,
 *   `stats.framesProcessed / sampleRate`, s);
 * - `spectrum` as often, when audio came: `{ timeS, bandsDb }` (`bandSpectrum` of the last 4096 tapped frames);
 * - `stats` every second: `{ xruns, callbackLoadMean, callbackLoadPeak, tapDropped, state }`;
 * - `analysis` with each session refresh: `{ timeS, tempoBpm, tempoConfidence, lastBeatS, nextBeatsS, key, mode,
 *   camelot, keyConfidence, energyTrend, energyChangeDb, levelDbfs, loudnessLufs }` (stream time, s);
 * - `recommendations`: `{ items: [{ trackId, path, title, score, components, tempoBpm, camelot, stretchRatio }] }`;
 * - `state` on each engine state change: `{ state, error?: { code, message } }`.
 *
 * `levels` and `spectrum` are skipped for a client that lags (see below); the others are always sent.
 *
 * Clients may send `{ type: 'feedback', id?, trackId, accepted, rating? }` (-> `session.addFeedback(null, trackId,
 * accepted, rating)`, reply `{ type: 'feedbackResult', id, ok: true, feedbackId }`) and `{ type: 'setParameter',
 * id?, path, value }` (-> `realtime.setParameter`, reply `{ type: 'parameterResult', id, ok: true, path, value }`).
 * Anything else (another type or field, a wrong type, a rating outside 0..1, a path the engine lacks, a value
 * the engine refuses, non-JSON, binary or over 4 KiB; frames over 64 KiB close the connection, code 1009) is
 * refused: answered `{ type: 'error', id?, code, message }` (`ERR_INVALID_PARAMETER`; `ERR_INVALID_STATE`
 * without a session or a running engine), logged (`resonode::dashboard`, warn: the first 5 of each client one by
 * one, then a count at most every second) and emitted as `'rejected'` (each one), never executed. A valid request the library fails (`ERR_TRACK_NOT_FOUND`, a database error) is answered
 * with its code and logged. The connection stays open either way.
 *
 * The dashboard reads `realtime.levels()` every `levelsIntervalMs` while a page is connected; `levels()` measures
 * since its previous call by anyone, so the app's own calls (or a second dashboard) share the window with it.
 *
 * Only the dashboard's own origin may connect: the Origin must be `http://<host>:<port>` (for a loopback host
 * any of 127.0.0.1 / localhost / [::1]) and so must the `Host`; others get HTTP 403 (and `'rejected'`). Node
 * clients must send such an `Origin`.
 *
 * There is no authentication: a `host` other than loopback is logged as a warning (`resonode::dashboard`).
 *
 * Bounded memory whatever a client does: a client whose unread data passes 256 KiB misses live messages until
 * it catches up, past 4 MiB it is disconnected; at most 16 of its feedback requests are served at once (more
 * are answered `ERR_INVALID_STATE` at once).
 *
 * ```ts
 * const rt = new RealtimeProcessor({ config: { channelsIn: 2, channelsOut: 0 } })
 * const session = new MixerSession({ library, realtime: rt, refreshS: 2 })
 * await using dashboard = await startDashboard({ realtime: rt, session, port: 0 })
 * await session.start(); await rt.start()
 * console.log(dashboard.url) // http://127.0.0.1:<port>/
 * ```
 *
 * @throws InvalidParameterError (an unknown option, `realtime` not a RealtimeProcessor, `session` not a MixerSession,
 *   a bad `port`, `host`, `bands` or `levelsIntervalMs`; a host not of this machine), InvalidStateError (the engine
 *   already runs without delivering `'audio'`: start the dashboard before `rt.start()`, or give it `tapFrames`),
 *   IoError (`ERR_IO`: the port is in use or not allowed, the message names host:port)
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  checkOptions(options, DASHBOARD_KEYS, 'startDashboard()')
  const { realtime, session = null, port = 8731, host = '127.0.0.1', bands = 64, levelsIntervalMs = 50 } = options ?? ({} as DashboardOptions)
  if (!(realtime instanceof RealtimeProcessor)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `realtime`: a RealtimeProcessor')
  if (session !== null && !(session instanceof MixerSession)) throw makeError('ERR_INVALID_PARAMETER', 'invalid parameter `session`: a MixerSession')
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`port\`: an integer in 0..65535 (0: any free port), got ${port}`)
  if (typeof host !== 'string' || host.length === 0 || /[\s/]/.test(host)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`host\`: an address or host name, got ${JSON.stringify(host)}`)
  if (!(Number.isInteger(bands) && bands >= 1 && bands <= 512)) throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`bands\`: an integer in 1..512, got ${bands}`)
  if (!(typeof levelsIntervalMs === 'number' && levelsIntervalMs >= 10 && levelsIntervalMs <= 10000)) {
    throw makeError('ERR_INVALID_PARAMETER', `invalid parameter \`levelsIntervalMs\`: 10..10000 ms, got ${levelsIntervalMs}`)
  }
  const s = realtime.state
  if ((s === 'starting' || s === 'running' || s === 'stopping') && realtime.options.tapFrames === undefined && realtime.listenerCount('audio') === 0) {
    throw makeError(
      'ERR_INVALID_STATE',
      "invalid state: the engine is already running without delivering 'audio' events, which the spectrum needs: " +
        'call startDashboard() before rt.start(), or give the RealtimeProcessor `tapFrames`',
    )
  }
  // Checks `bands` against the engine's rate, and gives the band centres for `hello`.
  const centerHz = roundAll(bandSpectrum([new Float32Array(N_FFT)], realtime.context.sampleRate, { bands, nFft: N_FFT }).centerHz, 1)
  const server = createServer()
  const listenHost = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const where = `${urlHost(listenHost)}:${port}`
      if (e.code === 'EADDRINUSE') reject(makeError('ERR_IO', `I/O error: cannot listen on ${where}: the port is in use (pick another port, or 0 for any free one)`, e))
      else if (e.code === 'EACCES') reject(makeError('ERR_IO', `I/O error: cannot listen on ${where}: not allowed (ports below 1024 need privileges)`, e))
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
        reject(makeError('ERR_INVALID_PARAMETER', `invalid parameter \`host\`: ${JSON.stringify(host)} is not an address of this machine (${e.code})`, e))
      } else reject(makeError('ERR_IO', `I/O error: cannot listen on ${where}: ${e.message}`, e))
    }
    server.once('error', onError)
    server.listen(port, listenHost, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address()
  const bound = { host, port: typeof address === 'object' && address ? address.port : port }
  if (!isLoopback(host)) {
    logRecord('warn', LOG_TARGET, `the dashboard listens on ${host}, not loopback, and has no authentication: anyone who can reach port ${bound.port} sees the audio levels and analysis, sends feedback and sets parameters`)
  }
  return new Dashboard(server, bound, { realtime, session, bands, levelsIntervalMs, centerHz })
}
