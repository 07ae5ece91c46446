#!/usr/bin/python3
"""Fixtures for src/eval/frechet.ts (tests/eval-frechet): the Frechet distance between two sets of
vectors as pytorch-fid computes it (scipy.linalg.sqrtm of sigma1 @ sigma2, the eps * I offset when
the result is not finite, real part), on sets shaped like face-descriptor sets: full rank (n > d),
rank-deficient (n < d = 128, as for small face sets), identical sets, and a tiny case.
The sets are written as float32 little-endian files (rows of d values) beside cases.json.
Also records an eigh-based value (the symmetric form frechet.ts uses) to show scipy's own error.

Usage: /usr/bin/python3 dev/make_frechet_fixtures.py   (needs python3-scipy)
"""
import json
import os

import numpy as np
from scipy import linalg


def frechet_scipy(mu1, s1, mu2, s2, eps=1e-6):
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def frechet_eigh(mu1, s1, mu2, s2):
    w, v = np.linalg.eigh(s1)
    a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    e = np.linalg.eigvalsh(a @ s2 @ a)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(e, 0, None)).sum())


def descriptor_like(rng, n, d, shift):
    # correlated, small-scale values like face-api descriptors (|x| ~ 0.1)
    mix = rng.normal(0, 0.1, (d, d)) / np.sqrt(d) * 3
    x = rng.normal(0, 1, (n, d)) @ mix + rng.normal(0, 0.05, d) + shift
    return x.astype(np.float32)


def main():
    rng = np.random.default_rng(2026)
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "fixtures", "frechet")
    os.makedirs(out, exist_ok=True)
    cases = []
    same = descriptor_like(rng, 30, 16, 0)
    specs = [
        ("full_d32", descriptor_like(rng, 150, 32, 0), descriptor_like(rng, 120, 32, 0.03)),
        ("rank_deficient_d128", descriptor_like(rng, 40, 128, 0), descriptor_like(rng, 50, 128, 0.02)),
        ("identical_d16", same, same.copy()),
        ("tiny_d3", rng.normal(0, 1, (5, 3)).astype(np.float32), rng.normal(1, 2, (6, 3)).astype(np.float32)),
    ]
    for name, a, b in specs:
        a64 = a.astype(np.float64)
        b64 = b.astype(np.float64)
        mu1, mu2 = a64.mean(0), b64.mean(0)
        s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
        a.astype("<f4").tofile(os.path.join(out, f"{name}_a.f32"))
        b.astype("<f4").tofile(os.path.join(out, f"{name}_b.f32"))
        cases.append({
            "name": name, "d": int(a.shape[1]), "n1": int(a.shape[0]), "n2": int(b.shape[0]),
            "scipy_sqrtm": frechet_scipy(mu1, s1, mu2, s2),
            "eigh": frechet_eigh(mu1, s1, mu2, s2),
            "mean_term": float((mu1 - mu2).dot(mu1 - mu2)),
            "trace_sum": float(np.trace(s1) + np.trace(s2)),
        })
        print(f"{name}: scipy {cases[-1]['scipy_sqrtm']:.10g}  eigh {cases[-1]['eigh']:.10g}")
    with open(os.path.join(out, "cases.json"), "w") as fh:
        json.dump({"generator": "dev/make_frechet_fixtures.py", "scipy": __import__("scipy").__version__,
                   "numpy": np.__version__, "cases": cases}, fh, indent=1)


if __name__ == "__main__":
    main()
