// Module behaviour: state-dict loading errors, dtype conversion, train/eval, parameter counting,
// freezing, and memory (building and disposing a module frees every tensor it made).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, liveTensors, noGrad, randn, tensor, tidy, zeros } from '../src/tensor/index.js';
import {
  BatchNorm2d,
  Conv2d,
  GroupNorm,
  LeakyReLU,
  Linear,
  Module,
  ModuleList,
  PReLU,
  Sequential,
  spectralNorm,
  type Layer,
} from '../src/nn/index.js';
import { ArgumentError, StateDictError } from '../src/core/errors.js';

function small(): Sequential {
  return new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4), new LeakyReLU(0.2));
}

/** Children '0' (Sequential with a spectral-norm conv), '1' (ModuleList), '2' (Sequential). */
class Net extends Module implements Layer {
  readonly head = this.registerModule(
    '0',
    new Sequential(spectralNorm(new Conv2d(3, 4, 3, { padding: 1 })), new BatchNorm2d(4), new PReLU(4)),
  );
  readonly mid = this.registerModule(
    '1',
    new ModuleList<Module & Layer>([new Conv2d(4, 4, 1), new GroupNorm(2, 4)]),
  );
  readonly tail = this.registerModule(
    '2',
    new Sequential(new BatchNorm2d(4), spectralNorm(new Conv2d(4, 2, 3, { bias: false }))),
  );
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = this.head.forward(x);
      for (const m of this.mid) y = m.forward(y);
      return this.tail.forward(y);
    });
  }
}

function nested(): Net {
  return new Net();
}

/** Deep copies of a module's state dict (fresh tensors the caller disposes). */
function cloneState(m: Module): Map<string, Tensor> {
  return tidy(() => new Map([...m.stateDict()].map(([k, t]) => [k, t.detach().clone()])));
}

function disposeAll(sd: Map<string, Tensor>): void {
  for (const t of sd.values()) t.dispose();
}

test('loadStateDict (strict) lists missing, unexpected and mis-shaped keys in one StateDictError', () => {
  const m = small();
  const sd = cloneState(m);
  sd.get('1.running_mean')!.dispose();
  sd.delete('1.running_mean');
  sd.set('2.weight', zeros([1]));
  sd.set('extra.bias', zeros([3]));
  sd.get('0.weight')!.dispose();
  sd.set('0.weight', zeros([4, 3, 5, 5]));
  sd.get('1.bias')!.dispose();
  sd.set('1.bias', zeros([2, 2]));
  const conv = m.at(0) as Conv2d;
  const before = conv.param('bias').toFloat32Array();
  sd.get('0.bias')!.fill_(7);
  let err: unknown;
  try {
    m.loadStateDict(sd);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof StateDictError, `expected a StateDictError, got ${String(err)}`);
  const msg = err.message;
  for (const key of ['1.running_mean', '2.weight', 'extra.bias', '0.weight', '1.bias'])
    assert.ok(msg.includes(key), `message names ${key}:\n${msg}`);
  for (const shape of ['[4, 3, 3, 3]', '[4, 3, 5, 5]', '[4]', '[2, 2]'])
    assert.ok(msg.includes(shape), `message names shape ${shape}:\n${msg}`);
  assert.match(msg, /missing keys \(1\)/);
  assert.match(msg, /unexpected keys \(2\)/);
  assert.match(msg, /shape mismatches \(2\)/);
  // Nothing was copied: a failed load leaves the module as it was.
  assert.deepEqual(conv.param('bias').toFloat32Array(), before);
  disposeAll(sd);
  m.dispose();
});

test('loadStateDict non-strict returns the missing and unexpected keys and loads the rest', () => {
  const m = small();
  const sd = cloneState(m);
  sd.get('0.bias')!.fill_(0.5);
  sd.get('1.running_var')!.dispose();
  sd.delete('1.running_var');
  sd.set('3.weight', zeros([2]));
  const r = m.loadStateDict(sd, { strict: false });
  assert.deepEqual(r, { missing: ['1.running_var'], unexpected: ['3.weight'] });
  assert.deepEqual(Array.from((m.at(0) as Conv2d).param('bias').toFloat32Array()), [0.5, 0.5, 0.5, 0.5]);
  // A shape mismatch is an error even when not strict.
  sd.get('0.bias')!.dispose();
  sd.set('0.bias', zeros([5]));
  assert.throws(() => m.loadStateDict(sd, { strict: false }), StateDictError);
  // A plain object works as well as a Map.
  const obj = Object.fromEntries(cloneState(m));
  assert.deepEqual(m.loadStateDict(obj), { missing: [], unexpected: [] });
  disposeAll(sd);
  disposeAll(new Map(Object.entries(obj)));
  m.dispose();
});

test('loadStateDict copies values (the source tensors stay independent) and keeps requiresGrad', () => {
  const m = new Linear(3, 2);
  const w = tidy(() => randn([2, 3]));
  const b = tidy(() => randn([2]));
  m.loadStateDict({ weight: w, bias: b });
  assert.deepEqual(m.param('weight').toFloat32Array(), w.toFloat32Array());
  noGrad(() => w.fill_(0));
  assert.notDeepEqual(m.param('weight').toFloat32Array(), w.toFloat32Array());
  assert.ok(m.param('weight').requiresGrad && m.param('weight').isLeaf);
  w.dispose();
  b.dispose();
  m.dispose();
});

test('Module.to({dtype}) converts floating parameters and buffers in place, keeping tensor identity', () => {
  const m = nested();
  const params = m.parameters();
  const buffers = m.namedBuffers();
  const sdKeys = [...m.stateDict().keys()];
  const w = (m.child('0').child('0') as Conv2d).param('weight_orig');
  const ref = w.toFloat32Array();
  m.to({ dtype: 'float16' });
  const after = m.parameters();
  assert.equal(after.length, params.length);
  after.forEach((p, i) => assert.equal(p, params[i], `parameter ${i} is the same Tensor object`));
  for (const p of after) {
    assert.equal(p.dtype, 'float16');
    assert.ok(p.requiresGrad && p.isLeaf, 'still a trainable leaf');
  }
  for (const [name, t] of m.namedBuffers()) {
    const same = buffers.find(([n]) => n === name)![1];
    assert.equal(t, same, `buffer ${name} is the same Tensor object`);
    assert.equal(t.dtype, name.endsWith('num_batches_tracked') ? 'int64' : 'float16', name);
  }
  assert.deepEqual([...m.stateDict().keys()], sdKeys);
  // Values are the float16 roundings of the old ones.
  const half = w.toFloat32Array();
  ref.forEach((v, i) => assert.ok(Math.abs(half[i]! - v) <= Math.abs(v) * 2 ** -11 + 1e-7, `value ${i}`));
  m.to({ dtype: 'float32' });
  assert.equal(w.dtype, 'float32');
  assert.equal(m.parameters()[0], params[0]);
  m.dispose();
});

test('train() and eval() recurse into every descendant and return the module', () => {
  const m = nested();
  const all = m.namedModules();
  assert.deepEqual(
    all.map(([n]) => n),
    ['', '0', '0.0', '0.1', '0.2', '1', '1.0', '1.1', '2', '2.0', '2.1'],
  );
  assert.ok(
    all.every(([, x]) => x.training),
    'modules start in training mode',
  );
  assert.equal(m.eval(), m);
  assert.ok(
    all.every(([, x]) => !x.training),
    'eval() reaches every module',
  );
  assert.equal(m.train(), m);
  assert.ok(all.every(([, x]) => x.training));
  m.train(false);
  assert.ok(all.every(([, x]) => !x.training));
  // Setting a child only changes that subtree.
  m.child('2').train();
  assert.deepEqual(
    m.namedModules().map(([n, x]) => `${n}:${x.training}`),
    [
      ':false',
      '0:false',
      '0.0:false',
      '0.1:false',
      '0.2:false',
      '1:false',
      '1.0:false',
      '1.1:false',
      '2:true',
      '2.0:true',
      '2.1:true',
    ],
  );
  m.dispose();
});

test('numParameters counts parameter elements only (not buffers, not spectral-norm u/v)', () => {
  const m = nested();
  const expected =
    4 * 3 * 9 +
    4 + // sn conv: weight_orig, bias
    4 +
    4 + // bn
    4 + // prelu
    4 * 4 +
    4 + // 1x1 conv
    4 +
    4 + // group norm
    4 +
    4 + // bn
    2 * 4 * 9; // sn conv without bias
  assert.equal(m.numParameters(), expected);
  assert.equal(new Linear(10, 5, { bias: false }).numParameters(), 50);
  assert.equal(new Conv2d(4, 8, 3, { groups: 2 }).numParameters(), 8 * 2 * 9 + 8);
  m.dispose();
});

test('a frozen sub-module (requiresGrad_(false)) gets no gradients; the rest does', () => {
  const m = new Sequential(new Conv2d(2, 3, 3, { padding: 1 }), new BatchNorm2d(3), new Conv2d(3, 1, 1));
  m.at(0).requiresGrad_(false);
  m.at(1).requiresGrad_(false);
  const x = tidy(() => randn([2, 2, 4, 4]).requiresGrad_(true));
  tidy(() => m.forward(x).square().sum().backward());
  for (const [name, p] of m.namedParameters()) {
    const g = p.grad;
    if (name.startsWith('2.')) assert.ok(g, `${name} should have a gradient`);
    else assert.equal(g, null, `${name} is frozen but has a gradient`);
    g?.dispose();
    assert.equal(p.requiresGrad, name.startsWith('2.'));
  }
  assert.ok(x.grad, 'the input still gets a gradient through the frozen layers');
  for (const [, b] of m.namedBuffers()) assert.equal(b.requiresGrad, false);
  // Unfreezing restores training.
  m.requiresGrad_(true);
  tidy(() => m.forward(x).sum().backward());
  assert.ok(m.parameters().every((p) => p.grad !== null));
  m.zeroGrad();
  assert.ok(m.parameters().every((p) => p.grad === null));
  x.dispose();
  m.dispose();
});

test('stateDict returns the module tensors themselves, in registration order', () => {
  const m = small();
  const sd = m.stateDict();
  assert.equal(sd.get('0.weight'), (m.at(0) as Conv2d).param('weight'));
  assert.equal(sd.get('1.running_mean'), (m.at(1) as BatchNorm2d).buffer('running_mean'));
  assert.deepEqual(
    [...sd.keys()],
    ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked'],
  );
  assert.equal(sd.get('1.num_batches_tracked')!.dtype, 'int64');
  m.dispose();
});

test('spectralNorm renames weight to weight_orig, adds u/v buffers and refuses a second application', () => {
  const c = spectralNorm(new Conv2d(3, 5, 3));
  assert.deepEqual([...c.stateDict().keys()], ['bias', 'weight_orig', 'weight_u', 'weight_v']);
  assert.deepEqual(c.buffer('weight_u').shape, [5]);
  assert.deepEqual(c.buffer('weight_v').shape, [27]);
  assert.throws(() => spectralNorm(c), ArgumentError);
  assert.throws(() => c.param('weight'), ArgumentError);
  // The spectral norm of the normalised weight is ~1 after enough power iterations.
  const sigma = tidy(() => {
    for (let i = 0; i < 50; i++) c.weight().dispose();
    const w = c.weight().reshape(5, -1);
    // Largest singular value via power iteration on W W^T.
    let v = randn([27]);
    for (let i = 0; i < 200; i++)
      v = w
        .transpose(0, 1)
        .mv(w.mv(v))
        .div(w.transpose(0, 1).mv(w.mv(v)).norm());
    return w.mv(v).norm().item();
  });
  assert.ok(Math.abs(sigma - 1) < 1e-3, `sigma ${sigma}`);
  c.dispose();
});

test('building, running and disposing modules returns liveTensors() to its baseline', () => {
  const baseline = liveTensors();
  for (let i = 0; i < 3; i++) {
    const m = nested();
    const x = tidy(() => randn([2, 3, 6, 6]).requiresGrad_(true));
    tidy(() => m.forward(x).sum().backward());
    m.eval();
    tidy(() => void noGrad(() => m.forward(x)));
    m.to({ dtype: 'float64' });
    const sd = cloneState(m);
    m.loadStateDict(sd);
    disposeAll(sd);
    x.dispose();
    m.dispose();
  }
  const l = new Linear(4, 4);
  tidy(() => void l.forward(tensor([[1, 2, 3, 4]])));
  l.dispose();
  assert.equal(liveTensors(), baseline, 'tensors leaked by module construction, forward or dispose');
});
