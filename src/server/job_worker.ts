// The job worker of facesr serve (src/server/runner.ts startWorkerRunner): loads its own model and
// detector, then runs one job at a time and posts back the answer or the error's HTTP form.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { errorBody } from './errors.js';
import { runJob } from './job.js';
import { modelInfo, threadMemory, type FromWorker, type ToWorker, type WorkerSpec } from './runner.js';

if (isMainThread || !parentPort) throw new Error('job_worker.js runs only as a worker thread');
const port = parentPort;
const spec = workerData as WorkerSpec;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function main(): Promise<void> {
  // No libvips operation cache: uploads never repeat, so a cache would only hold memory (up to
  // sharp's default 50 MB) that looks like growth.
  if (process.env.FACESR_SHARP_CACHE !== '1') (await import('sharp')).default.cache(false);
  const { setNumThreads } = await import('../tensor/index.js');
  const { createDetector } = await import('../infer/detectors.js');
  const { loadModel } = await import('../models/modelfile.js');
  if (spec.threads !== undefined) setNumThreads(spec.threads);
  let detector;
  let model;
  try {
    detector = createDetector(spec.detector as 'retinaface' | 'ssd', {
      weights: spec.detectorWeights,
      scoreThreshold: spec.scoreThreshold,
    });
    model = await loadModel(spec.model, { device: (spec.device ?? 'cpu') as 'cpu' });
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message });
    return;
  }
  post({ type: 'ready', loaded: modelInfo(model), detector: detector.name });
  // Jobs run one after another: the main thread's queue admits and orders them.
  let chain = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'memory') {
      // Answered at once, between jobs' awaits: not queued behind them. After a full collection
      // where node runs with --expose-gc (the bench), so that garbage is not counted as growth.
      (globalThis as { gc?: () => void }).gc?.();
      post({ type: 'memory', id: m.id, memory: threadMemory('worker') });
      return;
    }
    if (m.type === 'close') {
      void chain.then(() => {
        detector.dispose?.();
        model.net.dispose();
        port.close();
      });
      return;
    }
    chain = chain.then(async () => {
      try {
        const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
        const { bytes: out, ...result } = await runJob(bytes, m.options, {
          model,
          detector,
          pixelLimit: m.pixelLimit,
          name: m.name,
        });
        const copy = new Uint8Array(out);
        post({ type: 'result', id: m.id, result, bytes: copy }, [copy.buffer]);
      } catch (err) {
        const body = errorBody(err, Infinity);
        if (body.statusCode === 500) console.error('facesr serve: internal error in the job worker:', err);
        post({ type: 'error', id: m.id, error: body });
      }
    });
  });
}

void main();
