// Where an enhance job runs: in this thread (the library default: the caller's model and detector),
// or in a worker thread that owns its own (facesr serve), so that the event loop keeps answering
// health checks, 429s and uploads while libtorch and sharp work.
import { Worker } from 'node:worker_threads';
import type { Detector } from '../data/faces.js';
import type { RestorationModel } from '../infer/enhance.js';
import { FacesrError } from '../core/errors.js';
import { HttpError, type ErrorBody } from './errors.js';
import { type JobResult, runJob } from './job.js';
import type { RequestOptions } from './options.js';
import { getHeapStatistics } from 'node:v8';
import { liveTensors } from '../tensor/index.js';

const mb = (b: number) => Math.round((b / (1024 * 1024)) * 10) / 10;
/** This thread's heap and the process's live tensors. */
export function threadMemory(thread: RunnerMemory['thread']): RunnerMemory {
  const h = getHeapStatistics();
  return {
    thread,
    heapUsedMb: mb(h.used_heap_size),
    heapTotalMb: mb(h.total_heap_size),
    liveTensors: liveTensors(),
  };
}

/** The model a runner holds, as GET /v1/models reports it. */
export interface LoadedModelInfo {
  name: string | null;
  file: string;
  scale: number;
  inputSize: number;
  outputSize: number;
}

export interface JobRunner {
  readonly loaded: LoadedModelInfo;
  readonly detectorName: string;
  /** Runs one checked photo through the pipeline; rejects with HttpError for the client's faults. */
  run(bytes: Buffer, o: RequestOptions, name: string, pixelLimit: number): Promise<JobResult>;
  /** Ends the runner (a worker's thread); pending jobs reject. */
  close(): Promise<void>;
  /** Memory of the thread that runs the jobs (for /healthz and the bench). With waitMs, a worker
   * that has not answered by then (busy in a job's native call) is reported by its last reading. */
  memory(opts?: { waitMs?: number }): Promise<RunnerMemory>;
}

export interface RunnerMemory {
  /** Where jobs run. */
  thread: 'main' | 'worker';
  /** That thread's V8 heap: used and reserved, MB. */
  heapUsedMb: number;
  heapTotalMb: number;
  /** Tensors alive in the process (the addon's count). */
  liveTensors: number;
  /** How old the reading is, ms (0: fresh; set when an earlier reading stood in). */
  ageMs?: number;
}

export function modelInfo(m: RestorationModel): LoadedModelInfo {
  return 'info' in m
    ? {
        name: m.name ?? null,
        file: m.file,
        scale: m.info.scale,
        inputSize: m.info.inputSize,
        outputSize: m.info.outputSize,
      }
    : { name: null, file: '(in memory)', scale: 4, inputSize: 16, outputSize: 64 };
}

/** Jobs on this thread with the caller's model and detector (closing does not dispose them). */
export function inProcessRunner(model: RestorationModel, detector: Detector): JobRunner {
  return {
    loaded: modelInfo(model),
    detectorName: detector.name,
    run: (bytes, o, name, pixelLimit) => runJob(bytes, o, { model, detector, pixelLimit, name }),
    close: async () => {},
    memory: async () => threadMemory('main'),
  };
}

/** What a worker thread loads: the same choices as the serve command's options. */
export interface WorkerSpec {
  /** A model name from models/manifest.json or a file (loadModel). */
  model?: string;
  device?: string;
  detector: string;
  detectorWeights?: string;
  scoreThreshold?: number;
  /** libtorch intra-op threads in the worker. */
  threads?: number;
}

/** Messages between the main thread and src/server/job_worker.ts. */
export type ToWorker =
  | { type: 'job'; id: number; bytes: Uint8Array; options: RequestOptions; name: string; pixelLimit: number }
  | { type: 'memory'; id: number }
  | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; loaded: LoadedModelInfo; detector: string }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; result: Omit<JobResult, 'bytes'>; bytes: Uint8Array }
  | { type: 'error'; id: number; error: ErrorBody }
  | { type: 'memory'; id: number; memory: RunnerMemory };

/**
 * Starts a worker thread that loads the model and detector of `spec` and runs jobs one at a time
 * (the queue in front of it decides how many wait). Resolves once both are loaded; rejects with
 * the worker's own message when loading fails. If the worker dies, its pending jobs get 500s and
 * the next job starts a new one.
 */
export async function startWorkerRunner(spec: WorkerSpec): Promise<JobRunner> {
  let worker: Worker;
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>();
  const memoryAsks = new Map<number, (m: RunnerMemory) => void>();
  let lastMemory: RunnerMemory | null = null;
  let lastAt = 0;
  let closed = false;

  const spawn = () =>
    new Promise<{ w: Worker; loaded: LoadedModelInfo; detector: string }>((resolve, reject) => {
      const w = new Worker(new URL('./job_worker.js', import.meta.url), { workerData: spec });
      let ready = false;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          ready = true;
          resolve({ w, loaded: m.loaded, detector: m.detector });
        } else if (m.type === 'failed') reject(new FacesrError(m.message));
        else if (m.type === 'result') {
          const p = pending.get(m.id);
          pending.delete(m.id);
          p?.resolve({
            ...m.result,
            bytes: Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength),
          });
        } else if (m.type === 'memory') {
          memoryAsks.get(m.id)?.(m.memory);
          memoryAsks.delete(m.id);
        } else if (m.type === 'error') {
          const p = pending.get(m.id);
          pending.delete(m.id);
          p?.reject(new HttpError(m.error.statusCode, m.error.code, m.error.message));
        }
      });
      const died = (why: string) => {
        if (!ready) reject(new FacesrError(`the job worker stopped while loading: ${why}`));
        for (const p of pending.values()) p.reject(new Error(`the job worker stopped: ${why}`));
        pending.clear();
        for (const answer of memoryAsks.values())
          answer({ thread: 'worker', heapUsedMb: NaN, heapTotalMb: NaN, liveTensors: NaN });
        memoryAsks.clear();
        if (!closed && ready) respawn = true;
      };
      w.on('error', (err) => died(err.message));
      w.on('exit', (code) => {
        if (!closed) died(`exit code ${code}`);
      });
    });

  let respawn = false;
  const first = await spawn();
  worker = first.w;
  const runner: JobRunner = {
    loaded: first.loaded,
    detectorName: first.detector,
    async run(bytes, options, name, pixelLimit) {
      if (closed) throw new FacesrError('the job worker is closed');
      if (respawn) {
        respawn = false;
        worker = (await spawn()).w;
      }
      const id = nextId++;
      // A copy the worker owns (transferred): the request's Buffer may share a pooled ArrayBuffer.
      const copy = new Uint8Array(bytes);
      return new Promise<JobResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const msg: ToWorker = { type: 'job', id, bytes: copy, options, name, pixelLimit };
        worker.postMessage(msg, [copy.buffer]);
      });
    },
    memory(opts: { waitMs?: number } = {}) {
      if (closed) return Promise.reject(new FacesrError('the job worker is closed'));
      const id = nextId++;
      const asked = new Promise<RunnerMemory>((resolve) => {
        memoryAsks.set(id, (m) => {
          lastMemory = { ...m, ageMs: 0 };
          lastAt = Date.now();
          resolve(lastMemory);
        });
        worker.postMessage({ type: 'memory', id } satisfies ToWorker);
      });
      if (opts.waitMs === undefined) return asked;
      // A worker inside a long native call answers only after it: give the last reading instead.
      return Promise.race([
        asked,
        new Promise<RunnerMemory>((resolve) =>
          setTimeout(
            () =>
              resolve(
                lastMemory
                  ? { ...lastMemory, ageMs: Date.now() - lastAt }
                  : { thread: 'worker', heapUsedMb: NaN, heapTotalMb: NaN, liveTensors: NaN, ageMs: NaN },
              ),
            opts.waitMs,
          ).unref(),
        ),
      ]);
    },
    async close() {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await done;
      clearTimeout(timer);
      for (const p of pending.values()) p.reject(new FacesrError('the job worker is closed'));
      pending.clear();
    },
  };
  return runner;
}
