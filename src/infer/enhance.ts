// The photo pipeline: decode -> detect -> frame each face as in training -> 16x16 -> R (batched) ->
// 64x64 -> resize to the face's size in the output -> paste back (feathered mask, colour matched).
import sharp from 'sharp';
import { ArgumentError, FacesrError } from '../core/errors.js';
import {
  type Box,
  type Detector,
  type Face,
  type Frame,
  type RgbImage,
  boxSide,
  cropFrame,
  frameBox,
  frameCrops,
  resizeSquare,
} from '../data/faces.js';
import {
  type DecodedImage,
  type OutputFormat,
  DEFAULT_PIXEL_LIMIT,
  ImageError,
  encodeImage,
  readImage,
} from '../data/image.js';
import { Tensor, cat, imageToTensor, inferenceMode, tensorToImage, tidy } from '../tensor/index.js';
import type { LoadedModel, Restoration } from '../models/index.js';

/** A restoration network, or a loaded model file (loadModel). */
export type RestorationModel = Restoration | LoadedModel;

/** Default largest face (box long side, native pixels) that is restored: R is x4 from 16 px. */
export const DEFAULT_MAX_FACE = 20;
/** Default smallest face restored (box long side, native pixels). */
export const DEFAULT_MIN_FACE = 8;

export interface EnhanceOptions {
  /** The restoration model (required unless dryRun). */
  model?: RestorationModel;
  /** Finds the faces (required unless `faces` is given). */
  detector?: Detector;
  /** Faces given by the caller instead of a detector (boxes in the photo's upright pixels). */
  faces?: Face[];
  /** Whole-photo up-scaling, classic Lanczos filter for the background (default 1). */
  scale?: 1 | 2 | 4;
  /** Faces whose box long side is under this are left as they are (default 8 px). */
  minSize?: number;
  /**
   * Faces whose box long side is over this are left as they are (default 20 px: R sees 16x16, and on
   * held-out faces it beats bicubic up-sampling of the face itself only up to a frame of about 16 px,
   * a 14-px box; at a 20-px box it is about 1.5 dB behind, more above).
   */
  maxSize?: number;
  /** Largest input and output in pixels (default the data layer's 100 MP); above: ImageError. */
  pixelLimit?: number;
  /** Faces through R at once (default 32). */
  batchSize?: number;
  /** Output format (default: the input's when JPEG, PNG or WebP, else PNG). */
  format?: OutputFormat;
  /** JPEG/WebP quality (default 92). */
  quality?: number;
  /** Encode the result (default true); false leaves `bytes` undefined. */
  encode?: boolean;
  /** Find faces and report only: no restoration, no output pixels. */
  dryRun?: boolean;
  /** Name of a Buffer input, for messages. */
  name?: string;
}

export interface FaceReport {
  index: number;
  /** Detector box [x1, y1, x2, y2] in the input photo's pixels. */
  box: Box;
  score: number;
  /** Box long side in native pixels. */
  nativeSize: number;
  /** The square cut (1.2x the box, as in training), in the input photo's pixels. */
  frame: Frame;
  restored: boolean;
  /** Why a face was left as it was. */
  skipped?: 'too-small' | 'too-large';
  /** Time spent on this face (its share of the batch through R, plus its paste), ms. */
  ms: number;
}

export interface EnhanceTimings {
  decode: number;
  detect: number;
  restore: number;
  paste: number;
  encode: number;
}

export interface EnhanceResult {
  /** The result's 8-bit RGB pixels (HWC; gray photos have R = G = B). Empty on a dry run. */
  data: Uint8Array;
  width: number;
  height: number;
  grayscale: boolean;
  format: OutputFormat;
  /** The encoded result (with the input's EXIF/ICC), unless encode was false or a dry run. */
  bytes?: Buffer;
  faces: FaceReport[];
  /** The restored crops at the model's output size (64x64), in the order of `faces` restored. */
  crops: RgbImage[];
  /** The decoded input. */
  input: DecodedImage;
  /** Seconds per stage. */
  timings: EnhanceTimings;
}

function netOf(model: RestorationModel): Restoration {
  return 'net' in model ? model.net : model;
}

const now = () => performance.now();

/**
 * Restores aligned 16x16 face crops with R in inference mode, `batchSize` at a time.
 * A Tensor [N, 3, 16, 16] in [-1, 1] gives a Tensor [N, 3, 64, 64] in [-1, 1] (the caller disposes
 * it); 8-bit RGB crops give 8-bit RGB crops of 64x64.
 * @throws ArgumentError for crops of another size or shape.
 */
export function restoreFaces(crops: Tensor, model: RestorationModel, o?: { batchSize?: number }): Tensor;
export function restoreFaces(
  crops: RgbImage[],
  model: RestorationModel,
  o?: { batchSize?: number },
): RgbImage[];
export function restoreFaces(
  crops: Tensor | RgbImage[],
  model: RestorationModel,
  o: { batchSize?: number } = {},
): Tensor | RgbImage[] {
  const net = netOf(model);
  const bs = Math.max(1, Math.floor(o.batchSize ?? 32));
  const inSize = 'info' in model ? model.info.inputSize : 16;
  if (crops instanceof Tensor) {
    const s = crops.shape;
    if (s.length !== 4 || s[1] !== 3)
      throw new ArgumentError(`restoreFaces: expected crops [N, 3, H, W] but received [${s.join(', ')}]`);
    return inferenceMode(() => {
      if (s[0]! <= bs) return net.forward(crops);
      return tidy(() => {
        const parts: Tensor[] = [];
        for (let i = 0; i < s[0]!; i += bs)
          parts.push(net.forward(crops.narrow(0, i, Math.min(bs, s[0]! - i))));
        return cat(parts, 0);
      });
    });
  }
  for (const [i, c] of crops.entries())
    if (c.width !== inSize || c.height !== inSize || c.data.length !== inSize * inSize * 3)
      throw new ArgumentError(
        `restoreFaces: crop ${i} is ${c.width}x${c.height} (${c.data.length} bytes); expected ${inSize}x${inSize} RGB`,
      );
  const device = net.parameters()[0]?.device ?? 'cpu';
  const out: RgbImage[] = [];
  for (let i = 0; i < crops.length; i += bs) {
    const part = crops.slice(i, i + bs);
    tidy(() =>
      inferenceMode(() => {
        const x = cat(
          part.map((c) =>
            imageToTensor(c.data, { width: inSize, height: inSize, channels: 3 }, { range: '-1,1', device }),
          ),
          0,
        );
        const y = net.forward(x).to({ device: 'cpu' });
        for (let k = 0; k < part.length; k++) {
          const img = tensorToImage(y.narrow(0, k, 1), { range: '-1,1' });
          out.push({ data: img.pixels, width: img.width, height: img.height });
        }
      }),
    );
  }
  return out;
}

/**
 * A square mask of side n that is 1 in the middle and falls to 0 at the border over `feather`
 * pixels (so the square's outermost pixels keep the background exactly).
 */
export function featherMask(n: number, feather = Math.max(1, Math.round(n * 0.12))): Float32Array {
  const ramp = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const d = Math.min(i, n - 1 - i); // 0 at the border
    ramp[i] = Math.min(1, d / feather);
  }
  const m = new Float32Array(n * n);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) m[y * n + x] = Math.min(ramp[y]!, ramp[x]!);
  return m;
}

/**
 * Matches a restored face's per-channel mean and standard deviation to a reference (the
 * up-sampled original region), weighted by the mask, so pasting shifts no colour. In place.
 */
export function matchColour(face: Uint8Array, ref: Uint8Array, mask: Float32Array, gray: boolean): void {
  const n = mask.length;
  const ch = gray ? 1 : 3;
  const lum = (px: Uint8Array, i: number) =>
    gray ? 0.299 * px[i * 3]! + 0.587 * px[i * 3 + 1]! + 0.114 * px[i * 3 + 2]! : 0;
  for (let c = 0; c < ch; c++) {
    const get = (px: Uint8Array, i: number) => (gray ? lum(px, i) : px[i * 3 + c]!);
    let w = 0;
    let sf = 0;
    let sr = 0;
    for (let i = 0; i < n; i++) {
      const m = mask[i]!;
      w += m;
      sf += m * get(face, i);
      sr += m * get(ref, i);
    }
    if (w <= 0) return;
    const mf = sf / w;
    const mr = sr / w;
    let vf = 0;
    let vr = 0;
    for (let i = 0; i < n; i++) {
      const m = mask[i]!;
      vf += m * (get(face, i) - mf) ** 2;
      vr += m * (get(ref, i) - mr) ** 2;
    }
    const sdF = Math.sqrt(vf / w);
    const sdR = Math.sqrt(vr / w);
    // A flat crop would blow up: keep the gain in [0.5, 2].
    const gain = sdF > 1e-3 ? Math.min(2, Math.max(0.5, sdR / sdF)) : 1;
    for (let i = 0; i < n; i++) {
      const v = Math.min(255, Math.max(0, Math.round((get(face, i) - mf) * gain + mr)));
      if (gray) face[i * 3] = face[i * 3 + 1] = face[i * 3 + 2] = v;
      else face[i * 3 + c] = v;
    }
  }
}

/** Pastes a square face (side f.size) into img at frame f through the mask; pixels with mask 0 stay exact. */
function paste(img: RgbImage, face: Uint8Array, f: Frame, mask: Float32Array): void {
  const { width: W, height: H, data } = img;
  const S = f.size;
  for (let r = 0; r < S; r++) {
    const y = f.y + r;
    if (y < 0 || y >= H) continue;
    for (let c = 0; c < S; c++) {
      const x = f.x + c;
      if (x < 0 || x >= W) continue;
      const m = mask[r * S + c]!;
      if (m <= 0) continue;
      const o = (y * W + x) * 3;
      const s = (r * S + c) * 3;
      for (let k = 0; k < 3; k++) data[o + k] = Math.round(data[o + k]! * (1 - m) + face[s + k]! * m);
    }
  }
}

/** Up-scales 8-bit pixels with sharp's Lanczos-3 filter. */
async function upscale(
  data: Uint8Array,
  w: number,
  h: number,
  channels: 1 | 3,
  s: number,
): Promise<Uint8Array> {
  let p = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    raw: { width: w, height: h, channels },
    limitInputPixels: false,
  }).resize(w * s, h * s, { kernel: 'lanczos3', fit: 'fill' });
  if (channels === 1) p = p.extractChannel(0); // sharp would hand back one band as sRGB
  const buf = await p.raw().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function outputFormat(img: DecodedImage, o: EnhanceOptions): OutputFormat {
  if (o.format) return o.format;
  const f = img.info.format;
  return f === 'jpeg' || f === 'png' || f === 'webp' ? f : 'png';
}

/**
 * Restores the small faces of a photo (a path or its bytes).
 * Faces whose box long side lies outside [minSize, maxSize] are left as they are and reported.
 * A grayscale photo stays grayscale; EXIF/ICC of the input are kept in `bytes`.
 * @throws ImageError for unreadable photos and photos over the pixel limit (input or scaled output);
 *   ArgumentError for bad options.
 */
export async function enhance(input: string | Buffer, o: EnhanceOptions = {}): Promise<EnhanceResult> {
  const scale = o.scale ?? 1;
  if (![1, 2, 4].includes(scale))
    throw new ArgumentError(`Expected 1, 2 or 4 for scale but received ${scale}`);
  const minSize = o.minSize ?? DEFAULT_MIN_FACE;
  const maxSize = o.maxSize ?? DEFAULT_MAX_FACE;
  if (!(minSize >= 0) || !(maxSize >= minSize))
    throw new ArgumentError(`Expected 0 <= minSize <= maxSize but received ${minSize} and ${maxSize}`);
  if (!o.dryRun && !o.model) throw new ArgumentError('enhance: give a model (loadModel) in options.model');
  if (!o.faces && !o.detector) throw new ArgumentError('enhance: give a detector or faces in the options');
  const pixelLimit = o.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  const t: EnhanceTimings = { decode: 0, detect: 0, restore: 0, paste: 0, encode: 0 };

  let t0 = now();
  const img = await readImage(input, { pixelLimit, ...(o.name ? { name: o.name } : {}) });
  const { width: W, height: H } = img;
  const outW = W * scale;
  const outH = H * scale;
  if (outW * outH > pixelLimit)
    throw new ImageError(
      img.source,
      `the x${scale} output would be ${outW}x${outH} (${((outW * outH) / 1e6).toFixed(1)} MP), above the limit of ${(pixelLimit / 1e6).toFixed(1)} MP; use a smaller --scale or raise --pixel-limit`,
    );
  const gray = img.info.isGrayscale;
  t.decode = (now() - t0) / 1000;

  t0 = now();
  const found = o.faces ?? (await o.detector!.detect(img));
  t.detect = (now() - t0) / 1000;
  const framing = o.detector?.framing ?? {};
  const faces: FaceReport[] = [];
  const todo: { report: FaceReport; crop: RgbImage }[] = [];
  for (const [index, f] of found.entries()) {
    const side = boxSide(f.box);
    if (!(f.box[2] > f.box[0] && f.box[3] > f.box[1])) continue;
    const frame = frameBox(f.box, W, H, framing);
    const report: FaceReport = {
      index,
      box: f.box.map((v) => Math.round(v * 100) / 100) as Box,
      score: Math.round(f.score * 1e4) / 1e4,
      nativeSize: Math.round(side * 100) / 100,
      frame,
      restored: false,
      ms: 0,
    };
    faces.push(report);
    if (side < minSize) report.skipped = 'too-small';
    else if (side > maxSize) report.skipped = 'too-large';
    else if (!o.dryRun) {
      // The training framing (facesr data harvest's code path), reduced with the filter of the model's
      // training LR: antialiased bicubic for a model trained on bicubic x4 (mode pixel), else area
      // averages as in the harvested real LR. A mismatched filter costs the pixel model 2 dB
      // (dev/measure_max_size.mjs).
      const down = o.model && 'info' in o.model && o.model.info.mode === 'pixel' ? 'bicubic' : 'area';
      const crop = frameCrops(img, frame, [16], { down }).resized.get(16)!;
      todo.push({ report, crop });
    }
  }
  const format = outputFormat(img, o);
  if (o.dryRun)
    return {
      data: new Uint8Array(0),
      width: outW,
      height: outH,
      grayscale: gray,
      format,
      faces,
      crops: [],
      input: img,
      timings: t,
    };

  t0 = now();
  let crops: RgbImage[] = [];
  if (todo.length > 0) {
    const inSize = 'info' in o.model! ? o.model.info.inputSize : 16;
    const input16 =
      inSize === 16
        ? todo.map((x) => x.crop)
        : todo.map((x) => resizeSquare(cropFrame(img, x.report.frame), inSize));
    crops = restoreFaces(input16, o.model!, { batchSize: o.batchSize });
  }
  t.restore = (now() - t0) / 1000;
  const share = todo.length ? (t.restore * 1000) / todo.length : 0;

  t0 = now();
  const out: RgbImage = {
    data: scale === 1 ? img.data.slice() : await upscale(img.data, W, H, 3, scale),
    width: outW,
    height: outH,
  };
  for (const [k, { report }] of todo.entries()) {
    const f0 = now();
    const f = report.frame;
    const sf: Frame = { x: f.x * scale, y: f.y * scale, size: f.size * scale, padded: f.padded };
    const face = resizeSquare(crops[k]!, sf.size).data;
    const mask = featherMask(sf.size);
    // Reference colours: the (Lanczos up-sampled) original under the frame.
    matchColour(face, cropFrame(out, sf).data, mask, gray);
    paste(out, face, sf, mask);
    report.restored = true;
    report.ms = Math.round((share + now() - f0) * 100) / 100;
  }
  if (gray) {
    // Restored faces were matched in luminance: R = G = B everywhere.
    const d = out.data;
    for (let i = 0; i < d.length; i += 3) d[i + 1] = d[i + 2] = d[i]!;
  }
  t.paste = (now() - t0) / 1000;

  let bytes: Buffer | undefined;
  if (o.encode ?? true) {
    t0 = now();
    let alpha = img.alpha;
    if (alpha && scale !== 1) alpha = await upscale(alpha, W, H, 1, scale);
    try {
      bytes = await encodeImage(
        { data: out.data, width: outW, height: outH, channels: 3 },
        {
          format,
          grayscale: gray,
          metadataFrom: img.bytes,
          ...(alpha ? { alpha } : {}),
          ...(o.quality ? { quality: o.quality } : {}),
        },
      );
    } catch (err) {
      throw new FacesrError(`${img.source}: cannot encode the result (${(err as Error).message})`, {
        cause: err,
      });
    }
    t.encode = (now() - t0) / 1000;
  }
  return {
    ...out,
    grayscale: gray,
    format,
    ...(bytes ? { bytes } : {}),
    faces,
    crops,
    input: img,
    timings: t,
  };
}
