/**
 * `resonode library ...`: the music library from the command line. With
 * `--json`, one JSON value on stdout (`list` and `recommend`: an array).
 */
import { Command } from 'commander'
import { Library, type TrackRef, type ScanSummary } from './index'
import { DEFAULT_LIBRARY_PATH } from './library-path'
import { interruptible, resultOrPartial } from './cli-interrupt'
import { progressBar } from './cli-bar'
import { positiveInt } from './cli-args'
import { cmdEnqueue, misplacedOption, type EnqueueCliOptions } from './cli-queue'

/** A track argument: digits are an id, anything else a path. */
function trackRef(v: string): TrackRef {
  return /^\d+$/.test(v) ? Number(v) : v
}

const out = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`)
}
const fixed = (v: number | null, digits = 1) => (v == null ? '-' : v.toFixed(digits))

function printSummary(s: ScanSummary): void {
  process.stdout.write(
    `${s.files} audio files: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.failed} failed` +
      `${s.ignored ? `, ${s.ignored} other files ignored` : ''} in ${s.durationS.toFixed(1)} s${s.aborted ? ' (interrupted: run again to finish)' : ''}\n`,
  )
  for (const f of s.failures) process.stdout.write(`  failed: ${f.path}: ${f.code}: ${f.message}\n`)
  for (const m of s.missing) process.stdout.write(`  ${s.pruned ? 'removed' : 'missing'}: ${m}\n`)
}

type ScanCliOptions = { db: string; jobs?: number; prune?: boolean; json?: boolean } & Partial<Omit<EnqueueCliOptions, 'db' | 'json'>>

async function cmdScan(dir: string, o: ScanCliOptions, cmd: Command) {
  if (o.queue) {
    const notQueued = 'not with --queue (workers analyse one file per job)'
    if (o.jobs !== undefined) misplacedOption('--jobs', notQueued)
    if (o.prune) misplacedOption('--prune', notQueued)
    // The default library file is for local scans: with a queue, only a --db given skips unchanged files.
    const db = cmd.getOptionValueSource('db') === 'default' ? undefined : o.db
    return cmdEnqueue(dir, { ...o, queue: o.queue, db })
  }
  for (const k of ['queueName', 'types', 'out', 'model', 'stems', 'attempts', 'wait'] as const) {
    if (o[k] !== undefined) misplacedOption(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, 'only with --queue')
  }
  const library = new Library(o.db)
  const bar = progressBar(' {bar} {value}/{total} files | {eta_formatted} left | {file}', o.json)
  let started = false
  try {
    // Ctrl-C or SIGTERM: the summary of what finished (kept; the next scan resumes), exit 130.
    const summary = await resultOrPartial(
      interruptible(
        (signal) =>
          library.scan(dir, {
            concurrency: o.jobs,
            prune: o.prune,
            signal,
            onProgress: (p) => {
              if (!bar) return
              if (!started) bar.start(p.total, 0, { file: '' })
              started = true
              bar.update(p.done, { file: p.path.split('/').pop() ?? '' })
            },
          }),
        ['SIGINT', 'SIGTERM'],
      ),
    )
    bar?.stop()
    if (o.json) out(summary)
    else printSummary(summary)
  } finally {
    library.close()
  }
}

async function cmdAdd(file: string, o: { db: string; json?: boolean }) {
  const library = new Library(o.db)
  try {
    // Ctrl-C: nothing is stored; the AbortError exits 130.
    const t = await interruptible((signal) => library.add(file, { signal }))
    if (o.json) out(t)
    else process.stdout.write(`${t.id}\t${t.path}\t${fixed(t.tempoBpm)} BPM\t${t.camelot ?? '-'}\t${fixed(t.loudnessLufs)} LUFS\n`)
  } finally {
    library.close()
  }
}

async function cmdList(o: { db: string; json?: boolean }) {
  const library = new Library(o.db)
  try {
    const tracks = await library.list()
    if (o.json) {
      out(tracks)
      return
    }
    process.stdout.write('id\tBPM\tkey\tcamelot\tLUFS\tduration\tpath\n')
    for (const t of tracks) {
      const key = t.key ? `${t.key} ${t.mode}` : '-'
      process.stdout.write(`${t.id}\t${fixed(t.tempoBpm)}\t${key}\t${t.camelot ?? '-'}\t${fixed(t.loudnessLufs)}\t${fixed(t.durationS)}\t${t.path}${t.error ? `\t(failed: ${t.error})` : ''}\n`)
    }
  } finally {
    library.close()
  }
}

async function cmdShow(which: string, o: { db: string; json?: boolean }) {
  const library = new Library(o.db)
  try {
    const t = await library.get(trackRef(which))
    if (o.json) {
      out(t)
      return
    }
    const { beats, downbeats, summary, ...rest } = t
    for (const [k, v] of Object.entries(rest)) process.stdout.write(`${k}: ${v}\n`)
    process.stdout.write(`beats: ${beats.length} (first ${beats.slice(0, 4).map((b) => b.toFixed(3)).join(', ')})\ndownbeats: ${downbeats.length}\nsummary: ${summary.length} values\n`)
  } finally {
    library.close()
  }
}

async function cmdRemove(which: string, o: { db: string; json?: boolean }) {
  const library = new Library(o.db)
  try {
    const t = await library.remove(trackRef(which))
    if (o.json) out({ removed: { id: t.id, path: t.path } })
    else process.stdout.write(`removed ${t.id}\t${t.path}\n`)
  } finally {
    library.close()
  }
}

async function cmdRecommend(which: string, o: { db: string; limit?: number; tempoTolerance?: number; json?: boolean }) {
  const library = new Library(o.db)
  try {
    const recs = await library.recommend({ from: trackRef(which), limit: o.limit, tempoTolerance: o.tempoTolerance })
    if (o.json) {
      out(recs)
      return
    }
    process.stdout.write('score\ttempo\tharm\tenergy\ttimbre\tlearned\tBPM\tcamelot\tstretch\tid\tpath\n')
    for (const r of recs) {
      const c = r.components
      process.stdout.write(
        `${r.score.toFixed(3)}\t${c.tempo.toFixed(2)}\t${c.harmonic.toFixed(2)}\t${c.energy.toFixed(2)}\t${c.timbre.toFixed(2)}\t${c.learned.toFixed(2)}\t` +
          `${fixed(r.tempoBpm)}\t${r.camelot ?? '-'}\t${fixed(r.stretchRatio, 3)}\t${r.trackId}\t${r.path}\n`,
      )
    }
  } finally {
    library.close()
  }
}

/** Adds `library` and its subcommands to `program`. */
export function addLibraryCommands(program: Command): void {
  const library = program.command('library').description('The music library: scan folders, list tracks, recommend what can follow a track.')
  const db = ['--db <path|url>', `library database: a SQLite file (created on first use) or a postgres://user@host:port/database URL`, DEFAULT_LIBRARY_PATH] as const

  library
    .command('scan')
    .description('Analyse every audio file under <dir> on all cores; unchanged files are skipped, failures recorded. Ctrl-C stops and keeps what is done.')
    .argument('<dir>')
    .option(...db)
    .option('--jobs <n>', 'files analysed at once (default: one per core)', positiveInt('--jobs'))
    .option('--prune', 'remove the tracks under <dir> whose files are gone')
    .option('--json', 'print the summary as one JSON object')
    .option('--queue <url>', 'enqueue one job per file and type on this Redis (redis://host:port[/db]) instead of working here; `resonode worker` runs them')
    .option('--queue-name <name>', 'with --queue: BullMQ queue name (default resonode)')
    .option('--types <list>', 'with --queue: job types, comma-separated: analyze (default), separate, enhance')
    .option('--out <dir>', 'with --queue: output folder of separate / enhance jobs, the same path on every worker (shared storage)')
    .option('--model <path>', 'with --queue: HTDemucs ONNX model of separate jobs')
    .option('--stems <list>', 'with --queue: stems separate jobs write (default: all)')
    .option('--attempts <n>', 'with --queue: tries per job before it is kept as failed (default 5)', positiveInt('--attempts'))
    .option('--wait', 'with --queue: wait for the jobs (progress bar); exit 1 when one failed')
    .action(cmdScan)

  library
    .command('add')
    .description('Analyse one file into the library.')
    .argument('<file>')
    .option(...db)
    .option('--json', 'print the track as one JSON object')
    .action(cmdAdd)

  library
    .command('list')
    .description('List the tracks.')
    .option(...db)
    .option('--json', 'print a JSON array of { id, path, durationS, tempoBpm, key, mode, camelot, loudnessLufs, analyzedAt, error }')
    .action(cmdList)

  library
    .command('show')
    .description('Everything stored about one track.')
    .argument('<track>', 'track id or path')
    .option(...db)
    .option('--json', 'print one JSON object')
    .action(cmdShow)

  library
    .command('remove')
    .description('Remove a track from the library (the file stays).')
    .argument('<track>', 'track id or path')
    .option(...db)
    .option('--json', 'print { removed: { id, path } }')
    .action(cmdRemove)

  library
    .command('recommend')
    .description('Rank the tracks that can follow <track>: tempo, Camelot key, energy, timbre and learned preference.')
    .argument('<track>', 'track id or path')
    .option(...db)
    .option('--limit <n>', 'how many (default 10)', positiveInt('--limit'))
    .option('--tempo-tolerance <fraction>', 'largest tempo stretch (default 0.08 = ±8 %)', Number)
    .option('--json', 'print a JSON array of { trackId, path, score, components: { tempo, harmonic, energy, timbre, learned }, tempoBpm, camelot, stretchRatio }')
    .action(cmdRecommend)
}
