// `facesr train`: the semi-cycle training loop with data, schedule, EMA, logs, samples, checkpoints,
// resume, NaN/Inf stop and a clean Ctrl-C.
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError, FacesrError } from '../core/errors.js';
import { CosineAnnealingLR, emaUpdate } from '../optim/index.js';
import { FAN, buildModel, preset, type MethodNetworks, type Restoration } from '../models/index.js';
import { ImageFolderDataset, DataLoader, downsample, type Batch as LoaderBatch } from '../data/index.js';
import { manualSeed, setNumThreads, tidy, noGrad, keep, type Device, type Tensor } from '../tensor/index.js';
import { readSafetensors } from '../io/index.js';
import { SemiCycleTrainer, buildNetworks, type TrainMode, type LossWeights } from './scgan.js';
import { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
import { Progress, logJsonl, readHistory, writeSampleGrid, writeLossCurves } from './report.js';

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
  emaDecay?: number;
  seed?: number;
  threads?: number;
  device?: Device;
  sampleEvery?: number;
  checkpointEvery?: number;
  logEvery?: number;
  resume?: boolean;
  workers?: number;
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
    if (!o.fan)
      throw new ArgumentError(
        "Mode 'full' needs a trained FAN: --fan FILE (train one with facesr train-fan)",
      );
    fan = buildModel(nets.FAN) as FAN;
    const { tensors } = await readSafetensors(o.fan);
    fan.loadStateDict(tensors);
    for (const t of tensors.values()) t.dispose();
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

  const hrSet = await ImageFolderDataset.fromFolder(o.hr);
  if (hrSet.items.length === 0) throw new ArgumentError(`No images found in ${o.hr}`);
  const lrSet = o.lr ? await ImageFolderDataset.fromFolder(o.lr) : null;
  if (lrSet && lrSet.items.length === 0) throw new ArgumentError(`No images found in ${o.lr}`);
  const perEpoch = Math.max(1, Math.floor(hrSet.items.length / bs));
  const schedulers = Object.fromEntries(
    Object.entries(trainer.optimizers).map(([k, opt]) => [
      k,
      new CosineAnnealingLR(opt, (o.cosineEpochs ?? 10) * perEpoch, o.etaMin ?? 1e-5),
    ]),
  );

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

  let interrupted = false;
  const onSig = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(
      '\nfacesr train: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)',
    );
  };
  process.on('SIGINT', onSig);
  const save = async () => {
    await saveCheckpoint(ckpt, {
      step,
      modules: { ...networks, EMA: ema },
      optimizers: trainer.optimizers as never,
      schedulers,
      extra: { mode: o.mode, networks: nets, batchSize: bs, seed },
    });
  };
  const keys = ['R', 'R_l1', 'R_hm', 'DF', 'DB', 'D_H1', 'D_L1'];
  const progress = new Progress(o.steps, step);
  let stopped: TrainResult['stopped'] = 'done';
  try {
    while (step < o.steps) {
      const hb = (await hrIter.next()).value as LoaderBatch;
      const lb = lrIter ? ((await lrIter.next()).value as LoaderBatch) : null;
      const hr = hb.images;
      const lrFromHr =
        o.mode === 'pixel' ? keep(tidy(() => downsample(hr, 4, { mode: 'bicubic' }))) : undefined;
      const losses = trainer.step({ hr, lr: lb?.images ?? hr, lrFromHr });
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
      emaUpdate(ema.parameters(), networks.R.parameters(), o.emaDecay ?? 0.999);
      for (const s of Object.values(schedulers)) s.step();
      step++;
      if (step % (o.logEvery ?? 10) === 0 || step === 1) {
        history.push({ step, losses });
        await logJsonl(logFile, {
          step,
          time: (performance.now() - t0) / 1000,
          lr: trainer.optimizers.R?.lr,
          ...losses,
        });
      }
      progress.update(step, losses, keys);
      if (step % (o.sampleEvery ?? 500) === 0 || step === o.steps) {
        const src = lrFromHr ?? lb!.images;
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
      if (step % (o.checkpointEvery ?? 1000) === 0 || step === o.steps || interrupted) await save();
      if (interrupted) {
        stopped = 'interrupted';
        break;
      }
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    progress.end();
    process.off('SIGINT', onSig);
    await hrIter.return(undefined);
    await lrIter?.return(undefined);
  }
  await writeLossCurves(path.join(o.out, 'losses'), history);
  await writeFile(
    path.join(o.out, 'last_run.json'),
    JSON.stringify({ step, stopped, seconds: (performance.now() - t0) / 1000 }, null, 2),
  );
  return { step, stopped, checkpoint: ckpt, seconds: (performance.now() - t0) / 1000 };
}

/** The EMA restoration network's weights from a training checkpoint (what ships). */
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
