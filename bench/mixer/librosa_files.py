#!/usr/bin/env python3
"""The librosa anchor of the scan benchmark (bench/mixer/scan.mjs): the
librosa job of bench/analysis/speed.py (librosa_analysis: librosa.load at
22.05 kHz mono, one STFT shared by rms / centroid / bandwidth / rolloff /
flatness / mel -> MFCC / chroma, zero-crossing rate, onset strength,
beat_track, Krumhansl-Schmuckler key, pyloudnorm integrated loudness) over
a list of files, with its frame-CSV write turned off (a library scan keeps
no frames).

    python3 bench/mixer/librosa_files.py [--reps 3] FILE...

Timed after the imports and one untimed warm-up file per process (numba
compiles on first use): one process doing the files one after another, and
a multiprocessing pool of 2 (one file per task). Prints one JSON line with
the median wall seconds of each.
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'analysis'))


def _setup():
    import numpy as np
    import speed  # bench/analysis/speed.py
    np.savetxt = lambda *a, **k: None  # no frame CSV
    return speed


def _job(path):
    speed = _setup()
    speed.librosa_analysis(path, os.devnull, True)
    return path


_barrier = None


def _init(warm_file, barrier):
    global _barrier
    _barrier = barrier
    _job(warm_file)


def _wait(_):
    _barrier.wait()
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    t0 = time.perf_counter()
    import librosa  # noqa: F401
    import pyloudnorm  # noqa: F401
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _job(a.files[0])
    warmup_s = time.perf_counter() - t0
    seq, pool2 = [], []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for f in a.files:
            _job(f)
        seq.append(time.perf_counter() - t0)
        ctx = mp.get_context('fork')
        barrier = ctx.Barrier(2)
        with ctx.Pool(2, initializer=_init, initargs=(a.files[0], barrier)) as pool:
            pool.map(_wait, range(2), chunksize=1)  # both workers started and warmed up
            t0 = time.perf_counter()
            pool.map(_job, a.files, chunksize=1)
            pool2.append(time.perf_counter() - t0)
    import librosa as lr
    import numpy
    print(json.dumps({'files': len(a.files), 'reps': a.reps, 'importS': import_s, 'warmupFileS': warmup_s,
                      'seqS': statistics.median(seq), 'pool2S': statistics.median(pool2), 'seqRuns': seq, 'pool2Runs': pool2,
                      'librosa': lr.__version__, 'numpy': numpy.__version__, 'python': sys.version.split()[0]}))


if __name__ == '__main__':
    main()
