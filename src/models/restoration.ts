// Restoration generator R (SCGAN's G_RLS): LR (16x16) -> HR (64x64), shared by both cycles.
// Child names follow G_RLS so a PyTorch state dict of it loads by key.
import { checkInt } from '../core/check.js';
import { Module, Sequential, ModuleList, Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, Upsample, Tanh, type Layer } from '../nn/index.js';
import type { Tensor } from '../tensor/index.js';
import { GBlock } from './blocks.js';

export interface RestorationConfig {
  type: 'restoration';
  /** Channels of the first level (SCGAN 256). */
  width?: number;
  /** Residual blocks in the first level (SCGAN 12). */
  blocks?: number;
  /** Channels of the second level (SCGAN 128). */
  width2?: number;
  /** Residual blocks in the second level (SCGAN 3). */
  blocks2?: number;
  /** Channels of the output head (SCGAN 96). */
  headWidth?: number;
  /** Keep SCGAN's unused conv1x1 (width2 -> headWidth), so SCGAN checkpoints load strictly. */
  unusedConv?: boolean;
  /** See GBlockOptions.reluSkipQuirk. */
  reluSkipQuirk?: boolean;
}

function upStage(n: number): Sequential {
  return new Sequential(
    new Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: true }),
    new BatchNorm2d(n),
    new ReLU(),
    new ConvTranspose2d(n, n, 1),
  );
}

/**
 * conv3x3 3->W; blocks x BB(W, W) with a global skip; bilinear x2 -> BN -> ReLU -> conv1x1;
 * BB(W, W2) + (blocks2 - 1) x BB(W2, W2) with a conv1x1 skip; bilinear x2 -> BN -> ReLU -> conv1x1;
 * conv3x3 W2->H -> ReLU -> conv1x1 H->H -> ReLU -> conv1x1 H->3 -> tanh. Images in [-1, 1].
 */
export class Restoration extends Module implements Layer {
  readonly config: Required<RestorationConfig>;
  private readonly layersIn: Conv2d;
  private readonly levels: ModuleList<Sequential>;
  private readonly ups: ModuleList<Sequential>;
  private readonly a1: Sequential;
  private readonly main: Sequential;
  constructor(c: RestorationConfig) {
    super();
    const cfg: Required<RestorationConfig> = {
      type: 'restoration',
      width: checkInt(c.width ?? 256, 'width', 1),
      blocks: checkInt(c.blocks ?? 12, 'blocks', 1),
      width2: checkInt(c.width2 ?? 128, 'width2', 1),
      blocks2: checkInt(c.blocks2 ?? 3, 'blocks2', 1),
      headWidth: checkInt(c.headWidth ?? 96, 'headWidth', 1),
      unusedConv: c.unusedConv ?? false,
      reluSkipQuirk: c.reluSkipQuirk ?? false,
    };
    this.config = cfg;
    const q = { reluSkipQuirk: cfg.reluSkipQuirk };
    // Registration order as G_RLS (its state dict lists the level lists first, then a1, a2, layers_in, main).
    this.levels = this.registerModule('layers_set_final', new ModuleList<Sequential>());
    this.ups = this.registerModule('layers_set_final_up', new ModuleList<Sequential>());
    this.a1 = this.registerModule('a1', new Sequential(new Conv2d(cfg.width, cfg.width2, 1)));
    if (cfg.unusedConv) this.registerModule('a2', new Sequential(new Conv2d(cfg.width2, cfg.headWidth, 1)));
    this.layersIn = this.registerModule('layers_in', new Conv2d(3, cfg.width, 3, { padding: 1, bias: false }));
    this.levels.push(new Sequential(...Array.from({ length: cfg.blocks }, () => new GBlock(cfg.width, cfg.width, q))));
    this.ups.push(upStage(cfg.width));
    this.levels.push(
      new Sequential(new GBlock(cfg.width, cfg.width2, q), ...Array.from({ length: cfg.blocks2 - 1 }, () => new GBlock(cfg.width2, cfg.width2, q))),
    );
    this.ups.push(upStage(cfg.width2));
    this.main = this.registerModule(
      'main',
      new Sequential(
        new Conv2d(cfg.width2, cfg.headWidth, 3, { padding: 1, bias: false }),
        new ReLU(),
        new Conv2d(cfg.headWidth, cfg.headWidth, 1),
        new ReLU(),
        new Conv2d(cfg.headWidth, 3, 1),
        new Tanh(),
      ),
    );
  }

  /** [N, 3, h, w] in [-1, 1] -> [N, 3, 4h, 4w] in [-1, 1]. */
  forward(lr: Tensor): Tensor {
    const x0 = this.layersIn.forward(lr);
    const t0 = this.levels.at(0).forward(x0);
    const s0 = x0.add(t0);
    x0.dispose();
    t0.dispose();
    const u0 = this.ups.at(0).forward(s0);
    s0.dispose();
    const t1 = this.levels.at(1).forward(u0);
    const k1 = this.a1.forward(u0);
    u0.dispose();
    const s1 = t1.add(k1);
    t1.dispose();
    k1.dispose();
    const u1 = this.ups.at(1).forward(s1);
    s1.dispose();
    const out = this.main.forward(u1);
    u1.dispose();
    return out;
  }
}
