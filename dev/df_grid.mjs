// What the degradation network DF of training runs makes of held-out HR faces, beside the plain x4
// average pool and real LR faces: one PNG, rows = 8 faces, columns = pool | DF(HR) of each checkpoint
// (noise seeded) | 8 real LR faces (unpaired), every 16x16 image shown x4 (nearest).
// Usage: npm run build:ts && OMP_NUM_THREADS=1 node dev/df_grid.mjs OUT.png --list RUN/holdout.txt
//        --real DIR/lr16 CKPT [CKPT ...]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { networkFromCheckpoint } from '../dist/src/train/run.js';
import { inferenceMode, manualSeed, randn, F, cat } from '../dist/src/tensor/index.js';
import { DataLoader, ImageFolderDataset } from '../dist/src/data/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { list: { type: 'string' }, real: { type: 'string' } },
});
const [out, ...ckpts] = positionals;
if (!out || !values.list || !values.real || ckpts.length === 0) {
  console.error('Usage: node dev/df_grid.mjs OUT.png --list HOLDOUT.txt --real LR_DIR CKPT [CKPT ...]');
  process.exit(2);
}
const first = async (set, size) => {
  for await (const b of new DataLoader(set, { batchSize: 8, size, range: '-1,1', numWorkers: 1 }))
    return b.images;
  throw new Error('no images');
};
// Every 50th held-out face, and every 50th real LR face: spread over the sets, fixed.
const files = readFileSync(values.list, 'utf8')
  .trim()
  .split('\n')
  .filter((_, i) => i % 50 === 0)
  .slice(0, 8);
const hr = await first(new ImageFolderDataset(files.map((file) => ({ file }))), 64);
const real = await ImageFolderDataset.fromFolder(values.real);
const lr = await first(new ImageFolderDataset(real.items.filter((_, i) => i % 50 === 0).slice(0, 8)), 16);
const cols = [F.avgPool2d(hr, 4)];
for (const c of ckpts) {
  const { net: df } = await networkFromCheckpoint(c, 'DF');
  manualSeed(1);
  cols.push(inferenceMode(() => df.forward(hr, randn([hr.shape[0], df.config.noiseDim]))));
}
cols.push(lr);
const n = Math.min(...cols.map((t) => t.shape[0]));
const up = cols.map((t) => F.interpolate(t, { size: [64, 64], mode: 'nearest' }));
const grid = cat(
  up.map((t) =>
    cat(
      [...Array(n).keys()].map((i) => t.narrow(0, i, 1)),
      2,
    ),
  ),
  3,
);
const g = grid.add(1).mul(127.5).clamp(0, 255).round().squeeze(0).permute([1, 2, 0]).contiguous();
const [H, W] = g.shape;
await sharp(Buffer.from(Uint8Array.from(g.toFloat32Array())), { raw: { width: W, height: H, channels: 3 } })
  .png()
  .toFile(out);
console.log(`wrote ${out}: ${n} faces; columns pool, ${ckpts.join(', ')}, real LR from ${values.real}`);
