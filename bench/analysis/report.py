#!/usr/bin/env python3
"""Writes section f (music analysis) of bench/RESULTS.md from the outputs of
eval.py (results.json) and speed.py (speed.json), between the markers
`<!-- analysis:begin -->` and `<!-- analysis:end -->` (bench/run.mjs keeps
that block when it rewrites the file).

    python3 bench/analysis/eval.py --loop-beats && python3 bench/analysis/speed.py && python3 bench/analysis/report.py
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
RESULTS = os.path.join(ROOT, 'bench', 'RESULTS.md')
# Subsets that partition the labelled set (the drums / no-drums rows split midi-synth again).
PARTS = ['midi-synth', 'sonic-pi-loop', 'planetblupi', 'fof-chart']
METHODS = ['resonode', 'librosa', 'essentia']
METRICS = [('tempoAcc1', 'tempo Accuracy1 (±4 %)', '%'), ('tempoAcc2', 'tempo Accuracy2 (×2, ×½, ×3, ×⅓ allowed)', '%'),
           ('keyScore', 'key MIREX weighted score', ''), ('beatF', 'beat F-measure (70 ms)', '')]


def overall(agg, method, metric):
    num = den = 0.0
    for part in PARTS:
        a = agg.get(part, {}).get(method)
        if not a or a.get(metric) is None:
            continue
        n = a.get(metric + 'N') or 0
        num += a[metric] * n
        den += n
    return (num / den, int(den)) if den else (None, 0)


def fmt(v, unit):
    if v is None:
        return '–'
    return f'{v * 100:.1f} %' if unit == '%' else f'{v:.3f}'


def main():
    ev = json.load(open(os.path.join(HERE, 'results.json')))
    sp = json.load(open(os.path.join(HERE, 'speed.json')))
    agg = ev['aggregate']
    lines = ['## f. Music analysis (`resonode analyze`) vs librosa and essentia', '',
             f'Written by `bench/analysis/report.py` from `bench/analysis/eval.py --loop-beats` ({ev["date"]}) and '
             f'`bench/analysis/speed.py` ({sp["date"]}); how the ground truth is made and how to rerun: `bench/analysis/README.md`. '
             'Every tool runs on the same files: 48 songs rendered from MIDI with fluidsynth (exact tempo, beats and key), '
             '17 Sonic Pi loops (tempo from the loop length, beats from its start), 10 Planet Blupi MIDI pieces (tempo map; '
             'keys estimated from the MIDI notes, indicative only), 8 Frets on Fire recordings (tempo map of their play-along charts).', '']
    # Targets
    t = {m: {k: overall(agg, m, k)[0] for k, _, _ in METRICS} for m in METHODS}
    best = {k: max(v for v in (t['librosa'][k], t['essentia'][k]) if v is not None) for k, _, _ in METRICS}
    s10 = sp.get('summary', {}).get('10min', {})
    growth = sp.get('summary', {}).get('resonodeRssGrowth')
    yes = lambda ok: 'met' if ok else '**missed**'  # noqa: E731
    rows = [
        ('tempo Accuracy2 >= 95 %', fmt(t['resonode']['tempoAcc2'], '%'), yes(t['resonode']['tempoAcc2'] >= 0.95)),
        ('tempo Accuracy1 >= 85 %', fmt(t['resonode']['tempoAcc1'], '%'), yes(t['resonode']['tempoAcc1'] >= 0.85)),
        ('key weighted score >= 0.90', fmt(t['resonode']['keyScore'], ''), yes(t['resonode']['keyScore'] >= 0.90)),
    ]
    ms = {m: agg['midi-synth'][m]['keyScore'] for m in METHODS}
    rows.append(('key weighted score on the songs whose key is exact (midi-synth; the Planet Blupi keys are estimates): >= 0.90 and >= librosa, essentia',
                 f'{ms["resonode"]:.3f} vs {max(ms["librosa"], ms["essentia"]):.3f}', yes(ms['resonode'] >= 0.90 and ms['resonode'] >= max(ms['librosa'], ms['essentia']))))
    for k, name, unit in METRICS:
        rows.append((f'{name}: at least the better of librosa and essentia (all labelled files)',
                     f'{fmt(t["resonode"][k], unit)} vs {fmt(best[k], unit)}', yes(t['resonode'][k] >= best[k] - 1e-12)))
    if s10:
        rows.append(('whole-track analysis of a 10-minute stereo file >= 10x the speed of librosa (+ pyloudnorm) doing the same, one process each',
                     f'{s10["speedup"]:.1f}x', yes(s10['speedup'] >= 10)))
        rows.append(('the same against a warm librosa (second run in one Python process: no JIT, no imports)',
                     f'{s10["speedupWarm"]:.1f}x', yes(s10['speedupWarm'] >= 10)))
    if growth is not None:
        rows.append(('peak memory independent of file length (peak RSS 10 min / 2 min)', f'x{growth:.2f}', yes(growth < 1.1)))
    lines += ['| target | measured | |', '|---|---:|---|'] + [f'| {a} | {b} | {c} |' for a, b, c in rows] + ['']
    # All labelled files
    lines += ['### All labelled files', '', '| metric | resonode | librosa | essentia |', '|---|---:|---:|---:|']
    for k, name, unit in METRICS:
        cells = []
        for m in METHODS:
            v, n = overall(agg, m, k)
            cells.append(f'{fmt(v, unit)} (n={n})' if v is not None else '–')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', '### Per subset', '']
    md = ev['markdown']
    # eval.py's per-subset tables, minus its header line.
    body = md.split('\n', 2)[2] if md.startswith('Music analysis accuracy') else md
    lines += [re.sub(r'^### ', '#### ', ln) for ln in body.strip().splitlines()] + ['']
    lines += ['### Speed and memory', '', sp['markdown'].strip(), '']
    block = '<!-- analysis:begin -->\n' + '\n'.join(lines) + '\n<!-- analysis:end -->\n'
    text = open(RESULTS).read()
    if '<!-- analysis:begin -->' in text:
        text = re.sub(r'<!-- analysis:begin -->[\s\S]*<!-- analysis:end -->\n', lambda _: block, text)
    else:
        text = text.replace('## How to reproduce', block + '\n## How to reproduce', 1)
    open(RESULTS, 'w').write(text)
    print(block)


if __name__ == '__main__':
    main()
