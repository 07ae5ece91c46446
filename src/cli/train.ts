// `facesr train`: command-line front of src/train/run.ts.
import { parseArgs } from 'node:util';
import { FacesrError } from '../core/errors.js';
import { intOption, numOption, presetOption, deviceOption } from './args.js';
import { TRAIN_MODES, type TrainMode } from '../train/scgan.js';

export const TRAIN_HELP = `Usage: facesr train --hr DIR [--lr DIR] --out DIR [options]

Trains the semi-cycled GAN (method.md): one restoration network R shared by a forward cycle
(HR -> DF -> LR -> R) and a backward cycle (real LR -> R -> DB -> LR), four spectral-norm
discriminators, and (mode full) a frozen face alignment network's heatmap loss.

  --hr DIR            high-resolution face crops (resized to 64x64)
  --lr DIR            real low-resolution faces (resized to 16x16; e.g. from 'facesr data harvest')
  --out DIR           run folder: checkpoint.safetensors, log.jsonl, samples/, losses.png
  --mode M            full (default) | scgan (no heatmap loss) | bulat18 (DF + R) | pixel (L1 only)
  --preset P          cpu (default) | paper
  --fan FILE          trained FAN weights (mode full; see 'facesr train-fan')
  --lambda-hm X       weight of the heatmap loss (default 10)
  --steps N           iterations (default 20000)
  --batch N           batch size (default 16)
  --lr0 X             Adam learning rate (default 1e-4)
  --seed N            seed (default 2020)
  --threads N         libtorch threads
  --device D          cpu (default) | cuda | cuda:N
  --workers N         data loader threads (default 1)
  --sample-every N    sample grid every N steps (default 500)
  --checkpoint-every N  checkpoint every N steps (default 1000)
  --holdout X         share of HR identities kept out of training for evaluation, listed in
                      OUT/holdout.txt (default 0.1; 0: none)
  --init FILE         start every network from another run's checkpoint (optimizers start fresh),
                      e.g. a 'scgan' run continued as 'full'
  --resume            continue the run in --out from its checkpoint`;

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
      init: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(TRAIN_HELP);
    return 0;
  }
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
    weights:
      values['lambda-hm'] !== undefined
        ? { lambdaHm: numOption(values['lambda-hm'], '--lambda-hm', 10) }
        : undefined,
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
    init: values.init,
  });
  console.log(
    `facesr train: ${r.stopped} at step ${r.step} in ${r.seconds.toFixed(0)} s; checkpoint ${r.checkpoint}`,
  );
  return r.stopped === 'nan' ? 1 : 0;
}
