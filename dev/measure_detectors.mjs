#!/usr/bin/env node
// Recall of the face detectors (src/infer/detectors.ts) on the real low-resolution sets with ground
// truth: shared/data/real_lr/wider (boxes_xywh) and real_lr/cmu_mit (boxes_x1y1x2y2).
// A ground-truth face counts as found when a detection overlaps it at IoU >= 0.3 (one-to-one,
// greedy by IoU). Face size = the ground-truth box's long side, in pixels. Time per photo is wall
// time of detect() after one warm-up call, on whatever machine runs this.
// Usage: npx tsc -p . && node dev/measure_detectors.mjs [--sets wider,cmu_mit]
//          [--variants retinaface,retinaface-x2,ssd-whole,ssd-256,ssd,ssd-256-128] [--shared ../shared] [--json FILE]
//        add --sweep for recall at score thresholds 0.02 ... 0.7 (one run each, filtered)
//        node dev/measure_detectors.mjs --framing     (SSD boxes against RetinaFace boxes)
//        node dev/measure_detectors.mjs --tiling      (RetinaFace: one pass vs tiles on large photos)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { RetinaFaceDetector, FaceApiSsdDetector } from '../dist/src/infer/detectors.js';
import { readImage } from '../dist/src/data/image.js';
import { iou, boxSide, resizeImage } from '../dist/src/data/faces.js';

const { values } = parseArgs({
  options: {
    sets: { type: 'string', default: 'wider,cmu_mit' },
    variants: { type: 'string', default: 'retinaface,retinaface-x2,ssd-whole,ssd' },
    shared: { type: 'string', default: '../shared' },
    json: { type: 'string' },
    tiling: { type: 'boolean', default: false },
    sweep: { type: 'boolean', default: false },
    framing: { type: 'boolean', default: false },
    iou: { type: 'string', default: '0.3' },
  },
});
const SHARED = values.shared;
const WEIGHTS = path.join(SHARED, 'models/retinaface_mnet025.safetensors');
const IOU = Number(values.iou);
const BUCKETS = [
  ['<10', 0, 10],
  ['10-16', 10, 16],
  ['16-24', 16, 24],
  ['24-32', 24, 32],
  ['32-64', 32, 64],
  ['>=64', 64, Infinity],
];

// With --sweep each variant runs once at the lowest of its sweep thresholds and higher thresholds
// filter that result, which equals running at them (greedy NMS drops a box only for a higher-scoring
// kept box). Times in a sweep are those of the lowest threshold (slower post-processing for SSD).
const RETINA_SWEEP = [0.02, 0.1, 0.2, 0.3, 0.5, 0.7];
const SSD_SWEEP = [0.1, 0.2, 0.3, 0.5, 0.7]; // face-api's JS NMS crawls below 0.1
const VARIANTS = {
  retinaface: {
    make: (t) => new RetinaFaceDetector(WEIGHTS, { scoreThreshold: t }),
    def: 0.5,
    sweep: RETINA_SWEEP,
  },
  'retinaface-x2': {
    make: (t) => new RetinaFaceDetector(WEIGHTS, { scoreThreshold: t, upscale: 2 }),
    def: 0.5,
    sweep: RETINA_SWEEP,
  },
  'ssd-whole': {
    make: (t) => new FaceApiSsdDetector({ minConfidence: t, tileSizes: [] }),
    def: 0.5,
    sweep: SSD_SWEEP,
  },
  'ssd-256': {
    make: (t) => new FaceApiSsdDetector({ minConfidence: t, tileSizes: [256] }),
    def: 0.5,
    sweep: SSD_SWEEP,
  },
  ssd: {
    make: (t) => new FaceApiSsdDetector({ minConfidence: t }), // default tiles: 512, 256
    def: 0.5,
    sweep: SSD_SWEEP,
  },
  'ssd-256-128': {
    make: (t) => new FaceApiSsdDetector({ minConfidence: t, tileSizes: [256, 128] }),
    def: 0.5,
    sweep: SSD_SWEEP,
  },
};

function loadSet(name) {
  const dir = path.join(SHARED, 'data/real_lr', name);
  const boxes = JSON.parse(readFileSync(path.join(dir, 'boxes.json'), 'utf8'));
  return Object.entries(boxes).map(([file, e]) => ({
    file: path.join(dir, 'images', file),
    gt: [...(e.boxes_xywh ?? []).map(([x, y, w, h]) => [x, y, x + w, y + h]), ...(e.boxes_x1y1x2y2 ?? [])],
  }));
}

/** Number of ground-truth boxes matched one-to-one at IoU >= thr, and which. */
function match(gt, dets, thr) {
  const pairs = [];
  gt.forEach((g, i) =>
    dets.forEach((d, j) => {
      const v = iou(g, d.box);
      if (v >= thr) pairs.push([v, i, j]);
    }),
  );
  pairs.sort((a, b) => b[0] - a[0]);
  const gHit = new Array(gt.length).fill(false);
  const dHit = new Array(dets.length).fill(false);
  for (const [, i, j] of pairs) {
    if (gHit[i] || dHit[j]) continue;
    gHit[i] = true;
    dHit[j] = true;
  }
  return { gHit, unmatched: dHit.filter((h) => !h).length };
}

const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)}%` : '-');

async function measure(setName, variant, thresholds) {
  const items = loadSet(setName);
  const v = VARIANTS[variant];
  const det = v.make(Math.min(...thresholds));
  const first = await readImage(items[0].file);
  await det.detect(first); // warm-up (weights, kernels, wasm compile)
  const acc = thresholds.map(() => ({ hits: BUCKETS.map(() => 0), nDet: 0, nUnmatched: 0 }));
  const totals = BUCKETS.map(() => 0);
  const times = [];
  for (const it of items) {
    const img = await readImage(it.file);
    const t0 = performance.now();
    const all = await det.detect(img);
    times.push(performance.now() - t0);
    const bucketOf = it.gt.map((g) => BUCKETS.findIndex(([, lo, hi]) => boxSide(g) >= lo && boxSide(g) < hi));
    for (const b of bucketOf) totals[b]++;
    thresholds.forEach((thr, k) => {
      const dets = all.filter((d) => d.score > thr);
      const { gHit, unmatched } = match(it.gt, dets, IOU);
      acc[k].nDet += dets.length;
      acc[k].nUnmatched += unmatched;
      gHit.forEach((h, i) => {
        if (h) acc[k].hits[bucketOf[i]]++;
      });
    });
  }
  det.dispose?.();
  const total = totals.reduce((a, b) => a + b, 0);
  const sorted = [...times].sort((a, b) => a - b);
  return thresholds.map((thr, k) => {
    const found = acc[k].hits.reduce((a, b) => a + b, 0);
    return {
      set: setName,
      variant,
      threshold: thr,
      photos: items.length,
      faces: total,
      found,
      recall: found / total,
      buckets: BUCKETS.map(([name], b) => ({ name, faces: totals[b], found: acc[k].hits[b] })),
      detections: acc[k].nDet,
      unmatchedDetections: acc[k].nUnmatched,
      msPerPhotoMean: times.reduce((a, b) => a + b, 0) / times.length,
      msPerPhotoMedian: sorted[Math.floor(sorted.length / 2)],
    };
  });
}

function table(results) {
  const head = `| set | detector | score > | recall | ${BUCKETS.map((b) => b[0]).join(' | ')} | detections (unmatched) | ms/photo mean (median) |`;
  const sep = `|${'---|'.repeat(BUCKETS.length + 6)}`;
  const rows = results.map(
    (r) =>
      `| ${r.set} | ${r.variant} | ${r.threshold} | ${pct(r.found, r.faces)} (${r.found}/${r.faces}) | ${r.buckets
        .map((b) => `${pct(b.found, b.faces)} (${b.found}/${b.faces})`)
        .join(
          ' | ',
        )} | ${r.detections} (${r.unmatchedDetections}) | ${r.msPerPhotoMean.toFixed(0)} (${r.msPerPhotoMedian.toFixed(0)}) |`,
  );
  return [head, sep, ...rows].join('\n');
}

async function tilingCheck() {
  // A real group photo enlarged to a few sizes: one full-resolution pass against tiles + shrunk pass.
  const src = await readImage(path.join(SHARED, 'data/photos/tiny_selfie.jpg'));
  const one = new RetinaFaceDetector(WEIGHTS, { maxPixels: 1e9 });
  const tiled = new RetinaFaceDetector(WEIGHTS, { maxPixels: 1 }); // always tiled
  await one.detect(resizeImage(src, 512, 288));
  console.log(
    '| photo | one pass: faces, ms | tiled (1024, overlap 128): faces, ms | tiled faces matching one-pass faces (IoU >= 0.5) |',
  );
  console.log('|---|---|---|---|');
  for (const mp of [1, 2, 4, 8, 12]) {
    const w = Math.round(Math.sqrt((mp * 1e6 * src.width) / src.height));
    const h = Math.round((w * src.height) / src.width);
    const img = resizeImage(src, w, h);
    let t = performance.now();
    const a = await one.detect(img);
    const ta = performance.now() - t;
    t = performance.now();
    const b = await tiled.detect(img);
    const tb = performance.now() - t;
    const m = match(
      a.map((d) => d.box),
      b,
      0.5,
    );
    const agree = m.gHit.filter(Boolean).length;
    console.log(
      `| ${w}x${h} (${mp} MP) | ${a.length}, ${ta.toFixed(0)} | ${b.length}, ${tb.toFixed(0)} | ${agree} of ${a.length} |`,
    );
  }
  one.dispose();
  tiled.dispose();
}

async function framingCheck() {
  // SSD boxes against RetinaFace boxes on the same faces (IoU >= 0.4, RetinaFace side >= 24 px):
  // what frameBox needs for SSD boxes to give the framing RetinaFace boxes give (BOX_FRAMING).
  const { BOX_FRAMING } = await import('../dist/src/data/faces.js');
  const retina = new RetinaFaceDetector(WEIGHTS);
  const ssd = new FaceApiSsdDetector();
  const ratio = [];
  const dcy = [];
  const dcx = [];
  for (const set of ['cmu_mit', 'wider']) {
    for (const it of loadSet(set)) {
      const img = await readImage(it.file);
      const a = (await retina.detect(img)).filter((f) => boxSide(f.box) >= 24);
      const b = await ssd.detect(img);
      for (const f of a) {
        let best = null;
        let bi = 0.4;
        for (const g of b) if (iou(f.box, g.box) >= bi) [best, bi] = [g, iou(f.box, g.box)];
        if (!best) continue;
        const sb = boxSide(best.box);
        ratio.push(boxSide(f.box) / sb);
        dcx.push(((f.box[0] + f.box[2]) / 2 - (best.box[0] + best.box[2]) / 2) / sb);
        dcy.push(((f.box[1] + f.box[3]) / 2 - (best.box[1] + best.box[3]) / 2) / sb);
      }
    }
  }
  retina.dispose();
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const r = med(ratio);
  console.log(
    `${ratio.length} faces: RetinaFace long side / SSD long side median ${r.toFixed(3)}; RetinaFace centre - SSD centre, in SSD sides: x ${med(dcx).toFixed(3)}, y ${med(dcy).toFixed(3)}`,
  );
  console.log(
    `SSD framing = { scale: ${(BOX_FRAMING.scale * r).toFixed(3)}, shiftY: ${(med(dcy) + BOX_FRAMING.shiftY * r).toFixed(3)} }`,
  );
}

console.log(
  `# ${new Date().toISOString()} on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
if (values.tiling) {
  await tilingCheck();
} else if (values.framing) {
  await framingCheck();
} else {
  const results = [];
  for (const set of values.sets.split(','))
    for (const name of values.variants.split(',')) {
      const v = VARIANTS[name];
      if (!v) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
      const rs = await measure(set, name, values.sweep ? v.sweep : [v.def]);
      results.push(...rs);
      for (const r of rs)
        console.error(
          `${set} ${name} > ${r.threshold}: recall ${pct(r.found, r.faces)}, ${r.msPerPhotoMean.toFixed(0)} ms/photo`,
        );
    }
  console.log(table(results));
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
}
