#!/usr/bin/env node
// Measures the canonical 5-point face template of the HR training framing (src/data/faces.ts
// FACE_TEMPLATE_5) and the RetinaFace box size relative to the HR crop (FRAME_SCALE's check).
// Runs RetinaFace MobileNet-0.25 on N HR crops (128x128, upscaled to 256 with bilinear filtering),
// keeps the best detection near the centre, and averages the 5 landmarks normalised to [0, 1] of
// the crop (continuous pixel coordinates: the crop spans [0, 128]).
// With --real it also checks the framing on the real sets with ground truth (faces >= 24 px that
// RetinaFace finds at IoU >= 0.4): ground-truth boxes against RetinaFace boxes, and the square of
// frameLandmarks (RetinaFace's or CMU's hand-placed landmarks) against both.
// Usage: npx tsc -p . && node dev/measure_template.mjs [--n 300] [--hr DIR] [--weights FILE] [--real]
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RetinaFace } from '../dist/src/models/retinaface.js';
import { readImage } from '../dist/src/data/image.js';
import { iou, boxSide, frameLandmarks, frameBox } from '../dist/src/data/faces.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    hr: { type: 'string', default: '../shared/data/hr/celeba' },
    weights: { type: 'string', default: '../shared/models/retinaface_mnet025.safetensors' },
    real: { type: 'boolean', default: false },
    shared: { type: 'string', default: '../shared' },
  },
});
const n = Number(values.n);
const files = readdirSync(values.hr)
  .filter((f) => !f.startsWith('.'))
  .sort();
const step = Math.max(1, Math.floor(files.length / n));
const picked = files.filter((_, i) => i % step === 0).slice(0, n);
const net = RetinaFace.fromSafetensors(values.weights);

const pts = Array.from({ length: 5 }, () => []);
const boxes = [];
let missed = 0;
for (const f of picked) {
  const img = await readImage(path.join(values.hr, f));
  const S = img.width;
  const dets = net.detect(
    { pixels: img.data, width: img.width, height: img.height, channels: 3 },
    { longSide: 2 * S, scoreThreshold: 0.5 },
  );
  // The face of the crop is the confident detection closest to the centre.
  const c = dets
    .map((d) => ({
      d,
      off: Math.hypot((d.box[0] + d.box[2]) / 2 - S / 2, (d.box[1] + d.box[3]) / 2 - S / 2),
    }))
    .filter((x) => x.off < S / 4)
    .sort((a, b) => a.off - b.off)[0];
  if (!c) {
    missed++;
    continue;
  }
  c.d.landmarks.forEach(([x, y], k) => pts[k].push([x / S, y / img.height]));
  const [x1, y1, x2, y2] = c.d.box;
  boxes.push({
    w: (x2 - x1) / S,
    h: (y2 - y1) / S,
    cx: (x1 + x2) / 2 / S,
    cy: (y1 + y2) / 2 / S,
    score: c.d.score,
  });
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const std = (a) => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const names = ['left eye', 'right eye', 'nose', 'left mouth', 'right mouth'];
console.log(
  `HR crops: ${picked.length} picked (every ${step}th of ${files.length}), ${boxes.length} with a face, ${missed} without`,
);
console.log('landmark      mean x    mean y    std x   std y');
const template = pts.map((p, k) => {
  const xs = p.map((q) => q[0]);
  const ys = p.map((q) => q[1]);
  console.log(
    `${names[k].padEnd(12)} ${mean(xs).toFixed(4)}   ${mean(ys).toFixed(4)}   ${std(xs).toFixed(4)}  ${std(ys).toFixed(4)}`,
  );
  return [Number(mean(xs).toFixed(4)), Number(mean(ys).toFixed(4))];
});
const side = boxes.map((b) => Math.max(b.w, b.h));
const geo = boxes.map((b) => Math.sqrt(b.w * b.h));
console.log(
  `RetinaFace box / crop: w ${mean(boxes.map((b) => b.w)).toFixed(4)} h ${mean(boxes.map((b) => b.h)).toFixed(4)}` +
    ` centre (${mean(boxes.map((b) => b.cx)).toFixed(4)}, ${mean(boxes.map((b) => b.cy)).toFixed(4)})`,
);
console.log(
  `crop side / box long side: mean ${mean(side.map((s) => 1 / s)).toFixed(3)} median ${median(side.map((s) => 1 / s)).toFixed(3)};` +
    ` crop side / sqrt(w*h): mean ${mean(geo.map((s) => 1 / s)).toFixed(3)} median ${median(geo.map((s) => 1 / s)).toFixed(3)}`,
);
console.log(`score: mean ${mean(boxes.map((b) => b.score)).toFixed(4)}`);
console.log(`FACE_TEMPLATE_5 = ${JSON.stringify(template)}`);

if (values.real) await realCheck();
net.dispose();

async function realCheck() {
  const med = (a) => {
    const b = a.filter((v) => v !== undefined).sort((x, y) => x - y);
    return b.length ? b[Math.floor(b.length / 2)].toFixed(3) : '-';
  };
  for (const set of ['wider', 'cmu_mit']) {
    const dir = path.join(values.shared, 'data/real_lr', set);
    const entries = JSON.parse(readFileSync(path.join(dir, 'boxes.json'), 'utf8'));
    const r = [];
    for (const [f, e] of Object.entries(entries)) {
      const img = await readImage(path.join(dir, 'images', f));
      const gts = [
        ...(e.boxes_xywh ?? []).map(([x, y, w, h]) => [x, y, x + w, y + h]),
        ...(e.boxes_x1y1x2y2 ?? []),
      ];
      const dets = net.detect({ pixels: img.data, width: img.width, height: img.height, channels: 3 });
      gts.forEach((g, gi) => {
        const gs = boxSide(g);
        if (gs < 24) return;
        let best = null;
        let bi = 0.4;
        for (const d of dets) if (iou(g, d.box) >= bi) [best, bi] = [d, iou(g, d.box)];
        if (!best) return;
        const rs = boxSide(best.box);
        const fl = frameLandmarks(best.landmarks, img.width, img.height);
        const fb = frameBox(best.box, img.width, img.height);
        const o = {
          retGt: rs / gs,
          dcy: ((best.box[1] + best.box[3]) / 2 - (g[1] + g[3]) / 2) / gs,
          lmRet: fl.size / rs,
          lmGt: fl.size / gs,
          lmDyGt: (fl.y + fl.size / 2 - (g[1] + g[3]) / 2) / gs,
          boxLm: fb.size / fl.size,
        };
        if (e.landmarks6) {
          const l = e.landmarks6[gi];
          const p = [0, 1, 2, 3, 5].map((k) => [l[2 * k], l[2 * k + 1]]);
          const fc = frameLandmarks(p, img.width, img.height);
          o.cmuGt = fc.size / gs;
          o.cmuDyGt = (fc.y + fc.size / 2 - (g[1] + g[3]) / 2) / gs;
          o.cmuRetLm = fc.size / fl.size;
        }
        r.push(o);
      });
    }
    const m = (k) => med(r.map((x) => x[k]));
    console.log(
      `${set}: ${r.length} faces; medians: RetinaFace/ground-truth long side ${m('retGt')}, centre offset ${m('dcy')} gt sides;` +
        ` landmark square / RetinaFace long side ${m('lmRet')}, / gt long side ${m('lmGt')} (centre ${m('lmDyGt')} gt sides);` +
        ` box square / landmark square ${m('boxLm')}` +
        (set === 'cmu_mit'
          ? `; hand landmarks: square / gt long side ${m('cmuGt')} (centre ${m('cmuDyGt')} gt sides), / RetinaFace landmark square ${m('cmuRetLm')}`
          : ''),
    );
  }
}
