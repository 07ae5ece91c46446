// `facesr train`: the semi-cycle training loop with data, schedule, EMA, logs, samples, checkpoints,
// resume, NaN/Inf stop and a clean Ctrl-C.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError, FacesrError } from '../core/errors.js';
import { CosineAnnealingLR, emaUpdate } from '../optim/index.js';
import {
  FAN,
  buildModel,
  preset,
  saveModel,
  modelsDir,
  type MethodNetworks,
  type Restoration,
  type ModelConfig,
} from '../models/index.js';
import {
  ImageFolderDataset,
  DataLoader,
  downsample,
  splitByIdentity,
  makeDegradation,
  type Batch as LoaderBatch,
} from '../data/index.js';
import {
  cat,
  manualSeed,
  setNumThreads,
  tidy,
  noGrad,
  keep,
  type Device,
  type Tensor,
} from '../tensor/index.js';
import { readSafetensors, writeFileAtomic } from '../io/index.js';
import { BatchNorm2d, type Module } from '../nn/index.js';
import { SemiCycleTrainer, buildNetworks, type TrainMode, type LossWeights } from './scgan.js';
import { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
import { loadFanFile } from './fan.js';
import { Progress, logJsonl, readHistory, stopOnSignal, writeSampleGrid, writeLossCurves } from './report.js';

export interface TrainOptions {
  /** Folder of HR face crops (any size; resized to 64x64). */
  hr: string;
  /** Folder of real LR faces (resized to 16x16); not needed for mode 'pixel'. */
  lr?: string;
  out: string;
  mode: TrainMode;
  preset?: 'cpu' | 'paper';
  networks?: MethodNetworks;
  steps: number;
  batchSize?: number;
  lr0?: number;
  /** Cosine period in epochs over the HR set (method.md: 10) and floor. */
  cosineEpochs?: number;
  etaMin?: number;
  weights?: Partial<LossWeights>;
  /** FAN weights (safetensors) for mode 'full'. */
  fan?: string;
  /** EMA decay of R (default 0.999), warmed up as min(decay, (1 + step) / (10 + step)). */
  emaDecay?: number;
  seed?: number;
  threads?: number;
  device?: Device;
  sampleEvery?: number;
  checkpointEvery?: number;
  logEvery?: number;
  resume?: boolean;
  workers?: number;
  /**
   * Share of HR identities held out of training (default 0.1; 0: none), listed in `<out>/holdout.txt`
   * for evaluation. Identities: CelebA-style `<identity>_<image>` names, otherwise one per file.
   */
  holdout?: number;
  /** Seed of the hold-out split (default: seed), so that runs of other seeds can keep the same test faces. */
  holdoutSeed?: number;
  /** Start every network (and the EMA) from another run's checkpoint; optimizers start fresh. */
  init?: string;
  /**
   * Mode pixel: how LR is made from HR. 'bicubic4' (default): antialiased bicubic x4; 'realistic':
   * the seeded blur + noise + JPEG pipeline of src/data/degrade.ts; 'mixed': half of each batch each.
   * Seeded by the step, so a resume sees the same LR.
   */
  pixelDegrade?: 'bicubic4' | 'realistic' | 'mixed';
  /**
   * Steps at the start of the run that train only DF and DB on their L1 terms (R frozen,
   * discriminators untouched; see SemiCycleTrainer.warmupStep). Default 0. They count in `steps`;
   * the cosine schedules start after them.
   */
  warmupDegraders?: number;
  /** Adam learning rate of DF and DB during the warm-up (default 1e-3). */
  warmupLr?: number;
}

export interface TrainResult {
  step: number;
  stopped: 'done' | 'interrupted' | 'nan';
  checkpoint: string;
  seconds: number;
}

/** Trains the semi-cycled GAN; resumable from `<out>/checkpoint.safetensors` with resume. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const nets = o.networks ?? preset(o.preset ?? 'cpu');
  const bs = o.batchSize ?? 16;
  const seed = o.seed ?? 2020;
  if (o.threads) setNumThreads(o.threads);
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new ArgumentError(`Expected positive integer for steps but received ${o.steps}`);
  if (o.mode !== 'pixel' && !o.lr) throw new ArgumentError(`Mode '${o.mode}' needs real LR faces (--lr DIR)`);
  await mkdir(path.join(o.out, 'samples'), { recursive: true });
  const ckpt = path.join(o.out, 'checkpoint.safetensors');
  const logFile = path.join(o.out, 'log.jsonl');
  if (!o.resume && existsSync(ckpt))
    throw new FacesrError(`${ckpt} exists: pass --resume to continue it, or choose another --out`);

  manualSeed(seed);
  const networks = buildNetworks(nets);
  let fan: FAN | null = null;
  if (o.mode === 'full' && (o.weights?.lambdaHm ?? 10) > 0) {
    // The shipped FAN of the preset when none is given (models/fan-<preset>.safetensors).
    const shipped = path.join(modelsDir(), `fan-${o.preset ?? 'cpu'}.safetensors`);
    const fanFile = o.fan ?? (!o.networks && existsSync(shipped) ? shipped : undefined);
    if (!fanFile)
      throw new ArgumentError(
        "Mode 'full' needs a trained FAN: --fan FILE (train one with facesr train-fan)",
      );
    // The FAN is a frozen judge of landmarks, so any trained FAN serves any preset: a file written
    // by 'facesr train-fan' carries its own architecture; one without it must be the preset's.
    fan = await loadFanFile(fanFile, nets.FAN);
    if (!o.fan) console.error(`facesr train: heatmap loss through the shipped FAN ${fanFile}`);
  }
  if (o.device && o.device !== 'cpu') {
    for (const m of Object.values(networks)) m.to({ device: o.device });
    fan?.to({ device: o.device });
  }
  const trainer = new SemiCycleTrainer(networks, {
    mode: o.mode,
    fan,
    weights: o.weights,
    lr: o.lr0 ?? 1e-4,
  });
  const ema = buildModel(nets.R) as Restoration;
  if (o.device && o.device !== 'cpu') ema.to({ device: o.device });
  ema.loadStateDict(networks.R.stateDict());
  ema.eval();

  if (o.init && !(o.resume && existsSync(ckpt))) await initFrom(o.init, { ...networks, EMA: ema });

  const allHr = await ImageFolderDataset.fromFolder(o.hr);
  if (allHr.items.length === 0) throw new ArgumentError(`No images found in ${o.hr}`);
  const holdout = o.holdout ?? 0.1;
  if (!(holdout >= 0 && holdout < 1))
    throw new ArgumentError(`Expected a share in [0, 1) for holdout but received ${holdout}`);
  let hrSet = allHr;
  if (holdout > 0) {
    const [kept, held] = splitByIdentity(allHr.items, {
      fractions: [1 - holdout, holdout],
      seed: o.holdoutSeed ?? seed,
      identity: (it) => hrIdentity(it.file),
    });
    hrSet = new ImageFolderDataset(kept!);
    await writeFileAtomic(
      path.join(o.out, 'holdout.txt'),
      held!.map((it) => path.resolve(it.file)).join('\n') + '\n',
    );
  }
  const lrFolders = o.lr ? await lowResolutionFolders(o.lr) : [];
  const lrSet = o.lr
    ? new ImageFolderDataset(
        (await Promise.all(lrFolders.map((d) => ImageFolderDataset.fromFolder(d)))).flatMap((d) => d.items),
      )
    : null;
  if (lrSet && lrSet.items.length === 0) throw new ArgumentError(`No images found in ${o.lr}`);
  if (lrSet) {
    const counts = lrFolders.map(
      (d) => `${d} (${lrSet.items.filter((it) => it.file.startsWith(d + path.sep)).length})`,
    );
    console.error(`facesr train: ${lrSet.items.length} LR faces from ${counts.join(', ')}`);
  }
  const perEpoch = Math.max(1, Math.floor(hrSet.items.length / bs));
  const schedulers = Object.fromEntries(
    Object.entries(trainer.optimizers).map(([k, opt]) => [
      k,
      new CosineAnnealingLR(opt, (o.cosineEpochs ?? 10) * perEpoch, o.etaMin ?? 1e-5),
    ]),
  );

  const warmup = o.warmupDegraders ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0)
    throw new ArgumentError(`Expected a non-negative integer for warmupDegraders but received ${warmup}`);
  if (warmup > 0 && o.mode === 'pixel')
    throw new ArgumentError("Mode 'pixel' has no degradation networks to warm up (warmupDegraders)");
  const warmupLr = o.warmupLr ?? 1e-3;
  const degraders = (['DF', 'DB'] as const).filter((n) => trainer.optimizers[n]);

  let step = 0;
  const history: { step: number; losses: Record<string, number> }[] = [];
  if (o.resume && existsSync(ckpt)) {
    const r = await loadCheckpoint(ckpt, {
      modules: { ...networks, EMA: ema },
      optimizers: trainer.optimizers as never,
      schedulers,
    });
    step = r.step;
    history.push(...(await readHistory(logFile, step)));
    console.error(`facesr train: resumed from ${ckpt} at step ${step}`);
  }
  const common = {
    shuffle: true,
    dropLast: true,
    numWorkers: o.workers ?? 1,
    range: '-1,1' as const,
    device: o.device,
  };
  // One endless loader per set, reshuffled every epoch from the seed; a resume starts at the saved
  // step's batch, so it sees exactly the data an uninterrupted run would.
  const fixed = { flip: 0.5, rotate: 0, scale: 0, shift: 0, brightness: 0, contrast: 0, saturation: 0 };
  const hrLoader = new DataLoader(hrSet, {
    ...common,
    batchSize: bs,
    size: 64,
    seed,
    augment: fixed,
    epochs: Infinity,
    startBatch: step,
  });
  const lrLoader = lrSet
    ? new DataLoader(lrSet, {
        ...common,
        batchSize: bs,
        size: 16,
        seed: seed + 1,
        augment: fixed,
        epochs: Infinity,
        startBatch: step,
      })
    : null;
  const hrIter = hrLoader[Symbol.asyncIterator]();
  const lrIter = lrLoader ? lrLoader[Symbol.asyncIterator]() : null;

  // The EMA copy's batch-norm statistics are set from a fixed sample of R's kind of input before each
  // save and sample grid (recalibrateBatchNorm): the first 256 faces of each set at 16x16 (the HR
  // faces area-reduced), in file order, without augmentation, so a resumed run saves the same model.
  let calibration: Tensor[] | null = null;
  const calibratedEma = async () => {
    if (!calibration) {
      calibration = [];
      for (const set of [hrSet, lrSet]) {
        if (!set) continue;
        const loader = new DataLoader(set, {
          ...common,
          shuffle: false,
          dropLast: false,
          numWorkers: 1,
          batchSize: 64,
          size: 16,
          seed,
          augment: false,
          epochs: 1,
        });
        let n = 0;
        for await (const b of loader) {
          calibration.push(keep(b.images));
          b.landmarks?.dispose();
          if (++n === 4) break;
        }
      }
    }
    recalibrateBatchNorm(ema, calibration);
  };
  const stop = stopOnSignal('train');
  const save = async () => {
    await calibratedEma();
    await saveCheckpoint(ckpt, {
      step,
      modules: { ...networks, EMA: ema },
      optimizers: trainer.optimizers as never,
      schedulers,
      extra: {
        mode: o.mode,
        networks: nets,
        batchSize: bs,
        seed,
        holdout,
        holdoutSeed: o.holdoutSeed ?? seed,
        init: o.init ?? null,
        warmupDegraders: warmup,
        ...(o.mode === 'pixel' ? { pixelDegrade: o.pixelDegrade ?? 'bicubic4' } : {}),
      },
    });
    // The EMA restoration network as a model file 'facesr enhance --model' and 'facesr eval' read.
    await saveModel(path.join(o.out, 'model.safetensors'), ema.stateDict(), {
      arch: nets.R,
      preset: o.preset ?? (o.networks ? 'custom' : 'cpu'),
      mode: o.mode,
      step,
      batchSize: bs,
      seed,
      lambdaHm: trainer.weights.lambdaHm,
      weights: trainer.weights,
      hr: path.resolve(o.hr),
      lr: o.lr ? path.resolve(o.lr) : null,
      init: o.init ?? null,
      ...(o.mode === 'pixel' ? { pixelDegrade: o.pixelDegrade ?? 'bicubic4' } : {}),
    });
  };
  const keys = ['R', 'R_l1', 'R_hm', 'DF', 'DB', 'D_H1', 'D_L1'];
  const progress = new Progress(o.steps, step);
  let stopped: TrainResult['stopped'] = 'done';
  // A finished run resumed with the same --steps re-exports its model (with this version's export).
  if (step >= o.steps && o.resume) await save();
  try {
    while (step < o.steps) {
      const hb = (await hrIter.next()).value as LoaderBatch;
      const lb = lrIter ? ((await lrIter.next()).value as LoaderBatch) : null;
      const hr = hb.images;
      const lrFromHr =
        o.mode === 'pixel' ? await pixelLr(hr, o.pixelDegrade ?? 'bicubic4', seed, step) : undefined;
      const warming = step < warmup;
      if (warming) for (const n of degraders) trainer.optimizers[n]!.setLr(warmupLr);
      else if (step === warmup && warmup > 0) {
        // The warm-up is over: every schedule (not stepped during it) sets its lr again.
        for (const s of Object.values(schedulers)) s.loadStateDict(s.stateDict());
      }
      const batch = { hr, lr: lb?.images ?? hr, lrFromHr };
      const losses = warming ? trainer.warmupStep(batch) : trainer.step(batch);
      if (Object.values(losses).some((v) => !Number.isFinite(v))) {
        stopped = 'nan';
        console.error(
          `\nfacesr train: a loss became NaN/Inf at step ${step + 1} (${JSON.stringify(losses)}); stopping. The last good checkpoint is ${ckpt}.`,
        );
        hb.dispose();
        lb?.dispose();
        lrFromHr?.dispose();
        break;
      }
      // Warm-up (as in TensorFlow's ExponentialMovingAverage with num_updates): the average follows R
      // closely at first instead of carrying its random start for thousands of steps.
      emaUpdate(
        ema.parameters(),
        networks.R.parameters(),
        Math.min(o.emaDecay ?? 0.999, (1 + step) / (10 + step)),
      );
      // The average's batch-norm statistics are not copied from R: they are computed for its own
      // weights before each use (calibratedEma).
      if (!warming) for (const s of Object.values(schedulers)) s.step();
      step++;
      if (step % (o.logEvery ?? 10) === 0 || step === 1) {
        history.push({ step, losses });
        await logJsonl(logFile, {
          step,
          time: (performance.now() - t0) / 1000,
          lr: trainer.optimizers.R?.lr,
          ...(warming ? { warmup: true, lr_DF: trainer.optimizers.DF?.lr } : {}),
          ...losses,
        });
      }
      progress.update(step, losses, keys);
      if (step % (o.sampleEvery ?? 500) === 0 || step === o.steps) {
        const src = lrFromHr ?? lb!.images;
        await calibratedEma();
        const sr = noGrad(() => ema.forward(src));
        await writeSampleGrid(
          path.join(o.out, 'samples', `step_${String(step).padStart(7, '0')}.png`),
          src,
          sr,
          hr,
        );
        sr.dispose();
        await writeLossCurves(path.join(o.out, 'losses'), history);
      }
      hb.dispose();
      lb?.dispose();
      lrFromHr?.dispose();
      if (step % (o.checkpointEvery ?? 1000) === 0 || step === o.steps || stop.requested) await save();
      if (stop.requested) {
        stopped = 'interrupted';
        break;
      }
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    progress.end();
    stop.dispose();
    await hrIter.return(undefined);
    await lrIter?.return(undefined);
    for (const t of (calibration as Tensor[] | null) ?? []) t.dispose();
  }
  await writeLossCurves(path.join(o.out, 'losses'), history);
  await writeFile(
    path.join(o.out, 'last_run.json'),
    JSON.stringify({ step, stopped, seconds: (performance.now() - t0) / 1000 }, null, 2),
  );
  return { step, stopped, checkpoint: ckpt, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Sets a network's batch-norm running statistics to their plain mean over the inputs (one train-mode
 * pass without gradients, momentum 1/i at the i-th batch: "precise BN"), then eval mode. The EMA copy
 * of R needs it: its weights are an average, so the statistics of the live R (which it used to copy
 * each step) do not match them, and the mismatch grows as R moves (measured: a full-method run's EMA
 * lost 1.3 dB PSNR to it, recovered by this; docs/training.md).
 */
export function recalibrateBatchNorm(
  net: Module & { forward(x: Tensor): Tensor },
  inputs: readonly Tensor[],
): void {
  const norms = net.namedModules().flatMap(([, m]) => (m instanceof BatchNorm2d ? [m] : []));
  if (inputs.length === 0 || norms.length === 0) return;
  const momenta = norms.map((m) => m.momentum);
  net.train();
  try {
    noGrad(() =>
      inputs.forEach((x, i) => {
        for (const m of norms) m.momentum = 1 / (i + 1);
        net.forward(x).dispose();
      }),
    );
  } finally {
    norms.forEach((m, i) => (m.momentum = momenta[i]!));
    net.eval();
  }
}

/** LR for mode pixel (see TrainOptions.pixelDegrade); the realistic part is seeded by (seed, step). */
async function pixelLr(
  hr: Tensor,
  how: 'bicubic4' | 'realistic' | 'mixed',
  seed: number,
  step: number,
): Promise<Tensor> {
  if (how === 'bicubic4') return keep(tidy(() => downsample(hr, 4, { mode: 'bicubic' })));
  const n = hr.shape[0]!;
  const k = how === 'mixed' ? Math.floor(n / 2) : 0;
  const deg = makeDegradation('realistic', { seed: (seed * 1_000_003 + step) >>> 0, range: '-1,1' });
  const tail = hr.narrow(0, k, n - k);
  const { lr } = await deg.degrade(tail);
  tail.dispose();
  if (k === 0) return lr;
  const out = keep(tidy(() => cat([downsample(hr.narrow(0, 0, k), 4, { mode: 'bicubic' }), lr], 0)));
  lr.dispose();
  return out;
}

/** Identity for the hold-out: CelebA-style `<identity>_<image>` names, otherwise the file itself. */
function hrIdentity(file: string): string {
  const base = path.basename(file);
  const m = /^([^_]+)_[^_]+\.[A-Za-z0-9]+$/.exec(base);
  return m ? m[1]! : base;
}

/**
 * The folders of real LR faces under `dir`: the `lr16/` folders of 'facesr data harvest' outputs
 * (dir itself or its sub-folders holding a manifest.jsonl), otherwise dir itself.
 */
export async function lowResolutionFolders(dir: string): Promise<string[]> {
  const harvested = (d: string) =>
    existsSync(path.join(d, 'manifest.jsonl')) && existsSync(path.join(d, 'lr16'));
  if (harvested(dir)) return [path.join(dir, 'lr16')];
  let subs: string[] = [];
  try {
    // statSync follows symbolic links: a linked harvest folder counts like a real one (a Dirent's
    // isDirectory() is false for a link, which once dropped two of four linked sets without a word).
    subs = (await readdir(dir))
      .map((name) => path.join(dir, name))
      .filter((d) => {
        try {
          return statSync(d).isDirectory();
        } catch {
          return false;
        }
      })
      .sort();
  } catch (err) {
    throw new ArgumentError(`Cannot read the LR folder ${dir}: ${(err as Error).message}`);
  }
  const found = subs.filter(harvested);
  if (found.length === 0) return [dir];
  const skipped = subs.filter((d) => !harvested(d));
  if (skipped.length > 0)
    throw new ArgumentError(
      `The LR folder ${dir} mixes harvest outputs (a manifest.jsonl and lr16/) with other folders: ${skipped
        .map((d) => path.basename(d))
        .join(', ')}. Give one kind, or move those folders out`,
    );
  return found.map((d) => path.join(d, 'lr16'));
}

/** Loads every module found in a training checkpoint (keys `net.<name>.*`); others keep their init. */
async function initFrom(
  file: string,
  modules: Record<string, { loadStateDict(t: Map<string, Tensor>): void }>,
) {
  const { tensors } = await readSafetensors(file);
  try {
    let loaded = 0;
    for (const [name, m] of Object.entries(modules)) {
      const prefix = `net.${name}.`;
      const sub = new Map<string, Tensor>();
      for (const [k, t] of tensors) if (k.startsWith(prefix)) sub.set(k.slice(prefix.length), t);
      if (sub.size === 0) continue;
      m.loadStateDict(sub);
      loaded++;
    }
    if (loaded === 0) throw new FacesrError(`${file}: no network weights (keys net.<name>.*) to start from`);
    console.error(`facesr train: started ${loaded} networks from ${file}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** The EMA restoration network's weights from a training checkpoint (what ships). */
/**
 * One network of a training checkpoint, built from the configs the checkpoint records and loaded with
 * its weights (keys `net.<name>.*`; 'EMA' is R's architecture), in eval mode, with the checkpoint's
 * step. For tools that look at a run's DF, discriminators or R without training on.
 */
export async function networkFromCheckpoint(
  checkpoint: string,
  name: string,
): Promise<{ net: Module; step: number }> {
  const { tensors, metadata } = await readSafetensors(checkpoint);
  try {
    type Meta = { step?: number; extra?: { networks?: Record<string, ModelConfig> } } | null;
    let meta: Meta;
    try {
      meta = JSON.parse(metadata.facesr ?? 'null') as Meta;
    } catch {
      meta = null;
    }
    const configs = meta?.extra?.networks;
    if (!configs)
      throw new FacesrError(`${checkpoint}: not a facesr training checkpoint (no network configs)`);
    const cfg = configs[name === 'EMA' ? 'R' : name];
    const prefix = `net.${name}.`;
    const sub = new Map<string, Tensor>();
    for (const [k, t] of tensors) if (k.startsWith(prefix)) sub.set(k.slice(prefix.length), t);
    if (!cfg || sub.size === 0) {
      const names = new Set(
        [...tensors.keys()].filter((k) => k.startsWith('net.')).map((k) => k.split('.')[1]),
      );
      throw new ArgumentError(`${checkpoint}: no network '${name}'; it has ${[...names].join(', ')}`);
    }
    const net = buildModel(cfg);
    net.loadStateDict(sub);
    net.eval();
    return { net, step: meta?.step ?? 0 };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

export async function exportRestoration(checkpoint: string): Promise<Map<string, Tensor>> {
  const { tensors } = await readSafetensors(checkpoint);
  const out = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith('net.EMA.')) out.set(k.slice('net.EMA.'.length), t);
    else t.dispose();
  }
  if (out.size === 0) throw new FacesrError(`${checkpoint}: no EMA restoration weights`);
  return out;
}
