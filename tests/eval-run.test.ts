// facesr eval: statistics, the protocol on synthetic HR faces (bicubic and a small random model),
// determinism, no leaks, and the CLI's JSON / report.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage, resize } from '../src/data/index.js';
import { Restoration, saveModel } from '../src/models/index.js';
import { liveTensors, manualSeed, tidy } from '../src/tensor/index.js';
import { summarize, t975, normalQuantile } from '../src/eval/stats.js';
import {
  bicubicMethod,
  evaluate,
  imagesToTensor,
  loadHr,
  makeMethods,
  readList,
  spread,
  tensorToImages,
} from '../src/eval/run.js';
import { psnr } from '../src/eval/metrics.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const ARCH = { type: 'restoration' as const, width: 8, blocks: 1, width2: 8, blocks2: 1, headWidth: 8 };
let tmp = '';
let hrDir = '';
let modelFile = '';

/** A smooth face-like synthetic picture (w x h RGB). */
function picture(w: number, h: number, seed: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const r = Math.hypot(x - w / 2, y - h / 2) / w;
      const p = (y * w + x) * 3;
      out[p] = 128 + 100 * Math.sin(x / (4 + seed) + seed);
      out[p + 1] = r < 0.35 ? 200 - seed * 10 : 60;
      out[p + 2] = 128 + 90 * Math.cos((x + y) / (6 + seed));
    }
  return out;
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-eval-'));
  hrDir = path.join(tmp, 'hr');
  mkdirSync(hrDir);
  for (let i = 0; i < 5; i++)
    await writeImage(path.join(hrDir, `face${i}.png`), {
      data: picture(96, 96, i),
      width: 96,
      height: 96,
      channels: 3,
    });
  writeFileSync(path.join(hrDir, 'notes.txt'), 'not an image');
  manualSeed(5);
  const net = new Restoration(ARCH);
  modelFile = path.join(tmp, 'tiny.safetensors');
  await saveModel(modelFile, net.stateDict(), { arch: ARCH });
  net.dispose();
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('stats: Student-t quantiles and the interval', () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
  // Reference values of t(0.975, df) (scipy.stats.t.ppf).
  for (const [df, want] of [
    [1, 12.7062],
    [5, 2.5706],
    [11, 2.201],
    [20, 2.086],
    [50, 2.0086],
    [199, 1.972],
    [1999, 1.9612],
  ] as const)
    assert.ok(Math.abs(t975(df) - want) < 2e-4, `t975(${df}) = ${t975(df)}, want ${want}`);
  const s = summarize([1, 2, 3, 4, 5]);
  assert.equal(s.mean, 3);
  assert.ok(Math.abs(s.sd - Math.sqrt(2.5)) < 1e-12);
  const h = (2.7764 * Math.sqrt(2.5)) / Math.sqrt(5);
  assert.ok(Math.abs(s.ci95[0] - (3 - h)) < 1e-9 && Math.abs(s.ci95[1] - (3 + h)) < 1e-9);
  assert.equal(summarize([]).n, 0);
  assert.ok(Number.isNaN(summarize([2]).ci95[0]));
});

test('helpers: spread, list files, 8-bit round trip', () => {
  assert.deepEqual(spread([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3), [0, 3, 6]);
  assert.deepEqual(spread([1, 2], 5), [1, 2]);
  const list = path.join(tmp, 'list.txt');
  writeFileSync(list, `# held out\nhr/face1.png\n\n${path.join(hrDir, 'face2.png')}\n`);
  assert.deepEqual(readList(list), [path.join(hrDir, 'face1.png'), path.join(hrDir, 'face2.png')]);
  const base = liveTensors();
  const img = { data: picture(16, 16, 1), width: 16, height: 16, channels: 3 };
  const x = imagesToTensor([img, img]);
  const back = tensorToImages(x);
  x.dispose();
  assert.deepEqual(back[1]!.data, img.data);
  assert.equal(liveTensors(), base);
});

test('evaluate: bicubic and a model file, deterministic per seed, no leaks', async () => {
  const files = [0, 1, 2, 3, 4].map((i) => path.join(hrDir, `face${i}.png`));
  const methods = await makeMethods(['bicubic', modelFile]);
  assert.deepEqual(
    methods.map((m) => m.name),
    ['bicubic', 'tiny'],
  );
  const base = liveTensors();
  try {
    const progress: number[] = [];
    const r = await evaluate({
      files,
      degrade: 'bicubic4',
      methods,
      seed: 3,
      batch: 2,
      identity: false,
      gridFaces: 2,
      onProgress: (d) => progress.push(d),
    });
    assert.deepEqual(progress, [2, 4, 5]);
    assert.equal(liveTensors(), base, 'tensors leaked');
    assert.equal(r.faces.length, 5);
    assert.equal(r.grid.length, 2);
    const [bic, tiny] = r.methods;
    assert.equal(bic!.faces, 5);
    assert.equal(bic!.psnr.n, 5);
    assert.ok(bic!.psnr.ci95[0] < bic!.psnr.mean && bic!.psnr.mean < bic!.psnr.ci95[1]);
    assert.equal(bic!.vs_bicubic, undefined);
    assert.ok(tiny!.vs_bicubic?.psnr);
    // An untrained network is far from the HR; bicubic of a smooth picture is close.
    assert.ok(bic!.psnr.mean > tiny!.psnr.mean + 3, `bicubic ${bic!.psnr.mean} vs random ${tiny!.psnr.mean}`);
    assert.ok(bic!.ssim.mean > 0.5 && bic!.ssim.mean <= 1);
    // bicubic4 LR is the x4 antialiased bicubic down-sampling of the 8-bit HR; the bicubic method
    // up-samples it: recompute face 0's PSNR by hand.
    const hr = await loadHr(files[0]!);
    const hand = tidy(() => {
      const h = imagesToTensor([hr]);
      const lr8 = tensorToImages(resize(h, 16, { mode: 'bicubic', antialias: true }).clamp(-1, 1));
      const up = bicubicMethod().restore(imagesToTensor(lr8));
      return tensorToImages(up)[0]!;
    });
    assert.ok(Math.abs(psnr(hand, hr) - r.faces[0]!.scores.bicubic!.psnr) < 1e-9);
    // Same seed -> same scores; another seed with the realistic degradation -> other scores.
    const again = await evaluate({ files, degrade: 'bicubic4', methods, seed: 3, identity: false });
    assert.deepEqual(again.faces, r.faces);
    const real1 = await evaluate({ files, degrade: 'realistic', methods, seed: 1, identity: false });
    const real2 = await evaluate({ files, degrade: 'realistic', methods, seed: 2, identity: false });
    assert.notDeepEqual(real1.faces, real2.faces);
    assert.equal(liveTensors(), base, 'tensors leaked');
  } finally {
    for (const m of methods) m.dispose();
  }
});

test('evaluate: resume from a progress file gives the same faces as one uninterrupted run', async () => {
  const files = [0, 1, 2, 3, 4].map((i) => path.join(hrDir, `face${i}.png`));
  const methods = await makeMethods(['bicubic', modelFile]);
  const prog = path.join(tmp, 'progress.jsonl');
  try {
    const o = {
      files,
      degrade: 'realistic' as const,
      methods,
      seed: 9,
      batch: 2,
      identity: false,
      landmarks: false,
    };
    const full = await evaluate({ ...o, progressFile: prog });
    const lines = readFileSync(prog, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 1 + 5);
    // interrupted after 3 faces, the 4th line half written
    writeFileSync(prog, lines.slice(0, 4).join('\n') + '\n' + lines[4]!.slice(0, 20));
    const progress: number[] = [];
    const resumed = await evaluate({
      ...o,
      batch: 3,
      progressFile: prog,
      resume: true,
      onProgress: (d) => progress.push(d),
    });
    assert.deepEqual(progress, [3, 5]);
    assert.deepEqual(resumed.faces, full.faces);
    assert.deepEqual(resumed.methods, full.methods);
    assert.equal(readFileSync(prog, 'utf8').split('\n').filter(Boolean).length, 6);
    await assert.rejects(
      evaluate({ ...o, seed: 10, progressFile: prog, resume: true }),
      /belongs to another evaluation/,
    );
  } finally {
    for (const m of methods) m.dispose();
  }
});

test('facesr eval CLI: JSON with mean, interval and count per method; report and grid', () => {
  const out = path.join(tmp, 'res', 'eval.json');
  const rep = path.join(tmp, 'report');
  const r = spawnSync(
    process.execPath,
    [
      main,
      'eval',
      '--hr',
      hrDir,
      '--methods',
      `bicubic,${modelFile}`,
      '--limit',
      '3',
      '--seed',
      '0',
      '--json',
      out,
      '--report',
      rep,
    ],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } },
  );
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /eval: 3\/3 faces/);
  const j = JSON.parse(readFileSync(out, 'utf8')) as {
    methods: Record<
      string,
      Record<string, { mean: number; ci95: [number, number]; n: number }> & { faces: number }
    >;
    faces: unknown[];
    protocol: Record<string, unknown>;
  };
  assert.deepEqual(Object.keys(j.methods), ['bicubic', 'tiny']);
  for (const m of Object.values(j.methods)) {
    assert.equal(m.faces, 3);
    for (const k of [
      'psnr',
      'psnr_y',
      'ssim',
      'ssim_y',
      'identity_cosine',
      'identity_distance',
      'landmark_nme',
    ]) {
      assert.equal(typeof m[k]!.mean, 'number', k);
      assert.equal(m[k]!.ci95.length, 2);
      assert.equal(m[k]!.n, 3);
    }
  }
  assert.equal(j.faces.length, 3);
  assert.match(String(j.protocol.interval), /Student-t/);
  assert.ok(existsSync(path.join(rep, 'grid.png')));
  assert.match(readFileSync(path.join(rep, 'report.html'), 'utf8'), /<td>bicubic<\/td><td>3<\/td>/);
  assert.ok(!existsSync(`${out}.progress.jsonl`), 'progress file removed at the end');
  assert.match(readFileSync(path.join(rep, 'report.md'), 'utf8'), /\| bicubic \| 3 \|/);
  // errors
  const bad = spawnSync(process.execPath, [main, 'eval', '--hr', hrDir, '--json', out, '--degrade', 'nope'], {
    encoding: 'utf8',
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /bicubic4 or realistic/);
  const both = spawnSync(process.execPath, [main, 'eval', '--json', out], { encoding: 'utf8' });
  assert.match(both.stderr, /--hr DIR or --list FILE/);
});
