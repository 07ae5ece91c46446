#!/usr/bin/env python3
"""Paired per-face difference between two methods scored by two `facesr eval` JSON files on the same faces.

  python3 dev/paired_runs.py A.json METHOD_A B.json METHOD_B [--metrics psnr,identity_cosine]

Prints, per metric, mean(A - B) over the faces both files scored, with its 95% Student-t interval
(the convention of `facesr eval`'s vs_bicubic). Dev script: reads JSON only.
"""
import json, math, sys
from statistics import mean, stdev

def t975(df):
    # Student-t 0.975 quantile; the normal value is within 0.1% from df 1000 on.
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 10: 2.228, 20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980, 1000: 1.962}
    keys = sorted(table)
    for k in keys:
        if df <= k:
            return table[k]
    return 1.960

def scores(path, method):
    out = {}
    for f in json.load(open(path))['faces']:
        s = f['scores'].get(method)
        if s is not None:
            out[f['file']] = s
    if not out:
        sys.exit(f'{path}: no per-face scores for method {method!r}')
    return out

args = [a for a in sys.argv[1:] if not a.startswith('--metrics')]
metrics = next((a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith('--metrics=')), 'psnr,identity_cosine').split(',')
if len(args) != 4:
    sys.exit(__doc__)
a, b = scores(args[0], args[1]), scores(args[2], args[3])
for m in metrics:
    d = [a[f][m] - b[f][m] for f in a if f in b and a[f].get(m) is not None and b[f].get(m) is not None]
    if len(d) < 2:
        print(f'{m}: fewer than 2 faces scored by both')
        continue
    mu = mean(d)
    h = t975(len(d) - 1) * stdev(d) / math.sqrt(len(d))
    print(f'{args[1]} - {args[3]} {m}: {mu:+.4f} [{mu - h:+.4f}, {mu + h:+.4f}] over {len(d)} faces')
