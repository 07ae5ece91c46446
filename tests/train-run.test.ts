// `facesr train` end to end on tiny networks: --config with flags winning, the identity-disjoint
// hold-out, harvest folders as --lr, the exported model file, and --init from another run.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { readTrainConfig } from '../src/cli/train.js';
import { TRAIN_MODES } from '../src/train/scgan.js';
import { PRESETS, loadModel } from '../src/models/index.js';
import { lowResolutionFolders, recalibrateBatchNorm, networkFromCheckpoint } from '../src/train/run.js';
import { manualSeed, noGrad, randn, tidy, zeros } from '../src/tensor/index.js';
import { buildModel, type Restoration } from '../src/models/index.js';
import { readSafetensors } from '../src/io/index.js';
import { TINY } from './helpers/tiny.js';

const main = path.join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });

let root = '';
before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'facesr-trainrun-'));
  // 10 identities x 2 images, CelebA-style names; a harvest-style LR folder beside a plain one.
  mkdirSync(path.join(root, 'hr'));
  for (let id = 0; id < 10; id++)
    for (let k = 0; k < 2; k++)
      await sharp({
        create: { width: 32, height: 32, channels: 3, background: { r: id * 20, g: k * 90, b: 128 } },
      })
        .png()
        .toFile(path.join(root, 'hr', `${1000 + id}_${k}.png`));
  for (const set of ['a', 'b']) {
    const d = path.join(root, 'lr', set);
    mkdirSync(path.join(d, 'lr16'), { recursive: true });
    mkdirSync(path.join(d, 'native'), { recursive: true });
    writeFileSync(path.join(d, 'manifest.jsonl'), '');
    for (let i = 0; i < 4; i++) {
      const img = sharp({
        create: { width: 16, height: 16, channels: 3, background: { r: i * 60, g: 30, b: 9 } },
      });
      await img.png().toFile(path.join(d, 'lr16', `${i}.png`));
      // Larger "native" crops that must not be used as 16x16 LR.
      await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 1, g: 2, b: 3 } } })
        .png()
        .toFile(path.join(d, 'native', `${i}.png`));
    }
  }
  writeFileSync(
    path.join(root, 'tiny.json'),
    JSON.stringify({ mode: 'scgan', networks: TINY, steps: 5, batch: 2, holdout: 0.2, sampleEvery: 2 }),
  );
});
after(() => rmSync(root, { recursive: true, force: true }));

test('every shipped config is valid: known keys, a mode and a preset that exist', async () => {
  const dir = path.join(process.cwd(), 'configs');
  const all = readdirSync(dir).filter((f) => f.endsWith('.json'));
  // fan-*.json are train-fan's FAN architectures; the rest are facesr train's.
  const fans = all.filter((f) => f.startsWith('fan-'));
  const { readFanConfig } = await import('../src/cli/trainfan.js');
  assert.deepEqual(fans, ['fan-cpu-16.json']);
  for (const f of fans) assert.equal(readFanConfig(path.join(dir, f), 'cpu').type, 'fan', f);
  const files = all.filter((f) => !f.startsWith('fan-'));
  assert.equal(files.length, 8, `configs/: ${files.join(', ')}`);
  for (const f of files) {
    const c = readTrainConfig(path.join(dir, f));
    assert.ok(TRAIN_MODES.includes(c.mode as never), `${f}: mode ${String(c.mode)}`);
    assert.ok(Object.hasOwn(PRESETS, c.preset as string), `${f}: preset ${String(c.preset)}`);
    assert.equal(f, `${String(c.preset)}-${String(c.mode)}.json`);
  }
});

test('a config with an unknown key is refused, naming the key and the file', () => {
  const f = path.join(root, 'bad.json');
  writeFileSync(f, JSON.stringify({ mode: 'full', stpes: 3 }));
  assert.throws(
    () => readTrainConfig(f),
    (e: Error) => e.message.includes(f) && /unknown key 'stpes'/.test(e.message),
  );
  writeFileSync(f, '[1, 2]');
  assert.throws(() => readTrainConfig(f), /expected a JSON object/);
});

test("a config's weights are checked: unknown keys and bad values are refused, naming them", () => {
  const f = path.join(root, 'weights.json');
  writeFileSync(
    f,
    JSON.stringify({ mode: 'full', weights: { betaR: 0.0125, betaDF: 0.3, dfAnchorPool: 2 } }),
  );
  assert.deepEqual(readTrainConfig(f).weights, { betaR: 0.0125, betaDF: 0.3, dfAnchorPool: 2 });
  writeFileSync(f, JSON.stringify({ weights: { betaDf: 0.3 } }));
  assert.throws(
    () => readTrainConfig(f),
    /unknown key 'weights.betaDf'; known: alpha, beta, theta, gamma, lambdaHm, betaR, betaDF, dfAnchorPool/,
  );
  writeFileSync(f, JSON.stringify({ weights: { beta: -1 } }));
  assert.throws(() => readTrainConfig(f), /'weights.beta' must be a number >= 0, received -1/);
  writeFileSync(f, JSON.stringify({ weights: { dfAnchorPool: 1.5 } }));
  assert.throws(() => readTrainConfig(f), /'weights.dfAnchorPool' must be an integer >= 1, received 1.5/);
  writeFileSync(f, JSON.stringify({ weights: [1] }));
  assert.throws(() => readTrainConfig(f), /'weights' must be an object/);
  // every shipped config passes
  for (const c of readdirSync('configs').filter((n) => n.endsWith('.json') && !n.startsWith('fan-')))
    assert.doesNotThrow(() => readTrainConfig(path.join('configs', c)), c);
});

test('harvest outputs given as --lr resolve to their lr16 folders', async () => {
  assert.deepEqual(await lowResolutionFolders(path.join(root, 'lr')), [
    path.join(root, 'lr', 'a', 'lr16'),
    path.join(root, 'lr', 'b', 'lr16'),
  ]);
  assert.deepEqual(await lowResolutionFolders(path.join(root, 'lr', 'a')), [
    path.join(root, 'lr', 'a', 'lr16'),
  ]);
  assert.deepEqual(await lowResolutionFolders(path.join(root, 'hr')), [path.join(root, 'hr')]);
});

test('--lr follows linked harvest folders and refuses a mix of harvest outputs and other folders', async () => {
  const pool = path.join(root, 'pool');
  mkdirSync(pool);
  symlinkSync(path.join(root, 'lr', 'a'), path.join(pool, 'linked'));
  mkdirSync(path.join(pool, 'own', 'lr16'), { recursive: true });
  writeFileSync(path.join(pool, 'own', 'manifest.jsonl'), '');
  assert.deepEqual(await lowResolutionFolders(pool), [
    path.join(pool, 'linked', 'lr16'),
    path.join(pool, 'own', 'lr16'),
  ]);
  mkdirSync(path.join(pool, 'loose'));
  await assert.rejects(
    lowResolutionFolders(pool),
    (e: Error) =>
      e.message.includes(pool) && /mixes harvest outputs/.test(e.message) && /: loose\./.test(e.message),
  );
  rmSync(pool, { recursive: true });
});

test('train --config: flags win, the hold-out is identity-disjoint, a model file is written, --init starts from it', async () => {
  const out = path.join(root, 'run1');
  const cfg = path.join(root, 'tiny.json');
  const r = run(
    'train',
    '--config',
    cfg,
    '--steps',
    '3',
    '--hr',
    path.join(root, 'hr'),
    '--lr',
    path.join(root, 'lr'),
    '--out',
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(readFileSync(path.join(out, 'last_run.json'), 'utf8')) as { step: number };
  assert.equal(last.step, 3); // --steps 3 beat the config's 5
  // The hold-out: 20% of 10 identities, whole identities only, none of them trained on.
  const held = readFileSync(path.join(out, 'holdout.txt'), 'utf8').trim().split('\n');
  const ids = new Set(held.map((f) => path.basename(f).split('_')[0]));
  assert.equal(held.length, 4);
  assert.equal(ids.size, 2);
  for (const id of ids) assert.equal(held.filter((f) => path.basename(f).startsWith(`${id}_`)).length, 2);
  // Samples every 2 steps as the config says, and at the end.
  assert.deepEqual(readdirSync(path.join(out, 'samples')).sort(), ['step_0000002.png', 'step_0000003.png']);
  // The EMA restoration network as a model file: architecture from the config, x4 from 16x16.
  const m = await loadModel(path.join(out, 'model.safetensors'));
  assert.deepEqual(m.info.arch, TINY.R);
  assert.equal(m.info.mode, 'scgan');
  assert.equal(m.info.step, 3);
  const x = zeros([1, 3, 16, 16]);
  const y = noGrad(() => m.net.forward(x));
  assert.deepEqual(y.shape, [1, 3, 64, 64]);
  x.dispose();
  y.dispose();
  m.net.dispose();
  // The average's batch-norm statistics are its own (recalibrated on the run's faces before the save),
  // neither their initial values nor the live R's.
  const { tensors } = await readSafetensors(path.join(out, 'checkpoint.safetensors'));
  const stats = [...tensors.keys()].filter((k) => k.startsWith('net.R.') && /running_(mean|var)$/.test(k));
  assert.ok(stats.length > 0);
  for (const k of stats) {
    const r = tensors.get(k)!.toFloat32Array();
    const e = tensors.get(k.replace('net.R.', 'net.EMA.'))!.toFloat32Array();
    assert.ok(
      e.every((v) => Number.isFinite(v)) && e.some((v) => v !== 0 && v !== 1),
      `${k}: the EMA's statistics still at their initial value`,
    );
    assert.ok(
      e.some((v, i) => v !== r[i]),
      `${k}: the EMA's statistics are the live R's`,
    );
  }
  for (const t of tensors.values()) t.dispose();

  const out2 = path.join(root, 'run2');
  const r2 = run(
    'train',
    '--config',
    cfg,
    '--steps',
    '1',
    '--hr',
    path.join(root, 'hr'),
    '--lr',
    path.join(root, 'lr'),
    '--out',
    out2,
    '--init',
    path.join(out, 'checkpoint.safetensors'),
  );
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /started 8 networks from .*checkpoint\.safetensors/);
  assert.ok(existsSync(path.join(out2, 'model.safetensors')));
  // A second run into the same folder without --resume is refused.
  const r3 = run(
    'train',
    '--config',
    cfg,
    '--hr',
    path.join(root, 'hr'),
    '--lr',
    path.join(root, 'lr'),
    '--out',
    out2,
  );
  assert.notEqual(r3.status, 0);
  assert.match(r3.stderr, /exists: pass --resume/);
});

test('loadModel refuses a training checkpoint and an unknown shipped name, clearly', async () => {
  await assert.rejects(
    loadModel(path.join(root, 'run1', 'checkpoint.safetensors')),
    /a training checkpoint, not a restoration model; use the model.safetensors beside it/,
  );
  await assert.rejects(loadModel('no-such-model'), /Unknown model 'no-such-model'/);
});

test("networkFromCheckpoint builds a run's network with the checkpoint's weights; an absent one is named", async () => {
  const ckpt = path.join(root, 'run1', 'checkpoint.safetensors');
  const { tensors } = await readSafetensors(ckpt);
  const { net: df, step } = await networkFromCheckpoint(ckpt, 'DF');
  assert.ok(step > 0);
  assert.equal(df.training, false);
  const sd = df.stateDict();
  assert.ok(sd.size > 5);
  for (const [k, t] of sd)
    assert.deepEqual(t.toFloat32Array(), tensors.get(`net.DF.${k}`)!.toFloat32Array(), k);
  const { net: ema } = await networkFromCheckpoint(ckpt, 'EMA');
  assert.deepEqual(
    [...ema.stateDict().keys()].sort(),
    [...tensors.keys()]
      .filter((k) => k.startsWith('net.EMA.'))
      .map((k) => k.slice(8))
      .sort(),
  );
  await assert.rejects(networkFromCheckpoint(ckpt, 'G'), /no network 'G'; it has .*DF.*R/);
  for (const t of tensors.values()) t.dispose();
  df.dispose();
  ema.dispose();
});

test('mode pixel --degrade mixed trains on bicubic and realistic LR and records it in the model file', async () => {
  const out = path.join(root, 'pixel-mixed');
  const r = run(
    'train',
    '--config',
    path.join(root, 'tiny.json'),
    '--mode',
    'pixel',
    '--degrade',
    'mixed',
    '--steps',
    '2',
    '--batch',
    '4',
    '--hr',
    path.join(root, 'hr'),
    '--out',
    out,
  );
  assert.equal(r.status, 0, r.stderr);
  const m = await loadModel(path.join(out, 'model.safetensors'));
  assert.equal(m.info.mode, 'pixel');
  assert.equal(m.info.pixelDegrade, 'mixed');
  m.net.dispose();
  const bad = run(
    'train',
    '--config',
    path.join(root, 'tiny.json'),
    '--degrade',
    'jpeg',
    '--hr',
    path.join(root, 'hr'),
    '--out',
    path.join(root, 'x'),
  );
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Expected bicubic4, realistic or mixed for --degrade but received 'jpeg'/);
});

test('--warmup-degraders: DF and DB alone at the warm-up rate first, then the semi-cycle on its schedule; a resume across the switch matches', async () => {
  const { train } = await import('../src/train/run.js');
  const common = {
    hr: path.join(root, 'hr'),
    lr: path.join(root, 'lr'),
    mode: 'scgan' as const,
    networks: TINY,
    batchSize: 2,
    steps: 4,
    warmupDegraders: 2,
    warmupLr: 5e-3,
    logEvery: 1,
    sampleEvery: 100,
    threads: 1,
  };
  type Row = Record<string, number | boolean>;
  const rows = (out: string) =>
    readFileSync(path.join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Row);
  const a = path.join(root, 'warm-a');
  await train({ ...common, out: a });
  const log = rows(a);
  assert.deepEqual(
    log.map((r) => r.step),
    [1, 2, 3, 4],
  );
  for (const r of log.slice(0, 2)) {
    assert.equal(r.warmup, true);
    assert.equal(r.lr_DF, 5e-3);
    assert.deepEqual(
      Object.keys(r)
        .filter((k) => /^(D|R)/.test(k))
        .sort(),
      ['DB', 'DF'],
    );
  }
  for (const r of log.slice(2)) {
    assert.equal(r.warmup, undefined);
    assert.ok(Number.isFinite(r.D_L1) && Number.isFinite(r.R), JSON.stringify(r));
  }
  // The cosine schedules start after the warm-up: R's lr logged after step 3 is one schedule step in
  // (18 training faces after the 10% hold-out, batch 2: 9 steps an epoch, T_max 10 epochs).
  const cosine = (t: number) => 1e-5 + ((1e-4 - 1e-5) * (1 + Math.cos((Math.PI * t) / 90))) / 2;
  assert.equal(log[1]!.lr, 1e-4);
  assert.ok(Math.abs((log[2]!.lr as number) - cosine(1)) < 1e-12, `lr ${log[2]!.lr} vs ${cosine(1)}`);
  // Interrupted at the switch and resumed: the same losses as the uninterrupted run.
  const b = path.join(root, 'warm-b');
  await train({ ...common, out: b, steps: 2 });
  await train({ ...common, out: b, resume: true });
  const resumed = rows(b);
  for (const step of [3, 4]) {
    const x = log.find((r) => r.step === step)!;
    const y = resumed.find((r) => r.step === step)!;
    for (const k of ['D_L1', 'DF', 'R', 'DB']) assert.equal(y[k], x[k], `step ${step} ${k}`);
  }
  await assert.rejects(
    train({ ...common, out: path.join(root, 'warm-c'), mode: 'pixel' }),
    /Mode 'pixel' has no degradation networks to warm up/,
  );
});

test('recalibrateBatchNorm: the running statistics come from the inputs, so eval mode then matches train mode', () => {
  manualSeed(9);
  const r = buildModel(TINY.R) as Restoration;
  const x = tidy(() => randn([32, 3, 16, 16]).tanh());
  try {
    noGrad(() => {
      r.train();
      const want = r.forward(x);
      const stats = r.namedBuffers().filter(([k]) => /running_(mean|var)$/.test(k));
      assert.ok(stats.length >= 4, 'R of the tiny preset has batch norms');
      for (const [k, t] of stats) t.fill_(k.endsWith('mean') ? 3 : 9);
      r.eval();
      const stale = r.forward(x);
      const gap = (a: typeof x, b: typeof x) => tidy(() => a.sub(b).abs().max()).item();
      assert.ok(
        gap(stale, want) > 0.05,
        `stale statistics should change the output (gap ${gap(stale, want)})`,
      );
      recalibrateBatchNorm(r, [x]);
      assert.equal(r.training, false);
      const now = r.forward(x);
      // Left: the unbiased (running) against the biased (batch) variance, N = 32 x 16 x 16 or more.
      assert.ok(gap(now, want) < 2e-3, `eval after recalibration ${gap(now, want)} from train mode`);
      for (const t of [want, stale, now]) t.dispose();
    });
  } finally {
    x.dispose();
    r.dispose();
  }
});

test('--holdout-seed pins the hold-out across training seeds; by default the split follows --seed', async () => {
  const base = (out: string, extra: string[]) =>
    run(
      'train',
      '--config',
      path.join(root, 'tiny.json'),
      '--steps',
      '1',
      '--hr',
      path.join(root, 'hr'),
      '--lr',
      path.join(root, 'lr'),
      '--out',
      path.join(root, out),
      ...extra,
    );
  const held = (out: string) => readFileSync(path.join(root, out, 'holdout.txt'), 'utf8');
  for (const [out, extra] of [
    ['hs-a', ['--seed', '11', '--holdout-seed', '5']],
    ['hs-b', ['--seed', '12', '--holdout-seed', '5']],
    ['hs-c', ['--seed', '5']],
  ] as const) {
    const r = base(out, [...extra]);
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(held('hs-a'), held('hs-b'));
  assert.equal(held('hs-a'), held('hs-c'));
  const bad = base('hs-d', ['--holdout-seed', 'x']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Expected positive integer for --holdout-seed but received 'x'/);
});
