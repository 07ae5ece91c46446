// Identity similarity (face-api faceRecognitionNet descriptors) on real CelebA faces from the shared
// data; skipped with a reason where the shared data is absent (CI clones).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { IdentityNet, cosine, euclidean } from '../src/eval/identity.js';
import { loadHr } from '../src/eval/run.js';
import type { Image8 } from '../src/eval/metrics.js';

const CELEBA = path.join(process.env.FACESR_DATA ?? '/work/shared/data', 'hr', 'celeba');
const SKIP = existsSync(CELEBA) ? false : `CelebA crops not found at ${CELEBA}`;
if (SKIP) console.log(`# identity tests skipped: ${SKIP}`);

/** 3x3 box blur (edges replicated): a mild degradation that keeps the identity. */
function boxBlur(img: Image8): Image8 {
  const { width: w, height: h } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy));
            const xx = Math.min(w - 1, Math.max(0, x + dx));
            s += img.data[(yy * w + xx) * 3 + c]!;
          }
        out[(y * w + x) * 3 + c] = Math.round(s / 9);
      }
  return { ...img, data: out };
}

test('cosine: basic values and errors', () => {
  assert.equal(cosine([1, 0], [1, 0]), 1);
  assert.equal(cosine([1, 0], [0, 2]), 0);
  assert.ok(Math.abs(cosine([1, 2, 3], [-1, -2, -3]) + 1) < 1e-12);
  assert.equal(cosine([0, 0], [1, 1]), 0);
  assert.throws(() => cosine([1], [1, 2]), /lengths differ/);
  assert.equal(euclidean([0, 3], [4, 0]), 5);
  assert.throws(() => euclidean([1], [1, 2]), /lengths differ/);
});

test(
  'identity: same face -> 1; a mildly blurred face is closer to itself than to other people',
  { skip: SKIP },
  async (t) => {
    // 4 identities x 2 photos, 64x64 as eval sees them.
    const names = readdirSync(CELEBA).sort();
    const byId = new Map<string, string[]>();
    for (const f of names) {
      const id = f.split('_')[0]!;
      const list = byId.get(id) ?? [];
      list.push(f);
      byId.set(id, list);
    }
    const ids = [...byId.keys()].slice(0, 4);
    const files = ids.flatMap((id) =>
      byId
        .get(id)!
        .slice(0, 2)
        .map((f) => path.join(CELEBA, f)),
    );
    const faces = await Promise.all(files.map((f) => loadHr(f)));
    const net = await IdentityNet.load({ batch: 4 });
    const before = net.liveTensors();
    const d = await net.descriptors(faces);
    const again = await net.descriptors([faces[0]!]);
    const blurred = await net.descriptors(faces.map(boxBlur));
    assert.equal(net.liveTensors(), before, 'tfjs tensors leaked');
    assert.equal(d.length, faces.length);
    assert.equal(d[0]!.length, 128);
    assert.ok(Math.abs(cosine(d[0]!, again[0]!) - 1) < 1e-5, 'same image -> cosine 1');
    const idOf = (i: number) => Math.floor(i / 2);
    const same: number[] = [];
    const diff: number[] = [];
    for (let i = 0; i < faces.length; i++) {
      const selfBlur = cosine(d[i]!, blurred[i]!);
      for (let j = 0; j < faces.length; j++) {
        if (j === i) continue;
        const c = cosine(d[i]!, d[j]!);
        if (idOf(j) === idOf(i)) same.push(c);
        else {
          diff.push(c);
          assert.ok(
            selfBlur > c,
            `face ${i}: blurred self ${selfBlur.toFixed(3)} <= other person ${c.toFixed(3)}`,
          );
        }
      }
    }
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const selfBlurs = d.map((v, i) => cosine(v, blurred[i]!));
    t.diagnostic(
      `cosine: blurred self ${mean(selfBlurs).toFixed(3)} (min ${Math.min(...selfBlurs).toFixed(3)}), same person ${mean(same).toFixed(3)}, different ${mean(diff).toFixed(3)} (max ${Math.max(...diff).toFixed(3)})`,
    );
    // Another photo of the same person is, on average, closer than a photo of someone else.
    assert.ok(mean(same) > mean(diff), `same ${mean(same).toFixed(3)} vs different ${mean(diff).toFixed(3)}`);
    const sim = await net.similarity(faces.slice(0, 2), faces.slice(0, 2));
    for (const s of sim) assert.ok(Math.abs(s - 1) < 1e-5);
  },
);
