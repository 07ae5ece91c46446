// Residual blocks shared by the SCGAN networks (restoration, degradation, discriminators).
// Structure and child names follow SCGAN's BasicBlock_G / BasicBlock_D so PyTorch state dicts map by key.
import { Module, Sequential, Conv2d, AvgPool2d, MaxPool2d, spectralNorm, type Layer } from '../nn/index.js';
import type { Tensor } from '../tensor/index.js';

export interface GBlockOptions {
  /** Average-pool by 2 between the two convolutions (and on the skip). */
  down?: boolean;
  /**
   * SCGAN applies its first ReLU in place, so its skip path carries ReLU(x) instead of x. Off by
   * default; on only to reproduce SCGAN's reference outputs exactly.
   */
  reluSkipQuirk?: boolean;
}

/**
 * Generator residual block BB(in, out, down), no normalisation: conv3x3(ReLU(x)) -> ReLU ->
 * [avgpool 2] -> conv3x3, plus a skip (identity, or conv1x1 after the pool when the shape changes).
 */
export class GBlock extends Module implements Layer {
  readonly conv1: Conv2d;
  readonly conv2: Module & Layer;
  readonly skip: (Module & Layer) | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly o: GBlockOptions = {},
  ) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false }));
    const c2 = new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false });
    this.conv2 = this.registerModule('conv2', o.down ? new Sequential(new AvgPool2d(2), c2) : c2);
    const changes = inChannels !== outChannels || o.down;
    this.skip = changes
      ? this.registerModule('skip', o.down ? new Sequential(new AvgPool2d(2), new Conv2d(inChannels, outChannels, 1)) : new Conv2d(inChannels, outChannels, 1))
      : null;
  }
  forward(x: Tensor): Tensor {
    const rx = x.relu();
    const h1 = this.conv1.forward(rx);
    const a1 = h1.relu();
    h1.dispose();
    const body = this.conv2.forward(a1);
    a1.dispose();
    const skipIn = this.o.reluSkipQuirk ? rx : x;
    const res = this.skip ? this.skip.forward(skipIn) : skipIn;
    const out = body.add(res);
    body.dispose();
    rx.dispose();
    if (res !== skipIn) res.dispose();
    return out;
  }
}

/**
 * Discriminator residual block: pre-activation, spectral norm on every convolution, optional
 * max-pool by 2 between the convolutions and on the skip (SCGAN's BasicBlock_D).
 */
export class DBlock extends Module implements Layer {
  readonly conv1: Conv2d;
  readonly conv2: Module & Layer;
  readonly skip: (Module & Layer) | null;
  constructor(inChannels: number, outChannels: number, down: boolean) {
    super();
    this.conv1 = this.registerModule('conv1', spectralNorm(new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false })));
    const c2 = spectralNorm(new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false }));
    this.conv2 = this.registerModule('conv2', down ? new Sequential(new MaxPool2d(2), c2) : c2);
    const sk = inChannels !== outChannels || down ? spectralNorm(new Conv2d(inChannels, outChannels, 1)) : null;
    this.skip = sk ? this.registerModule('skip', down ? new Sequential(new MaxPool2d(2), sk) : sk) : null;
  }
  forward(x: Tensor): Tensor {
    const rx = x.relu();
    const h1 = this.conv1.forward(rx);
    rx.dispose();
    const a1 = h1.relu();
    h1.dispose();
    const body = this.conv2.forward(a1);
    a1.dispose();
    const res = this.skip ? this.skip.forward(x) : x;
    const out = body.add(res);
    body.dispose();
    if (res !== x) res.dispose();
    return out;
  }
}
