// Identity similarity: cosine of the 128-d face descriptors of @vladmandic/face-api's
// faceRecognitionNet (a TensorFlow.js port of dlib's ResNet face recognition model), restored vs HR.
// The net is an independent judge: nothing in this project trains it or trains against it.
// Each face crop is given to the net as face-api does for a tensor input: padded to a square
// (already square here) and resized to the net's 150x150 input with tf.image.resizeBilinear
// (align_corners false, half_pixel_centers false), then mean-subtracted and scaled inside the net.
import { ArgumentError } from '../core/errors.js';
import { loadFaceApi, type FaceApi } from '../infer/faceapi.js';
import type { Image8 } from './metrics.js';

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new ArgumentError(`cosine: lengths differ (${a.length} and ${b.length})`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/** Euclidean distance of two vectors (dlib's face-recognition metric: same person below about 0.6). */
export function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new ArgumentError(`euclidean: lengths differ (${a.length} and ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** face-api's face recognition net as a descriptor function. */
export class IdentityNet {
  readonly name = 'face-api faceRecognitionNet (dlib ResNet-34 port, 128-d)';
  readonly #api: FaceApi;
  /** Faces per call into the net. */
  readonly batch: number;

  private constructor(api: FaceApi, batch: number) {
    this.#api = api;
    this.batch = batch;
  }

  /** Loads face-api (wasm backend) and the recognition weights from the npm package. */
  static async load(o: { batch?: number } = {}): Promise<IdentityNet> {
    const batch = o.batch ?? 16;
    if (!(Number.isInteger(batch) && batch >= 1))
      throw new ArgumentError(`Expected positive integer for batch but received ${batch}`);
    return new IdentityNet(await loadFaceApi(['faceRecognitionNet']), batch);
  }

  /** 128-d descriptors of RGB face crops (any size; each is resized to 150x150 by face-api). */
  async descriptors(images: readonly Image8[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let s = 0; s < images.length; s += this.batch) {
      const part = images.slice(s, s + this.batch);
      const ts = part.map((img, i) => {
        if (img.channels !== 3 || img.data.length !== img.width * img.height * 3)
          throw new ArgumentError(
            `IdentityNet: image ${s + i} must be RGB ${img.width}x${img.height}x3 (${img.data.length} values)`,
          );
        return this.#api.tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
      });
      try {
        const d = await this.#api.nets.faceRecognitionNet.computeFaceDescriptor(ts);
        out.push(...(Array.isArray(d) ? d : [d]));
      } finally {
        for (const t of ts) t.dispose();
      }
    }
    return out;
  }

  /** Cosine similarity of each restored face to its HR face. */
  async similarity(restored: readonly Image8[], hr: readonly Image8[]): Promise<number[]> {
    if (restored.length !== hr.length)
      throw new ArgumentError(
        `IdentityNet.similarity: ${restored.length} restored faces for ${hr.length} HR faces`,
      );
    const a = await this.descriptors(restored);
    const b = await this.descriptors(hr);
    return a.map((d, i) => cosine(d, b[i]!));
  }

  /** Live tfjs tensors (for leak checks). */
  liveTensors(): number {
    return this.#api.tf.memory().numTensors;
  }
}
