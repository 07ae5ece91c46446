// No-reference metrics (src/eval/niqe.ts, src/eval/brisque.ts) against their references on real
// images (tests/fixtures/noref, made by dev/make_noref_fixtures.py): NIQE against a transcription of
// BasicSR's niqe.py, BRISQUE against OpenCV's quality module itself.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage } from '../src/data/index.js';
import type { Image8 } from '../src/eval/metrics.js';
import {
  findNiqeParams,
  loadNiqeModel,
  matlabResize,
  niqe,
  niqeBlockFeatures,
  niqeParamsCandidates,
  niqePlane,
  pinvSymmetric,
  type NiqeModel,
} from '../src/eval/niqe.js';
import {
  BRISQUE_DEFAULT_DIR,
  brisque,
  brisqueFeatures,
  brisqueFromFeatures,
  loadBrisqueModel,
  type BrisqueModel,
} from '../src/eval/brisque.js';
import { gammaFn } from '../src/eval/nss.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(repo, 'tests', 'fixtures', 'noref');

interface Expected {
  images: {
    file: string;
    width: number;
    height: number;
    niqe: Record<
      string,
      {
        value: number;
        mean_features: number[];
        basicsr_float32: number;
        basicsr_float32_mean_features: number[];
      }
    >;
    brisque: { score: number; features: number[] };
  }[];
  imresize_half: { input: number[][]; output: number[][] };
}
const expected = JSON.parse(readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as Expected;

// Tolerances, with the worst differences measured on these 16 image/block cases (docs/eval.md):
// NIQE against BasicSR's algorithm in double precision (MATLAB's arithmetic, what niqe.ts computes):
const NIQE_TOL = 1e-6; // measured 3e-12 (values 3..10)
const NIQE_FEAT_TOL = 1e-9; // per mean block feature, measured 5e-15
// ... and against BasicSR run as it is (float32 planes: cancellation in E[x^2] - mu^2 on smooth areas):
const NIQE_F32_TOL = 0.1; // measured 0.052 (a 64x64 bicubic face)
// BRISQUE against OpenCV (float32 inside OpenCV, float64 here):
const BRISQUE_TOL = 0.1; // BRISQUE points (0..100), measured 0.034
const BRISQUE_SHAPE_TOL = 1.5e-3; // AGGD shape features: at most one step of OpenCV's 0.001 search grid
const BRISQUE_FEAT_TOL = 1e-3; // the other features, absolute, measured 1.6e-4
const SHAPE = new Set([0, 2, 6, 10, 14, 18, 20, 24, 28, 32]);

async function load(file: string): Promise<Image8> {
  const img = await readImage(path.join(FIX, file));
  return { data: img.data, width: img.width, height: img.height, channels: 3 };
}

let niqeModel: NiqeModel | null = null;
let niqeMissing = '';
try {
  niqeModel = loadNiqeModel();
} catch (err) {
  niqeMissing = (err as Error).message;
}

test('gamma function against known values', () => {
  for (const [x, want] of [
    [0.5, Math.sqrt(Math.PI)],
    [1, 1],
    [5, 24],
    [0.1, 9.513507698668732],
    [2.5, 1.329340388179137],
    [15, 87178291200],
  ] as const)
    assert.ok(Math.abs(gammaFn(x) / want - 1) < 1e-13, `gamma(${x}) = ${gammaFn(x)}, want ${want}`);
});

test('MATLAB imresize x0.5 (antialiased bicubic) matches BasicSR', () => {
  const inp = expected.imresize_half.input;
  const h = inp.length;
  const w = inp[0]!.length;
  const r = matlabResize(Float64Array.from(inp.flat()), w, h, 0.5);
  const want = expected.imresize_half.output;
  assert.equal(r.height, want.length);
  assert.equal(r.width, want[0]!.length);
  let worst = 0;
  want.flat().forEach((v, i) => (worst = Math.max(worst, Math.abs(v - r.data[i]!))));
  assert.ok(worst < 1e-4, `max |diff| ${worst}`);
});

test('pinvSymmetric inverts a symmetric matrix and pseudo-inverts a singular one', () => {
  const a = Float64Array.from([4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2]);
  const inv = pinvSymmetric(a, 3);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a[i * 3 + k]! * inv[k * 3 + j]!;
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12);
    }
  // rank 1: v v^T with v = (1, 2) -> pinv = v v^T / |v|^4
  const p = pinvSymmetric(Float64Array.from([1, 2, 2, 4]), 2);
  [1, 2, 2, 4].forEach((v, i) => assert.ok(Math.abs(p[i]! - v / 25) < 1e-12));
});

test('NIQE matches BasicSR on real images (96 px blocks on scenes, 32 px on 64x64 faces)', async (t) => {
  if (!niqeModel) return t.skip(`no NIQE pristine model: ${niqeMissing}`);
  let worst = 0;
  let worst32 = 0;
  let worstFeat = 0;
  for (const e of expected.images) {
    const img = await load(e.file);
    assert.equal(img.width, e.width);
    for (const [bs, ref] of Object.entries(e.niqe)) {
      const p = niqePlane(img);
      const rows = niqeBlockFeatures(p.data, p.width, p.height, niqeModel, Number(bs));
      const mean = ref.mean_features.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
      mean.forEach((v, j) => (worstFeat = Math.max(worstFeat, Math.abs(v - ref.mean_features[j]!))));
      const got = niqe(img, niqeModel, { blockSize: Number(bs) });
      const d = Math.abs(got - ref.value);
      worst = Math.max(worst, d);
      assert.ok(d < NIQE_TOL, `${e.file} block ${bs}: NIQE ${got} vs BasicSR (float64) ${ref.value}`);
      const d32 = Math.abs(got - ref.basicsr_float32);
      worst32 = Math.max(worst32, d32);
      assert.ok(d32 < NIQE_F32_TOL, `${e.file} block ${bs}: NIQE ${got} vs BasicSR ${ref.basicsr_float32}`);
    }
  }
  assert.ok(worstFeat < NIQE_FEAT_TOL, `mean block features: max |diff| ${worstFeat}`);
  t.diagnostic(
    `NIQE max |diff| ${worst.toExponential(2)} (float64 reference), ${worst32.toExponential(2)} (BasicSR float32); features ${worstFeat.toExponential(2)}`,
  );
});

test('NIQE: sharper faces score lower than their bicubic x4 versions; clear errors', async (t) => {
  if (!niqeModel) return t.skip(`no NIQE pristine model: ${niqeMissing}`);
  for (let i = 0; i < 4; i++) {
    const a = niqe(await load(`face${i}.png`), niqeModel, { blockSize: 32 });
    const b = niqe(await load(`face${i}_bicubic.png`), niqeModel, { blockSize: 32 });
    assert.ok(a < b, `face${i}: ${a} should be below its bicubic ${b}`);
  }
  const face = await load('face0.png');
  assert.throws(() => niqe(face, niqeModel!), /64x64 image is smaller than one 96x96 block/);
  assert.throws(() => niqe(face, niqeModel!, { blockSize: 32, cropBorder: 40 }), /leaves nothing/);
  // a flat image has no AGGD fit: NaN, not a number made up
  const flat = { data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64, channels: 3 };
  assert.ok(Number.isNaN(niqe(flat, niqeModel, { blockSize: 32 })));
});

test('NIQE pristine model lookup: explicit file, variable, clear error', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-niqe-'));
  const saved = process.env.FACESR_NIQE_PARAMS;
  try {
    assert.throws(() => findNiqeParams(path.join(tmp, 'nope.json')), /nope\.json does not exist/);
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ mu_pris_param: [[1, 2]], cov_pris_param: [], gaussian_window: [[1]] }),
    );
    assert.throws(() => loadNiqeModel(bad), /mu_pris_param must hold 36 numbers/);
    process.env.FACESR_NIQE_PARAMS = bad;
    assert.equal(niqeParamsCandidates()[0], bad);
    assert.equal(findNiqeParams(), bad);
    process.env.FACESR_NIQE_PARAMS = path.join(tmp, 'missing.json');
    const c = niqeParamsCandidates();
    if (!c.slice(1).some((f) => existsSync(f)))
      assert.throws(() => findNiqeParams(), /--niqe-params FILE or the FACESR_NIQE_PARAMS variable/);
  } finally {
    if (saved === undefined) delete process.env.FACESR_NIQE_PARAMS;
    else process.env.FACESR_NIQE_PARAMS = saved;
    rmSync(tmp, { recursive: true, force: true });
  }
});

let brisqueModel: BrisqueModel | null = null;
let brisqueMissing = '';
try {
  brisqueModel = loadBrisqueModel();
} catch (err) {
  brisqueMissing = (err as Error).message;
}

test('BRISQUE model files of opencv-data are there (scripts/setup.sh installs them)', () => {
  assert.ok(brisqueModel, brisqueMissing);
  assert.equal(brisqueModel.count, 774);
  assert.equal(brisqueModel.gamma, 0.05);
  assert.ok(brisqueModel.files.model.startsWith(BRISQUE_DEFAULT_DIR) || process.env.FACESR_BRISQUE_DIR);
});

test('BRISQUE matches OpenCV on real images (features and score)', async (t) => {
  if (!brisqueModel) return t.skip(brisqueMissing);
  let worst = 0;
  let worstFeat = 0;
  for (const e of expected.images) {
    const img = await load(e.file);
    const f = brisqueFeatures(img);
    f.forEach((v, j) => {
      const d = Math.abs(v - e.brisque.features[j]!);
      if (SHAPE.has(j))
        assert.ok(d < BRISQUE_SHAPE_TOL, `${e.file}: shape feature ${j} ${v} vs ${e.brisque.features[j]}`);
      else worstFeat = Math.max(worstFeat, d);
    });
    // the SVR alone, on OpenCV's own features
    const fromRef = brisqueFromFeatures(e.brisque.features, brisqueModel);
    assert.ok(Math.abs(fromRef - e.brisque.score) < 2e-3, `${e.file}: SVR ${fromRef} vs ${e.brisque.score}`);
    const got = brisque(img, brisqueModel);
    const d = Math.abs(got - e.brisque.score);
    worst = Math.max(worst, d);
    assert.ok(d < BRISQUE_TOL, `${e.file}: BRISQUE ${got} vs OpenCV ${e.brisque.score}`);
  }
  assert.ok(worstFeat < BRISQUE_FEAT_TOL, `features: max |diff| ${worstFeat}`);
  t.diagnostic(`BRISQUE max |diff| ${worst.toExponential(2)}, features ${worstFeat.toExponential(2)}`);
});

test('BRISQUE: faces score better than their bicubic x4 versions; clear errors', async (t) => {
  if (!brisqueModel) return t.skip(brisqueMissing);
  for (let i = 0; i < 4; i++) {
    const a = brisque(await load(`face${i}.png`), brisqueModel);
    const b = brisque(await load(`face${i}_bicubic.png`), brisqueModel);
    assert.ok(a < b, `face${i}: ${a} should be below its bicubic ${b}`);
  }
  assert.throws(
    () => loadBrisqueModel('/nonexistent/dir'),
    /brisque_model_live\.yml does not exist.*opencv-data/,
  );
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-brisque-'));
  try {
    writeFileSync(path.join(tmp, 'brisque_model_live.yml'), '%YAML:1.0\nnot: a model\n');
    writeFileSync(path.join(tmp, 'brisque_range_live.yml'), '%YAML:1.0\n');
    assert.throws(() => loadBrisqueModel(tmp), /not an OpenCV SVM model/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
