// Golden tests of the tensor layer against PyTorch 1.13 (fixtures from dev/make_fixtures.py).
// Every case runs the op through facesr, compares each output, then back-propagates
// loss = sum_k (out_k * w_k).sum() with the fixture's random weights and compares the input gradients.
// Tolerance for float32: |a - b| <= 1e-4 * max(1, |ref|) elementwise; integer/bool outputs exactly.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  F,
  Tensor,
  cat,
  liveTensors,
  stack,
  tidy,
  where,
  zerosLike,
  type DType,
} from '../src/tensor/index.js';
import { assertClose, assertEqualData, type CloseStats } from './helpers/compare.js';
import { rawFloat32, rawToTensor, readSafetensors, type RawTensor } from './helpers/safetensors.js';

const FIXTURES = path.resolve(process.cwd(), 'tests/fixtures');
const RTOL = 1e-4;
const ATOL = 1e-4;

interface GoldenCase {
  id: string;
  op: string;
  params: Params;
  inputs: string[];
  grads: string[];
  outputs: string[];
  gw: string[];
  note: string;
}

// Params are the JSON options written by dev/make_fixtures.py (facesr option names).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Params = Record<string, any>;
type Inputs = Record<string, Tensor>;
type OpResult = Tensor | Record<string, Tensor>;
type OpFn = (i: Inputs, p: Params, c: GoldenCase) => OpResult;

const list = (ts: Tensor[]): Record<string, Tensor> => Object.fromEntries(ts.map((t, k) => [`out${k}`, t]));

const OPS: Record<string, OpFn> = {
  conv2d: (i, p) => F.conv2d(i.x!, i.weight!, i.bias ?? null, p),
  convTranspose2d: (i, p) => F.convTranspose2d(i.x!, i.weight!, i.bias ?? null, p),
  linear: (i) => F.linear(i.x!, i.weight!, i.bias ?? null),
  matmul: (i) => i.a!.matmul(i.b!),
  binary: (i, p) => {
    const a = i.a!;
    const b: Tensor | number = i.b ?? (p.scalar as number);
    switch (p.fn as string) {
      case 'add':
        return a.add(b, p.alpha as number | undefined);
      case 'sub':
        return a.sub(b);
      case 'rsub':
        return a.rsub(p.scalar as number);
      case 'mul':
        return a.mul(b);
      case 'div':
        return a.div(b);
      case 'pow':
        return a.pow(b);
      case 'maximum':
        return a.maximum(b);
      case 'minimum':
        return a.minimum(b);
    }
    throw new Error(`binary: unknown fn ${p.fn}`);
  },
  unary: (i, p) => {
    const x = i.x!;
    const fns: Record<string, () => Tensor> = {
      neg: () => x.neg(),
      abs: () => x.abs(),
      exp: () => x.exp(),
      log: () => x.log(),
      log1p: () => x.log1p(),
      expm1: () => x.expm1(),
      sqrt: () => x.sqrt(),
      rsqrt: () => x.rsqrt(),
      square: () => x.square(),
      reciprocal: () => x.reciprocal(),
      sin: () => x.sin(),
      cos: () => x.cos(),
      erf: () => x.erf(),
    };
    return fns[p.fn as string]!();
  },
  act: (i, p) => {
    const x = i.x!;
    switch (p.fn as string) {
      case 'relu':
        return x.relu();
      case 'leakyRelu':
        return x.leakyRelu(p.slope);
      case 'prelu':
        return x.prelu(i.weight!);
      case 'sigmoid':
        return x.sigmoid();
      case 'tanh':
        return x.tanh();
      case 'softplus':
        return x.softplus(p.beta, p.threshold);
      case 'elu':
        return x.elu(p.alpha);
      case 'silu':
        return x.silu();
      case 'gelu':
        return x.gelu();
      case 'hardtanh':
        return x.hardtanh(p.min, p.max);
    }
    throw new Error(`act: unknown fn ${p.fn}`);
  },
  avgPool2d: (i, p) => F.avgPool2d(i.x!, p.kernel, p),
  maxPool2d: (i, p) => F.maxPool2d(i.x!, p.kernel, p),
  adaptiveAvgPool2d: (i, p) => F.adaptiveAvgPool2d(i.x!, p.size),
  adaptiveMaxPool2d: (i, p) => F.adaptiveMaxPool2d(i.x!, p.size),
  interpolate: (i, p) => F.interpolate(i.x!, p),
  pixelShuffle: (i, p) => F.pixelShuffle(i.x!, p.factor),
  pixelUnshuffle: (i, p) => F.pixelUnshuffle(i.x!, p.factor),
  pad: (i, p) => F.pad(i.x!, p.pads, p.mode, p.value ?? 0),
  cat: (i, p, c) =>
    cat(
      c.inputs.map((n) => i[n]!),
      p.dim,
    ),
  stack: (i, p, c) =>
    stack(
      c.inputs.map((n) => i[n]!),
      p.dim,
    ),
  slice: (i, p) => i.x!.slice(p.dim, p.start ?? null, p.end ?? null, p.step ?? 1),
  narrow: (i, p) => i.x!.narrow(p.dim, p.start, p.length),
  select: (i, p) => i.x!.select(p.dim, p.index),
  indexSelect: (i, p) => i.x!.indexSelect(p.dim, i.index!),
  index: (i) => i.x!.index([i.i0!, null, i.i2!]),
  gather: (i, p) => i.x!.gather(p.dim, i.index!),
  permute: (i, p) => i.x!.permute(p.dims),
  reshape: (i, p) => i.x!.reshape(p.shape),
  permuteReshape: (i, p) => i.x!.permute(p.dims).reshape(p.shape),
  transpose: (i, p) => i.x!.transpose(p.d0, p.d1),
  flatten: (i, p) => i.x!.flatten(p.start, p.end),
  squeezeUnsqueeze: (i, p) => i.x!.squeeze(p.squeeze).unsqueeze(p.unsqueeze),
  expand: (i, p) => i.x!.expand(p.shape),
  repeat: (i, p) => i.x!.repeat(p.reps),
  flip: (i, p) => i.x!.flip(p.dims),
  roll: (i, p) => i.x!.roll(p.shifts, p.dims),
  split: (i, p) => list(i.x!.split(p.sizes, p.dim)),
  chunk: (i, p) => list(i.x!.chunk(p.chunks, p.dim)),
  maskedFill: (i, p) => i.x!.maskedFill(i.mask!, p.value),
  reduce: (i, p) => {
    const x = i.x!;
    const keep = (p.keepdim as boolean | undefined) ?? false;
    switch (p.fn as string) {
      case 'sum':
        return x.sum(p.dims, keep);
      case 'mean':
        return x.mean(p.dims, keep);
      case 'amax':
        return x.amax(p.dims, keep);
      case 'amin':
        return x.amin(p.dims, keep);
      case 'logsumexp':
        return x.logsumexp(p.dims, keep);
      case 'var':
        return x.var(p.dims, { correction: p.correction, keepdim: keep });
      case 'std':
        return x.std(p.dims, { correction: p.correction, keepdim: keep });
      case 'norm':
        return x.norm(p.p, p.dims, keep);
      case 'prod':
        return x.prod(p.dim, keep);
      case 'cumsum':
        return x.cumsum(p.dim);
    }
    throw new Error(`reduce: unknown fn ${p.fn}`);
  },
  batchNorm: (i, p) => {
    const out = F.batchNorm(i.x!, p.training, {
      weight: i.weight,
      bias: i.bias,
      runningMean: i.runningMean,
      runningVar: i.runningVar,
      momentum: p.momentum,
      eps: p.eps,
    });
    return runningStats(out, i);
  },
  instanceNorm: (i, p) => {
    const out = F.instanceNorm(i.x!, {
      weight: i.weight,
      bias: i.bias,
      runningMean: i.runningMean,
      runningVar: i.runningVar,
      useInputStats: p.useInputStats,
      momentum: p.momentum,
      eps: p.eps,
    });
    return runningStats(out, i);
  },
  groupNorm: (i, p) => F.groupNorm(i.x!, p.groups, { weight: i.weight, bias: i.bias, eps: p.eps }),
  layerNorm: (i, p) => F.layerNorm(i.x!, p.normalizedShape, { weight: i.weight, bias: i.bias, eps: p.eps }),
  softmax: (i, p) => i.x!.softmax(p.dim),
  logSoftmax: (i, p) => i.x!.logSoftmax(p.dim),
  cmp: (i, p) => {
    const b: Tensor | number = i.b ?? (p.scalar as number);
    const a = i.a!;
    const fns: Record<string, () => Tensor> = {
      eq: () => a.eq(b),
      ne: () => a.ne(b),
      lt: () => a.lt(b),
      le: () => a.le(b),
      gt: () => a.gt(b),
      ge: () => a.ge(b),
    };
    return fns[p.fn as string]!();
  },
  logical: (i, p) => {
    if (p.fn === 'and') return i.a!.logicalAnd(i.b!);
    if (p.fn === 'or') return i.a!.logicalOr(i.b!);
    return i.a!.logicalNot();
  },
  where: (i, p) => where(i.cond!, i.a ?? (p.a as number), i.b ?? (p.b as number)),
  whereGt: (i, p) => where(i.x!.gt(p.threshold), i.x!, i.x!.mul(p.slope)),
  clamp: (i, p) => i.x!.clamp(p.min ?? null, p.max ?? null),
  argmax: (i, p) => (p.fn === 'argmax' ? i.x!.argmax(p.dim, p.keepdim) : i.x!.argmin(p.dim, p.keepdim)),
  maxDim: (i, p) => (p.fn === 'maxDim' ? i.x!.maxDim(p.dim, p.keepdim) : i.x!.minDim(p.dim, p.keepdim)),
  topk: (i, p) => i.x!.topk(p.k, { dim: p.dim, largest: p.largest }),
  sort: (i, p) => i.x!.sort({ dim: p.dim, descending: p.descending, stable: p.stable }),
  loss: (i, p) => {
    const [a, b] = [i.input!, i.target!];
    switch (p.fn as string) {
      case 'l1Loss':
        return F.l1Loss(a, b, p.reduction);
      case 'mseLoss':
        return F.mseLoss(a, b, p.reduction);
      case 'smoothL1Loss':
        return F.smoothL1Loss(a, b, p.reduction, p.beta);
      case 'bceWithLogits':
        return F.binaryCrossEntropyWithLogits(a, b, p.reduction);
      case 'crossEntropy':
        return F.crossEntropy(a, b, p.reduction);
    }
    throw new Error(`loss: unknown fn ${p.fn}`);
  },
  affineGrid: (i, p) => F.affineGrid(i.theta!, p.size, p.alignCorners ?? false),
  gridSample: (i, p) => F.gridSample(i.x!, i.grid!, p),
  affineSample: (i, p) => F.gridSample(i.x!, F.affineGrid(i.theta!, p.size, p.alignCorners ?? false), p),
};

function runningStats(out: Tensor, i: Inputs): Record<string, Tensor> {
  const r: Record<string, Tensor> = { out };
  if (i.runningMean) r.runningMean = i.runningMean;
  if (i.runningVar) r.runningVar = i.runningVar;
  return r;
}

const FLOAT: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

interface FamilyStats {
  forward: number;
  grad: number;
  worstRatio: number;
  worstWhat: string;
}

function compareOutput(
  actual: Tensor,
  expected: RawTensor,
  what: string,
  stats: FamilyStats,
  kind: 'forward' | 'grad',
) {
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  if (FLOAT.has(expected.dtype)) {
    const s: CloseStats = assertClose(actual, rawFloat32(expected), { rtol: RTOL, atol: ATOL, what });
    stats[kind] = Math.max(stats[kind], s.maxAbs);
    if (s.worstRatio > stats.worstRatio) {
      stats.worstRatio = s.worstRatio;
      stats.worstWhat = what;
    }
  } else {
    const got = actual.bytes();
    const want = expected.bytes;
    if (expected.dtype === 'int64') {
      assertEqualData(
        new BigInt64Array(got.buffer, got.byteOffset, got.length / 8),
        new BigInt64Array(want.buffer, want.byteOffset, want.length / 8),
        { what, shape: expected.shape },
      );
    } else {
      assertEqualData(got, want, { what, shape: expected.shape });
    }
  }
}

function runCase(c: GoldenCase, raw: Map<string, RawTensor>, stats: FamilyStats): void {
  const get = (name: string): RawTensor => {
    const r = raw.get(name);
    if (!r) throw new Error(`fixture is missing ${name}`);
    return r;
  };
  const fn = OPS[c.op];
  if (!fn) throw new Error(`no facesr implementation for op '${c.op}'`);
  const label = `${c.id} ${c.op} ${JSON.stringify(c.params)}`;
  tidy(() => {
    const inputs: Inputs = {};
    for (const name of c.inputs) {
      const t = rawToTensor(get(`${c.id}/in/${name}`));
      if (c.grads.includes(name)) t.requiresGrad_(true);
      inputs[name] = t;
    }
    const res = fn(inputs, c.params, c);
    const outs: Record<string, Tensor> = res instanceof Tensor ? { out: res } : res;
    assert.deepEqual(Object.keys(outs).sort(), [...c.outputs].sort(), `${label}: output names`);
    for (const name of c.outputs) {
      compareOutput(outs[name]!, get(`${c.id}/out/${name}`), `${label} forward ${name}`, stats, 'forward');
    }
    if (c.grads.length === 0) return;
    let loss: Tensor | null = null;
    for (const name of c.gw) {
      const term = outs[name]!.mul(rawToTensor(get(`${c.id}/gw/${name}`))).sum();
      loss = loss === null ? term : loss.add(term);
    }
    assert.ok(loss, `${label}: no differentiable output`);
    loss.backward();
    for (const name of c.grads) {
      const x = inputs[name]!;
      const g = x.grad ?? zerosLike(x);
      compareOutput(g, get(`${c.id}/grad/${name}`), `${label} grad ${name}`, stats, 'grad');
    }
  });
}

const files = readdirSync(FIXTURES)
  .filter((f) => f.startsWith('golden-') && f.endsWith('.safetensors'))
  .sort();

test('golden fixtures are present (run `npm run fixtures` to regenerate)', () => {
  assert.ok(files.length >= 15, `expected the golden-*.safetensors fixtures in ${FIXTURES}`);
});

for (const file of files) {
  const family = file.slice('golden-'.length, -'.safetensors'.length);
  test(`golden vs PyTorch: ${family}`, async (t) => {
    const { tensors, metadata } = readSafetensors(path.join(FIXTURES, file));
    const cases = JSON.parse(metadata.cases ?? '[]') as GoldenCase[];
    assert.ok(cases.length > 0, `${file}: no cases`);
    const stats: FamilyStats = { forward: 0, grad: 0, worstRatio: 0, worstWhat: '' };
    const before = liveTensors();
    for (const c of cases) {
      await t.test(`${c.id}${c.note ? ` (${c.note})` : ''}`, () => runCase(c, tensors, stats));
    }
    assert.equal(liveTensors(), before, `${family}: tensors leaked by the golden cases`);
    t.diagnostic(
      `${family} (torch ${metadata.torch}): ${cases.length} cases; largest |diff| forward ` +
        `${stats.forward.toExponential(2)}, gradients ${stats.grad.toExponential(2)}; ` +
        `worst tolerance ratio ${stats.worstRatio.toFixed(3)} (${stats.worstWhat || 'exact'})`,
    );
  });
}
