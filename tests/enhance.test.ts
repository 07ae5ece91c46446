// facesr enhance: restoreFaces shapes, the paste (background exact, faces changed), --scale, grayscale,
// and the command's file handling (no-face copy, --overwrite, --dry-run, --json, bad files, limits).
// Faces come from a fake detector (library) or a --boxes file (CLI), so nothing here needs the
// RetinaFace weights or the shipped model; the one RetinaFace test skips when ../shared is absent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { liveTensors, manualSeed, randn, tidy } from '../src/tensor/index.js';
import { Restoration, saveModel, loadModel, type LoadedModel } from '../src/models/index.js';
import { DEFAULT_MAX_FACE, enhance, featherMask, restoreFaces } from '../src/infer/index.js';
import type { Detector, Face, RgbImage } from '../src/data/faces.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const examples = path.join(repo, 'examples');
const WEIGHTS = [process.env.FACESR_SHARED, path.join(repo, 'shared'), path.join(repo, '../shared')]
  .filter((p): p is string => Boolean(p))
  .map((p) => path.join(p, 'models/retinaface_mnet025.safetensors'))
  .find((p) => existsSync(p));
const NO_WEIGHTS = WEIGHTS
  ? false
  : `RetinaFace weights (shared/models/retinaface_mnet025.safetensors) not found beside ${repo}`;
if (NO_WEIGHTS) console.log(`# RetinaFace enhance test skipped: ${NO_WEIGHTS}`);

const ARCH = { type: 'restoration' as const, width: 8, blocks: 1, width2: 8, blocks2: 1, headWidth: 8 };
let tmp = '';
let modelFile = '';
let model: LoadedModel;

/** A textured synthetic photo (gradient plus a pattern), 8-bit RGB. */
function synthetic(w: number, h: number, gray = false): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const r = (x * 255) / w;
      const g = (y * 255) / h;
      const b = 128 + 100 * Math.sin(x / 3) * Math.cos(y / 4);
      if (gray) data[i] = data[i + 1] = data[i + 2] = Math.round((r + g + b) / 3);
      else [data[i], data[i + 1], data[i + 2]] = [Math.round(r), Math.round(g), Math.round(b)];
    }
  return { data, width: w, height: h };
}

async function png(img: RgbImage, gray = false): Promise<Buffer> {
  let p = sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } });
  if (gray) p = p.toColourspace('b-w');
  return p.png().toBuffer();
}

const fakeDetector = (faces: Face[]): Detector => ({ name: 'fake', detect: async () => faces });
const run = (...args: string[]) =>
  // Test faces are larger than the default --max-size; tests of the limit pass their own.
  spawnSync(
    process.execPath,
    [main, 'enhance', ...(args.includes('--max-size') ? [] : ['--max-size', '64']), ...args],
    {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', FACESR_RETINAFACE: '' },
    },
  );

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-enhance-'));
  manualSeed(3);
  const net = new Restoration(ARCH);
  modelFile = path.join(tmp, 'tiny.safetensors');
  await saveModel(modelFile, net.stateDict(), { arch: ARCH });
  net.dispose();
  model = await loadModel(modelFile);
});
after(() => {
  model?.net.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('restoreFaces: [N,3,16,16] -> [N,3,64,64] in batches, and 16x16 crops -> 64x64 crops; no leaks', () => {
  const base = liveTensors();
  tidy(() => {
    const x = randn([5, 3, 16, 16]).clamp(-1, 1);
    const y = restoreFaces(x, model, { batchSize: 2 });
    assert.deepEqual(y.shape, [5, 3, 64, 64]);
    assert.ok(y.max().item() <= 1 && y.min().item() >= -1);
  });
  const crops = restoreFaces([synthetic(16, 16), synthetic(16, 16, true)], model);
  assert.equal(crops.length, 2);
  for (const c of crops) assert.deepEqual([c.width, c.height, c.data.length], [64, 64, 64 * 64 * 3]);
  assert.throws(() => restoreFaces([synthetic(20, 16)], model), /crop 0 is 20x16/);
  assert.equal(liveTensors(), base);
});

test('enhance --scale 1: the face region changes, everything outside the mask is pixel-exact', async () => {
  const img = synthetic(160, 120);
  const box: Face['box'] = [60, 40, 90, 76]; // 36 px face
  const r = await enhance(await png(img), {
    model,
    maxSize: 64,
    detector: fakeDetector([{ box, score: 0.9 }]),
  });
  assert.deepEqual([r.width, r.height, r.data.length], [160, 120, 160 * 120 * 3]);
  assert.equal(r.faces.length, 1);
  const f = r.faces[0]!;
  assert.ok(f.restored && f.nativeSize === 36 && f.ms >= 0);
  const mask = featherMask(f.frame.size);
  let changed = 0;
  for (let y = 0; y < 120; y++)
    for (let x = 0; x < 160; x++) {
      const inside =
        x >= f.frame.x && x < f.frame.x + f.frame.size && y >= f.frame.y && y < f.frame.y + f.frame.size;
      const m = inside ? mask[(y - f.frame.y) * f.frame.size + (x - f.frame.x)]! : 0;
      for (let c = 0; c < 3; c++) {
        const i = (y * 160 + x) * 3 + c;
        if (m === 0) assert.equal(r.data[i], img.data[i], `pixel (${x}, ${y}) changed outside the mask`);
        else if (r.data[i] !== img.data[i]) changed++;
      }
    }
  assert.ok(changed > f.frame.size * f.frame.size, `only ${changed} values changed in the face`);
  // Colour matching: the face region's mean stays close to the original's.
  const mean = (d: Uint8Array, c: number) => {
    let s = 0;
    for (let y = f.frame.y; y < f.frame.y + f.frame.size; y++)
      for (let x = f.frame.x; x < f.frame.x + f.frame.size; x++) s += d[(y * 160 + x) * 3 + c]!;
    return s / f.frame.size ** 2;
  };
  for (let c = 0; c < 3; c++)
    assert.ok(Math.abs(mean(r.data, c) - mean(img.data, c)) < 6, `channel ${c} shifted`);
  // Encoded in the input's format at the input's size.
  const meta = await sharp(r.bytes!).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 160, 120]);
});

test('enhance --scale 2: output twice the size; faces outside [minSize, maxSize] are left and reported', async () => {
  const img = synthetic(100, 80);
  const faces: Face[] = [
    { box: [20, 20, 44, 50], score: 0.9 }, // 30 px: restored
    { box: [60, 10, 64, 15], score: 0.8 }, // 5 px: too small
    { box: [10, 5, 95, 78], score: 0.7 }, // 85 px: too large
  ];
  const base = liveTensors();
  const r = await enhance(await png(img), { model, faces, scale: 2, maxSize: 64 });
  assert.equal(liveTensors(), base, 'enhance leaked tensors');
  assert.deepEqual([r.width, r.height], [200, 160]);
  const meta = await sharp(r.bytes!).metadata();
  assert.deepEqual([meta.width, meta.height], [200, 160]);
  assert.deepEqual(
    r.faces.map((f) => [f.restored, f.skipped]),
    [
      [true, undefined],
      [false, 'too-small'],
      [false, 'too-large'],
    ],
  );
  assert.equal(r.crops.length, 1);
});

test('enhance: a grayscale photo stays grayscale', async () => {
  const img = synthetic(120, 100, true);
  const r = await enhance(await png(img, true), {
    model,
    maxSize: 64,
    faces: [{ box: [40, 30, 70, 66], score: 1 }],
  });
  assert.ok(r.grayscale);
  assert.ok(r.faces[0]!.restored);
  for (let i = 0; i < r.data.length; i += 3)
    assert.ok(r.data[i] === r.data[i + 1] && r.data[i] === r.data[i + 2], `pixel ${i / 3} is not gray`);
  const meta = await sharp(r.bytes!).metadata();
  assert.equal(meta.channels, 1);
});

test('enhance: EXIF orientation applied and EXIF kept; alpha kept at --scale 2', async () => {
  const img = synthetic(160, 120);
  const raw = { raw: { width: 160, height: 120, channels: 3 as const } };
  const jpeg = await sharp(Buffer.from(img.data), raw)
    .withMetadata({ orientation: 6, exif: { IFD0: { Artist: 'facesr test' } } })
    .jpeg({ quality: 95 })
    .toBuffer();
  const r = await enhance(jpeg, { model, maxSize: 64, faces: [{ box: [40, 60, 76, 96], score: 1 }] });
  assert.deepEqual([r.width, r.height, r.format], [120, 160, 'jpeg']); // upright
  const meta = await sharp(r.bytes!).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 120, 160]);
  assert.ok(meta.exif && meta.exif.includes(Buffer.from('facesr test')), 'EXIF was dropped');
  assert.ok((meta.orientation ?? 1) === 1, `orientation ${meta.orientation}: pixels are already upright`);

  const rgba = await sharp(Buffer.from(img.data), raw).ensureAlpha(0.5).png().toBuffer();
  const a = await enhance(rgba, {
    model,
    maxSize: 64,
    faces: [{ box: [60, 40, 90, 76], score: 1 }],
    scale: 2,
  });
  const am = await sharp(a.bytes!).metadata();
  assert.deepEqual([am.width, am.height, am.hasAlpha], [320, 240, true]);
});

test('enhance: a photo over the pixel limit (input, or output at --scale) is refused with a clear error', async () => {
  const bytes = await png(synthetic(100, 80));
  await assert.rejects(
    enhance(bytes, { model, faces: [], pixelLimit: 5000, name: 'big.png' }),
    /big\.png.*limit/i,
  );
  await assert.rejects(
    enhance(bytes, { model, faces: [], pixelLimit: 100 * 80 * 2, scale: 2, name: 'big.png' }),
    /big\.png: the x2 output would be 200x160/,
  );
});

test('cli: faces restored, no-face photo copied and reported, --json contents, bad file in the batch', async () => {
  const dir = path.join(tmp, 'cli1');
  const inDir = path.join(dir, 'in');
  const out = path.join(dir, 'out');
  mkdirSync(inDir, { recursive: true });
  writeFileSync(path.join(inDir, 'face.png'), await png(synthetic(160, 120)));
  const plain = await sharp(await png(synthetic(90, 70)))
    .jpeg({ quality: 80 })
    .toBuffer();
  writeFileSync(path.join(inDir, 'plain.jpg'), plain);
  writeFileSync(path.join(inDir, 'bad.jpg'), 'this is not a photo');
  const boxes = path.join(dir, 'boxes.json');
  writeFileSync(
    boxes,
    JSON.stringify({
      'face.png': { boxes_xywh: [[60, 40, 30, 36]] },
      'plain.jpg': { boxes_xywh: [] },
      'bad.jpg': { boxes_xywh: [] },
    }),
  );
  const json = path.join(dir, 'report.json');
  const r = run(inDir, '-o', out, '--model', modelFile, '--boxes', boxes, '--json', json, '--quiet');
  assert.equal(r.status, 1, r.stdout + r.stderr); // bad.jpg failed
  assert.match(r.stderr, /bad\.jpg: not an image/);
  assert.match(r.stdout, /1 photos enhanced, 1 copied .*1 failed; 1 faces restored/);
  assert.deepEqual(readdirSync(out).sort(), ['face.png', 'plain.jpg']);
  assert.ok(
    readFileSync(path.join(out, 'plain.jpg')).equals(plain),
    'the no-face photo is copied byte for byte',
  );
  const doc = JSON.parse(readFileSync(json, 'utf8'));
  const byName = Object.fromEntries(doc.files.map((f: { file: string }) => [path.basename(f.file), f]));
  assert.equal(byName['plain.jpg'].status, 'copied');
  const face = byName['face.png'].faces[0];
  assert.deepEqual(face.box, [60, 40, 90, 76]);
  assert.equal(face.score, 1);
  assert.equal(face.nativeSize, 36);
  assert.equal(face.restored, true);
  assert.equal(typeof face.ms, 'number');
  assert.deepEqual(Object.keys(face.frame).sort(), ['padded', 'size', 'x', 'y']);
  assert.equal(doc.failures.length, 1);
  assert.match(doc.failures[0].file, /bad\.jpg$/);

  // --overwrite protection: the second run refuses and leaves the outputs alone.
  const before = readFileSync(path.join(out, 'face.png'));
  const again = run(
    path.join(inDir, 'face.png'),
    '-o',
    out,
    '--model',
    modelFile,
    '--boxes',
    boxes,
    '--quiet',
  );
  assert.equal(again.status, 1);
  assert.match(again.stderr, /face\.png exists; give --overwrite/);
  assert.ok(readFileSync(path.join(out, 'face.png')).equals(before));
  const forced = run(
    path.join(inDir, 'face.png'),
    '-o',
    out,
    '--model',
    modelFile,
    '--boxes',
    boxes,
    '--overwrite',
    '--quiet',
    '--scale',
    '2',
  );
  assert.equal(forced.status, 0, forced.stderr);
  const meta = await sharp(path.join(out, 'face.png')).metadata();
  assert.deepEqual([meta.width, meta.height], [320, 240]);

  // --no-faces skip: nothing written, reported.
  const out2 = path.join(dir, 'out2');
  const skip = run(
    path.join(inDir, 'plain.jpg'),
    '-o',
    out2,
    '--model',
    modelFile,
    '--boxes',
    boxes,
    '--no-faces',
    'skip',
  );
  assert.equal(skip.status, 0, skip.stderr);
  assert.match(skip.stdout, /1 skipped/);
  assert.deepEqual(readdirSync(out2), []);
});

test('cli: --dry-run writes no images (only the --json report); --only-faces writes 64x64 crops; --compare pairs', async () => {
  const dir = path.join(tmp, 'cli2');
  mkdirSync(dir, { recursive: true });
  const photo = path.join(dir, 'p.png');
  writeFileSync(photo, await png(synthetic(160, 120)));
  const boxes = path.join(dir, 'b.json');
  writeFileSync(
    boxes,
    JSON.stringify({
      'p.png': {
        boxes_xywh: [
          [60, 40, 30, 36],
          [10, 10, 20, 20],
        ],
      },
    }),
  );
  const out = path.join(dir, 'out');
  const json = path.join(dir, 'dry.json');
  const r = run(photo, '-o', out, '--boxes', boxes, '--dry-run', '--json', json, '--model', 'no-such-model');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /dry run: 1 photos, 2 faces found/);
  assert.ok(!existsSync(out), 'dry run created the output folder');
  assert.equal(JSON.parse(readFileSync(json, 'utf8')).files[0].faces.length, 2);

  const crops = run(
    photo,
    '-o',
    out,
    '--boxes',
    boxes,
    '--only-faces',
    '--model',
    modelFile,
    '--suffix=-r',
    '--compare',
  );
  assert.equal(crops.status, 0, crops.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['compare', 'p-r_000.png', 'p-r_001.png']);
  assert.deepEqual(readdirSync(path.join(out, 'compare')).sort(), ['p-r_000.png', 'p-r_001.png']);
  const pair = await sharp(path.join(out, 'compare', 'p-r_001.png')).metadata();
  assert.deepEqual([pair.width, pair.height], [256, 128]);
  const meta = await sharp(path.join(out, 'p-r_000.png')).metadata();
  assert.deepEqual([meta.width, meta.height], [64, 64]);
});

test('cli: bad arguments name the option', () => {
  const r = run(path.join(examples, 'group-small.jpg'), '-o', path.join(tmp, 'x'), '--scale', '3');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Expected 1, 2 or 4 for --scale but received '3'/);
});

test('cli: RetinaFace on a bundled photo finds and restores faces', { skip: NO_WEIGHTS }, async () => {
  const out = path.join(tmp, 'retina');
  const json = path.join(tmp, 'retina.json');
  const r = run(
    path.join(examples, 'group-small.jpg'),
    '-o',
    out,
    '--model',
    modelFile,
    '--detector-weights',
    WEIGHTS!,
    '--json',
    json,
  );
  assert.equal(r.status, 0, r.stderr);
  const faces = JSON.parse(readFileSync(json, 'utf8')).files[0].faces;
  assert.ok(faces.length >= 3, `found ${faces.length} faces`);
  const a = await sharp(path.join(examples, 'group-small.jpg')).metadata();
  const b = await sharp(path.join(out, 'group-small.jpg')).metadata();
  assert.deepEqual([b.format, b.width, b.height], ['jpeg', a.width, a.height]);
});

test('enhance: by default only small faces are restored (a 30-px face is left, a 16-px one restored)', async () => {
  const img = synthetic(100, 80);
  const r = await enhance(await png(img), {
    model,
    faces: [
      { box: [20, 20, 44, 50], score: 0.9 }, // 30 px
      { box: [60, 30, 76, 46], score: 0.9 }, // 16 px
    ],
  });
  assert.equal(DEFAULT_MAX_FACE, 20);
  assert.deepEqual(
    r.faces.map((f) => [f.restored, f.skipped]),
    [
      [false, 'too-large'],
      [true, undefined],
    ],
  );
});
