// `facesr train-fan`: command-line front of src/train/fan.ts.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { FacesrError } from '../core/errors.js';
import { intOption, numOption, presetOption, deviceOption } from './args.js';

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
at 16x16 heatmaps it is the more precise).`;

export async function trainFanCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      preset: { type: 'string' },
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
  const device = deviceOption(values.device);
  const { trainFan } = await import('../train/fan.js');
  const r = await trainFan({
    data: values.data,
    out: values.out,
    steps: intOption(values.steps, '--steps', 20000),
    batchSize: intOption(values.batch, '--batch', 32),
    preset: presetName,
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
