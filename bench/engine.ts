// `npm run bench -- engine`: the tensor engine against PyTorch on an SR-style network (forward
// without grad, and a full Adam training step), plus RSS over a long training loop.
// Method and conventions: docs/benchmarks.md.
//
// Reading the numbers: on VMs like ours, glibc's heap trimming (freed tensor memory handed back to
// the kernel, then faulted in again at ~10-50 us per 4 KiB page) can dominate a step, on either side
// and by luck of heap layout; the "minor page faults per iteration" line shows when it happened. To
// compare the engines without it, run both sides with the same malloc settings, e.g.
//   MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_MMAP_THRESHOLD_=33554432 npm run bench -- engine
// (the peer inherits them; --peer-malloc-defaults gives the peer glibc's defaults instead).
import path from 'node:path';
import {
  F,
  tidy,
  noGrad,
  randn,
  manualSeed,
  setNumThreads,
  getNumThreads,
  liveTensors,
  engineInfo,
} from '../src/tensor/index.js';
import { makeSrNet, turn } from './lib/srnet.js';
import { Adam } from '../src/optim/index.js';
import { PythonPeer, cores, cpuModel, fmtMs, repoRoot, round, stats, type Stats } from './lib/common.js';

const THREADS = 2;
type Mode = 'forward' | 'train';
/** Per-iteration seconds and the minor page faults taken over them. */
interface Batch {
  times: number[];
  minflt: number;
}
const BATCH = 8;
const LR = 1e-4;

interface Options {
  warmup: number;
  rounds: number;
  iters: number;
  rssSteps: number;
  rssBaselineStep: number;
  /** Start the peer without the MALLOC_* / GLIBC_TUNABLES variables this process was given. */
  peerMallocDefaults: boolean;
}

const USAGE =
  'options: --warmup N (3), --rounds N (5), --iters N (5), --rss-steps N (500), --peer-malloc-defaults';

function parseArgs(argv: string[]): Options {
  const o: Options = {
    warmup: 3,
    rounds: 5,
    iters: 5,
    rssSteps: 500,
    rssBaselineStep: 50,
    peerMallocDefaults: false,
  };
  const counts: Record<string, 'warmup' | 'rounds' | 'iters' | 'rssSteps'> = {
    '--warmup': 'warmup',
    '--rounds': 'rounds',
    '--iters': 'iters',
    '--rss-steps': 'rssSteps',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--peer-malloc-defaults') {
      o.peerMallocDefaults = true;
      continue;
    }
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const key = Object.hasOwn(counts, flag) ? counts[flag] : undefined;
    const value = Number(inline ?? argv[++i]);
    if (!key || !Number.isInteger(value) || value < 1) {
      console.error(`engine: bad argument '${arg}' (${USAGE})`);
      process.exit(2);
    }
    o[key] = value;
  }
  o.rssBaselineStep = Math.min(o.rssBaselineStep, o.rssSteps);
  return o;
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  setNumThreads(THREADS);
  manualSeed(0);
  const info = engineInfo();
  const backend = /parallel backend:\s*(\S+)/.exec(info.parallelInfo)?.[1] ?? 'unknown';
  console.log(
    `machine: ${cpuModel()}, ${cores()} cores; libtorch ${info.torchVersion} (parallel backend ${backend}, ` +
      `mkldnn ${info.mkldnn}); device cpu; threads ${getNumThreads()}; node ${process.version}`,
  );
  const isMallocVar = (k: string) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES';
  const mallocEnv = Object.entries(process.env)
    .filter(([k]) => isMallocVar(k))
    .map(([k, v]) => `${k}=${v ?? ''}`);
  const mallocLine = mallocEnv.length ? mallocEnv.join(' ') : 'glibc defaults';
  console.log(
    o.peerMallocDefaults
      ? `malloc: facesr ${mallocLine}; peer glibc defaults`
      : `malloc: ${mallocLine} (both sides)`,
  );

  const net = makeSrNet();
  const params = net.parameters();
  const opt = new Adam(params, { lr: LR });
  const x = randn([BATCH, 3, 16, 16]);
  const target = randn([BATCH, 3, 64, 64]);
  console.log(
    `network: input [${x.shape.join(', ')}], ${params.length} parameter tensors, ` +
      `${net.numParameters()} weights; L1 loss; Adam lr ${LR}; float32`,
  );

  const forwardOnce = (): void => {
    noGrad(() => tidy(() => void net.forward(x)));
  };
  let lastLoss = NaN;
  const trainOnce = async (): Promise<void> => {
    lastLoss = tidy(() => {
      opt.zeroGrad();
      const y = net.forward(x);
      const loss = F.l1Loss(y, target);
      loss.backward();
      opt.step();
      return loss.item();
    });
    await turn(); // the project's rule: let the event loop turn once per training step
  };
  // Each timed batch also counts minor page faults: on this kind of VM, memory that glibc hands back
  // to the kernel (heap trimming) is expensive to fault in again, and it dominates the noise.
  const faults = () => process.resourceUsage().minorPageFault;
  const timeForward = async (n: number): Promise<Batch> => {
    const times: number[] = [];
    let minflt = 0;
    for (let i = 0; i < n; i++) {
      const f0 = faults();
      const t0 = performance.now();
      forwardOnce();
      times.push((performance.now() - t0) / 1e3);
      minflt += faults() - f0;
      await turn(); // outside the timed region
    }
    return { times, minflt };
  };
  const timeTrain = async (n: number): Promise<Batch> => {
    const times: number[] = [];
    const f0 = faults();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await trainOnce(); // timed including its event-loop turn
      times.push((performance.now() - t0) / 1e3);
    }
    return { times, minflt: faults() - f0 };
  };

  const peerScript = path.join(repoRoot(), 'bench', 'peers', 'engine.py');
  const peerEnv: Record<string, string | undefined> = { OMP_NUM_THREADS: String(THREADS) };
  if (o.peerMallocDefaults)
    for (const k of Object.keys(process.env)) if (isMallocVar(k)) peerEnv[k] = undefined;
  const peer = await PythonPeer.start(peerScript, [String(THREADS)], peerEnv);
  if (peer) {
    console.log(
      `peer: PyTorch ${String(peer.info.torch)} (python ${path.basename(peerScript)}), threads ${String(peer.info.threads)}, mkldnn ${String(peer.info.mkldnn)}`,
    );
  }
  const peerBatch = (mode: Mode, n: number): Promise<Batch> => peer!.request<Batch>(`${mode} ${n}`);

  // ---- timing: warm-up, then alternating rounds ----
  const empty = () => ({ times: [] as number[], minflt: 0 });
  const results: Record<Mode, { facesr: Batch; torch: Batch }> = {
    forward: { facesr: empty(), torch: empty() },
    train: { facesr: empty(), torch: empty() },
  };
  const add = (into: Batch, b: Batch) => {
    into.times.push(...b.times);
    into.minflt += b.minflt;
  };
  for (const mode of ['forward', 'train'] as const) {
    const ours = mode === 'forward' ? timeForward : timeTrain;
    await ours(o.warmup);
    if (peer) await peerBatch(mode, o.warmup);
    for (let r = 0; r < o.rounds; r++) {
      const a = await ours(o.iters);
      add(results[mode].facesr, a);
      let line = `${mode} round ${r + 1}: facesr ${fmtMs(stats(a.times))}`;
      if (peer) {
        const b = await peerBatch(mode, o.iters);
        add(results[mode].torch, b);
        line += `; torch ${fmtMs(stats(b.times))}`;
      }
      console.log(line);
    }
  }
  if (peer) await peer.close();
  if (!Number.isFinite(lastLoss)) throw new Error(`engine: training loss is not finite (${lastLoss})`);
  const perIter = (b: Batch) => Math.round(b.minflt / Math.max(1, b.times.length));
  const fault = {
    facesrForward: perIter(results.forward.facesr),
    torchForward: perIter(results.forward.torch),
    facesrTrain: perIter(results.train.facesr),
    torchTrain: perIter(results.train.torch),
  };
  console.log(
    `minor page faults per iteration: forward facesr ${fault.facesrForward}` +
      `${peer ? `, torch ${fault.torchForward}` : ''}; train step facesr ${fault.facesrTrain}` +
      `${peer ? `, torch ${fault.torchTrain}` : ''}`,
  );

  const sf = stats(results.forward.facesr.times);
  const tf = stats(results.forward.torch.times);
  const st = stats(results.train.facesr.times);
  const tt = stats(results.train.torch.times);
  console.log(`forward (no grad): facesr ${fmtMs(sf)}${peer ? `; torch ${fmtMs(tf)}` : ''}`);
  console.log(`train step:        facesr ${fmtMs(st)}${peer ? `; torch ${fmtMs(tt)}` : ''}`);
  const forwardRatio = peer ? sf.median / tf.median : null;
  const trainRatio = peer ? st.median / tt.median : null;
  // Minimum-based ratios: the least-disturbed iteration of each side (a cross-check on a noisy machine).
  const forwardRatioMin = peer ? sf.min / tf.min : null;
  const trainRatioMin = peer ? st.min / tt.min : null;
  if (peer)
    console.log(
      `ratios (facesr / torch): medians forward ${forwardRatio!.toFixed(3)}, train step ${trainRatio!.toFixed(3)}; ` +
        `minimums forward ${forwardRatioMin!.toFixed(3)}, train step ${trainRatioMin!.toFixed(3)}`,
    );

  // ---- memory: a long training loop ----
  const liveBefore = liveTensors();
  const mb = (b: number) => b / (1024 * 1024);
  let baseline = NaN;
  let loopPeak = 0;
  const t0 = performance.now();
  for (let step = 1; step <= o.rssSteps; step++) {
    await trainOnce();
    const rss = process.memoryUsage.rss();
    loopPeak = Math.max(loopPeak, rss);
    if (step === o.rssBaselineStep) baseline = rss;
  }
  const end = process.memoryUsage.rss();
  const liveAfter = liveTensors();
  const growth = mb(end - baseline);
  const peakRss = process.resourceUsage().maxRSS / 1024; // KiB -> MiB, whole process lifetime
  console.log(
    `rss over ${o.rssSteps} training steps (${((performance.now() - t0) / 1e3).toFixed(1)} s): ` +
      `after step ${o.rssBaselineStep} ${mb(baseline).toFixed(1)} MB, end ${mb(end).toFixed(1)} MB, ` +
      `growth ${growth.toFixed(1)} MB; loop peak ${mb(loopPeak).toFixed(1)} MB, process peak ${peakRss.toFixed(1)} MB; ` +
      `last loss ${lastLoss.toFixed(4)}`,
  );
  console.log(
    `live tensors: before ${liveBefore}, after ${liveAfter}${liveBefore === liveAfter ? ' (equal)' : ' (LEAK)'}`,
  );

  const ms = (s: Stats) => round(s.median * 1e3, 2);
  console.log(
    JSON.stringify({
      bench: 'engine',
      forward_ratio: forwardRatio === null ? null : round(forwardRatio),
      train_step_ratio: trainRatio === null ? null : round(trainRatio),
      rss_growth_mb: round(growth, 1),
      forward_ratio_min: forwardRatioMin === null ? null : round(forwardRatioMin),
      train_step_ratio_min: trainRatioMin === null ? null : round(trainRatioMin),
      facesr_forward_ms: ms(sf),
      torch_forward_ms: peer ? ms(tf) : null,
      facesr_train_ms: ms(st),
      torch_train_ms: peer ? ms(tt) : null,
      peak_rss_mb: round(peakRss, 1),
      facesr_forward_faults: fault.facesrForward,
      torch_forward_faults: peer ? fault.torchForward : null,
      facesr_train_faults: fault.facesrTrain,
      torch_train_faults: peer ? fault.torchTrain : null,
      live_tensors_before: liveBefore,
      live_tensors_after: liveAfter,
      threads: THREADS,
      peer: peer ? `torch ${String(peer.info.torch)}` : null,
    }),
  );
}
