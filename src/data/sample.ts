// One dataset item loaded for training: decode (readImage), crop to the target aspect, resize, as
// float32 planar pixels in [0, 1], with its landmarks carried through the same geometry. Plain
// JavaScript and sharp only (no tensor layer), so it runs in the loader's worker threads.
//
// Resizing: 'area' (default) is computed here in JS with exactly PyTorch's F.interpolate(mode 'area')
// semantics (adaptive average pooling) on the 8-bit pixels, in float: no second 8-bit rounding,
// identical on every platform and libvips version, and the same convention as the degradation
// code's area down-sampling. 'lanczos3' goes through sharp (sharper, better for enlarging small
// real LR faces, but 8-bit and libvips-specific).
import sharp from 'sharp';
import { ArgumentError } from '../core/errors.js';
import { readImage, type ImageInfo } from './image.js';
import type { Landmarks, PlanarImage } from './augment.js';

/** One image of a dataset. Plain data: it crosses to worker threads by structured clone. */
export interface FaceItem {
  /** Path of the image file. */
  file: string;
  /** Identity label (person) where the set has one. */
  identity?: string;
  /** Interleaved x, y in continuous pixel coordinates of the file's upright image (see augment.ts). */
  landmarks?: Landmarks;
  /** Other labels (UTKFace age, gender, race; ...). */
  attributes?: Record<string, string | number>;
}

export type ResizeMode = 'area' | 'lanczos3';

export interface LoadOptions {
  /** Output size: n for n x n, or [height, width]. Omitted: the image's own size. */
  size?: number | readonly [number, number];
  /**
   * When the aspect ratio differs from the target: 'cover' (default) takes the largest centred
   * crop of the target's aspect and resizes it; 'fill' stretches.
   */
  fit?: 'cover' | 'fill';
  /** Resampling (default 'area'; see the file comment). */
  resize?: ResizeMode;
  /** Largest width*height accepted by the decoder (default: readImage's). */
  pixelLimit?: number;
}

export interface Sample {
  image: PlanarImage;
  landmarks?: Landmarks;
  file: string;
  identity?: string;
  /** What the file was (format, size, grayscale, ...). */
  info: ImageInfo;
}

/** [height, width] of a size option. */
export function sizeOf(size: number | readonly [number, number]): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  for (const [v, name] of [
    [h, 'size height'],
    [w, 'size width'],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new ArgumentError(`Expected positive integer for ${name} but received ${String(v)}`);
  }
  return [h, w];
}

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The centred crop of (width, height) with the aspect of (outW, outH): 'cover' framing. */
export function coverCrop(width: number, height: number, outW: number, outH: number): CropBox {
  if (width * outH > height * outW) {
    const cw = Math.max(1, Math.min(width, Math.round((height * outW) / outH)));
    return { left: Math.floor((width - cw) / 2), top: 0, width: cw, height };
  }
  const ch = Math.max(1, Math.min(height, Math.round((width * outH) / outW)));
  return { left: 0, top: Math.floor((height - ch) / 2), width, height: ch };
}

/**
 * Interleaved 8-bit pixels (HWC) -> float32 planar (CHW) in [0, 1], cropped and resized with
 * PyTorch's 'area' rule: output cell i averages input [floor(i*in/out), ceil((i+1)*in/out)).
 */
export function resizeAreaPlanar(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
  crop: CropBox = { left: 0, top: 0, width, height },
): PlanarImage {
  const out = new Float32Array(channels * outW * outH);
  const plane = outW * outH;
  const xs = bounds(crop.width, outW);
  const ys = bounds(crop.height, outH);
  const acc = new Float64Array(channels);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = ys[2 * oy]! + crop.top;
    const y1 = ys[2 * oy + 1]! + crop.top;
    for (let ox = 0; ox < outW; ox++) {
      const x0 = xs[2 * ox]! + crop.left;
      const x1 = xs[2 * ox + 1]! + crop.left;
      acc.fill(0);
      for (let y = y0; y < y1; y++) {
        let p = (y * width + x0) * channels;
        for (let x = x0; x < x1; x++) for (let c = 0; c < channels; c++) acc[c] += src[p++]!;
      }
      const scale = 1 / ((y1 - y0) * (x1 - x0) * 255);
      for (let c = 0; c < channels; c++) out[c * plane + oy * outW + ox] = acc[c]! * scale;
    }
  }
  return { data: out, width: outW, height: outH, channels };
}

function bounds(n: number, out: number): Int32Array {
  const b = new Int32Array(2 * out);
  for (let i = 0; i < out; i++) {
    b[2 * i] = Math.floor((i * n) / out);
    b[2 * i + 1] = Math.ceil(((i + 1) * n) / out);
  }
  return b;
}

/** Interleaved 8-bit HWC -> float32 planar CHW in [0, 1], no resize. */
export function toPlanar(src: Uint8Array, width: number, height: number, channels: number): PlanarImage {
  const out = new Float32Array(src.length);
  const plane = width * height;
  for (let i = 0, p = 0; i < plane; i++)
    for (let c = 0; c < channels; c++) out[c * plane + i] = src[p++]! / 255;
  return { data: out, width, height, channels };
}

/** Landmarks after a crop and resize to (outW, outH), continuous pixel coordinates: x' = (x - left) * outW / cropW. */
export function cropResizeLandmarks(lm: Landmarks, crop: CropBox, outW: number, outH: number): Landmarks {
  const sx = outW / crop.width;
  const sy = outH / crop.height;
  const out = new Float32Array(lm.length);
  for (let i = 0; i < lm.length; i += 2) {
    out[i] = (lm[i]! - crop.left) * sx;
    out[i + 1] = (lm[i + 1]! - crop.top) * sy;
  }
  return out;
}

/**
 * Reads one item: decode by content (readImage: orientation applied, 8-bit sRGB), crop to the target
 * aspect, resize, to float32 planar RGB in [0, 1]; landmarks follow. Throws ImageError naming the
 * file for anything unreadable.
 */
export async function loadSample(item: FaceItem, opts: LoadOptions = {}): Promise<Sample> {
  const img = await readImage(item.file, { pixelLimit: opts.pixelLimit });
  const { width, height, channels } = img;
  const [outH, outW] = opts.size === undefined ? [height, width] : sizeOf(opts.size);
  const crop =
    (opts.fit ?? 'cover') === 'cover'
      ? coverCrop(width, height, outW, outH)
      : { left: 0, top: 0, width, height };
  let image: PlanarImage;
  const mode = opts.resize ?? 'area';
  if (outW === width && outH === height) {
    image = toPlanar(img.data, width, height, channels);
  } else if (mode === 'area') {
    image = resizeAreaPlanar(img.data, width, height, channels, outW, outH, crop);
  } else if (mode === 'lanczos3') {
    const raw = await sharp(img.data, { raw: { width, height, channels } })
      .extract(crop)
      .resize(outW, outH, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer();
    image = toPlanar(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), outW, outH, channels);
  } else {
    throw new ArgumentError(`Expected one of 'area', 'lanczos3' for resize but received '${String(mode)}'`);
  }
  const out: Sample = { image, file: item.file, info: img.info };
  if (item.identity !== undefined) out.identity = item.identity;
  if (item.landmarks) {
    out.landmarks =
      outW === width && outH === height
        ? Float32Array.from(item.landmarks)
        : cropResizeLandmarks(item.landmarks, crop, outW, outH);
  }
  return out;
}
