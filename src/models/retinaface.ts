// RetinaFace with a MobileNet-0.25 backbone (biubug6/Face-Detector-1MB-with-landmark, MIT): a small-face
// detector with 5 landmarks, used to find and align faces before super-resolution.
// Spec: shared/models/README.md. State-dict keys match mobilenet0.25_Final.pth exactly.
import { ArgumentError, ShapeError } from '../core/errors.js';
import { Module, Sequential, ModuleList, Conv2d, BatchNorm2d, ReLU } from '../nn/index.js';
import { readSafetensorsSync } from '../io/index.js';
import { Tensor, F, cat, tidy, inferenceMode, fromTypedArray, tensor } from '../tensor/index.js';

/** BGR mean subtracted from the input (no scaling), as the authors' preprocessing. */
export const RETINAFACE_MEAN_BGR = [104, 117, 123] as const;
/** Anchor steps and min sizes per pyramid level (1, 2, 3). */
export const RETINAFACE_STEPS = [8, 16, 32] as const;
export const RETINAFACE_MIN_SIZES = [
  [10, 20],
  [32, 64],
  [128, 256],
] as const;
/** Box/landmark decoding variances (centre, size). */
export const RETINAFACE_VARIANCE = [0.1, 0.2] as const;

export interface RetinaFaceOutput {
  /** [N, A, 4] box regressions (centre dx, dy, log-size dw, dh), anchors in `priors()` order. */
  loc: Tensor;
  /** [N, A, 2] class probabilities (softmax; index 1 = face). */
  conf: Tensor;
  /** [N, A, 10] landmark regressions (5 x, y pairs). */
  landms: Tensor;
}

export interface Detection {
  /** [x1, y1, x2, y2] in output pixels (original-image pixels when `scale` is given). */
  box: [number, number, number, number];
  score: number;
  /** Left eye, right eye, nose, left mouth corner, right mouth corner (image orientation). */
  landmarks: [number, number][];
}

/** Interleaved 8-bit pixels (HWC), as a decoder's raw output. */
export interface RawImage {
  pixels: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** 3 or 4 (alpha ignored). */
  channels: number;
  /** Channel order of the pixels; default 'rgb'. */
  order?: 'rgb' | 'bgr';
}

export interface DetectOptions {
  /** Keep anchors whose face probability is strictly above this (default 0.5). */
  scoreThreshold?: number;
  /** Non-maximum suppression IoU threshold (default 0.4). */
  nmsIou?: number;
  /**
   * Resize factor from the original image to the network input; results are divided by it so they are
   * in original pixels. For a RawImage it is computed from `longSide` and must not be given.
   */
  scale?: number;
  /** RawImage only: resize (bilinear) so the long side has this length first (authors: 640; default: none). */
  longSide?: number;
  /** At most this many candidates, best first, enter NMS (default 5000, as the authors). */
  topK?: number;
  /** At most this many detections are returned (default 750, as the authors). */
  keepTopK?: number;
  /**
   * Pixel offset in NMS box areas: 1 reproduces the authors' py_cpu_nms ((x2 - x1 + 1) widths, the
   * default), 0 gives continuous-coordinate IoU (torchvision).
   */
  nmsOffset?: 0 | 1;
}

// ---- building blocks (children named as in the PyTorch model) ----

function convBn(inp: number, out: number, stride: number, relu = true): Sequential {
  const layers = [new Conv2d(inp, out, 3, { stride, padding: 1, bias: false }), new BatchNorm2d(out)];
  return new Sequential(...(relu ? [...layers, new ReLU()] : layers));
}

function convBn1x1(inp: number, out: number): Sequential {
  return new Sequential(new Conv2d(inp, out, 1, { bias: false }), new BatchNorm2d(out), new ReLU());
}

/** Depthwise 3x3 (0: conv, 1: BN, 2: ReLU) then pointwise 1x1 (3: conv, 4: BN, 5: ReLU). */
function convDw(inp: number, out: number, stride: number): Sequential {
  return new Sequential(
    new Conv2d(inp, inp, 3, { stride, padding: 1, groups: inp, bias: false }),
    new BatchNorm2d(inp),
    new ReLU(),
    new Conv2d(inp, out, 1, { bias: false }),
    new BatchNorm2d(out),
    new ReLU(),
  );
}

/** MobileNetV1 x0.25 up to stride 32; `forward` returns the three stage outputs. */
class MobileNetV1 extends Module {
  readonly stage1: Sequential;
  readonly stage2: Sequential;
  readonly stage3: Sequential;
  constructor() {
    super();
    this.stage1 = this.registerModule(
      'stage1',
      new Sequential(
        convBn(3, 8, 2),
        convDw(8, 16, 1),
        convDw(16, 32, 2),
        convDw(32, 32, 1),
        convDw(32, 64, 2),
        convDw(64, 64, 1),
      ),
    );
    this.stage2 = this.registerModule(
      'stage2',
      new Sequential(convDw(64, 128, 2), ...Array.from({ length: 5 }, () => convDw(128, 128, 1))),
    );
    this.stage3 = this.registerModule('stage3', new Sequential(convDw(128, 256, 2), convDw(256, 256, 1)));
  }
  forward(x: Tensor): [Tensor, Tensor, Tensor] {
    const c1 = this.stage1.forward(x);
    const c2 = this.stage2.forward(c1);
    const c3 = this.stage3.forward(c2);
    return [c1, c2, c3];
  }
}

class FPN extends Module {
  readonly output1: Sequential;
  readonly output2: Sequential;
  readonly output3: Sequential;
  readonly merge1: Sequential;
  readonly merge2: Sequential;
  constructor(inChannels: readonly number[], out: number) {
    super();
    this.output1 = this.registerModule('output1', convBn1x1(inChannels[0]!, out));
    this.output2 = this.registerModule('output2', convBn1x1(inChannels[1]!, out));
    this.output3 = this.registerModule('output3', convBn1x1(inChannels[2]!, out));
    this.merge1 = this.registerModule('merge1', convBn(out, out, 1));
    this.merge2 = this.registerModule('merge2', convBn(out, out, 1));
  }
  /** Disposes nothing it was given; returns three new tensors. */
  forward([c1, c2, c3]: readonly [Tensor, Tensor, Tensor]): [Tensor, Tensor, Tensor] {
    const o3 = this.output3.forward(c3);
    const p2 = tidy(() => {
      const o2 = this.output2.forward(c2);
      const up = F.interpolate(o3, { size: [o2.size(2), o2.size(3)], mode: 'nearest' });
      return this.merge2.forward(o2.add(up));
    });
    const p1 = tidy(() => {
      const o1 = this.output1.forward(c1);
      const up = F.interpolate(p2, { size: [o1.size(2), o1.size(3)], mode: 'nearest' });
      return this.merge1.forward(o1.add(up));
    });
    return [p1, p2, o3];
  }
}

class SSH extends Module {
  readonly conv3X3: Sequential;
  readonly conv5X5_1: Sequential;
  readonly conv5X5_2: Sequential;
  readonly conv7X7_2: Sequential;
  readonly conv7x7_3: Sequential;
  constructor(inp: number, out: number) {
    super();
    if (out % 4) throw new ArgumentError(`SSH: output channels ${out} must be divisible by 4`);
    this.conv3X3 = this.registerModule('conv3X3', convBn(inp, out / 2, 1, false));
    this.conv5X5_1 = this.registerModule('conv5X5_1', convBn(inp, out / 4, 1));
    this.conv5X5_2 = this.registerModule('conv5X5_2', convBn(out / 4, out / 4, 1, false));
    this.conv7X7_2 = this.registerModule('conv7X7_2', convBn(out / 4, out / 4, 1));
    this.conv7x7_3 = this.registerModule('conv7x7_3', convBn(out / 4, out / 4, 1, false));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const a = this.conv3X3.forward(x);
      const b1 = this.conv5X5_1.forward(x);
      const b = this.conv5X5_2.forward(b1);
      const c = this.conv7x7_3.forward(this.conv7X7_2.forward(b1));
      return cat([a, b, c], 1).relu();
    });
  }
}

/** A 1x1 conv head: [N, anchors*k, H, W] -> [N, H*W*anchors, k]. */
class Head extends Module {
  readonly conv1x1: Conv2d;
  constructor(
    inp: number,
    readonly anchors: number,
    readonly k: number,
  ) {
    super();
    this.conv1x1 = this.registerModule('conv1x1', new Conv2d(inp, anchors * k, 1));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = this.conv1x1.forward(x);
      return y.permute(0, 2, 3, 1).reshape(y.size(0), -1, this.k);
    });
  }
}

/**
 * RetinaFace, MobileNet-0.25 backbone. Input: [N, 3, H, W] float, BGR minus RETINAFACE_MEAN_BGR, any
 * size. Created in eval mode (BatchNorm uses the running statistics); call train() to change that.
 */
export class RetinaFace extends Module {
  readonly body: MobileNetV1;
  readonly fpn: FPN;
  readonly ssh1: SSH;
  readonly ssh2: SSH;
  readonly ssh3: SSH;
  readonly ClassHead: ModuleList<Head>;
  readonly BboxHead: ModuleList<Head>;
  readonly LandmarkHead: ModuleList<Head>;
  static readonly anchorsPerLocation = 2;
  #priorCache: { h: number; w: number; p: Float32Array } | null = null;

  constructor() {
    super();
    const out = 64;
    const a = RetinaFace.anchorsPerLocation;
    this.body = this.registerModule('body', new MobileNetV1());
    this.fpn = this.registerModule('fpn', new FPN([64, 128, 256], out));
    this.ssh1 = this.registerModule('ssh1', new SSH(out, out));
    this.ssh2 = this.registerModule('ssh2', new SSH(out, out));
    this.ssh3 = this.registerModule('ssh3', new SSH(out, out));
    const heads = (k: number) => new ModuleList([0, 1, 2].map(() => new Head(out, a, k)));
    this.ClassHead = this.registerModule('ClassHead', heads(2));
    this.BboxHead = this.registerModule('BboxHead', heads(4));
    this.LandmarkHead = this.registerModule('LandmarkHead', heads(10));
    this.eval();
  }

  /** A model with the weights of a safetensors file (strict keys), in eval mode. */
  static fromSafetensors(file: string): RetinaFace {
    const net = new RetinaFace();
    const { tensors } = readSafetensorsSync(file);
    try {
      net.loadStateDict(tensors);
    } catch (err) {
      net.dispose();
      throw err;
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
    return net;
  }

  /** loc, conf (softmaxed) and landms over all anchors, levels concatenated in order 1, 2, 3. */
  forward(x: Tensor): RetinaFaceOutput {
    if (x.ndim !== 4 || x.size(1) !== 3)
      throw new ShapeError(`RetinaFace: expected a [N, 3, H, W] input but received [${x.shape.join(', ')}]`);
    return tidy(() => {
      // Intermediates are released as soon as they are used (large inputs), not only at the scope's end.
      const stages = this.body.forward(x);
      const feats = this.fpn.forward(stages);
      for (const t of stages) t.dispose();
      const ssh = [this.ssh1, this.ssh2, this.ssh3].map((m, i) => m.forward(feats[i]!));
      for (const t of feats) t.dispose();
      const run = (heads: ModuleList<Head>) => cat(ssh.map((f, i) => heads.at(i).forward(f)), 1);
      const logits = run(this.ClassHead);
      return { loc: run(this.BboxHead), conf: logits.softmax(-1), landms: run(this.LandmarkHead) };
    });
  }

  /**
   * Anchors for an input of h x w pixels, in output order: Float32Array of [cx, cy, w, h] per anchor,
   * normalised by the input size. The last result is cached (do not modify it).
   */
  priors(h: number, w: number): Float32Array {
    const c = this.#priorCache;
    if (c && c.h === h && c.w === w) return c.p;
    const p = retinaFacePriors(h, w);
    this.#priorCache = { h, w, p };
    return p;
  }

  /**
   * Finds faces. `input` is a preprocessed [1, 3, H, W] tensor (BGR minus RETINAFACE_MEAN_BGR, see
   * retinaFacePreprocess) or raw 8-bit pixels. Runs in inference mode; frees everything it creates.
   */
  detect(input: Tensor | RawImage, opts: DetectOptions = {}): Detection[] {
    if (input instanceof Tensor) {
      if (opts.longSide !== undefined)
        throw new ArgumentError('detect: longSide applies to raw pixels; resize the tensor yourself');
      return this.#detectTensor(input, opts.scale ?? 1, opts);
    }
    if (opts.scale !== undefined)
      throw new ArgumentError('detect: scale is computed from longSide for raw pixels; do not give it');
    const { x, scale } = retinaFacePreprocess(input, { longSide: opts.longSide });
    try {
      return this.#detectTensor(x, scale, opts);
    } finally {
      x.dispose();
    }
  }

  #detectTensor(x: Tensor, scale: number, opts: DetectOptions): Detection[] {
    if (x.ndim !== 4 || x.size(0) !== 1 || x.size(1) !== 3)
      throw new ShapeError(`detect: expected a [1, 3, H, W] input but received [${x.shape.join(', ')}]`);
    if (!(scale > 0)) throw new ArgumentError(`detect: scale must be positive, received ${scale}`);
    if (this.training) throw new ArgumentError('detect: the model is in training mode; call eval() first');
    const thr = opts.scoreThreshold ?? 0.5;
    const [h, w] = [x.size(2), x.size(3)];
    const { loc, scores, landms } = inferenceMode(() => {
      const out = this.forward(x);
      try {
        const s = tidy(() => out.conf.select(2, 1).contiguous());
        try {
          return { loc: out.loc.data() as Float32Array, scores: s.data() as Float32Array, landms: out.landms.data() as Float32Array };
        } finally {
          s.dispose();
        }
      } finally {
        out.loc.dispose();
        out.conf.dispose();
        out.landms.dispose();
      }
    });
    const priors = this.priors(h, w);
    // Candidates above the threshold, best first, at most topK.
    let idx: number[] = [];
    for (let i = 0; i < scores.length; i++) if (scores[i]! > thr) idx.push(i);
    idx.sort((a, b) => scores[b]! - scores[a]!);
    idx = idx.slice(0, opts.topK ?? 5000);
    const dec = decodeRetinaFace(loc, landms, priors, { width: w / scale, height: h / scale, indices: idx });
    const candScores = Float32Array.from(idx, (i) => scores[i]!);
    const keep = nms(dec.boxes, candScores, opts.nmsIou ?? 0.4, { offset: opts.nmsOffset ?? 1, sorted: true });
    return keep.slice(0, opts.keepTopK ?? 750).map((k) => {
      const b = dec.boxes.subarray(k * 4, k * 4 + 4);
      const l = dec.landmarks.subarray(k * 10, k * 10 + 10);
      return {
        box: [b[0]!, b[1]!, b[2]!, b[3]!],
        score: candScores[k]!,
        landmarks: [0, 1, 2, 3, 4].map((j) => [l[2 * j]!, l[2 * j + 1]!] as [number, number]),
      };
    });
  }
}

/** Anchors for an h x w input: [cx, cy, w, h] per anchor (normalised), in the network's output order. */
export function retinaFacePriors(h: number, w: number): Float32Array {
  let n = 0;
  const levels = RETINAFACE_STEPS.map((s, k) => {
    const rows = Math.ceil(h / s);
    const cols = Math.ceil(w / s);
    n += rows * cols * RETINAFACE_MIN_SIZES[k]!.length;
    return { s, rows, cols, sizes: RETINAFACE_MIN_SIZES[k]! };
  });
  const out = new Float32Array(n * 4);
  let o = 0;
  for (const { s, rows, cols, sizes } of levels) {
    for (let i = 0; i < rows; i++) {
      const cy = ((i + 0.5) * s) / h;
      for (let j = 0; j < cols; j++) {
        const cx = ((j + 0.5) * s) / w;
        for (const m of sizes) {
          out[o++] = cx;
          out[o++] = cy;
          out[o++] = m / w;
          out[o++] = m / h;
        }
      }
    }
  }
  return out;
}

/**
 * Decodes regressions against priors to pixels: boxes [x1, y1, x2, y2] and landmarks (5 x, y pairs),
 * scaled by width/height (the input size, or the original size to map back). `indices` picks anchors
 * (default: all); output row r belongs to anchor indices[r].
 */
export function decodeRetinaFace(
  loc: Float32Array,
  landms: Float32Array,
  priors: Float32Array,
  o: { width: number; height: number; indices?: readonly number[] },
): { boxes: Float32Array; landmarks: Float32Array } {
  const nAnchors = priors.length / 4;
  if (loc.length !== nAnchors * 4 || landms.length !== nAnchors * 10) {
    throw new ShapeError(
      `decodeRetinaFace: ${nAnchors} priors but ${loc.length / 4} box and ${landms.length / 10} landmark rows`,
    );
  }
  const [v0, v1] = RETINAFACE_VARIANCE;
  const { width: W, height: H } = o;
  const n = o.indices ? o.indices.length : nAnchors;
  const boxes = new Float32Array(n * 4);
  const landmarks = new Float32Array(n * 10);
  for (let r = 0; r < n; r++) {
    const a = o.indices ? o.indices[r]! : r;
    if (!(a >= 0 && a < nAnchors)) throw new ArgumentError(`decodeRetinaFace: anchor index ${a} out of range`);
    const pcx = priors[a * 4]!;
    const pcy = priors[a * 4 + 1]!;
    const pw = priors[a * 4 + 2]!;
    const ph = priors[a * 4 + 3]!;
    const cx = pcx + loc[a * 4]! * v0 * pw;
    const cy = pcy + loc[a * 4 + 1]! * v0 * ph;
    const bw = pw * Math.exp(loc[a * 4 + 2]! * v1);
    const bh = ph * Math.exp(loc[a * 4 + 3]! * v1);
    boxes[r * 4] = (cx - bw / 2) * W;
    boxes[r * 4 + 1] = (cy - bh / 2) * H;
    boxes[r * 4 + 2] = (cx + bw / 2) * W;
    boxes[r * 4 + 3] = (cy + bh / 2) * H;
    for (let p = 0; p < 5; p++) {
      landmarks[r * 10 + 2 * p] = (pcx + landms[a * 10 + 2 * p]! * v0 * pw) * W;
      landmarks[r * 10 + 2 * p + 1] = (pcy + landms[a * 10 + 2 * p + 1]! * v0 * ph) * H;
    }
  }
  return { boxes, landmarks };
}

/**
 * Greedy non-maximum suppression on the CPU. boxes: [x1, y1, x2, y2] per row. Returns kept row indices,
 * best score first. A box is suppressed when its IoU with a kept box exceeds iou. offset 1 counts
 * pixels inclusively as py_cpu_nms ((x2 - x1 + 1) widths). sorted: rows are already best first.
 */
export function nms(
  boxes: Float32Array,
  scores: Float32Array,
  iou: number,
  o: { offset?: number; sorted?: boolean } = {},
): number[] {
  const n = scores.length;
  if (boxes.length !== n * 4) throw new ShapeError(`nms: ${boxes.length / 4} boxes but ${n} scores`);
  const off = o.offset ?? 0;
  const order = Array.from({ length: n }, (_, i) => i);
  if (!o.sorted) order.sort((a, b) => scores[b]! - scores[a]!);
  const area = new Float64Array(n);
  for (let i = 0; i < n; i++)
    area[i] = (boxes[i * 4 + 2]! - boxes[i * 4]! + off) * (boxes[i * 4 + 3]! - boxes[i * 4 + 1]! + off);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi]!;
    if (suppressed[i]) continue;
    keep.push(i);
    const x1 = boxes[i * 4]!;
    const y1 = boxes[i * 4 + 1]!;
    const x2 = boxes[i * 4 + 2]!;
    const y2 = boxes[i * 4 + 3]!;
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj]!;
      if (suppressed[j]) continue;
      const iw = Math.min(x2, boxes[j * 4 + 2]!) - Math.max(x1, boxes[j * 4]!) + off;
      const ih = Math.min(y2, boxes[j * 4 + 3]!) - Math.max(y1, boxes[j * 4 + 1]!) + off;
      if (iw <= 0 || ih <= 0) continue;
      const inter = iw * ih;
      if (inter / (area[i]! + area[j]! - inter) > iou) suppressed[j] = 1;
    }
  }
  return keep;
}

/**
 * Raw 8-bit pixels to the network input [1, 3, H, W] (BGR minus the mean), optionally resized
 * (bilinear, as cv2.INTER_LINEAR) so the long side is longSide. scale = input size / original size.
 */
export function retinaFacePreprocess(img: RawImage, o: { longSide?: number } = {}): { x: Tensor; scale: number } {
  const { pixels, width, height, channels } = img;
  if (channels !== 3 && channels !== 4)
    throw new ArgumentError(`retinaFacePreprocess: channels must be 3 or 4, received ${channels}`);
  if (pixels.length !== width * height * channels)
    throw new ArgumentError(
      `retinaFacePreprocess: ${width}x${height}x${channels} needs ${width * height * channels} bytes but received ${pixels.length}`,
    );
  const u8 = pixels instanceof Uint8Array ? pixels : new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length);
  let scale = 1;
  const x = tidy(() => {
    const hwc = fromTypedArray(u8, [height, width, channels]);
    const bgrIdx = img.order === 'bgr' ? [0, 1, 2] : [2, 1, 0];
    const idx = tensor(bgrIdx, { dtype: 'int64' });
    let t = hwc.indexSelect(2, idx).permute(2, 0, 1).unsqueeze(0).float();
    if (o.longSide !== undefined) {
      scale = o.longSide / Math.max(width, height);
      const size: [number, number] = [Math.round(height * scale), Math.round(width * scale)];
      if (size[0] !== height || size[1] !== width) t = F.interpolate(t, { size, mode: 'bilinear' });
    }
    const mean = tensor([...RETINAFACE_MEAN_BGR]).view(1, 3, 1, 1);
    return t.sub(mean).contiguous();
  });
  return { x, scale };
}
