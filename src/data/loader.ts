// Batches for training, assembled in worker threads with prefetch so that a step never waits for
// data. Workers decode, resize and augment into one float32 buffer per batch (plain JS and sharp:
// they never load libtorch) and transfer it; the main thread makes the batch tensor with one copy.
// The order and content of batches depend only on the dataset, the options and the seed: never on
// worker count or timing (samples draw their randomness from (seed, epoch, index); batches are
// handed out by number).
import { Worker } from 'node:worker_threads';
import { ArgumentError, FacesrError } from '../core/errors.js';
import { checkInt } from '../core/check.js';
import { type Device, Tensor, fromTypedArray } from '../tensor/index.js';
import { type AugmentOptions, Rng } from './augment.js';
import type { FaceItem, LoadOptions } from './sample.js';
import {
  type BatchConfig,
  type BatchFailure,
  type BatchResult,
  type BatchTask,
  buildBatch,
} from './loader_worker.js';

/** A failure that stops the loader (a bad file with onError 'error', or a worker that died). */
export class LoaderError extends FacesrError {}

export interface LoaderOptions extends LoadOptions {
  batchSize: number;
  /** Reshuffle every epoch from the seed (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffles and augmentations (default 0). */
  seed?: number;
  /** Leave out a last partial batch (default false). */
  dropLast?: boolean;
  /** Passes over the data (default 1; Infinity for endless). */
  epochs?: number;
  /**
   * Start at this global batch number (epoch * batchesPerEpoch + step), producing exactly the
   * batches an uninterrupted loader would from there on: how a resumed training run continues.
   */
  startBatch?: number;
  /** Worker threads (default 2); 0 builds batches on the main thread (debugging). */
  numWorkers?: number;
  /** Batches built ahead of the consumer (default 4). */
  prefetch?: number;
  /** Random augmentation per sample (default none). */
  augment?: AugmentOptions | false;
  /** Pixel range of the images (default '0,1'). */
  range?: '0,1' | '-1,1';
  /** A file that cannot be read: 'skip' (default: leave it out, count it, warn once) or 'error'. */
  onError?: 'skip' | 'error';
  /** Where batch tensors go (default cpu). */
  device?: Device;
  /** Receives skip warnings (default console.warn). */
  warn?: (message: string) => void;
}

export interface Batch {
  /** [B, 3, H, W] float32. */
  images: Tensor;
  /** [B, K, 2] float32 (x, y in output pixels) when the items have landmarks. */
  landmarks?: Tensor;
  /** Dataset indices, in batch order (skipped files left out). */
  indices: number[];
  items: FaceItem[];
  epoch: number;
  /** Batch number within the epoch. */
  step: number;
  /** Disposes the batch's tensors. */
  dispose(): void;
}

export interface LoaderReport {
  /** Items left out (counting every time, across epochs). */
  skipped: number;
  /** Each bad file once, with why. */
  failures: Map<string, string>;
}

interface Slot {
  w: Worker;
  pending: number;
  exited: boolean;
}

/**
 * `for await (const batch of loader)` over epochs of batches. Single use; breaking out of the loop,
 * finishing it, or close() stops the workers.
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly items: readonly FaceItem[];
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  readonly report: LoaderReport = { skipped: 0, failures: new Map() };
  readonly #o: LoaderOptions;
  readonly #cfg: BatchConfig;
  readonly #epochs: number;
  readonly #numWorkers: number;
  readonly #prefetch: number;
  #slots: Slot[] = [];
  #results = new Map<number, BatchResult>();
  #waiters = new Map<number, { resolve: (r: BatchResult | null) => void; reject: (e: Error) => void }>();
  #fatal: Error | null = null;
  #order: number[] = [];
  #orderEpoch = -1;
  #nextId = 0;
  #consumed = 0;
  #used = false;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(dataset: { items: readonly FaceItem[] } | readonly FaceItem[], opts: LoaderOptions) {
    this.items = isItemList(dataset) ? dataset : dataset.items;
    this.#o = opts;
    this.batchSize = checkInt(opts.batchSize, 'batchSize', 1);
    this.#numWorkers = checkInt(opts.numWorkers ?? 2, 'numWorkers', 0);
    this.#prefetch = checkInt(opts.prefetch ?? 4, 'prefetch', 1);
    const epochs = opts.epochs ?? 1;
    if (!(epochs === Infinity || (Number.isInteger(epochs) && epochs >= 1)))
      throw new ArgumentError(`Expected positive integer or Infinity for epochs but received ${epochs}`);
    this.#epochs = epochs;
    const seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(seed))
      throw new ArgumentError(`Expected integer for seed but received ${seed}`);
    if (this.items.length === 0) throw new ArgumentError('DataLoader: the dataset is empty');
    const n = this.items.length;
    this.batchesPerEpoch = opts.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
    if (this.batchesPerEpoch === 0)
      throw new ArgumentError(`DataLoader: ${n} items make no full batch of ${this.batchSize} with dropLast`);
    this.#nextId = this.#consumed = checkInt(opts.startBatch ?? 0, 'startBatch', 0);
    const points = (this.items[0]!.landmarks?.length ?? 0) / 2;
    this.items.forEach((it, i) => {
      if ((it.landmarks?.length ?? 0) / 2 !== points)
        throw new ArgumentError(
          `DataLoader: item ${i} (${it.file}) has ${(it.landmarks?.length ?? 0) / 2} landmarks, item 0 has ${points}`,
        );
    });
    const load: LoadOptions = {};
    if (opts.size !== undefined) load.size = opts.size;
    if (opts.fit !== undefined) load.fit = opts.fit;
    if (opts.resize !== undefined) load.resize = opts.resize;
    if (opts.pixelLimit !== undefined) load.pixelLimit = opts.pixelLimit;
    this.#cfg = {
      kind: 'facesr-loader',
      items: this.items,
      load,
      augment: opts.augment ? { ...opts.augment } : null,
      seed,
      range: opts.range ?? '0,1',
      points,
    };
  }

  /** Dataset indices of every batch of an epoch, in order (what the loader will deliver). */
  epochOrder(epoch: number): number[][] {
    const order = this.#permutation(epoch);
    return Array.from({ length: this.batchesPerEpoch }, (_, s) =>
      order.slice(s * this.batchSize, (s + 1) * this.batchSize),
    );
  }

  #permutation(epoch: number): number[] {
    const n = this.items.length;
    return this.#o.shuffle
      ? new Rng([this.#cfg.seed, epoch, 0x0de7]).permutation(n)
      : Array.from({ length: n }, (_, i) => i);
  }

  #task(id: number): BatchTask | null {
    const epoch = Math.floor(id / this.batchesPerEpoch);
    if (epoch >= this.#epochs) return null;
    const step = id % this.batchesPerEpoch;
    if (this.#orderEpoch !== epoch) {
      this.#order = this.#permutation(epoch);
      this.#orderEpoch = epoch;
    }
    return { id, epoch, indices: this.#order.slice(step * this.batchSize, (step + 1) * this.batchSize) };
  }

  #start(): void {
    for (let i = 0; i < this.#numWorkers; i++) {
      const w = new Worker(new URL('./loader_worker.js', import.meta.url), {
        workerData: this.#cfg,
        name: `facesr-loader-${i}`,
        // Node flags that only make sense for an entry script (e.g. --input-type with -e) break a worker.
        execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
      });
      const slot: Slot = { w, pending: 0, exited: false };
      w.unref(); // idle workers never keep the process alive; busy ones do (see #dispatch)
      w.on(
        'message',
        (m: { type: 'result'; result: BatchResult } | { type: 'fatal'; message: string; task: number }) => {
          if (this.#closed) return; // closing: stays referenced until it exits
          if (--slot.pending === 0) w.unref();
          if (m.type === 'result') this.#deliver(m.result);
          else this.#fail(new LoaderError(`loader worker ${i} failed on batch ${m.task}: ${m.message}`));
        },
      );
      w.on('error', (err) =>
        this.#fail(new LoaderError(`loader worker ${i} crashed: ${err.message}`, { cause: err })),
      );
      w.on('exit', (code) => {
        slot.exited = true;
        if (!this.#closed)
          this.#fail(new LoaderError(`loader worker ${i} exited unexpectedly (code ${code})`));
      });
      this.#slots.push(slot);
    }
  }

  #pump(): void {
    while (!this.#closed && !this.#fatal && this.#nextId < this.#consumed + this.#prefetch) {
      const task = this.#task(this.#nextId);
      if (!task) return;
      this.#nextId++;
      this.#dispatch(task);
    }
  }

  #dispatch(task: BatchTask): void {
    if (this.#numWorkers === 0) {
      buildBatch(this.#cfg, task).then(
        (r) => {
          if (!this.#closed) this.#deliver(r);
        },
        (err: unknown) => this.#fail(new LoaderError(`batch ${task.id}: ${String(err)}`, { cause: err })),
      );
      return;
    }
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending < slot.pending) slot = s;
    if (slot.pending++ === 0) slot.w.ref();
    slot.w.postMessage({ type: 'task', task });
  }

  #deliver(r: BatchResult): void {
    const waiter = this.#waiters.get(r.id);
    if (waiter) {
      this.#waiters.delete(r.id);
      waiter.resolve(r);
    } else this.#results.set(r.id, r);
  }

  #fail(err: Error): void {
    if (this.#closed || this.#fatal) return;
    this.#fatal = err;
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
  }

  /** The result of batch id, or null when there is none (past the last epoch, or closed). */
  #take(id: number): Promise<BatchResult | null> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    const r = this.#results.get(id);
    if (r) {
      this.#results.delete(id);
      return Promise.resolve(r);
    }
    if (this.#closed || id >= this.#nextId) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiters.set(id, { resolve, reject }));
  }

  #toBatch(r: BatchResult): Batch {
    const k = r.kept.length;
    const device = this.#o.device;
    const images = fromTypedArray(r.images, [k, 3, r.height, r.width], device ? { device } : {});
    let landmarks: Tensor | undefined;
    try {
      if (r.landmarks)
        landmarks = fromTypedArray(r.landmarks, [k, this.#cfg.points, 2], device ? { device } : {});
    } catch (err) {
      images.dispose();
      throw err;
    }
    const epoch = Math.floor(r.id / this.batchesPerEpoch);
    return {
      images,
      ...(landmarks ? { landmarks } : {}),
      indices: r.kept,
      items: r.kept.map((i) => this.items[i]!),
      epoch,
      step: r.id % this.batchesPerEpoch,
      dispose() {
        images.dispose();
        landmarks?.dispose();
      },
    };
  }

  #noteFailures(fs: readonly BatchFailure[]): void {
    for (const f of fs) {
      this.report.skipped++;
      if (this.#o.onError === 'error') throw new LoaderError(`${f.file}: ${f.reason}`);
      if (!this.report.failures.has(f.file)) {
        this.report.failures.set(f.file, f.reason);
        (this.#o.warn ?? console.warn)(`facesr loader: skipped ${f.file}: ${f.reason}`);
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    if (this.#used)
      throw new ArgumentError('DataLoader: already iterated (a loader is single use; make a new one)');
    this.#used = true;
    if (this.#closed) return;
    this.#start();
    try {
      for (;;) {
        this.#pump();
        const r = await this.#take(this.#consumed);
        if (!r) return;
        this.#consumed++;
        this.#pump();
        this.#noteFailures(r.failures);
        if (r.kept.length === 0) continue;
        yield this.#toBatch(r);
      }
    } finally {
      await this.close();
    }
  }

  /** Stops the workers (each finishes its current batch, then exits; forced after 5 s). Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const w of this.#waiters.values()) w.resolve(null); // a consumer waiting now sees the end
    this.#waiters.clear();
    this.#results.clear();
    const slots = this.#slots;
    this.#slots = [];
    this.#closing = Promise.all(
      slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.exited) return resolve();
            s.w.ref(); // so that the process waits for the worker's exit
            const timer = setTimeout(() => void s.w.terminate(), 5000);
            timer.unref();
            s.w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            s.w.postMessage({ type: 'close' });
          }),
      ),
    ).then(() => undefined);
    return this.#closing;
  }
}

function isItemList(d: { items: readonly FaceItem[] } | readonly FaceItem[]): d is readonly FaceItem[] {
  return Array.isArray(d);
}
