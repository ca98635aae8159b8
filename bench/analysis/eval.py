#!/usr/bin/env python3
"""Accuracy of music analysis (tempo, beats, key; loudness as a side check):
resonode against librosa and essentia on a ground-truth manifest made by
scripts/make-groundtruth.mjs.

    node scripts/make-groundtruth.mjs                  # bench/analysis/data/manifest.json (~600 MB, gitignored)
    python3 bench/analysis/eval.py                     # all methods, all subsets
    python3 bench/analysis/eval.py --methods resonode  # only resonode (librosa/essentia from the cache)
    python3 bench/analysis/eval.py --manifest /tmp/gt/manifest.json --sources midi-synth --limit 6

Methods
  librosa   librosa 0.11: librosa.load(sr=22050, mono) ->
            librosa.beat.beat_track (tempo and beat times). librosa has no
            key estimator; key here is the usual recipe: mean chroma_cqt over
            the track correlated (Pearson) with the 24 rotations of the
            Krumhansl-Kessler major/minor profiles (Krumhansl-Schmuckler),
            best correlation wins.
  essentia  essentia.standard: MonoLoader(44100) -> RhythmExtractor2013
            (method='multifeature') for tempo and beats, KeyExtractor()
            (defaults: profileType 'bgate') for key; LoudnessEBUR128 on the
            stereo file for the loudness check.
  resonode  `node bin/resonode.js analyze FILE --json` (one process per
            file, wall time includes Node start-up). Skipped with a message
            when the CLI or its analyze command is not built yet.
  ffmpeg    reference for loudness only: the ebur128 filter (peak=true):
            integrated loudness, loudness range, true peak (printed to 0.1).

Metrics (per file, then averaged per subset)
  tempo Acc1   |est - ref| <= 4 % of ref
  tempo Acc2   the same, also allowing est at 2x, 1/2, 3x, 1/3 of ref
  key score    mir_eval.key.weighted_score (MIREX: 1 same key, 0.5 fifth,
               0.3 relative, 0.2 parallel, 0 other or no key); also the share
               exactly right and the error kinds
  beat F       mir_eval.beat.f_measure, 70 ms window, both sequences trimmed
               of the first 5 s (mir_eval.beat.trim_beats), as mir_eval does;
               AMLt (mir_eval.beat.continuity, any metrical level) beside it
  loudness     |resonode - ffmpeg| and |essentia - ffmpeg| in LU / dB

Subsets are the manifest `source` values. Loops with tempoTrust 'ambiguous'
and Planet Blupi keys with keyTrust 'weak' are listed but not scored. Results
go to bench/analysis/results.json and results.csv (per file) and the
markdown tables to stdout and bench/analysis/results.md. librosa, essentia
and ffmpeg results are cached per file (bench/analysis/data/cache, keyed by
file size and mtime and the library version), so re-running for resonode
takes seconds; --no-cache recomputes.
"""
import argparse
import concurrent.futures as cf
import csv
import datetime
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
KEY_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']
FLAT_TO_SHARP = {'Db': 'C#', 'Eb': 'D#', 'Gb': 'F#', 'Ab': 'G#', 'Bb': 'A#', 'Cb': 'B', 'Fb': 'E', 'E#': 'F', 'B#': 'C'}
# Krumhansl-Kessler probe-tone profiles
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SOURCE_ORDER = ['midi-synth', 'sonic-pi-loop', 'planetblupi', 'fof-chart', 'unlabeled']
METHODS = ['resonode', 'librosa', 'essentia']
RESONODE_FIELDS = ['durationS', 'sampleRate', 'tempoBpm', 'tempoConfidence', 'beats', 'key', 'mode', 'camelot',
                   'keyConfidence', 'loudnessLufs', 'loudnessRangeLu', 'truePeakDbtp', 'energy']


def norm_key(k):
    if k is None:
        return None
    k = str(k).strip()
    if not k:
        return None
    k = k[0].upper() + k[1:]
    return FLAT_TO_SHARP.get(k, k)


def norm_mode(m):
    if m is None:
        return None
    m = str(m).strip().lower()
    return {'maj': 'major', 'min': 'minor'}.get(m, m) or None


# ---------------------------------------------------------------- estimators

def ks_key(chroma_mean):
    """Krumhansl-Schmuckler: best Pearson correlation over the 24 rotated profiles."""
    best = (-2.0, None, None)
    for t in range(12):
        for mode, prof in (('major', KK_MAJOR), ('minor', KK_MINOR)):
            r = np.corrcoef(chroma_mean, np.roll(prof, t))[0, 1]
            if r > best[0]:
                best = (float(r), KEY_NAMES[t], mode)
    return best


def run_librosa(path):
    import librosa
    t0 = time.perf_counter()
    y, sr = librosa.load(path, sr=22050, mono=True)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units='time')
    tempo = float(np.atleast_1d(tempo)[0])
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
    r, key, mode = ks_key(chroma.mean(axis=1))
    return {'tempoBpm': tempo if tempo > 0 else None, 'beats': [float(b) for b in beats], 'key': key, 'mode': mode,
            'keyConfidence': r, 'seconds': time.perf_counter() - t0, 'durationS': len(y) / sr}


def run_essentia(path):
    import essentia
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es
    t0 = time.perf_counter()
    audio = es.MonoLoader(filename=path, sampleRate=44100)()
    bpm, beats, conf, _, _ = es.RhythmExtractor2013(method='multifeature')(audio)
    key, scale, strength = es.KeyExtractor()(audio)
    secs = time.perf_counter() - t0
    out = {'tempoBpm': float(bpm) if bpm > 0 else None, 'beats': [float(b) for b in beats], 'key': norm_key(key),
           'mode': norm_mode(scale), 'keyConfidence': float(strength), 'tempoConfidence': float(conf),
           'seconds': secs, 'durationS': len(audio) / 44100.0}
    try:  # loudness on the stereo signal (side check against ffmpeg)
        stereo, sr, nch, *_ = es.AudioLoader(filename=path)()
        if nch == 1:
            stereo = np.repeat(stereo[:, :1], 2, axis=1)
        _, _, integrated, lra = es.LoudnessEBUR128(sampleRate=sr)(stereo)
        out['loudnessLufs'] = float(integrated)
        out['loudnessRangeLu'] = float(lra)
    except Exception as e:  # noqa: BLE001
        out['loudnessError'] = str(e)
    return out


def run_ffmpeg_loudness(path):
    p = subprocess.run(['ffmpeg', '-hide_banner', '-nostats', '-i', path, '-af', 'ebur128=peak=true', '-f', 'null', '-'],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {'error': p.stderr[-500:]}
    summary = p.stderr[p.stderr.rfind('Summary:'):]
    grab = lambda pat: (lambda m: float(m.group(1)) if m else None)(re.search(pat, summary))  # noqa: E731
    return {'loudnessLufs': grab(r'I:\s+(-?[\d.]+|-inf) LUFS'), 'loudnessRangeLu': grab(r'LRA:\s+(-?[\d.]+) LU'),
            'truePeakDbtp': grab(r'Peak:\s+(-?[\d.]+|-inf) dBFS')}


class Resonode:
    """The resonode CLI, if built; .available / .why tell."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.available, self.why = self._probe()

    def _probe(self):
        if not shutil.which(self.cmd[0]):
            return False, f'{self.cmd[0]} not found'
        try:
            p = subprocess.run(self.cmd + ['analyze', '--help'], capture_output=True, text=True, timeout=60, cwd=ROOT)
        except Exception as e:  # noqa: BLE001
            return False, f'{" ".join(self.cmd)} analyze --help failed: {e}'
        text = (p.stdout + p.stderr)
        if p.returncode != 0 or '--json' not in text:
            lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
            errs = [ln for ln in lines if 'rror' in ln or 'unknown' in ln.lower()]
            first = (errs or lines or [f'exit {p.returncode}'])[0]
            return False, f'`{" ".join(self.cmd)} analyze --help` did not work (exit {p.returncode}: {first[:200]})'
        return True, ''

    def run(self, path, timeout=600):
        t0 = time.perf_counter()
        p = subprocess.run(self.cmd + ['analyze', path, '--json'], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        secs = time.perf_counter() - t0
        if p.returncode != 0:
            return {'error': f'exit {p.returncode}: {p.stderr.strip()[-400:]}', 'seconds': secs}
        try:
            out = json.loads(p.stdout)
        except json.JSONDecodeError as e:
            return {'error': f'stdout is not JSON ({e}): {p.stdout[:200]!r}', 'seconds': secs}
        missing = [f for f in RESONODE_FIELDS if f not in out]
        est = {'seconds': secs, 'raw': {k: v for k, v in out.items() if k != 'beats'}}
        if missing:
            est['schemaWarning'] = f'missing fields: {", ".join(missing)}'
        tempo = out.get('tempoBpm')
        est['tempoBpm'] = float(tempo) if isinstance(tempo, (int, float)) and tempo > 0 else None
        est['beats'] = [float(b) for b in (out.get('beats') or [])]
        est['key'] = norm_key(out.get('key'))
        est['mode'] = norm_mode(out.get('mode'))
        for k in ('tempoConfidence', 'keyConfidence', 'loudnessLufs', 'loudnessRangeLu', 'truePeakDbtp', 'durationS', 'camelot', 'energy'):
            if k in out:
                est[k] = out[k]
        return est


# ---------------------------------------------------------------- cache

def cache_path(cache_dir, method, path, version):
    st = os.stat(path)
    h = hashlib.sha1(f'{os.path.abspath(path)}|{st.st_size}|{int(st.st_mtime)}|{version}'.encode()).hexdigest()[:16]
    return os.path.join(cache_dir, method, f'{os.path.basename(path)}.{h}.json')


def _worker(args):
    method, path = args
    warnings.filterwarnings('ignore')
    try:
        if method == 'librosa':
            return run_librosa(path)
        if method == 'essentia':
            return run_essentia(path)
        if method == 'ffmpeg':
            return run_ffmpeg_loudness(path)
    except Exception as e:  # noqa: BLE001
        return {'error': f'{type(e).__name__}: {e}'}
    raise ValueError(method)


# ---------------------------------------------------------------- metrics

def tempo_metrics(ref, est):
    if ref is None:
        return {}
    if est is None:
        return {'tempoAcc1': 0.0, 'tempoAcc2': 0.0}
    ok = lambda f: abs(est - f * ref) <= 0.04 * f * ref  # noqa: E731
    return {'tempoAcc1': float(ok(1)), 'tempoAcc2': float(any(ok(f) for f in (1, 2, 0.5, 3, 1 / 3)))}


def key_metrics(ref_key, ref_mode, est_key, est_mode):
    import mir_eval
    if ref_key is None or ref_mode is None:
        return {}
    ref = f'{ref_key} {ref_mode}'
    if est_key is None or est_mode not in ('major', 'minor'):
        return {'keyScore': 0.0, 'keyExact': 0.0, 'keyError': 'none'}
    est = f'{est_key} {est_mode}'
    score = float(mir_eval.key.weighted_score(ref, est))
    kind = {1.0: 'exact', 0.5: 'fifth', 0.3: 'relative', 0.2: 'parallel'}.get(round(score, 2), 'other')
    return {'keyScore': score, 'keyExact': float(score == 1.0), 'keyError': kind}


def beat_metrics(ref_beats, est_beats):
    import mir_eval
    if not ref_beats:
        return {}
    ref = mir_eval.beat.trim_beats(np.asarray(ref_beats, dtype=float))
    est = mir_eval.beat.trim_beats(np.asarray(est_beats or [], dtype=float))
    if ref.size == 0:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        f = float(mir_eval.beat.f_measure(ref, est, 0.07))
        try:
            _, _, _, amlt = mir_eval.beat.continuity(ref, est)
        except Exception:  # noqa: BLE001
            amlt = 0.0
    return {'beatF': f, 'beatAMLt': float(amlt)}


def scored_tempo(entry):
    if entry.get('tempoBpm') is None:
        return None
    if entry.get('tempoTrust') == 'ambiguous':
        return None
    return entry['tempoBpm']


def scored_key(entry):
    if entry.get('key') is None or entry.get('mode') is None:
        return None, None
    if entry.get('keyTrust') == 'weak':
        return None, None
    return entry['key'], entry['mode']


def scored_beats(entry, loop_beats):
    if entry.get('source') == 'sonic-pi-loop' and not loop_beats:
        return None
    if entry.get('tempoTrust') == 'ambiguous':
        return None
    return entry.get('beats') or None


# ---------------------------------------------------------------- main

def versions():
    v = {'python': platform.python_version(), 'numpy': np.__version__}
    try:
        import librosa
        v['librosa'] = librosa.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        import essentia
        v['essentia'] = essentia.__version__
    except Exception:  # noqa: BLE001
        pass
    import mir_eval
    v['mir_eval'] = mir_eval.__version__
    try:
        v['ffmpeg'] = subprocess.run(['ffmpeg', '-version'], capture_output=True, text=True).stdout.split('\n')[0].split(' ')[2]
    except Exception:  # noqa: BLE001
        pass
    try:
        v['resonode_commit'] = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except Exception:  # noqa: BLE001
        pass
    return v


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def fmt(x, kind):
    if x is None:
        return '–'
    if kind == 'pct':
        return f'{100 * x:.1f} %'
    if kind == 'score':
        return f'{x:.3f}'
    if kind == 'sec':
        return f'{x:.2f}'
    if kind == 'x':
        return f'{x:.0f}x'
    if kind == 'db':
        return f'{x:.2f}'
    return str(x)


def aggregate(rows, methods):
    """rows: per-file dicts (entry, est per method, metrics per method). Returns {group: {method: {...}}}."""
    groups = {}
    for r in rows:
        names = [r['source']]
        if r['source'] == 'midi-synth':
            names.append('midi-synth, drums' if r['drums'] else 'midi-synth, no drums')
        for g in names:
            groups.setdefault(g, []).append(r)
    agg = {}
    for g, rs in groups.items():
        agg[g] = {}
        for m in methods:
            ms = [r['metrics'].get(m, {}) for r in rs if m in r['est']]
            ests = [r['est'][m] for r in rs if m in r['est']]
            if not ests:
                continue
            a = {'files': len(ests), 'errors': sum(1 for e in ests if 'error' in e)}
            for k in ('tempoAcc1', 'tempoAcc2', 'keyScore', 'keyExact', 'beatF', 'beatAMLt'):
                vals = [x[k] for x in ms if k in x]
                a[k] = mean(vals)
                a[k + 'N'] = len(vals)
            kinds = {}
            for x in ms:
                if 'keyError' in x:
                    kinds[x['keyError']] = kinds.get(x['keyError'], 0) + 1
            a['keyErrors'] = kinds
            secs = [e.get('seconds') for e in ests if e.get('seconds') is not None]
            durs = [r['durationS'] for r in rs if m in r['est'] and r.get('durationS')]
            a['secondsPerFile'] = mean(secs)
            a['xRealtime'] = (sum(durs) / sum(secs)) if secs and durs and sum(secs) > 0 else None
            for k in ('loudnessLufs', 'loudnessRangeLu', 'truePeakDbtp'):
                diffs = [abs(r['est'][m][k] - r['ref_loudness'][k]) for r in rs
                         if m in r['est'] and isinstance(r['est'][m].get(k), (int, float)) and r.get('ref_loudness')
                         and isinstance(r['ref_loudness'].get(k), (int, float)) and math.isfinite(r['est'][m][k])]
                a[k + 'AbsDiff'] = mean(diffs)
                a[k + 'MaxDiff'] = max(diffs) if diffs else None
            agg[g][m] = a
    return agg


def markdown(agg, methods, skipped):
    lines = []
    order = ['midi-synth', 'midi-synth, drums', 'midi-synth, no drums', 'sonic-pi-loop', 'planetblupi', 'fof-chart']
    spec = [('tempo Acc1 (±4 %)', 'tempoAcc1', 'pct'), ('tempo Acc2 (also x2, x1/2, x3, x1/3)', 'tempoAcc2', 'pct'),
            ('key MIREX weighted score', 'keyScore', 'score'), ('key exactly right', 'keyExact', 'pct'),
            ('beat F-measure (70 ms)', 'beatF', 'score'), ('beat AMLt (any metrical level)', 'beatAMLt', 'score'),
            ('integrated loudness, mean abs. difference to ffmpeg ebur128 (LU)', 'loudnessLufsAbsDiff', 'db'),
            ('loudness range, mean abs. difference to ffmpeg (LU)', 'loudnessRangeLuAbsDiff', 'db'),
            ('true peak, mean abs. difference to ffmpeg (dB)', 'truePeakDbtpAbsDiff', 'db'),
            ('seconds per file (wall)', 'secondsPerFile', 'sec'), ('x real time', 'xRealtime', 'x')]
    for g in order + sorted(k for k in agg if k not in order):
        if g not in agg or g == 'unlabeled':
            continue
        a = agg[g]
        n = max((v['files'] for v in a.values()), default=0)
        lines.append(f'### {g} ({n} files)')
        lines.append('')
        lines.append('| metric | ' + ' | '.join(methods) + ' |')
        lines.append('|---|' + '---:|' * len(methods))
        for label, k, kind in spec:
            cells = []
            any_val = False
            for m in methods:
                if m not in a:
                    cells.append('not run' if m in skipped else '–')
                    continue
                v = a[m].get(k)
                nk = a[m].get(k + 'N')
                any_val = any_val or v is not None
                cell = fmt(v, kind)
                if v is not None and nk is not None and nk != a[m]['files']:
                    cell += f' (n={nk})'
                cells.append(cell)
            if any_val:
                lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
        errs = {m: a[m]['keyErrors'] for m in methods if m in a and a[m]['keyErrors']}
        if errs:
            lines.append('| key errors (fifth/relative/parallel/other/none) | ' + ' | '.join(
                '/'.join(str(errs.get(m, {}).get(k, 0)) for k in ('fifth', 'relative', 'parallel', 'other', 'none')) if m in errs else '–'
                for m in methods) + ' |')
        fails = [f'{m}: {a[m]["errors"]} failed' for m in methods if m in a and a[m]['errors']]
        if fails:
            lines.append('')
            lines.append('Failures: ' + ', '.join(fails))
        lines.append('')
    return '\n'.join(lines)


def unlabeled_table(rows, methods):
    rs = [r for r in rows if r['source'] == 'unlabeled']
    if not rs:
        return ''
    lines = ['### unlabeled (no ground truth: what each tool says)', '',
             '| file | ' + ' | '.join(f'{m} tempo / key' for m in methods) + ' |', '|---|' + '---|' * len(methods)]
    for r in rs:
        cells = []
        for m in methods:
            e = r['est'].get(m)
            if e is None:
                cells.append('not run')
            elif 'error' in e:
                cells.append('error')
            else:
                t = f'{e["tempoBpm"]:.1f}' if e.get('tempoBpm') else 'none'
                k = f'{e["key"]} {e["mode"]}' if e.get('key') else 'none'
                cells.append(f'{t} / {k}')
        lines.append(f'| {r["id"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--manifest', default=os.path.join(HERE, 'data', 'manifest.json'))
    ap.add_argument('--methods', default='resonode,librosa,essentia')
    ap.add_argument('--sources', default=None, help='comma-separated manifest sources (default all)')
    ap.add_argument('--limit', type=int, default=None, help='at most N files per source')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--no-cache', action='store_true')
    ap.add_argument('--no-loudness', action='store_true', help='skip the ffmpeg loudness reference')
    ap.add_argument('--loop-beats', action='store_true', help='also score beats on the sonic-pi loops (grid from sample 0)')
    ap.add_argument('--resonode-cmd', default=f'node {os.path.join(ROOT, "bin", "resonode.js")}')
    ap.add_argument('--out', default=os.path.join(HERE, 'results.json'))
    args = ap.parse_args()

    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    for m in methods:
        if m not in METHODS:
            sys.exit(f'--methods: unknown {m} (know {", ".join(METHODS)})')
    with open(args.manifest) as f:
        manifest = json.load(f)
    base = os.path.dirname(os.path.abspath(args.manifest))
    sources = set(args.sources.split(',')) if args.sources else None
    entries, per_source = [], {}
    for e in manifest:
        if sources and e['source'] not in sources:
            continue
        per_source[e['source']] = per_source.get(e['source'], 0) + 1
        if args.limit and per_source[e['source']] > args.limit:
            continue
        e = dict(e)
        e['path'] = e['file'] if os.path.isabs(e['file']) else os.path.join(base, e['file'])
        if not os.path.exists(e['path']):
            print(f'missing {e["path"]}: skipped (run scripts/make-groundtruth.mjs)', file=sys.stderr)
            continue
        entries.append(e)
    print(f'{len(entries)} files from {args.manifest}', file=sys.stderr)

    skipped = {}
    ver = versions()
    cache_dir = os.path.join(base, 'cache')
    ests = {e['path']: {} for e in entries}
    loud = {}

    # python-side methods, cached, in a process pool
    jobs = []
    lib_version = {'librosa': ver.get('librosa'), 'essentia': ver.get('essentia'), 'ffmpeg': ver.get('ffmpeg')}
    py_methods = [m for m in methods if m in ('librosa', 'essentia')]
    if not args.no_loudness and shutil.which('ffmpeg'):
        py_methods.append('ffmpeg')
    for m in py_methods:
        for e in entries:
            cp = cache_path(cache_dir, m, e['path'], f'{lib_version.get(m)}|v1')
            if not args.no_cache and os.path.exists(cp):
                with open(cp) as f:
                    res = json.load(f)
                (loud.__setitem__(e['path'], res) if m == 'ffmpeg' else ests[e['path']].__setitem__(m, res))
            else:
                jobs.append((m, e['path'], cp))
    if jobs:
        print(f'running {len(jobs)} librosa/essentia/ffmpeg analyses on {args.jobs} processes...', file=sys.stderr)
        t0 = time.time()
        with cf.ProcessPoolExecutor(max_workers=args.jobs) as ex:
            futs = {ex.submit(_worker, (m, p)): (m, p, cp) for m, p, cp in jobs}
            for i, fut in enumerate(cf.as_completed(futs)):
                m, p, cp = futs[fut]
                res = fut.result()
                if m == 'ffmpeg':
                    loud[p] = res
                else:
                    ests[p][m] = res
                if 'error' not in res:
                    os.makedirs(os.path.dirname(cp), exist_ok=True)
                    with open(cp, 'w') as f:
                        json.dump(res, f)
                else:
                    print(f'  {m} failed on {p}: {res["error"]}', file=sys.stderr)
                if (i + 1) % 20 == 0:
                    print(f'  {i + 1}/{len(jobs)} ({time.time() - t0:.0f} s)', file=sys.stderr)

    if 'resonode' in methods:
        rn = Resonode(args.resonode_cmd.split())
        if not rn.available:
            skipped['resonode'] = rn.why
            print(f'resonode skipped: {rn.why}', file=sys.stderr)
        else:
            print(f'running resonode on {len(entries)} files...', file=sys.stderr)
            for e in entries:  # one at a time: the wall time per file is part of the result
                ests[e['path']]['resonode'] = rn.run(e['path'])
                if 'error' in ests[e['path']]['resonode']:
                    print(f'  resonode failed on {e["path"]}: {ests[e["path"]]["resonode"]["error"]}', file=sys.stderr)
    run_methods = [m for m in methods if m not in skipped]

    rows = []
    for e in entries:
        ref_t = scored_tempo(e)
        ref_k, ref_m = scored_key(e)
        ref_b = scored_beats(e, args.loop_beats)
        row = {'id': e.get('id'), 'source': e['source'], 'file': e['file'], 'drums': e.get('drums'),
               'durationS': e.get('durationS') or next((x.get('durationS') for x in ests[e['path']].values() if x.get('durationS')), None),
               'ref': {'tempoBpm': e.get('tempoBpm'), 'key': e.get('key'), 'mode': e.get('mode'),
                       'tempoScored': ref_t is not None, 'keyScored': ref_k is not None, 'beatsScored': ref_b is not None},
               'ref_loudness': loud.get(e['path']), 'est': {}, 'metrics': {}}
        for m in run_methods:
            est = ests[e['path']].get(m)
            if est is None:
                continue
            row['est'][m] = est
            if 'error' in est:
                mt = {}
                if ref_t is not None:
                    mt.update(tempo_metrics(ref_t, None))
                if ref_k is not None:
                    mt.update(key_metrics(ref_k, ref_m, None, None))
                if ref_b is not None:
                    mt.update(beat_metrics(ref_b, []))
            else:
                mt = {}
                mt.update(tempo_metrics(ref_t, est.get('tempoBpm')))
                mt.update(key_metrics(ref_k, ref_m, est.get('key'), est.get('mode')))
                if ref_b is not None:
                    mt.update(beat_metrics(ref_b, est.get('beats')))
            row['metrics'][m] = mt
        rows.append(row)

    agg = aggregate(rows, run_methods)
    md_methods = [m for m in methods]
    md = markdown(agg, md_methods, skipped) + '\n' + unlabeled_table(rows, run_methods)
    header = [f'Music analysis accuracy, {datetime.date.today().isoformat()}; '
              + ', '.join(f'{k} {v}' for k, v in ver.items() if v) + '.', '']
    for m, why in skipped.items():
        header += [f'**{m} not run**: {why}', '']
    md = '\n'.join(header) + '\n' + md

    # per-file CSV
    csv_path = os.path.splitext(args.out)[0] + '.csv'
    with open(csv_path, 'w', newline='') as f:
        w = csv.writer(f)
        cols = ['source', 'id', 'file', 'drums', 'ref_tempo', 'ref_key', 'tempo_scored', 'key_scored', 'beats_scored']
        for m in run_methods:
            cols += [f'{m}_{c}' for c in ('tempo', 'key', 'nbeats', 'tempoAcc1', 'tempoAcc2', 'keyScore', 'beatF', 'beatAMLt', 'lufs', 'seconds', 'error')]
        cols += ['ffmpeg_lufs', 'ffmpeg_lra', 'ffmpeg_truepeak']
        w.writerow(cols)
        for r in rows:
            line = [r['source'], r['id'], r['file'], r['drums'], r['ref']['tempoBpm'],
                    f'{r["ref"]["key"]} {r["ref"]["mode"]}' if r['ref']['key'] else '',
                    r['ref']['tempoScored'], r['ref']['keyScored'], r['ref']['beatsScored']]
            for m in run_methods:
                e = r['est'].get(m, {})
                mt = r['metrics'].get(m, {})
                line += [f'{e["tempoBpm"]:.3f}' if e.get('tempoBpm') else '', f'{e["key"]} {e["mode"]}' if e.get('key') else '',
                         len(e.get('beats') or []), mt.get('tempoAcc1', ''), mt.get('tempoAcc2', ''), mt.get('keyScore', ''),
                         f'{mt["beatF"]:.4f}' if 'beatF' in mt else '', f'{mt["beatAMLt"]:.4f}' if 'beatAMLt' in mt else '',
                         f'{e["loudnessLufs"]:.2f}' if isinstance(e.get('loudnessLufs'), (int, float)) else '',
                         f'{e["seconds"]:.3f}' if e.get('seconds') is not None else '', e.get('error', '')]
            rl = r.get('ref_loudness') or {}
            line += [rl.get('loudnessLufs', ''), rl.get('loudnessRangeLu', ''), rl.get('truePeakDbtp', '')]
            w.writerow(line)

    slim_rows = []
    for r in rows:
        s = dict(r)
        s['est'] = {m: {k: v for k, v in e.items() if k != 'beats'} | {'nBeats': len(e.get('beats') or [])} for m, e in r['est'].items()}
        slim_rows.append(s)
    result = {'date': datetime.datetime.now().isoformat(timespec='seconds'), 'manifest': os.path.relpath(args.manifest, ROOT),
              'versions': ver, 'methods': methods, 'skipped': skipped, 'aggregate': agg, 'files': slim_rows, 'markdown': md}
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=1, default=lambda o: None)
    md_path = os.path.splitext(args.out)[0] + '.md'
    with open(md_path, 'w') as f:
        f.write(md)
    print(md)
    print(f'wrote {os.path.relpath(args.out)}, {os.path.relpath(csv_path)}, {os.path.relpath(md_path)}', file=sys.stderr)


if __name__ == '__main__':
    main()
