/**
 * The progress bar long commands draw on a terminal (cli-progress), loaded
 * only when one is drawn: `--json` runs, pipes and `--help` never load it.
 */
import type { SingleBar } from 'cli-progress'

/** A bar on stderr with `format` (cli-progress placeholders), or null when stderr is no terminal or `json` is set. */
export function progressBar(format: string, json: boolean | undefined): SingleBar | null {
  if (json || !process.stderr.isTTY) return null
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress')
  return new SingleBar({ format, stream: process.stderr, hideCursor: true }, Presets.shades_classic)
}

/** An `onProgress` callback that moves `bar` to the fraction done (0..1; NaN, an unknown length, leaves it). */
export function barProgress(bar: SingleBar | null): (fraction: number) => void {
  return (f) => {
    if (Number.isFinite(f)) bar?.update(Math.round(f * 100))
  }
}
