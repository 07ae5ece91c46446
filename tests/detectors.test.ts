// Face detectors behind the Detector interface (src/infer/detectors.ts) on real photos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RetinaFaceDetector, FaceApiSsdDetector, createDetector } from '../src/infer/detectors.js';
import { readImage } from '../src/data/image.js';
import { type Face, iou } from '../src/data/faces.js';
import { liveTensors } from '../src/tensor/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = [process.env.FACESR_SHARED, path.join(repo, 'shared'), path.join(repo, '../shared')]
  .filter((p): p is string => Boolean(p))
  .find((p) => existsSync(path.join(p, 'models/retinaface_mnet025.safetensors')));
const SKIP = SHARED ? false : `shared/ (models and photos) not found beside ${repo}`;
if (SKIP) console.log(`# detectors tests skipped: ${SKIP}`);
const WEIGHTS = SHARED ? path.join(SHARED, 'models/retinaface_mnet025.safetensors') : '';
const photo = (name: string) => path.join(SHARED ?? '', 'data/photos', name);

/** Boxes of the 51 faces the authors' model found (long side 640, score > 0.5, NMS 0.4). */
function goldenBoxes(): number[][] {
  const g = JSON.parse(
    readFileSync(path.join(SHARED!, 'models/retinaface_golden_detections.json'), 'utf8'),
  ) as {
    detections: { box_x1y1x2y2: number[] }[];
  };
  return g.detections.map((d) => d.box_x1y1x2y2);
}

/** How many of `want` have a face in `got` at IoU >= thr (one-to-one, greedy by IoU). */
function matched(want: readonly (readonly number[])[], got: readonly Face[], thr: number): number {
  const pairs: [number, number, number][] = [];
  want.forEach((w, i) =>
    got.forEach((g, j) => {
      const v = iou(w, g.box);
      if (v >= thr) pairs.push([v, i, j]);
    }),
  );
  pairs.sort((a, b) => b[0] - a[0]);
  const a = new Set<number>();
  const b = new Set<number>();
  for (const [, i, j] of pairs) {
    if (a.has(i) || b.has(j)) continue;
    a.add(i);
    b.add(j);
  }
  return a.size;
}

test('RetinaFaceDetector finds the 51 golden faces of ultralight_1.jpg', { skip: SKIP }, async () => {
  const golden = goldenBoxes();
  assert.equal(golden.length, 51);
  const img = await readImage(photo('ultralight_1.jpg'));
  const det = new RetinaFaceDetector(WEIGHTS);
  try {
    const before = liveTensors();
    const faces = await det.detect(img);
    assert.equal(liveTensors(), before, 'detect leaks no tensors');
    // The golden run resized the photo to a 640 long side; here it runs at its own 720x478.
    assert.equal(faces.length, 51);
    assert.equal(matched(golden, faces, 0.5), 51);
    for (const f of faces) {
      assert.ok(f.score > 0.5);
      assert.equal(f.landmarks?.length, 5);
    }
    // Sorted best first.
    for (let i = 1; i < faces.length; i++) assert.ok(faces[i - 1]!.score >= faces[i]!.score);
    // The tiled path (forced with a small pixel budget) finds the same faces.
    const tiled = new RetinaFaceDetector(WEIGHTS, { maxPixels: 100_000, tileSize: 256, tileOverlap: 64 });
    try {
      const t = await tiled.detect(img);
      assert.ok(matched(golden, t, 0.5) >= 49, `tiled found ${t.length}`);
    } finally {
      tiled.dispose();
    }
  } finally {
    det.dispose();
  }
  await assert.rejects(det.detect(img), /after dispose/);
});

test('RetinaFaceDetector options and bad input', { skip: SKIP }, async () => {
  assert.throws(() => new RetinaFaceDetector(WEIGHTS, { scoreThreshold: 2 }), /\[0, 1\] for scoreThreshold/);
  assert.throws(() => new RetinaFaceDetector(WEIGHTS, { tileSize: 256, tileOverlap: 300 }), /below tileSize/);
  assert.throws(() => new RetinaFaceDetector('/nonexistent/weights.safetensors'), /nonexistent/);
  const det = new RetinaFaceDetector(WEIGHTS, { minSize: 1000 });
  try {
    await assert.rejects(det.detect({ data: new Uint8Array(5), width: 2, height: 2 }), /needs 12 bytes/);
    const img = await readImage(photo('ultralight_1.jpg'));
    assert.deepEqual(await det.detect(img), []); // every face is under 1000 px
  } finally {
    det.dispose();
  }
  assert.throws(() => createDetector('retinaface'), /--detector-weights/);
  assert.throws(() => createDetector('yolo'), /Unknown detector 'yolo'\. Available: retinaface, ssd/);
});

test('FaceApiSsdDetector finds the large faces of a portrait', { skip: SKIP }, async () => {
  const img = await readImage(photo('gfpgan_Blake_Lively.jpg'));
  const ref = new RetinaFaceDetector(WEIGHTS);
  let want: Face[];
  try {
    want = await ref.detect(img);
  } finally {
    ref.dispose();
  }
  assert.equal(want.length, 2);
  const ssd = new FaceApiSsdDetector();
  const faces = await ssd.detect(img);
  assert.ok(faces.length >= 2, `SSD found ${faces.length} faces`);
  // SSD boxes are looser than RetinaFace's; both faces overlap well.
  assert.equal(
    matched(
      want.map((f) => f.box),
      faces,
      0.5,
    ),
    2,
  );
  for (const f of faces) assert.ok(f.score > 0.5 && f.score <= 1);
  assert.equal(ssd.framing?.scale !== undefined, true);
});
