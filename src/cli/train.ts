// `facesr train`: command-line front of src/train/run.ts.
import { parseArgs } from 'node:util';
import { FacesrError } from '../core/errors.js';
import { intOption, numOption, presetOption, deviceOption } from './args.js';
import { readFileSync } from 'node:fs';
import { TRAIN_MODES, type TrainMode, type LossWeights } from '../train/scgan.js';
import type { MethodNetworks } from '../models/index.js';

export const TRAIN_HELP = `Usage: facesr train --hr DIR [--lr DIR] --out DIR [options]

Trains the semi-cycled GAN (method.md): one restoration network R shared by a forward cycle
(HR -> DF -> LR -> R) and a backward cycle (real LR -> R -> DB -> LR), four spectral-norm
discriminators, and (mode full) a frozen face alignment network's heatmap loss.

  --hr DIR            high-resolution face crops (resized to 64x64)
  --lr DIR            real low-resolution faces (resized to 16x16; e.g. from 'facesr data harvest')
  --out DIR           run folder: checkpoint.safetensors, log.jsonl, samples/, losses.png
  --mode M            full (default) | scgan (no heatmap loss) | bulat18 (DF + R) | pixel (L1 only)
  --preset P          cpu (default) | paper
  --fan FILE          trained FAN weights (mode full; default: the shipped models/fan-PRESET.safetensors;
                      see 'facesr train-fan')
  --lambda-hm X       weight of the heatmap loss (default 10)
  --steps N           iterations (default 20000)
  --batch N           batch size (default 16)
  --lr0 X             Adam learning rate (default 1e-4)
  --seed N            seed (default 2020)
  --holdout-seed N    seed of the identity hold-out split (default: --seed); pin it when runs of
                      different seeds, or --init from another run, must keep the same test faces
  --threads N         libtorch threads
  --device D          cpu (default) | cuda | cuda:N
  --workers N         data loader threads (default 1)
  --sample-every N    sample grid every N steps (default 500)
  --checkpoint-every N  checkpoint every N steps (default 1000)
  --holdout X         share of HR identities kept out of training for evaluation, listed in
                      OUT/holdout.txt (default 0.1; 0: none)
  --degrade D         mode pixel: LR from HR by bicubic4 (default), realistic (blur + noise + JPEG)
                      or mixed (half each)
  --init FILE         start every network from another run's checkpoint (optimizers start fresh),
                      e.g. a 'scgan' run continued as 'full'
  --warmup-degraders N  first N steps train only DF and DB on their L1 terms (R frozen, no
                      discriminators), so that R starts the semi-cycle on LR-like inputs (default 0)
  --warmup-lr X       Adam learning rate of DF and DB during that warm-up (default 1e-3)
  --resume            continue the run in --out from its checkpoint
  --config FILE       JSON defaults for these options (configs/ has one per mode and preset); flags
                      given on the command line win. Keys: mode, preset, networks, steps, batch,
                      lr0, lambdaHm, weights, cosineEpochs, etaMin, emaDecay, seed, holdout, degrade,
                      warmupDegraders, warmupLr, sampleEvery, checkpointEvery. "weights" holds
                      alpha, beta, theta, gamma (method.md: 1, 0.05, 1, 0.05), lambdaHm, and the
                      project's options betaR (R's adversarial weight), betaDF (DF's adversarial
                      weight) and dfAnchorPool (DF's L1 after a further avg-pool by this factor);
                      absent, each is as in method.md (docs/training.md)`;

/** Keys a --config file may hold. */
const CONFIG_KEYS = [
  'description',
  'mode',
  'preset',
  'networks',
  'steps',
  'batch',
  'lr0',
  'lambdaHm',
  'weights',
  'cosineEpochs',
  'etaMin',
  'emaDecay',
  'seed',
  'holdout',
  'holdoutSeed',
  'sampleEvery',
  'checkpointEvery',
  'degrade',
  'warmupDegraders',
  'warmupLr',
] as const;
type TrainConfigFile = Partial<Record<(typeof CONFIG_KEYS)[number], unknown>>;

/** Reads and checks a --config file: a JSON object with known keys only. */
export function readTrainConfig(file: string): TrainConfigFile {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FacesrError(`--config ${file}: ${(err as Error).message}`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw new FacesrError(`--config ${file}: expected a JSON object`);
  const unknown = Object.keys(j).filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k));
  if (unknown.length)
    throw new FacesrError(
      `--config ${file}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; known: ${CONFIG_KEYS.join(', ')}`,
    );
  const w = (j as { weights?: unknown }).weights;
  if (w !== undefined) {
    if (typeof w !== 'object' || w === null || Array.isArray(w))
      throw new FacesrError(`--config ${file}: 'weights' must be an object like {"alpha": 1, "beta": 0.05}`);
    for (const [k, v] of Object.entries(w)) {
      if (!(WEIGHT_KEYS as readonly string[]).includes(k))
        throw new FacesrError(
          `--config ${file}: unknown key 'weights.${k}'; known: ${WEIGHT_KEYS.join(', ')}`,
        );
      const ok =
        k === 'dfAnchorPool'
          ? typeof v === 'number' && Number.isInteger(v) && v >= 1
          : typeof v === 'number' && Number.isFinite(v) && v >= 0;
      if (!ok)
        throw new FacesrError(
          `--config ${file}: 'weights.${k}' must be ${k === 'dfAnchorPool' ? 'an integer >= 1' : 'a number >= 0'}, received ${JSON.stringify(v)}`,
        );
    }
  }
  return j as TrainConfigFile;
}

/** Keys of a config's "weights" (LossWeights). */
const WEIGHT_KEYS = [
  'alpha',
  'beta',
  'theta',
  'gamma',
  'lambdaHm',
  'betaR',
  'betaDF',
  'dfAnchorPool',
] as const;

/** A config value as the string its flag would have carried (numbers are checked by the same parsers). */
function str(v: unknown, key: string, file: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' || typeof v === 'string') return String(v);
  throw new FacesrError(
    `--config ${file}: '${key}' must be a number or string, received ${JSON.stringify(v)}`,
  );
}

export async function trainCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      hr: { type: 'string' },
      lr: { type: 'string' },
      out: { type: 'string' },
      mode: { type: 'string' },
      preset: { type: 'string' },
      fan: { type: 'string' },
      'lambda-hm': { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr0: { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      device: { type: 'string' },
      workers: { type: 'string' },
      'sample-every': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'boolean' },
      holdout: { type: 'string' },
      'holdout-seed': { type: 'string' },
      init: { type: 'string' },
      config: { type: 'string' },
      degrade: { type: 'string' },
      'warmup-degraders': { type: 'string' },
      'warmup-lr': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  const cf = values.config ? readTrainConfig(values.config) : {};
  const cfile = values.config ?? '';
  const pick = (flag: string | undefined, key: (typeof CONFIG_KEYS)[number]) =>
    flag ?? str(cf[key], key, cfile);
  values.mode = pick(values.mode, 'mode');
  values.preset = pick(values.preset, 'preset');
  values.steps = pick(values.steps, 'steps');
  values.batch = pick(values.batch, 'batch');
  values.lr0 = pick(values.lr0, 'lr0');
  values['lambda-hm'] = pick(values['lambda-hm'], 'lambdaHm');
  values.seed = pick(values.seed, 'seed');
  values.holdout = pick(values.holdout, 'holdout');
  values['holdout-seed'] = pick(values['holdout-seed'], 'holdoutSeed');
  values['sample-every'] = pick(values['sample-every'], 'sampleEvery');
  values['checkpoint-every'] = pick(values['checkpoint-every'], 'checkpointEvery');
  values.degrade = pick(values.degrade, 'degrade');
  values['warmup-degraders'] = pick(values['warmup-degraders'], 'warmupDegraders');
  values['warmup-lr'] = pick(values['warmup-lr'], 'warmupLr');
  const pixelDegrade = values.degrade ?? 'bicubic4';
  if (!['bicubic4', 'realistic', 'mixed'].includes(pixelDegrade))
    throw new FacesrError(
      `Expected bicubic4, realistic or mixed for --degrade but received '${pixelDegrade}'`,
    );
  const extra = {
    ...(cf.networks !== undefined ? { networks: cf.networks as MethodNetworks } : {}),
    ...(cf.cosineEpochs !== undefined
      ? { cosineEpochs: numOption(str(cf.cosineEpochs, 'cosineEpochs', cfile), 'cosineEpochs', 10) }
      : {}),
    ...(cf.etaMin !== undefined
      ? { etaMin: numOption(str(cf.etaMin, 'etaMin', cfile), 'etaMin', 1e-5) }
      : {}),
    ...(cf.emaDecay !== undefined
      ? { emaDecay: numOption(str(cf.emaDecay, 'emaDecay', cfile), 'emaDecay', 0.999, 1) }
      : {}),
  };
  if (!values.hr) throw new FacesrError('Missing --hr DIR (high-resolution faces)');
  if (!values.out) throw new FacesrError('Missing --out DIR (the run folder)');
  const mode = (values.mode ?? 'full') as TrainMode;
  if (!TRAIN_MODES.includes(mode))
    throw new FacesrError(
      `Expected one of ${TRAIN_MODES.join(', ')} for --mode but received '${values.mode}'`,
    );
  const presetName = presetOption(values.preset);
  const device = deviceOption(values.device);
  const { train } = await import('../train/run.js');
  const r = await train({
    hr: values.hr,
    lr: values.lr,
    out: values.out,
    mode,
    preset: presetName,
    fan: values.fan,
    weights: {
      ...((cf.weights as Partial<LossWeights> | undefined) ?? {}),
      ...(values['lambda-hm'] !== undefined
        ? { lambdaHm: numOption(values['lambda-hm'], '--lambda-hm', 10) }
        : {}),
    },
    ...extra,
    steps: intOption(values.steps, '--steps', 20000),
    batchSize: intOption(values.batch, '--batch', 16),
    lr0: numOption(values.lr0, '--lr0', 1e-4),
    seed: values.seed === undefined ? 2020 : intOption(values.seed, '--seed', 2020),
    threads: values.threads === undefined ? undefined : intOption(values.threads, '--threads', 1),
    device: device as 'cpu',
    workers: values.workers === undefined ? undefined : intOption(values.workers, '--workers', 1),
    sampleEvery: intOption(values['sample-every'], '--sample-every', 500),
    checkpointEvery: intOption(values['checkpoint-every'], '--checkpoint-every', 1000),
    resume: values.resume ?? false,
    holdout: numOption(values.holdout, '--holdout', 0.1),
    ...(values['holdout-seed'] !== undefined
      ? { holdoutSeed: intOption(values['holdout-seed'], '--holdout-seed', 2020) }
      : {}),
    init: values.init,
    pixelDegrade: pixelDegrade as 'bicubic4',
    warmupDegraders:
      values['warmup-degraders'] === undefined || values['warmup-degraders'] === '0'
        ? 0
        : intOption(values['warmup-degraders'], '--warmup-degraders', 0),
    warmupLr: numOption(values['warmup-lr'], '--warmup-lr', 1e-3),
  });
  console.log(
    `facesr train: ${r.stopped} at step ${r.step} in ${r.seconds.toFixed(0)} s; checkpoint ${r.checkpoint}`,
  );
  return r.stopped === 'nan' ? 1 : 0;
}
