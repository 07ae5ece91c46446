#!/usr/bin/env node
// frechet_face_embedding (src/eval/frechet.ts) on real data: (1) each method's restorations of real
// LR faces (16x16 crops from `facesr data harvest`, e.g. DIR/lr16) against HR faces (CelebA crops,
// 64x64, other people); (2) degradation realism: synthetic LR made from the HR faces by each preset
// (bicubic4, realistic) against the real LR, both up-sampled bicubic x4 before the judge. Reference
// rows: HR against a disjoint half of HR (how far two samples of one distribution are at this n).
// --df RUN/checkpoint.safetensors (repeatable): also DF(HR) of that training run (its learned
// degradation, noise z ~ N(0, I) seeded) against the real LR; --no-restored skips (1).
// Usage: npm run build:ts && OMP_NUM_THREADS=1 node dev/measure_frechet.mjs --real DIR/lr16
//        [--hr ../shared/data/hr/celeba] [--n 300] [--methods bicubic,model] [--df CKPT ...] [--no-restored]
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { IdentityNet } from '../dist/src/eval/identity.js';
import { frechetRestoredVsHr, frechetLrRealism, frechetDistance } from '../dist/src/eval/frechet.js';
import { loadHr, makeMethods, spread, imagesToTensor, tensorToImages } from '../dist/src/eval/run.js';
import { makeDegradation } from '../dist/src/data/index.js';
import { networkFromCheckpoint } from '../dist/src/train/run.js';
import { inferenceMode, manualSeed, randn } from '../dist/src/tensor/index.js';

const { values } = parseArgs({
  options: {
    real: { type: 'string' },
    hr: { type: 'string', default: '../shared/data/hr/celeba' },
    n: { type: 'string', default: '300' },
    methods: { type: 'string', default: 'bicubic,model' },
    df: { type: 'string', multiple: true, default: [] },
    'no-restored': { type: 'boolean', default: false },
  },
});
if (!values.real) throw new Error('give --real DIR (16x16 real LR face crops)');
const n = Number(values.n);
const list = (d) =>
  readdirSync(d)
    .filter((f) => /\.(png|jpe?g|webp)$/i.test(f))
    .sort()
    .map((f) => path.join(d, f));
const t0 = Date.now();
const real = await Promise.all(spread(list(values.real), n).map((f) => loadHr(f, 16)));
const hrAll = spread(list(values.hr), 2 * n);
const hr = await Promise.all(hrAll.filter((_, i) => i % 2 === 0).map((f) => loadHr(f)));
const hr2 = await Promise.all(hrAll.filter((_, i) => i % 2 === 1).map((f) => loadHr(f)));
const net = await IdentityNet.load();
const methods = await makeMethods(values.methods.split(','));
const fmt = (r) => `${r.distance.toFixed(4)} (mean term ${r.mean_term.toFixed(4)}, n ${r.n1} vs ${r.n2})`;
console.log(
  `real LR: ${real.length} faces of ${values.real}; HR: ${hr.length} + ${hr2.length} faces of ${values.hr}`,
);
console.log(`frechet_face_embedding (face-api 128-d descriptors; not FID)`);
const hrRef = frechetDistance(await net.descriptors(hr2), await net.descriptors(hr));
console.log(`  HR (other half) vs HR: ${fmt(hrRef)}`);
if (!values['no-restored']) {
  const r1 = await frechetRestoredVsHr({ net, realLr: real, hr, methods });
  for (const [k, v] of Object.entries(r1)) console.log(`  restored real LR (${k}) vs HR: ${fmt(v)}`);
}
for (const ckpt of values.df) {
  const { net: df, step } = await networkFromCheckpoint(ckpt, 'DF');
  manualSeed(0);
  const x = imagesToTensor(hr);
  const z = randn([hr.length, df.config.noiseDim]);
  const lr = inferenceMode(() => df.forward(x, z));
  const syn = tensorToImages(lr);
  for (const t of [x, z, lr]) t.dispose();
  const name = path.basename(path.dirname(path.resolve(ckpt)));
  console.log(
    `  synthetic LR (DF of run ${name}, step ${step}) vs real LR: ${fmt(await frechetLrRealism({ net, synthetic: syn, real }))}`,
  );
}
for (const preset of ['bicubic4', 'realistic']) {
  const deg = makeDegradation(preset, { seed: 0 });
  const x = imagesToTensor(hr);
  const { lr } = await deg.degrade(x);
  x.dispose();
  const syn = tensorToImages(lr);
  lr.dispose();
  console.log(
    `  synthetic LR (${preset} of HR) vs real LR: ${fmt(await frechetLrRealism({ net, synthetic: syn, real }))}`,
  );
}
const realHalf = real.filter((_, i) => i % 2 === 0);
const realOther = real.filter((_, i) => i % 2 === 1);
console.log(
  `  real LR half vs other half: ${fmt(await frechetLrRealism({ net, synthetic: realHalf, real: realOther }))}`,
);
for (const m of methods) m.dispose();
console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s`);
