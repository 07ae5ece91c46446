// Face geometry: the detector interface, IoU, the similarity transform to the canonical 5-point
// template, aligned crops (affine grid + bilinear sampling) and the square framing of the HR
// training crops for box-only faces, cut at native resolution.
//
// Coordinates are continuous pixel coordinates: pixel (i, j) covers [j, j+1) x [i, i+1), so an
// image of width W spans [0, W] and the centre of its first pixel is at 0.5. This is the convention
// of align_corners=false resampling (F.interpolate, F.grid_sample), so resizing an image by s maps
// a point p to s*p exactly.
import { ArgumentError } from '../core/errors.js';
import { checkInt } from '../core/check.js';
import { F, imageToTensor, tensorToImage, tensor, tidy } from '../tensor/index.js';

export type Point = [number, number];
/** [x1, y1, x2, y2] in continuous pixel coordinates. */
export type Box = [number, number, number, number];

export interface Face {
  box: Box;
  /** Detector confidence in [0, 1] (1 for boxes given by the user). */
  score: number;
  /** Left eye, right eye, nose, left mouth corner, right mouth corner (image orientation). */
  landmarks?: Point[];
}

/** 8-bit RGB pixels, HWC. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface Detector {
  readonly name: string;
  /**
   * How this detector's boxes map to the HR training framing (frameBox options); default
   * BOX_FRAMING, which fits RetinaFace and WIDER FACE boxes.
   */
  readonly framing?: FrameOptions;
  /** Faces in the image, best first. */
  detect(img: RgbImage): Promise<Face[]>;
  /** Frees what the detector holds (weights, native memory). */
  dispose?(): void;
}

/** Intersection over union of two boxes (0 when either is empty). */
export function iou(a: Box | readonly number[], b: Box | readonly number[]): number {
  const iw = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!);
  const ih = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return union > 0 ? inter / union : 0;
}

/** The longer side of a box. */
export function boxSide(b: Box | readonly number[]): number {
  return Math.max(b[2]! - b[0]!, b[3]! - b[1]!);
}

// ---- 2-d affine maps ----

/** Row-major 2x3 matrix [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f. */
export type Affine = [number, number, number, number, number, number];

export function applyAffine(m: Affine | readonly number[], p: readonly number[]): Point {
  return [m[0]! * p[0]! + m[1]! * p[1]! + m[2]!, m[3]! * p[0]! + m[4]! * p[1]! + m[5]!];
}

/** The inverse map; throws ArgumentError for a singular matrix. */
export function invertAffine(m: Affine | readonly number[]): Affine {
  const [a, b, c, d, e, f] = m as Affine;
  const det = a * e - b * d;
  if (!(Math.abs(det) > 1e-12)) throw new ArgumentError(`invertAffine: singular matrix [${m.join(', ')}]`);
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** m2 after m1 (apply m1 first). */
export function composeAffine(m2: Affine, m1: Affine): Affine {
  return [
    m2[0] * m1[0] + m2[1] * m1[3],
    m2[0] * m1[1] + m2[1] * m1[4],
    m2[0] * m1[2] + m2[1] * m1[5] + m2[2],
    m2[3] * m1[0] + m2[4] * m1[3],
    m2[3] * m1[1] + m2[4] * m1[4],
    m2[3] * m1[2] + m2[4] * m1[5] + m2[5],
  ];
}

export interface Similarity {
  /** src -> dst. */
  matrix: Affine;
  scale: number;
  /** Rotation in radians (counter-clockwise in x-right, y-down image axes is clockwise on screen). */
  rotation: number;
  /** Root-mean-square distance between the mapped src points and dst. */
  rmse: number;
}

/**
 * Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping src onto
 * dst: Umeyama's closed form, which in 2-d is exact and needs no SVD. Throws ArgumentError when the
 * point lists differ in length, have fewer than 2 points, or src has no spread.
 */
export function similarityTransform(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  if (n !== dst.length || n < 2)
    throw new ArgumentError(
      `similarityTransform: expected two lists of the same length >= 2 but received ${n} and ${dst.length} points`,
    );
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]![0];
    sy += src[i]![1];
    dx += dst[i]![0];
    dy += dst[i]![1];
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let a = 0;
  let b = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - sx;
    const py = src[i]![1] - sy;
    const qx = dst[i]![0] - dx;
    const qy = dst[i]![1] - dy;
    a += px * qx + py * qy;
    b += px * qy - py * qx;
    v += px * px + py * py;
  }
  if (!(v > 1e-12)) throw new ArgumentError('similarityTransform: source points all coincide');
  const c = a / v; // scale * cos
  const s = b / v; // scale * sin
  const matrix: Affine = [c, -s, dx - (c * sx - s * sy), s, c, dy - (s * sx + c * sy)];
  let err = 0;
  for (let i = 0; i < n; i++) {
    const [x, y] = applyAffine(matrix, src[i]!);
    err += (x - dst[i]![0]) ** 2 + (y - dst[i]![1]) ** 2;
  }
  return { matrix, scale: Math.hypot(c, s), rotation: Math.atan2(s, c), rmse: Math.sqrt(err / n) };
}

// ---- the canonical framing ----

/**
 * Canonical 5-point template of the HR training crops (shared/data/hr/celeba), as fractions of the
 * square crop: left eye, right eye, nose, left and right mouth corner. Measured by
 * dev/measure_template.mjs: RetinaFace MobileNet-0.25 on 300 HR crops (every 53rd file, 128x128
 * upscaled to 256 bilinear; 299 with a face), mean landmark position in continuous coordinates.
 * Per-point standard deviations: eyes 0.012-0.015, nose 0.044 x / 0.034 y, mouth 0.015-0.024.
 */
export const FACE_TEMPLATE_5: readonly Point[] = Object.freeze([
  [0.3658, 0.4406],
  [0.6333, 0.4414],
  [0.4969, 0.612],
  [0.3832, 0.732],
  [0.6154, 0.7326],
] as Point[]);

/**
 * Framing of a detector box (RetinaFace, or a WIDER FACE ground-truth box, which agree: median
 * RetinaFace/WIDER long-side ratio 0.98 on 76 matched faces >= 24 px) into the HR training framing:
 * a square `scale` x the box's long side, centred on the box shifted by `shiftY` x the long side.
 * Measured by dev/measure_template.mjs on the HR crops: RetinaFace boxes are 0.59 x 0.83 of the crop
 * (crop / long side: mean 1.209, median 1.204) with their centre 0.028 crops below the crop's centre
 * (-0.034 long sides). shared/data/README.md says "about 1.3x" for WIDER boxes; 1.2 is what the
 * data shows.
 */
export const BOX_FRAMING = Object.freeze({ scale: 1.2, shiftY: -0.034 });

/** A square window of an image at native resolution; may reach outside the image. */
export interface Frame {
  /** Top-left corner (integers, may be negative). */
  x: number;
  y: number;
  /** Side in pixels (integer >= 1). */
  size: number;
  /** True when part of the square lies outside the image (the crop is padded there). */
  padded: boolean;
}

export interface FrameOptions {
  /** Square side / box long side (default BOX_FRAMING.scale). */
  scale?: number;
  /** Centre offset down, in box long sides (default BOX_FRAMING.shiftY). */
  shiftY?: number;
}

function squareFrame(cx: number, cy: number, side: number, imgW: number, imgH: number): Frame {
  const size = Math.max(1, Math.round(side));
  const x = Math.round(cx - size / 2);
  const y = Math.round(cy - size / 2);
  return { x, y, size, padded: x < 0 || y < 0 || x + size > imgW || y + size > imgH };
}

function checkSize(w: number, h: number, op: string): void {
  checkInt(w, `${op}: image width`, 1);
  checkInt(h, `${op}: image height`, 1);
}

/**
 * The square native-resolution frame of a box-only face: `scale` x the box's long side, centred on
 * the box (shifted by shiftY long sides), on the integer pixel grid. Defaults: BOX_FRAMING.
 * Parts outside the image are reported by `padded` (cropFrame pads them).
 */
export function frameBox(
  box: Box | readonly number[],
  imgW: number,
  imgH: number,
  o: FrameOptions = {},
): Frame {
  checkSize(imgW, imgH, 'frameBox');
  const [x1, y1, x2, y2] = box as Box;
  if (!(x2 > x1 && y2 > y1)) throw new ArgumentError(`frameBox: empty box [${box.join(', ')}]`);
  const side = boxSide(box);
  const scale = o.scale ?? BOX_FRAMING.scale;
  if (!(scale > 0)) throw new ArgumentError(`frameBox: scale must be positive, received ${scale}`);
  const cy = (y1 + y2) / 2 + (o.shiftY ?? BOX_FRAMING.shiftY) * side;
  return squareFrame((x1 + x2) / 2, cy, scale * side, imgW, imgH);
}

/**
 * The native-resolution square where the 5 landmarks would sit on FACE_TEMPLATE_5 (rotation
 * ignored: the square stays axis-aligned, its side and centre are those of the aligned crop).
 */
export function frameLandmarks(
  landmarks: readonly Point[],
  imgW: number,
  imgH: number,
  template: readonly Point[] = FACE_TEMPLATE_5,
): Frame {
  checkSize(imgW, imgH, 'frameLandmarks');
  // Template in a unit square -> image; the unit square's side and centre in the image.
  const sim = similarityTransform(template, landmarks);
  const [cx, cy] = applyAffine(sim.matrix, [0.5, 0.5]);
  return squareFrame(cx, cy, sim.scale, imgW, imgH);
}

/** The part of a frame inside the image: [x0, y0, x1, y1) in pixels (empty when disjoint). */
export function frameInside(f: Frame, imgW: number, imgH: number): [number, number, number, number] {
  return [Math.max(0, f.x), Math.max(0, f.y), Math.min(imgW, f.x + f.size), Math.min(imgH, f.y + f.size)];
}

/**
 * Copies a frame out of an image at native resolution. Outside the image it repeats the edge
 * pixels ('replicate', default) or writes black ('zeros').
 */
export function cropFrame(img: RgbImage, f: Frame, o: { pad?: 'replicate' | 'zeros' } = {}): RgbImage {
  checkSize(img.width, img.height, 'cropFrame');
  const { width: W, height: H, data } = img;
  if (data.length !== W * H * 3)
    throw new ArgumentError(`cropFrame: ${W}x${H} RGB needs ${W * H * 3} bytes but received ${data.length}`);
  const S = f.size;
  const out = new Uint8Array(S * S * 3);
  const replicate = (o.pad ?? 'replicate') === 'replicate';
  for (let r = 0; r < S; r++) {
    let sy = f.y + r;
    if (sy < 0 || sy >= H) {
      if (!replicate) continue;
      sy = Math.min(H - 1, Math.max(0, sy));
    }
    const rowOut = r * S * 3;
    const rowIn = sy * W * 3;
    // Inside columns in one copy; padded columns one by one.
    const c0 = Math.max(0, -f.x);
    const c1 = Math.min(S, W - f.x);
    if (c1 > c0) out.set(data.subarray(rowIn + (f.x + c0) * 3, rowIn + (f.x + c1) * 3), rowOut + c0 * 3);
    if (!replicate) continue;
    for (let c = 0; c < S; c++) {
      if (c >= c0 && c < c1) continue;
      const sx = Math.min(W - 1, Math.max(0, f.x + c));
      out[rowOut + c * 3] = data[rowIn + sx * 3]!;
      out[rowOut + c * 3 + 1] = data[rowIn + sx * 3 + 1]!;
      out[rowOut + c * 3 + 2] = data[rowIn + sx * 3 + 2]!;
    }
  }
  return { data: out, width: S, height: S };
}

/**
 * Resizes an RGB image to width x height with bilinear filtering (align_corners=false; antialiased
 * when shrinking), e.g. to upscale a photo before detection.
 */
export function resizeImage(img: RgbImage, width: number, height: number): RgbImage {
  checkInt(width, 'width', 1);
  checkInt(height, 'height', 1);
  if (img.width === width && img.height === height) return { data: img.data.slice(), width, height };
  const shrink = width < img.width || height < img.height;
  const out = tidy(() => {
    const x = imageToTensor(img.data, { width: img.width, height: img.height, channels: 3 });
    return tensorToImage(F.interpolate(x, { size: [height, width], mode: 'bilinear', antialias: shrink }));
  });
  return { data: out.pixels, width, height };
}

/** A rectangle of an image: [x, y) to [x + w, y + h). */
export interface Tile {
  x: number;
  y: number;
  w: number;
  h: number;
}

function tileStarts(len: number, tile: number, overlap: number): number[] {
  if (len <= tile) return [0];
  const n = Math.ceil((len - overlap) / (tile - overlap));
  const step = (len - tile) / (n - 1);
  return Array.from({ length: n }, (_, i) => Math.round(i * step));
}

/**
 * Tiles of at most tile x tile pixels covering a width x height image, neighbours overlapping by at
 * least `overlap` pixels (so any object up to `overlap` pixels lies wholly inside some tile).
 */
export function tileGrid(width: number, height: number, tile: number, overlap: number): Tile[] {
  checkSize(width, height, 'tileGrid');
  checkInt(tile, 'tile', 1);
  checkInt(overlap, 'overlap', 0);
  if (overlap >= tile)
    throw new ArgumentError(`tileGrid: overlap ${overlap} must be below the tile size ${tile}`);
  const out: Tile[] = [];
  for (const y of tileStarts(height, tile, overlap))
    for (const x of tileStarts(width, tile, overlap))
      out.push({ x, y, w: Math.min(tile, width - x), h: Math.min(tile, height - y) });
  return out;
}

/** Copies a rectangle out of an RGB image (it must lie inside). */
export function cutTile(img: RgbImage, t: Tile): RgbImage {
  if (t.x < 0 || t.y < 0 || t.x + t.w > img.width || t.y + t.h > img.height || t.w < 1 || t.h < 1)
    throw new ArgumentError(
      `cutTile: tile ${t.w}x${t.h} at (${t.x}, ${t.y}) is not inside the ${img.width}x${img.height} image`,
    );
  const data = new Uint8Array(t.w * t.h * 3);
  for (let r = 0; r < t.h; r++) {
    const start = ((t.y + r) * img.width + t.x) * 3;
    data.set(img.data.subarray(start, start + t.w * 3), r * t.w * 3);
  }
  return { data, width: t.w, height: t.h };
}

/**
 * Whether a box found in a tile touches one of the tile's edges that is inside the image (within
 * `margin` pixels): such a face may be cut off and is better taken from a neighbouring tile.
 */
export function touchesInnerEdge(box: Box, t: Tile, imgW: number, imgH: number, margin = 2): boolean {
  return (
    (t.x > 0 && box[0] <= t.x + margin) ||
    (t.y > 0 && box[1] <= t.y + margin) ||
    (t.x + t.w < imgW && box[2] >= t.x + t.w - margin) ||
    (t.y + t.h < imgH && box[3] >= t.y + t.h - margin)
  );
}

/** Greedy non-maximum suppression of faces (best score first; IoU above `iouThreshold` goes). */
export function suppressFaces(faces: readonly Face[], iouThreshold = 0.4): Face[] {
  const order = [...faces].sort((a, b) => b.score - a.score);
  const keep: Face[] = [];
  for (const f of order) if (keep.every((k) => iou(k.box, f.box) <= iouThreshold)) keep.push(f);
  return keep;
}

/** Moves faces by (dx, dy) and scales them by s (about the origin, after the move). */
export function transformFaces(faces: readonly Face[], dx: number, dy: number, s = 1): Face[] {
  return faces.map((f) => ({
    ...f,
    box: [(f.box[0] + dx) * s, (f.box[1] + dy) * s, (f.box[2] + dx) * s, (f.box[3] + dy) * s] as Box,
    ...(f.landmarks ? { landmarks: f.landmarks.map(([x, y]) => [(x + dx) * s, (y + dy) * s] as Point) } : {}),
  }));
}

/**
 * Resizes an RGB image to size x size: area interpolation (box average, PyTorch's 'area') when
 * shrinking, bicubic (align_corners=false, clamped) when enlarging either side.
 */
export function resizeSquare(img: RgbImage, size: number, down: 'area' | 'bicubic' = 'area'): RgbImage {
  checkInt(size, 'size', 1);
  if (img.width === size && img.height === size) return { data: img.data.slice(), width: size, height: size };
  const up = img.width < size || img.height < size;
  const out = tidy(() => {
    const x = imageToTensor(img.data, { width: img.width, height: img.height, channels: 3 });
    const y = up
      ? F.interpolate(x, { size: [size, size], mode: 'bicubic' })
      : down === 'area'
        ? F.interpolate(x, { size: [size, size], mode: 'area' })
        : F.interpolate(x, { size: [size, size], mode: 'bicubic', antialias: true, alignCorners: false });
    return tensorToImage(y);
  });
  return { data: out.pixels, width: size, height: size };
}

/**
 * Native crop of a frame plus resized copies (default 16x16 and 32x32) for training. Reductions are
 * area averages, or antialiased bicubic with down: 'bicubic' (the LR of a model trained on bicubic x4).
 */
export function frameCrops(
  img: RgbImage,
  f: Frame,
  sizes: readonly number[] = [16, 32],
  o: { pad?: 'replicate' | 'zeros'; down?: 'area' | 'bicubic' } = {},
): { native: RgbImage; resized: Map<number, RgbImage> } {
  const native = cropFrame(img, f, o);
  return { native, resized: new Map(sizes.map((s) => [s, resizeSquare(native, s, o.down)])) };
}

export interface AlignOptions {
  /** Points to map the landmarks onto, as fractions of the crop (default FACE_TEMPLATE_5). */
  template?: readonly Point[];
  /** What to sample outside the image (grid_sample padding; default 'zeros'). */
  padding?: 'zeros' | 'border' | 'reflection';
}

export interface AlignedFace {
  crop: RgbImage;
  /** Image -> crop (continuous pixel coordinates). */
  matrix: Affine;
  /** Crop -> image: how to paste a processed crop back. */
  inverse: Affine;
  /** Residual of the landmark fit in crop pixels. */
  rmse: number;
}

/**
 * Cuts a size x size crop in which the 5 landmarks lie on the template as closely as a similarity
 * allows (least squares), by an affine grid and bilinear sampling. Only the part of the image that
 * the crop covers is copied to a tensor, so this is cheap on large photos.
 */
export function alignFace(
  img: RgbImage,
  landmarks: readonly Point[],
  size: number,
  o: AlignOptions = {},
): AlignedFace {
  checkInt(size, 'size', 1);
  checkSize(img.width, img.height, 'alignFace');
  const template = o.template ?? FACE_TEMPLATE_5;
  if (landmarks.length !== template.length)
    throw new ArgumentError(
      `alignFace: expected ${template.length} landmarks (as the template) but received ${landmarks.length}`,
    );
  const sim = similarityTransform(
    landmarks,
    template.map(([x, y]) => [x * size, y * size] as Point),
  );
  const matrix = sim.matrix;
  const inverse = invertAffine(matrix);
  // Image region under the crop, with a margin for the bilinear neighbours.
  const corners = [
    [0, 0],
    [size, 0],
    [0, size],
    [size, size],
  ].map((p) => applyAffine(inverse, p));
  const W = img.width;
  const H = img.height;
  const rx0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))) - 2);
  const ry0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))) - 2);
  const rx1 = Math.min(W, Math.ceil(Math.max(...corners.map((p) => p[0]))) + 2);
  const ry1 = Math.min(H, Math.ceil(Math.max(...corners.map((p) => p[1]))) + 2);
  let crop: RgbImage;
  if (rx1 <= rx0 || ry1 <= ry0) {
    crop = { data: new Uint8Array(size * size * 3), width: size, height: size };
  } else {
    const rw = rx1 - rx0;
    const rh = ry1 - ry0;
    const sub = new Uint8Array(rw * rh * 3);
    for (let r = 0; r < rh; r++) {
      const start = ((ry0 + r) * W + rx0) * 3;
      sub.set(img.data.subarray(start, start + rw * 3), r * rw * 3);
    }
    // theta maps output normalised coords to input normalised coords:
    // u -> crop pixels ((u+1) size/2) -> image pixels (inverse) -> region pixels -> normalised.
    const fromU: Affine = [size / 2, 0, size / 2, 0, size / 2, size / 2];
    const toRegion: Affine = [2 / rw, 0, (-2 * rx0) / rw - 1, 0, 2 / rh, (-2 * ry0) / rh - 1];
    const theta = composeAffine(toRegion, composeAffine(inverse, fromU));
    const out = tidy(() => {
      const x = imageToTensor(sub, { width: rw, height: rh, channels: 3 });
      const th = tensor([theta], { dtype: 'float32' }).view(1, 2, 3);
      const grid = F.affineGrid(th, [1, 3, size, size], false);
      const y = F.gridSample(x, grid, {
        mode: 'bilinear',
        paddingMode: o.padding ?? 'zeros',
        alignCorners: false,
      });
      return tensorToImage(y);
    });
    crop = { data: out.pixels, width: size, height: size };
  }
  return { crop, matrix, inverse, rmse: sim.rmse };
}
