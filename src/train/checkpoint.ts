// Checkpoints: every network, optimizer and scheduler, the RNG state and the step, in one
// safetensors file written atomically (a crash never leaves a half-written checkpoint).
import { existsSync } from 'node:fs';
import { ArgumentError, FormatError } from '../core/errors.js';
import type { Module } from '../nn/index.js';
import type { Optimizer, OptimizerState, LRScheduler } from '../optim/index.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import { engineInfo, getRngState, setRngState, type Tensor } from '../tensor/index.js';

export interface TrainingState {
  step: number;
  modules: Record<string, Module>;
  optimizers: Record<string, Optimizer>;
  schedulers?: Record<string, LRScheduler>;
  /** Anything JSON-able the trainer wants back (config, data position, loss history length, ...). */
  extra?: Record<string, unknown>;
}

interface Meta {
  format: 'facesr-checkpoint';
  version: 1;
  step: number;
  optimizers: Record<string, OptimizerState['meta']>;
  schedulers: Record<string, { epoch: number }>;
  extra: Record<string, unknown>;
}

/** Saves a training state to file (atomic). */
export async function saveCheckpoint(file: string, s: TrainingState): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [name, m] of Object.entries(s.modules))
    for (const [k, t] of m.stateDict()) tensors.set(`net.${name}.${k}`, t);
  const optimizers: Meta['optimizers'] = {};
  for (const [name, o] of Object.entries(s.optimizers)) {
    const st = o.stateDict();
    optimizers[name] = st.meta;
    for (const [k, t] of st.tensors) tensors.set(`opt.${name}.${k}`, t);
  }
  // The CPU generator, and each CUDA device's: noise drawn on a GPU resumes identically.
  const rng = new Map<string, Tensor>([['rng.cpu', getRngState()]]);
  for (let i = 0; i < engineInfo().cudaDeviceCount; i++) rng.set(`rng.cuda:${i}`, getRngState(`cuda:${i}`));
  for (const [k, t] of rng) tensors.set(k, t);
  const schedulers: Meta['schedulers'] = {};
  for (const [name, sc] of Object.entries(s.schedulers ?? {})) schedulers[name] = sc.stateDict();
  const meta: Meta = {
    format: 'facesr-checkpoint',
    version: 1,
    step: s.step,
    optimizers,
    schedulers,
    extra: s.extra ?? {},
  };
  try {
    await writeSafetensors(file, tensors, { facesr: JSON.stringify(meta) });
  } finally {
    for (const t of rng.values()) t.dispose();
  }
}

/**
 * Restores a checkpoint into live modules/optimizers/schedulers (same architecture), and the RNG.
 * Returns the saved step and extra data. Missing or mismatched entries are errors naming the file.
 */
export async function loadCheckpoint(
  file: string,
  into: Omit<TrainingState, 'step' | 'extra'>,
): Promise<{ step: number; extra: Record<string, unknown> }> {
  if (!existsSync(file)) throw new ArgumentError(`Checkpoint ${file} does not exist`);
  const { tensors, metadata } = await readSafetensors(file);
  try {
    let meta: Meta;
    try {
      meta = JSON.parse(metadata.facesr ?? 'null') as Meta;
    } catch {
      throw new FormatError(`${file}: not a facesr checkpoint (bad metadata)`);
    }
    if (!meta || meta.format !== 'facesr-checkpoint')
      throw new FormatError(`${file}: not a facesr checkpoint`);
    for (const [name, m] of Object.entries(into.modules)) {
      const prefix = `net.${name}.`;
      const sd = new Map(
        [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
      );
      if (sd.size === 0) throw new FormatError(`${file}: has no weights for network '${name}'`);
      m.loadStateDict(sd);
    }
    for (const [name, o] of Object.entries(into.optimizers)) {
      const om = meta.optimizers[name];
      if (!om) throw new FormatError(`${file}: has no state for optimizer '${name}'`);
      const prefix = `opt.${name}.`;
      const st = new Map(
        [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
      );
      o.loadStateDict({ tensors: st, meta: om });
    }
    for (const [name, sc] of Object.entries(into.schedulers ?? {})) {
      const sm = meta.schedulers[name];
      if (!sm) throw new FormatError(`${file}: has no state for scheduler '${name}'`);
      sc.loadStateDict(sm);
    }
    const rng = tensors.get('rng.cpu');
    if (rng) setRngState(rng);
    for (let i = 0; i < engineInfo().cudaDeviceCount; i++) {
      const g = tensors.get(`rng.cuda:${i}`);
      if (g) setRngState(g, `cuda:${i}`);
    }
    return { step: meta.step, extra: meta.extra };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
