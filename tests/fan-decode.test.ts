// Heatmap decoding (src/models/fan.ts): method.md's quarter-cell rule and the 'taylor' (DARK) step.
import test from 'node:test';
import assert from 'node:assert/strict';
import { landmarkHeatmaps, decodeHeatmaps } from '../src/models/fan.js';
import { fromTypedArray, zeros } from '../src/tensor/index.js';

const STRIDE = 4;
const SIZE = 16; // 16x16 heatmaps of a 64x64 face (configs/fan-cpu-16.json), where the read-outs differ most

/** Points in input pixels (x, y) of one face. */
function heatmapsOf(points: number[][]) {
  return landmarkHeatmaps(Float32Array.from(points.flat()), 1, points.length, SIZE, STRIDE, 2);
}

test("'taylor' recovers sub-pixel Gaussian peaks exactly; 'quarter' moves a whole input pixel", () => {
  // Cell j is centred on input pixel 4j + 1.5; these points sit 0, +1.2, -0.7, +1.9 px off centres.
  const pts = [
    [4 * 7 + 1.5, 4 * 7 + 1.5],
    [4 * 5 + 1.5 + 1.2, 4 * 9 + 1.5 - 0.7],
    [4 * 10 + 1.5 - 0.7, 4 * 3 + 1.5 + 1.9],
  ];
  const hm = heatmapsOf(pts);
  const taylor = decodeHeatmaps(hm, STRIDE, 'taylor');
  pts
    .flat()
    .forEach((v, i) => assert.ok(Math.abs(taylor[i]! - v) < 1e-3, `taylor coord ${i}: ${taylor[i]} vs ${v}`));
  const quarter = decodeHeatmaps(hm, STRIDE); // the default is method.md's rule
  // centre: exact; +1.2 -> +1 (a quarter of a 4-px cell); -0.7 -> -1; +1.9 -> argmax still the
  // lower cell (1.9 < 2), shifted +1.
  const want = [29.5, 29.5, 22.5, 36.5, 40.5, 14.5];
  want.forEach((v, i) =>
    assert.ok(Math.abs(quarter[i]! - v) < 1e-6, `quarter coord ${i}: ${quarter[i]} vs ${v}`),
  );
  hm.dispose();
});

test("'taylor' falls back to the quarter rule at an edge cell and on a flat or negative neighbourhood", () => {
  const edge = heatmapsOf([[0.3, 30.2]]); // argmax in column 0
  const a = decodeHeatmaps(edge, STRIDE, 'taylor');
  const b = decodeHeatmaps(edge, STRIDE, 'quarter');
  assert.deepEqual([...a], [...b]);
  edge.dispose();
  const flat = zeros([1, 1, SIZE, SIZE]); // all zero: no log, argmax cell 0
  assert.deepEqual([...decodeHeatmaps(flat, STRIDE, 'taylor')], [1.5, 1.5]);
  flat.dispose();
  const v = new Float32Array(SIZE * SIZE).fill(-1);
  v[5 * SIZE + 6] = 2; // a lone positive peak, negative neighbours
  const lone = fromTypedArray(v, [1, 1, SIZE, SIZE]);
  assert.deepEqual([...decodeHeatmaps(lone, STRIDE, 'taylor')], [6 * 4 + 1.5, 5 * 4 + 1.5]);
  assert.throws(
    () => decodeHeatmaps(lone, STRIDE, 'soft' as never),
    /Unknown heatmap decoding 'soft'. Decodings: quarter, taylor/,
  );
  lone.dispose();
});
