// `npm run bench -- serve`: a bounded load test of facesr serve. The server runs in this process
// (the shipped model; RetinaFace when its weights are found, else the SSD detector) on a free
// loopback port; autocannon, a second process, POSTs a photo as the raw body over a fixed number of
// connections for a fixed time, after a few sequential warm-up requests. More connections than
// the server admits (concurrency + queue) make deliberate 429s. RSS is this process's, after the
// warm-up and at the end. There is no peer: the figures are absolute.
// Conventions: docs/benchmarks.md. Last line:
// {"bench":"serve","requests":N,"errors":E,"p50_ms":A,"p99_ms":B,"rss_growth_mb":M,...}
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  engineInfo,
  getNumThreads,
  liveTensors,
  setMallocArenaMax,
  setNumThreads,
} from '../src/tensor/index.js';
import { loadModel } from '../src/models/index.js';
import { createDetector } from '../src/infer/detectors.js';
import { createServer, inProcessRunner, startWorkerRunner } from '../src/server/index.js';
import { cores, cpuModel, repoRoot, round } from './lib/common.js';

const USAGE =
  'options: --connections N (6), --duration S (60), --warmup N (10 sequential requests), --warmup-s S (60 s of the same load before the first reading), --concurrency N (1), --queue N (4), --threads N (2), --runner worker|thread (worker, as facesr serve), --photo FILE (examples/party-small.jpg), --detector-weights FILE';

interface Options {
  connections: number;
  duration: number;
  warmup: number;
  warmupS: number;
  runner: 'worker' | 'thread';
  concurrency: number;
  queue: number;
  threads: number;
  photo: string;
  weights: string;
}

function parseArgs(argv: string[]): Options {
  const root = repoRoot();
  const o: Options = {
    connections: 6,
    duration: 60,
    warmup: 10,
    warmupS: 60,
    runner: 'worker',
    concurrency: 1,
    queue: 4,
    threads: 2,
    photo: path.join(root, 'examples/party-small.jpg'),
    weights:
      process.env.FACESR_RETINAFACE || path.resolve(root, '../shared/models/retinaface_mnet025.safetensors'),
  };
  const ints: Record<string, keyof Options> = {
    '--connections': 'connections',
    '--duration': 'duration',
    '--warmup': 'warmup',
    '--warmup-s': 'warmupS',
    '--concurrency': 'concurrency',
    '--queue': 'queue',
    '--threads': 'threads',
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const val = () => inline ?? argv[++i] ?? '';
    if (ints[flag]) {
      const v = val();
      const n = Number(v);
      const min = flag === '--queue' || flag === '--warmup' || flag === '--warmup-s' ? 0 : 1;
      if (!Number.isInteger(n) || n < min) {
        console.error(`serve: expected integer >= ${min} for ${flag} but received '${v}' (${USAGE})`);
        process.exit(2);
      }
      (o[ints[flag]] as number) = n;
    } else if (flag === '--runner') {
      const v = val();
      if (v !== 'worker' && v !== 'thread') {
        console.error(`serve: expected worker or thread for --runner but received '${v}' (${USAGE})`);
        process.exit(2);
      }
      o.runner = v;
    } else if (flag === '--photo') o.photo = val();
    else if (flag === '--detector-weights') o.weights = val();
    else {
      console.error(`serve: unknown argument '${argv[i]}' (${USAGE})`);
      process.exit(2);
    }
  }
  if (!existsSync(o.photo)) {
    console.error(`serve: --photo ${o.photo} does not exist`);
    process.exit(2);
  }
  return o;
}

interface CannonResult {
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number | string }>;
}

/** The load process (bench/lib/serve_load.ts), started before the server loads anything. */
class LoadProcess {
  readonly #child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./lib/serve_load.js', import.meta.url))],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  #out = '';
  #err = '';
  #waiting: { resolve: (r: CannonResult) => void; reject: (e: Error) => void } | null = null;
  constructor() {
    this.#child.stderr.on('data', (d: Buffer) => (this.#err += d.toString()));
    this.#child.stdout.on('data', (d: Buffer) => {
      this.#out += d.toString();
      const nl = this.#out.indexOf('\n');
      if (nl < 0 || !this.#waiting) return;
      const line = this.#out.slice(0, nl);
      this.#out = this.#out.slice(nl + 1);
      const w = this.#waiting;
      this.#waiting = null;
      try {
        w.resolve(JSON.parse(line) as CannonResult);
      } catch {
        w.reject(
          new Error(`the load process printed no JSON: ${line.slice(0, 300)} ${this.#err.slice(0, 300)}`),
        );
      }
    });
    this.#child.on('exit', (code) => {
      this.#waiting?.reject(new Error(`the load process exited with ${code}: ${this.#err}`));
      this.#waiting = null;
    });
  }
  /** Runs autocannon against url for `seconds`; resolves with its result. */
  run(url: string, photo: string, connections: number, seconds: number): Promise<CannonResult> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#child.stdin.write(`${JSON.stringify({ url, photo, connections, duration: seconds })}\n`);
    });
  }
  close(): void {
    this.#child.stdin.end();
  }
}

function percentiles(xs: number[]): { p50: number | null; p99: number | null } {
  if (!xs.length) return { p50: null, p99: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99) };
}

/** Resident memory of this process by kind of mapping (MB), from /proc/self/smaps (Linux). */
function residentByKind(): Record<string, number> {
  const out: Record<string, number> = { heap: 0, anon: 0, files: 0, other: 0 };
  let kind = 'other';
  let text = '';
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!.trim();
      kind = name === '[heap]' ? 'heap' : name === '' ? 'anon' : name.startsWith('/') ? 'files' : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind]! += Number(rss[1]) / 1024;
  }
  return out;
}
const fmtKinds = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(a)
    .map((k) => `${k} ${a[k]!.toFixed(1)} -> ${b[k]!.toFixed(1)}`)
    .join(', ');

const statusCount = (r: CannonResult, s: string) => Number(r.statusCodeStats?.[s]?.count ?? 0);
const mb = (b: number) => b / (1024 * 1024);

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  setNumThreads(o.threads);
  const info = engineInfo();
  console.log(
    `machine: ${cpuModel()}, ${cores()} cores; libtorch ${info.torchVersion}; device cpu; threads ${getNumThreads()}; node ${process.version}`,
  );
  const load = new LoadProcess(); // forked before any BLAS thread exists (see serve_load.ts)
  const arenas = setMallocArenaMax(2); // as facesr serve does
  console.log(
    `malloc arenas: ${arenas ? 'at most 2 (as facesr serve)' : `unchanged (MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '-'}, or not glibc)`}`,
  );
  const weights = existsSync(o.weights) ? o.weights : undefined;
  if (!weights) console.log(`detector: no RetinaFace weights at ${o.weights}: the SSD detector`);
  // As facesr serve: the model and detector in a worker thread; or (--runner thread) on this one.
  const model = o.runner === 'thread' ? await loadModel() : null;
  const detector =
    o.runner === 'thread' ? createDetector(weights ? 'retinaface' : 'ssd', weights ? { weights } : {}) : null;
  const runner =
    model && detector
      ? inProcessRunner(model, detector)
      : await startWorkerRunner({
          detector: weights ? 'retinaface' : 'ssd',
          ...(weights ? { detectorWeights: weights } : {}),
          threads: o.threads,
        });
  const okMs: number[] = []; // server-side time of each 200, arrival to answer
  const app = await createServer({
    runner,
    concurrency: o.concurrency,
    maxQueued: o.queue,
    onEnhance: (e) => e.status === 200 && okMs.push(e.ms),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${addr && typeof addr === 'object' ? addr.port : 0}/v1/enhance`;
  console.log(
    `server: model ${runner.loaded.name}, detector ${runner.detectorName} (${o.runner === 'worker' ? 'in a worker thread' : 'on the main thread'}), concurrency ${o.concurrency}, queue ${o.queue}; photo ${path.relative(process.cwd(), o.photo)}`,
  );
  console.log(
    `load: autocannon (a second process), ${o.connections} connections, ${o.duration} s after ${o.warmup} sequential warm-up requests and ${o.warmupS} s of the same load`,
  );
  try {
    // Warm-up: sequential requests in this process, so the first runs' one-off costs (allocator
    // pools, kernels) are paid before the first RSS reading.
    const body = readFileSync(o.photo);
    const tw = performance.now();
    for (let i = 0; i < o.warmup; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/enhance',
        headers: { 'content-type': 'image/jpeg' },
        body,
      });
      if (res.statusCode !== 200)
        throw new Error(`warm-up request answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
    }
    if (o.warmup)
      console.log(
        `warm-up: ${o.warmup} sequential requests, ${((performance.now() - tw) / o.warmup).toFixed(0)} ms each`,
      );
    // Then the same load for warmupS seconds: the allocator's arenas and the sockets' buffers reach
    // their working size under load, which sequential requests never show. Reported, not hidden.
    // With node --expose-gc, readings follow a full collection (JS garbage is not growth).
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const rssCold = process.memoryUsage.rss();
    if (o.warmupS > 0) {
      const w = await load.run(url, o.photo, o.connections, o.warmupS);
      await drain(app);
      gc?.();
      console.log(
        `loaded warm-up: ${w.requests.total} requests in ${o.warmupS} s; rss ${mb(rssCold).toFixed(1)} -> ${mb(process.memoryUsage.rss()).toFixed(1)} MB`,
      );
    }
    okMs.length = 0;
    gc?.();
    const live0 = liveTensors();
    const kinds0 = residentByKind();
    const jobs0 = await runner.memory();
    const mem0 = process.memoryUsage();
    const rss0 = mem0.rss;
    let peak = rss0;
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const v = process.memoryUsage.rss();
      peak = Math.max(peak, v);
      samples.push(v);
    }, 250);
    const r = await load.run(url, o.photo, o.connections, o.duration);
    clearInterval(sampler);
    // Let answers in flight finish before the last reading.
    await drain(app);
    gc?.();
    const mem1 = process.memoryUsage();
    const rss1 = mem1.rss;
    const kinds1 = residentByKind();
    const jobs1 = await runner.memory();
    const live1 = liveTensors();
    const ok = statusCount(r, '200');
    const rejected = statusCount(r, '429');
    const other = r.non2xx - rejected;
    const errors = r.errors + other; // r.errors counts timeouts too
    const growth = mb(rss1 - rss0);
    const mid = samples[Math.floor(samples.length / 2)] ?? rss0;
    const secondHalf = mb(rss1 - mid);
    console.log(
      `run: ${r.requests.total} requests in ${o.duration} s: ${ok} ok (${(ok / o.duration).toFixed(2)} photos/s), ${rejected} deliberate 429, ${other} other non-2xx, ${r.errors} connection errors (${r.timeouts} timeouts)`,
    );
    console.log(
      `status codes: ${Object.entries(r.statusCodeStats ?? {})
        .map(([k, v]) => `${k} x${v.count}`)
        .join(', ')}`,
    );
    const okStats = percentiles(okMs);
    const part = (m: NodeJS.MemoryUsage) =>
      `JS heap ${mb(m.heapUsed).toFixed(1)}, external ${mb(m.external).toFixed(1)} (array buffers ${mb(m.arrayBuffers).toFixed(1)})`;
    console.log(
      `memory after warm-up: ${part(mem0)}; at the end: ${part(mem1)} MB${gc ? ' (after gc)' : ''}`,
    );
    console.log(
      `server time of the ${okMs.length} ok answers (arrival to answer, queue included): p50 ${okStats.p50} ms, p99 ${okStats.p99} ms`,
    );
    console.log(
      `resident MB by mapping (smaps; heap = the main malloc arena, anon = thread arenas, V8 and mmaps): ${fmtKinds(kinds0, kinds1)}; V8 heap total ${mb(mem0.heapTotal).toFixed(1)} -> ${mb(mem1.heapTotal).toFixed(1)}`,
    );
    console.log(
      `the ${jobs0.thread} thread that runs the jobs: V8 heap used ${jobs0.heapUsedMb} -> ${jobs1.heapUsedMb} MB, reserved ${jobs0.heapTotalMb} -> ${jobs1.heapTotalMb} MB`,
    );
    const q = (f: number) =>
      mb(samples[Math.min(samples.length - 1, Math.floor(f * samples.length))] ?? rss1).toFixed(1);
    console.log(
      `rss through the run (quarters): ${q(0)}, ${q(0.25)}, ${q(0.5)}, ${q(0.75)}, end ${mb(rss1).toFixed(1)} MB`,
    );
    console.log(
      `latency (all answers): p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, mean ${round(r.latency.average, 1)} ms, max ${r.latency.max} ms`,
    );
    console.log(
      `rss: after warm-up ${mb(rss0).toFixed(1)} MB, peak ${mb(peak).toFixed(1)} MB, end ${mb(rss1).toFixed(1)} MB, growth ${growth.toFixed(1)} MB; live tensors ${live0} -> ${live1}${live0 === live1 ? ' (equal)' : ' (LEAK)'}`,
    );
    console.log(
      JSON.stringify({
        bench: 'serve',
        requests: r.requests.total,
        errors,
        p50_ms: r.latency.p50,
        p99_ms: r.latency.p99,
        rss_growth_mb: round(growth, 1),
        rss_second_half_growth_mb: round(secondHalf, 1),
        runner: o.runner,
        ok,
        rejected_429: rejected,
        ok_per_s: round(ok / o.duration, 2),
        ok_p50_ms: okStats.p50,
        ok_p99_ms: okStats.p99,
        connections: o.connections,
        duration_s: o.duration,
        concurrency: o.concurrency,
        queue: o.queue,
        detector: runner.detectorName,
        live_tensor_growth: live1 - live0,
      }),
    );
  } finally {
    load.close();
    await app.close();
    await runner.close();
    detector?.dispose?.();
    model?.net.dispose();
  }
}

/** Waits until the server has answered every admitted request and finished every job (at most 10 s). */
async function drain(app: Awaited<ReturnType<typeof createServer>>): Promise<void> {
  for (let i = 0; i < 100 && app.server.listening; i++) {
    const q = (await app.inject({ method: 'GET', url: '/healthz' })).json() as {
      queue: { admitted: number; running: number };
    };
    if (q.queue.admitted === 0 && q.queue.running === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}
