// Optimizers with torch.optim semantics. Each step runs as one native call over the whole
// parameter list (no per-tensor JS work), matching torch 1.13's single-tensor update formulas.
import { native } from '../binding/native.js';
import { ArgumentError } from '../core/errors.js';
import { checkNumber } from '../core/check.js';
import { Tensor, zerosLike, keep } from '../tensor/index.js';

export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
}

/** Serialisable optimizer state: tensors by key, and JSON-able settings and counters. */
export interface OptimizerState {
  tensors: Map<string, Tensor>;
  meta: { type: string; groups: Record<string, unknown>[]; steps: number[] };
}

export abstract class Optimizer {
  readonly groups: (Required<Omit<ParamGroup, 'params'>> & { params: Tensor[]; initialLr: number })[];
  /** Per-parameter step counts (as torch keeps `state[p]['step']`). */
  protected steps: Float64Array;

  constructor(params: Tensor[] | ParamGroup[], defaults: { lr: number; weightDecay: number }) {
    checkNumber(defaults.lr, 'lr');
    const groups: ParamGroup[] =
      params.length && params[0] instanceof Tensor
        ? [{ params: params as Tensor[] }]
        : (params as ParamGroup[]);
    if (!groups.length || groups.every((g) => g.params.length === 0))
      throw new ArgumentError('Optimizer got an empty parameter list');
    this.groups = groups.map((g) => {
      const lr = g.lr ?? defaults.lr;
      return { params: g.params, lr, weightDecay: g.weightDecay ?? defaults.weightDecay, initialLr: lr };
    });
    const all = this.groups.flatMap((g) => g.params);
    if (new Set(all).size !== all.length)
      throw new ArgumentError('Optimizer: a parameter appears more than once');
    this.steps = new Float64Array(all.length);
  }

  /** All parameters in group order (the index used by state keys). */
  get params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** Sets every gradient to null (torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    native.zeroGrads(this.params.map((p) => p.handle));
  }

  /** Applies one update from the current gradients. Parameters without a gradient are skipped. */
  abstract step(): void;

  /** Sets the learning rate of every group (schedulers call this). */
  setLr(lr: number | ((group: number, initialLr: number) => number)): void {
    this.groups.forEach((g, i) => (g.lr = typeof lr === 'number' ? lr : lr(i, g.initialLr)));
  }
  get lr(): number {
    return this.groups[0]!.lr;
  }

  protected abstract stateTensors(): Record<string, (Tensor | null)[]>;
  protected abstract settings(): Record<string, unknown>;

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const [name, list] of Object.entries(this.stateTensors())) {
      list.forEach((t, i) => {
        if (t) tensors.set(`state.${i}.${name}`, t);
      });
    }
    return {
      tensors,
      meta: {
        type: this.constructor.name,
        groups: this.groups.map((g) => ({
          lr: g.lr,
          initialLr: g.initialLr,
          weightDecay: g.weightDecay,
          numParams: g.params.length,
          ...this.settings(),
        })),
        steps: Array.from(this.steps),
      },
    };
  }

  /** Restores state saved by stateDict() from an optimizer over the same parameters. */
  loadStateDict(s: OptimizerState): void {
    if (s.meta.type !== this.constructor.name)
      throw new ArgumentError(`Optimizer state is for ${s.meta.type}, not ${this.constructor.name}`);
    if (s.meta.groups.length !== this.groups.length) {
      throw new ArgumentError(
        `Optimizer state has ${s.meta.groups.length} groups, this optimizer ${this.groups.length}`,
      );
    }
    s.meta.groups.forEach((g, i) => {
      const own = this.groups[i]!;
      if (g.numParams !== own.params.length)
        throw new ArgumentError(
          `Optimizer state group ${i} has ${String(g.numParams)} params, expected ${own.params.length}`,
        );
      own.lr = g.lr as number;
      own.initialLr = g.initialLr as number;
      own.weightDecay = g.weightDecay as number;
    });
    if (s.meta.steps.length !== this.steps.length)
      throw new ArgumentError(
        `Optimizer state has ${s.meta.steps.length} step counts, expected ${this.steps.length}`,
      );
    this.steps.set(s.meta.steps);
    for (const [name, list] of Object.entries(this.stateTensors())) {
      list.forEach((t, i) => {
        const src = s.tensors.get(`state.${i}.${name}`);
        if (t && src) t.copy_(src);
        else if (t && !src) throw new ArgumentError(`Optimizer state is missing state.${i}.${name}`);
      });
    }
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** torch.optim.Adam (L2 weight decay added to the gradient). */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  protected readonly decoupled: boolean = false;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  constructor(params: Tensor[] | ParamGroup[], o: AdamOptions = {}) {
    super(params, { lr: o.lr ?? 1e-3, weightDecay: o.weightDecay ?? 0 });
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.m = this.params.map((p) => keep(zerosLike(p)));
    this.v = this.params.map((p) => keep(zerosLike(p)));
  }
  step(): void {
    let offset = 0;
    for (const g of this.groups) {
      const n = g.params.length;
      native.adamStep(
        g.params.map((p) => p.handle),
        this.m.slice(offset, offset + n).map((t) => t.handle),
        this.v.slice(offset, offset + n).map((t) => t.handle),
        this.steps.subarray(offset, offset + n),
        g.lr,
        this.betas[0],
        this.betas[1],
        this.eps,
        g.weightDecay,
        this.decoupled,
      );
      offset += n;
    }
  }
  protected stateTensors(): Record<string, (Tensor | null)[]> {
    return { exp_avg: this.m, exp_avg_sq: this.v };
  }
  protected settings(): Record<string, unknown> {
    return { betas: this.betas, eps: this.eps };
  }
}

/** torch.optim.AdamW (decoupled weight decay, default 0.01). */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  constructor(params: Tensor[] | ParamGroup[], o: AdamOptions = {}) {
    super(params, { ...o, weightDecay: o.weightDecay ?? 0.01 });
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  private readonly bufs: Tensor[];
  constructor(params: Tensor[] | ParamGroup[], o: SGDOptions) {
    super(params, { lr: o.lr, weightDecay: o.weightDecay ?? 0 });
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new ArgumentError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
    this.bufs = this.momentum ? this.params.map((p) => keep(zerosLike(p))) : [];
  }
  step(): void {
    let offset = 0;
    for (const g of this.groups) {
      const n = g.params.length;
      native.sgdStep(
        g.params.map((p) => p.handle),
        this.momentum ? this.bufs.slice(offset, offset + n).map((t) => t.handle) : [],
        this.steps.subarray(offset, offset + n),
        g.lr,
        this.momentum,
        this.dampening,
        g.weightDecay,
        this.nesterov,
      );
      offset += n;
    }
  }
  protected stateTensors(): Record<string, (Tensor | null)[]> {
    return { momentum_buffer: this.bufs };
  }
  protected settings(): Record<string, unknown> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov };
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scales gradients so their total p-norm is at most maxNorm.
 * Returns the total norm before clipping.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2): number {
  return native.clipGradNorm(
    params.map((p) => p.handle),
    checkNumber(maxNorm, 'maxNorm'),
    normType,
  );
}

/** Exponential moving average of parameters: target = decay * target + (1 - decay) * source. */
export function emaUpdate(target: Tensor[], source: Tensor[], decay: number): void {
  if (target.length !== source.length)
    throw new ArgumentError(`emaUpdate: ${target.length} targets but ${source.length} sources`);
  native.emaUpdate(
    target.map((t) => t.handle),
    source.map((t) => t.handle),
    decay,
  );
}
