#!/usr/bin/env python3
"""Score the Rust `analyze` example (crates/analysis/examples/analyze.rs) on the
ground-truth manifest, with the same mir_eval metrics and scoring rules as
eval.py, next to the cached librosa/essentia results (run eval.py once first
to fill bench/analysis/data/cache).

    cargo build --release -p resonode-analysis --example analyze
    python3 bench/analysis/eval_bin.py                      # table per subset
    python3 bench/analysis/eval_bin.py --per-file           # plus one line per file
    python3 bench/analysis/eval_bin.py --bin PATH --jobs 2 --json out.json

No Node needed; one process per file, run in parallel.

Used while developing the tempo / beat / key methods (see the module docs of
crates/analysis/src/beats.rs for what was measured and rejected); the
numbers in bench/RESULTS.md come from eval.py through the CLI.
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eval as ev  # noqa: E402

ROOT = ev.ROOT


def run_bin(binary, path):
    p = subprocess.run([binary, path], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return {'error': p.stderr.strip()[-300:]}
    out = json.loads(p.stdout)
    t = out.get('tempoBpm')
    return {'tempoBpm': float(t) if isinstance(t, (int, float)) and t > 0 else None,
            'beats': [float(b) for b in out.get('beats') or []],
            'key': ev.norm_key(out.get('key')), 'mode': ev.norm_mode(out.get('mode'))}


def metrics(e, est):
    ref_t, (ref_k, ref_m), ref_b = ev.scored_tempo(e), ev.scored_key(e), ev.scored_beats(e, False)
    if est is None:
        return {}
    if 'error' in est:
        est = {'tempoBpm': None, 'beats': [], 'key': None, 'mode': None}
    mt = {}
    mt.update(ev.tempo_metrics(ref_t, est.get('tempoBpm')))
    mt.update(ev.key_metrics(ref_k, ref_m, est.get('key'), est.get('mode')))
    if ref_b is not None:
        mt.update(ev.beat_metrics(ref_b, est.get('beats')))
    return mt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--manifest', default=os.path.join(HERE, 'data', 'manifest.json'))
    ap.add_argument('--bin', default=os.path.join(ROOT, 'target', 'release', 'examples', 'analyze'))
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    ap.add_argument('--per-file', action='store_true')
    ap.add_argument('--json', default=None, help='write per-file estimates and metrics here')
    args = ap.parse_args()
    manifest = json.load(open(args.manifest))
    base = os.path.dirname(os.path.abspath(args.manifest))
    entries = []
    for e in manifest:
        e = dict(e)
        e['path'] = e['file'] if os.path.isabs(e['file']) else os.path.join(base, e['file'])
        if os.path.exists(e['path']):
            entries.append(e)
    ver = ev.versions()
    cache_dir = os.path.join(base, 'cache')
    others = {}
    for m in ('essentia', 'librosa'):
        for e in entries:
            cp = ev.cache_path(cache_dir, m, e['path'], f'{ver.get(m)}|v1')
            if os.path.exists(cp):
                others.setdefault(e['path'], {})[m] = json.load(open(cp))
    with cf.ThreadPoolExecutor(args.jobs) as ex:
        res = dict(zip([e['path'] for e in entries], ex.map(lambda e: run_bin(args.bin, e['path']), entries)))
    methods = ['resonode', 'essentia', 'librosa']
    agg = {}
    rows = []
    for e in entries:
        ms = {'resonode': metrics(e, res[e['path']])}
        for m in ('essentia', 'librosa'):
            ms[m] = metrics(e, others.get(e['path'], {}).get(m))
        rows.append({'file': e['file'], 'source': e['source'], 'est': {k: v for k, v in res[e['path']].items() if k != 'beats'},
                     'ref': {'tempoBpm': e.get('tempoBpm'), 'key': e.get('key'), 'mode': e.get('mode')}, 'metrics': ms})
        for src in (e['source'], 'ALL'):
            for m in methods:
                for k, v in ms[m].items():
                    if isinstance(v, float):
                        agg.setdefault((src, m, k), []).append(v)
    cols = ['tempoAcc1', 'tempoAcc2', 'keyScore', 'beatF']
    print(f'{"subset":14s} {"method":9s} ' + ' '.join(f'{c:>14s}' for c in cols))
    for src in ev.SOURCE_ORDER + ['ALL']:
        for m in methods:
            cells = []
            for c in cols:
                v = agg.get((src, m, c))
                cells.append(f'{sum(v) / len(v):8.3f} (n={len(v):2d})' if v else f'{"-":>14s}')
            if any(c.strip() != '-' for c in cells):
                print(f'{src:14s} {m:9s} ' + ' '.join(cells))
    if args.per_file:
        for r in rows:
            m = r['metrics']
            print(f"{r['file'][:44]:44s} ref {r['ref']['tempoBpm'] or 0:6.1f} {r['ref']['key']} {r['ref']['mode']:5s} | "
                  f"est {r['est'].get('tempoBpm') or 0:6.1f} {r['est'].get('key')} {r['est'].get('mode')} | "
                  + ' '.join(f"{k}={m['resonode'].get(k, float('nan')):.2f}/{m['essentia'].get(k, float('nan')):.2f}" for k in ('keyScore', 'beatF')))
    if args.json:
        json.dump(rows, open(args.json, 'w'), indent=1)


if __name__ == '__main__':
    main()
