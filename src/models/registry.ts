// Architectures built from `{type, ...options}` blocks through an explicit registry, and the presets.
import { ArgumentError } from '../core/errors.js';
import type { Module } from '../nn/index.js';
import { Restoration, type RestorationConfig } from './restoration.js';
import { Degradation, type DegradationConfig } from './degradation.js';
import { Discriminator, type DiscriminatorConfig } from './discriminator.js';
import { FAN, type FanConfig } from './fan.js';

export type ModelConfig = RestorationConfig | DegradationConfig | DiscriminatorConfig | FanConfig;

const REGISTRY: Record<string, (c: never) => Module> = {
  restoration: (c: RestorationConfig) => new Restoration(c),
  degradation: (c: DegradationConfig) => new Degradation(c),
  discriminator: (c: DiscriminatorConfig) => new Discriminator(c),
  fan: (c: FanConfig) => new FAN(c),
};

/** Builds a network from its config; unknown types name the registered ones. */
export function buildModel(config: ModelConfig): Module {
  const make = REGISTRY[(config as { type?: string }).type ?? ''];
  if (!make) {
    throw new ArgumentError(`Unknown arch '${String((config as { type?: string }).type)}'. Registered: ${Object.keys(REGISTRY).join(', ')}`);
  }
  return make(config as never);
}

export function registeredArchs(): string[] {
  return Object.keys(REGISTRY);
}

/** The seven SCGAN networks plus the FAN, for one preset. */
export interface MethodNetworks {
  R: RestorationConfig;
  DF: DegradationConfig;
  DB: DegradationConfig;
  DL: DiscriminatorConfig;
  DH: DiscriminatorConfig;
  FAN: FanConfig;
}

/** SCGAN's sizes (R 15.46 M, DF/DB 12.29 M, D 15.39 M / 15.46 M parameters). */
export const PAPER: MethodNetworks = {
  R: { type: 'restoration', width: 256, blocks: 12, width2: 128, blocks2: 3, headWidth: 96 },
  DF: { type: 'degradation' },
  DB: { type: 'degradation' },
  DL: { type: 'discriminator', inputSize: 16 },
  DH: { type: 'discriminator', inputSize: 64 },
  FAN: { type: 'fan', inputSize: 64, stacks: 2, width: 256, stemWidth: 64 },
};

/**
 * Same topology and losses at about 1/100 of the compute, for training on a 2-core CPU. DF and DB add
 * the x4 pooled input before their tanh (inputSkip): at these widths their 4x4 bottleneck cannot
 * carry the face (L1 to the pooled HR still 0.068 after 1,500 warm-up steps), and R then learns to
 * repair distortions that real and test LR do not have (docs/training.md).
 */
export const CPU: MethodNetworks = {
  R: { type: 'restoration', width: 32, blocks: 4, width2: 16, blocks2: 2, headWidth: 16 },
  DF: { type: 'degradation', blocks: [16, 16, 24, 24, 32, 32, 64, 64, 16, 16, 4, 4], headWidth: 8, inputSkip: true },
  DB: { type: 'degradation', blocks: [16, 16, 24, 24, 32, 32, 64, 64, 16, 16, 4, 4], headWidth: 8, inputSkip: true },
  DL: { type: 'discriminator', inputSize: 16, blocks: [16, 16, 32, 32, 64, 64], hidden: 64 },
  DH: { type: 'discriminator', inputSize: 64, blocks: [16, 16, 32, 32, 64, 64], hidden: 64 },
  // 32x32 heatmaps (no pool after the stem), hourglass depth 3: method.md's quarter-cell read-out
  // moves half an input pixel; the 16x16 variant (pool: true, configs/fan-cpu-16.json) has the same
  // weights' shapes and is the first stage of the shipped FAN (docs/training.md).
  FAN: { type: 'fan', inputSize: 64, stacks: 2, width: 64, stemWidth: 16, pool: false, depth: 3 },
};

export const PRESETS: Record<string, MethodNetworks> = { paper: PAPER, cpu: CPU };

export function preset(name: string): MethodNetworks {
  const p = PRESETS[name];
  if (!p) throw new ArgumentError(`Unknown preset '${name}'. Presets: ${Object.keys(PRESETS).join(', ')}`);
  return structuredClone(p);
}
