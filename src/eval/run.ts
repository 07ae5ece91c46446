// The synthetic-LR protocol of `facesr eval` (method.md section 5): held-out HR face crops, LR made
// from them by a seeded degradation, each method restores the LR, scored against the HR.
//
// - HR: each file decoded, centre-cropped to a square and resized to 64x64 with PyTorch's 'area'
//   rule (loadSample, as training does), then quantised to 8 bits: the HR *image* all scores use.
// - LR: makeDegradation(preset, { seed }) on the HR batch in [-1, 1] (the record of face i depends only
//   on the seed and i), then quantised to 8 bits (an LR image, as a user would give one).
// - methods: 'bicubic' = F.interpolate(lr, x4, mode 'bicubic', align_corners False) (PyTorch's
//   a = -0.75 kernel, no antialias), clamped; 'model' = the shipped default model; anything else =
//   a model file. Outputs are quantised to 8 bits ((x + 1) * 127.5, rounded, clamped) before scoring.
// - per face: PSNR, SSIM (RGB and BT.601 Y, metrics.ts), identity cosine and distance (identity.ts),
//   landmark NME of an independent 68-point net, restored vs HR (landmarks.ts).
// - summary per method: mean, 95% Student-t interval, n; and the paired difference to bicubic.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError } from '../core/errors.js';
import { loadSample, makeDegradation, resize, type DegradationPreset } from '../data/index.js';
import { loadModel, type LoadedModel } from '../models/modelfile.js';
import { fromTypedArray, inferenceMode, tidy, type Tensor } from '../tensor/index.js';
import { IdentityNet, cosine, euclidean } from './identity.js';
import { LandmarkNet, nme } from './landmarks.js';
import { qualityScores, type Image8, type QualityScores } from './metrics.js';
import { appendProgress, readProgress, startProgress } from './progress.js';
import { summarize, type Summary } from './stats.js';

export const HR_SIZE = 64;
export const SCALE = 4;
const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|tiff?|gif|avif)$/i;

/** Image files of a folder (sorted by name, not recursive). */
export function listImages(dir: string, option = '--hr'): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ArgumentError(`${option}: ${dir} is not a folder`);
  return readdirSync(dir)
    .filter((f) => IMAGE_EXT.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** A list file: one path a line (blank lines and # comments skipped); relative paths from the file's folder. */
export function readList(file: string): string[] {
  if (!existsSync(file)) throw new ArgumentError(`--list: ${file} does not exist`);
  const base = path.dirname(path.resolve(file));
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => path.resolve(base, l));
}

/** n items spread evenly over the list (all of it when n >= its length), order kept. */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

/** An HR face: the file as a size x size 8-bit RGB image (area resize of the centred square). */
export async function loadHr(file: string, size = HR_SIZE): Promise<Image8> {
  const s = await loadSample({ file }, { size, resize: 'area' });
  const { data, width, height } = s.image;
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++)
    for (let c = 0; c < 3; c++) {
      const v = Math.round(data[c * plane + i]! * 255);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  return { data: out, width, height, channels: 3 };
}

/** 8-bit HWC images -> [N, 3, H, W] float32 in [-1, 1]. */
export function imagesToTensor(images: readonly Image8[]): Tensor {
  const { width: w, height: h } = images[0]!;
  const plane = w * h;
  const arr = new Float32Array(images.length * 3 * plane);
  images.forEach((img, n) => {
    const base = n * 3 * plane;
    for (let i = 0; i < plane; i++)
      for (let c = 0; c < 3; c++) arr[base + c * plane + i] = img.data[i * 3 + c]! / 127.5 - 1;
  });
  return fromTypedArray(arr, [images.length, 3, h, w]);
}

/** [N, 3, H, W] in [-1, 1] -> 8-bit HWC images: (x + 1) * 127.5, rounded, clamped (BasicSR's tensor2img). */
export function tensorToImages(x: Tensor): Image8[] {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const bytes = tidy(() => {
    const u8 = x.detach().add(1).mul(127.5).round().clamp(0, 255).to({ dtype: 'uint8' });
    return u8.permute(0, 2, 3, 1).contiguous();
  });
  let all: Uint8Array;
  try {
    all = bytes.bytes();
  } finally {
    bytes.dispose();
  }
  const per = h * w * c;
  return Array.from({ length: n }, (_, i) => ({
    data: all.slice(i * per, (i + 1) * per),
    width: w,
    height: h,
    channels: c,
  }));
}

/** A way of turning LR [N, 3, 16, 16] in [-1, 1] into SR [N, 3, 64, 64]. */
export interface Method {
  name: string;
  /** What it is, for the report. */
  description: string;
  restore(lr: Tensor): Tensor;
  dispose(): void;
}

/** A batch of LR faces [N, 3, 16, 16] restored by each method, as 8-bit images (one list per method). */
export function restoreWith(methods: readonly Pick<Method, 'restore'>[], lr: Tensor): Image8[][] {
  return methods.map((m) => {
    const sr = inferenceMode(() => m.restore(lr));
    try {
      return tensorToImages(sr);
    } finally {
      sr.dispose();
    }
  });
}

export function bicubicMethod(): Method {
  return {
    name: 'bicubic',
    description:
      "x4 bicubic up-sampling: F.interpolate(mode='bicubic', align_corners=False, antialias=False), clamped",
    restore: (lr) =>
      tidy(() => {
        const [, , h, w] = lr.shape as [number, number, number, number];
        return resize(lr, [h * SCALE, w * SCALE], { mode: 'bicubic', antialias: false }).clamp(-1, 1);
      }),
    dispose: () => undefined,
  };
}

export function modelMethod(m: LoadedModel, name: string): Method {
  return {
    name,
    description: `restoration model ${m.name ?? m.file} (${JSON.stringify(m.info.arch)})`,
    restore: (lr) => m.net.forward(lr),
    dispose: () => m.net.dispose(),
  };
}

/** Methods from the --methods list: bicubic, model (shipped default), or model files. */
export async function makeMethods(specs: readonly string[]): Promise<Method[]> {
  const out: Method[] = [];
  const names = new Set<string>();
  try {
    for (const spec of specs) {
      let m: Method;
      if (spec === 'bicubic') m = bicubicMethod();
      else if (spec === 'model') m = modelMethod(await loadModel(), 'model');
      else {
        const loaded = await loadModel(spec);
        let name = path.basename(spec).replace(/\.safetensors$/, '');
        if (name === 'model') name = path.basename(path.dirname(path.resolve(spec))) || spec;
        m = modelMethod(loaded, name);
      }
      while (names.has(m.name)) m.name += "'";
      names.add(m.name);
      out.push(m);
    }
  } catch (err) {
    for (const m of out) m.dispose();
    throw err;
  }
  return out;
}

export interface EvalOptions {
  files: readonly string[];
  degrade: DegradationPreset;
  methods: readonly Method[];
  seed?: number;
  /** Faces per batch through the models (default 64). */
  batch?: number;
  /** Compute identity similarity (default true). */
  identity?: boolean;
  /** Compute the landmark NME of face-api's 68-point net, restored vs HR (default true). */
  landmarks?: boolean;
  /** crop_border for PSNR/SSIM (default 0). */
  cropBorder?: number;
  /** Faces kept (as images) for the report's grid (default 8, spread over the set). */
  gridFaces?: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * A JSON-lines file the per-face scores are appended to after each batch (first line: what is
   * being measured). With `resume`, faces already there are not measured again (the same protocol
   * is checked) and the run continues after them; without it the file is started afresh.
   */
  progressFile?: string;
  resume?: boolean;
}

export interface FaceScores extends QualityScores {
  identity_cosine?: number;
  /** Euclidean distance of the same descriptors (dlib's convention: same person below about 0.6). */
  identity_distance?: number;
  /** Landmark NME (%) of face-api's 68-point net on the restored face against its landmarks on the HR face. */
  landmark_nme?: number;
}

export interface MethodResult {
  name: string;
  description: string;
  faces: number;
  psnr: Summary;
  psnr_y: Summary;
  ssim: Summary;
  ssim_y: Summary;
  identity_cosine?: Summary;
  identity_distance?: Summary;
  landmark_nme?: Summary;
  /** Paired difference (this method - bicubic) per face, when bicubic is among the methods. */
  vs_bicubic?: Record<string, Summary>;
}

export interface EvalResult {
  protocol: Record<string, unknown>;
  methods: MethodResult[];
  /** Per face, per method. */
  faces: { file: string; scores: Record<string, FaceScores> }[];
  /** Images for the grid: LR (8-bit, small), each method's output, HR. */
  grid: { file: string; lr: Image8; outputs: Image8[]; hr: Image8 }[];
  seconds: number;
}

const METRICS = [
  'psnr',
  'psnr_y',
  'ssim',
  'ssim_y',
  'identity_cosine',
  'identity_distance',
  'landmark_nme',
] as const;

/** Runs the protocol; methods are not disposed. */
export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const t0 = Date.now();
  const files = o.files;
  if (files.length === 0) throw new ArgumentError('eval: no HR faces to evaluate');
  if (o.methods.length === 0) throw new ArgumentError('eval: no methods');
  const batch = o.batch ?? 64;
  const seed = o.seed ?? 0;
  const cropBorder = o.cropBorder ?? 0;
  const deg = makeDegradation(o.degrade, { seed, range: '-1,1' });
  const idNet = o.identity === false ? null : await IdentityNet.load();
  const lmNet = o.landmarks === false ? null : await LandmarkNet.load();
  const gridIdx = new Set(spread([...files.keys()], o.gridFaces ?? 8));
  const header = {
    kind: 'facesr-eval-progress/1',
    faces: createHash('sha256').update(files.join('\n')).digest('hex'),
    degrade: o.degrade,
    seed,
    methods: o.methods.map((m) => [m.name, m.description]),
    cropBorder,
    identity: Boolean(idNet),
    landmarks: Boolean(lmNet),
  };
  const faces: EvalResult['faces'] = [];
  if (o.progressFile) {
    if (o.resume) faces.push(...readProgress<EvalResult['faces'][number]>(o.progressFile, header, files));
    // rewrite the kept part (drops a half-written last line)
    startProgress(o.progressFile, header, faces);
  }
  const start = faces.length;
  if (start > 0) {
    deg.sample(start, [HR_SIZE, HR_SIZE]); // the generator where the first run left it
    o.onProgress?.(start, files.length);
  }
  const grid: EvalResult['grid'] = [];
  for (let s = start; s < files.length; s += batch) {
    const part = files.slice(s, s + batch);
    const hr = await Promise.all(part.map((f) => loadHr(f)));
    const hrT = imagesToTensor(hr);
    let lrT: Tensor;
    let lr8: Image8[];
    try {
      const { lr } = await deg.degrade(hrT);
      try {
        lr8 = tensorToImages(lr);
      } finally {
        lr.dispose();
      }
      lrT = imagesToTensor(lr8);
    } finally {
      hrT.dispose();
    }
    let outs: Image8[][];
    try {
      outs = restoreWith(o.methods, lrT);
    } finally {
      lrT.dispose();
    }
    const hrDesc = idNet ? await idNet.descriptors(hr) : null;
    const cos: number[][] = [];
    const dist: number[][] = [];
    if (idNet && hrDesc) {
      for (const out of outs) {
        const d = await idNet.descriptors(out);
        cos.push(d.map((v, i) => cosine(v, hrDesc[i]!)));
        dist.push(d.map((v, i) => euclidean(v, hrDesc[i]!)));
      }
    }
    const lmErr: number[][] = [];
    if (lmNet) {
      const ref = await lmNet.landmarks(hr);
      for (const out of outs) {
        const p = await lmNet.landmarks(out);
        lmErr.push(p.map((v, i) => nme(v, ref[i]!)));
      }
    }
    const added = faces.length;
    part.forEach((file, i) => {
      const scores: Record<string, FaceScores> = {};
      o.methods.forEach((m, k) => {
        const q: FaceScores = qualityScores(outs[k]![i]!, hr[i]!, cropBorder);
        if (idNet) {
          q.identity_cosine = cos[k]![i]!;
          q.identity_distance = dist[k]![i]!;
        }
        if (lmNet) q.landmark_nme = lmErr[k]![i]!;
        scores[m.name] = q;
      });
      faces.push({ file, scores });
      if (gridIdx.has(s + i)) grid.push({ file, lr: lr8[i]!, outputs: outs.map((x) => x[i]!), hr: hr[i]! });
    });
    if (o.progressFile) appendProgress(o.progressFile, faces.slice(added));
    o.onProgress?.(Math.min(s + batch, files.length), files.length);
  }
  const methods: MethodResult[] = o.methods.map((m) => {
    const col = (k: (typeof METRICS)[number], name = m.name) => faces.map((f) => f.scores[name]![k]!);
    const r: MethodResult = {
      name: m.name,
      description: m.description,
      faces: faces.length,
      psnr: summarize(col('psnr')),
      psnr_y: summarize(col('psnr_y')),
      ssim: summarize(col('ssim')),
      ssim_y: summarize(col('ssim_y')),
    };
    if (idNet) {
      r.identity_cosine = summarize(col('identity_cosine'));
      r.identity_distance = summarize(col('identity_distance'));
    }
    if (lmNet) r.landmark_nme = summarize(col('landmark_nme'));
    if (m.name !== 'bicubic' && o.methods.some((x) => x.name === 'bicubic')) {
      r.vs_bicubic = {};
      for (const k of METRICS) {
        if (k.startsWith('identity') && !idNet) continue;
        if (k === 'landmark_nme' && !lmNet) continue;
        const a = col(k);
        const b = col(k, 'bicubic');
        r.vs_bicubic[k] = summarize(a.map((v, i) => v - b[i]!));
      }
    }
    return r;
  });
  const protocol = {
    hr: `${HR_SIZE}x${HR_SIZE}: centred square of each file, area resize (PyTorch 'area'), 8-bit`,
    degradation: o.degrade,
    seed,
    lr: `${HR_SIZE / SCALE}x${HR_SIZE / SCALE}, quantised to 8 bits`,
    outputs: 'quantised to 8 bits before scoring',
    psnr_ssim:
      'BasicSR conventions: 8-bit, peak 255; Y = BT.601 studio-range luma (16-235); SSIM 11x11 Gaussian sigma 1.5, valid filtering',
    crop_border: cropBorder,
    identity_cosine: idNet
      ? `cosine of 128-d descriptors, restored vs HR, by ${idNet.name} (input resized to 150x150 by face-api)`
      : 'not computed',
    identity_distance: idNet
      ? 'Euclidean distance of the same descriptors, restored vs HR (dlib convention: same person below about 0.6)'
      : 'not computed',
    landmark_nme: lmNet
      ? `NME (%) of ${lmNet.name} on the restored face against its own landmarks on the HR face, over the HR outer-eye-corner distance (points 36-45)`
      : 'not computed',
    interval:
      '95% Student-t confidence interval of the mean over faces (mean -/+ t(0.975, n-1) sd / sqrt(n))',
    vs_bicubic: 'paired per-face difference (method - bicubic), same interval',
  };
  return { protocol, methods, faces, grid, seconds: (Date.now() - t0) / 1000 };
}
