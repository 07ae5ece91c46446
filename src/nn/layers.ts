// Layers with torch.nn names, defaults, parameter shapes and state-dict keys.
import { checkInt, tuple } from '../core/check.js';
import { ArgumentError } from '../core/errors.js';
import { Tensor, empty, ones, zeros, full, F, tensor, noGrad } from '../tensor/index.js';
import { Module, type Layer } from './module.js';
import { defaultLayerInit } from './init.js';

type Pair = number | readonly [number, number];

/** A parameter that may be replaced by a computed tensor (spectral norm). */
export interface WeightProvider {
  weight(): Tensor;
}

/** Base of layers with a `weight` that spectralNorm() can re-parametrise. */
export abstract class WeightedLayer extends Module implements Layer {
  /** Set by spectralNorm(): computes the normalised weight. */
  weightProvider: WeightProvider | null = null;
  /** The weight used by forward(): the parameter itself, or its spectrally normalised version. */
  weight(): Tensor {
    return this.weightProvider ? this.weightProvider.weight() : this.param('weight');
  }
  /** Runs fn with weight(), freeing a computed (spectral-norm) weight afterwards; autograd keeps its own reference. */
  protected withWeight<T>(fn: (w: Tensor) => T): T {
    const w = this.weight();
    try {
      return fn(w);
    } finally {
      if (this.weightProvider) w.dispose();
    }
  }
  /** Replaces the weight parameter by a computed one: renames it and registers the provider's buffers. */
  reparametrize(provider: WeightProvider, newName: string, buffers: Record<string, Tensor>): void {
    if (this.weightProvider)
      throw new ArgumentError(`${this.constructor.name}: weight is already re-parametrised`);
    this.renameParameter('weight', newName);
    for (const [n, t] of Object.entries(buffers)) this.registerBuffer(n, t);
    this.weightProvider = provider;
  }
  /** Dim of the weight that holds output channels (0, or 1 for transposed convolutions). */
  get outputDim(): number {
    return 0;
  }
  abstract forward(x: Tensor): Tensor;
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair | 'same';
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  paddingMode?: 'zeros' | 'reflect' | 'replicate' | 'circular';
}

export class Conv2d extends WeightedLayer {
  readonly stride: number[];
  readonly padding: number[];
  readonly dilation: number[];
  readonly groups: number;
  readonly paddingMode: NonNullable<Conv2dOptions['paddingMode']>;
  readonly kernelSize: number[];
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    o: Conv2dOptions = {},
  ) {
    super();
    checkInt(inChannels, 'inChannels', 1);
    checkInt(outChannels, 'outChannels', 1);
    this.kernelSize = tuple(kernelSize, 2, 'kernelSize', 1);
    this.stride = tuple(o.stride ?? 1, 2, 'stride', 1);
    this.dilation = tuple(o.dilation ?? 1, 2, 'dilation', 1);
    this.groups = checkInt(o.groups ?? 1, 'groups', 1);
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new ArgumentError(
        `Conv2d: inChannels ${inChannels} and outChannels ${outChannels} must be divisible by groups ${this.groups}`,
      );
    }
    this.padding =
      o.padding === 'same'
        ? this.kernelSize.map((k, i) => ((k - 1) * this.dilation[i]!) >> 1)
        : tuple(o.padding ?? 0, 2, 'padding');
    this.paddingMode = o.paddingMode ?? 'zeros';
    const w = this.registerParameter(
      'weight',
      empty([outChannels, inChannels / this.groups, ...this.kernelSize]),
    );
    const b = o.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    if (o.bias === false) this.registerParameter('bias', null);
    defaultLayerInit(w, b);
  }
  forward(x: Tensor): Tensor {
    const b = this.hasParam('bias') ? this.param('bias') : null;
    if (this.paddingMode !== 'zeros' && (this.padding[0] || this.padding[1])) {
      const [ph, pw] = this.padding as [number, number];
      const padded = F.pad(x, [pw, pw, ph, ph], this.paddingMode);
      const y = this.withWeight((w) =>
        F.conv2d(padded, w, b, {
          stride: this.stride as [number, number],
          dilation: this.dilation as [number, number],
          groups: this.groups,
        }),
      );
      padded.dispose();
      return y;
    }
    return this.withWeight((w) =>
      F.conv2d(x, w, b, {
        stride: this.stride as [number, number],
        padding: this.padding as [number, number],
        dilation: this.dilation as [number, number],
        groups: this.groups,
      }),
    );
  }
}

export class ConvTranspose2d extends WeightedLayer {
  readonly stride: number[];
  readonly padding: number[];
  readonly outputPadding: number[];
  readonly dilation: number[];
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    o: Omit<Conv2dOptions, 'padding' | 'paddingMode'> & { padding?: Pair; outputPadding?: Pair } = {},
  ) {
    super();
    const k = tuple(kernelSize, 2, 'kernelSize', 1);
    this.stride = tuple(o.stride ?? 1, 2, 'stride', 1);
    this.padding = tuple(o.padding ?? 0, 2, 'padding');
    this.outputPadding = tuple(o.outputPadding ?? 0, 2, 'outputPadding');
    this.dilation = tuple(o.dilation ?? 1, 2, 'dilation', 1);
    this.groups = checkInt(o.groups ?? 1, 'groups', 1);
    const w = this.registerParameter('weight', empty([inChannels, outChannels / this.groups, ...k]));
    const b = o.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    if (o.bias === false) this.registerParameter('bias', null);
    defaultLayerInit(w, b);
  }
  override get outputDim(): number {
    return 1;
  }
  forward(x: Tensor): Tensor {
    return this.withWeight((w) =>
      F.convTranspose2d(x, w, this.hasParam('bias') ? this.param('bias') : null, {
        stride: this.stride as [number, number],
        padding: this.padding as [number, number],
        outputPadding: this.outputPadding as [number, number],
        dilation: this.dilation as [number, number],
        groups: this.groups,
      }),
    );
  }
}

export class Linear extends WeightedLayer {
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: { bias?: boolean } = {},
  ) {
    super();
    const w = this.registerParameter(
      'weight',
      empty([checkInt(outFeatures, 'outFeatures', 1), checkInt(inFeatures, 'inFeatures', 1)]),
    );
    const b = o.bias === false ? null : this.registerParameter('bias', empty([outFeatures]));
    if (o.bias === false) this.registerParameter('bias', null);
    defaultLayerInit(w, b);
  }
  forward(x: Tensor): Tensor {
    return this.withWeight((w) => F.linear(x, w, this.hasParam('bias') ? this.param('bias') : null));
  }
}

export interface BatchNormOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Shared state of BatchNorm2d and InstanceNorm2d: affine parameters and running statistics. */
abstract class RunningNorm extends Module implements Layer {
  readonly eps: number;
  /** Weight of each new batch in the running statistics; may change between calls (1/i: a plain mean). */
  momentum: number;
  readonly trackRunningStats: boolean;
  constructor(
    readonly numFeatures: number,
    o: BatchNormOptions,
    defaults: { affine: boolean; trackRunningStats: boolean },
  ) {
    super();
    checkInt(numFeatures, 'numFeatures', 1);
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    this.trackRunningStats = o.trackRunningStats ?? defaults.trackRunningStats;
    if (o.affine ?? defaults.affine) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', tensor(0, { dtype: 'int64' }), true, true);
    }
  }
  /** Parameters and buffers in the form F.batchNorm / F.instanceNorm take them. */
  protected normArgs(): F.NormOptions {
    return {
      weight: this.hasParam('weight') ? this.param('weight') : null,
      bias: this.hasParam('bias') ? this.param('bias') : null,
      runningMean: this.trackRunningStats ? this.buffer('running_mean') : null,
      runningVar: this.trackRunningStats ? this.buffer('running_var') : null,
      momentum: this.momentum,
      eps: this.eps,
    };
  }
  abstract forward(x: Tensor): Tensor;
}

export class BatchNorm2d extends RunningNorm {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(numFeatures, o, { affine: true, trackRunningStats: true });
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4)
      throw new ArgumentError(`BatchNorm2d: expected 4-d input but received [${x.shape.join(', ')}]`);
    if (this.training && this.trackRunningStats) noGrad(() => this.buffer('num_batches_tracked').add_(1));
    return F.batchNorm(x, this.training || !this.trackRunningStats, this.normArgs());
  }
}

export class InstanceNorm2d extends RunningNorm {
  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super(numFeatures, o, { affine: false, trackRunningStats: false });
  }
  forward(x: Tensor): Tensor {
    return F.instanceNorm(x, { ...this.normArgs(), useInputStats: this.training || !this.trackRunningStats });
  }
}

export class GroupNorm extends Module implements Layer {
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly o: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    if (numChannels % numGroups)
      throw new ArgumentError(
        `GroupNorm: numChannels ${numChannels} not divisible by numGroups ${numGroups}`,
      );
    if (o.affine ?? true) {
      this.registerParameter('weight', ones([numChannels]));
      this.registerParameter('bias', zeros([numChannels]));
    }
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, {
      weight: this.hasParam('weight') ? this.param('weight') : null,
      bias: this.hasParam('bias') ? this.param('bias') : null,
      eps: this.o.eps ?? 1e-5,
    });
  }
}

// ---- activations and parameter-free layers ----
export class ReLU extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}
export class LeakyReLU extends Module implements Layer {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}
export class PReLU extends Module implements Layer {
  constructor(numParameters = 1, init = 0.25) {
    super();
    this.registerParameter('weight', full([numParameters], init));
  }
  forward(x: Tensor): Tensor {
    return x.prelu(this.param('weight'));
  }
}
export class Sigmoid extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
export class Tanh extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
export class Softplus extends Module implements Layer {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.softplus(this.beta, this.threshold);
  }
}
export class Identity extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return x;
  }
}
export class Flatten extends Module implements Layer {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}
export class PixelShuffle extends Module implements Layer {
  constructor(readonly upscaleFactor: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.pixelShuffle(x, this.upscaleFactor);
  }
}
export class PixelUnshuffle extends Module implements Layer {
  constructor(readonly downscaleFactor: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.pixelUnshuffle(x, this.downscaleFactor);
  }
}
export class Upsample extends Module implements Layer {
  constructor(readonly o: F.InterpolateOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.o);
  }
}
export class AvgPool2d extends Module implements Layer {
  constructor(
    readonly kernelSize: Pair,
    readonly o: F.PoolOptions & { countIncludePad?: boolean } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.o);
  }
}
export class MaxPool2d extends Module implements Layer {
  constructor(
    readonly kernelSize: Pair,
    readonly o: F.PoolOptions & { dilation?: Pair } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.o);
  }
}
export class AdaptiveAvgPool2d extends Module implements Layer {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}
