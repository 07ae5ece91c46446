// The method's networks (src/models): parameter counts and forward shapes of both presets, the
// registry's errors, and golden outputs of R, DF and D_L at the paper sizes against PyTorch 1.13
// modules written from docs/method.md section 2 (dev/make_model_fixtures.py).
// The golden weights are not stored: both sides compute them from one formula (formulaStateDict, the
// same as formula_state_dict in the dev script). The fixture holds the inputs, PyTorch's eval-mode
// outputs, and one train-mode forward of R and D_L (output; BatchNorm running stats / SN u after it).
// Tolerance: |a - b| <= max(1e-4, 1e-4 * |ref|) elementwise (outputs are O(1)); the state-dict keys and
// their order must equal PyTorch's.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  F,
  fromTypedArray,
  liveTensors,
  manualSeed,
  noGrad,
  randn,
  tidy,
  type Tensor,
} from '../src/tensor/index.js';
import { readSafetensorsSync } from '../src/io/index.js';
import type { Module } from '../src/nn/index.js';
import {
  buildModel,
  preset,
  Degradation,
  Discriminator,
  FAN,
  Restoration,
  type DegradationConfig,
  type MethodNetworks,
} from '../src/models/index.js';
import { assertClose } from './helpers/compare.js';

const FIXTURE = path.resolve(process.cwd(), 'tests/fixtures/models_golden.safetensors');
const RTOL = 1e-4;
const ATOL = 1e-4;

const NETS = ['R', 'DF', 'DB', 'DL', 'DH', 'FAN'] as const;

/** Builds one network, runs `fn` on it without gradients, disposes it and every tensor made. */
function withModel<T>(make: () => Module, fn: (m: Module) => T): T {
  const before = liveTensors();
  const m = make();
  try {
    return noGrad(() => fn(m.eval()));
  } finally {
    m.dispose();
    assert.equal(liveTensors(), before, 'tensors leaked');
  }
}

function use<T>(t: Tensor, fn: (t: Tensor) => T): T {
  try {
    return fn(t);
  } finally {
    t.dispose();
  }
}

/** Forward output shapes of one preset's network at batch 2. */
function forwardShapes(p: MethodNetworks, name: (typeof NETS)[number], m: Module): (readonly number[])[] {
  manualSeed(0);
  if (name === 'R')
    return use(randn([2, 3, 16, 16]), (x) => use((m as Restoration).forward(x), (y) => [y.shape]));
  if (name === 'DF' || name === 'DB') {
    const hr = randn([2, 3, 64, 64]);
    const z = randn([2, 64]);
    try {
      return use((m as Degradation).forward(hr, z), (y) => [y.shape]);
    } finally {
      hr.dispose();
      z.dispose();
    }
  }
  if (name === 'DL' || name === 'DH') {
    const s = p[name].inputSize;
    return use(randn([2, 3, s, s]), (x) => use((m as Discriminator).forward(x), (y) => [y.shape]));
  }
  return use(randn([2, 3, 64, 64]), (x) => {
    const outs = (m as FAN).forward(x);
    const shapes = outs.map((o) => o.shape);
    for (const o of outs) o.dispose();
    return shapes;
  });
}

function expectedShapes(p: MethodNetworks, name: (typeof NETS)[number]): number[][] {
  switch (name) {
    case 'R':
      return [[2, 3, 64, 64]];
    case 'DF':
    case 'DB':
      return [[2, 3, 16, 16]];
    case 'DL':
    case 'DH':
      return [[2, 1]];
    case 'FAN': {
      const h = (p.FAN.inputSize ?? 64) / (p.FAN.pool ? 4 : 2);
      return Array.from({ length: p.FAN.stacks ?? 2 }, () => [2, p.FAN.landmarks ?? 68, h, h]);
    }
  }
}

const PAPER_COUNTS: Record<(typeof NETS)[number], number | null> = {
  R: 15_463_939,
  DF: 12_291_896,
  DB: 12_291_896,
  DL: 15_390_849,
  DH: 15_456_641,
  FAN: null, // not fixed by the paper (the project's own FAN size); printed only
};

for (const presetName of ['paper', 'cpu']) {
  test(`${presetName} preset: parameter counts and forward shapes of every network`, () => {
    const p = preset(presetName);
    const counts: Record<string, number> = {};
    for (const name of NETS) {
      withModel(
        () => buildModel(p[name]),
        (m) => {
          counts[name] = m.numParameters();
          assert.deepEqual(
            forwardShapes(p, name, m),
            expectedShapes(p, name),
            `${presetName} ${name} output shapes`,
          );
        },
      );
    }
    if (presetName === 'paper') {
      counts['R (unusedConv)'] = withModel(
        () => new Restoration({ ...p.R, type: 'restoration', unusedConv: true }),
        (m) => m.numParameters(),
      );
      for (const name of NETS) {
        const want = PAPER_COUNTS[name];
        if (want !== null) assert.equal(counts[name], want, `paper ${name} parameters`);
      }
      assert.equal(counts['R (unusedConv)'], 15_476_323, 'paper R (unusedConv) parameters');
    } else {
      // The CPU preset is ~1/100 of the compute: every network far smaller than the paper's.
      for (const name of NETS)
        assert.ok(counts[name]! < 1_500_000, `cpu ${name}: ${counts[name]} parameters`);
    }
    console.log(
      `${presetName} preset parameters: ` +
        Object.entries(counts)
          .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
          .join(', '),
    );
  });
}

test('spectral-norm u/v are buffers, not parameters', () => {
  withModel(
    () => new Discriminator({ type: 'discriminator', inputSize: 16, blocks: [4, 4], hidden: 4 }),
    (m) => {
      const params = m.namedParameters().map(([k]) => k);
      const buffers = m.namedBuffers('', true).map(([k]) => k);
      assert.ok(params.some((k) => k.endsWith('weight_orig')));
      assert.ok(!params.some((k) => k.endsWith('weight_u') || k.endsWith('weight_v')));
      assert.ok(buffers.some((k) => k.endsWith('weight_u')) && buffers.some((k) => k.endsWith('weight_v')));
    },
  );
});

test('degradation inputSkip: starts as the x4 average pool; then the pooled input plus the head, through tanh; same parameters', () => {
  const cfg: DegradationConfig = {
    type: 'degradation',
    blocks: [8, 8, 8, 8, 8, 8, 16, 16, 4, 4, 1, 1],
    headWidth: 4,
  };
  manualSeed(3);
  const plain = new Degradation(cfg);
  const skip = new Degradation({ ...cfg, inputSkip: true });
  const before = liveTensors();
  try {
    assert.deepEqual(
      skip.namedParameters().map(([k, t]) => [k, t.shape]),
      plain.namedParameters().map(([k, t]) => [k, t.shape]),
    );
    noGrad(() => {
      const hr = tidy(() => randn([2, 3, 64, 64]).mul(0.3).tanh());
      const z = randn([2, 64]);
      // Freshly built, the residual head's last conv is zero: the output is the pooled input.
      const fresh = skip.forward(hr, z);
      const pooled = F.avgPool2d(hr, 4);
      assertClose(fresh, pooled.toFloat32Array(), { rtol: 1e-5, atol: 1e-6 });
      fresh.dispose();
      pooled.dispose();
      skip.loadStateDict(plain.stateDict());
      const a = plain.forward(hr, z);
      const b = skip.forward(hr, z);
      // Same head: b = tanh(atanh(b0) + atanh(pool)) where b0 = tanh(head) = a.
      const pool = F.avgPool2d(hr, 4);
      const atanh = (t: Tensor) => t.add(1).div(t.neg().add(1)).log().mul(0.5);
      const want = tidy(() => atanh(a).add(atanh(pool)).tanh());
      assert.deepEqual(b.shape, [2, 3, 16, 16]);
      assertClose(b, want.toFloat32Array(), { rtol: 1e-4, atol: 1e-5 });
      // With the last conv zeroed the output is exactly the pooled input.
      const last = skip.namedParameters().find(([k]) => k === 'out_layer.2.weight')![1];
      last.zero_();
      const c = skip.forward(hr, z);
      assertClose(c, pool.toFloat32Array(), { rtol: 1e-5, atol: 1e-6 });
      for (const t of [hr, z, a, b, c, pool, want]) t.dispose();
    });
    assert.equal(liveTensors(), before, 'tensors leaked');
  } finally {
    plain.dispose();
    skip.dispose();
  }
});

test('registry: unknown arch, unknown preset and bad options are named errors', () => {
  assert.throws(
    () => buildModel({ type: 'nope' } as never),
    (e: Error) =>
      e.message === "Unknown arch 'nope'. Registered: restoration, degradation, discriminator, fan",
  );
  assert.throws(() => preset('x'), /Unknown preset 'x'\. Presets: paper, cpu/);
  assert.throws(
    () => new Degradation({ type: 'degradation', blocks: [8, 8, 8, 8, 16, 16, 32, 32, 16, 16, 2, 2] }),
    /blocks\[8\] = blocks\[9\] = blocks\[7\]\/4/,
  );
  assert.throws(
    () => new Degradation({ type: 'degradation', blocks: [8, 8] }),
    /expected 12 channel counts, received 2/,
  );
  assert.throws(
    () => new Discriminator({ type: 'discriminator', inputSize: 24 }),
    /inputSize must be 4 \* 2\^k, received 24/,
  );
  // preset() hands out copies: editing one does not change the next.
  const a = preset('paper');
  a.R.width = 1;
  assert.equal(preset('paper').R.width, 256);
});

// ---- golden outputs against PyTorch -------------------------------------------------------------

const M32 = 0x100000000;

/** s_i in [-1, 1): murmur3's 32-bit finaliser of (i + (k + 1) * 0x9E3779B9) mod 2^32 (hash_uniform). */
function hashUniform(n: number, k: number): Float64Array {
  const base = Math.imul(k + 1, 0x9e3779b9) >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = (i + base) % M32;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    out[i] = (h >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

function normalize(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  return v.map((x) => x / n);
}

/** W v for W [rows, cols] row-major; transposed: W' v. */
function matvec(
  w: Float64Array,
  rows: number,
  cols: number,
  v: Float64Array,
  transposed: boolean,
): Float64Array {
  const out = new Float64Array(transposed ? cols : rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (transposed) {
      const vr = v[r]!;
      for (let c = 0; c < cols; c++) out[c]! += w[o + c]! * vr;
    } else {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[o + c]! * v[c]!;
      out[r] = s;
    }
  }
  return out;
}

const POWER_ITERS = 3;

/** The dev script's formula_state_dict, for a module's own keys and shapes. */
function formulaStateDict(m: Module): Map<string, Tensor> {
  const own = m.stateDict();
  const keys = [...own.keys()].sort();
  const bn = new Set(
    keys.filter((k) => k.endsWith('running_mean')).map((k) => k.slice(0, -'running_mean'.length)),
  );
  const vals = new Map<string, Float64Array>();
  const out = new Map<string, Tensor>();
  keys.forEach((name, k) => {
    const t = own.get(name)!;
    if (name.endsWith('num_batches_tracked')) {
      out.set(name, fromTypedArray(new BigInt64Array(1), []));
      return;
    }
    const n = t.numel;
    const s = hashUniform(n, k);
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    const isBn = bn.has(name.slice(0, name.length - leaf.length));
    let v: Float64Array;
    if ((leaf === 'weight' || leaf === 'weight_orig') && t.ndim >= 2) {
      const g = Math.sqrt(3 / (n / t.shape[0]!));
      v = s.map((x) => x * g);
    } else if (leaf === 'weight_v') v = normalize(s);
    else if (leaf === 'weight_u') return;
    else if (leaf === 'weight' && isBn) v = s.map((x) => 1 + 0.1 * x);
    else if (leaf === 'bias') v = s.map((x) => (isBn ? 0.1 : 0.01) * x);
    else if (leaf === 'running_mean') v = s.map((x) => 0.05 * x);
    else if (leaf === 'running_var') v = s.map((x) => 1 + 0.2 * Math.abs(x));
    else throw new Error(`no formula for ${name}`);
    vals.set(name, v);
  });
  for (const name of keys) {
    if (!name.endsWith('weight_u')) continue;
    const p = name.slice(0, -'weight_u'.length);
    const w = vals.get(`${p}weight_orig`)!;
    const rows = own.get(`${p}weight_orig`)!.shape[0]!;
    const cols = w.length / rows;
    let v = vals.get(`${p}weight_v`)!;
    for (let i = 0; i < POWER_ITERS; i++) {
      const u = normalize(matvec(w, rows, cols, v, false));
      v = normalize(matvec(w, rows, cols, u, true));
    }
    vals.set(`${p}weight_v`, v);
    vals.set(name, normalize(matvec(w, rows, cols, v, false)));
  }
  for (const [name, v] of vals) out.set(name, fromTypedArray(Float32Array.from(v), own.get(name)!.shape));
  return out;
}

/** Loads the formula weights (strict); the state-dict keys must be PyTorch's, in PyTorch's order. */
function loadFormula(m: Module, keysMeta: string): void {
  const torchKeys = JSON.parse(metadata[keysMeta] ?? '[]') as string[];
  assert.deepEqual([...m.stateDict().keys()], torchKeys, `${keysMeta}: state-dict keys and order`);
  const sd = formulaStateDict(m);
  try {
    m.loadStateDict(sd); // strict
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

const { tensors: golden, metadata } = readSafetensorsSync(FIXTURE);
function fx(name: string): Tensor {
  const t = golden.get(name);
  assert.ok(t, `fixture tensor ${name} is missing (run /usr/bin/python3 dev/make_model_fixtures.py)`);
  return t;
}

/** Compares the module's state-dict entries with the fixture's `${prefix}${key}` tensors. */
function checkState(m: Module, prefix: string, what: string): void {
  const sd = m.stateDict();
  let n = 0;
  let maxAbs = 0;
  for (const [name, t] of golden) {
    if (!name.startsWith(prefix)) continue;
    const key = name.slice(prefix.length);
    const own = sd.get(key);
    assert.ok(own, `${what}: no ${key}`);
    const s = assertClose(own, t.toFloat32Array(), {
      rtol: RTOL,
      atol: ATOL,
      what: `${what}: ${key}`,
      shape: t.shape,
    });
    maxAbs = Math.max(maxAbs, s.maxAbs);
    n++;
  }
  assert.ok(n > 0, `${what}: no ${prefix}* tensors in the fixture`);
  console.log(`${what} (${n} tensors): max |facesr - torch| = ${maxAbs.toExponential(3)}`);
}

function checkGolden(what: string, actual: Tensor | Float32Array, expected: Tensor): void {
  const s = assertClose(actual, expected.toFloat32Array(), {
    rtol: RTOL,
    atol: ATOL,
    what,
    shape: expected.shape,
  });
  console.log(
    `${what}: max |facesr - torch| = ${s.maxAbs.toExponential(3)} (tolerance max(${ATOL}, ${RTOL}*|ref|))`,
  );
}

test('golden: paper R (G_RLS) with the formula weights matches PyTorch in eval and train mode', () => {
  withModel(
    () => new Restoration(preset('paper').R),
    (m) => {
      loadFormula(m, 'r_keys');
      use((m as Restoration).forward(fx('lr')), (y) => checkGolden('R eval [2,3,64,64]', y, fx('r_out')));
      // Train mode: BatchNorm uses the batch statistics and updates its running stats.
      m.train();
      use((m as Restoration).forward(fx('lr')), (y) => {
        const [n, c, h, w] = y.shape as [number, number, number, number];
        const full = y.toFloat32Array();
        const sub = new Float32Array(n * c * (h / 2) * (w / 2));
        let j = 0;
        for (let p = 0; p < n * c; p++)
          for (let r = 0; r < h; r += 2) for (let q = 0; q < w; q += 2) sub[j++] = full[(p * h + r) * w + q]!;
        checkGolden('R train [2,3,64,64] (every other pixel)', sub, fx('r_out_train_sub2'));
      });
      checkState(m, 'r_train_state.', 'R running stats after one train forward');
    },
  );
});

test('golden: paper DF (G_DHL) with the formula weights matches PyTorch in eval mode', () => {
  withModel(
    () => new Degradation(preset('paper').DF),
    (m) => {
      loadFormula(m, 'df_keys');
      // The fixture feeds PyTorch's R output as the HR image.
      use((m as Degradation).forward(fx('r_out'), fx('z')), (y) =>
        checkGolden('DF eval [2,3,16,16]', y, fx('df_out')),
      );
    },
  );
});

test('golden: paper D_L (16x16, spectral norm) with the formula weights matches PyTorch in eval and train mode', () => {
  withModel(
    () => new Discriminator(preset('paper').DL),
    (m) => {
      loadFormula(m, 'd16_keys');
      // No tidy(): withModel also checks that the spectral-norm layers free their computed weights.
      use((m as Discriminator).forward(fx('lr')), (y) => checkGolden('D16 eval [2,1]', y, fx('d16_out')));
      // Train mode: one power iteration per layer updates u and v before sigma is taken.
      m.train();
      use((m as Discriminator).forward(fx('lr')), (y) =>
        checkGolden('D16 train [2,1]', y, fx('d16_out_train')),
      );
      checkState(m, 'd16_train_state.', 'D16 spectral-norm u after one train forward');
    },
  );
});
