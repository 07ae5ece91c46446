// PSNR / SSIM against a numpy transcription of BasicSR (dev/make_eval_fixtures.py): synthetic pairs
// committed as PNGs, and CelebA pairs read from the shared data (skipped with a reason when absent).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage } from '../src/data/index.js';
import { psnr, ssim, qualityScores, gaussianWindow1d, type Image8 } from '../src/eval/metrics.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(repo, 'tests', 'fixtures');
const CELEBA = path.join(process.env.FACESR_DATA ?? '/work/shared/data', 'hr', 'celeba');

type Expected = Record<
  string,
  { psnr_rgb: number | 'inf'; psnr_y: number | 'inf'; ssim_rgb: number; ssim_y: number }
>;
interface Case {
  name: string;
  a: string;
  b: string;
  kind: string;
  sum_a?: number;
  sum_b?: number;
  expected: Expected;
}
const golden = JSON.parse(readFileSync(path.join(FIX, 'eval_metrics.json'), 'utf8')) as {
  cases: Case[];
  celeba: Case[];
  identical: Expected;
};

const PSNR_TOL = 1e-4; // dB
const SSIM_TOL = 1e-5;

async function load(file: string): Promise<Image8> {
  const img = await readImage(file);
  assert.equal(img.channels, 3, `${file}: expected RGB`);
  return { data: img.data, width: img.width, height: img.height, channels: 3 };
}

function flip(img: Image8): Image8 {
  const out = new Uint8Array(img.data.length);
  const C = img.channels;
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++)
      for (let c = 0; c < C; c++)
        out[(y * img.width + x) * C + c] = img.data[(y * img.width + (img.width - 1 - x)) * C + c]!;
  return { ...img, data: out };
}

function sum(img: Image8): number {
  let s = 0;
  for (const v of img.data) s += v;
  return s;
}

function checkAll(a: Image8, b: Image8, exp: Expected, name: string): void {
  for (const [key, e] of Object.entries(exp)) {
    const cropBorder = Number(key.replace('crop', ''));
    const got = {
      psnr_rgb: psnr(a, b, { cropBorder }),
      psnr_y: psnr(a, b, { cropBorder, y: true }),
      ssim_rgb: ssim(a, b, { cropBorder }),
      ssim_y: ssim(a, b, { cropBorder, y: true }),
    };
    for (const m of ['psnr_rgb', 'psnr_y'] as const) {
      const want = e[m] === 'inf' ? Infinity : e[m];
      if (want === Infinity) assert.equal(got[m], Infinity, `${name} ${key} ${m}`);
      else assert.ok(Math.abs(got[m] - want) <= PSNR_TOL, `${name} ${key} ${m}: ${got[m]} vs ${want}`);
    }
    for (const m of ['ssim_rgb', 'ssim_y'] as const)
      assert.ok(Math.abs(got[m] - e[m]) <= SSIM_TOL, `${name} ${key} ${m}: ${got[m]} vs ${e[m]}`);
  }
}

test('Gaussian window equals cv2.getGaussianKernel(11, 1.5)', () => {
  const k = gaussianWindow1d(11, 1.5);
  assert.ok(Math.abs(k.reduce((s, v) => s + v, 0) - 1) < 1e-12);
  assert.ok(Math.abs(k[5]! - 0.26601171) < 1e-7); // cv2 value
  assert.ok(Math.abs(k[0]! - 0.00102838) < 1e-7);
});

test('PSNR/SSIM match BasicSR on synthetic pairs (RGB, Y; crop_border 0 and 4)', async () => {
  assert.ok(golden.cases.length >= 3);
  for (const c of golden.cases) {
    const a = await load(path.join(FIX, c.a));
    const b = await load(path.join(FIX, c.b));
    checkAll(a, b, c.expected, c.name);
    checkAll(a, a, golden.identical, `${c.name} vs itself`);
  }
});

test('PSNR/SSIM match BasicSR on real CelebA pairs', async (t) => {
  if (!existsSync(CELEBA)) {
    t.skip(`CelebA crops not found at ${CELEBA}`);
    return;
  }
  for (const c of golden.celeba) {
    const a = await load(path.join(CELEBA, c.a));
    let b = await load(path.join(CELEBA, c.b));
    if (sum(a) !== c.sum_a || sum(b) !== c.sum_b) {
      t.diagnostic(`${c.name}: this WebP decoder gives other pixels than PIL's; pair skipped`);
      continue;
    }
    if (c.kind === 'celeba-flip') b = flip(b);
    checkAll(a, b, c.expected, c.name);
  }
});

test('metrics: symmetric, argument errors', () => {
  const mk = (w: number, h: number, f: (i: number) => number): Image8 => ({
    data: Uint8Array.from({ length: w * h * 3 }, (_, i) => f(i)),
    width: w,
    height: h,
    channels: 3,
  });
  const a = mk(16, 16, (i) => (i * 7) % 256);
  const b = mk(16, 16, (i) => (i * 7 + 3) % 256);
  assert.equal(psnr(a, b), psnr(b, a));
  assert.ok(Math.abs(ssim(a, b) - ssim(b, a)) < 1e-12);
  const q = qualityScores(a, b);
  assert.deepEqual(Object.keys(q), ['psnr', 'psnr_y', 'ssim', 'ssim_y']);
  assert.throws(
    () =>
      psnr(
        a,
        mk(16, 8, () => 0),
      ),
    /differ in size/,
  );
  assert.throws(
    () =>
      ssim(
        mk(10, 10, () => 0),
        mk(10, 10, () => 0),
      ),
    /at least 11x11/,
  );
  assert.throws(() => psnr(a, b, { cropBorder: 8 }), /leaves nothing/);
  assert.throws(() => psnr({ ...a, data: a.data.subarray(1) }, b), /holds/);
});
