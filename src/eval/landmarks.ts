// Landmark error of an independent landmark model on restored faces: @vladmandic/face-api's 68-point
// landmark net (iBUG 300-W convention) run on the restored face and on the HR face; the NME is the
// mean point-to-point distance between the two sets of 68 points over the HR face's inter-ocular
// distance (outer eye corners 36 and 45), in percent. It measures agreement with the HR face as the
// same judge sees it, not error against annotated ground truth. Each crop is given to the net as a
// tensor; face-api pads it to a square and resizes it to the net's 112x112 input.
import { ArgumentError } from '../core/errors.js';
import { loadFaceApi, type FaceApi } from '../infer/faceapi.js';
import type { Image8 } from './metrics.js';

/** 68 points, interleaved x, y in pixels of the image given. */
export type Landmarks68 = Float64Array;

/** NME in percent: mean distance of pred to ref over ref's outer-eye-corner distance (points 36, 45). */
export function nme(pred: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (pred.length !== 136 || ref.length !== 136)
    throw new ArgumentError(
      `nme: expected 68 points (136 values), received ${pred.length} and ${ref.length}`,
    );
  const iod = Math.hypot(ref[72]! - ref[90]!, ref[73]! - ref[91]!);
  let s = 0;
  for (let i = 0; i < 136; i += 2) s += Math.hypot(pred[i]! - ref[i]!, pred[i + 1]! - ref[i + 1]!);
  return iod > 0 ? (100 * s) / 68 / iod : NaN;
}

interface LandmarkResult {
  positions: { x: number; y: number }[];
}

/** face-api's 68-point landmark net. */
export class LandmarkNet {
  readonly name = 'face-api faceLandmark68Net (68 points, 112x112 input)';
  readonly #api: FaceApi;
  readonly batch: number;

  private constructor(api: FaceApi, batch: number) {
    this.#api = api;
    this.batch = batch;
  }

  static async load(o: { batch?: number } = {}): Promise<LandmarkNet> {
    const batch = o.batch ?? 16;
    if (!(Number.isInteger(batch) && batch >= 1))
      throw new ArgumentError(`Expected positive integer for batch but received ${batch}`);
    return new LandmarkNet(await loadFaceApi(['faceLandmark68Net']), batch);
  }

  /** 68 landmarks of each face crop, in the crop's pixel coordinates. */
  async landmarks(images: readonly Image8[]): Promise<Landmarks68[]> {
    const out: Landmarks68[] = [];
    for (let s = 0; s < images.length; s += this.batch) {
      const part = images.slice(s, s + this.batch);
      const ts = part.map((img, i) => {
        if (img.channels !== 3 || img.data.length !== img.width * img.height * 3)
          throw new ArgumentError(
            `LandmarkNet: image ${s + i} must be RGB ${img.width}x${img.height}x3 (${img.data.length} values)`,
          );
        return this.#api.tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
      });
      try {
        const r = (await this.#api.nets.faceLandmark68Net.detectLandmarks(ts)) as
          LandmarkResult | LandmarkResult[];
        for (const lm of Array.isArray(r) ? r : [r]) {
          const a = new Float64Array(136);
          lm.positions.forEach((p, k) => {
            a[2 * k] = p.x;
            a[2 * k + 1] = p.y;
          });
          out.push(a);
        }
      } finally {
        for (const t of ts) t.dispose();
      }
    }
    return out;
  }

  liveTensors(): number {
    return this.#api.tf.memory().numTensors;
  }
}
