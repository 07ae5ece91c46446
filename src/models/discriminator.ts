// Spectral-norm residual discriminator (SCGAN's Discriminator): judges 16x16 (D_L) or 64x64 (D_H) images.
import { ArgumentError } from '../core/errors.js';
import { Module, Sequential, Linear, ReLU, spectralNorm, type Layer } from '../nn/index.js';
import type { Tensor } from '../tensor/index.js';
import { DBlock } from './blocks.js';

export interface DiscriminatorConfig {
  type: 'discriminator';
  /** Side of the judged images: a power of two >= 4 (SCGAN: 16 or 64). */
  inputSize: number;
  /** Channels of the residual blocks (SCGAN [128,128,256,256,512,512]); the last log2(size/4) pool. */
  blocks?: number[];
  /** Hidden units of the final MLP (SCGAN: the last block's channels). */
  hidden?: number;
}

/** [N, 3, S, S] -> [N, 1] raw scores (hinge loss). */
export class Discriminator extends Module implements Layer {
  readonly config: Required<DiscriminatorConfig>;
  private readonly blocks: Sequential;
  private readonly out: Sequential;
  constructor(c: DiscriminatorConfig) {
    super();
    const blocks = c.blocks ?? [128, 128, 256, 256, 512, 512];
    const downs = Math.log2(c.inputSize / 4);
    if (!Number.isInteger(downs) || downs < 0) throw new ArgumentError(`discriminator inputSize must be 4 * 2^k, received ${c.inputSize}`);
    if (downs > blocks.length) throw new ArgumentError(`discriminator: ${blocks.length} blocks cannot pool ${c.inputSize} down to 4`);
    const last = blocks[blocks.length - 1]!;
    this.config = { type: 'discriminator', inputSize: c.inputSize, blocks, hidden: c.hidden ?? last };
    const poolStart = blocks.length - downs;
    let inFeat = 3;
    this.blocks = this.registerModule(
      'residual_blocks',
      new Sequential(
        ...blocks.map((b, i) => {
          const blk = new DBlock(inFeat, b, i >= poolStart);
          inFeat = b;
          return blk;
        }),
      ),
    );
    this.out = this.registerModule(
      'out_layer',
      new Sequential(spectralNorm(new Linear(16 * last, this.config.hidden)), new ReLU(), spectralNorm(new Linear(this.config.hidden, 1))),
    );
  }
  forward(x: Tensor): Tensor {
    const s = this.config.inputSize;
    if (x.ndim !== 4 || x.shape[2] !== s || x.shape[3] !== s) {
      throw new ArgumentError(`Discriminator: expected [N, 3, ${s}, ${s}] but received [${x.shape.join(', ')}]`);
    }
    const h = this.blocks.forward(x);
    const f = h.reshape(h.shape[0]!, -1);
    h.dispose();
    const y = this.out.forward(f);
    f.dispose();
    return y;
  }
}
