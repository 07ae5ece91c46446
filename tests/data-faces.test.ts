// Face geometry: similarity transform, alignment to the template, framing, tiles (src/data/faces.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Affine,
  type Point,
  type RgbImage,
  FACE_TEMPLATE_5,
  BOX_FRAMING,
  alignFace,
  applyAffine,
  composeAffine,
  cropFrame,
  frameBox,
  frameCrops,
  frameLandmarks,
  invertAffine,
  iou,
  resizeSquare,
  similarityTransform,
  suppressFaces,
  tileGrid,
  touchesInnerEdge,
  transformFaces,
} from '../src/data/faces.js';
import { liveTensors } from '../src/tensor/index.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

function similarity(scale: number, angle: number, tx: number, ty: number): Affine {
  const c = scale * Math.cos(angle);
  const s = scale * Math.sin(angle);
  return [c, -s, tx, s, c, ty];
}

test('similarityTransform recovers a known similarity exactly', () => {
  const m = similarity(1.7, 0.4, -12.5, 33.25);
  const src: Point[] = [
    [3, 4],
    [50, 7],
    [22, 40],
    [-8, 19],
    [31, -5],
  ];
  const dst = src.map((p) => applyAffine(m, p));
  const r = similarityTransform(src, dst);
  r.matrix.forEach((v, i) => close(v, m[i]!, 1e-10, `matrix[${i}]`));
  close(r.scale, 1.7, 1e-12, 'scale');
  close(r.rotation, 0.4, 1e-12, 'rotation');
  close(r.rmse, 0, 1e-9, 'rmse');
  // Least squares with noise: the residual is what remains after the best fit.
  const noisy = dst.map(([x, y], i) => [x + (i % 2 ? 0.3 : -0.3), y] as Point);
  assert.ok(similarityTransform(src, noisy).rmse < 0.31);
  // A reflection is not a similarity: the fit stays a proper rotation (positive determinant).
  const mirrored = src.map(([x, y]) => [-x, y] as Point);
  const f = similarityTransform(src, mirrored).matrix;
  assert.ok(f[0] * f[4] - f[1] * f[3] >= 0);
  assert.throws(() => similarityTransform([[1, 1]], [[2, 2]]), /same length >= 2/);
  assert.throws(
    () =>
      similarityTransform(
        [
          [1, 1],
          [1, 1],
        ],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    /coincide/,
  );
});

test('affine helpers invert and compose', () => {
  const m = similarity(0.5, -1.1, 4, 9);
  const inv = invertAffine(m);
  const id = composeAffine(inv, m);
  [1, 0, 0, 0, 1, 0].forEach((v, i) => close(id[i]!, v, 1e-12, `identity[${i}]`));
  assert.throws(() => invertAffine([1, 2, 0, 2, 4, 0]), /singular/);
});

/** An image with a Gaussian blob (sigma px) at each point, on black. */
function blobs(width: number, height: number, pts: readonly Point[], sigma: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let v = 0;
      // Pixel (x, y) has its centre at (x + 0.5, y + 0.5) in continuous coordinates.
      for (const [px, py] of pts)
        v += Math.exp(-((x + 0.5 - px) ** 2 + (y + 0.5 - py) ** 2) / (2 * sigma * sigma));
      const b = Math.min(255, Math.round(255 * v));
      data[(y * width + x) * 3] = b;
      data[(y * width + x) * 3 + 1] = b;
      data[(y * width + x) * 3 + 2] = b;
    }
  return { data, width, height };
}

/** Intensity centroid of channel 0 within radius r of p. */
function centroid(img: RgbImage, p: Point, r: number): Point {
  let sx = 0;
  let sy = 0;
  let s = 0;
  for (let y = Math.max(0, Math.floor(p[1] - r)); y < Math.min(img.height, Math.ceil(p[1] + r)); y++)
    for (let x = Math.max(0, Math.floor(p[0] - r)); x < Math.min(img.width, Math.ceil(p[0] + r)); x++) {
      const v = img.data[(y * img.width + x) * 3]!;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
      s += v;
    }
  return [sx / s, sy / s];
}

test('alignFace puts the landmarks on the template within 0.5 px', () => {
  const size = 128;
  // A face 1.4x the crop's scale, turned by 18 degrees, somewhere in a 240x200 photo.
  const place = similarity(1.4 * size, (18 * Math.PI) / 180, 40, 12);
  const landmarks = FACE_TEMPLATE_5.map((p) => applyAffine(place, p));
  const img = blobs(240, 200, landmarks, 2.8);
  const before = liveTensors();
  const a = alignFace(img, landmarks, size);
  assert.equal(liveTensors(), before, 'alignFace leaks no tensors');
  assert.equal(a.crop.width, size);
  assert.equal(a.crop.data.length, size * size * 3);
  close(a.rmse, 0, 1e-9, 'fit residual');
  FACE_TEMPLATE_5.forEach(([tx, ty], k) => {
    const want: Point = [tx * size, ty * size];
    const got = centroid(a.crop, want, 7);
    const err = Math.hypot(got[0] - want[0], got[1] - want[1]);
    assert.ok(
      err < 0.5,
      `landmark ${k}: blob at (${got[0].toFixed(2)}, ${got[1].toFixed(2)}), template (${want[0]}, ${want[1]}): ${err.toFixed(3)} px`,
    );
    // The inverse maps the template back onto the photo's landmarks (paste-back).
    const back = applyAffine(a.inverse, want);
    close(back[0], landmarks[k]![0], 1e-6, `inverse x ${k}`);
    close(back[1], landmarks[k]![1], 1e-6, `inverse y ${k}`);
  });
  // A crop reaching outside the photo is zero there (default padding).
  const edge = alignFace(
    img,
    landmarks.map(([x, y]) => [x - 150, y] as Point),
    size,
  );
  assert.equal(edge.crop.data[0], 0);
  assert.throws(() => alignFace(img, landmarks.slice(0, 4), size), /expected 5 landmarks/);
});

test('frameBox: a square 1.2x the long side, centred on the box (shifted up 0.034 sides)', () => {
  assert.deepEqual(BOX_FRAMING, { scale: 1.2, shiftY: -0.034 });
  // 40x50 box centred at (120, 75): side 60, centre y 75 - 1.7.
  assert.deepEqual(frameBox([100, 50, 140, 100], 640, 480), { x: 90, y: 43, size: 60, padded: false });
  // The README's WIDER framing: 1.3x, no shift.
  assert.deepEqual(frameBox([100, 50, 140, 100], 640, 480, { scale: 1.3, shiftY: 0 }), {
    x: 88,
    y: 43,
    size: 65,
    padded: false,
  });
  // At the corner: reaches outside, padded.
  assert.deepEqual(frameBox([0, 0, 10, 10], 50, 50, { shiftY: 0 }), { x: -1, y: -1, size: 12, padded: true });
  assert.throws(() => frameBox([5, 5, 5, 9], 50, 50), /empty box/);
  // Landmarks on the template of a 100 px square at (10, 20) frame exactly that square.
  const lm = FACE_TEMPLATE_5.map(([x, y]) => [10 + 100 * x, 20 + 100 * y] as Point);
  assert.deepEqual(frameLandmarks(lm, 640, 480), { x: 10, y: 20, size: 100, padded: false });
});

test('cropFrame cuts at native resolution, padding by edge or zeros', () => {
  // 4x3 image, pixel value = 10 * row + column in every channel.
  const W = 4;
  const H = 3;
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) data.fill(10 * y + x, (y * W + x) * 3, (y * W + x) * 3 + 3);
  const img = { data, width: W, height: H };
  const px = (c: RgbImage) => Array.from({ length: c.width * c.height }, (_, i) => c.data[i * 3]);
  assert.deepEqual(px(cropFrame(img, { x: 1, y: 0, size: 2, padded: false })), [1, 2, 11, 12]);
  assert.deepEqual(px(cropFrame(img, { x: -1, y: 2, size: 2, padded: true })), [20, 20, 20, 20]);
  assert.deepEqual(
    px(cropFrame(img, { x: -1, y: 2, size: 2, padded: true }, { pad: 'zeros' })),
    [0, 20, 0, 0],
  );
  assert.deepEqual(px(cropFrame(img, { x: 3, y: -1, size: 2, padded: true })), [3, 3, 3, 3]);
});

test('frameCrops: native crop plus area-resized 16 and 32 (bicubic when enlarging)', () => {
  const W = 64;
  const data = new Uint8Array(W * W * 3);
  // Left half 200, right half 40: area averaging keeps the halves exactly.
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) data.fill(x < 32 ? 200 : 40, (y * W + x) * 3, (y * W + x) * 3 + 3);
  const { native, resized } = frameCrops(
    { data, width: W, height: W },
    { x: 0, y: 0, size: 64, padded: false },
  );
  assert.equal(native.width, 64);
  const s16 = resized.get(16)!;
  assert.equal(s16.width, 16);
  assert.equal(s16.data[0], 200);
  assert.equal(s16.data[(16 - 1) * 3], 40);
  // 2x2 average across the boundary does not happen at 16 (64/16 = 4 px cells align with 32).
  assert.equal(s16.data[7 * 3], 200);
  assert.equal(s16.data[8 * 3], 40);
  // Enlarging a flat crop stays flat.
  const flat = resizeSquare({ data: new Uint8Array(10 * 10 * 3).fill(77), width: 10, height: 10 }, 32);
  assert.ok(flat.data.every((v) => v === 77));
});

test('iou, tiles, edges, suppression, transforms', () => {
  assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  close(iou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150, 1e-12, 'half overlap');
  assert.equal(iou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
  const tiles = tileGrid(1000, 600, 400, 100);
  // Every pixel is covered and neighbours overlap by at least 100.
  const xs = [...new Set(tiles.map((t) => t.x))].sort((a, b) => a - b);
  assert.deepEqual(xs, [0, 300, 600]);
  assert.deepEqual([...new Set(tiles.map((t) => t.y))], [0, 200]);
  for (const t of tiles) assert.ok(t.x + t.w <= 1000 && t.y + t.h <= 600);
  assert.deepEqual(tileGrid(300, 200, 400, 100), [{ x: 0, y: 0, w: 300, h: 200 }]);
  assert.throws(() => tileGrid(100, 100, 50, 50), /overlap/);
  const t = { x: 300, y: 0, w: 400, h: 400 };
  assert.equal(touchesInnerEdge([301, 10, 340, 50], t, 1000, 600), true);
  assert.equal(touchesInnerEdge([320, 0, 340, 50], t, 1000, 600), false); // the image's own top edge
  const kept = suppressFaces([
    { box: [0, 0, 10, 10], score: 0.6 },
    { box: [1, 1, 11, 11], score: 0.9 },
    { box: [50, 50, 60, 60], score: 0.5 },
  ]);
  assert.deepEqual(
    kept.map((f) => f.score),
    [0.9, 0.5],
  );
  const [moved] = transformFaces([{ box: [1, 2, 3, 4], score: 1, landmarks: [[2, 3]] }], 10, 20, 2);
  assert.deepEqual(moved!.box, [22, 44, 26, 48]);
  assert.deepEqual(moved!.landmarks, [[24, 46]]);
});
