// `facesr train-fan`: command-line front of src/train/fan.ts.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { FacesrError } from '../core/errors.js';
import { readFileSync } from 'node:fs';
import { intOption, numOption, presetOption, deviceOption } from './args.js';
import { preset, type FanConfig } from '../models/index.js';

/** Keys a train-fan --config may set (the FAN's architecture). */
export const FAN_CONFIG_KEYS = [
  'type',
  'inputSize',
  'stacks',
  'width',
  'stemWidth',
  'pool',
  'depth',
] as const;

/** Reads a --config file: a FAN architecture as JSON, merged over the preset's FAN. */
export function readFanConfig(file: string, presetName: 'cpu' | 'paper'): FanConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FacesrError(`--config ${file}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new FacesrError(`--config ${file}: expected a JSON object like {"pool": false}`);
  const o = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (k === 'description') continue;
    if (!(FAN_CONFIG_KEYS as readonly string[]).includes(k))
      throw new FacesrError(`--config ${file}: unknown key '${k}'; known: ${FAN_CONFIG_KEYS.join(', ')}`);
    if (k === 'type' && v !== 'fan')
      throw new FacesrError(`--config ${file}: 'type' must be "fan", received ${JSON.stringify(v)}`);
    if (k === 'pool' && typeof v !== 'boolean')
      throw new FacesrError(`--config ${file}: 'pool' must be true or false, received ${JSON.stringify(v)}`);
    if (k !== 'type' && k !== 'pool' && !(Number.isInteger(v) && (v as number) >= 1))
      throw new FacesrError(
        `--config ${file}: '${k}' must be a positive integer, received ${JSON.stringify(v)}`,
      );
  }
  const { description: _d, ...arch } = o;
  return { ...preset(presetName).FAN, ...(arch as Partial<FanConfig>), type: 'fan' };
}

export const TRAIN_FAN_HELP = `Usage: facesr train-fan --data DIR --out DIR [options]

Trains the face alignment network (stacked hourglasses, 68 heatmaps) on 64x64 landmark faces with
flip/rotation/scale/shift/colour augmentation and x4 low-resolution degradations on half the
inputs; reports the NME (%, normalised by the outer eye corners 36-45) on HR faces and on faces
reduced x4 then bicubic up-sampled, for the given test split and an identity-disjoint hold-out.

  --data DIR          landmark set root (train.csv, test.csv, train/, test/; e.g. landmarks/ytf)
  --out DIR           run folder: checkpoint.safetensors, log.jsonl, losses.png, and at the end
                      fan.safetensors (weights only) and fan_metrics.json
  --steps N           iterations (default 20000; the cosine schedule spans them)
  --batch N           batch size (default 32)
  --preset P          cpu (default) | paper
  --config FILE       FAN architecture as JSON over the preset's, e.g. configs/fan-cpu-16.json
                      ({"pool": true}: 16x16 heatmaps, a quarter of the cpu preset's hourglass
                      compute); keys: inputSize, stacks, width, stemWidth, pool, depth
  --lr0 X             Adam learning rate (default 1e-3, cosine to 1e-5)
  --holdout X         share of identities held out of training (default 0.15; 0: none)
  --seed N            seed (default 2020)
  --threads N         libtorch threads
  --device D          cpu (default) | cuda | cuda:N
  --workers N         data loader threads (default 1)
  --checkpoint-every N  checkpoint every N steps (default 500)
  --init FILE         start from these FAN weights (e.g. an earlier run's fan.safetensors) with a
                      fresh optimizer and schedule (use a lower --lr0 to fine-tune)
  --resume            continue the run in --out from its checkpoint
  --evaluate FILE     no training: report the NMEs of these FAN weights on --data (same splits and
                      --holdout/--seed as training), as JSON on stdout; --out is not needed

NMEs are given for two decodings of the heatmaps: the argmax plus a quarter-cell shift
(method.md, FAN's) and 'taylor' (DARK's Newton step on the log-heatmap, exact for a Gaussian peak;
the more precise, most of all at 16x16 heatmaps).`;

export async function trainFanCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      preset: { type: 'string' },
      config: { type: 'string' },
      lr0: { type: 'string' },
      holdout: { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      device: { type: 'string' },
      workers: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'boolean' },
      init: { type: 'string' },
      evaluate: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(TRAIN_FAN_HELP);
    return 0;
  }
  if (!values.data) throw new FacesrError('Missing --data DIR (landmark set root, e.g. landmarks/ytf)');
  if (values.evaluate !== undefined) {
    const { evaluateFanFile } = await import('../train/fan.js');
    const m = await evaluateFanFile(values.evaluate, values.data, {
      holdout: numOption(values.holdout, '--holdout', 0.15, 0.9),
      seed: values.seed === undefined ? 2020 : intOption(values.seed, '--seed', 2020),
      device: deviceOption(values.device) as 'cpu',
    });
    console.log(JSON.stringify({ fan: values.evaluate, data: values.data, nme_percent: m }, null, 2));
    return 0;
  }
  if (!values.out) throw new FacesrError('Missing --out DIR (the run folder)');
  const presetName = presetOption(values.preset);
  const config = values.config === undefined ? undefined : readFanConfig(values.config, presetName);
  const device = deviceOption(values.device);
  const { trainFan } = await import('../train/fan.js');
  const r = await trainFan({
    data: values.data,
    out: values.out,
    steps: intOption(values.steps, '--steps', 20000),
    batchSize: intOption(values.batch, '--batch', 32),
    preset: presetName,
    config,
    lr0: numOption(values.lr0, '--lr0', 1e-3),
    holdout: numOption(values.holdout, '--holdout', 0.15, 0.9),
    seed: values.seed === undefined ? 2020 : intOption(values.seed, '--seed', 2020),
    threads: values.threads === undefined ? undefined : intOption(values.threads, '--threads', 1),
    device: device as 'cpu',
    workers: values.workers === undefined ? undefined : intOption(values.workers, '--workers', 1),
    checkpointEvery: intOption(values['checkpoint-every'], '--checkpoint-every', 500),
    resume: values.resume ?? false,
    init: values.init,
  });
  const m = r.metrics;
  console.log(
    `facesr train-fan: ${r.stopped} at step ${r.step} in ${r.seconds.toFixed(0)} s; checkpoint ${r.checkpoint}` +
      (m
        ? `\nNME % (outer eye corners): test HR ${m.test_hr.toFixed(2)}, test x4-up ${m.test_x4up.toFixed(2)} (${m.test_faces} faces)` +
          (m.holdout_hr !== null
            ? `; identity-disjoint hold-out HR ${m.holdout_hr.toFixed(2)}, x4-up ${m.holdout_x4up!.toFixed(2)} (${m.holdout_faces} faces)`
            : '') +
          `\nwith the taylor decoding: test HR ${m.taylor.test_hr.toFixed(2)}, test x4-up ${m.taylor.test_x4up.toFixed(2)}` +
          (m.taylor.holdout_hr !== null
            ? `; hold-out HR ${m.taylor.holdout_hr.toFixed(2)}, x4-up ${m.taylor.holdout_x4up!.toFixed(2)}`
            : '') +
          `\nwrote ${path.join(values.out, 'fan.safetensors')} and ${path.join(values.out, 'fan_metrics.json')}`
        : ''),
  );
  return r.stopped === 'nan' ? 1 : 0;
}
