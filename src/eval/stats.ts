// Summary statistics for per-face scores: mean with a 95% Student-t confidence interval.

export interface Summary {
  mean: number;
  /** 95% confidence interval of the mean: mean -/+ t(0.975, n-1) * sd / sqrt(n). */
  ci95: [number, number];
  sd: number;
  n: number;
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9 after one Newton step is not needed here). */
export function normalQuantile(p: number): number {
  const a = [
    -39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472,
    2.50662827745924,
  ];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [
    -0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497,
    2.93816398269878,
  ];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

const T975_SMALL = [NaN, 12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281];

/** Student-t 0.975 quantile for df degrees of freedom (table to 10, Cornish-Fisher expansion above; error < 1e-4). */
export function t975(df: number): number {
  if (df < 1) return NaN;
  if (df <= 10) return T975_SMALL[df]!;
  const z = normalQuantile(0.975);
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  return (
    z +
    (z3 + z) / (4 * df) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3)
  );
}

/** Mean, sample sd and 95% t-interval of the finite values (an infinite PSNR of identical images is kept as the mean then). */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: NaN, ci95: [NaN, NaN], sd: NaN, n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1 || !Number.isFinite(mean)) return { mean, ci95: [NaN, NaN], sd: NaN, n };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  const h = (t975(n - 1) * sd) / Math.sqrt(n);
  return { mean, ci95: [mean - h, mean + h], sd, n };
}
