// CUDA: the addon built against a CUDA libtorch (LIBTORCH=... npm run build:native) must give the
// CPU's results on the GPU, and training on CUDA must resume exactly. Skipped, with the reason
// printed, where libtorch has no CUDA or no GPU is present (CI); dev/gpu/check.sh runs it on a GPU.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cudaAvailable,
  engineInfo,
  getRngState,
  keep,
  manualSeed,
  randn,
  setRngState,
  tidy,
  type Tensor,
} from '../src/tensor/index.js';
import { FAN, buildModel, type MethodNetworks } from '../src/models/index.js';
import type { Module } from '../src/nn/index.js';
import { Adam } from '../src/optim/index.js';
import {
  SemiCycleTrainer,
  buildNetworks,
  NETWORK_NAMES,
  type Batch,
  type Losses,
} from '../src/train/scgan.js';
import { saveCheckpoint, loadCheckpoint } from '../src/train/checkpoint.js';
import { fanLoss } from '../src/train/fan.js';
import { TINY } from './helpers/tiny.js';

const info = engineInfo();
const SKIP = cudaAvailable()
  ? false
  : `no CUDA: libtorch ${info.torchVersion} built ${info.builtWithCuda ? 'with' : 'without'} CUDA, ${info.cudaDeviceCount} GPU(s)`;
if (SKIP) console.log(`# cuda tests skipped: ${SKIP}`);

// Tolerance: cuDNN may run convolutions in TF32 on Ampere and later GPUs (10-bit mantissa), so
// GPU results are compared with the CPU's relative to the largest magnitude: 1e-2.
const REL_TOL = 1e-2;

function relDiff(a: Tensor, b: Tensor): number {
  return tidy(() => {
    const x = a.to('cpu');
    const y = b.to('cpu');
    const scale = Math.max(x.abs().max().item() as number, 1e-12);
    return (x.sub(y).abs().max().item() as number) / scale;
  });
}

test('CUDA: each method network gives the CPU outputs and parameter gradients', { skip: SKIP }, () => {
  const cases: [string, MethodNetworks[keyof MethodNetworks], (m: Module, dev: 'cpu' | 'cuda') => Tensor][] =
    [
      [
        'R',
        TINY.R,
        (m, dev) => (m as unknown as { forward(x: Tensor): Tensor }).forward(input([2, 3, 16, 16], 1, dev)),
      ],
      [
        'DF',
        TINY.DF,
        (m, dev) =>
          (m as unknown as { forward(x: Tensor, z: Tensor): Tensor }).forward(
            input([2, 3, 64, 64], 2, dev),
            input([2, (m as unknown as { noiseDim: number }).noiseDim ?? 64], 3, dev),
          ),
      ],
      [
        'DL',
        TINY.DL,
        (m, dev) => (m as unknown as { forward(x: Tensor): Tensor }).forward(input([2, 3, 16, 16], 4, dev)),
      ],
      [
        'DH',
        TINY.DH,
        (m, dev) => (m as unknown as { forward(x: Tensor): Tensor }).forward(input([2, 3, 64, 64], 5, dev)),
      ],
      [
        'FAN',
        TINY.FAN,
        (m, dev) => {
          const out = (m as unknown as { forward(x: Tensor): Tensor | Tensor[] }).forward(
            input([2, 3, 64, 64], 6, dev),
          );
          return Array.isArray(out) ? out[out.length - 1]! : out;
        },
      ],
    ];
  for (const [name, cfg, run] of cases) {
    const results: Record<string, { out: Tensor; grads: Tensor[] }> = {};
    for (const dev of ['cpu', 'cuda'] as const) {
      manualSeed(7);
      const m = buildModel(cfg);
      if (dev === 'cuda') m.to({ device: 'cuda' });
      m.train();
      const out = keep(tidy(() => run(m, dev)));
      tidy(() => out.mul(out).mean().backward());
      results[dev] = {
        out,
        grads: m.parameters().map((p) => {
          assert.ok(p.grad, `${name} on ${dev}: a parameter received no gradient`);
          return keep(p.grad.to('cpu'));
        }),
      };
      assert.equal(out.device.startsWith(dev), true, `${name}: output on ${out.device}, not ${dev}`);
    }
    const { cpu, cuda } = results as Record<'cpu' | 'cuda', { out: Tensor; grads: Tensor[] }>;
    assert.deepEqual(cuda.out.shape, cpu.out.shape, `${name}: output shapes differ`);
    const d = relDiff(cpu.out, cuda.out);
    assert.ok(d < REL_TOL, `${name}: CUDA output differs from the CPU's by ${d} (relative)`);
    // Gradients relative to the network's largest gradient: a conv bias followed by batch norm has a
    // gradient of zero in exact arithmetic, so its own scale is rounding noise on either device.
    const gmax = Math.max(...cpu.grads.map((g) => tidy(() => g.abs().max().item() as number)));
    cpu.grads.forEach((g, i) => {
      const dg = tidy(() => g.sub(cuda.grads[i]!).abs().max().item() as number) / gmax;
      assert.ok(dg < REL_TOL, `${name}: gradient of parameter ${i} differs by ${dg} (of the largest)`);
    });
    for (const r of [cpu, cuda]) {
      r.out.dispose();
      for (const g of r.grads) g.dispose();
    }
  }
});

function input(shape: number[], seed: number, dev: 'cpu' | 'cuda'): Tensor {
  manualSeed(seed);
  const x = randn(shape).tanh(); // drawn on the CPU so both devices see the same numbers
  return dev === 'cpu' ? x : x.to('cuda');
}

test('CUDA: Adam gives the CPU update', { skip: SKIP }, () => {
  const out: Record<string, Float32Array> = {};
  for (const dev of ['cpu', 'cuda'] as const) {
    manualSeed(3);
    const p = keep(randn([64, 32]).to(dev).requiresGrad_());
    const opt = new Adam([p], { lr: 1e-2 });
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      tidy(() => p.mul(p).sin().sum().backward());
      opt.step();
    }
    out[dev] = p.to('cpu').toFloat32Array();
    p.dispose();
  }
  const worst = out.cpu!.reduce((m, v, i) => Math.max(m, Math.abs(v - out.cuda![i]!)), 0);
  assert.ok(worst < 1e-5, `Adam on CUDA differs from the CPU by ${worst}`);
});

test('CUDA: the generator state round-trips', { skip: SKIP }, () => {
  manualSeed(11);
  const state = getRngState('cuda:0');
  const a = randn([1000], { device: 'cuda' }).toFloat32Array();
  const b = randn([1000], { device: 'cuda' }).toFloat32Array();
  setRngState(state, 'cuda:0');
  const c = randn([1000], { device: 'cuda' }).toFloat32Array();
  state.dispose();
  assert.deepEqual(c, a, 'randn after restoring the state differs');
  assert.notDeepEqual(b, a, 'two draws were equal');
});

test(
  'CUDA: a semi-cycle run resumed from a checkpoint gives the uninterrupted losses',
  { skip: SKIP },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facesr-cuda-'));
    try {
      const make = () => {
        manualSeed(0);
        const nets = buildNetworks(TINY);
        const fan = new FAN(TINY.FAN);
        for (const n of NETWORK_NAMES) nets[n].to({ device: 'cuda' });
        fan.to({ device: 'cuda' });
        const trainer = new SemiCycleTrainer(nets, { mode: 'full', fan, weights: { lambdaHm: 10 } });
        return { nets, fan, trainer };
      };
      const batches: Batch[] = [0, 1, 2, 3].map((i) => {
        manualSeed(100 + i);
        return {
          hr: keep(randn([2, 3, 64, 64]).tanh().to('cuda')),
          lr: keep(randn([2, 3, 16, 16]).tanh().to('cuda')),
        };
      });
      const state = (t: ReturnType<typeof make>, step: number) => ({
        step,
        modules: { ...t.nets },
        optimizers: t.trainer.optimizers as Record<string, Adam>,
      });
      const a = make();
      manualSeed(5);
      a.trainer.step(batches[0]!);
      a.trainer.step(batches[1]!);
      const ckpt = path.join(dir, 'c.safetensors');
      await saveCheckpoint(ckpt, state(a, 2));
      const straight: Losses[] = [a.trainer.step(batches[2]!), a.trainer.step(batches[3]!)];

      const b = make();
      manualSeed(999); // a different generator state: the checkpoint must restore the GPU's
      await loadCheckpoint(ckpt, state(b, 0));
      const resumed: Losses[] = [b.trainer.step(batches[2]!), b.trainer.step(batches[3]!)];
      for (let i = 0; i < 2; i++) {
        for (const [k, v] of Object.entries(straight[i]!)) {
          const r = resumed[i]![k]!;
          assert.ok(
            Math.abs(r - v) <= 1e-4 * Math.max(1, Math.abs(v)),
            `step ${i + 3} ${k}: ${r} resumed vs ${v}`,
          );
        }
      }
      for (const bt of batches) {
        bt.hr.dispose();
        bt.lr.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('CUDA: the FAN training loss equals the CPU one', { skip: SKIP }, () => {
  const values: number[] = [];
  manualSeed(4);
  const lm = Float32Array.from({ length: 2 * 4 * 2 }, (_, i) => 8 + ((i * 7) % 48));
  for (const dev of ['cpu', 'cuda'] as const) {
    manualSeed(9);
    const fan = new FAN(TINY.FAN);
    if (dev === 'cuda') fan.to({ device: 'cuda' });
    const x = input([2, 3, 64, 64], 12, dev);
    const loss = fanLoss(fan, x, lm);
    values.push(loss.item() as number);
    loss.dispose();
    x.dispose();
  }
  assert.ok(
    Math.abs(values[0]! - values[1]!) <= REL_TOL * Math.abs(values[0]!),
    `FAN loss ${values[1]} on CUDA vs ${values[0]} on the CPU`,
  );
});
