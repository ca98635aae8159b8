/**
 * `resonode dashboard`: the live mixer dashboard on an input device. Prints
 * the page's URL (with `--json` one line `{ url, host, port }`) and runs
 * until SIGINT / SIGTERM, then closes the server, the engine, the session
 * and the library, and exits 0.
 */
import { Command, InvalidArgumentError } from 'commander'
import { Library, MixerSession, RealtimeProcessor, startDashboard, type Backend, type Dashboard } from './index'
import { DEFAULT_LIBRARY_PATH } from './library-path'
import { positiveInt } from './cli-args'

interface DashboardCliOptions {
  input?: string
  db: string
  port: number
  host: string
  sampleRate?: number
  bufferSize?: number
  channels: number
  backend?: Backend
  refreshS: number
  json?: boolean
}

async function cmdDashboard(o: DashboardCliOptions): Promise<void> {
  const rt = new RealtimeProcessor({
    backend: o.backend,
    config: { inputDevice: o.input, sampleRate: o.sampleRate, bufferSize: o.bufferSize, channelsIn: o.channels, channelsOut: 0 },
  })
  const library = new Library(o.db)
  let session: MixerSession | null = null
  let dashboard: Dashboard | null = null
  let started = false
  let ran = false
  // Signals are caught from the start, so that Ctrl-C during start-up still closes everything.
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => (stop = resolve))
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']
  for (const s of signals) process.once(s, stop)
  try {
    session = new MixerSession({ library, realtime: rt, refreshS: o.refreshS })
    // Before rt.start(): the dashboard's 'audio' listener turns the engine's tap on.
    dashboard = await startDashboard({ realtime: rt, session, port: o.port, host: o.host })
    // A host other than loopback is logged as a warning by startDashboard() (stderr by default).
    await session.start()
    await rt.start()
    started = true
    const { url, host, port } = dashboard
    if (o.json) process.stdout.write(`${JSON.stringify({ url, host, port })}\n`)
    else {
      process.stdout.write(`${url}\n`)
      process.stderr.write(`dashboard: ${rt.config.sampleRate} Hz, ${o.channels} ch from ${o.input ?? 'the default input'}, library ${library.location}; Ctrl-C stops\n`)
    }
    await stopped
    ran = true
  } finally {
    for (const s of signals) process.off(s, stop)
    // Every step runs even when one before it failed; the first failure is reported (unless start-up failed: that one is).
    let failure: unknown = null
    const step = async (fn: () => unknown) => {
      try {
        await fn()
      } catch (e) {
        failure ??= e
      }
    }
    await step(() => dashboard?.close())
    if (started) await step(() => rt.stop())
    await step(() => session?.stop())
    await step(() => library.close())
    if (failure && ran) throw failure
  }
}

/** Adds `dashboard` to `program`. */
export function addDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('Live mixer dashboard in the browser: level meters, spectrum, tempo and beat phase, key, energy, recommendations with accept/reject, from an input device.')
    .option('--input <id>', 'input device id (see `resonode devices`; default: the default input)')
    .option('--db <path|url>', 'library database: a SQLite file or a postgres:// URL', DEFAULT_LIBRARY_PATH)
    .option('--port <n>', 'TCP port (0: any free port)', positiveInt('--port', 0), 8731)
    .option('--host <address>', 'address to listen on; anything but loopback exposes the page, which has no authentication', '127.0.0.1')
    .option('--sample-rate <hz>', 'sample rate in Hz (default 48000)', positiveInt('--sample-rate'))
    .option('--buffer-size <frames>', 'frames per callback (default 512)', positiveInt('--buffer-size'))
    .option('--channels <n>', 'input channels', positiveInt('--channels'), 2)
    .option('--backend <name>', 'default, alsa, pulseaudio, jack or none')
    .option('--refresh-s <s>', 'seconds of audio between analysis / recommendation refreshes (>= 1)', (v) => {
      const n = Number(v)
      if (!(n >= 1)) throw new InvalidArgumentError('--refresh-s must be at least 1 second')
      return n
    }, 2)
    .option('--json', 'print one JSON line { url, host, port } once running')
    .action(cmdDashboard)
}
