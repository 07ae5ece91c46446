// Degradation generators DF (HR -> LR, SCGAN's G_DHL) and DB (SR -> LR, G_DSL): same architecture,
// independent weights. Noise z ~ N(0, I) enters as a full-resolution map concatenated to the image.
import { ArgumentError } from '../core/errors.js';
import { Module, Sequential, Conv2d, Linear, PixelShuffle, ReLU, Tanh, type LayerModule } from '../nn/index.js';
import { cat, noGrad, tidy, F, type Tensor } from '../tensor/index.js';
import { GBlock } from './blocks.js';

export interface DegradationConfig {
  type: 'degradation';
  /**
   * Channels of the 12 blocks: 8 encoder blocks (every other one halves the size), then two
   * pixel-shuffle x2 stages of 2 blocks each. SCGAN: [96,96,128,128,256,256,512,512,128,128,32,32].
   */
  blocks?: number[];
  /** Hidden channels of the output head (SCGAN 8). */
  headWidth?: number;
  /** Side of the HR input (the noise map has this size; SCGAN 64). */
  hrSize?: number;
  /** Length of z (SCGAN 64). */
  noiseDim?: number;
  reluSkipQuirk?: boolean;
  /**
   * [choice, not SCGAN] Adds the x4 average-pooled HR image to the output before the tanh (as
   * atanh of it), so the network learns the degradation as a residual on the plain reduction
   * instead of rebuilding the face through its 4x4 bottleneck; the last conv starts at zero. No L1
   * warm-up is needed (and none should be run: it kills the head's ReLUs). Default false (SCGAN).
   */
  inputSkip?: boolean;
}

export const SCGAN_DEGRADATION_BLOCKS = [96, 96, 128, 128, 256, 256, 512, 512, 128, 128, 32, 32];

/** HR [N,3,S,S] + z [N, noiseDim] -> LR [N,3,S/4,S/4] in [-1, 1]. */
export class Degradation extends Module {
  readonly config: Required<DegradationConfig>;
  private readonly noiseFc: Linear;
  private readonly inLayer: Conv2d;
  private readonly down: Sequential;
  private readonly up: Sequential;
  private readonly out: Sequential;
  private readonly tanh = new Tanh();
  constructor(c: DegradationConfig) {
    super();
    const blocks = c.blocks ?? SCGAN_DEGRADATION_BLOCKS;
    if (blocks.length !== 12) throw new ArgumentError(`degradation blocks: expected 12 channel counts, received ${blocks.length}`);
    if (blocks[8]! * 4 !== blocks[7] || blocks[9] !== blocks[8] || blocks[10]! * 4 !== blocks[9] || blocks[11] !== blocks[10]) {
      throw new ArgumentError(
        `degradation blocks: the pixel-shuffle stages need blocks[8] = blocks[9] = blocks[7]/4 and blocks[10] = blocks[11] = blocks[9]/4, received [${blocks.join(', ')}]`,
      );
    }
    const cfg: Required<DegradationConfig> = {
      type: 'degradation',
      blocks,
      headWidth: c.headWidth ?? 8,
      hrSize: c.hrSize ?? 64,
      noiseDim: c.noiseDim ?? 64,
      reluSkipQuirk: c.reluSkipQuirk ?? false,
      inputSkip: c.inputSkip ?? false,
    };
    this.config = cfg;
    const q = { reluSkipQuirk: cfg.reluSkipQuirk };
    this.noiseFc = this.registerModule('noise_fc', new Linear(cfg.noiseDim, cfg.hrSize * cfg.hrSize));
    this.inLayer = this.registerModule('in_layer', new Conv2d(4, blocks[0]!, 3, { padding: 1, bias: false }));
    const downs: LayerModule[] = [];
    let inFeat = blocks[0]!;
    for (let i = 0; i < 8; i++) {
      downs.push(new GBlock(inFeat, blocks[i]!, { ...q, down: i % 2 === 0 }));
      inFeat = blocks[i]!;
    }
    this.down = this.registerModule('down_layers', new Sequential(...downs));
    const ups: LayerModule[] = [];
    for (let i = 0; i < 2; i++) {
      ups.push(new PixelShuffle(2), new GBlock(blocks[8 + i * 2]!, blocks[8 + i * 2]!, q), new GBlock(blocks[9 + i * 2]!, blocks[9 + i * 2]!, q));
    }
    this.up = this.registerModule('up_layers', new Sequential(...ups));
    this.out = this.registerModule(
      'out_layer',
      new Sequential(
        new Conv2d(blocks[11]!, cfg.headWidth, 3, { padding: 1, bias: false }),
        new ReLU(),
        new Conv2d(cfg.headWidth, 3, 3, { padding: 1, bias: false }),
      ),
    );
    // With the input skip the residual starts at exactly 0 (the last conv zeroed), so the network
    // starts as the plain x4 average without an L1 warm-up having to silence the head: that warm-up
    // drove every pre-ReLU activation of the head negative, and a dead head never learns again.
    if (cfg.inputSkip) noGrad(() => this.out.namedParameters().at(-1)![1].zero_());
  }

  forward(hr: Tensor, z: Tensor): Tensor {
    const s = this.config.hrSize;
    if (hr.ndim !== 4 || hr.shape[2] !== s || hr.shape[3] !== s) {
      throw new ArgumentError(`Degradation: expected HR input [N, 3, ${s}, ${s}] but received [${hr.shape.join(', ')}]`);
    }
    const n = this.noiseFc.forward(z);
    const map = n.view(-1, 1, s, s);
    const x = cat([hr, map], 1);
    n.dispose();
    map.dispose();
    const h = this.inLayer.forward(x);
    x.dispose();
    const d = this.down.forward(h);
    h.dispose();
    const u = this.up.forward(d);
    d.dispose();
    const pre = this.out.forward(u);
    u.dispose();
    // atanh(p) = log((1 + p) / (1 - p)) / 2, p clamped inside (-1, 1).
    const y = tidy(() => {
      if (!this.config.inputSkip) return this.tanh.forward(pre);
      const f = s / pre.shape[2]!;
      const p = F.avgPool2d(hr, f).clamp(-0.999, 0.999);
      return pre.add(p.add(1).div(p.neg().add(1)).log().mul(0.5)).tanh();
    });
    pre.dispose();
    return y;
  }
}
