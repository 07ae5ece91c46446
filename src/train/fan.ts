// `facesr train-fan`: trains the face alignment network (method.md section 2) on 68-point landmark
// crops at the GAN's 64x64 size, with geometric and colour augmentation and low-resolution
// degradations on part of every batch (so that it reads super-resolved faces too), and measures the
// NME (normalised by the outer eye corners) on HR and on x4-reduced-then-bicubic-up-sampled faces.
//
// Choices: Adam (0.9, 0.999) lr 1e-3, cosine to 1e-5 over the run's --steps; target heatmaps are
// Gaussians of sigma 2 heatmap pixels; the loss is the MSE of every stack's heatmaps summed over the
// stacks (intermediate supervision). Per sample, with probability degradeFraction (default 0.5) the
// input is replaced by an LR version up-sampled back to 64 (bicubic, no antialias): one third each
// x4 area, x4 bicubic (antialiased) and the 'realistic' degradation (blur, x4, noise, JPEG).
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArgumentError, FacesrError } from '../core/errors.js';
import { Adam, CosineAnnealingLR } from '../optim/index.js';
import { FAN, buildModel, preset, type FanConfig } from '../models/index.js';
import {
  LandmarkDataset,
  DataLoader,
  Rng,
  splitByIdentity,
  downsample,
  resize,
  makeDegradation,
  type Batch as LoaderBatch,
  type AugmentOptions,
  type FaceItem,
} from '../data/index.js';
import {
  F,
  manualSeed,
  setNumThreads,
  getNumThreads,
  tidy,
  noGrad,
  keep,
  fromTypedArray,
  type Device,
  type Tensor,
} from '../tensor/index.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import { landmarkHeatmaps, decodeHeatmaps } from '../models/fan.js';
import { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
import { Progress, logJsonl, readHistory, stopOnSignal, writeLossCurves } from './report.js';

/** Augmentation of the FAN's training faces (flip uses the 68-point mirror permutation FLIP_68). */
export const FAN_AUGMENT: Required<Omit<AugmentOptions, 'flipPermutation'>> = {
  flip: 0.5,
  rotate: 15,
  scale: 0.1,
  shift: 0.05,
  brightness: 0.25,
  contrast: 0.25,
  saturation: 0.25,
};

export interface TrainFanOptions {
  /** landmarks/ytf root: train.csv, test.csv, train/, test/. */
  data: string;
  out: string;
  steps: number;
  preset?: 'cpu' | 'paper';
  /** FAN config (overrides preset). */
  config?: FanConfig;
  batchSize?: number;
  lr0?: number;
  etaMin?: number;
  /** Heatmap Gaussian sigma in heatmap pixels (default 2). */
  sigma?: number;
  /** Share of training inputs replaced by a degraded-then-up-sampled version (default 0.5). */
  degradeFraction?: number;
  augment?: AugmentOptions | false;
  /**
   * Share of identities (of train + test together) held out of training for an identity-disjoint
   * NME (default 0.15; 0: train on the whole given train split, no hold-out).
   */
  holdout?: number;
  seed?: number;
  threads?: number;
  device?: Device;
  workers?: number;
  logEvery?: number;
  checkpointEvery?: number;
  resume?: boolean;
  /** Start from these FAN weights (a fan.safetensors); the optimizer and schedule start fresh. */
  init?: string;
  /** Stop after this step with a checkpoint, as Ctrl-C would (a budgeted session; tests of resume). */
  stopAfter?: number;
  /** Skip the final evaluation (tests). */
  evaluate?: boolean;
  /** Quiet progress (tests). */
  quiet?: boolean;
}

export interface FanMetrics {
  /** NME (%) on the given test split, HR faces. */
  test_hr: number;
  /** NME (%) on the given test split, x4 bicubic reduction then bicubic up-sampling. */
  test_x4up: number;
  test_faces: number;
  /** Same on the identity-disjoint hold-out (null without one). */
  holdout_hr: number | null;
  holdout_x4up: number | null;
  holdout_faces: number;
  /** The same four NMEs with the 'taylor' decoding (DARK) instead of method.md's quarter-pixel one. */
  taylor: { test_hr: number; test_x4up: number; holdout_hr: number | null; holdout_x4up: number | null };
}

export interface TrainFanResult {
  step: number;
  stopped: 'done' | 'interrupted' | 'nan';
  checkpoint: string;
  seconds: number;
  /** Per-step losses of this process's steps (tests compare them across a resume). */
  losses: { step: number; loss: number }[];
  metrics?: FanMetrics;
}

export interface FanData {
  train: FaceItem[];
  test: FaceItem[];
  holdout: FaceItem[];
}

/**
 * The ytf landmark sets: the given train and test splits, and (holdout > 0) an identity-disjoint
 * hold-out drawn with splitByIdentity from train + test together; its identities are removed from
 * the training items (the given test split still shares identities with training).
 */
export async function loadFanData(root: string, holdout = 0.15, seed = 2020): Promise<FanData> {
  const train = await LandmarkDataset.fromCsv(path.join(root, 'train.csv'), path.join(root, 'train'), {
    identity: 'ytf',
    points: 68,
  });
  const test = await LandmarkDataset.fromCsv(path.join(root, 'test.csv'), path.join(root, 'test'), {
    identity: 'ytf',
    points: 68,
  });
  if (train.items.length === 0) throw new ArgumentError(`${root}: no training faces`);
  if (holdout <= 0) return { train: [...train.items], test: [...test.items], holdout: [] };
  const [, held] = splitByIdentity([...train.items, ...test.items], {
    fractions: [1 - holdout, holdout],
    seed,
  });
  const heldIds = new Set(held!.map((it) => it.identity));
  return {
    train: train.items.filter((it) => !heldIds.has(it.identity)),
    test: [...test.items],
    holdout: held!,
  };
}

/**
 * NME in %: mean over faces of (mean point-to-point error / distance between points 36 and 45 of
 * the truth). pred and truth: interleaved (x, y), n faces of `points` points.
 */
export function nme(pred: Float32Array, truth: Float32Array, n: number, points = 68): number {
  if (pred.length !== n * points * 2 || truth.length !== n * points * 2)
    throw new ArgumentError(
      `nme: expected ${n * points * 2} coordinates, received ${pred.length} and ${truth.length}`,
    );
  if (points <= 45) throw new ArgumentError('nme: needs the 68-point layout (outer eye corners 36 and 45)');
  let sum = 0;
  for (let f = 0; f < n; f++) {
    const b = f * points * 2;
    const iod = Math.hypot(truth[b + 72]! - truth[b + 90]!, truth[b + 73]! - truth[b + 91]!);
    let e = 0;
    for (let p = 0; p < points; p++)
      e += Math.hypot(pred[b + 2 * p]! - truth[b + 2 * p]!, pred[b + 2 * p + 1]! - truth[b + 2 * p + 1]!);
    sum += e / points / iod;
  }
  return (100 * sum) / n;
}

/** x4 reduction (bicubic, antialiased) then bicubic up-sampling back to the input size. */
export function reduceX4Up(x: Tensor, mode: 'bicubic' | 'area' = 'bicubic'): Tensor {
  return tidy(() => {
    const s = x.shape[2]!;
    return resize(downsample(x, 4, { mode }), s, { mode: 'bicubic', antialias: false }).clamp(-1, 1);
  });
}

/**
 * NME (%) of a FAN on landmark items (resized to the FAN's input): HR faces, or with 'x4up' faces
 * reduced x4 (bicubic) and bicubic up-sampled. Restores the FAN's train/eval mode.
 */
export async function evaluateFan(
  fan: FAN,
  items: readonly FaceItem[],
  o: { degrade?: 'none' | 'x4up'; batchSize?: number; device?: Device } = {},
): Promise<{ nme: number; nmeTaylor: number; faces: number }> {
  if (items.length === 0) return { nme: NaN, nmeTaylor: NaN, faces: 0 };
  const wasTraining = fan.training;
  fan.eval();
  const s = fan.config.inputSize;
  const loader = new DataLoader(items, {
    batchSize: o.batchSize ?? 64,
    size: s,
    range: '-1,1',
    numWorkers: 1,
    device: o.device,
  });
  const preds: Float32Array[] = [];
  const predsTaylor: Float32Array[] = [];
  const truths: Float32Array[] = [];
  let n = 0;
  try {
    for await (const b of loader) {
      const hm = noGrad(() => {
        const x = o.degrade === 'x4up' ? reduceX4Up(b.images) : b.images;
        const outs = fan.forward(x);
        const last = outs[outs.length - 1]!;
        for (const t of outs) if (t !== last) t.dispose();
        if (x !== b.images) x.dispose();
        return last;
      });
      preds.push(decodeHeatmaps(hm, fan.stride, 'quarter'));
      predsTaylor.push(decodeHeatmaps(hm, fan.stride, 'taylor'));
      hm.dispose();
      truths.push(b.landmarks!.toFloat32Array());
      n += b.indices.length;
      b.dispose();
    }
  } finally {
    fan.train(wasTraining);
  }
  const truth = concat(truths);
  const L = fan.config.landmarks;
  return { nme: nme(concat(preds), truth, n, L), nmeTaylor: nme(concat(predsTaylor), truth, n, L), faces: n };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Replaces the chosen samples of a batch [-1,1] by an LR version up-sampled back: x4 area, x4
 * bicubic, or the realistic degradation, drawn per sample from (seed, step).
 */
async function degradeSome(x: Tensor, fraction: number, seed: number, step: number): Promise<Tensor> {
  // Data preparation runs on the CPU (the realistic degradation's JPEG step is sharp's); a batch on
  // a GPU goes there and comes back.
  if (x.device !== 'cpu') {
    const cpu = x.detach().to('cpu');
    const done = await degradeSome(cpu, fraction, seed, step);
    cpu.dispose();
    const back = done.to(x.device);
    done.dispose();
    return back;
  }
  const n = x.shape[0]!;
  const s = x.shape[2]!;
  const rng = new Rng([seed, step, 0xfa4]);
  const kind = Array.from({ length: n }, () => (rng.bool(fraction) ? 1 + rng.int(3) : 0));
  if (kind.every((k) => k === 0)) return x.detach().clone();
  let out = keep(x.detach().clone());
  for (const k of [1, 2, 3]) {
    if (!kind.includes(k)) continue;
    let lr: Tensor;
    if (k === 3) {
      const deg = makeDegradation('realistic', {
        seed: (new Rng([seed, step, 0xdeb]).nextUint32() >>> 1) + 1,
      });
      lr = (await deg.degrade(x)).lr;
    } else lr = tidy(() => downsample(x, 4, { mode: k === 1 ? 'area' : 'bicubic' }));
    const mask = fromTypedArray(
      Float32Array.from(kind, (v) => (v === k ? 1 : 0)),
      [n, 1, 1, 1],
    );
    const next = tidy(() => {
      const up = resize(lr, s, { mode: 'bicubic', antialias: false }).clamp(-1, 1);
      return out.mul(mask.rsub(1)).add(up.mul(mask));
    });
    lr.dispose();
    mask.dispose();
    out.dispose();
    out = keep(next);
  }
  return out;
}

/** The FAN's loss on a batch: every stack's heatmap MSE against the Gaussian targets, summed. */
export function fanLoss(fan: FAN, x: Tensor, landmarks: Float32Array, sigma = 2): Tensor {
  return tidy(() => {
    const n = x.shape[0]!;
    const target = landmarkHeatmaps(
      landmarks,
      n,
      fan.config.landmarks,
      fan.heatmapSize,
      fan.stride,
      sigma,
    ).to(x.device);
    const outs = fan.forward(x);
    let loss = F.mseLoss(outs[0]!, target);
    for (let i = 1; i < outs.length; i++) loss = loss.add(F.mseLoss(outs[i]!, target));
    return loss;
  });
}

/** The four NMEs of FanMetrics (test and hold-out, HR and x4-up), with both decodings. */
export async function fanMetrics(fan: FAN, data: FanData, device?: Device): Promise<FanMetrics> {
  const ev = { device };
  const hr = await evaluateFan(fan, data.test, ev);
  const up = await evaluateFan(fan, data.test, { ...ev, degrade: 'x4up' });
  const hhr = data.holdout.length ? await evaluateFan(fan, data.holdout, ev) : null;
  const hup = data.holdout.length ? await evaluateFan(fan, data.holdout, { ...ev, degrade: 'x4up' }) : null;
  return {
    test_hr: hr.nme,
    test_x4up: up.nme,
    test_faces: hr.faces,
    holdout_hr: hhr?.nme ?? null,
    holdout_x4up: hup?.nme ?? null,
    holdout_faces: hhr?.faces ?? 0,
    taylor: {
      test_hr: hr.nmeTaylor,
      test_x4up: up.nmeTaylor,
      holdout_hr: hhr?.nmeTaylor ?? null,
      holdout_x4up: hup?.nmeTaylor ?? null,
    },
  };
}

/**
 * FAN weights from a file: the architecture comes from the file's metadata ('facesr train-fan'
 * writes it), else `fallback` (a preset's FAN). Throws naming the file when the weights do not fit.
 */
export async function loadFanFile(file: string, fallback: FanConfig): Promise<FAN> {
  const { tensors, metadata } = await readSafetensors(file);
  let cfg = fallback;
  try {
    const meta = JSON.parse(metadata.facesr ?? 'null') as { model?: string; config?: FanConfig } | null;
    if (meta?.model === 'fan' && meta.config) cfg = meta.config;
  } catch {
    // no readable metadata: the fallback architecture
  }
  const fan = buildModel(cfg) as FAN;
  try {
    fan.loadStateDict(tensors);
  } catch (err) {
    fan.dispose();
    throw new FacesrError(
      `${file}: not a FAN of this preset and no FAN architecture in its metadata: ${(err as Error).message}`,
    );
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return fan;
}

/**
 * The NMEs (FanMetrics) of FAN weights in a file on a landmark set (splits as trainFan makes them
 * with this holdout and seed); the architecture as loadFanFile finds it, else the cpu preset's.
 */
export async function evaluateFanFile(
  file: string,
  dataRoot: string,
  o: { holdout?: number; seed?: number; device?: Device } = {},
): Promise<FanMetrics> {
  if (!existsSync(file)) throw new ArgumentError(`--evaluate: no such file ${file}`);
  const fan = await loadFanFile(file, preset('cpu').FAN);
  if (o.device && o.device !== 'cpu') fan.to({ device: o.device });
  const data = await loadFanData(dataRoot, o.holdout ?? 0.15, o.seed ?? 2020);
  return fanMetrics(fan, data, o.device);
}

/** Trains the FAN; resumable from `<out>/checkpoint.safetensors` with resume. */
export async function trainFan(o: TrainFanOptions): Promise<TrainFanResult> {
  const t0 = performance.now();
  const cfg: FanConfig = o.config ?? preset(o.preset ?? 'cpu').FAN;
  const bs = o.batchSize ?? 32;
  const seed = o.seed ?? 2020;
  const sigma = o.sigma ?? 2;
  const fraction = o.degradeFraction ?? 0.5;
  if (o.threads) setNumThreads(o.threads);
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new ArgumentError(`Expected positive integer for steps but received ${o.steps}`);
  if (!(fraction >= 0 && fraction <= 1))
    throw new ArgumentError(`Expected degradeFraction in [0, 1] but received ${fraction}`);
  await mkdir(o.out, { recursive: true });
  const ckpt = path.join(o.out, 'checkpoint.safetensors');
  const logFile = path.join(o.out, 'log.jsonl');
  if (!o.resume && existsSync(ckpt))
    throw new FacesrError(`${ckpt} exists: pass --resume to continue it, or choose another --out`);

  const data = await loadFanData(o.data, o.holdout ?? 0.15, seed);
  manualSeed(seed);
  const fan = buildModel(cfg) as FAN;
  if (fan.config.landmarks !== 68) throw new ArgumentError('train-fan: the FAN must predict 68 landmarks');
  if (o.init && !(o.resume && existsSync(ckpt))) {
    const { tensors } = await readSafetensors(o.init);
    try {
      fan.loadStateDict(tensors);
    } catch (err) {
      throw new FacesrError(`${o.init}: not a FAN of this configuration: ${(err as Error).message}`);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
    if (!o.quiet) console.error(`facesr train-fan: started from ${o.init}`);
  }
  if (o.device && o.device !== 'cpu') fan.to({ device: o.device });
  fan.train();
  const opt = new Adam(fan.parameters(), { lr: o.lr0 ?? 1e-3, betas: [0.9, 0.999] });
  const sched = new CosineAnnealingLR(opt, o.steps, o.etaMin ?? 1e-5);

  let step = 0;
  const history: { step: number; losses: Record<string, number> }[] = [];
  if (o.resume && existsSync(ckpt)) {
    const r = await loadCheckpoint(ckpt, {
      modules: { FAN: fan },
      optimizers: { FAN: opt },
      schedulers: { FAN: sched },
    });
    step = r.step;
    history.push(...(await readHistory(logFile, step)));
    if (!o.quiet) console.error(`facesr train-fan: resumed from ${ckpt} at step ${step}`);
  }

  // One loader per epoch, seeded by (seed, epoch): a resume skips whole epochs without loading them.
  const perEpoch = Math.floor(data.train.length / bs);
  if (perEpoch < 1)
    throw new ArgumentError(`train-fan: ${data.train.length} training faces make no batch of ${bs}`);
  const augment = o.augment === undefined ? FAN_AUGMENT : o.augment;
  async function* batches(from: number): AsyncGenerator<LoaderBatch> {
    for (let epoch = Math.floor(from / perEpoch); ; epoch++) {
      const loader = new DataLoader(data.train, {
        batchSize: bs,
        size: fan.config.inputSize,
        shuffle: true,
        dropLast: true,
        seed: new Rng([seed, epoch, 0xfa7]).nextUint32(),
        numWorkers: o.workers ?? 1,
        range: '-1,1',
        augment,
        device: o.device,
      });
      let skip = epoch === Math.floor(from / perEpoch) ? from % perEpoch : 0;
      for await (const b of loader) {
        if (skip > 0) {
          skip--;
          b.dispose();
          continue;
        }
        yield b;
      }
    }
  }
  const it = batches(step);

  const stop = stopOnSignal('train-fan');
  const save = () =>
    saveCheckpoint(ckpt, {
      step,
      modules: { FAN: fan },
      optimizers: { FAN: opt },
      schedulers: { FAN: sched },
      extra: {
        config: fan.config,
        batchSize: bs,
        seed,
        sigma,
        degradeFraction: fraction,
        holdout: o.holdout ?? 0.15,
      },
    });
  const progress = o.quiet ? null : new Progress(o.steps, step);
  const losses: { step: number; loss: number }[] = [];
  let stopped: TrainFanResult['stopped'] = 'done';
  try {
    while (step < o.steps) {
      const b = (await it.next()).value as LoaderBatch;
      const x = await degradeSome(b.images, fraction, seed, step);
      const lm = b.landmarks!.toFloat32Array();
      b.dispose();
      const loss = tidy(() => {
        const l = fanLoss(fan, x, lm, sigma);
        opt.zeroGrad();
        l.backward();
        const v = l.item();
        if (Number.isFinite(v)) opt.step();
        return v;
      });
      x.dispose();
      if (!Number.isFinite(loss)) {
        stopped = 'nan';
        console.error(
          `\nfacesr train-fan: the loss became ${loss} at step ${step + 1}; stopping. The last good checkpoint is ${ckpt}.`,
        );
        break;
      }
      sched.step();
      step++;
      losses.push({ step, loss });
      const rec = { loss };
      if (step % (o.logEvery ?? 10) === 0 || step === 1) {
        history.push({ step, losses: rec });
        await logJsonl(logFile, { step, time: (performance.now() - t0) / 1000, lr: opt.lr, loss });
      }
      progress?.update(step, rec, ['loss']);
      if (step % 500 === 0) await writeLossCurves(path.join(o.out, 'losses'), history);
      if (o.stopAfter !== undefined && step >= o.stopAfter) stop.request();
      if (step % (o.checkpointEvery ?? 500) === 0 || step === o.steps || stop.requested) await save();
      if (stop.requested) {
        stopped = 'interrupted';
        break;
      }
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    progress?.end();
    stop.dispose();
    await it.return(undefined);
  }
  await writeLossCurves(path.join(o.out, 'losses'), history);
  const trainSeconds = (performance.now() - t0) / 1000;
  let metrics: FanMetrics | undefined;
  if (stopped === 'done')
    await writeSafetensors(path.join(o.out, 'fan.safetensors'), fan.stateDict(), {
      facesr: JSON.stringify({ model: 'fan', config: fan.config, steps: step }),
    });
  if (stopped === 'done' && o.evaluate !== false) {
    metrics = await fanMetrics(fan, data, o.device);
    const cpus = os.cpus();
    await writeFile(
      path.join(o.out, 'fan_metrics.json'),
      JSON.stringify(
        {
          nme_percent: metrics,
          notes: {
            test: 'the given ytf test split (its identities also appear in ytf train)',
            holdout: `identity-disjoint hold-out: ${Math.round((o.holdout ?? 0.15) * 100)}% of the identities of train + test (splitByIdentity, seed ${seed}), removed from training`,
            x4up: 'x4 bicubic (antialiased) reduction of the 64x64 face, then bicubic up-sampling to 64',
            normalisation:
              'mean point error / distance between points 36 and 45 (outer eye corners), mean over faces',
            decoding:
              "argmax plus a quarter-cell shift toward the larger neighbour (method.md); 'taylor': DARK's Newton step on the log-heatmap",
          },
          steps: step,
          batch_size: bs,
          train_faces: data.train.length,
          config: fan.config,
          lr: { adam: o.lr0 ?? 1e-3, cosine_to: o.etaMin ?? 1e-5, over_steps: o.steps },
          sigma,
          degrade_fraction: fraction,
          train_seconds_this_process: trainSeconds,
          wall_seconds_this_process: (performance.now() - t0) / 1000,
          steps_this_process: losses.length,
          final_loss: losses[losses.length - 1]?.loss ?? null,
          hardware: {
            cpu: cpus[0]?.model ?? 'unknown',
            cores: cpus.length,
            threads: getNumThreads(),
            device: o.device ?? 'cpu',
            platform: `${os.platform()} ${os.arch()}`,
          },
        },
        null,
        2,
      ),
    );
  }
  await writeFile(
    path.join(o.out, 'last_run.json'),
    JSON.stringify({ step, stopped, seconds: (performance.now() - t0) / 1000 }, null, 2),
  );
  return { step, stopped, checkpoint: ckpt, seconds: (performance.now() - t0) / 1000, losses, metrics };
}
