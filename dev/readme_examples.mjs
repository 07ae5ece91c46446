#!/usr/bin/env node
// Before/after crops for the README, made by the command the README documents:
//   facesr enhance PHOTO -o OUT --compare --detector-weights W [--max-size N]
// then the first faces' compare images (frame before | after, 128 px each) stacked into one strip per
// photo in docs/images/. Photos are read from ../shared/data/photos (MIT-licensed sources only).
//   node dev/readme_examples.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

const photos = '../shared/data/photos';
const weights = '../shared/models/retinaface_mnet025.safetensors';
const cases = [
  { photo: 'ultralight_8.jpg', args: [], faces: 6 }, // a crowd: 67 faces of 12-20 px
  { photo: 'ultralight_1.jpg', args: ['--max-size', '28'], faces: 6 }, // a group: faces of 25-28 px
  { photo: 'bopb_b.png', args: ['--max-size', '36'], faces: 4 }, // an old photo: faces of 22-35 px
];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-readme-'));
for (const c of cases) {
  const out = path.join(tmp, path.parse(c.photo).name);
  const cmd = [
    'dist/src/cli/main.js',
    'enhance',
    path.join(photos, c.photo),
    '-o',
    out,
    '--compare',
    '--detector-weights',
    weights,
    '--quiet',
    ...c.args,
  ];
  console.log(`facesr ${cmd.slice(1).join(' ')}`);
  const r = spawnSync(process.execPath, cmd, { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const dir = path.join(out, 'compare');
  const files = readdirSync(dir)
    .sort()
    .slice(0, c.faces)
    .map((f) => path.join(dir, f));
  const meta = await sharp(files[0]).metadata();
  const w = meta.width;
  const h = meta.height;
  const dest = path.join('docs', 'images', `${path.parse(c.photo).name}_before_after.jpg`);
  await sharp({
    create: {
      width: w * files.length + 4 * (files.length - 1),
      height: h,
      channels: 3,
      background: '#ffffff',
    },
  })
    .composite(files.map((f, i) => ({ input: f, left: i * (w + 4), top: 0 })))
    .jpeg({ quality: 85 })
    .toFile(dest);
  console.log(`wrote ${dest}`);
}
