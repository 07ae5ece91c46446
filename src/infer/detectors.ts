// Face detectors behind the data layer's Detector interface:
// - RetinaFaceDetector: RetinaFace MobileNet-0.25 on the engine (weights from a safetensors file);
//   finds faces down to about 10 px and gives 5 landmarks. Large photos are tiled (see below).
// - FaceApiSsdDetector: the SSD MobileNet v1 of @vladmandic/face-api on TensorFlow.js's wasm
//   backend, weights from the npm package. It sees a 512x512 resize of its input, so small faces
//   need tiles (each tile is enlarged to 512 by the network's own resize).
// Measurements behind the defaults: docs/detectors.md.
import { ArgumentError, FacesrError } from '../core/errors.js';
import { RetinaFace } from '../models/retinaface.js';
import {
  BOX_FRAMING,
  type Box,
  type Detector,
  type FrameOptions,
  type Face,
  type RgbImage,
  type Tile,
  boxSide,
  cutTile,
  resizeImage,
  suppressFaces,
  tileGrid,
  touchesInnerEdge,
  transformFaces,
} from '../data/faces.js';
import { loadFaceApi } from './faceapi.js';

function checkRgb(img: RgbImage, who: string): void {
  if (!(Number.isInteger(img.width) && img.width > 0 && Number.isInteger(img.height) && img.height > 0))
    throw new ArgumentError(
      `${who}: image size must be positive integers, received ${img.width}x${img.height}`,
    );
  if (img.data.length !== img.width * img.height * 3)
    throw new ArgumentError(
      `${who}: a ${img.width}x${img.height} RGB image needs ${img.width * img.height * 3} bytes but received ${img.data.length}`,
    );
}

function checkUnit(v: number, name: string): number {
  if (!(v >= 0 && v <= 1)) throw new ArgumentError(`Expected number in [0, 1] for ${name} but received ${v}`);
  return v;
}

function checkPosInt(v: number, name: string, min = 1): number {
  if (!(Number.isInteger(v) && v >= min))
    throw new ArgumentError(`Expected integer >= ${min} for ${name} but received ${v}`);
  return v;
}

/** Runs `pass` over an image, tiled when it is too large, and merges the faces. */
async function tiledDetect(
  img: RgbImage,
  o: { maxPixels: number; tile: number; overlap: number; nmsIou: number },
  pass: (img: RgbImage) => Promise<Face[]>,
): Promise<Face[]> {
  const { width: W, height: H } = img;
  if (W * H <= o.maxPixels) return pass(img);
  const found: Face[] = [];
  // Tiles at full resolution: faces up to `overlap` pixels lie whole in some tile; a face cut by an
  // inner tile edge is dropped there (it is whole in a neighbour, or large and found below).
  const tiles: Tile[] = tileGrid(W, H, o.tile, o.overlap);
  for (const t of tiles) {
    const faces = transformFaces(await pass(cutTile(img, t)), t.x, t.y);
    for (const f of faces) if (!touchesInnerEdge(f.box, t, W, H)) found.push(f);
  }
  // The whole photo shrunk to one tile finds the faces larger than the overlap.
  const s = Math.min(1, o.tile / Math.max(W, H));
  const small = resizeImage(img, Math.max(1, Math.round(W * s)), Math.max(1, Math.round(H * s)));
  const sx = W / small.width;
  for (const f of transformFaces(await pass(small), 0, 0, sx))
    if (boxSide(f.box) >= o.overlap / 2) found.push(f);
  return suppressFaces(found, o.nmsIou);
}

// ---------------------------------------------------------------------------------------------
// RetinaFace

export interface RetinaFaceDetectorOptions {
  /** Keep faces scoring above this (default 0.5, as the authors' demo). */
  scoreThreshold?: number;
  /** Non-maximum suppression IoU (default 0.4, as the authors). */
  nmsIou?: number;
  /** Enlarge the photo by this factor first, for faces under 10 px (default 1). */
  upscale?: number;
  /**
   * Photos (after upscale) up to this many pixels run in one pass at full resolution (default
   * 2,100,000: 1920x1080). Larger ones run as tiles plus one shrunk pass: the network's time grows
   * faster than its input on the CPU (docs/detectors.md).
   */
  maxPixels?: number;
  /** Tile side for large photos (default 1024). */
  tileSize?: number;
  /** Tile overlap in pixels (default 128): faces up to this size are found whole in a tile. */
  tileOverlap?: number;
  /** Drop faces whose box's long side is below this many pixels, in the original photo (default 0). */
  minSize?: number;
}

/** RetinaFace MobileNet-0.25 as a Detector. Call dispose() to free the weights. */
export class RetinaFaceDetector implements Detector {
  readonly name = 'retinaface';
  /** RetinaFace boxes are what BOX_FRAMING was measured on. */
  readonly framing: FrameOptions = BOX_FRAMING;
  readonly options: Required<RetinaFaceDetectorOptions>;
  #net: RetinaFace | null;

  /** Loads the weights (shared/models/retinaface_mnet025.safetensors here); throws if unreadable. */
  constructor(weights: string | RetinaFace, opts: RetinaFaceDetectorOptions = {}) {
    this.options = {
      scoreThreshold: checkUnit(opts.scoreThreshold ?? 0.5, 'scoreThreshold'),
      nmsIou: checkUnit(opts.nmsIou ?? 0.4, 'nmsIou'),
      upscale: opts.upscale ?? 1,
      maxPixels: checkPosInt(opts.maxPixels ?? 2_100_000, 'maxPixels'),
      tileSize: checkPosInt(opts.tileSize ?? 1024, 'tileSize', 64),
      tileOverlap: checkPosInt(opts.tileOverlap ?? 128, 'tileOverlap', 0),
      minSize: opts.minSize ?? 0,
    };
    if (!(this.options.upscale > 0 && this.options.upscale <= 8))
      throw new ArgumentError(`Expected number in (0, 8] for upscale but received ${this.options.upscale}`);
    if (this.options.tileOverlap >= this.options.tileSize)
      throw new ArgumentError(
        `tileOverlap (${this.options.tileOverlap}) must be below tileSize (${this.options.tileSize})`,
      );
    this.#net = typeof weights === 'string' ? RetinaFace.fromSafetensors(weights) : weights;
  }

  async detect(img: RgbImage): Promise<Face[]> {
    const net = this.#net;
    if (!net) throw new FacesrError('RetinaFaceDetector: used after dispose()');
    checkRgb(img, 'RetinaFaceDetector.detect');
    const o = this.options;
    const up = o.upscale;
    const src =
      up === 1
        ? img
        : resizeImage(img, Math.max(1, Math.round(img.width * up)), Math.max(1, Math.round(img.height * up)));
    const pass = async (part: RgbImage): Promise<Face[]> =>
      net
        .detect(
          { pixels: part.data, width: part.width, height: part.height, channels: 3 },
          { scoreThreshold: o.scoreThreshold, nmsIou: o.nmsIou },
        )
        .map((d) => ({ box: d.box, score: d.score, landmarks: d.landmarks }));
    let faces = await tiledDetect(
      src,
      { maxPixels: o.maxPixels, tile: o.tileSize, overlap: o.tileOverlap, nmsIou: o.nmsIou },
      pass,
    );
    if (up !== 1) faces = transformFaces(faces, 0, 0, img.width / src.width);
    return faces.filter((f) => boxSide(f.box) >= o.minSize).sort((a, b) => b.score - a.score);
  }

  dispose(): void {
    this.#net?.dispose();
    this.#net = null;
  }
}

// ---------------------------------------------------------------------------------------------
// face-api SSD MobileNet v1 (TensorFlow.js, wasm backend)

/** face-api with the SSD weights (src/infer/faceapi.ts). */
const loadSsd = () => loadFaceApi(['ssdMobilenetv1']);

export interface FaceApiSsdDetectorOptions {
  /** Keep faces scoring above this (default 0.5, face-api's default). */
  minConfidence?: number;
  /** Merge overlapping faces from the passes above this IoU (default 0.4). */
  nmsIou?: number;
  /**
   * Tile sides for small faces, largest first (default [512, 256]); [] runs the whole photo only.
   * Each tile is enlarged to the network's 512x512 input, so a 256 tile doubles face size. A photo
   * is always also run whole (large faces). On WIDER FACE, [512, 256] found the most faces; adding
   * 128 tiles found fewer, at three times the cost (docs/detectors.md).
   */
  tileSizes?: readonly number[];
  /** Overlap of tiles as a fraction of the tile side (default 0.25). */
  tileOverlap?: number;
  /** Drop faces whose box's long side is below this many pixels (default 0). */
  minSize?: number;
}

/** face-api's SSD MobileNet v1 with tiling, as a Detector. Boxes only (no landmarks). */
export class FaceApiSsdDetector implements Detector {
  readonly name = 'ssd';
  /**
   * SSD boxes are looser than RetinaFace's: on 350 faces of CMU+MIT and WIDER FACE (>= 24 px) the
   * RetinaFace long side is 0.933 of the SSD one and its centre 0.020 SSD sides lower, so the HR
   * framing is 1.2 x 0.933 = 1.12 SSD sides, shifted -0.012 (dev/measure_detectors.mjs --framing).
   */
  readonly framing: FrameOptions = Object.freeze({ scale: 1.12, shiftY: -0.012 });
  readonly options: Required<FaceApiSsdDetectorOptions>;

  constructor(opts: FaceApiSsdDetectorOptions = {}) {
    this.options = {
      minConfidence: checkUnit(opts.minConfidence ?? 0.5, 'minConfidence'),
      nmsIou: checkUnit(opts.nmsIou ?? 0.4, 'nmsIou'),
      tileSizes: [...(opts.tileSizes ?? [512, 256])].map((t) => checkPosInt(t, 'tileSizes', 32)),
      tileOverlap: opts.tileOverlap ?? 0.25,
      minSize: opts.minSize ?? 0,
    };
    if (!(this.options.tileOverlap >= 0 && this.options.tileOverlap < 1))
      throw new ArgumentError(
        `Expected number in [0, 1) for tileOverlap but received ${this.options.tileOverlap}`,
      );
  }

  /** Loads face-api and the weights now (otherwise on the first detect). */
  async load(): Promise<void> {
    await loadSsd();
  }

  async detect(img: RgbImage): Promise<Face[]> {
    checkRgb(img, 'FaceApiSsdDetector.detect');
    const api = await loadSsd();
    const o = this.options;
    const opts = new api.SsdMobilenetv1Options({ minConfidence: o.minConfidence, maxResults: 1000 });
    const pass = async (part: RgbImage): Promise<Face[]> => {
      const t = api.tf.tensor3d(part.data, [part.height, part.width, 3], 'int32');
      try {
        const dets = await api.detectAllFaces(t, opts);
        return dets.map((d) => ({
          box: [d.box.x, d.box.y, d.box.x + d.box.width, d.box.y + d.box.height] as Box,
          score: d.score,
        }));
      } finally {
        t.dispose();
      }
    };
    const { width: W, height: H } = img;
    const found: Face[] = await pass(img);
    for (const size of o.tileSizes) {
      if (size >= Math.max(W, H)) continue;
      const overlap = Math.round(size * o.tileOverlap);
      for (const t of tileGrid(W, H, size, overlap)) {
        const faces = transformFaces(await pass(cutTile(img, t)), t.x, t.y);
        // A tile sees faces up to about its overlap whole; larger ones come from bigger passes.
        for (const f of faces)
          if (!touchesInnerEdge(f.box, t, W, H) && boxSide(f.box) <= overlap * 1.5) found.push(f);
      }
    }
    return suppressFaces(found, o.nmsIou).filter((f) => boxSide(f.box) >= o.minSize);
  }
}

/** A detector by name: 'retinaface' needs weights, 'ssd' uses the weights inside face-api. */
export function createDetector(
  name: string,
  o: { weights?: string; scoreThreshold?: number; minSize?: number } = {},
): Detector {
  switch (name) {
    case 'retinaface':
      if (!o.weights)
        throw new ArgumentError(
          'the retinaface detector needs its weights: give --detector-weights PATH (e.g. ../shared/models/retinaface_mnet025.safetensors)',
        );
      return new RetinaFaceDetector(o.weights, { scoreThreshold: o.scoreThreshold, minSize: o.minSize });
    case 'ssd':
      return new FaceApiSsdDetector({ minConfidence: o.scoreThreshold, minSize: o.minSize });
    default:
      throw new ArgumentError(`Unknown detector '${name}'. Available: retinaface, ssd`);
  }
}
