#!/usr/bin/python3
"""Reference for src/eval/lfw.ts's 10-fold verification accuracy, in numpy (an independent
vectorised transcription of the protocol, not a port of the TypeScript loop):

for each fold f: candidate thresholds = one below all training scores, the midpoints of
consecutive distinct training scores, one above all; predict "same" when score > t; the first
(lowest) candidate of highest training accuracy is applied to fold f. Result: mean, sample sd
(ddof 1) and sd / sqrt(folds) of the fold accuracies.

Usage:
  /usr/bin/python3 dev/make_lfw_fixtures.py            # writes tests/fixtures/lfw/tenfold.json
  /usr/bin/python3 dev/make_lfw_fixtures.py --check SCORES.json
      # SCORES.json: {"scores": [...], "same": [...], "fold": [...], "accuracy": ..} (e.g. written by
      # `facesr eval lfw --scores`); prints the reference and the difference
"""
import json
import os
import sys

import numpy as np


def best_threshold(s, y):
    u = np.unique(s)  # sorted distinct
    cand = np.concatenate([[u[0] - 1], (u[:-1] + u[1:]) / 2, [u[-1] + 1]])
    pred = s[None, :] > cand[:, None]
    acc = (pred == y[None, :]).mean(axis=1)
    k = int(np.argmax(acc))  # first maximum = lowest threshold
    return float(cand[k]), float(acc[k])


def ten_fold(scores, same, fold):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(same, dtype=bool)
    f = np.asarray(fold)
    out = []
    for k in np.unique(f):
        tr, te = f != k, f == k
        t, tr_acc = best_threshold(s[tr], y[tr])
        acc = float(((s[te] > t) == y[te]).mean())
        out.append({"fold": int(k), "threshold": t, "accuracy": acc, "train_accuracy": tr_acc})
    a = np.array([o["accuracy"] for o in out])
    sd = float(a.std(ddof=1))
    return {"accuracy": float(a.mean()), "sd": sd, "se": sd / np.sqrt(len(a)), "folds": out}


def cases():
    rng = np.random.default_rng(6)
    res = []
    # LFW-shaped (10 folds of same + different pairs), 50 + 50 a fold to keep the fixture small
    for name, gap, quant in [("gauss", 1.5, None), ("ties", 1.0, 0.1), ("separable", 8.0, None)]:
        same = np.tile(np.r_[np.ones(50, bool), np.zeros(50, bool)], 10)
        fold = np.repeat(np.arange(10), 100)
        s = rng.normal(0, 1, same.size) + gap * same
        if quant:
            s = np.round(s / quant) * quant  # many equal scores
        s = s.astype(np.float32).astype(np.float64)  # exactly representable in both languages
        res.append({"name": name, "scores": s.tolist(), "same": same.tolist(), "fold": fold.tolist(),
                    "expected": ten_fold(s, same, fold)})
    # small: 3 folds of 4 + 4, cosine-like scores
    same = np.tile(np.r_[np.ones(4, bool), np.zeros(4, bool)], 3)
    fold = np.repeat(np.arange(3), 8)
    s = np.clip(rng.normal(0.5, 0.3, same.size) + 0.3 * same, -1, 1).astype(np.float32).astype(np.float64)
    res.append({"name": "small", "scores": s.tolist(), "same": same.tolist(), "fold": fold.tolist(),
                "expected": ten_fold(s, same, fold)})
    return res


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        d = json.load(open(sys.argv[2]))
        for name, c in d["conditions"].items() if "conditions" in d else [("scores", d)]:
            ref = ten_fold(c["scores"], c["same"], c["fold"])
            print(f"{name}: reference {100 * ref['accuracy']:.4f} ± {100 * ref['sd']:.4f} %, "
                  f"facesr {100 * c['accuracy']:.4f} %, difference {100 * (c['accuracy'] - ref['accuracy']):.2e} points")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "fixtures", "lfw", "tenfold.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump({"generator": "dev/make_lfw_fixtures.py", "cases": cases()}, fh)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
