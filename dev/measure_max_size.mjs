#!/usr/bin/env node
// When does restoring a face through the model's 16x16 input beat simply up-sampling it? For held-out
// HR faces (64x64) shown at a native size s, compare PSNR against HR of (a) bicubic up-sampling of the
// s-pixel face to 64 and (b) the model on the s-pixel face reduced to 16 (what enhance does).
//   node dev/measure_max_size.mjs MODEL.safetensors HOLDOUT.txt [N]
import { readFileSync } from 'node:fs';
import { loadModel } from '../dist/src/models/index.js';
import { readImage, resize } from '../dist/src/data/index.js';
import { imageToTensor, tensorToImage, noGrad, tidy, F } from '../dist/src/tensor/index.js';
import { psnr } from '../dist/src/eval/metrics.js';

const [modelFile, listFile, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 200);
const files = readFileSync(listFile, 'utf8').trim().split('\n');
const pick = Array.from({ length: n }, (_, i) => files[Math.floor((i * files.length) / n)]);
const { net } = await loadModel(modelFile);
const sizes = [12, 16, 20, 24, 32, 40, 48];
const acc = Object.fromEntries(sizes.map((s) => [s, { bic: 0, model: 0 }]));
const to8 = (t) => {
  const img = tensorToImage(t, { range: '-1,1' });
  return { data: img.pixels, width: img.width, height: img.height, channels: 3 };
};
for (const f of pick) {
  const im = await readImage(f);
  tidy(() => {
    const x = imageToTensor(im.data, im, { range: '-1,1' });
    const hr = resize(x, 64, { mode: 'area' });
    const hr8 = to8(hr.squeeze(0));
    for (const s of sizes) {
      const small = resize(hr, s, { mode: 'bicubic' }).clamp(-1, 1);
      const bic = F.interpolate(small, { size: [64, 64], mode: 'bicubic', alignCorners: false }).clamp(-1, 1);
      const lr = s === 16 ? small : resize(small, 16, { mode: process.env.DOWN ?? 'bicubic' }).clamp(-1, 1);
      const sr = noGrad(() => net.forward(lr)).clamp(-1, 1);
      acc[s].bic += psnr(to8(bic.squeeze(0)), hr8);
      acc[s].model += psnr(to8(sr.squeeze(0)), hr8);
    }
  });
}
console.log('native px | bicubic PSNR | model PSNR | model - bicubic');
for (const s of sizes)
  console.log(
    `${String(s).padStart(9)} | ${(acc[s].bic / n).toFixed(2).padStart(12)} | ${(acc[s].model / n).toFixed(2).padStart(10)} | ${((acc[s].model - acc[s].bic) / n).toFixed(2).padStart(6)}`,
  );
