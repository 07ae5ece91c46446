// One iteration of the semi-cycled GAN, exactly as method.md section 3: the update order, the
// detaches, hinge losses and weights. Every generator learns only from its own loss.
import { ArgumentError } from '../core/errors.js';
import type { Module } from '../nn/index.js';
import { Adam, type Optimizer } from '../optim/index.js';
import {
  Restoration,
  Degradation,
  Discriminator,
  FAN,
  buildModel,
  type MethodNetworks,
} from '../models/index.js';
import { F, type Tensor, tidy, noGrad, randn } from '../tensor/index.js';
import { hingeD, hingeG, l1, heatmapLoss, degradationAnchor } from './losses.js';

/** Which networks and losses train: the evaluation's baselines and the full method. */
export type TrainMode = 'pixel' | 'bulat18' | 'scgan' | 'full';
export const TRAIN_MODES: readonly TrainMode[] = ['pixel', 'bulat18', 'scgan', 'full'];

export interface LossWeights {
  alpha: number;
  beta: number;
  theta: number;
  gamma: number;
  /** Weight of the heatmap loss (0 in modes other than full). */
  lambdaHm: number;
  /**
   * [choice] Adversarial weight of R's two terms (D_H1, D_H2) when it should differ from the
   * degraders' beta; absent: beta (method.md). Lower keeps R nearer its pixel fidelity.
   */
  betaR?: number;
  /**
   * [choice] DF's adversarial weight (D_L1) when it should differ from beta; absent: beta (method.md).
   * Higher lets DF leave the plain reduction its L1 anchor holds it to (docs/training.md).
   */
  betaDF?: number;
  /**
   * [choice] DF's L1 anchor compares lr_syn and the x4-pooled HR after a further avg-pool by this
   * factor (1, absent: method.md's full-resolution anchor). 2 anchors only the 8x8 content, so DF is
   * free to add blur, noise and compression at 16x16 (docs/training.md).
   */
  dfAnchorPool?: number;
}

/** SCGAN's weights; lambda_hm per method.md section 3. */
export const DEFAULT_WEIGHTS: LossWeights = { alpha: 1, beta: 0.05, theta: 1, gamma: 0.05, lambdaHm: 10 };

export interface SemiCycleNetworks {
  R: Restoration;
  DF: Degradation;
  DB: Degradation;
  DL1: Discriminator;
  DH1: Discriminator;
  DL2: Discriminator;
  DH2: Discriminator;
}

export const NETWORK_NAMES = ['R', 'DF', 'DB', 'DL1', 'DH1', 'DL2', 'DH2'] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];

/** Builds the seven networks from a preset's configs. */
export function buildNetworks(cfg: MethodNetworks): SemiCycleNetworks {
  return {
    R: buildModel(cfg.R) as Restoration,
    DF: buildModel(cfg.DF) as Degradation,
    DB: buildModel(cfg.DB) as Degradation,
    DL1: buildModel(cfg.DL) as Discriminator,
    DH1: buildModel(cfg.DH) as Discriminator,
    DL2: buildModel(cfg.DL) as Discriminator,
    DH2: buildModel(cfg.DH) as Discriminator,
  };
}

/** Networks a mode trains (the others are neither run nor updated). */
export function activeNetworks(mode: TrainMode): NetworkName[] {
  switch (mode) {
    case 'pixel':
      return ['R'];
    case 'bulat18':
      return ['R', 'DF', 'DL1', 'DH1'];
    default:
      return [...NETWORK_NAMES];
  }
}

/** A batch: HR faces [B,3,64,64] and unpaired real LR faces [B,3,16,16], both in [-1, 1]. */
export interface Batch {
  hr: Tensor;
  lr: Tensor;
  /** For mode 'pixel': LR made from hr by a fixed degradation (bicubic x4 by default). */
  lrFromHr?: Tensor;
}

export type Losses = Record<string, number>;

export interface SemiCycleOptions {
  mode: TrainMode;
  weights?: Partial<LossWeights>;
  /** Frozen FAN in eval mode (required for mode 'full' with lambdaHm > 0). */
  fan?: FAN | null;
  lr?: number;
  betas?: [number, number];
  noiseDim?: number;
}

/** Holds the networks and their optimizers and runs iterations. */
export class SemiCycleTrainer {
  readonly mode: TrainMode;
  readonly weights: LossWeights;
  readonly optimizers: Partial<Record<NetworkName, Optimizer>> = {};
  readonly active: NetworkName[];
  private readonly fan: FAN | null;
  private readonly noiseDim: number;

  constructor(
    readonly nets: SemiCycleNetworks,
    o: SemiCycleOptions,
  ) {
    if (!TRAIN_MODES.includes(o.mode))
      throw new ArgumentError(`Unknown training mode '${String(o.mode)}'. Modes: ${TRAIN_MODES.join(', ')}`);
    this.mode = o.mode;
    this.weights = { ...DEFAULT_WEIGHTS, ...o.weights };
    if (o.mode !== 'full') this.weights.lambdaHm = 0;
    this.fan = o.fan ?? null;
    if (this.weights.lambdaHm > 0) {
      if (!this.fan)
        throw new ArgumentError('Mode full with lambdaHm > 0 needs a trained FAN (fan option / --fan FILE)');
      this.fan.eval();
      this.fan.requiresGrad_(false);
    }
    this.noiseDim = o.noiseDim ?? nets.DF.config.noiseDim;
    this.active = activeNetworks(o.mode);
    for (const n of this.active) {
      this.optimizers[n] = new Adam(this.nets[n].parameters(), {
        lr: o.lr ?? 1e-4,
        betas: o.betas ?? [0.9, 0.999],
      });
    }
    for (const n of NETWORK_NAMES) this.nets[n].train(this.active.includes(n));
  }

  private update(name: NetworkName, loss: Tensor): void {
    const opt = this.optimizers[name]!;
    opt.zeroGrad();
    loss.backward();
    opt.step();
  }

  /** Discriminator update: hinge on real vs detached fake. */
  private stepD(name: NetworkName, real: Tensor, fake: Tensor): number {
    const d = this.nets[name] as Discriminator;
    return tidy(() => {
      const loss = hingeD(d.forward(real), d.forward(fake.detach()));
      this.update(name, loss);
      return loss.item();
    });
  }

  /**
   * One iteration (method.md section 3): fakes; the four discriminators; then DF, R, DB. z is drawn
   * from the global generator (seed with manualSeed). Returns the losses as numbers.
   */
  step(batch: Batch): Losses {
    const { alpha, beta, theta, gamma, lambdaHm } = this.weights;
    const betaR = this.weights.betaR ?? beta;
    const { R, DF, DB } = this.nets;
    const losses: Losses = {};
    tidy(() => {
      const { hr, lr } = batch;
      if (this.mode === 'pixel') {
        const src = batch.lrFromHr;
        if (!src) throw new ArgumentError("Mode 'pixel' needs batch.lrFromHr (LR made from the HR faces)");
        const loss = l1(R.forward(src), hr);
        this.update('R', loss);
        losses.R = loss.item();
        losses.R_l1 = losses.R;
        return;
      }
      const b = hr.shape[0]!;
      const z = randn([b, this.noiseDim], { device: hr.device });
      const lrSyn = DF.forward(hr, z);
      const srSyn = R.forward(lrSyn.detach());
      const cycle = this.mode !== 'bulat18';
      const srReal = cycle ? R.forward(lr) : null;
      const lrCyc = srReal ? DB.forward(srReal.detach(), z) : null;
      const up = cycle
        ? F.interpolate(lr, { size: [hr.shape[2]!, hr.shape[3]!], mode: 'bicubic', alignCorners: false })
        : null;

      losses.D_L1 = this.stepD('DL1', lr, lrSyn);
      losses.D_H1 = this.stepD('DH1', hr, srSyn);
      if (lrCyc && srReal) {
        losses.D_L2 = this.stepD('DL2', lr, lrCyc);
        losses.D_H2 = this.stepD('DH2', hr, srReal);
      }

      // DF: match avgpool4(hr) and fool D_L1.
      const dfL1 = degradationAnchor(lrSyn, hr, this.weights.dfAnchorPool);
      const dfAdv = hingeG(this.nets.DL1.forward(lrSyn));
      const dfLoss = dfL1.mul(alpha).add(dfAdv.mul(this.weights.betaDF ?? beta));
      this.update('DF', dfLoss);
      losses.DF = dfLoss.item();

      // R: forward cycle (with heatmap loss) + gamma * backward-cycle terms.
      const rL1 = l1(srSyn, hr);
      const rAdv = hingeG(this.nets.DH1.forward(srSyn));
      let fwd = rL1.mul(alpha).add(rAdv.mul(betaR));
      if (lambdaHm > 0 && this.fan) {
        const fan = this.fan;
        const hmHr = noGrad(() => fan.forward(hr).at(-1)!);
        const hm = heatmapLoss(fan.forward(srSyn).at(-1)!, hmHr);
        losses.R_hm = hm.item();
        fwd = fwd.add(hm.mul(lambdaHm));
      }
      let rLoss = fwd.mul(theta);
      losses.R_l1 = rL1.item();
      if (srReal && up) {
        const bwd = l1(srReal, up)
          .mul(alpha)
          .add(hingeG(this.nets.DH2.forward(srReal)).mul(betaR));
        rLoss = rLoss.add(bwd.mul(gamma));
      }
      this.update('R', rLoss);
      losses.R = rLoss.item();

      // DB: match the real LR and fool D_L2.
      if (lrCyc) {
        const dbLoss = l1(lrCyc, lr)
          .mul(alpha)
          .add(hingeG(this.nets.DL2.forward(lrCyc)).mul(beta));
        this.update('DB', dbLoss);
        losses.DB = dbLoss.item();
      }
    });
    return losses;
  }

  /**
   * Degrader warm-up (a project choice, not in SCGAN): only the L1 terms of DF and DB, R frozen and the
   * discriminators untouched. DF learns to match avgpool4(hr) and DB to map R(lr) back to lr, so that
   * when the semi-cycle starts, R is fed LR faces rather than a random network's output. z is drawn
   * as in step(). Returns the losses as numbers (DF and DB are their L1 terms).
   */
  warmupStep(batch: Batch): Losses {
    const { R, DF, DB } = this.nets;
    if (!this.optimizers.DF)
      throw new ArgumentError(`Mode '${this.mode}' has no degradation network to warm up`);
    const losses: Losses = {};
    tidy(() => {
      const { hr, lr } = batch;
      const z = randn([hr.shape[0]!, this.noiseDim], { device: hr.device });
      const dfLoss = degradationAnchor(DF.forward(hr, z), hr, this.weights.dfAnchorPool).mul(
        this.weights.alpha,
      );
      this.update('DF', dfLoss);
      losses.DF = dfLoss.item();
      if (this.optimizers.DB) {
        // R frozen: eval mode, so its batch-norm statistics do not move either.
        R.train(false);
        const srReal = noGrad(() => R.forward(lr));
        R.train(true);
        const dbLoss = l1(DB.forward(srReal, z), lr).mul(this.weights.alpha);
        this.update('DB', dbLoss);
        losses.DB = dbLoss.item();
      }
    });
    return losses;
  }

  /** Every network of this trainer by name (for checkpoints). */
  modules(): Record<NetworkName, Module> {
    return this.nets;
  }
}
