// RetinaFace (MobileNet-0.25) port against the authors' PyTorch golden outputs (shared/models/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RetinaFace,
  retinaFacePriors,
  nms,
  decodeRetinaFace,
  type Detection,
} from '../src/models/retinaface.js';
import { readSafetensorsSync } from '../src/io/index.js';
import {
  type Tensor,
  inferenceMode,
  tidy,
  setNumThreads,
  getNumThreads,
  liveTensors,
  zeros,
  tensor,
} from '../src/tensor/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = [process.env.FACESR_SHARED, path.join(repo, 'shared'), path.join(repo, '../shared')]
  .filter((p): p is string => Boolean(p))
  .find((p) => existsSync(path.join(p, 'models/retinaface_mnet025.safetensors')));
const MODELS = SHARED && path.join(SHARED, 'models');
const SKIP = SHARED
  ? ''
  : `shared/models with retinaface_mnet025.safetensors not found (looked beside ${repo})`;

/** Width and height from a baseline/progressive JPEG's SOF segment. */
function jpegSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xff) throw new Error(`${file}: bad JPEG marker at ${i}`);
    const m = b[i + 1]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new Error(`${file}: no SOF segment`);
}

function iou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = iw * ih;
  return inter / ((a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter);
}

function loadNet(): RetinaFace {
  const net = new RetinaFace();
  const { tensors } = readSafetensorsSync(path.join(MODELS!, 'retinaface_mnet025.safetensors'));
  try {
    net.loadStateDict(tensors); // strict
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return net;
}

test('RetinaFace priors, decode and NMS basics', () => {
  const p = retinaFacePriors(425, 640);
  assert.equal(p.length / 4, (54 * 80 + 27 * 40 + 14 * 20) * 2); // 11360, as the golden outputs
  // First anchor: level 1, row 0, column 0, min size 10.
  assert.deepEqual(
    Array.from(p.subarray(0, 8)),
    Array.from(Float32Array.of(4 / 640, 4 / 425, 10 / 640, 10 / 425, 4 / 640, 4 / 425, 20 / 640, 20 / 425)),
  );
  // Zero regressions decode to the anchor itself.
  const one = Float32Array.of(0.5, 0.5, 0.1, 0.2);
  const d = decodeRetinaFace(new Float32Array(4), new Float32Array(10), one, { width: 100, height: 50 });
  assert.deepEqual(Array.from(d.boxes), [45, 20, 55, 30]);
  assert.deepEqual(Array.from(d.landmarks), [50, 25, 50, 25, 50, 25, 50, 25, 50, 25]);
  // NMS: the second box overlaps the first (IoU 0.68) and goes; the third is apart and stays.
  const boxes = Float32Array.of(0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30);
  const scores = Float32Array.of(0.8, 0.9, 0.7);
  assert.deepEqual(nms(boxes, scores, 0.4), [1, 2]);
  assert.deepEqual(nms(boxes, scores, 0.7), [1, 0, 2]);
});

test('RetinaFace architecture: state-dict keys and parameter counts', (t) => {
  const net = new RetinaFace();
  try {
    const sd = net.stateDict();
    const bn = [...sd.keys()].filter((k) => k.endsWith('.num_batches_tracked'));
    assert.equal(bn.length, 47); // 27 backbone + 5 FPN + 15 SSH BatchNorms
    assert.equal(sd.size, 253 + 47);
    // README's 433,296 float32 values are the whole file: 426,608 trainable parameters (conv and BN
    // weights, biases) plus 6,688 BatchNorm running statistics; num_batches_tracked is not in the file.
    assert.equal(net.numParameters(), 426_608);
    const running = [...sd]
      .filter(([k]) => /running_(mean|var)$/.test(k))
      .reduce((a, [, v]) => a + v.numel, 0);
    assert.equal(running, 6_688);
    assert.equal(net.numParameters() + running, 433_296);
    for (const k of [
      'body.stage1.0.0.weight',
      'body.stage1.1.3.weight',
      'fpn.output1.0.weight',
      'ssh1.conv3X3.0.weight',
      'ssh3.conv7x7_3.1.running_var',
      'ClassHead.0.conv1x1.weight',
      'LandmarkHead.2.conv1x1.bias',
    ])
      assert.ok(sd.has(k), k);
    if (SKIP) {
      console.log(`skipping the weights-file key check: ${SKIP}`);
      t.diagnostic(SKIP);
      return;
    }
    const { tensors } = readSafetensorsSync(path.join(MODELS!, 'retinaface_mnet025.safetensors'));
    try {
      assert.equal(tensors.size, 253);
      assert.deepEqual([...tensors.keys()].sort(), [...sd.keys()].filter((k) => !bn.includes(k)).sort());
      const total = [...tensors.values()].reduce((a, v) => a + v.numel, 0);
      assert.equal(total, 433_296);
      assert.ok([...tensors.values()].every((v) => v.dtype === 'float32'));
    } finally {
      for (const v of tensors.values()) v.dispose();
    }
  } finally {
    net.dispose();
  }
});

test('RetinaFace reproduces the golden outputs and detections', (t) => {
  if (SKIP) {
    console.log(`skipping RetinaFace golden test: ${SKIP}`);
    t.skip(SKIP);
    return;
  }
  const prevThreads = getNumThreads();
  setNumThreads(2);
  const net = loadNet();
  const golden = readSafetensorsSync(path.join(MODELS!, 'retinaface_golden.safetensors'));
  const g = golden.tensors;
  const x = g.get('input')!;
  try {
    assert.deepEqual(x.shape, [1, 3, 425, 640]);
    // ---- raw outputs ----
    const live = liveTensors();
    const times: number[] = [];
    let out: { loc: Tensor; conf: Tensor; landms: Tensor } | undefined;
    for (let r = 0; r < 6; r++) {
      if (out) for (const v of Object.values(out)) v.dispose();
      const t0 = performance.now();
      out = inferenceMode(() => net.forward(x));
      times.push(performance.now() - t0);
    }
    const o = out!;
    for (const k of ['loc', 'conf', 'landms'] as const) {
      assert.deepEqual(o[k].shape, g.get(k)!.shape, k);
      const diff = tidy(() => o[k].sub(g.get(k)!).abs().max().item());
      const range = tidy(() => g.get(k)!.abs().max().item());
      console.log(
        `RetinaFace ${k}: max |diff| = ${diff.toExponential(3)} (golden max |value| ${range.toFixed(3)})`,
      );
      assert.ok(diff <= 1e-3, `${k}: max abs diff ${diff}`);
    }
    for (const v of Object.values(o)) v.dispose();
    assert.equal(liveTensors(), live, 'forward leaks no tensors once its outputs are disposed');
    const sorted = [...times.slice(1)].sort((a, b) => a - b);
    console.log(
      `RetinaFace forward 640x425, ${getNumThreads()} threads: median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms (first ${times[0]!.toFixed(1)} ms)`,
    );

    // ---- detections in original pixels ----
    const ref = JSON.parse(readFileSync(path.join(MODELS!, 'retinaface_golden_detections.json'), 'utf8')) as {
      image: string;
      long_side: number;
      confidence_threshold: number;
      nms_iou: number;
      detections: { box_x1y1x2y2: number[]; score: number; landmarks5: number[] }[];
    };
    const { width, height } = jpegSize(path.join(SHARED!, 'data/photos', ref.image));
    assert.deepEqual([width, height], [720, 478]);
    const scale = ref.long_side / Math.max(width, height); // the authors' resize factor
    assert.ok(Math.abs(scale - Number(golden.metadata.resize)) < 1e-12);
    assert.equal(Math.round(height * scale), 425);
    const t0 = performance.now();
    const dets: Detection[] = net.detect(x, {
      scale,
      scoreThreshold: ref.confidence_threshold,
      nmsIou: ref.nms_iou,
    });
    console.log(
      `RetinaFace detect (forward + decode + NMS): ${(performance.now() - t0).toFixed(1)} ms, ${dets.length} faces`,
    );
    assert.equal(liveTensors(), live, 'detect leaks no tensors');
    assert.equal(dets.length, ref.detections.length);
    assert.equal(dets.length, 51);
    for (let i = 1; i < dets.length; i++) assert.ok(dets[i - 1]!.score >= dets[i]!.score, 'sorted by score');
    let maxBox = 0;
    let maxScore = 0;
    let maxLm = 0;
    let minIou = 1;
    const used = new Set<number>();
    for (const r of ref.detections) {
      let best = -1;
      let bestIou = 0;
      dets.forEach((d, i) => {
        const v = iou(d.box, r.box_x1y1x2y2);
        if (!used.has(i) && v > bestIou) [best, bestIou] = [i, v];
      });
      assert.ok(best >= 0 && bestIou > 0.9, `golden face at [${r.box_x1y1x2y2.join(', ')}] not found`);
      used.add(best);
      const d = dets[best]!;
      minIou = Math.min(minIou, bestIou);
      d.box.forEach((v, j) => (maxBox = Math.max(maxBox, Math.abs(v - r.box_x1y1x2y2[j]!))));
      maxScore = Math.max(maxScore, Math.abs(d.score - r.score));
      d.landmarks.flat().forEach((v, j) => (maxLm = Math.max(maxLm, Math.abs(v - r.landmarks5[j]!))));
    }
    console.log(
      `RetinaFace detections vs golden JSON (rounded to 0.01 px / 1e-4): box max |diff| ${maxBox.toFixed(4)} px, ` +
        `landmarks ${maxLm.toFixed(4)} px, score ${maxScore.toExponential(2)}, min IoU ${minIou.toFixed(5)}`,
    );
    assert.ok(maxBox <= 0.5, `box diff ${maxBox}`);
    assert.ok(maxLm <= 0.5, `landmark diff ${maxLm}`);
    assert.ok(maxScore <= 1e-3, `score diff ${maxScore}`);
  } finally {
    for (const v of g.values()) v.dispose();
    net.dispose();
    setNumThreads(prevThreads);
  }
});

test('RetinaFace detect on raw pixels and odd sizes', (t) => {
  if (SKIP) {
    console.log(`skipping RetinaFace raw-pixel test: ${SKIP}`);
    t.skip(SKIP);
    return;
  }
  const net = RetinaFace.fromSafetensors(path.join(MODELS!, 'retinaface_mnet025.safetensors'));
  try {
    // A uniform mean-grey image: no faces, and no shape errors at sizes that are not multiples of 32.
    const [w, h] = [97, 61];
    const pixels = new Uint8Array(w * h * 3);
    for (let i = 0; i < pixels.length; i += 3) pixels.set([123, 117, 104], i); // RGB = the BGR mean
    assert.deepEqual(net.detect({ pixels, width: w, height: h, channels: 3 }), []);
    const out = tidy(() => inferenceMode(() => net.forward(zeros([1, 3, h, w]))));
    assert.equal(out.loc.size(1), retinaFacePriors(h, w).length / 4);
    for (const v of Object.values(out)) v.dispose();
    // Channel order: the golden input turned back into RGB bytes finds the same faces.
    const g = readSafetensorsSync(path.join(MODELS!, 'retinaface_golden.safetensors')).tensors;
    try {
      const x = g.get('input')!;
      const rgb = tidy(() =>
        x
          .squeeze(0)
          .add(tensor([104, 117, 123]).view(3, 1, 1))
          .round()
          .clamp(0, 255)
          .flip(0)
          .permute(1, 2, 0)
          .contiguous()
          .to('uint8'),
      );
      const raw = { pixels: rgb.bytes(), width: x.size(3), height: x.size(2), channels: 3 };
      rgb.dispose();
      const a = net.detect(x);
      const b = net.detect(raw);
      const bgr = net.detect({ ...raw, order: 'bgr' });
      let matched = 0;
      for (const d of a) if (b.some((e) => iou(d.box, e.box) > 0.95)) matched++;
      console.log(
        `RetinaFace raw RGB pixels: ${b.length} faces, ${matched}/${a.length} match the float input; as BGR: ${bgr.length}`,
      );
      assert.ok(matched >= a.length - 2 && Math.abs(b.length - a.length) <= 2);
    } finally {
      for (const v of g.values()) v.dispose();
    }
    const resized = net.detect({ pixels, width: w, height: h, channels: 3 }, { longSide: 160 });
    assert.deepEqual(resized, []);
  } finally {
    net.dispose();
  }
});
