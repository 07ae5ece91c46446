import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { manualSeed, randn, tidy, keep, liveTensors, type Tensor } from '../src/tensor/index.js';
import { FAN } from '../src/models/index.js';
import {
  SemiCycleTrainer,
  buildNetworks,
  NETWORK_NAMES,
  type NetworkName,
  type Batch,
  type LossWeights,
} from '../src/train/scgan.js';
import { saveCheckpoint, loadCheckpoint } from '../src/train/checkpoint.js';
import { degradationAnchor } from '../src/train/losses.js';
import { F, fromTypedArray } from '../src/tensor/index.js';
import { TINY } from './helpers/tiny.js';

function batch(seed: number): Batch {
  manualSeed(seed);
  return { hr: keep(randn([2, 3, 64, 64]).tanh()), lr: keep(randn([2, 3, 16, 16]).tanh()) };
}

function snapshot(m: { parameters(): Tensor[] }): Float32Array[] {
  return m.parameters().map((p) => p.toFloat32Array());
}
function changed(a: Float32Array[], b: Float32Array[]): boolean {
  return a.some((x, i) => x.some((v, j) => v !== b[i]![j]));
}

test('one full iteration updates every network, each from its own loss only', () => {
  manualSeed(0);
  const nets = buildNetworks(TINY);
  const fan = new FAN(TINY.FAN);
  const trainer = new SemiCycleTrainer(nets, { mode: 'full', fan, weights: { lambdaHm: 10 } });
  const before = Object.fromEntries(NETWORK_NAMES.map((n) => [n, snapshot(nets[n])]));
  const fanBefore = snapshot(fan);
  // Record each generator's gradients at the moment it is stepped.
  const atStep: Partial<Record<NetworkName, Float32Array[]>> = {};
  for (const n of ['DF', 'R', 'DB'] as const) {
    const opt = trainer.optimizers[n]!;
    const step = opt.step.bind(opt);
    opt.step = () => {
      atStep[n] = nets[n].parameters().map((p) => (p.grad ? p.grad.toFloat32Array() : new Float32Array()));
      step();
    };
  }
  const b = batch(1);
  const losses = trainer.step(b);
  for (const k of ['D_L1', 'D_H1', 'D_L2', 'D_H2', 'DF', 'R', 'DB', 'R_hm', 'R_l1']) {
    assert.ok(Number.isFinite(losses[k]), `loss ${k} = ${losses[k]}`);
  }
  for (const n of NETWORK_NAMES) assert.ok(changed(before[n]!, snapshot(nets[n])), `${n} did not change`);
  assert.ok(!changed(fanBefore, snapshot(fan)), 'the frozen FAN changed');
  assert.ok(
    fan.parameters().every((p) => p.grad === null),
    'the frozen FAN received gradients',
  );
  // A later loss leaking into an earlier generator (a missing detach) would change its gradients.
  for (const n of ['DF', 'R', 'DB'] as const) {
    const now = nets[n].parameters().map((p) => (p.grad ? p.grad.toFloat32Array() : new Float32Array()));
    assert.ok(
      !changed(atStep[n]!, now),
      `${n}'s gradients changed after its own update: a later loss reached it`,
    );
  }
});

test('modes train only their networks; scgan has no heatmap term', () => {
  manualSeed(0);
  const nets = buildNetworks(TINY);
  const t = new SemiCycleTrainer(nets, { mode: 'bulat18' });
  assert.deepEqual(t.active, ['R', 'DF', 'DL1', 'DH1']);
  const before = snapshot(nets.DB);
  const losses = t.step(batch(2));
  assert.equal(losses.DB, undefined);
  assert.ok(!changed(before, snapshot(nets.DB)), 'DB changed in bulat18 mode');
  const s = new SemiCycleTrainer(buildNetworks(TINY), { mode: 'scgan' });
  assert.equal(s.weights.lambdaHm, 0);
  assert.equal(s.step(batch(3)).R_hm, undefined);
  assert.throws(() => new SemiCycleTrainer(buildNetworks(TINY), { mode: 'full' }), /needs a trained FAN/);
  assert.throws(
    () => new SemiCycleTrainer(buildNetworks(TINY), { mode: 'gan' as never }),
    /Unknown training mode 'gan'/,
  );
});

/** One SCGAN iteration of tiny networks from fixed seeds with these weights: losses and parameters after. */
function oneStep(weights: Partial<LossWeights>) {
  manualSeed(0);
  const nets = buildNetworks(TINY);
  const t = new SemiCycleTrainer(nets, { mode: 'scgan', weights });
  const b = batch(4);
  manualSeed(5);
  const losses = t.step(b);
  const snap = Object.fromEntries(NETWORK_NAMES.map((n) => [n, snapshot(nets[n])]));
  for (const n of NETWORK_NAMES) nets[n].dispose();
  b.hr.dispose();
  b.lr.dispose();
  return { losses, snap };
}

test("betaR weighs R's adversarial terms only: the discriminators and DF update as with beta", () => {
  const plain = oneStep({});
  const same = oneStep({ betaR: 0.05 });
  const low = oneStep({ betaR: 0 });
  for (const n of NETWORK_NAMES)
    assert.ok(!changed(plain.snap[n]!, same.snap[n]!), `betaR = beta changed ${n}`);
  for (const n of ['DL1', 'DH1', 'DL2', 'DH2', 'DF'] as const)
    assert.ok(!changed(plain.snap[n]!, low.snap[n]!), `betaR changed ${n}`);
  assert.ok(changed(plain.snap.R!, low.snap.R!), 'betaR = 0 left R as with beta');
  assert.equal(low.losses.DF, plain.losses.DF);
  assert.notEqual(low.losses.R, plain.losses.R);
});

test("betaDF weighs DF's adversarial term only: in one iteration no other network moves differently", () => {
  const plain = oneStep({});
  const same = oneStep({ betaDF: 0.05 });
  const high = oneStep({ betaDF: 0.5 });
  for (const n of NETWORK_NAMES)
    assert.ok(!changed(plain.snap[n]!, same.snap[n]!), `betaDF = beta changed ${n}`);
  for (const n of ['R', 'DB', 'DL1', 'DH1', 'DL2', 'DH2'] as const)
    assert.ok(!changed(plain.snap[n]!, high.snap[n]!), `betaDF changed ${n}`);
  assert.ok(changed(plain.snap.DF!, high.snap.DF!), 'betaDF = 0.5 left DF as with beta');
  assert.notEqual(high.losses.DF, plain.losses.DF);
  assert.equal(high.losses.R, plain.losses.R);
});

test('degradationAnchor: pool 2 ignores a pattern finer than the 8x8 content, pool 1 does not', () => {
  manualSeed(6);
  const hr = tidy(() => randn([1, 3, 64, 64]).tanh());
  // A +/-0.1 checkerboard: every 2x2 block averages to 0.
  const cb = new Float32Array(3 * 16 * 16).map((_, i) => (((i % 16) + Math.floor(i / 16)) % 2 ? 0.1 : -0.1));
  const pattern = fromTypedArray(cb, [1, 3, 16, 16]);
  const lrSyn = tidy(() => F.avgPool2d(hr, 4).add(pattern));
  const coarse = degradationAnchor(lrSyn, hr, 2);
  const fine = degradationAnchor(lrSyn, hr);
  assert.ok(coarse.item() < 1e-6, `pool 2: ${coarse.item()}`);
  assert.ok(Math.abs(fine.item() - 0.1) < 1e-5, `pool 1: ${fine.item()}`);
  for (const t of [hr, pattern, lrSyn, coarse, fine]) t.dispose();
});

test('degrader warm-up trains DF and DB on their L1 terms only: R (weights and BN statistics) and the discriminators stay', () => {
  manualSeed(0);
  const nets = buildNetworks(TINY);
  const t = new SemiCycleTrainer(nets, { mode: 'scgan' });
  const before = Object.fromEntries(NETWORK_NAMES.map((n) => [n, snapshot(nets[n])]));
  const rBuffers = nets.R.namedBuffers().map(([, b]) => b.toFloat32Array());
  const b = batch(5);
  const first = t.warmupStep(b);
  assert.deepEqual(Object.keys(first).sort(), ['DB', 'DF']);
  for (const n of NETWORK_NAMES) {
    const moved = changed(before[n]!, snapshot(nets[n]));
    assert.equal(moved, n === 'DF' || n === 'DB', `${n} ${moved ? 'changed' : 'did not change'}`);
  }
  assert.ok(
    !changed(
      rBuffers,
      nets.R.namedBuffers().map(([, x]) => x.toFloat32Array()),
    ),
    'R buffers moved',
  );
  assert.ok(nets.R.training, 'R left in eval mode');
  // Its losses fall on a fixed batch (Adam at the warm-up rate).
  for (const n of ['DF', 'DB'] as const) t.optimizers[n]!.setLr(1e-2);
  let last = first;
  for (let i = 0; i < 20; i++) last = t.warmupStep(b);
  assert.ok(last.DF! < first.DF! && last.DB! < first.DB!, JSON.stringify({ first, last }));
  const p = new SemiCycleTrainer(buildNetworks(TINY), { mode: 'pixel' });
  assert.throws(() => p.warmupStep(b), /Mode 'pixel' has no degradation network to warm up/);
});

test('iterations free every intermediate tensor', () => {
  manualSeed(0);
  const t = new SemiCycleTrainer(buildNetworks(TINY), { mode: 'full', fan: new FAN(TINY.FAN) });
  const b = batch(4);
  t.step(b);
  const base = liveTensors();
  for (let i = 0; i < 3; i++) t.step(b);
  assert.equal(liveTensors(), base);
});

test('resume from a checkpoint gives the same losses as no interruption', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'facesr-ckpt-'));
  try {
    const batches = [5, 6, 7, 8].map(batch);
    const run = (t: SemiCycleTrainer, from: number, to: number) => {
      const out: number[] = [];
      for (let i = from; i < to; i++) out.push(tidy(() => t.step(batches[i]!)).R!);
      return out;
    };
    manualSeed(42);
    const a = new SemiCycleTrainer(buildNetworks(TINY), { mode: 'scgan' });
    manualSeed(7);
    const straight = run(a, 0, 4);

    manualSeed(42);
    const b = new SemiCycleTrainer(buildNetworks(TINY), { mode: 'scgan' });
    manualSeed(7);
    const first = run(b, 0, 2);
    const file = path.join(dir, 'ckpt.safetensors');
    await saveCheckpoint(file, { step: 2, modules: b.nets as never, optimizers: b.optimizers as never });

    manualSeed(999); // a different fresh start: everything must come from the checkpoint
    const c = new SemiCycleTrainer(buildNetworks(TINY), { mode: 'scgan' });
    const { step } = await loadCheckpoint(file, {
      modules: c.nets as never,
      optimizers: c.optimizers as never,
    });
    assert.equal(step, 2);
    const rest = run(c, 2, 4);
    assert.deepEqual([...first, ...rest], straight);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
