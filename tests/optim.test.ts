// Optimizers, LR schedules and gradient clipping against PyTorch 1.13 (fixtures from
// dev/make_nn_fixtures.py), plus optimizer state save/restore.
// Tolerances: parameters after each step |a - b| <= max(1e-6, 1e-5 * |ref|); learning rates 1e-9
// absolute; clip_grad_norm_ total norm and clipped gradients max(1e-6, 1e-5 * |ref|); a restored
// optimizer must continue bit-identically to an uninterrupted one.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Tensor, keep, liveTensors, tensor, tidy } from '../src/tensor/index.js';
import { parseSafetensors, readSafetensorsSync, serializeSafetensors } from '../src/io/index.js';
import {
  Adam,
  AdamW,
  CosineAnnealingLR,
  type Optimizer,
  type OptimizerState,
  type ParamGroup,
  SGD,
  StepLR,
  clipGradNorm,
  emaUpdate,
} from '../src/optim/index.js';
import { ArgumentError } from '../src/core/errors.js';
import { assertClose } from './helpers/compare.js';

const FIXTURE = path.resolve(process.cwd(), 'tests/fixtures/nn_optim.safetensors');
const { tensors, metadata } = readSafetensorsSync(FIXTURE);

function fx(name: string): Tensor {
  const t = tensors.get(name);
  assert.ok(t, `fixture tensor ${name} is missing (run \`npm run fixtures:nn\`)`);
  return t;
}

type TorchOpts = Record<string, number | boolean | number[]>;
interface OptSpec {
  type: 'Adam' | 'AdamW' | 'SGD';
  options: TorchOpts;
  groups?: [number[], TorchOpts][];
}
const OPTS = JSON.parse(metadata.optimizers!) as Record<string, OptSpec>;
const SKIP = JSON.parse(metadata.skip!) as [number, number][];
const STEPS = Number(metadata.steps);
const NPARAMS = [...tensors.keys()].filter((k) => k.startsWith('params0/')).length;

const worst = { param: 0, lr: 0, clip: 0 };

/** Fresh leaf parameters holding the fixture's initial values. */
function params0(): Tensor[] {
  return Array.from({ length: NPARAMS }, (_, i) => keep(fx(`params0/${i}`).clone().requiresGrad_(true)));
}

function camel(o: TorchOpts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

function makeOptimizer(spec: OptSpec, ps: Tensor[]): Optimizer {
  const params: Tensor[] | ParamGroup[] = spec.groups
    ? spec.groups.map(([idx, over]) => ({ params: idx.map((j) => ps[j]!), ...camel(over) }))
    : ps;
  const o = camel(spec.options);
  switch (spec.type) {
    case 'Adam':
      return new Adam(params, o);
    case 'AdamW':
      return new AdamW(params, o);
    case 'SGD':
      return new SGD(params, o as { lr: number });
  }
}

/** Sets the gradients of step t (null where the fixture's *_skip optimizers had None). */
function setGrads(name: string, ps: Tensor[], t: number): void {
  tidy(() => {
    ps.forEach((p, i) => {
      const skipped = name.endsWith('_skip') && SKIP.some(([s, j]) => s === t && j === i);
      p.grad = skipped ? null : fx(`grads/${t}/${i}`).clone();
    });
  });
}

for (const [name, spec] of Object.entries(OPTS)) {
  test(`optimizer ${name} (${spec.type} ${JSON.stringify(spec.options)}) matches torch.optim over ${STEPS} steps`, () => {
    const before = liveTensors();
    const ps = params0();
    const opt = makeOptimizer(spec, ps);
    for (let t = 0; t < STEPS; t++) {
      setGrads(name, ps, t);
      opt.step();
      ps.forEach((p, i) => {
        const s = assertClose(p, fx(`${name}/step${t + 1}/${i}`).toFloat32Array(), {
          rtol: 1e-5,
          atol: 1e-6,
          what: `${name} step ${t + 1} param ${i}`,
        });
        worst.param = Math.max(worst.param, s.maxAbs);
      });
    }
    opt.zeroGrad();
    assert.ok(
      ps.every((p) => p.grad === null),
      'zeroGrad sets every gradient to null',
    );
    for (const s of opt.stateDict().tensors.values()) s.dispose();
    ps.forEach((p) => p.dispose());
    assert.equal(liveTensors(), before, `${name}: tensors leaked`);
  });
}

test('AdamW defaults to weight decay 0.01 and Adam to 0 (as torch)', () => {
  const p = keep(tensor([1, 2]).requiresGrad_(true));
  assert.equal(new AdamW([p]).groups[0]!.weightDecay, 0.01);
  assert.equal(new Adam([p]).groups[0]!.weightDecay, 0);
  assert.equal(new Adam([p]).lr, 1e-3);
  p.dispose();
});

// ---- LR schedules ----
const SCHED = JSON.parse(metadata.schedules!) as Record<
  string,
  { type: string; options: Record<string, number>; steps: number }
>;

for (const [name, s] of Object.entries(SCHED)) {
  test(`${s.type} ${JSON.stringify(s.options)}: lr over ${s.steps} steps equals torch get_last_lr() (1e-9)`, () => {
    const a = keep(tensor([0, 0]).requiresGrad_(true));
    const b = keep(tensor([0, 0]).requiresGrad_(true));
    const opt = new SGD(
      [
        { params: [a], lr: 0.1 },
        { params: [b], lr: 0.02 },
      ],
      { lr: 0.1 },
    );
    const sched =
      s.type === 'CosineAnnealingLR'
        ? new CosineAnnealingLR(opt, s.options.T_max!, s.options.eta_min!)
        : new StepLR(opt, s.options.step_size!, s.options.gamma!);
    const lrs = [sched.getLastLr()];
    for (let i = 0; i < s.steps; i++) {
      opt.step();
      sched.step();
      lrs.push(sched.getLastLr());
    }
    const ref = fx(`sched/${name}`);
    assert.deepEqual(ref.shape, [s.steps + 1, 2]);
    const exp = ref.data() as Float64Array;
    lrs.forEach((row, i) =>
      row.forEach((lr, g) => {
        const d = Math.abs(lr - exp[i * 2 + g]!);
        worst.lr = Math.max(worst.lr, d);
        assert.ok(
          d <= 1e-9,
          `${name} step ${i} group ${g}: lr ${lr} but torch ${exp[i * 2 + g]} (|diff| ${d})`,
        );
      }),
    );
    assert.equal(opt.lr, lrs.at(-1)![0], 'the optimizer uses the scheduled lr');
    // Restoring the scheduler's epoch restores the lr.
    const st = sched.stateDict();
    opt.setLr(123);
    sched.loadStateDict(st);
    assert.deepEqual(sched.getLastLr(), lrs.at(-1));
    a.dispose();
    b.dispose();
  });
}

// ---- gradient clipping ----
const CLIP = JSON.parse(metadata.clip!) as Record<string, { maxNorm: number; normType: number | 'inf' }>;
for (const [name, c] of Object.entries(CLIP)) {
  test(`clipGradNorm ${name} (maxNorm ${c.maxNorm}, norm ${c.normType}) matches clip_grad_norm_`, () => {
    const before = liveTensors();
    const ps = Array.from({ length: NPARAMS }, (_, i) =>
      keep(fx(`clip/grads/${i}`).clone().zero_().requiresGrad_(true)),
    );
    tidy(() => ps.forEach((p, i) => (p.grad = fx(`clip/grads/${i}`).clone())));
    const total = clipGradNorm(ps, c.maxNorm, c.normType === 'inf' ? Infinity : c.normType);
    const s = assertClose([total], [fx(`clip/${name}/total`).item()], {
      rtol: 1e-5,
      atol: 1e-6,
      what: `${name} total norm`,
    });
    worst.clip = Math.max(worst.clip, s.maxAbs);
    tidy(() =>
      ps.forEach((p, i) => {
        const r = assertClose(p.grad!, fx(`clip/${name}/grad/${i}`).toFloat32Array(), {
          rtol: 1e-5,
          atol: 1e-6,
          what: `${name} clipped grad ${i}`,
        });
        worst.clip = Math.max(worst.clip, r.maxAbs);
      }),
    );
    ps.forEach((p) => p.dispose());
    assert.equal(liveTensors(), before, `${name}: tensors leaked`);
  });
}

test('clipGradNorm skips parameters without gradients and returns 0 when none has one', () => {
  const a = keep(tensor([3, 4]).requiresGrad_(true));
  const b = keep(tensor([1]).requiresGrad_(true));
  assert.equal(clipGradNorm([a, b], 1), 0);
  a.grad = tidy(() => tensor([3, 4]));
  assert.ok(Math.abs(clipGradNorm([a, b], 1) - 5) < 1e-6);
  assert.equal(b.grad, null);
  tidy(() => assertClose(a.grad!, [0.6, 0.8], { rtol: 1e-6, atol: 1e-6, what: 'clipped' }));
  a.dispose();
  b.dispose();
});

test('emaUpdate: target = decay * target + (1 - decay) * source', () => {
  const t = keep(tensor([1, 2, 3]));
  const s = keep(tensor([3, 2, -1]));
  emaUpdate([t], [s], 0.9);
  assertClose(t, [1.2, 2, 2.6], { rtol: 1e-6, atol: 1e-6, what: 'ema' });
  assert.throws(() => emaUpdate([t], [], 0.9), ArgumentError);
  t.dispose();
  s.dispose();
});

// ---- state save / restore ----
/** A checkpoint as a trainer would write it: tensors through safetensors bytes, meta through JSON. */
function roundTrip(s: OptimizerState): OptimizerState {
  const { tensors: t } = parseSafetensors(serializeSafetensors(s.tensors), '<optimizer state>');
  return { tensors: t, meta: JSON.parse(JSON.stringify(s.meta)) as OptimizerState['meta'] };
}

function bytesOf(ps: Tensor[]): Uint8Array[] {
  return ps.map((p) => p.bytes());
}

for (const name of ['adam_skip', 'adamw', 'adam_groups', 'sgd_nesterov', 'sgd_skip']) {
  test(`optimizer ${name}: stateDict -> loadStateDict into a fresh optimizer continues identically`, () => {
    const spec = OPTS[name]!;
    const split = 2;
    // Uninterrupted run.
    const pu = params0();
    const ou = makeOptimizer(spec, pu);
    for (let t = 0; t < STEPS; t++) {
      setGrads(name, pu, t);
      ou.step();
    }
    // Interrupted run: `split` steps, save, new parameters and optimizer, load, continue.
    const pa = params0();
    const oa = makeOptimizer(spec, pa);
    for (let t = 0; t < split; t++) {
      setGrads(name, pa, t);
      oa.step();
    }
    const saved = roundTrip(oa.stateDict());
    const pb = pa.map((p) => keep(p.detach().clone().requiresGrad_(true)));
    const ob = makeOptimizer(spec, pb);
    ob.loadStateDict(saved);
    assert.deepEqual(ob.stateDict().meta, oa.stateDict().meta, 'restored settings and step counts');
    // A fresh optimizer without the state diverges (the check below is not vacuous).
    const pc = pa.map((p) => keep(p.detach().clone().requiresGrad_(true)));
    const oc = makeOptimizer(spec, pc);
    for (let t = split; t < STEPS; t++) {
      setGrads(name, pb, t);
      ob.step();
      setGrads(name, pc, t);
      oc.step();
    }
    assert.deepEqual(bytesOf(pb), bytesOf(pu), `${name}: restored run differs from the uninterrupted one`);
    assert.notDeepEqual(bytesOf(pc), bytesOf(pu), `${name}: a fresh optimizer should differ`);
    for (const t of saved.tensors.values()) t.dispose();
    for (const ps of [pu, pa, pb, pc]) ps.forEach((p) => p.dispose());
  });
}

test('optimizer loadStateDict rejects state of another type or shape', () => {
  const ps = params0();
  const adam = new Adam(ps);
  const sgd = new SGD(ps, { lr: 0.1, momentum: 0.9 });
  assert.throws(() => sgd.loadStateDict(adam.stateDict()), /Adam, not SGD/);
  const other = new Adam(ps.slice(0, 2));
  assert.throws(() => adam.loadStateDict(other.stateDict()), /params, expected 3/);
  assert.throws(() => new Adam([ps[0]!, ps[0]!]), /more than once/);
  ps.forEach((p) => p.dispose());
});

test('optimizer summary', (t) => {
  t.diagnostic(
    `optim (torch ${metadata.torch}): largest |diff| params ${worst.param.toExponential(2)}, ` +
      `lr ${worst.lr.toExponential(2)}, clipping ${worst.clip.toExponential(2)}`,
  );
});
