// LFW verification (src/eval/lfw.ts): pairs.txt parsing, the 10-fold accuracy against the numpy
// reference (dev/make_lfw_fixtures.py), the framing of tight crops, and a small run of the protocol
// on the shared LFW data (skipped with a reason where it is absent).
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LFW_FRAMING,
  bestThreshold,
  cropSquare,
  frameTightCrop,
  framingSquare,
  lfwMarkdown,
  lfwVerify,
  parsePairs,
  readPairs,
  subsetPairs,
  tenFold,
} from '../src/eval/lfw.js';
import { bicubicMethod } from '../src/eval/run.js';
import { psnr } from '../src/eval/metrics.js';
import { resizeSquare } from '../src/data/index.js';
import { lfwCommand, EVAL_LFW_HELP } from '../src/cli/evalextra.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LFW = path.join(process.env.FACESR_DATA ?? '/work/shared/data', 'lfw');
const SKIP = existsSync(path.join(LFW, 'pairs.txt')) ? false : `LFW not found at ${LFW}`;
if (SKIP) console.log(`# LFW protocol tests skipped: ${SKIP}`);

interface Case {
  name: string;
  scores: number[];
  same: boolean[];
  fold: number[];
  expected: {
    accuracy: number;
    sd: number;
    se: number;
    folds: { threshold: number; accuracy: number; train_accuracy: number }[];
  };
}

test('parsePairs: folds, same/different lines, file names; errors name file and line', () => {
  const text = '2 1\nA 1 2\nB 1 C 12\nD 3 4\nE 1 F 1\n';
  const r = parsePairs(text, 'p.txt');
  assert.equal(r.folds, 2);
  assert.equal(r.perFold, 1);
  assert.deepEqual(r.pairs[0], { a: 'A/A_0001.jpg', b: 'A/A_0002.jpg', same: true, fold: 0 });
  assert.deepEqual(r.pairs[1], { a: 'B/B_0001.jpg', b: 'C/C_0012.jpg', same: false, fold: 0 });
  assert.equal(r.pairs[3]!.fold, 1);
  assert.equal(r.pairs[3]!.same, false);
  // The data layer's parser (LfwPairs) names the file and the line.
  assert.throws(
    () => parsePairs('2 1\nA 1 2\n', 'p.txt'),
    /p\.txt: 2 lines, expected 5 \(1 \+ 2 folds x 2 pairs\)/,
  );
  assert.throws(() => parsePairs('x\n', 'p.txt'), /p\.txt: line 1/);
  assert.throws(
    () => parsePairs('2 1\nA 1\nB 1 C 1\nD 3 4\nE 1 F 1\n', 'p.txt'),
    /p\.txt: line 2: expected a same-person pair 'name i j'/,
  );
  assert.throws(
    () => parsePairs('2 1\nA 1 x\nB 1 C 1\nD 3 4\nE 1 F 1\n', 'p.txt'),
    /p\.txt: line 2: image number 'x' is not a positive integer/,
  );
  const sub = subsetPairs(
    parsePairs('2 2\nA 1 2\nA 1 3\nB 1 C 1\nB 1 C 2\nD 1 2\nD 1 3\nE 1 F 1\nE 1 F 2\n').pairs,
    1,
  );
  assert.deepEqual(
    sub.map((p) => [p.fold, p.same]),
    [
      [0, true],
      [0, false],
      [1, true],
      [1, false],
    ],
  );
});

test('bestThreshold: separable scores, ties, all one class', () => {
  assert.deepEqual(bestThreshold([0.1, 0.2, 0.8, 0.9], [false, false, true, true]), {
    threshold: 0.5,
    accuracy: 1,
  });
  // ties: equal scores are never split; lowest of the best thresholds
  const t = bestThreshold([0.5, 0.5, 0.5, 0.9], [true, false, false, true]);
  assert.equal(t.threshold, 0.7);
  assert.equal(t.accuracy, 0.75);
  assert.equal(bestThreshold([0.3, 0.4], [true, true]).threshold, 0.3 - 1);
  assert.throws(() => bestThreshold([], []), /no scores/);
  assert.throws(() => tenFold([1, 2], [true], [0, 1]), /2 scores, 1 labels, 2 folds/);
  assert.throws(() => tenFold([1, 2], [true, false], [0, 0]), /at least 2 folds/);
});

test('tenFold matches the numpy reference (dev/make_lfw_fixtures.py) exactly', () => {
  const fx = JSON.parse(readFileSync(path.join(repo, 'tests/fixtures/lfw/tenfold.json'), 'utf8')) as {
    cases: Case[];
  };
  assert.ok(fx.cases.length >= 4);
  for (const c of fx.cases) {
    const r = tenFold(c.scores, c.same, c.fold);
    assert.ok(
      Math.abs(r.accuracy - c.expected.accuracy) < 1e-12,
      `${c.name}: accuracy ${r.accuracy} vs ${c.expected.accuracy}`,
    );
    assert.ok(Math.abs(r.sd - c.expected.sd) < 1e-12, `${c.name}: sd ${r.sd} vs ${c.expected.sd}`);
    assert.ok(Math.abs(r.se - c.expected.se) < 1e-12, `${c.name}: se`);
    assert.equal(r.folds.length, c.expected.folds.length);
    r.folds.forEach((f, i) => {
      const e = c.expected.folds[i]!;
      assert.ok(
        Math.abs(f.threshold - e.threshold) < 1e-12,
        `${c.name} fold ${i}: threshold ${f.threshold} vs ${e.threshold}`,
      );
      assert.equal(f.accuracy, e.accuracy, `${c.name} fold ${i}: accuracy`);
      assert.equal(f.train_accuracy, e.train_accuracy, `${c.name} fold ${i}: train accuracy`);
    });
  }
  const sep = fx.cases.find((c) => c.name === 'separable')!;
  assert.ok(tenFold(sep.scores, sep.same, sep.fold).accuracy > 0.99);
});

test('framing: the LFW frame is 1.65x the crop and the judged square is the crop', () => {
  const f = framingSquare(90, LFW_FRAMING);
  assert.deepEqual(f, { x: -29, y: -32, size: 149, padded: true });
  const inner = framingSquare(100, { side: 0.5, shiftY: 0 });
  assert.deepEqual(inner, { x: 25, y: 25, size: 50, padded: false });
  assert.throws(() => framingSquare(90, { side: 0, shiftY: 0 }), /side must be positive/);
  // a smooth 90x90 picture: its own square of the 64x64 frame is the picture at 39x39
  const w = 90;
  const data = new Uint8Array(w * w * 3);
  for (let y = 0; y < w; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++)
        data[(y * w + x) * 3 + c] = 128 + 90 * Math.sin(x / 9 + c) * Math.cos(y / 11);
  const img = { data, width: w, height: w, channels: 3 };
  const fr = frameTightCrop(img, LFW_FRAMING);
  assert.equal(fr.hr.width, 64);
  assert.deepEqual(fr.region, { x: 12, y: 14, size: 39 });
  const judged = cropSquare(fr.hr, fr.region);
  const direct = resizeSquare({ data, width: w, height: w }, 39, 'area');
  const p = psnr(judged, { data: direct.data, width: 39, height: 39, channels: 3 });
  assert.ok(p > 28, `judged square vs the crop resized: PSNR ${p.toFixed(1)} dB`);
  // the frame's corner is replicated edge: equal to the crop's corner pixel region, not black
  assert.ok(fr.hr.data[0]! > 20, 'padding is edge replication, not zeros');
  assert.throws(() => cropSquare(fr.hr, { x: 60, y: 0, size: 10 }), /outside a 64x64 image/);
});

test(
  'lfw: a small run (2 + 2 pairs a fold) with bicubic; resume; CLI on a 4-pair LFW folder',
  { skip: SKIP },
  async (t) => {
    const all = readPairs(LFW);
    assert.equal(all.pairs.length, 6000);
    assert.equal(all.folds, 10);
    const pairs = subsetPairs(all.pairs, 2);
    assert.equal(pairs.length, 40);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-lfw-'));
    try {
      const progressFile = path.join(tmp, 'p.jsonl');
      const seen: number[] = [];
      const r = await lfwVerify({
        lfw: LFW,
        pairs,
        methods: [bicubicMethod()],
        batch: 16,
        progressFile,
        onProgress: (d) => seen.push(d),
      });
      assert.deepEqual(
        r.conditions.map((c) => c.name),
        ['hr', 'hr64', 'bicubic/one', 'bicubic/both'],
      );
      assert.equal(r.pairs, 40);
      assert.equal(seen.at(-1), r.images);
      const hr = r.conditions[0]!;
      t.diagnostic(lfwMarkdown(r));
      assert.ok(hr.mean_cosine_same > hr.mean_cosine_different, 'same-person pairs are closer');
      assert.ok(hr.cosine.accuracy >= 0.75, `HR accuracy ${hr.cosine.accuracy} on 40 pairs`);
      assert.equal(r.scores.cosine['hr']!.length, 40);
      // resume from a progress file cut 6 images before the end (and a half-written line): same result
      const lines = readFileSync(progressFile, 'utf8').split('\n').filter(Boolean);
      const keep = lines.length - 6;
      writeFileSync(progressFile, lines.slice(0, keep).join('\n') + '\n' + lines[keep]!.slice(0, 30));
      const resumedFrom: number[] = [];
      const again = await lfwVerify({
        lfw: LFW,
        pairs,
        methods: [bicubicMethod()],
        batch: 16,
        progressFile,
        resume: true,
        onProgress: (d) => resumedFrom.push(d),
      });
      assert.equal(resumedFrom[0], r.images - 6, 'resumed after the whole lines');
      assert.deepEqual(
        again.conditions.map((c) => c.cosine.accuracy),
        r.conditions.map((c) => c.cosine.accuracy),
      );
      assert.deepEqual(again.scores.cosine['bicubic/both'], r.scores.cosine['bicubic/both']);
      // another run's progress file is refused
      await assert.rejects(
        lfwVerify({ lfw: LFW, pairs, methods: [bicubicMethod()], seed: 3, progressFile, resume: true }),
        /belongs to another LFW run/,
      );
      // CLI: help, missing arguments, a 1 + 1 pairs-a-fold run writing JSON, report and scores
      const tiny = path.join(tmp, 'tiny');
      const real = readFileSync(path.join(LFW, 'pairs.txt'), 'utf8').split('\n');
      const picked = [1, 301, 601, 901].map((i) => real[i]!.trim());
      mkdirSync(path.join(tiny, 'images'), { recursive: true });
      writeFileSync(path.join(tiny, 'pairs.txt'), ['2 1', ...picked].join('\n') + '\n');
      for (const p of parsePairs(['2 1', ...picked].join('\n')).pairs)
        for (const f of [p.a, p.b]) {
          mkdirSync(path.join(tiny, 'images', path.dirname(f)), { recursive: true });
          copyFileSync(path.join(LFW, 'images', f), path.join(tiny, 'images', f));
        }
      const json = path.join(tmp, 'lfw.json');
      const log = console.log;
      const out: string[] = [];
      console.log = (s: string) => out.push(String(s));
      try {
        assert.equal(await lfwCommand(['--help']), 0);
        assert.equal(out[0], EVAL_LFW_HELP);
        await assert.rejects(lfwCommand(['--json', 'x.json']), /Missing --lfw DIR/);
        await assert.rejects(lfwCommand(['--lfw', tmp, '--json', 'x.json']), /pairs\.txt does not exist/);
        await assert.rejects(
          lfwCommand(['--lfw', LFW, '--json', 'x', '--degrade', 'jpeg']),
          /bicubic4 or realistic/,
        );
        const code = await lfwCommand([
          '--lfw',
          tiny,
          '--methods',
          'bicubic',
          '--json',
          json,
          '--report',
          path.join(tmp, 'lfw.md'),
          '--scores',
          path.join(tmp, 'scores.json'),
          '--quiet',
        ]);
        assert.equal(code, 0);
      } finally {
        console.log = log;
      }
      const j = JSON.parse(readFileSync(path.join(tmp, 'lfw.json'), 'utf8')) as {
        pairs: number;
        conditions: { name: string }[];
      };
      assert.equal(j.pairs, 4);
      assert.equal(j.conditions.length, 4);
      assert.match(readFileSync(path.join(tmp, 'lfw.md'), 'utf8'), /\| bicubic\/both \| both \|/);
      const sc = JSON.parse(readFileSync(path.join(tmp, 'scores.json'), 'utf8')) as {
        conditions: Record<string, { scores: number[] }>;
      };
      assert.equal(sc.conditions['hr']!.scores.length, 4);
      assert.ok(!existsSync(`${json}.progress.jsonl`), 'progress file removed at the end');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
