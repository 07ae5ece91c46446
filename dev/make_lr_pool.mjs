// Widens an unpaired LR training set with synthetic LR faces: HR crops reduced x4 by antialiased
// bicubic and by the 'realistic' degradation (blur + noise + JPEG), written as harvest-style folders
// (OUT/synth-bicubic4/lr16, OUT/synth-realistic/lr16) that 'facesr train --lr OUT' reads beside the
// real LR folders linked into OUT. Files listed in --exclude (e.g. a run's holdout.txt) are skipped.
//   node dev/make_lr_pool.mjs --hr DIR --out DIR --count N [--exclude FILE] [--real DIR...] [--seed S]
import { mkdirSync, writeFileSync, symlinkSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ev from '../dist/src/eval/run.js';
import { downsample, makeDegradation } from '../dist/src/data/degrade.js';
import { tidy } from '../dist/src/tensor/index.js';
import { writeImage } from '../dist/src/data/image.js';

const { values: a } = parseArgs({
  options: {
    hr: { type: 'string' },
    out: { type: 'string' },
    count: { type: 'string', default: '2400' },
    exclude: { type: 'string' },
    real: { type: 'string', multiple: true, default: [] },
    seed: { type: 'string', default: '11' },
  },
});
if (!a.hr || !a.out) throw new Error('--hr and --out are required');
const skip = new Set(a.exclude ? ev.readList(a.exclude).map((f) => path.basename(f)) : []);
const all = ev.listImages(a.hr).filter((f) => !skip.has(path.basename(f)));
// An even spread over the (identity-sorted) file list, so the picked faces cover many identities.
const picked = ev.spread(all, Number(a.count));
const half = Math.floor(picked.length / 2);
const deg = makeDegradation('realistic', { seed: Number(a.seed) });
for (const [name, files] of [
  ['synth-bicubic4', picked.slice(0, half)],
  ['synth-realistic', picked.slice(half)],
]) {
  const dir = path.join(a.out, name, 'lr16');
  mkdirSync(dir, { recursive: true });
  const manifest = [];
  for (let i = 0; i < files.length; i += 64) {
    const chunk = files.slice(i, i + 64);
    const hr = ev.imagesToTensor(await Promise.all(chunk.map((f) => ev.loadHr(f))));
    const lr =
      name === 'synth-bicubic4'
        ? tidy(() => downsample(hr, 4, { mode: 'bicubic' }).clamp(-1, 1))
        : (await deg.degrade(hr)).lr;
    const imgs = ev.tensorToImages(lr);
    hr.dispose();
    lr.dispose();
    for (let j = 0; j < chunk.length; j++) {
      const out = path.join(dir, path.basename(chunk[j]).replace(/\.[^.]+$/, '.png'));
      await writeImage(out, imgs[j]);
      manifest.push(
        JSON.stringify({
          file: path.relative(path.join(a.out, name), out),
          source: chunk[j],
          degradation: name.slice(6),
        }),
      );
    }
  }
  writeFileSync(path.join(a.out, name, 'manifest.jsonl'), manifest.join('\n') + '\n');
  console.log(`${name}: ${files.length} faces`);
}
for (const r of a.real) {
  const dst = path.join(a.out, path.basename(r));
  if (!existsSync(dst)) symlinkSync(path.resolve(r), dst);
  console.log(`linked ${r}: ${readdirSync(path.join(r, 'lr16')).length} faces`);
}
