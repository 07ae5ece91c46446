#!/usr/bin/env node
// A quick check used while tuning training: PSNR (RGB, per face, averaged) of restoration models on N
// held-out faces reduced by x4 bicubic and by the realistic degradation (seed 5), raw and with the
// output's colour matched to the bicubic up-sampling (mean; mean and standard deviation), so that a
// colour cast can be told from lost detail. `raw:CHECKPOINT` reads a training checkpoint's live R
// (not its EMA copy). The full protocol is `facesr eval`; this is a minute's look.
//   node dev/quick_psnr.mjs --list RUN/holdout.txt [--n 256] [--preset cpu] MODEL|raw:CHECKPOINT ...
import { parseArgs } from 'node:util';
import * as ev from '../dist/src/eval/run.js';
import { loadModel } from '../dist/src/infer/index.js';
import { downsample, makeDegradation } from '../dist/src/data/degrade.js';
import { tidy, inferenceMode } from '../dist/src/tensor/index.js';
import { readSafetensors } from '../dist/src/io/index.js';
import { buildModel, preset } from '../dist/src/models/index.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    list: { type: 'string' },
    n: { type: 'string', default: '256' },
    preset: { type: 'string', default: 'cpu' },
  },
});
if (!a.list) throw new Error("--list FILE (e.g. a run's holdout.txt) is required");

async function load(spec) {
  if (!spec.startsWith('raw:')) return loadModel(spec);
  const { tensors } = await readSafetensors(spec.slice(4));
  const net = buildModel(preset(a.preset).R);
  net.loadStateDict(
    new Map([...tensors].filter(([k]) => k.startsWith('net.R.')).map(([k, t]) => [k.slice(6), t])),
  );
  return { net: net.eval() };
}

const files = ev.spread(ev.readList(a.list), Number(a.n));
const H = ev.imagesToTensor(await Promise.all(files.map((f) => ev.loadHr(f))));
const lrs = {
  bicubic4: tidy(() => downsample(H, 4, { mode: 'bicubic' })),
  realistic: (await makeDegradation('realistic', { seed: 5 }).degrade(H)).lr,
};
const psnr = (t) =>
  tidy(() =>
    t
      .clamp(-1, 1)
      .sub(H)
      .div(2)
      .pow(2)
      .mean([1, 2, 3])
      .log()
      .mul(-10 / Math.LN10)
      .mean(),
  ).item();
const centred = (t) => t.sub(t.mean([2, 3], true));
const rms = (t) => t.pow(2).mean([2, 3], true).sqrt();
const bicubic = ev.bicubicMethod();
const rows = [];
for (const [deg, lr] of Object.entries(lrs)) {
  const up = inferenceMode(() => bicubic.restore(lr));
  rows.push({ degradation: deg, method: 'bicubic', psnr: psnr(up) });
  for (const spec of positionals) {
    const { net } = await load(spec);
    const sr = inferenceMode(() => net.forward(lr));
    const mean = tidy(() => centred(sr).add(up.mean([2, 3], true)));
    const meanStd = tidy(() => {
      const gain = rms(centred(up))
        .div(rms(centred(sr)).add(1e-4))
        .clamp(0.5, 2);
      return centred(sr)
        .mul(gain)
        .add(up.mean([2, 3], true));
    });
    rows.push({
      degradation: deg,
      method: spec,
      psnr: psnr(sr),
      psnr_mean_matched: psnr(mean),
      psnr_mean_std_matched: psnr(meanStd),
    });
    for (const t of [sr, mean, meanStd]) t.dispose();
    net.dispose();
  }
  up.dispose();
}
for (const r of rows)
  console.log(
    [
      r.degradation,
      r.method,
      r.psnr.toFixed(2),
      r.psnr_mean_matched?.toFixed(2) ?? '',
      r.psnr_mean_std_matched?.toFixed(2) ?? '',
    ].join('\t'),
  );
