#!/usr/bin/env python3
"""Whole-track analysis speed and memory: resonode against librosa doing the
same job, in one run on one machine.

    python3 bench/analysis/speed.py                 # 10-min and 2-min files, 3 reps, writes speed.json
    python3 bench/analysis/speed.py --reps 5
    python3 bench/analysis/speed.py --job FILE --frames OUT.csv   # the librosa job alone

Input: a 10-minute stereo 44.1 kHz 16-bit WAV made by concatenating real
recordings (the Frets on Fire songs prepared by scripts/make-groundtruth.mjs,
--subset fof; else the rendered midi-synth songs) with sox, and its first 2
minutes, in bench/analysis/data/speed/.

The two jobs, each one whole process, timed with /usr/bin/time -v (wall
clock and peak RSS), interleaved, median of --reps:
  resonode  node bin/resonode.js analyze FILE --json --frames /tmp/...csv
  librosa   this script with --job: librosa.load(sr=22050, mono) (soxr
            resampling), one STFT (n_fft 2048, hop 512) shared by rms,
            spectral centroid, bandwidth, rolloff, flatness, mel -> mfcc (13),
            chroma_stft; zero_crossing_rate on the signal; onset_strength;
            beat_track on that onset envelope; key by Krumhansl-Schmuckler on
            mean chroma; all frame features written to a CSV like
            resonode's --frames. Python start-up and imports are part of the
            process time; the job also reports its time after imports.
            Loudness: librosa has none; the job measures EBU R128 integrated
            loudness with pyloudnorm (BS.1770-4, the usual Python choice) on
            the file at its own rate and channels. pyloudnorm has no loudness
            range or true peak, which resonode also computes, so the
            comparison still favours the Python side. `--no-loudness` leaves
            it out (then it is librosa alone). Peak RSS on the 2- and 10-minute files shows whether memory grows
with the length of the track.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
DATA = os.path.join(HERE, 'data')


# ---------------------------------------------------------------- the librosa job

def librosa_job(path, frames_out, warm=False, loudness=True):
    t_start = time.perf_counter()
    import numpy as np  # noqa: F401
    import librosa  # noqa: F401
    if loudness:
        import pyloudnorm  # noqa: F401
    t_imported = time.perf_counter()
    res = librosa_analysis(path, frames_out, loudness)
    res['importS'] = t_imported - t_start
    res['afterImportS'] = time.perf_counter() - t_imported
    if warm:  # the same again in this process: no JIT compilation, files in the page cache
        t0 = time.perf_counter()
        librosa_analysis(path, frames_out, loudness)
        res['warmS'] = time.perf_counter() - t0
    print(json.dumps(res))


def librosa_analysis(path, frames_out, loudness=True):
    import numpy as np
    import librosa
    t_imported = time.perf_counter()
    lufs = None
    if loudness:
        import pyloudnorm
        import soundfile
        x, file_sr = soundfile.read(path)
        lufs = float(pyloudnorm.Meter(file_sr).integrated_loudness(x))
        del x
    t_loudness = time.perf_counter()
    sr = 22050
    hop = 512
    y, sr = librosa.load(path, sr=sr, mono=True)
    t_loaded = time.perf_counter()
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop))
    P = S ** 2
    rms = librosa.feature.rms(S=S, frame_length=2048, hop_length=hop)[0]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=hop)[0]
    centroid = librosa.feature.spectral_centroid(S=S, sr=sr)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=S, sr=sr)[0]
    rolloff = librosa.feature.spectral_rolloff(S=S, sr=sr)[0]
    flatness = librosa.feature.spectral_flatness(S=S)[0]
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=P, sr=sr))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=13)
    chroma = librosa.feature.chroma_stft(S=P, sr=sr)
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr)
    tempo, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=hop, units='time')
    tempo = float(np.atleast_1d(tempo)[0])
    # Krumhansl-Schmuckler on mean chroma
    kk_maj = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    kk_min = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    names = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']
    cm = chroma.mean(axis=1)
    best = max(((np.corrcoef(cm, np.roll(p, t))[0, 1], names[t], m) for t in range(12) for m, p in (('major', kk_maj), ('minor', kk_min))))
    n = min(len(rms), len(zcr), mfcc.shape[1], chroma.shape[1], len(onset))
    times = librosa.frames_to_time(np.arange(n), sr=sr, hop_length=hop)
    table = np.column_stack([times, rms[:n], zcr[:n], centroid[:n], bandwidth[:n], rolloff[:n], flatness[:n], mfcc[:, :n].T, chroma[:, :n].T, onset[:n]])
    header = ['time', 'rms', 'zcr', 'centroid', 'bandwidth', 'rolloff', 'flatness'] + [f'mfcc{i}' for i in range(13)] + [f'chroma{i}' for i in range(12)] + ['onset']
    np.savetxt(frames_out, table, delimiter=',', header=','.join(header), comments='', fmt='%.6g')
    t_end = time.perf_counter()
    return {'tempoBpm': tempo, 'beats': len(beats), 'key': best[1], 'mode': best[2], 'frames': int(n), 'loudnessLufs': lufs,
            'loudnessS': t_loudness - t_imported, 'loadS': t_loaded - t_loudness, 'featuresS': t_end - t_loaded}


# ---------------------------------------------------------------- harness

def make_inputs(minutes_long, minutes_short):
    d = os.path.join(DATA, 'speed')
    os.makedirs(d, exist_ok=True)
    long_path = os.path.join(d, f'speed-{minutes_long}min.wav')
    short_path = os.path.join(d, f'speed-{minutes_short}min.wav')
    if not os.path.exists(long_path):
        srcs = sorted(os.path.join(DATA, 'fof', f) for f in os.listdir(os.path.join(DATA, 'fof'))) if os.path.isdir(os.path.join(DATA, 'fof')) else []
        what = 'Frets on Fire recordings'
        if not srcs:
            syn = os.path.join(DATA, 'midi-synth')
            srcs = sorted(os.path.join(syn, f) for f in os.listdir(syn) if f.startswith('song-')) if os.path.isdir(syn) else []
            what = 'rendered midi-synth songs'
        if not srcs:
            sys.exit('no material: run `node scripts/make-groundtruth.mjs --subset fof` (or synth) first')
        # enough files for the length, every one brought to 44.1 kHz stereo by sox
        total, use = 0.0, []
        for s in srcs:
            use.append(s)
            total += float(subprocess.check_output(['soxi', '-D', s]).decode())
            if total >= minutes_long * 60 + 1:
                break
        if total < minutes_long * 60:
            use = use * int(minutes_long * 60 // total + 1)
        tmpdir = tempfile.mkdtemp(prefix='resonode-speed-')
        parts = []
        for i, s in enumerate(use):
            p = os.path.join(tmpdir, f'{i:03d}.wav')
            subprocess.check_call(['sox', '-D', s, '-b', '16', '-r', '44100', '-c', '2', p])
            parts.append(p)
        subprocess.check_call(['sox', '-D', *parts, long_path, 'trim', '0', str(minutes_long * 60)])
        shutil.rmtree(tmpdir)
        print(f'made {long_path} from {len(use)} {what}', file=sys.stderr)
    if not os.path.exists(short_path):
        subprocess.check_call(['sox', '-D', long_path, short_path, 'trim', '0', str(minutes_short * 60)])
    return long_path, short_path


def timed(cmd):
    """Run cmd under /usr/bin/time -v; returns (wall s, peak RSS MB, user s, sys s, stdout)."""
    with tempfile.NamedTemporaryFile('r', suffix='.time') as tf:
        t0 = time.perf_counter()
        p = subprocess.run(['/usr/bin/time', '-v', '-o', tf.name, *cmd], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        rep = open(tf.name).read()
    if p.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} exited {p.returncode}: {p.stderr[-800:]}')
    grab = lambda pat: float(re.search(pat, rep).group(1))  # noqa: E731
    return {'wallS': wall, 'rssMB': grab(r'Maximum resident set size \(kbytes\): (\d+)') / 1024,
            'userS': grab(r'User time \(seconds\): ([\d.]+)'), 'sysS': grab(r'System time \(seconds\): ([\d.]+)'), 'stdout': p.stdout}


def resonode_status(cmd):
    try:
        p = subprocess.run(cmd + ['analyze', '--help'], capture_output=True, text=True, timeout=60, cwd=ROOT)
    except Exception as e:  # noqa: BLE001
        return False, str(e)
    text = p.stdout + p.stderr
    if p.returncode != 0 or '--frames' not in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        errs = [ln for ln in lines if 'rror' in ln or 'unknown' in ln.lower()]
        return False, f'`{" ".join(cmd)} analyze --help` did not work or has no --frames (exit {p.returncode}: {(errs or lines or [""])[0][:200]})'
    return True, ''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--job', help='run the librosa job on FILE and exit')
    ap.add_argument('--frames', help='with --job: CSV of frame features')
    ap.add_argument('--warm', action='store_true', help='with --job: run the analysis twice, report the second (warm) time too')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--minutes', type=int, default=10)
    ap.add_argument('--short-minutes', type=int, default=2)
    ap.add_argument('--resonode-cmd', default=f'node {os.path.join(ROOT, "bin", "resonode.js")}')
    ap.add_argument('--out', default=os.path.join(HERE, 'speed.json'))
    ap.add_argument('--no-loudness', action='store_true', help='leave pyloudnorm out of the librosa job')
    args = ap.parse_args()
    if args.job:
        librosa_job(args.job, args.frames or os.devnull, args.warm, not args.no_loudness)
        return
    if not os.path.exists('/usr/bin/time'):
        sys.exit('/usr/bin/time not found: apt-get install time')
    long_path, short_path = make_inputs(args.minutes, args.short_minutes)
    rn_cmd = args.resonode_cmd.split()
    rn_ok, rn_why = resonode_status(rn_cmd)
    if not rn_ok:
        print(f'resonode skipped: {rn_why}', file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix='resonode-speed-out-')
    jobs = {
        'librosa': lambda f: [sys.executable, os.path.abspath(__file__), '--job', f, '--frames', os.path.join(tmp, 'librosa.csv')] + (['--no-loudness'] if args.no_loudness else []),
        'resonode': lambda f: rn_cmd + ['analyze', f, '--json', '--frames', os.path.join(tmp, 'resonode.csv')],
    }
    names = ['resonode', 'librosa'] if rn_ok else ['librosa']
    load = os.getloadavg()
    results = {}
    for label, path, reps in (('10min', long_path, args.reps), ('2min', short_path, args.reps)):
        runs = {n: [] for n in names}
        for rep in range(reps):
            for n in (names if rep % 2 == 0 else names[::-1]):  # interleaved, alternating order
                r = timed(jobs[n](path))
                out = r.pop('stdout')
                try:
                    r['output'] = json.loads(out.strip().splitlines()[-1])
                    if n == 'resonode':
                        r['output'] = {k: v for k, v in r['output'].items() if k != 'beats'}
                except Exception:  # noqa: BLE001
                    r['output'] = None
                runs[n].append(r)
                print(f'  {label} {n} rep {rep + 1}: {r["wallS"]:.2f} s wall, {r["rssMB"]:.0f} MB peak RSS', file=sys.stderr)
        dur = float(subprocess.check_output(['soxi', '-D', path]).decode())
        warm = timed([sys.executable, os.path.abspath(__file__), '--job', path, '--warm', '--frames', os.path.join(tmp, 'librosa.csv')] + (['--no-loudness'] if args.no_loudness else []))
        warm_s = json.loads(warm['stdout'].strip().splitlines()[-1])['warmS']
        print(f'  {label} librosa warm (2nd run in one process): {warm_s:.2f} s', file=sys.stderr)
        results[label] = {'librosaWarmS': warm_s, 'file': os.path.relpath(path, ROOT), 'durationS': dur, 'runs': runs, 'median': {
            n: {'wallS': statistics.median(x['wallS'] for x in runs[n]), 'userS': statistics.median(x['userS'] for x in runs[n]),
                'sysS': statistics.median(x['sysS'] for x in runs[n]), 'rssMB': max(x['rssMB'] for x in runs[n]),
                'afterImportS': statistics.median(x['output']['afterImportS'] for x in runs[n]) if n == 'librosa' and all(x['output'] for x in runs[n]) else None}
            for n in names}}
    shutil.rmtree(tmp, ignore_errors=True)

    lines = [f'Whole-track analysis, stereo 44.1 kHz 16-bit WAV; median of {args.reps} interleaved runs; '
             f'{os.cpu_count()} cores, load average {load[0]:.2f} at the start. The librosa job '
             + ('is librosa alone (no loudness).' if args.no_loudness else 'is librosa + pyloudnorm (integrated loudness).'), '']
    if not rn_ok:
        lines += [f'**resonode not run**: {rn_why}', '']
    lines += ['| file | job | wall s | user s | sys s | x real time | peak RSS MB | librosa: after imports s / warm 2nd run s |', '|---|---|---:|---:|---:|---:|---:|---:|']
    for label in ('10min', '2min'):
        r = results[label]
        for n in ['resonode', 'librosa']:
            if n not in r['median']:
                lines.append(f'| {label} | {n} | not run | | | | | |')
                continue
            m = r['median'][n]
            ai = f'{m["afterImportS"]:.2f} / {r["librosaWarmS"]:.2f}' if m['afterImportS'] is not None else ''
            lines.append(f'| {label} ({r["durationS"]:.0f} s) | {n} | {m["wallS"]:.2f} | {m["userS"]:.2f} | {m["sysS"]:.2f} | '
                         f'{r["durationS"] / m["wallS"]:.0f}x | {m["rssMB"]:.0f} | {ai} |')
    lines.append('')
    summary = {}
    if rn_ok:
        for label in ('10min', '2min'):
            m = results[label]['median']
            summary[label] = {'speedup': m['librosa']['wallS'] / m['resonode']['wallS']}
            summary[label]['speedupWarm'] = results[label]['librosaWarmS'] / m['resonode']['wallS']
            lines.append(f'- {label}: resonode process {summary[label]["speedup"]:.1f}x faster than the librosa process (wall time); '
                         f'{m["librosa"]["afterImportS"] / m["resonode"]["wallS"]:.1f}x librosa after imports; '
                         f'{summary[label]["speedupWarm"]:.1f}x librosa warm (2nd run in one process, no JIT)')
        for n in names:
            a, b = results['2min']['median'][n]['rssMB'], results['10min']['median'][n]['rssMB']
            summary[f'{n}RssGrowth'] = b / a
            lines.append(f'- {n} peak RSS: {a:.0f} MB (2 min) -> {b:.0f} MB (10 min), x{b / a:.2f}')
    else:
        a, b = results['2min']['median']['librosa']['rssMB'], results['10min']['median']['librosa']['rssMB']
        lines.append(f'- librosa peak RSS: {a:.0f} MB (2 min) -> {b:.0f} MB (10 min), x{b / a:.2f}')
    md = '\n'.join(lines)
    with open(args.out, 'w') as f:
        json.dump({'date': time.strftime('%Y-%m-%dT%H:%M:%S'), 'loadavg': load, 'resonode': {'ran': rn_ok, 'why': rn_why},
                   'results': results, 'summary': summary, 'markdown': md}, f, indent=1)
    print(md)


if __name__ == '__main__':
    main()
