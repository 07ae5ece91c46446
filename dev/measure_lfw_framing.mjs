#!/usr/bin/env node
// Measures where the faces of the LFW 90x90 crops (../shared/data/lfw), or of any folder of tight
// face crops (--dir, e.g. ../shared/data/eval/utkface), sit, to frame them like the
// HR training crops (src/data/faces.ts FACE_TEMPLATE_5): RetinaFace MobileNet-0.25 on N crops, each
// padded by edge replication to 3x its side (the crops are tight: chin and forehead are cut, and a
// detector needs some context) and scaled to 2x, as dev/measure_template.mjs does for the HR crops.
// Prints the mean 5 landmarks as fractions of the crop and the square frameLandmarks gives: its
// side and centre offset relative to the crop. src/eval/lfw.ts LFW_FRAMING holds the result.
// side and centre offset relative to the crop. src/eval/utk.ts UTK_FRAMING holds the --dir result
// for UTKFace.
// Usage: npm run build:ts && node dev/measure_lfw_framing.mjs [--n 300] [--lfw DIR | --dir DIR] [--weights FILE]
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RetinaFace } from '../dist/src/models/retinaface.js';
import { readImage } from '../dist/src/data/image.js';
import { cropFrame, frameLandmarks, FACE_TEMPLATE_5 } from '../dist/src/data/faces.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    lfw: { type: 'string', default: '../shared/data/lfw' },
    dir: { type: 'string' },
    weights: { type: 'string', default: '../shared/models/retinaface_mnet025.safetensors' },
  },
});
const n = Number(values.n);
const dir = values.dir ?? path.join(values.lfw, 'images');
const files = values.dir
  ? readdirSync(dir)
      .filter((f) => !f.startsWith('.'))
      .sort()
      .map((f) => path.join(dir, f))
  : readdirSync(dir)
      .sort()
      .flatMap((p) =>
        readdirSync(path.join(dir, p))
          .sort()
          .map((f) => path.join(dir, p, f)),
      );
const step = Math.max(1, Math.floor(files.length / n));
const picked = files.filter((_, i) => i % step === 0).slice(0, n);
const net = RetinaFace.fromSafetensors(values.weights);

const pts = Array.from({ length: 5 }, () => []);
const frames = [];
let missed = 0;
for (const f of picked) {
  const img = await readImage(f);
  const S = img.width;
  const pad = S; // 3S x 3S with the crop in the middle
  const big = cropFrame(img, { x: -pad, y: -pad, size: 3 * S, padded: true });
  const dets = net.detect(
    { pixels: big.data, width: big.width, height: big.height, channels: 3 },
    { longSide: 6 * S, scoreThreshold: 0.5 },
  );
  const C = big.width / 2;
  const c = dets
    .map((d) => ({ d, off: Math.hypot((d.box[0] + d.box[2]) / 2 - C, (d.box[1] + d.box[3]) / 2 - C) }))
    .filter((x) => x.off < S / 3)
    .sort((a, b) => a.off - b.off)[0];
  if (!c) {
    missed++;
    continue;
  }
  const lm = c.d.landmarks.map(([x, y]) => [x - pad, y - pad]);
  lm.forEach(([x, y], k) => pts[k].push([x / S, y / S]));
  const fr = frameLandmarks(lm, S, S);
  frames.push({ side: fr.size / S, cx: (fr.x + fr.size / 2) / S - 0.5, cy: (fr.y + fr.size / 2) / S - 0.5 });
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const std = (a) => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(
  `crops of ${dir}: ${picked.length} picked (every ${step}th of ${files.length}), ${frames.length} with a face, ${missed} without`,
);
const names = ['left eye', 'right eye', 'nose', 'left mouth', 'right mouth'];
console.log('landmark      crop x   crop y  (HR template x, y)');
pts.forEach((p, k) =>
  console.log(
    `${names[k].padEnd(12)} ${mean(p.map((q) => q[0])).toFixed(4)}  ${mean(p.map((q) => q[1])).toFixed(4)}   (${FACE_TEMPLATE_5[k][0].toFixed(4)}, ${FACE_TEMPLATE_5[k][1].toFixed(4)})`,
  ),
);
for (const k of ['side', 'cx', 'cy']) {
  const v = frames.map((x) => x[k]);
  console.log(
    `frame ${k} / crop side: mean ${mean(v).toFixed(4)}  median ${median(v).toFixed(4)}  sd ${std(v).toFixed(4)}`,
  );
}
