// The loader's batch builder, and the worker-thread entry that runs it. A worker decodes, resizes and
// augments one batch at a time into one float32 buffer and transfers it to the main thread. Nothing
// imported here reaches the tensor layer: workers must never load the libtorch addon (a test checks
// the shared objects a worker process loads).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FacesrError } from '../core/errors.js';
import { type AugmentOptions, Rng, applyAugment, sampleAugment } from './augment.js';
import { ImageError } from './image.js';
import { type FaceItem, type LoadOptions, loadSample } from './sample.js';

/** Everything a worker needs, sent once as workerData. */
export interface BatchConfig {
  kind: 'facesr-loader';
  items: readonly FaceItem[];
  load: LoadOptions;
  augment: AugmentOptions | null;
  seed: number;
  range: '0,1' | '-1,1';
  /** Landmark points per item (0: none). */
  points: number;
}

export interface BatchTask {
  id: number;
  epoch: number;
  indices: number[];
}

export interface BatchFailure {
  index: number;
  file: string;
  reason: string;
}

export interface BatchResult {
  id: number;
  /** [kept, 3, height, width] float32, planar. */
  images: Float32Array;
  /** [kept, points, 2] or null. */
  landmarks: Float32Array | null;
  height: number;
  width: number;
  /** Dataset indices that made it, in batch order. */
  kept: number[];
  failures: BatchFailure[];
}

function reasonOf(err: unknown): string {
  if (err instanceof ImageError) return err.reason; // the file is named by whoever reports it
  if (err instanceof FacesrError) return err.message;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Builds one batch. A sample's randomness comes only from (seed, epoch, dataset index), so content
 * does not depend on which thread built it or when. Failed items are left out and reported.
 */
export async function buildBatch(cfg: BatchConfig, task: BatchTask): Promise<BatchResult> {
  const done = await Promise.all(
    task.indices.map(async (index) => {
      const item = cfg.items[index]!;
      try {
        const s = await loadSample(item, cfg.load);
        if (!cfg.augment) return { index, image: s.image, landmarks: s.landmarks };
        const rng = Rng.derive(cfg.seed, task.epoch, index);
        const p = sampleAugment(rng, s.image.width, s.image.height, cfg.augment);
        const a = applyAugment(s.image, s.landmarks, p, cfg.augment.flipPermutation);
        return { index, image: a.image, landmarks: a.landmarks };
      } catch (err) {
        return { index, failure: { index, file: item.file, reason: reasonOf(err) } };
      }
    }),
  );
  const failures: BatchFailure[] = [];
  const ok: {
    index: number;
    image: { data: Float32Array; width: number; height: number };
    lm?: Float32Array;
  }[] = [];
  for (const d of done) {
    if ('failure' in d) failures.push(d.failure!);
    else ok.push({ index: d.index, image: d.image!, lm: d.landmarks });
  }
  // Without a fixed size the first good image sets the batch's; others must match it.
  const height = ok[0]?.image.height ?? 0;
  const width = ok[0]?.image.width ?? 0;
  const fits = ok.filter((o) => {
    if (o.image.height === height && o.image.width === width) return true;
    failures.push({
      index: o.index,
      file: cfg.items[o.index]!.file,
      reason: `is ${o.image.width}x${o.image.height} but the batch is ${width}x${height}; give the loader a size`,
    });
    return false;
  });
  failures.sort((a, b) => task.indices.indexOf(a.index) - task.indices.indexOf(b.index));
  const per = 3 * height * width;
  const images = new Float32Array(fits.length * per);
  const landmarks = cfg.points ? new Float32Array(fits.length * cfg.points * 2) : null;
  fits.forEach((o, j) => {
    const dst = images.subarray(j * per, (j + 1) * per);
    if (cfg.range === '-1,1') for (let i = 0; i < per; i++) dst[i] = o.image.data[i]! * 2 - 1;
    else dst.set(o.image.data);
    if (landmarks && o.lm) landmarks.set(o.lm, j * cfg.points * 2);
  });
  return { id: task.id, images, landmarks, height, width, kept: fits.map((o) => o.index), failures };
}

// ---- worker entry ----
const cfg = workerData as BatchConfig | null | undefined;
if (!isMainThread && parentPort && cfg?.kind === 'facesr-loader') {
  const port = parentPort;
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const finish = () => {
    if (closing && inFlight.size === 0) port.close();
  };
  port.on('message', (msg: { type: 'task'; task: BatchTask } | { type: 'close' }) => {
    if (msg.type === 'close') {
      closing = true;
      finish();
      return;
    }
    if (closing) return;
    const p = buildBatch(cfg, msg.task).then(
      (r) => {
        const transfer: ArrayBuffer[] = [r.images.buffer as ArrayBuffer];
        if (r.landmarks) transfer.push(r.landmarks.buffer as ArrayBuffer);
        port.postMessage({ type: 'result', result: r }, transfer);
      },
      (err: unknown) => port.postMessage({ type: 'fatal', message: reasonOf(err), task: msg.task.id }),
    );
    inFlight.add(p);
    void p.finally(() => {
      inFlight.delete(p);
      finish();
    });
  });
}
