// Landmark NME with face-api's 68-point net on real CelebA faces from the shared data; skipped with a
// reason where the shared data is absent (CI clones).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { LandmarkNet, nme } from '../src/eval/landmarks.js';
import { loadHr } from '../src/eval/run.js';
import type { Image8 } from '../src/eval/metrics.js';

const CELEBA = path.join(process.env.FACESR_DATA ?? '/work/shared/data', 'hr', 'celeba');
const SKIP = existsSync(CELEBA) ? false : `CelebA crops not found at ${CELEBA}`;
if (SKIP) console.log(`# landmark tests skipped: ${SKIP}`);

/** The image moved right by d pixels (left columns replicated). */
function shiftRight(img: Image8, d: number): Image8 {
  const { width: w, height: h } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = img.data[(y * w + Math.max(0, x - d)) * 3 + c]!;
  return { ...img, data: out };
}

test('nme: definition (mean distance over outer-eye-corner distance, percent)', () => {
  const ref = new Float64Array(136);
  ref[72] = 10; // point 36 x
  ref[90] = 30; // point 45 x: inter-ocular 20
  const pred = ref.map((v, i) => (i % 2 === 0 ? v + 2 : v)); // every point 2 px right
  assert.ok(Math.abs(nme(pred, ref) - 10) < 1e-12);
  assert.equal(nme(ref, ref), 0);
  assert.throws(() => nme(new Float64Array(10), ref), /68 points/);
});

test(
  'landmarks: plausible on CelebA faces, 0 for the same face, follow a shift',
  { skip: SKIP },
  async (t) => {
    const files = readdirSync(CELEBA)
      .sort()
      .filter((_, i) => i % 50 === 0)
      .slice(0, 6)
      .map((f) => path.join(CELEBA, f));
    const faces = await Promise.all(files.map((f) => loadHr(f)));
    const net = await LandmarkNet.load({ batch: 4 });
    const before = net.liveTensors();
    const lm = await net.landmarks(faces);
    const again = await net.landmarks(faces);
    const moved = await net.landmarks(faces.map((f) => shiftRight(f, 3)));
    assert.equal(net.liveTensors(), before, 'tfjs tensors leaked');
    const shifts: number[] = [];
    lm.forEach((p, i) => {
      assert.equal(nme(again[i]!, p), 0);
      const y = (a: number, b: number) => {
        let s = 0;
        for (let k = a; k <= b; k++) s += p[2 * k + 1]!;
        return s / (b - a + 1);
      };
      // eyes (36-47) above the nose tip (30-35) above the mouth (48-67); image-left eye on the left
      assert.ok(y(36, 47) < y(31, 35) && y(31, 35) < y(48, 67), `face ${i}: eyes, nose, mouth out of order`);
      assert.ok(p[72]! < p[90]!, `face ${i}: point 36 right of point 45`);
      for (const v of p) assert.ok(v > -8 && v < 72, `face ${i}: a point far outside the 64x64 crop`);
      let dx = 0;
      for (let k = 0; k < 68; k++) dx += moved[i]![2 * k]! - p[2 * k]!;
      shifts.push(dx / 68);
    });
    const mean = shifts.reduce((s, v) => s + v, 0) / shifts.length;
    t.diagnostic(`mean landmark x shift for a 3 px image shift: ${mean.toFixed(2)} px`);
    assert.ok(mean > 2 && mean < 4, `landmarks moved ${mean} px for a 3 px shift`);
  },
);
