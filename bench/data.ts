// `npm run bench -- data`: does the data loader keep a CPU training step fed?
//
// S: samples/s the loader delivers (HR CelebA faces decoded, area-resized to 64x64, flip + affine
// augmented, batch 16, as tensors), after a warm-up, over >= 2000 samples; measured alone and while
// a training loop runs in another process on the same cores.
// C: HR samples/s one training step of the CPU preset consumes: src/train's SemiCycleTrainer (mode
// 'full') on the 'cpu' preset's networks at batch 16, 2 libtorch threads, in a child process.
// Also measured, as a heavier consumer and as the competitor while the loader is timed: the engine
// bench's SR network (conv 3->64, 8 residual blocks of two 3x3 64-channel convs, 2 x (conv 64->256,
// pixel shuffle x2, relu), conv 64->3), Adam + L1, batch 16, 16x16 input ("stand-in": it was the
// measure before the trainer existed). --no-cpu-preset skips the slow preset step; C is then the
// stand-in's.
// Last line: {"bench":"data","samples_per_s":S,"train_consumes_per_s":C,"ratio":R}, R = S / C with S
// the lower of alone and concurrent (the concurrent one on a machine this small).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { F, Tensor, getNumThreads, manualSeed, randn, setNumThreads, tidy } from '../src/tensor/index.js';
import { Adam } from '../src/optim/index.js';
import { type FAN, buildModel, preset } from '../src/models/index.js';
import { SemiCycleTrainer, buildNetworks } from '../src/train/scgan.js';
import { DataLoader, ImageFolderDataset } from '../src/data/index.js';
import { makeSrNet, turn } from './lib/srnet.js';
import { cores, cpuModel, round, stats } from './lib/common.js';

const DATA = process.env.FACESR_DATA ?? '/work/shared/data';
const BATCH = 16;
const SIZE = 64;
const THREADS = 2;
const AUGMENT = {
  flip: 0.5,
  rotate: 10,
  scale: 0.05,
  shift: 0.03,
  brightness: 0,
  contrast: 0,
  saturation: 0,
};

interface Options {
  samples: number;
  warmupBatches: number;
  workers: number;
  trainSteps: number;
  cpuPreset: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { samples: 2048, warmupBatches: 8, workers: 2, trainSteps: 12, cpuPreset: true };
  const names: Record<string, Exclude<keyof Options, 'cpuPreset'>> = {
    '--samples': 'samples',
    '--warmup': 'warmupBatches',
    '--workers': 'workers',
    '--train-steps': 'trainSteps',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-cpu-preset') {
      o.cpuPreset = false;
      continue;
    }
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const key = names[flag];
    const value = Number(inline ?? argv[++i]);
    if (!key || !Number.isInteger(value) || value < (key === 'workers' ? 0 : 1)) {
      console.error(
        `data: bad argument '${argv[i]}' (options: ${Object.keys(names).join(', ')} N, --no-cpu-preset)`,
      );
      process.exit(2);
    }
    o[key] = value;
  }
  return o;
}

function trainer(): (lr: Tensor, hr: Tensor) => number {
  const net = makeSrNet();
  const opt = new Adam(net.parameters(), { lr: 1e-4 });
  return (lr, hr) =>
    tidy(() => {
      opt.zeroGrad();
      const loss = F.l1Loss(net.forward(lr), hr);
      loss.backward();
      opt.step();
      return loss.item();
    });
}

/**
 * One iteration of the project's trainer (src/train SemiCycleTrainer, mode 'full') with the 'cpu'
 * preset's networks: four discriminator steps, then DF, R (with the frozen FAN's heatmap loss; an
 * untrained FAN costs the same) and DB. Consumes BATCH HR and BATCH real LR faces.
 */
function cpuPresetStep(): (lr: Tensor, hr: Tensor) => number {
  const cfg = preset('cpu');
  const trainer = new SemiCycleTrainer(buildNetworks(cfg), { mode: 'full', fan: buildModel(cfg.FAN) as FAN });
  return (lr, hr) => trainer.step({ hr, lr }).R ?? NaN;
}

/** Child process: train on fixed random tensors forever, one JSON line per step. */
async function trainChild(mode: string): Promise<void> {
  setNumThreads(THREADS);
  manualSeed(0);
  const step = mode === 'cpu-preset' ? cpuPresetStep() : trainer();
  const x = randn([BATCH, 3, SIZE / 4, SIZE / 4]).tanh();
  const y = randn([BATCH, 3, SIZE, SIZE]).tanh();
  for (;;) {
    const t0 = performance.now();
    step(x, y);
    const t = (performance.now() - t0) / 1e3;
    process.stdout.write(`${JSON.stringify({ t, at: Date.now() })}\n`);
    await turn();
  }
}

interface StepLine {
  t: number;
  at: number;
}

/** Starts the training child; resolves once it has done `warmup` steps. */
async function startTrainer(
  warmup: number,
  mode = 'stand-in',
): Promise<{ lines: StepLine[]; stop: () => void }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--train-child', mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: StepLine[] = [];
  let seen = 0;
  let ready: () => void;
  const warm = new Promise<void>((resolve) => (ready = resolve));
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (++seen > warmup) lines.push(JSON.parse(l) as StepLine);
    if (seen === warmup) ready();
  });
  child.on('exit', (code, sig) => {
    if (sig !== 'SIGTERM') throw new Error(`data: training child exited (code ${code}, signal ${sig})`);
  });
  await warm;
  return { lines, stop: () => child.kill('SIGTERM') };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Loader throughput: batches turned into tensors and dropped; warm-up batches not timed. */
async function measureLoader(
  items: ImageFolderDataset['items'],
  o: Options,
  seed: number,
): Promise<{ perS: number; seconds: number; samples: number; from: number; to: number }> {
  const loader = new DataLoader(items, {
    batchSize: BATCH,
    size: SIZE,
    augment: AUGMENT,
    shuffle: true,
    seed,
    epochs: Infinity,
    numWorkers: o.workers,
  });
  let batches = 0;
  let samples = 0;
  let t0 = 0;
  let from = 0;
  for await (const b of loader) {
    b.dispose();
    if (++batches === o.warmupBatches) {
      t0 = performance.now();
      from = Date.now();
      continue;
    }
    if (batches > o.warmupBatches) samples += b.indices.length;
    if (samples >= o.samples) break;
  }
  const seconds = (performance.now() - t0) / 1e3;
  if (loader.report.skipped) console.log(`loader skipped ${loader.report.skipped} unreadable items`);
  return { perS: samples / seconds, seconds, samples, from, to: Date.now() };
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  setNumThreads(THREADS);
  const root = `${DATA}/hr/celeba`;
  const t0 = performance.now();
  const ds = await ImageFolderDataset.fromFolder(root, { identity: 'celeba' }).catch((err: Error) => {
    console.error(`data: cannot list ${root} (${err.message}); set FACESR_DATA to the shared data folder`);
    process.exit(2);
  });
  console.log(
    `machine: ${cpuModel()}, ${cores()} cores; node ${process.version}; libtorch threads ${getNumThreads()}`,
  );
  console.log(
    `data: ${ds.length} images in ${root} (listed by content in ${((performance.now() - t0) / 1e3).toFixed(1)} s); ` +
      `batch ${BATCH}, ${SIZE}x${SIZE} area resize, flip + affine (rotate 10, scale 0.05, shift 0.03), ` +
      `${o.workers} workers, prefetch 4; warm-up ${o.warmupBatches} batches, then >= ${o.samples} samples`,
  );

  // 1. loader alone
  const alone = await measureLoader(ds.items, o, 1);
  console.log(
    `loader alone: ${alone.perS.toFixed(1)} samples/s (${alone.samples} samples in ${alone.seconds.toFixed(2)} s)`,
  );

  // 2. training alone (stand-in, child process, 2 threads)
  console.log(
    'train stand-in: the engine bench SR network ' +
      `(conv 3->64, 8 res blocks 64ch, 2 x (conv 64->256 + pixel shuffle x2 + relu), conv 64->3), Adam + L1, ` +
      `batch ${BATCH}, ${SIZE / 4}x${SIZE / 4} input, ${THREADS} threads, in a child process`,
  );
  const tr = await startTrainer(3);
  while (tr.lines.length < o.trainSteps) await sleep(50);
  const trainAlone = stats(tr.lines.splice(0).map((l) => l.t));
  const cAlone = BATCH / trainAlone.median;
  console.log(
    `stand-in train step alone: median ${(trainAlone.median * 1e3).toFixed(1)} ms (min ${(trainAlone.min * 1e3).toFixed(1)}, ` +
      `n ${trainAlone.n}) -> consumes ${cAlone.toFixed(1)} samples/s`,
  );

  // 2b. one training step of the CPU preset (the trainer's iteration), alone
  let cPreset: number | null = null;
  if (o.cpuPreset) {
    tr.stop();
    const pr = await startTrainer(1, 'cpu-preset');
    while (pr.lines.length < 3) await sleep(200);
    pr.stop();
    const st = stats(pr.lines.map((l) => l.t));
    cPreset = BATCH / st.median;
    console.log(
      `cpu preset training step (SemiCycleTrainer mode 'full': 4 discriminators, DF, R with frozen-FAN ` +
        `heatmap loss, DB) at batch ${BATCH}, ${THREADS} threads: median ${st.median.toFixed(2)} s ` +
        `(min ${st.min.toFixed(2)}, n ${st.n}) -> consumes ${cPreset.toFixed(2)} HR samples/s (plus as many real LR faces)`,
    );
  }
  const tr2 = o.cpuPreset ? await startTrainer(3) : tr;

  // 3. loader while a training loop (the stand-in: steps short enough to overlap the window) runs
  const conc = await measureLoader(ds.items, o, 2);
  const during = tr2.lines.filter((l) => l.at >= conc.from && l.at <= conc.to).map((l) => l.t);
  tr2.stop();
  const trainConc = stats(during);
  const cConc = during.length ? BATCH / trainConc.median : NaN;
  console.log(
    `loader while the stand-in trains: ${conc.perS.toFixed(1)} samples/s (${conc.samples} samples in ${conc.seconds.toFixed(2)} s); ` +
      `training meanwhile: median step ${(trainConc.median * 1e3).toFixed(1)} ms (n ${trainConc.n}) -> ${cConc.toFixed(1)} samples/s`,
  );

  // 4. the real pipeline: one process, the training loop consuming the loader
  manualSeed(0);
  const step = trainer();
  const loader = new DataLoader(ds.items, {
    batchSize: BATCH,
    size: SIZE,
    augment: AUGMENT,
    shuffle: true,
    seed: 3,
    epochs: Infinity,
    numWorkers: o.workers,
  });
  const waits: number[] = [];
  const steps: number[] = [];
  let n = 0;
  let tWait = performance.now();
  for await (const b of loader) {
    const got = performance.now();
    const lr = tidy(() => F.interpolate(b.images, { size: SIZE / 4, mode: 'area' }));
    step(lr, b.images);
    lr.dispose();
    b.dispose();
    await turn();
    if (++n > 3) {
      waits.push((got - tWait) / 1e3);
      steps.push((performance.now() - tWait) / 1e3);
    }
    tWait = performance.now();
    if (n >= 3 + o.trainSteps) break;
  }
  const pipe = stats(steps);
  const wait = stats(waits);
  const waitShare = waits.reduce((a, b) => a + b, 0) / steps.reduce((a, b) => a + b, 0);
  console.log(
    `training fed by the loader (one process): median step ${(pipe.median * 1e3).toFixed(1)} ms incl. waiting ` +
      `${(wait.median * 1e3).toFixed(1)} ms median for data (${(waitShare * 100).toFixed(1)}% of the time) -> ` +
      `${(BATCH / pipe.median).toFixed(1)} samples/s`,
  );

  const s = Math.min(alone.perS, conc.perS);
  const c = cPreset ?? cAlone;
  const ratio = s / c;
  console.log(
    `ratio: S ${s.toFixed(1)} (${s === conc.perS ? 'concurrent, the lower' : 'alone, the lower'}) / C ${c.toFixed(2)} ` +
      `(${cPreset !== null ? 'cpu preset training step' : 'stand-in, --no-cpu-preset'}) = ${ratio.toFixed(2)}; ` +
      `against the heavier stand-in ${(s / cAlone).toFixed(2)} (alone ${(alone.perS / cAlone).toFixed(2)}, ` +
      `concurrent vs the slowed stand-in ${(conc.perS / cConc).toFixed(2)})`,
  );
  console.log(
    JSON.stringify({
      bench: 'data',
      samples_per_s: round(s, 1),
      train_consumes_per_s: round(c, 2),
      ratio: round(ratio, 2),
    }),
  );
}

if (process.argv[2] === '--train-child' && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await trainChild(process.argv[3] ?? 'stand-in');
}
