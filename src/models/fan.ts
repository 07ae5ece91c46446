// Face alignment network (FAN): stacked hourglasses regressing one heatmap per landmark
// (Bulat & Tzimiropoulos; 1adrianb/face-alignment), sized for the GAN's 64x64 faces.
import { checkInt } from '../core/check.js';
import { ArgumentError } from '../core/errors.js';
import { Module, Sequential, Conv2d, BatchNorm2d, ReLU, type Layer } from '../nn/index.js';
import { Tensor, F, cat, tidy, arange, fromTypedArray } from '../tensor/index.js';

/** ConvBlock of FAN: three pre-activation 3x3 convolutions (out/2, out/4, out/4) concatenated, plus a skip. */
export class ConvBlock extends Module implements Layer {
  private readonly bn1: BatchNorm2d;
  private readonly conv1: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn3: BatchNorm2d;
  private readonly conv3: Conv2d;
  private readonly downsample: Sequential | null;
  constructor(inC: number, outC: number) {
    super();
    if (outC % 4) throw new ArgumentError(`ConvBlock: output channels must be divisible by 4, received ${outC}`);
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inC));
    this.conv1 = this.registerModule('conv1', new Conv2d(inC, outC / 2, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(outC / 2));
    this.conv2 = this.registerModule('conv2', new Conv2d(outC / 2, outC / 4, 3, { padding: 1, bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(outC / 4));
    this.conv3 = this.registerModule('conv3', new Conv2d(outC / 4, outC / 4, 3, { padding: 1, bias: false }));
    this.downsample = inC !== outC ? this.registerModule('downsample', new Sequential(new BatchNorm2d(inC), new ReLU(), new Conv2d(inC, outC, 1, { bias: false }))) : null;
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const o1 = this.conv1.forward(this.bn1.forward(x).relu());
      const o2 = this.conv2.forward(this.bn2.forward(o1).relu());
      const o3 = this.conv3.forward(this.bn3.forward(o2).relu());
      const res = this.downsample ? this.downsample.forward(x) : x;
      return cat([o1, o2, o3], 1).add(res);
    });
  }
}

/** Hourglass of the given depth: a skip branch at each scale and a recursive branch at half scale. */
export class HourGlass extends Module implements Layer {
  constructor(
    readonly depth: number,
    readonly features: number,
  ) {
    super();
    this.build(depth);
  }
  private build(level: number): void {
    this.registerModule(`b1_${level}`, new ConvBlock(this.features, this.features));
    this.registerModule(`b2_${level}`, new ConvBlock(this.features, this.features));
    if (level > 1) this.build(level - 1);
    else this.registerModule(`b2_plus_${level}`, new ConvBlock(this.features, this.features));
    this.registerModule(`b3_${level}`, new ConvBlock(this.features, this.features));
  }
  private block(name: string): ConvBlock {
    return this.child(name) as ConvBlock;
  }
  private run(level: number, x: Tensor): Tensor {
    const up1 = this.block(`b1_${level}`).forward(x);
    const low1 = this.block(`b2_${level}`).forward(F.avgPool2d(x, 2));
    const low2 = level > 1 ? this.run(level - 1, low1) : this.block(`b2_plus_${level}`).forward(low1);
    const low3 = this.block(`b3_${level}`).forward(low2);
    return up1.add(F.interpolate(low3, { scaleFactor: 2, mode: 'nearest' }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.run(this.depth, x));
  }
}

export interface FanConfig {
  type: 'fan';
  /** Side of the (square) input face (default 64). */
  inputSize?: number;
  /** Hourglass stacks (2DFAN-4: 4; default 2). */
  stacks?: number;
  /** Channels inside the hourglasses (2DFAN-4: 256). */
  width?: number;
  /** Channels of the stem (2DFAN-4: 64, then 128). */
  stemWidth?: number;
  /** Average-pool after the stem: heatmaps at inputSize/4 instead of inputSize/2. */
  pool?: boolean;
  /** Hourglass depth (halvings); default: down to 4x4 heatmap cells. */
  depth?: number;
  landmarks?: number;
}

/** Input [N,3,S,S] in [-1,1] -> one [N, landmarks, S/stride, S/stride] heatmap per stack (last = final). */
export class FAN extends Module {
  readonly config: Required<FanConfig>;
  readonly stride: number;
  private readonly stem: { conv1: Conv2d; bn1: BatchNorm2d; conv2: ConvBlock; conv3: ConvBlock; conv4: ConvBlock };
  constructor(c: FanConfig) {
    super();
    const inputSize = checkInt(c.inputSize ?? 64, 'inputSize', 8);
    const pool = c.pool ?? false;
    const stride = pool ? 4 : 2;
    const hm = inputSize / stride;
    const depth = c.depth ?? Math.max(1, Math.floor(Math.log2(hm / 4)) + 1);
    if (!Number.isInteger(hm) || hm % 2 ** depth) throw new ArgumentError(`FAN: heatmap side ${hm} is not divisible by 2^depth (${2 ** depth})`);
    const stem = c.stemWidth ?? 64;
    const width = c.width ?? 256;
    this.config = { type: 'fan', inputSize, stacks: checkInt(c.stacks ?? 2, 'stacks', 1), width, stemWidth: stem, pool, depth, landmarks: c.landmarks ?? 68 };
    this.stride = stride;
    this.stem = {
      conv1: this.registerModule('conv1', new Conv2d(3, stem, 7, { stride: 2, padding: 3 })),
      bn1: this.registerModule('bn1', new BatchNorm2d(stem)),
      conv2: this.registerModule('conv2', new ConvBlock(stem, stem * 2)),
      conv3: this.registerModule('conv3', new ConvBlock(stem * 2, stem * 2)),
      conv4: this.registerModule('conv4', new ConvBlock(stem * 2, width)),
    };
    const L = this.config.landmarks;
    for (let i = 0; i < this.config.stacks; i++) {
      this.registerModule(`m${i}`, new HourGlass(depth, width));
      this.registerModule(`top_m_${i}`, new ConvBlock(width, width));
      this.registerModule(`conv_last${i}`, new Conv2d(width, width, 1));
      this.registerModule(`bn_end${i}`, new BatchNorm2d(width));
      this.registerModule(`l${i}`, new Conv2d(width, L, 1));
      if (i < this.config.stacks - 1) {
        this.registerModule(`bl${i}`, new Conv2d(width, width, 1));
        this.registerModule(`al${i}`, new Conv2d(L, width, 1));
      }
    }
  }

  /** Heatmap side length. */
  get heatmapSize(): number {
    return this.config.inputSize / this.stride;
  }

  /** All stacks' heatmaps; the last is the prediction. */
  forward(x: Tensor): Tensor[] {
    const s = this.config.inputSize;
    if (x.ndim !== 4 || x.shape[2] !== s || x.shape[3] !== s) throw new ArgumentError(`FAN: expected [N, 3, ${s}, ${s}] but received [${x.shape.join(', ')}]`);
    return tidy(() => {
      const st = this.stem;
      let h = st.bn1.forward(st.conv1.forward(x)).relu();
      h = st.conv2.forward(h);
      if (this.config.pool) h = F.avgPool2d(h, 2);
      let previous = st.conv4.forward(st.conv3.forward(h));
      const outs: Tensor[] = [];
      for (let i = 0; i < this.config.stacks; i++) {
        const hg = (this.child(`m${i}`) as HourGlass).forward(previous);
        let ll = (this.child(`top_m_${i}`) as ConvBlock).forward(hg);
        ll = (this.child(`bn_end${i}`) as BatchNorm2d).forward((this.child(`conv_last${i}`) as Conv2d).forward(ll)).relu();
        const out = (this.child(`l${i}`) as Conv2d).forward(ll);
        outs.push(out);
        if (i < this.config.stacks - 1) {
          previous = previous.add((this.child(`bl${i}`) as Conv2d).forward(ll)).add((this.child(`al${i}`) as Conv2d).forward(out));
        }
      }
      return outs;
    });
  }
}

/**
 * Target heatmaps: a Gaussian (sigma in heatmap pixels, peak 1) at each landmark. Landmarks are in
 * input pixels [N, L, 2] (x, y); heatmap cell j covers input pixels around (j + 0.5) * stride - 0.5.
 */
export function landmarkHeatmaps(landmarks: Float32Array, n: number, numLandmarks: number, size: number, stride: number, sigma = 2): Tensor {
  return tidy(() => {
    const pts = fromTypedArray(landmarks, [n, numLandmarks, 2]);
    const c = pts.add(0.5).div(stride).sub(0.5);
    const g = arange(0, size, 1, { dtype: 'float32' });
    const cx = c.select(2, 0).reshape(n, numLandmarks, 1, 1);
    const cy = c.select(2, 1).reshape(n, numLandmarks, 1, 1);
    const dx = g.reshape(1, 1, 1, size).sub(cx).square();
    const dy = g.reshape(1, 1, size, 1).sub(cy).square();
    return dx.add(dy).div(-2 * sigma * sigma).exp();
  });
}

/** How heatmaps decode to coordinates (decodeHeatmaps). */
export type HeatmapDecoding = 'quarter' | 'taylor';
export const HEATMAP_DECODINGS: readonly HeatmapDecoding[] = ['quarter', 'taylor'];

/**
 * Landmarks from heatmaps [N, L, h, w], mapped back to input pixels; returns [N*L*2] (x, y).
 * - 'quarter' (method.md, FAN's): the argmax cell, moved a quarter cell toward the larger neighbour on
 *   each axis. At 16x16 heatmaps of a 64x64 face a quarter cell is a whole input pixel.
 * - 'taylor' (DARK, Zhang et al., CVPR 2020): the argmax cell plus the Newton step of the log-heatmap's
 *   second-order Taylor expansion there (finite differences over the 3x3 neighbourhood), clamped to
 *   one cell; exact for a Gaussian peak. Falls back to 'quarter' on an edge cell or a neighbourhood
 *   that is not a maximum (non-positive values, Hessian not negative definite).
 */
export function decodeHeatmaps(heatmaps: Tensor, stride: number, decoding: HeatmapDecoding = 'quarter'): Float32Array {
  if (!HEATMAP_DECODINGS.includes(decoding))
    throw new ArgumentError(`Unknown heatmap decoding '${String(decoding)}'. Decodings: ${HEATMAP_DECODINGS.join(', ')}`);
  const [n, l, h, w] = heatmaps.shape as [number, number, number, number];
  const hm = heatmaps.detach().to({ dtype: 'float32', device: 'cpu' });
  const v = hm.contiguous();
  const data = v.toFloat32Array();
  hm.dispose();
  v.dispose();
  const out = new Float32Array(n * l * 2);
  for (let k = 0; k < n * l; k++) {
    const base = k * h * w;
    let best = 0;
    for (let i = 1; i < h * w; i++) if (data[base + i]! > data[base + best]!) best = i;
    const y = Math.floor(best / w);
    const x = best % w;
    let fx = x;
    let fy = y;
    const at = (yy: number, xx: number) => data[base + yy * w + xx]!;
    let refined = false;
    if (decoding === 'taylor' && x > 0 && x < w - 1 && y > 0 && y < h - 1) {
      let positive = true;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (!(at(y + dy, x + dx) > 0)) positive = false;
      if (positive) {
        const L = (dy: number, dx: number) => Math.log(at(y + dy, x + dx));
        const gx = 0.5 * (L(0, 1) - L(0, -1));
        const gy = 0.5 * (L(1, 0) - L(-1, 0));
        const hxx = L(0, 1) - 2 * L(0, 0) + L(0, -1);
        const hyy = L(1, 0) - 2 * L(0, 0) + L(-1, 0);
        const hxy = 0.25 * (L(1, 1) - L(1, -1) - L(-1, 1) + L(-1, -1));
        const det = hxx * hyy - hxy * hxy;
        if (hxx < 0 && det > 1e-12) {
          const ox = -(hyy * gx - hxy * gy) / det;
          const oy = -(hxx * gy - hxy * gx) / det;
          fx += Math.max(-1, Math.min(1, ox));
          fy += Math.max(-1, Math.min(1, oy));
          refined = true;
        }
      }
    }
    if (!refined) {
      if (x > 0 && x < w - 1) fx += 0.25 * Math.sign(at(y, x + 1) - at(y, x - 1));
      if (y > 0 && y < h - 1) fy += 0.25 * Math.sign(at(y + 1, x) - at(y - 1, x));
    }
    out[k * 2] = (fx + 0.5) * stride - 0.5;
    out[k * 2 + 1] = (fy + 0.5) * stride - 0.5;
  }
  return out;
}
