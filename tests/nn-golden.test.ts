// Golden tests of src/nn modules against PyTorch 1.13 (fixtures from dev/make_nn_fixtures.py).
// Each case builds the same module in facesr, loads PyTorch's state dict by name (strict), runs the
// fixture's forward calls (each in train or eval mode, in order), back-propagates
// loss = sum_k (out_k * gw_k).sum() and compares: outputs, the gradients w.r.t. every input and every
// parameter, and the whole state dict afterwards (BatchNorm running stats and num_batches_tracked,
// spectral-norm u/v after the power iterations). The state-dict keys and their order must equal
// PyTorch's list(m.state_dict().keys()).
// Tolerance for float32: |a - b| <= max(1e-4, 1e-4 * |ref|) elementwise; int64 buffers exactly.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Tensor, liveTensors, tidy } from '../src/tensor/index.js';
import { readSafetensorsSync } from '../src/io/index.js';
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  GroupNorm,
  InstanceNorm2d,
  LeakyReLU,
  Linear,
  Module,
  PReLU,
  PixelShuffle,
  Sequential,
  Tanh,
  Upsample,
  spectralNorm,
  type Layer,
} from '../src/nn/index.js';
import { assertClose, assertEqualData } from './helpers/compare.js';

const FIXTURE = path.resolve(process.cwd(), 'tests/fixtures/nn_modules.safetensors');
const RTOL = 1e-4;
const ATOL = 1e-4;

interface ModuleCase {
  id: string;
  phases: ('train' | 'eval')[];
  keys: string[];
  params: string[];
  inputs: number[][];
}

type Net = Module & Layer;

// The same modules as MODULE_CASES in dev/make_nn_fixtures.py, by id.
const BUILD: Record<string, () => Net> = {
  conv_groups_dilation: () => new Conv2d(4, 6, 3, { padding: 2, dilation: 2, groups: 2 }),
  conv_reflect: () => new Conv2d(3, 5, 3, { padding: 1, paddingMode: 'reflect' }),
  conv_reflect_stride_nobias: () =>
    new Conv2d(3, 4, [3, 5], { stride: 2, padding: [1, 2], bias: false, paddingMode: 'reflect' }),
  conv_replicate: () => new Conv2d(2, 3, 3, { padding: [2, 1], paddingMode: 'replicate' }),
  conv_circular: () => new Conv2d(2, 3, 3, { padding: 1, paddingMode: 'circular' }),
  conv_transpose: () => new ConvTranspose2d(4, 6, 4, { stride: 2, padding: 1 }),
  conv_transpose_groups: () =>
    new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2, dilation: 1 }),
  linear: () => new Linear(7, 5),
  linear_3d_nobias: () => new Linear(7, 5, { bias: false }),
  batchnorm_train: () => new BatchNorm2d(5),
  batchnorm_momentum_train_eval: () => new BatchNorm2d(3, { momentum: 0.3, eps: 1e-3 }),
  batchnorm_eval: () => new BatchNorm2d(5),
  instancenorm_affine: () => new InstanceNorm2d(4, { affine: true }),
  groupnorm: () => new GroupNorm(2, 6),
  prelu_channels: () => new PReLU(4, 0.1),
  prelu_single: () => new PReLU(),
  pixelshuffle: () => new PixelShuffle(2),
  upsample_bilinear: () => new Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: false }),
  upsample_bilinear_size_aligned: () => new Upsample({ size: [7, 9], mode: 'bilinear', alignCorners: true }),
  sequential: () =>
    new Sequential(
      new Conv2d(3, 8, 3, { padding: 1 }),
      new BatchNorm2d(8),
      new PReLU(8),
      new Conv2d(8, 12, 3, { padding: 1, paddingMode: 'reflect' }),
      new PixelShuffle(2),
      new InstanceNorm2d(3, { affine: true }),
      new LeakyReLU(0.2),
      new Upsample({ scaleFactor: 0.5, mode: 'bilinear', alignCorners: false }),
      new Conv2d(3, 2, 1),
      new Tanh(),
    ),
  sn_conv: () => spectralNorm(new Conv2d(4, 6, 3, { padding: 1 })),
  sn_linear: () => spectralNorm(new Linear(8, 5)),
  sn_conv_transpose: () => spectralNorm(new ConvTranspose2d(4, 3, 4, { stride: 2, padding: 1 })),
  nested: () =>
    new Sequential(
      new Sequential(
        spectralNorm(new Conv2d(3, 4, 3, { padding: 1 })),
        new BatchNorm2d(4),
        new LeakyReLU(0.2),
      ),
      new Conv2d(4, 4, 1),
      new Sequential(new BatchNorm2d(4), spectralNorm(new Conv2d(4, 2, 3, { bias: false }))),
    ),
};

const { tensors, metadata } = readSafetensorsSync(FIXTURE);
const cases = JSON.parse(metadata.cases ?? '[]') as ModuleCase[];

function fx(name: string): Tensor {
  const t = tensors.get(name);
  assert.ok(t, `fixture tensor ${name} is missing (run \`npm run fixtures:nn\`)`);
  return t;
}

interface Stats {
  forward: number;
  grad: number;
  state: number;
  worstRatio: number;
  worstWhat: string;
}
const overall: Stats = { forward: 0, grad: 0, state: 0, worstRatio: 0, worstWhat: '' };

function compare(actual: Tensor, expected: Tensor, what: string, kind: 'forward' | 'grad' | 'state'): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  if (expected.dtype === 'int64' || expected.dtype === 'bool') {
    assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
    assertEqualData(actual.data() as BigInt64Array, expected.data() as BigInt64Array, { what });
    return;
  }
  assert.equal(actual.dtype, 'float32', `${what}: dtype`);
  const s = assertClose(actual, expected.toFloat32Array(), { rtol: RTOL, atol: ATOL, what });
  overall[kind] = Math.max(overall[kind], s.maxAbs);
  if (s.worstRatio > overall.worstRatio) {
    overall.worstRatio = s.worstRatio;
    overall.worstWhat = what;
  }
}

test('nn fixtures cover every facesr builder', () => {
  assert.ok(cases.length > 0, `${FIXTURE}: no cases`);
  assert.deepEqual(cases.map((c) => c.id).sort(), Object.keys(BUILD).sort());
});

for (const c of cases) {
  test(`nn golden vs PyTorch: ${c.id} (${c.phases.join(', ')})`, () => {
    const build = BUILD[c.id];
    assert.ok(build, `no facesr builder for ${c.id}`);
    const before = liveTensors();
    const m = build();
    try {
      tidy(() => {
        // State-dict keys, in PyTorch's order, and parameter names.
        assert.deepEqual([...m.stateDict().keys()], c.keys, `${c.id}: state-dict keys / order`);
        assert.deepEqual(
          m.namedParameters().map(([n]) => n),
          c.params,
          `${c.id}: parameter names`,
        );
        const sd = new Map(c.keys.map((k) => [k, fx(`${c.id}/sd/${k}`)]));
        assert.deepEqual(m.loadStateDict(sd), { missing: [], unexpected: [] });

        const xs: Tensor[] = [];
        let loss: Tensor | null = null;
        c.phases.forEach((phase, k) => {
          m.train(phase === 'train');
          const x = fx(`${c.id}/in/${k}`).clone().requiresGrad_(true);
          xs.push(x);
          const y = m.forward(x);
          compare(y, fx(`${c.id}/out/${k}`), `${c.id} out ${k} (${phase})`, 'forward');
          const term = y.mul(fx(`${c.id}/gw/${k}`)).sum();
          loss = loss ? loss.add(term) : term;
        });
        assert.ok(loss);
        (loss as Tensor).backward();
        xs.forEach((x, k) => {
          const g = x.grad;
          assert.ok(g, `${c.id}: input ${k} has no gradient`);
          compare(g, fx(`${c.id}/grad/in/${k}`), `${c.id} grad input ${k}`, 'grad');
        });
        for (const [name, p] of m.namedParameters()) {
          const g = p.grad;
          assert.ok(g, `${c.id}: parameter ${name} has no gradient`);
          compare(g, fx(`${c.id}/grad/${name}`), `${c.id} grad ${name}`, 'grad');
        }
        for (const [k, t] of m.stateDict())
          compare(t, fx(`${c.id}/after/${k}`), `${c.id} after ${k}`, 'state');
      });
    } finally {
      m.dispose();
    }
    assert.equal(liveTensors(), before, `${c.id}: tensors leaked`);
  });
}

test('nn golden summary', (t) => {
  t.diagnostic(
    `nn modules (torch ${metadata.torch}): ${cases.length} cases; largest |diff| outputs ` +
      `${overall.forward.toExponential(2)}, gradients ${overall.grad.toExponential(2)}, state after ` +
      `${overall.state.toExponential(2)}; worst tolerance ratio ${overall.worstRatio.toFixed(3)} ` +
      `(${overall.worstWhat || 'exact'})`,
  );
});
