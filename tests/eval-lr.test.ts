// facesr eval --lr: real-LR faces (harvest folders, sets, plain folders), the detection layout,
// the protocol with bicubic and a small random model, resume, the JSON, the report and the CLI.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage } from '../src/data/index.js';
import type { Box, Detector, Face, RgbImage } from '../src/data/faces.js';
import { Restoration, saveModel } from '../src/models/index.js';
import { liveTensors, manualSeed } from '../src/tensor/index.js';
import { detectFaces, evaluateLr, listLrFaces } from '../src/eval/reallr.js';
import { bicubicMethod, imagesToTensor, loadHr, makeMethods, tensorToImages } from '../src/eval/run.js';
import { loadNiqeModel, niqe } from '../src/eval/niqe.js';
import { brisque, loadBrisqueModel } from '../src/eval/brisque.js';
import { resultJson } from '../src/eval/report.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const FIX = path.join(repo, 'tests', 'fixtures', 'noref');
const ARCH = { type: 'restoration' as const, width: 8, blocks: 1, width2: 8, blocks2: 1, headWidth: 8 };
// NIQE's pristine model lives in ../shared (never copied here): without it the protocol tests skip.
let niqeMissing = '';
try {
  loadNiqeModel();
} catch (err) {
  niqeMissing = (err as Error).message;
}
const needsNiqe = niqeMissing ? { skip: `NIQE model not found: ${niqeMissing}` } : {};
if (niqeMissing) console.log(`# skipping eval --lr protocol tests: ${niqeMissing}`);

let tmp = '';
let root = '';
let modelFile = '';

/** A harvest folder: lr16 faces made from the fixture faces, a manifest with boxes and frames. */
async function harvest(dir: string, faces: string[], origin: string): Promise<void> {
  mkdirSync(path.join(dir, 'lr16'), { recursive: true });
  const lines: string[] = [];
  for (const [i, f] of faces.entries()) {
    const id = `${path.basename(f, '.png')}_${i}`;
    const lr = await loadHr(path.join(FIX, f), 16);
    await writeImage(path.join(dir, 'lr16', `${id}.png`), { ...lr, data: new Uint8Array(lr.data) });
    lines.push(
      JSON.stringify({
        id,
        box: [110, 212, 130, 236],
        frame: { x: 100, y: 200, size: 32, padded: false },
        origin,
        files: { lr16: `lr16/${id}.png` },
      }),
    );
  }
  writeFileSync(path.join(dir, 'manifest.jsonl'), lines.join('\n') + '\n');
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-evallr-'));
  root = path.join(tmp, 'real');
  await harvest(path.join(root, 'setA'), ['face0.png', 'face1.png', 'face2.png'], 'boxes:boxes.json');
  await harvest(path.join(root, 'setB'), ['face3.png', 'face1_gray.png'], 'retinaface');
  manualSeed(7);
  const net = new Restoration(ARCH);
  modelFile = path.join(tmp, 'tiny.safetensors');
  await saveModel(modelFile, net.stateDict(), { arch: ARCH });
  net.dispose();
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('listLrFaces: a harvest folder, a folder of sets, a plain folder; boxes mapped into the 64x64 output', async () => {
  const one = listLrFaces(path.join(root, 'setA'));
  assert.equal(one.length, 3);
  assert.equal(one[0]!.set, 'setA');
  // box [110, 212, 130, 236] in frame (100, 200, 32) -> x2 scale into 64 px
  assert.deepEqual(one[0]!.box, [20, 24, 60, 72]);
  assert.equal(one[0]!.origin, 'boxes:boxes.json');
  const all = listLrFaces(root);
  assert.deepEqual(
    all.map((f) => f.set),
    ['setA', 'setA', 'setA', 'setB', 'setB'],
  );
  const plain = path.join(tmp, 'plain');
  mkdirSync(plain);
  await writeImage(path.join(plain, 'x.png'), {
    data: new Uint8Array(20 * 20 * 3).fill(90),
    width: 20,
    height: 20,
    channels: 3,
  });
  const p = listLrFaces(plain);
  assert.equal(p.length, 1);
  const [x1, y1, x2, y2] = p[0]!.box;
  assert.ok(Math.abs(x2 - x1 - 64 / 1.2) < 1e-9 && Math.abs(y2 - y1 - 64 / 1.2) < 1e-9);
  assert.throws(() => listLrFaces(path.join(tmp, 'nope')), /--lr: .*nope is not a folder/);
  const bad = path.join(tmp, 'bad');
  mkdirSync(bad);
  writeFileSync(path.join(bad, 'manifest.jsonl'), '{"id":"a","files":{"native":"native/a.png"}}\n');
  assert.throws(() => listLrFaces(bad), /manifest\.jsonl line 1: no files\.lr16/);
  const empty = path.join(tmp, 'empty');
  mkdirSync(empty);
  assert.throws(() => listLrFaces(empty), /holds no images and no harvest/);
});

/** A detector that reports one face in chosen cells of the 512x512 canvas (128 px cells). */
function fakeDetector(cells: number[], offset = 0): Detector & { calls: number } {
  return {
    name: 'fake',
    calls: 0,
    detect(img: RgbImage): Promise<Face[]> {
      this.calls++;
      assert.equal(img.width, 512);
      return Promise.resolve(
        cells.map((c) => {
          const ox = (c % 4) * 128 + 32 + offset;
          const oy = Math.floor(c / 4) * 128 + 32;
          return { box: [ox + 10, oy + 10, ox + 54, oy + 58] as Box, score: 0.9 };
        }),
      );
    },
  };
}

test('detectFaces: outputs laid out 16 to a canvas, matched by IoU with their box', async () => {
  const img = { data: new Uint8Array(64 * 64 * 3), width: 64, height: 64, channels: 3 };
  const boxes = Array.from({ length: 18 }, (): Box => [10, 10, 54, 58]);
  const d = fakeDetector([0, 5, 15]);
  const found = await detectFaces(d, Array(18).fill(img), boxes);
  assert.equal(d.calls, 2);
  assert.deepEqual(
    found.map((v, i) => (v ? i : -1)).filter((i) => i >= 0),
    [0, 5, 15, 16], // the second canvas holds faces 16, 17: cell 0 -> face 16
  );
  // a detection shifted by 40 px no longer overlaps its face's box at IoU >= 0.3
  assert.deepEqual(await detectFaces(fakeDetector([0], 40), [img], [boxes[0]!]), [0]);
});

test(
  'evaluateLr: scores per face and method, per set, paired difference, resume, no leaks',
  needsNiqe,
  async () => {
    const faces = listLrFaces(root);
    const methods = await makeMethods(['bicubic', modelFile]);
    const niqeModel = loadNiqeModel();
    const brisqueModel = loadBrisqueModel();
    const base = liveTensors();
    const progressFile = path.join(tmp, 'lr.progress.jsonl');
    try {
      const progress: number[] = [];
      const r = await evaluateLr({
        faces,
        methods,
        niqeModel,
        brisqueModel,
        detector: fakeDetector([0, 1]),
        batch: 2,
        progressFile,
        onProgress: (d) => progress.push(d),
      });
      assert.deepEqual(progress, [2, 4, 5]);
      assert.equal(r.faces.length, 5);
      const [b, m] = r.methods;
      assert.equal(b!.name, 'bicubic');
      assert.equal(b!.faces, 5);
      assert.equal(b!.niqe.n, 5);
      assert.ok(b!.brisque.mean > 0 && b!.brisque.mean <= 100);
      // batches of 2 on canvases: faces 0, 1 (first batch) and 2, 3 (second) and 4 (third) sit in cells 0 and 1
      assert.deepEqual(
        r.faces.map((f) => f.scores.bicubic!.detected),
        [1, 1, 1, 1, 1],
      );
      assert.ok(b!.sets && b!.sets.setA!.faces === 3 && b!.sets.setB!.faces === 2);
      assert.ok(m!.vs_bicubic && 'niqe' in m!.vs_bicubic && 'detection_rate' in m!.vs_bicubic);
      // the per-face scores are niqe()/brisque() of the bicubic output
      const lr = await loadHr(faces[0]!.file, 16);
      const x = imagesToTensor([lr]);
      const bic = bicubicMethod().restore(x);
      const out = tensorToImages(bic)[0]!;
      x.dispose();
      bic.dispose();
      assert.equal(r.faces[0]!.scores.bicubic!.niqe, niqe(out, niqeModel, { blockSize: 32 }));
      assert.equal(r.faces[0]!.scores.bicubic!.brisque, brisque(out, brisqueModel));
      // JSON: same shape as the HR case (methods keyed by name, mean/ci95/n, faces)
      const j = JSON.parse(resultJson(r, { command: 'test' })) as {
        methods: Record<string, { faces: number; niqe: { mean: number; ci95: number[]; n: number } }>;
        faces: unknown[];
      };
      assert.equal(j.methods.tiny!.faces, 5);
      assert.equal(j.methods.tiny!.niqe.ci95.length, 2);
      // resume: keep the first 3 faces (and a half-written line), the rest is measured again
      const lines = readFileSync(progressFile, 'utf8').split('\n').filter(Boolean);
      assert.equal(lines.length, 6);
      writeFileSync(progressFile, lines.slice(0, 4).join('\n') + '\n' + lines[4]!.slice(0, 20));
      const seen: number[] = [];
      const r2 = await evaluateLr({
        faces,
        methods,
        niqeModel,
        brisqueModel,
        detector: fakeDetector([0, 1]),
        batch: 2,
        progressFile,
        resume: true,
        onProgress: (d) => seen.push(d),
      });
      assert.deepEqual(seen, [3, 5]);
      assert.deepEqual(r2.faces, r.faces);
      assert.deepEqual(r2.methods, r.methods);
      await assert.rejects(
        evaluateLr({
          faces,
          methods: methods.slice(0, 1),
          niqeModel,
          brisqueModel,
          detector: fakeDetector([]),
          progressFile,
          resume: true,
        }),
        /belongs to another evaluation/,
      );
      // RetinaFace found setB's faces: it may not judge them
      await assert.rejects(
        evaluateLr({
          faces,
          methods,
          niqeModel,
          brisqueModel,
          detector: { ...fakeDetector([]), name: 'retinaface' },
        }),
        /2 of the faces were found by RetinaFace/,
      );
      assert.equal(liveTensors(), base);
    } finally {
      for (const m of methods) m.dispose();
    }
  },
);

test('evaluateLr with face-api SSD: 0/1 per face, a rate per method', needsNiqe, async () => {
  const faces = listLrFaces(path.join(root, 'setA')).slice(0, 2);
  const r = await evaluateLr({ faces, methods: [bicubicMethod()] });
  for (const f of r.faces) assert.ok([0, 1].includes(f.scores.bicubic!.detected!));
  assert.equal(r.methods[0]!.detection_rate!.n, 2);
});

test('CLI: eval --lr writes the JSON and the report; clear errors', needsNiqe, () => {
  const json = path.join(tmp, 'cli', 'lr.json');
  const report = path.join(tmp, 'cli', 'report');
  const run = (args: string[]) => spawnSync(process.execPath, [main, 'eval', ...args], { encoding: 'utf8' });
  const ok = run([
    '--lr',
    root,
    '--methods',
    `bicubic,${modelFile}`,
    '--no-detection',
    '--json',
    json,
    '--report',
    report,
    '--quiet',
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  const j = JSON.parse(readFileSync(json, 'utf8')) as {
    source: { lr: string };
    faces_available: number;
    methods: Record<string, { faces: number; niqe: unknown; brisque: unknown; detection_rate?: unknown }>;
  };
  assert.equal(j.source.lr, root);
  assert.equal(j.faces_available, 5);
  assert.equal(j.methods.bicubic!.faces, 5);
  assert.ok(j.methods.tiny!.niqe && j.methods.tiny!.brisque && !j.methods.tiny!.detection_rate);
  assert.ok(!existsSync(`${json}.progress.jsonl`));
  const md = readFileSync(path.join(report, 'report.md'), 'utf8');
  assert.match(md, /\| bicubic \| 5 \|/);
  assert.match(md, /setB, tiny/);
  assert.ok(existsSync(path.join(report, 'report.html')) && existsSync(path.join(report, 'grid.png')));
  const deg = run(['--lr', root, '--degrade', 'realistic', '--json', json]);
  assert.notEqual(deg.status, 0);
  assert.match(deg.stderr, /--degrade has no meaning with --lr/);
  const np = run(['--lr', root, '--niqe-params', path.join(tmp, 'none.json'), '--json', json]);
  assert.notEqual(np.status, 0);
  assert.match(np.stderr, /none\.json does not exist/);
  const bm = run(['--lr', root, '--brisque-model', path.join(tmp, 'nodir'), '--json', json]);
  assert.notEqual(bm.status, 0);
  assert.match(bm.stderr, /brisque_model_live\.yml does not exist/);
});
