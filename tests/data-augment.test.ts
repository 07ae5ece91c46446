// Augmentation: the 68-point mirror permutation, flips, the affine warp (JS and affineGrid +
// gridSample agree, and landmarks follow the image), colour jitter, and the seeded generator.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  FLIP_68,
  Rng,
  adjustColor,
  adjustColorTensor,
  affineToTheta,
  applyAugment,
  augment,
  hflipImage,
  hflipLandmarks,
  hflipMatrix,
  hflipTensor,
  sampleAugment,
  similarityAbout,
  transformLandmarks,
  warpAffine,
  warpAffineTensor,
  type Matrix2x3,
  type PlanarImage,
} from '../src/data/index.js';
import { fromTypedArray, liveTensors } from '../src/tensor/index.js';
import { assertClose } from './helpers/compare.js';

function randomImage(w: number, h: number, seed: number, c = 3): PlanarImage {
  const rng = new Rng(seed);
  const data = new Float32Array(c * w * h);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  return { data, width: w, height: h, channels: c };
}

function toTensor(img: PlanarImage) {
  return fromTypedArray(img.data, [1, img.channels, img.height, img.width]);
}

/** A Gaussian dot (sigma 0.8 px) centred on the continuous point (x, y), in channel 0. */
function dotImage(w: number, h: number, x: number, y: number): PlanarImage {
  const data = new Float32Array(3 * w * h);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const d2 = (j + 0.5 - x) ** 2 + (i + 0.5 - y) ** 2;
      data[i * w + j] = Math.exp(-d2 / (2 * 0.8 ** 2));
    }
  return { data, width: w, height: h, channels: 3 };
}

/** Centre (continuous coordinates) of the brightest pixel of a channel. */
function argmax(img: PlanarImage, channel = 0): [number, number] {
  const plane = img.width * img.height;
  let best = -Infinity;
  let at = 0;
  for (let i = 0; i < plane; i++) {
    const v = img.data[channel * plane + i]!;
    if (v > best) {
      best = v;
      at = i;
    }
  }
  return [(at % img.width) + 0.5, Math.floor(at / img.width) + 0.5];
}

test('FLIP_68 is a permutation and an involution with the iBUG 300-W pairs', () => {
  assert.equal(FLIP_68.length, 68);
  assert.deepEqual(
    [...FLIP_68].sort((a, b) => a - b),
    Array.from({ length: 68 }, (_, i) => i),
  );
  for (let i = 0; i < 68; i++) assert.equal(FLIP_68[FLIP_68[i]!], i, `FLIP_68 not an involution at ${i}`);
  const pairs: [number, number][] = [
    [0, 16], [1, 15], [7, 9], [17, 26], [21, 22], [31, 35], [32, 34], [36, 45], [37, 44], [38, 43],
    [39, 42], [40, 47], [41, 46], [48, 54], [49, 53], [50, 52], [55, 59], [56, 58], [60, 64], [61, 63],
    [65, 67],
  ]; // prettier-ignore
  for (const [a, b] of pairs) assert.equal(FLIP_68[a], b, `${a} <-> ${b}`);
  const fixed = [8, 27, 28, 29, 30, 33, 51, 57, 62, 66];
  for (const f of fixed) assert.equal(FLIP_68[f], f, `${f} stays`);
  assert.equal(FLIP_68.filter((v, i) => v === i).length, fixed.length);
});

test('flipping a symmetric face maps each point onto its mirror partner', () => {
  const w = 64;
  const rng = new Rng(7);
  // A face symmetric about x = w/2: each pair gets mirrored positions, self-paired points sit on the axis.
  const lm = new Float32Array(136);
  for (let i = 0; i < 68; i++) {
    const j = FLIP_68[i]!;
    if (j < i) continue;
    const x = j === i ? w / 2 : rng.uniform(4, w / 2 - 2);
    const y = rng.uniform(8, 56);
    lm[2 * i] = x;
    lm[2 * i + 1] = y;
    lm[2 * j] = w - x;
    lm[2 * j + 1] = y;
  }
  const flipped = hflipLandmarks(lm, w);
  for (let i = 0; i < 68; i++) {
    // The flipped face's point i (e.g. left eye corner 36) lies where the original's point i was.
    assert.ok(Math.abs(flipped[2 * i]! - lm[2 * i]!) < 1e-4, `x of point ${i}`);
    assert.ok(Math.abs(flipped[2 * i + 1]! - lm[2 * i + 1]!) < 1e-4, `y of point ${i}`);
  }
  // Without the permutation, the left eye would land on the right eye's place.
  const naive = hflipLandmarks(
    lm,
    w,
    Array.from({ length: 68 }, (_, i) => i),
  );
  assert.ok(Math.abs(naive[2 * 36]! - lm[2 * 45]!) < 1e-4);
  assert.ok(Math.abs(naive[2 * 36]! - lm[2 * 36]!) > 1);
  // Flipping twice gives the original back.
  assertClose(hflipLandmarks(flipped, w), lm, { atol: 1e-5, rtol: 0, what: 'flip twice' });
});

test('hflipImage matches the tensor flip, and the flip matrix warps exactly to it', () => {
  const img = randomImage(13, 9, 1);
  const f = hflipImage(img);
  const x = toTensor(img);
  const t = hflipTensor(x);
  assert.deepEqual(f.data, t.toFloat32Array());
  x.dispose();
  t.dispose();
  const warped = warpAffine(img, hflipMatrix(13));
  assertClose(warped.data, f.data, { atol: 1e-6, rtol: 0, what: 'warp by flip matrix' });
});

test('warpAffine (JS) matches F.affineGrid + F.gridSample (bilinear, border, alignCorners false)', () => {
  const live = liveTensors();
  const rng = new Rng(3);
  for (const [w, h] of [
    [32, 32],
    [24, 17],
  ] as const) {
    for (let k = 0; k < 6; k++) {
      const img = randomImage(w, h, 10 + k);
      let m: Matrix2x3 = similarityAbout(w, h, {
        angle: rng.uniform(-30, 30),
        scale: rng.uniform(0.7, 1.3),
        tx: rng.uniform(-5, 5),
        ty: rng.uniform(-5, 5),
      });
      if (k % 2) m = [-m[0], m[1], m[2] + m[0] * w, -m[3], m[4], m[5] + m[3] * w]; // m after a flip
      const js = warpAffine(img, m);
      const x = toTensor(img);
      const y = warpAffineTensor(x, m);
      assertClose(js.data, y.toFloat32Array(), { atol: 2e-5, rtol: 0, what: `warp ${w}x${h} #${k}` });
      x.dispose();
      y.dispose();
    }
  }
  assert.equal(liveTensors(), live, 'tensors leaked');
});

test('affineToTheta of the identity is the identity theta', () => {
  const t = affineToTheta([1, 0, 0, 0, 1, 0], 40, 30);
  assertClose(t, [1, 0, 0, 0, 1, 0], { atol: 1e-12, rtol: 0 });
});

test('landmarks follow the image: a dot rendered at a point lands on the transformed point (within 1 px)', () => {
  const rng = new Rng(11);
  const w = 64;
  const h = 64;
  let worst = 0;
  for (let k = 0; k < 40; k++) {
    const p = new Float32Array([rng.uniform(16, 48), rng.uniform(16, 48)]);
    const img = dotImage(w, h, p[0]!, p[1]!);
    const params = sampleAugment(rng, w, h, { flip: 0.5, rotate: 15, scale: 0.1, shift: 0.05 });
    params.color = { brightness: 1, contrast: 1, saturation: 1 };
    // One point only: no mirror partner to swap with, so pass the trivial permutation.
    const out = applyAugment(img, p, params, [0]);
    const [ax, ay] = argmax(out.image);
    const d = Math.hypot(ax - out.landmarks![0]!, ay - out.landmarks![1]!);
    worst = Math.max(worst, d);
    assert.ok(
      d <= 1,
      `dot at (${ax}, ${ay}) but landmark at (${out.landmarks![0]}, ${out.landmarks![1]}), ${d} px`,
    );
    // The tensor route lands the dot in the same place.
    const x = toTensor(img);
    const y = warpAffineTensor(x, params.matrix);
    const t: PlanarImage = { data: y.toFloat32Array(), width: w, height: h, channels: 3 };
    x.dispose();
    y.dispose();
    const [tx, ty] = argmax(t);
    assert.ok(Math.hypot(tx - out.landmarks![0]!, ty - out.landmarks![1]!) <= 1, 'tensor warp dot');
  }
  assert.ok(worst <= 1);
});

test('a flipped, warped face keeps point indices on the same face parts', () => {
  // Dots at point 36 (channel 0) and point 45 (channel 1) of a 68-point set.
  const w = 64;
  const lm = new Float32Array(136).fill(32);
  lm.set([20, 28], 2 * 36);
  lm.set([44, 26], 2 * 45);
  const a = dotImage(w, w, 20, 28);
  const b = dotImage(w, w, 44, 26);
  const img: PlanarImage = { data: new Float32Array(3 * w * w), width: w, height: w, channels: 3 };
  img.data.set(a.data.subarray(0, w * w), 0);
  img.data.set(b.data.subarray(0, w * w), w * w);
  const rng = new Rng(5);
  let flips = 0;
  for (let k = 0; k < 12; k++) {
    const p = sampleAugment(rng, w, w, { flip: 0.5, rotate: 10, scale: 0.05, shift: 0.03 });
    p.color = { brightness: 1, contrast: 1, saturation: 1 };
    const out = applyAugment(img, lm, p);
    const red = argmax(out.image, 0);
    const green = argmax(out.image, 1);
    const at = (i: number) => [out.landmarks![2 * i]!, out.landmarks![2 * i + 1]!] as const;
    const near = (q: readonly number[], i: number) => Math.hypot(q[0]! - at(i)[0], q[1]! - at(i)[1]) <= 1;
    if (p.flip) {
      flips++;
      // The old left-eye corner is now on the right: it is the new point 45.
      assert.ok(near(red, 45) && near(green, 36), `flipped #${k}`);
    } else assert.ok(near(red, 36) && near(green, 45), `not flipped #${k}`);
    // Point 36 is always the one further left (image left), as the convention says.
    assert.ok(at(36)[0] < at(45)[0]);
  }
  assert.ok(flips > 0 && flips < 12, `flip probability 0.5 gave ${flips}/12`);
});

test('adjustColor matches its tensor twin and torchvision-style behaviour', () => {
  const img = randomImage(16, 12, 2);
  const f = { brightness: 1.15, contrast: 0.8, saturation: 1.3 };
  const js = adjustColor(img, f);
  const x = toTensor(img);
  const y = adjustColorTensor(x, f);
  assertClose(js.data, y.toFloat32Array(), { atol: 1e-5, rtol: 0, what: 'colour jitter' });
  x.dispose();
  y.dispose();
  assert.deepEqual(adjustColor(img, {}).data, img.data);
  const grey = adjustColor(img, { saturation: 0 });
  const n = 16 * 12;
  for (let i = 0; i < n; i++) {
    assert.ok(
      Math.abs(grey.data[i]! - grey.data[n + i]!) < 1e-6 &&
        Math.abs(grey.data[i]! - grey.data[2 * n + i]!) < 1e-6,
    );
  }
  const flat = adjustColor(img, { contrast: 0 });
  assert.ok(Math.max(...flat.data) - Math.min(...flat.data) < 1e-6);
  for (const v of adjustColor(img, { brightness: 3 }).data) assert.ok(v >= 0 && v <= 1);
});

test('Rng: seeded, reproducible, derived streams differ, uniform enough', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.next()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notEqual(Rng.derive(1, 0, 5).next(), Rng.derive(1, 0, 6).next());
  assert.notEqual(Rng.derive(1, 0, 5).next(), Rng.derive(1, 1, 5).next());
  assert.equal(Rng.derive(1, 0, 5).next(), Rng.derive(1, 0, 5).next());
  assert.notEqual(new Rng(2 ** 40).next(), new Rng(0).next());
  const perm = new Rng(9).permutation(50);
  assert.deepEqual(
    [...perm].sort((p, q) => p - q),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.throws(() => new Rng(0.5), /integers/);
});

test('sampleAugment draws a fixed number of values whatever is switched off', () => {
  const r1 = new Rng(8);
  const r2 = new Rng(8);
  sampleAugment(r1, 32, 32, {});
  sampleAugment(r2, 32, 32, {
    flip: 0,
    rotate: 0,
    scale: 0,
    shift: 0,
    brightness: 0,
    contrast: 0,
    saturation: 0,
  });
  assert.equal(r1.next(), r2.next());
  const off = sampleAugment(new Rng(1), 32, 32, {
    flip: 0,
    rotate: 0,
    scale: 0,
    shift: 0,
    brightness: 0,
    contrast: 0,
    saturation: 0,
  });
  assertClose([...off.matrix], [1, 0, 0, 0, 1, 0], { atol: 1e-12, rtol: 0 });
  const img = randomImage(8, 8, 4);
  assert.equal(applyAugment(img, undefined, off).image, img, 'nothing to do: the same image back');
  assert.throws(() => sampleAugment(new Rng(1), 8, 8, { rotate: -1 }), /rotate/);
});

test('augment: same seed, same result; folds the flip into one warp', () => {
  const img = randomImage(32, 32, 6);
  const lm = new Float32Array(136).map((_, i) => 8 + (i % 16));
  const a = augment(img, lm, new Rng(77));
  const b = augment(img, lm, new Rng(77));
  assert.deepEqual(a.image.data, b.image.data);
  assert.deepEqual(a.landmarks, b.landmarks);
  // A flip-only augmentation equals the explicit mirror of image and landmarks.
  const flipOnly = { flip: 1, rotate: 0, scale: 0, shift: 0, brightness: 0, contrast: 0, saturation: 0 };
  const c = augment(img, lm, new Rng(1), flipOnly);
  assertClose(c.image.data, hflipImage(img).data, { atol: 1e-6, rtol: 0 });
  assertClose(c.landmarks!, hflipLandmarks(lm, 32), { atol: 1e-5, rtol: 0 });
  // And the landmarks equal the matrix applied, then permuted.
  const moved = transformLandmarks(lm, c.params.matrix);
  assert.ok(Math.abs(c.landmarks![2 * 36]! - moved[2 * 45]!) < 1e-5);
});
