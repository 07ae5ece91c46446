import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { FanConfig } from '../src/models/index.js';
import { trainFan, nme, loadFanData, evaluateFanFile } from '../src/train/fan.js';
import { readSafetensors } from '../src/io/index.js';

// A tiny FAN with the real topology (2 stacks: intermediate supervision) and 68 points.
const TINY: FanConfig = {
  type: 'fan',
  inputSize: 64,
  stacks: 2,
  width: 8,
  stemWidth: 4,
  pool: true,
  landmarks: 68,
};

/** A 68-point synthetic face in a 128 crop: jaw arc, brows, nose, eyes, mouth, jittered per face. */
function face(seed: number): Float32Array {
  let s = seed * 9301 + 49297;
  const r = () => ((s = (s * 9301 + 49297) % 233280) / 233280 - 0.5) * 4;
  const p: [number, number][] = [];
  for (let i = 0; i < 17; i++) {
    const a = Math.PI * (i / 16);
    p.push([64 - 44 * Math.cos(a), 56 + 50 * Math.sin(a)]);
  }
  for (let i = 0; i < 10; i++) p.push([26 + i * 8.5 + (i >= 5 ? 8 : 0), 40]);
  for (let i = 0; i < 4; i++) p.push([64, 50 + i * 6]);
  for (let i = 0; i < 5; i++) p.push([54 + i * 5, 76]);
  for (let e = 0; e < 2; e++)
    for (let i = 0; i < 6; i++)
      p.push([
        34 + e * 40 + 20 * Math.cos((Math.PI * i) / 3) * 0.5 + 10,
        52 + 4 * Math.sin((Math.PI * i) / 3),
      ]);
  for (let i = 0; i < 20; i++)
    p.push([
      44 + 40 * Math.cos((2 * Math.PI * i) / 20) * 0.5 + 20,
      92 + 8 * Math.sin((2 * Math.PI * i) / 20),
    ]);
  const out = new Float32Array(136);
  const dx = r();
  const dy = r();
  p.forEach(([x, y], i) => {
    out[2 * i] = x + dx + r() * 0.3;
    out[2 * i + 1] = y + dy + r() * 0.3;
  });
  return out;
}

async function writeSet(root: string, split: string, names: string[]): Promise<void> {
  mkdirSync(path.join(root, split), { recursive: true });
  const rows = [['file', ...Array.from({ length: 68 }, (_, i) => `x${i},y${i}`)].join(',')];
  for (const [k, name] of names.entries()) {
    const lm = face(k + (split === 'test' ? 100 : 0));
    const px = Buffer.alloc(128 * 128 * 3, 90);
    for (let i = 0; i < 68; i++) {
      const cx = Math.round(lm[2 * i]!);
      const cy = Math.round(lm[2 * i + 1]!);
      for (let y = cy - 1; y <= cy + 1; y++)
        for (let x = cx - 1; x <= cx + 1; x++)
          if (x >= 0 && y >= 0 && x < 128 && y < 128) px.fill(230, (y * 128 + x) * 3, (y * 128 + x) * 3 + 3);
    }
    await sharp(px, { raw: { width: 128, height: 128, channels: 3 } })
      .png()
      .toFile(path.join(root, split, name));
    rows.push([name, ...Array.from(lm, (v) => v.toFixed(2))].join(','));
  }
  writeFileSync(path.join(root, `${split}.csv`), rows.join('\n') + '\n');
}

let dataRoot = '';
test.before(async () => {
  dataRoot = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-data-'));
  const ids = ['Ann_Lee', 'Bob_Ray', 'Cy_Twombly', 'Di_Ng', 'Ed_Po'];
  await writeSet(
    dataRoot,
    'train',
    ids.flatMap((id) => [1, 2, 3].map((f) => `${id}_${f}.png`)),
  );
  await writeSet(dataRoot, 'test', ['Ann_Lee_9.png', 'Fay_Wu_1.png', 'Fay_Wu_2.png']);
});
test.after(() => rmSync(dataRoot, { recursive: true, force: true }));

const common = { config: TINY, batchSize: 4, threads: 2, quiet: true, workers: 0 } as const;

test('nme: predictions shifted by a known amount give the known NME', () => {
  // Face 1: outer eye corners 30 px apart, every point off by (3, 4): 5 / 30 = 16.667 %.
  // Face 2: corners 20 px apart, every point off by (0, 1): 1 / 20 = 5 %. Mean: 10.833 %.
  const truth = new Float32Array(2 * 136);
  for (let i = 0; i < 68; i++) {
    truth[2 * i] = 10 + (i % 7);
    truth[2 * i + 1] = 20 + (i % 5);
    truth[136 + 2 * i] = 5 + (i % 3);
    truth[136 + 2 * i + 1] = 8 + (i % 4);
  }
  truth.set([10, 20], 72); // 36
  truth.set([40, 20], 90); // 45
  truth.set([5, 8], 136 + 72);
  truth.set([5, 28], 136 + 90);
  const pred = truth.slice();
  for (let i = 0; i < 68; i++) {
    pred[2 * i] += 3;
    pred[2 * i + 1] += 4;
    pred[136 + 2 * i + 1] += 1;
  }
  assert.ok(Math.abs(nme(pred.subarray(0, 136), truth.subarray(0, 136), 1) - 100 / 6) < 1e-4);
  assert.ok(Math.abs(nme(pred, truth, 2) - (100 / 6 + 5) / 2) < 1e-4);
  assert.equal(nme(truth, truth, 2), 0);
  assert.throws(() => nme(pred, truth, 3));
});

test('loadFanData: the hold-out shares no identity with training', async () => {
  const d = await loadFanData(dataRoot, 0.2, 1);
  assert.ok(d.holdout.length > 0);
  const trainIds = new Set(d.train.map((it) => it.identity));
  for (const it of d.holdout) assert.ok(!trainIds.has(it.identity), `${it.identity} is on both sides`);
  assert.equal(d.test.length, 3);
  const none = await loadFanData(dataRoot, 0);
  assert.equal(none.train.length, 15);
  assert.equal(none.holdout.length, 0);
});

test('a few steps lower the loss', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-'));
  try {
    const r = await trainFan({
      ...common,
      data: dataRoot,
      out,
      steps: 16,
      holdout: 0,
      lr0: 3e-3,
      evaluate: false,
    });
    assert.equal(r.stopped, 'done');
    assert.equal(r.losses.length, 16);
    const first = r.losses.slice(0, 3).reduce((a, l) => a + l.loss, 0) / 3;
    const last = r.losses.slice(-3).reduce((a, l) => a + l.loss, 0) / 3;
    assert.ok(last < first * 0.8, `loss ${first} -> ${last}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('resume gives the same losses as no interruption; the end writes weights and metrics', async () => {
  const a = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-a-'));
  const b = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-b-'));
  try {
    const o = { ...common, data: dataRoot, steps: 6, holdout: 0.2, seed: 5, checkpointEvery: 100 };
    const full = await trainFan({ ...o, out: a });
    assert.equal(full.stopped, 'done');
    const part = await trainFan({ ...o, out: b, stopAfter: 3, evaluate: false });
    assert.equal(part.stopped, 'interrupted');
    assert.equal(part.step, 3);
    await assert.rejects(trainFan({ ...o, out: b }), /--resume/);
    const rest = await trainFan({ ...o, out: b, resume: true, evaluate: false });
    assert.equal(rest.step, 6);
    assert.deepEqual(
      [...part.losses, ...rest.losses].map((l) => l.loss),
      full.losses.map((l) => l.loss),
    );
    assert.ok(existsSync(path.join(a, 'fan.safetensors')));
    const m = JSON.parse(readFileSync(path.join(a, 'fan_metrics.json'), 'utf8')) as {
      nme_percent: {
        test_hr: number;
        test_x4up: number;
        holdout_hr: number;
        holdout_faces: number;
        taylor: { test_hr: number; holdout_x4up: number };
      };
      steps: number;
    };
    assert.equal(m.steps, 6);
    const p = m.nme_percent;
    for (const v of [p.test_hr, p.test_x4up, p.holdout_hr, p.taylor.test_hr, p.taylor.holdout_x4up])
      assert.ok(Number.isFinite(v) && v > 0, `NME ${v}`);
    assert.notEqual(p.taylor.test_hr, p.test_hr);
    assert.ok(p.holdout_faces > 0);
    // --evaluate on the written weights gives the end-of-training numbers (same splits and weights).
    const again = await evaluateFanFile(path.join(a, 'fan.safetensors'), dataRoot, { holdout: 0.2, seed: 5 });
    assert.ok(Math.abs(again.test_hr - p.test_hr) < 1e-9, `${again.test_hr} vs ${p.test_hr}`);
    assert.ok(Math.abs(again.taylor.holdout_x4up! - p.taylor.holdout_x4up) < 1e-9);
    await assert.rejects(
      evaluateFanFile(path.join(a, 'nope.safetensors'), dataRoot),
      /--evaluate: no such file .*nope/,
    );
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('init starts from given weights: with a zero learning rate they come out unchanged', async () => {
  const a = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-init-a-'));
  const b = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-init-b-'));
  try {
    const o = { ...common, data: dataRoot, holdout: 0, evaluate: false };
    await trainFan({ ...o, out: a, steps: 2, lr0: 3e-3 });
    const src = path.join(a, 'fan.safetensors');
    const r = await trainFan({ ...o, out: b, steps: 1, lr0: 0, etaMin: 0, init: src });
    assert.equal(r.step, 1);
    const before = await readSafetensors(src);
    const after = await readSafetensors(path.join(b, 'fan.safetensors'));
    const params = [...before.tensors.keys()].filter((k) => !/running_|num_batches/.test(k));
    assert.ok(params.length > 10);
    for (const k of params)
      assert.deepEqual(after.tensors.get(k)!.toFloat32Array(), before.tensors.get(k)!.toFloat32Array(), k);
    for (const t of [...before.tensors.values(), ...after.tensors.values()]) t.dispose();
    await assert.rejects(
      trainFan({
        ...o,
        out: mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-init-c-')),
        steps: 1,
        init: path.join(a, 'checkpoint.safetensors'),
      }),
      /not a FAN of this configuration/,
    );
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('train-fan --config: merged over the preset, checked key by key, and a 32x32-heatmap FAN starts from 16x16 weights', async () => {
  const { readFanConfig } = await import('../src/cli/trainfan.js');
  const { loadFanFile } = await import('../src/train/fan.js');
  const { preset } = await import('../src/models/index.js');
  const { randn } = await import('../src/tensor/index.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facesr-fan-config-'));
  try {
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ description: 'x', pool: false, depth: 3 }));
    assert.deepEqual(readFanConfig(file, 'cpu'), {
      ...preset('cpu').FAN,
      pool: false,
      depth: 3,
      type: 'fan',
    });
    // The 16x16 config parses and keeps the preset's widths; the preset itself has 32x32 heatmaps.
    const c16 = readFanConfig('configs/fan-cpu-16.json', 'cpu');
    assert.equal(c16.width, preset('cpu').FAN.width);
    assert.equal(c16.pool, true);
    assert.equal(preset('cpu').FAN.pool, false);
    for (const [body, msg] of [
      [{ pools: false }, /--config .*c\.json: unknown key 'pools'; known: type, inputSize/],
      [{ pool: 'no' }, /'pool' must be true or false, received "no"/],
      [{ width: 0 }, /'width' must be a positive integer, received 0/],
      [{ type: 'fsrnet' }, /'type' must be "fan"/],
      [[1], /expected a JSON object/],
    ] as const) {
      writeFileSync(file, JSON.stringify(body));
      assert.throws(() => readFanConfig(file, 'cpu'), msg);
    }
    writeFileSync(file, '{"pool": fal');
    assert.throws(() => readFanConfig(file, 'cpu'), /--config .*c\.json: .*JSON/);

    // Train a 16x16 tiny FAN one step, then a 32x32 one (pool off, same depth) from its weights.
    const o = { ...common, data: dataRoot, holdout: 0, evaluate: false, steps: 1 };
    await trainFan({ ...o, out: path.join(dir, 'a') });
    const c32: FanConfig = { ...TINY, pool: false, depth: 3 };
    await trainFan({
      ...o,
      out: path.join(dir, 'b'),
      config: c32,
      init: path.join(dir, 'a', 'fan.safetensors'),
    });
    const fan = await loadFanFile(path.join(dir, 'b', 'fan.safetensors'), TINY);
    assert.equal(fan.heatmapSize, 32);
    assert.equal(fan.config.pool, false);
    const x = randn([2, 3, 64, 64]);
    const hm = fan.forward(x);
    assert.deepEqual(hm.at(-1)!.shape, [2, 68, 32, 32]);
    for (const t of [x, ...hm]) t.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
