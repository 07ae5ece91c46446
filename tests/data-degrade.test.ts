// Degradations (src/data/degrade.ts): down-sampling against PyTorch's F.interpolate on real faces,
// blur kernels against BasicSR's formulas and filter2D, noise statistics, JPEG through sharp, and the
// seeded pipeline (fixtures from dev/make_degrade_fixtures.py).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  F,
  Tensor,
  cat,
  full,
  getRngState,
  imageToTensor,
  liveTensors,
  manualSeed,
  rand,
  tidy,
} from '../src/tensor/index.js';
import {
  DEGRADATION_PRESETS,
  Xoshiro128,
  addGaussianNoise,
  addPoissonNoise,
  anisotropicGaussianKernel,
  applyDegradation,
  blur,
  deltaKernel,
  downsample,
  gaussianKernelSize,
  isotropicGaussianKernel,
  jpegCompress,
  logGamma,
  makeDegradation,
  motionBlurKernel,
  motionKernelSize,
  resize,
  sampleNormals,
  samplePoisson,
  type BlurKernel,
  type DegradationConfig,
  type DownMode,
} from '../src/data/degrade.js';
import { readImage } from '../src/data/image.js';
import { assertClose } from './helpers/compare.js';
import { rawFloat32, readSafetensors, type RawTensor } from './helpers/safetensors.js';

const FIXTURES = path.resolve(process.cwd(), 'tests/fixtures');
const CELEBA = path.resolve(process.cwd(), '../shared/data/hr/celeba');
const INTERP_ATOL = 1e-5; // the target for interpolation goldens

const interp = readSafetensors(path.join(FIXTURES, 'degrade_interp.safetensors'));
const blurFx = readSafetensors(path.join(FIXTURES, 'degrade_blur.safetensors'));

function raw(file: { tensors: Map<string, RawTensor> }, name: string): RawTensor {
  const r = file.tensors.get(name);
  assert.ok(r, `fixture tensor ${name} missing`);
  return r;
}

/** uint8 [H, W, 3] fixture image -> [1, 3, H, W] float in a range, as the Python side built it. */
function imageInput(r: RawTensor, range: '0,1' | '-1,1'): Tensor {
  const [h, w, c] = r.shape as [number, number, number];
  return imageToTensor(r.bytes, { width: w, height: h, channels: c }, { range });
}

/** The global generator's state bytes (the state tensor disposed). */
function rngBytes(): Uint8Array {
  return tidy(() => getRngState().bytes());
}

function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10(1 / (se / a.length));
}

function stats(v: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(q / (v.length - 1)) };
}

/** A 128x128 face in [0, 1] from the interpolation fixture. */
function face128(): Tensor {
  return imageInput(raw(interp, 'img/a'), '0,1');
}

// ---------------------------------------------------------------------------------------------
// Down-sampling
// ---------------------------------------------------------------------------------------------

interface InterpCase {
  id: string;
  image: string;
  range: '0,1' | '-1,1';
  mode: DownMode;
  antialias: boolean;
  factor?: number;
  size?: [number, number];
}

test('downsample/resize match F.interpolate on real faces within 1e-5', (t) => {
  const cases = JSON.parse(interp.metadata.cases!) as InterpCase[];
  assert.ok(cases.length >= 20);
  let worst = 0;
  let worstId = '';
  for (const c of cases) {
    tidy(() => {
      const x = imageInput(raw(interp, `img/${c.image}`), c.range);
      const o = { mode: c.mode, antialias: c.antialias };
      const y = c.factor !== undefined ? downsample(x, c.factor, o) : resize(x, c.size!, o);
      const ref = raw(interp, c.id);
      const s = assertClose(y, rawFloat32(ref), { atol: INTERP_ATOL, rtol: 0, what: c.id, shape: ref.shape });
      if (s.maxAbs >= worst) [worst, worstId] = [s.maxAbs, c.id];
    });
  }
  t.diagnostic(`${cases.length} interpolation cases; max |diff| ${worst.toExponential(2)} (${worstId})`);
});

test('fixture faces decode identically with readImage (sharp) and PIL', async (t) => {
  if (!existsSync(CELEBA)) {
    t.skip('shared CelebA folder not present');
    return;
  }
  const a = await readImage(path.join(CELEBA, '10000_028381.webp'));
  assert.deepEqual(a.data, raw(interp, 'img/a').bytes);
  const b = await readImage(path.join(CELEBA, '10055_154310.webp'));
  const crop = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++)
    crop.set(b.data.subarray(((y + 32) * 128 + 32) * 3, ((y + 32) * 128 + 96) * 3), y * 64 * 3);
  assert.deepEqual(crop, raw(interp, 'img/b').bytes);
});

test('downsample defaults: bicubic with antialias; x4 area equals avgpool 4 (SCGAN)', () => {
  tidy(() => {
    const x = imageInput(raw(interp, 'img/b'), '-1,1');
    const def = downsample(x, 4);
    const aa = F.interpolate(x, { size: [16, 16], mode: 'bicubic', antialias: true, alignCorners: false });
    assert.deepEqual(def.toFloat32Array(), aa.toFloat32Array());
    const area = downsample(x, 4, { mode: 'area' });
    assertClose(area, F.avgPool2d(x, 4).toFloat32Array(), { atol: 1e-6, rtol: 0, what: 'area vs avgpool' });
    assert.deepEqual(downsample(x, 8, { mode: 'area', antialias: true }).shape, [1, 3, 8, 8]); // ignored for area
    assert.deepEqual(downsample(full([1, 1, 10, 9], 0.5), 4).shape, [1, 1, 2, 2]); // floor
    assert.throws(() => downsample(x, 0), /positive integer for factor/);
    assert.throws(() => downsample(x, 2.5), /positive integer for factor/);
    assert.throws(() => downsample(x, 128), /smaller than the factor/);
    assert.throws(() => downsample(x.squeeze(0), 2), /4-d/);
    assert.throws(() => resize(x, [16, 16], { mode: 'nearest' as DownMode }), /one of 'bicubic'/);
  });
});

// ---------------------------------------------------------------------------------------------
// Blur kernels
// ---------------------------------------------------------------------------------------------

function sum(k: BlurKernel): number {
  return k.weights.reduce((a, b) => a + b, 0);
}
function at(k: BlurKernel, i: number, j: number): number {
  return k.weights[i * k.size + j]!;
}

test('kernels: odd sizes, sum to 1, symmetric', () => {
  const kernels = [
    isotropicGaussianKernel(0.2),
    isotropicGaussianKernel(1.3),
    isotropicGaussianKernel(3),
    anisotropicGaussianKernel(2.5, 0.8, 0.6),
    anisotropicGaussianKernel(0.3, 3.0, -2.1),
    motionBlurKernel(7, 0.4),
    motionBlurKernel(2.3, 2.2),
    motionBlurKernel(11, -1.0),
  ];
  for (const k of kernels) {
    assert.equal(k.size % 2, 1);
    assert.equal(k.weights.length, k.size * k.size);
    assert.ok(Math.abs(sum(k) - 1) < 1e-6, `sum ${sum(k)}`);
    assert.ok(k.weights.every((v) => v >= 0));
    const n = k.size - 1;
    for (let i = 0; i <= n; i++)
      for (let j = 0; j <= n; j++)
        assert.ok(Math.abs(at(k, i, j) - at(k, n - i, n - j)) < 1e-7, 'point symmetry');
  }
  assert.deepEqual(
    kernels.slice(0, 3).map((k) => k.size),
    [3, 9, 19],
  );
  assert.equal(gaussianKernelSize(5), 21); // capped
  assert.equal(motionKernelSize(5), 7);
  // Isotropic: symmetric under both flips and the transpose, exactly.
  const iso = kernels[1]!;
  for (let i = 0; i < iso.size; i++)
    for (let j = 0; j < iso.size; j++) {
      assert.equal(at(iso, i, j), at(iso, j, i));
      assert.equal(at(iso, i, j), at(iso, iso.size - 1 - i, j));
      assert.equal(at(iso, i, j), at(iso, i, iso.size - 1 - j));
    }
  assert.throws(() => isotropicGaussianKernel(0), /positive number for sigma/);
  assert.throws(() => isotropicGaussianKernel(1, 4), /odd kernel size/);
  assert.throws(() => motionBlurKernel(-1, 0), /positive number for length/);
});

test('anisotropic Gaussian rotated by 90 degrees equals swapped sigmas; equal sigmas are isotropic', () => {
  for (const [sx, sy, th] of [
    [2.5, 0.8, 0.6],
    [0.4, 2.2, -1.3],
    [3.0, 1.0, 0],
  ] as const) {
    const a = anisotropicGaussianKernel(sx, sy, th + Math.PI / 2, 15);
    const b = anisotropicGaussianKernel(sy, sx, th, 15);
    assertClose(a.weights, b.weights, { atol: 1e-7, rtol: 0, what: `aniso ${sx},${sy},${th}` });
  }
  const iso = isotropicGaussianKernel(1.7);
  assertClose(anisotropicGaussianKernel(1.7, 1.7, 0.9).weights, iso.weights, { atol: 1e-7, rtol: 0 });
  // theta 0, sigmaX > sigmaY: wider along x (columns) than along y (rows).
  const k = anisotropicGaussianKernel(3, 0.5, 0, 9);
  assert.ok(at(k, 4, 6) > at(k, 6, 4) * 10);
});

test('motion kernel at angle 0 is a horizontal line; at pi/2 its transpose', () => {
  const k = motionBlurKernel(5, 0);
  assert.equal(k.size, 7);
  const row = [1 / 8, 7 / 8, 1, 1, 1, 7 / 8, 1 / 8].map((v) => v / 5);
  for (let i = 0; i < 7; i++)
    for (let j = 0; j < 7; j++) {
      const v = at(k, i, j);
      if (i === 3) assert.ok(Math.abs(v - row[j]!) < 1e-7, `centre row ${j}: ${v} vs ${row[j]}`);
      else assert.equal(v, 0);
    }
  const v = motionBlurKernel(5, Math.PI / 2);
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) assert.equal(at(v, i, j), at(k, j, i));
  // A 45-degree line goes through the main diagonal (down-right: +y is down).
  const d = motionBlurKernel(6, Math.PI / 4);
  const c = (d.size - 1) / 2;
  assert.ok(at(d, c + 1, c + 1) > 5 * at(d, c - 1, c + 1));
});

interface KernelMeta {
  id: string;
  type: 'iso' | 'aniso' | 'motion';
  params: Record<string, number>;
  size: number;
}

function buildKernel(m: KernelMeta): BlurKernel {
  const p = m.params;
  if (m.type === 'iso') return isotropicGaussianKernel(p.sigma!, m.size);
  if (m.type === 'aniso') return anisotropicGaussianKernel(p.sigmaX!, p.sigmaY!, p.theta!, m.size);
  return motionBlurKernel(p.length!, p.angle!, m.size);
}

test('kernels match the numpy reference (BasicSR formulas) and default sizes agree', (t) => {
  const metas = JSON.parse(blurFx.metadata.kernels!) as KernelMeta[];
  let worst = 0;
  for (const m of metas) {
    const k = buildKernel(m);
    const ref = raw(blurFx, `kernel/${m.id}`);
    assert.deepEqual(ref.shape, [k.size, k.size], m.id);
    worst = Math.max(
      worst,
      assertClose(k.weights, rawFloat32(ref), { atol: 1e-7, rtol: 0, what: m.id }).maxAbs,
    );
  }
  // Sizes chosen by default in degrade.ts equal the ones the script chose by the same rule.
  const iso13 = metas.find((m) => m.id === 'iso_1.3')!;
  assert.equal(isotropicGaussianKernel(1.3).size, iso13.size);
  const mot = metas.find((m) => m.id === 'motion_b')!;
  assert.equal(motionBlurKernel(4.5, 2.2).size, mot.size);
  t.diagnostic(`${metas.length} kernels; max |diff| vs numpy ${worst.toExponential(2)}`);
});

function blurBatch(): Tensor {
  const r = raw(blurFx, 'img/blur');
  const [n, h, w, c] = r.shape as [number, number, number, number];
  const per = h * w * c;
  return cat(
    Array.from({ length: n }, (_, i) =>
      imageToTensor(r.bytes.subarray(i * per, (i + 1) * per), { width: w, height: h, channels: c }),
    ),
  );
}

test('blur matches BasicSR filter2D (one kernel, per-image kernels); delta is the identity', (t) => {
  const metas = new Map((JSON.parse(blurFx.metadata.kernels!) as KernelMeta[]).map((m) => [m.id, m]));
  const blurs = JSON.parse(blurFx.metadata.blurs!) as { id: string; kernels: string[] }[];
  let worst = 0;
  tidy(() => {
    const x = blurBatch();
    for (const b of blurs) {
      const ks = b.kernels.map((id) => buildKernel(metas.get(id)!));
      const y = blur(x, ks.length === 1 ? ks[0]! : ks);
      const ref = raw(blurFx, `blur/${b.id}`);
      const s = assertClose(y, rawFloat32(ref), { atol: 1e-5, rtol: 0, what: b.id, shape: ref.shape });
      worst = Math.max(worst, s.maxAbs);
    }
    // Identity: delta kernels of any size give the input back exactly.
    const xs = x.toFloat32Array();
    for (const size of [1, 3, 9]) assert.deepEqual(blur(x, deltaKernel(size)).toFloat32Array(), xs);
    assert.deepEqual(blur(x, [deltaKernel(1), deltaKernel(5), deltaKernel(21)]).toFloat32Array(), xs);
    // Per-image kernels of different sizes = each image blurred alone.
    const ks = [isotropicGaussianKernel(0.8), motionBlurKernel(6, 1), anisotropicGaussianKernel(2, 0.7, 0.3)];
    const together = blur(x, ks);
    for (let i = 0; i < 3; i++)
      assertClose(together.narrow(0, i, 1), blur(x.narrow(0, i, 1), ks[i]!).toFloat32Array(), {
        atol: 1e-6,
        rtol: 0,
        what: `image ${i}`,
      });
    assert.throws(() => blur(x, [ks[0]!, ks[1]!]), /2 kernels for a batch of 3/);
    assert.throws(() => blur(x.narrow(2, 0, 8), isotropicGaussianKernel(3)), /reflect padding 9/);
  });
  t.diagnostic(`filter2D goldens: max |diff| ${worst.toExponential(2)}`);
});

// ---------------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------------

test('Xoshiro128: deterministic; uniform, normal and Poisson moments; logGamma', () => {
  const a = new Xoshiro128(123);
  const b = new Xoshiro128(123);
  const seqA = Array.from({ length: 8 }, () => a.uint32());
  assert.deepEqual(
    seqA,
    Array.from({ length: 8 }, () => b.uint32()),
  );
  assert.notDeepEqual(
    seqA,
    Array.from({ length: 8 }, () => new Xoshiro128(124).uint32()),
  );
  assert.notEqual(new Xoshiro128(2 ** 40).uint32(), new Xoshiro128(0).uint32());
  assert.throws(() => new Xoshiro128(-1), /non-negative safe integer/);
  const r = new Xoshiro128(7);
  const u = Array.from({ length: 20000 }, () => r.next());
  assert.ok(u.every((v) => v >= 0 && v < 1));
  assert.ok(Math.abs(stats(u).mean - 0.5) < 0.01);
  const z = stats(sampleNormals(r, 40001));
  assert.ok(Math.abs(z.mean) < 0.02 && Math.abs(z.std - 1) < 0.02, JSON.stringify(z));
  for (const lam of [0.7, 4, 25, 200]) {
    const p = stats(Array.from({ length: 20000 }, () => samplePoisson(r, lam)));
    assert.ok(Math.abs(p.mean - lam) < 0.03 * lam + 0.02, `Poisson(${lam}) mean ${p.mean}`);
    assert.ok(Math.abs(p.std ** 2 - lam) < 0.06 * lam + 0.03, `Poisson(${lam}) var ${p.std ** 2}`);
  }
  assert.equal(samplePoisson(r, 0), 0);
  let f = 0; // log(k!) by summation
  for (let k = 1; k <= 30; k++) {
    f += Math.log(k);
    assert.ok(Math.abs(logGamma(k + 1) - f) < 1e-9, `logGamma(${k + 1})`);
  }
});

test('Gaussian noise: zero sigma is the identity, std = sigma/255, gray shared, seeded', () => {
  tidy(() => {
    const face = face128();
    for (const rng of [undefined, 5]) {
      assert.deepEqual(addGaussianNoise(face, 0, { rng }).toFloat32Array(), face.toFloat32Array());
    }
    const flat = full([2, 3, 64, 64], 0.5);
    for (const rng of [undefined, 11]) {
      const y = addGaussianNoise(flat, [10, 20], { rng, clip: false });
      for (let i = 0; i < 2; i++) {
        const s = stats(y.narrow(0, i, 1).sub(0.5).toFloat32Array());
        const want = (i === 0 ? 10 : 20) / 255;
        assert.ok(Math.abs(s.std / want - 1) < 0.03, `std ${s.std * 255} vs ${want * 255} (rng ${rng})`);
        assert.ok(Math.abs(s.mean) < want * 0.05);
      }
      const g = addGaussianNoise(flat, 10, { rng, gray: true });
      assert.deepEqual(g.select(1, 0).toFloat32Array(), g.select(1, 2).toFloat32Array());
      const clipped = addGaussianNoise(flat, 200, { rng });
      assert.ok(clipped.min().item() >= 0 && clipped.max().item() <= 1);
    }
    // Same seed -> same output; the JS generator does not touch the global one.
    const before = rngBytes();
    const a = addGaussianNoise(face, 12, { rng: 99 }).toFloat32Array();
    manualSeed(1);
    const b = addGaussianNoise(face, 12, { rng: new Xoshiro128(99) }).toFloat32Array();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, addGaussianNoise(face, 12, { rng: 100 }).toFloat32Array());
    manualSeed(1);
    const after = rngBytes();
    assert.notDeepEqual(before, after); // (manualSeed changed it, not the noise)
    addGaussianNoise(face, 12, { rng: 3 });
    assert.deepEqual(rngBytes(), after);
    // Any { next(): number } source works (e.g. augment.ts's Rng); here a tiny LCG.
    const lcg = () => {
      let st = 1;
      return { next: () => (st = (Math.imul(st, 1664525) + 1013904223) >>> 0) / 4294967296 };
    };
    assert.deepEqual(
      addGaussianNoise(face, 5, { rng: lcg() }).toFloat32Array(),
      addGaussianNoise(face, 5, { rng: lcg() }).toFloat32Array(),
    );
    // Global generator path: reproducible under manualSeed.
    manualSeed(42);
    const g1 = addGaussianNoise(face, 12).toFloat32Array();
    manualSeed(42);
    assert.deepEqual(addGaussianNoise(face, 12).toFloat32Array(), g1);
    assert.throws(() => addGaussianNoise(face, -1), /number >= 0 for sigma\[0\]/);
    assert.throws(() => addGaussianNoise(face, [1, 2]), /2 values for a batch of 1/);
  });
});

test('Poisson noise: mean preserved, variance ~ img/vals * scale^2, zero scale is identity, seeded', () => {
  tidy(() => {
    const face = face128();
    const xs = face.toFloat32Array();
    for (const rng of [undefined, 8]) {
      assert.deepEqual(addPoissonNoise(face, 0, { rng }).toFloat32Array(), xs);
      for (const scale of [1, 2.5]) {
        const y = addPoissonNoise(face, scale, { rng, clip: false }).toFloat32Array();
        const d = y.map((v, i) => v - xs[i]!);
        const s = stats(d);
        // A real face has > 128 distinct levels -> vals = 256; Var(noise) = scale^2 * img / 256.
        const want = scale * Math.sqrt(stats(xs).mean / 256);
        assert.ok(Math.abs(s.mean) < 0.002 * scale, `mean shift ${s.mean} (rng ${rng})`);
        assert.ok(Math.abs(Math.sqrt(s.std ** 2 + s.mean ** 2) / want - 1) < 0.05, `std ${s.std} vs ${want}`);
      }
      const g = addPoissonNoise(face, 1, { rng, gray: true, clip: false });
      const dr = g.select(1, 0).sub(face.select(1, 0)).toFloat32Array();
      const db = g.select(1, 2).sub(face.select(1, 2)).toFloat32Array();
      assertClose(dr, db, { atol: 1e-6, rtol: 0, what: 'gray noise shared' });
    }
    const a = addPoissonNoise(face, 1, { rng: 5 }).toFloat32Array();
    assert.deepEqual(addPoissonNoise(face, 1, { rng: 5 }).toFloat32Array(), a);
    assert.notDeepEqual(addPoissonNoise(face, 1, { rng: 6 }).toFloat32Array(), a);
    manualSeed(3);
    const g1 = addPoissonNoise(face, 1).toFloat32Array();
    manualSeed(3);
    assert.deepEqual(addPoissonNoise(face, 1).toFloat32Array(), g1);
    assert.throws(() => addPoissonNoise(full([1, 1, 8, 8], 0.5), 1, { gray: true }), /3 channels/);
  });
});

// ---------------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------------

/** Mean |horizontal + vertical neighbour difference| across 8x8 block edges / inside blocks. */
function blockiness(img: Float32Array, c: number, h: number, w: number): number {
  let edge = 0;
  let edgeN = 0;
  let inner = 0;
  let innerN = 0;
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w - 1; x++) {
        const o = ch * h * w;
        const dh = Math.abs(img[o + y * w + x]! - img[o + y * w + x + 1]!);
        if (x % 8 === 7) [edge, edgeN] = [edge + dh, edgeN + 1];
        else [inner, innerN] = [inner + dh, innerN + 1];
        if (y < h - 1) {
          const dv = Math.abs(img[o + x * 1 + y * w]! - img[o + x + (y + 1) * w]!);
          if (y % 8 === 7) [edge, edgeN] = [edge + dv, edgeN + 1];
          else [inner, innerN] = [inner + dv, innerN + 1];
        }
      }
  return edge / edgeN / (inner / innerN);
}

test('JPEG: q100 near identity, q10 lossy with 8x8 block artefacts, seeded quality ranges', async (t) => {
  const face = face128();
  const xs = face.toFloat32Array();
  const q100 = await jpegCompress(face, 100);
  const q10 = await jpegCompress(face, 10);
  const q50 = await jpegCompress(face, 50);
  const [p100, p50, p10] = [q100, q50, q10].map((y) => psnr(y.toFloat32Array(), xs));
  assert.ok(p100! > 40, `q100 PSNR ${p100}`);
  assert.ok(p10! < p50! && p50! < p100!, `PSNR q10 ${p10} q50 ${p50} q100 ${p100}`);
  assert.ok(p10! < 32, `q10 PSNR ${p10}`);
  const b0 = blockiness(xs, 3, 128, 128);
  const b10 = blockiness(q10.toFloat32Array(), 3, 128, 128);
  assert.ok(b0 < 1.15, `original blockiness ${b0}`);
  assert.ok(b10 > 1.3 && b10 > b0 * 1.2, `q10 blockiness ${b10} vs ${b0}`);
  t.diagnostic(
    `PSNR q100 ${p100!.toFixed(1)} q50 ${p50!.toFixed(1)} q10 ${p10!.toFixed(1)} dB; ` +
      `block-edge/inner gradient ratio ${b0.toFixed(2)} -> ${b10.toFixed(2)} at q10`,
  );
  // Per-image qualities, grayscale, a seeded range, input unchanged.
  const two = cat([face, face]);
  const y = await jpegCompress(two, [100, 10]);
  assert.deepEqual(y.narrow(0, 0, 1).toFloat32Array(), q100.toFloat32Array());
  assert.deepEqual(y.narrow(0, 1, 1).toFloat32Array(), q10.toFloat32Array());
  const gray = await jpegCompress(face.mean(1, true), 30);
  assert.deepEqual(gray.shape, [1, 1, 128, 128]);
  const r1 = await jpegCompress(two, { min: 20, max: 90 }, { rng: 4 });
  const r2 = await jpegCompress(two, { min: 20, max: 90 }, { rng: 4 });
  assert.deepEqual(r1.toFloat32Array(), r2.toFloat32Array());
  assert.deepEqual(face.toFloat32Array(), xs);
  await assert.rejects(jpegCompress(face, 0), /number >= 1 for quality\[0\]/);
  await assert.rejects(jpegCompress(face, 101), /1-100/);
  await assert.rejects(jpegCompress(full([1, 2, 8, 8], 0), 50), /1 or 3 channels/);
  for (const v of [face, q100, q10, q50, two, y, gray, r1, r2]) v.dispose();
});

// ---------------------------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------------------------

test('bicubic4 and area4 presets: plain x4 down-sampling (clamped), golden within 1e-5', async () => {
  const x = imageInput(raw(interp, 'img/a'), '-1,1');
  const { lr, records } = await makeDegradation('bicubic4').degrade(x);
  assert.deepEqual(lr.shape, [1, 3, 32, 32]);
  const ref = rawFloat32(raw(interp, 'a/x4/bicubic_aa')).map((v) => Math.min(1, Math.max(-1, v)));
  assertClose(lr, ref, { atol: INTERP_ATOL, rtol: 0, what: 'bicubic4' });
  assert.deepEqual(records[0]!.down, { mode: 'bicubic', antialias: true, size: [32, 32] });
  assert.equal(records[0]!.blur, null);
  const area = await makeDegradation('area4').degrade(x);
  assertClose(area.lr, rawFloat32(raw(interp, 'a/x4/area')), { atol: INTERP_ATOL, rtol: 0, what: 'area4' });
  // [0, 1] range and a [C, H, W] input.
  const x01 = imageInput(raw(interp, 'img/b'), '0,1');
  const sq = x01.squeeze(0);
  const b = await makeDegradation('bicubic4', { range: '0,1' }).degrade(sq);
  const refB = rawFloat32(raw(interp, 'b/x4/bicubic_aa')).map((v) => Math.min(1, Math.max(0, v)));
  assertClose(b.lr, refB, { atol: INTERP_ATOL, rtol: 0, what: 'bicubic4 [0,1]' });
  for (const v of [x, lr, area.lr, x01, sq, b.lr]) v.dispose();
});

test('realistic preset: shapes, recorded parameters within their ranges, output in range', async () => {
  const cfg = DEGRADATION_PRESETS.realistic;
  const deg = makeDegradation('realistic', { seed: 2024 });
  const hr64 = tidy(() => rand([24, 3, 64, 64]).mul(2).sub(1));
  const { lr, records } = await deg.degrade(hr64);
  assert.deepEqual(lr.shape, [24, 3, 16, 16]);
  const v = lr.toFloat32Array();
  assert.ok(v.every((a) => a >= -1 && a <= 1));
  const hr128 = face128();
  const big = await deg.degrade(hr128.mul(2).sub(1));
  assert.deepEqual(big.lr.shape, [1, 3, 32, 32]);
  const seen = new Set<string>();
  for (const r of [...records, ...deg.sample(400, [128, 128])]) {
    assert.equal(r.preset, 'realistic');
    assert.ok(r.blur && r.noise && r.jpeg);
    seen.add(r.blur.type).add(r.noise.type).add(r.down.mode);
    if (r.blur.type === 'iso') assert.ok(r.blur.sigma >= 0.2 && r.blur.sigma <= 3);
    if (r.blur.type === 'aniso')
      assert.ok(r.blur.sigmaX >= 0.2 && r.blur.sigmaY <= 3 && Math.abs(r.blur.theta) <= Math.PI);
    if (r.blur.type === 'motion') assert.ok(r.blur.length >= 2 && r.blur.length <= 10);
    assert.equal(r.blur.size % 2, 1);
    assert.equal(r.down.antialias, false);
    if (r.noise.type === 'gaussian') assert.ok(r.noise.sigma >= 0 && r.noise.sigma <= 15);
    else assert.ok(r.noise.scale >= 0.05 && r.noise.scale <= 1.5);
    assert.ok(Number.isInteger(r.jpeg.quality) && r.jpeg.quality >= 30 && r.jpeg.quality <= 95);
    assert.equal(r.jpeg.chromaSubsampling, '4:2:0');
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  }
  for (const k of ['iso', 'aniso', 'motion', 'gaussian', 'poisson', 'bicubic', 'bilinear', 'area'])
    assert.ok(seen.has(k), `never drew ${k}`);
  assert.equal(cfg.jpeg.quality[0], 30);
  assert.throws(() => deg.sample(1, [66, 64]), /not divisible by x4/);
  for (const t of [hr64, lr, hr128, big.lr]) t.dispose();
});

test('pipeline: same seed -> identical LR and records, independent of manualSeed; replay; per image', async () => {
  const hr = tidy(() =>
    cat([face128(), face128().flip(3), face128().flip(2)])
      .mul(2)
      .sub(1),
  );
  const before = liveTensors();
  manualSeed(1);
  const a = await makeDegradation('realistic', { seed: 77 }).degrade(hr);
  manualSeed(999);
  rand([5]).dispose();
  const state = rngBytes();
  const b = await makeDegradation('realistic', { seed: 77 }).degrade(hr);
  assert.deepEqual(rngBytes(), state, 'the pipeline must not use the global generator');
  assert.deepEqual(b.records, a.records);
  assert.deepEqual(b.lr.toFloat32Array(), a.lr.toFloat32Array());
  const c = await makeDegradation('realistic', { seed: 78 }).degrade(hr);
  assert.notDeepEqual(c.lr.toFloat32Array(), a.lr.toFloat32Array());
  // Successive calls continue the sequence (so a second batch differs from the first).
  const deg = makeDegradation('realistic', { seed: 77 });
  const first = await deg.degrade(hr);
  const second = await deg.degrade(hr);
  assert.deepEqual(first.records, a.records);
  assert.notDeepEqual(second.records, a.records);
  // Replaying the records (after a JSON round trip) gives the same LR, also one image at a time.
  const recs = JSON.parse(JSON.stringify(a.records)) as typeof a.records;
  const replay = await applyDegradation(hr, recs);
  assert.deepEqual(replay.toFloat32Array(), a.lr.toFloat32Array());
  for (let i = 0; i < 3; i++) {
    const one = hr.narrow(0, i, 1);
    const r = await applyDegradation(one, [recs[i]!]);
    const row = a.lr.narrow(0, i, 1);
    assert.deepEqual(r.toFloat32Array(), row.toFloat32Array(), `image ${i} alone`);
    for (const v of [one, r, row]) v.dispose();
  }
  for (const v of [a.lr, b.lr, c.lr, first.lr, second.lr, replay]) v.dispose();
  // (<=: the garbage collector may free tensors of earlier tests meanwhile)
  assert.ok(liveTensors() <= before, `tensors leaked: ${liveTensors()} live, ${before} before`);
  await assert.rejects(applyDegradation(hr, recs.slice(0, 2)), /2 records for 3 images/);
  await assert.rejects(applyDegradation(hr.narrow(2, 0, 64), recs), /record 0 is for a 128x128 image/);
  hr.dispose();
});

test('custom configs: stages switched off, deterministic stages, validation', async () => {
  const hr = tidy(() => face128().mul(2).sub(1));
  const noisy: DegradationConfig = {
    name: 'blur-only',
    blur: { prob: 1, iso: { weight: 1, sigma: [1.5, 1.5] } },
    down: { scale: 2, modes: ['area'], antialias: true },
    noise: null,
    jpeg: null,
    clamp: false,
  };
  const { lr, records } = await makeDegradation(noisy, { seed: 1 }).degrade(hr);
  assert.deepEqual(lr.shape, [1, 3, 64, 64]);
  assert.deepEqual(records[0]!.blur, { type: 'iso', sigma: 1.5, size: 11 });
  assert.equal(records[0]!.down.antialias, false); // area
  const ref = tidy(() => downsample(blur(hr, isotropicGaussianKernel(1.5)), 2, { mode: 'area' }));
  assert.deepEqual(lr.toFloat32Array(), ref.toFloat32Array());
  assert.throws(() => makeDegradation({ ...noisy, down: { ...noisy.down, scale: 0 } }), /down.scale/);
  assert.throws(
    () => makeDegradation({ ...noisy, blur: { prob: 2, iso: { weight: 1, sigma: [1, 2] } } }),
    /probability in \[0, 1\] for blur.prob/,
  );
  assert.throws(
    () => makeDegradation({ ...noisy, jpeg: { prob: 1, quality: [50, 120], chromaSubsampling: '4:2:0' } }),
    /jpeg.quality/,
  );
  assert.throws(() => makeDegradation('nope' as 'realistic'), /one of 'bicubic4', 'area4', 'realistic'/);
  for (const v of [hr, lr, ref]) v.dispose();
});

test('timing: realistic degradation of 64 faces of 128x128 (diagnostic)', async (t) => {
  const hr = tidy(() => {
    const f = face128().mul(2).sub(1);
    return cat(Array.from({ length: 64 }, (_, i) => (i % 2 ? f.flip(3) : f)));
  });
  const deg = makeDegradation('realistic', { seed: 5 });
  (await deg.degrade(hr)).lr.dispose(); // warm-up
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { lr } = await deg.degrade(hr);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    lr.dispose();
  }
  hr.dispose();
  const b4 = makeDegradation('bicubic4');
  const hr2 = tidy(() => rand([64, 3, 128, 128]));
  const t1 = performance.now();
  (await b4.degrade(hr2)).lr.dispose();
  const tb = performance.now() - t1;
  hr2.dispose();
  t.diagnostic(
    `realistic, 64x3x128x128 -> 64x3x32x32: ${Math.min(...times).toFixed(0)} ms wall, ` +
      `${Math.min(...cpu).toFixed(0)} ms CPU (best of 3); bicubic4: ${tb.toFixed(0)} ms`,
  );
});
