// LFW verification accuracy with one or both faces of each pair reduced to 16x16 and restored
// (method.md section 5, "recognition"), against bicubic and the HR upper bound.
//
// - Data: `<lfw>/pairs.txt` (the standard 6,000 pairs: a first line "10 300", then per fold 300
//   same-person lines `name n1 n2` and 300 different-person lines `name1 n1 name2 n2`) and
//   `<lfw>/images/<Name>/<Name>_NNNN.jpg` (../shared/data/lfw: tight 90x90 centre crops).
// - Framing: the crops are tighter than the HR training framing (FACE_TEMPLATE_5: eyes 0.27 of the
//   square apart); RetinaFace on 300 crops (dev/measure_lfw_framing.mjs) puts the training-framed
//   square at 1.65x the crop's side (median 1.644, sd 0.11), centred 0.028 sides above its centre.
//   No central square of the crop matches, so the frame is that larger square, the part outside the
//   crop filled by edge replication (cropFrame); it is area-resized to 64x64 (the HR the models are
//   trained to produce), reduced to 16x16 by the degradation, restored, and the judge sees only the
//   crop's own area of each 64x64 frame (a 39x39 square: the replicated border is never judged).
// - Judge: face-api's 128-d descriptors (identity.ts IdentityNet), cosine similarity (and the
//   Euclidean distance); a pair is "same" when its similarity is above the threshold.
// - Conditions: `hr` both faces as given (90x90, the upper bound); `hr64` both faces at the 64x64
//   frame's resolution (what a perfect x4 restoration would give); per method `<m>/one` (the first
//   face of each pair reduced and restored, the second as given) and `<m>/both` (both restored).
// - Accuracy: 10-fold cross-validation over the folds of pairs.txt: for each fold, the threshold
//   that maximises accuracy on the other 9 folds (candidates: midpoints between consecutive distinct
//   scores and one below / above all; ties go to the lowest), applied to the held-out fold; mean and
//   sample sd (ddof 1) of the 10 fold accuracies, and the standard error sd / sqrt(10) as the LFW
//   protocol reports it. Checked against dev/make_lfw_fixtures.py (numpy, tests/eval-lfw).
import { LfwPairs } from '../data/datasets.js';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError } from '../core/errors.js';
import {
  cropFrame,
  makeDegradation,
  readImage,
  resizeSquare,
  type DegradationPreset,
  type Frame,
} from '../data/index.js';
import type { Tensor } from '../tensor/index.js';
import { IdentityNet, cosine, euclidean } from './identity.js';
import type { Image8 } from './metrics.js';
import { HR_SIZE, imagesToTensor, restoreWith, tensorToImages, type Method } from './run.js';

// ---------------------------------------------------------------------------------------------
// Framing of tight face crops into the HR training framing (shared with utk.ts)

/** A training-framed square relative to a tight crop: side and downward centre shift, in crop sides. */
export interface Framing {
  side: number;
  shiftY: number;
}

/** LFW 90x90 crops: measured by dev/measure_lfw_framing.mjs (300 crops, RetinaFace + FACE_TEMPLATE_5). */
export const LFW_FRAMING: Readonly<Framing> = Object.freeze({ side: 1.65, shiftY: -0.028 });

/** The frame of a size x size crop, on the crop's pixel grid (may reach outside it). */
export function framingSquare(cropSize: number, f: Framing): Frame {
  if (!(f.side > 0 && Number.isFinite(f.shiftY)))
    throw new ArgumentError(
      `framing: side must be positive and shiftY finite, received ${JSON.stringify(f)}`,
    );
  const size = Math.max(1, Math.round(f.side * cropSize));
  const x = Math.round(cropSize / 2 - size / 2);
  const y = Math.round(cropSize / 2 + f.shiftY * cropSize - size / 2);
  return { x, y, size, padded: x < 0 || y < 0 || x + size > cropSize || y + size > cropSize };
}

/** A framed face: the out x out HR frame and the square of it the crop covers (what the judge sees). */
export interface FramedFace {
  /** The crop as given. */
  native: Image8;
  /** The frame, area-resized to out x out. */
  hr: Image8;
  /** The crop's area in the out x out frame (clipped to it). */
  region: { x: number; y: number; size: number };
}

/** Frames a square tight crop (an RGB image) and resizes the frame to out x out (area). */
export function frameTightCrop(img: Image8, f: Framing, out = HR_SIZE): FramedFace {
  if (img.channels !== 3 || img.data.length !== img.width * img.height * 3)
    throw new ArgumentError(
      `frameTightCrop: expected an RGB image, received ${img.width}x${img.height}x${img.channels}`,
    );
  const S = Math.min(img.width, img.height);
  const fr = framingSquare(S, f);
  // a non-square crop: its centred square
  const x0 = Math.floor((img.width - S) / 2);
  const y0 = Math.floor((img.height - S) / 2);
  const framed = cropFrame(
    { data: Uint8Array.from(img.data), width: img.width, height: img.height },
    { ...fr, x: fr.x + x0, y: fr.y + y0 },
  );
  const hr8 = resizeSquare(framed, out, 'area');
  const k = out / fr.size;
  let size = Math.round(S * k);
  let rx = Math.round(-fr.x * k);
  let ry = Math.round(-fr.y * k);
  size = Math.min(size, out);
  rx = Math.min(Math.max(rx, 0), out - size);
  ry = Math.min(Math.max(ry, 0), out - size);
  return {
    native: img,
    hr: { data: hr8.data, width: out, height: out, channels: 3 },
    region: { x: rx, y: ry, size },
  };
}

/** A square part of an RGB image. */
export function cropSquare(img: Image8, r: { x: number; y: number; size: number }): Image8 {
  if (r.x < 0 || r.y < 0 || r.x + r.size > img.width || r.y + r.size > img.height)
    throw new ArgumentError(
      `cropSquare: square ${r.size} at (${r.x}, ${r.y}) is outside a ${img.width}x${img.height} image`,
    );
  const out = new Uint8Array(r.size * r.size * 3);
  for (let y = 0; y < r.size; y++) {
    const p = ((r.y + y) * img.width + r.x) * 3;
    out.set(img.data.subarray(p, p + r.size * 3), y * r.size * 3);
  }
  return { data: out, width: r.size, height: r.size, channels: 3 };
}

/**
 * LR from HR frames and each method's output, 8-bit: HR [N] -> degrade -> quantise -> restore ->
 * quantise. Shared by the LFW and UTKFace protocols.
 */
export async function restoreFrames(
  hr: readonly Image8[],
  deg: { degrade(x: Tensor): Promise<{ lr: Tensor }> },
  methods: readonly Method[],
): Promise<{ lr: Image8[]; outputs: Image8[][] }> {
  const hrT = imagesToTensor(hr);
  let lr8: Image8[];
  try {
    const { lr } = await deg.degrade(hrT);
    try {
      lr8 = tensorToImages(lr);
    } finally {
      lr.dispose();
    }
  } finally {
    hrT.dispose();
  }
  const lrT = imagesToTensor(lr8);
  let outputs: Image8[][];
  try {
    outputs = restoreWith(methods, lrT);
  } finally {
    lrT.dispose();
  }
  return { lr: lr8, outputs };
}

// ---------------------------------------------------------------------------------------------
// pairs.txt and the 10-fold protocol

export interface LfwPair {
  /** Image paths relative to `<lfw>/images`. */
  a: string;
  b: string;
  same: boolean;
  /** 0-based fold. */
  fold: number;
}

/** Parses pairs.txt with the data layer's parser (`LfwPairs`); image paths relative to images/. */
export function parsePairs(
  text: string,
  file = 'pairs.txt',
): { pairs: LfwPair[]; folds: number; perFold: number } {
  const p = LfwPairs.parse(text, '', file);
  return {
    pairs: p.pairs.map(({ a, b, same, fold }) => ({ a, b, same, fold })),
    folds: p.folds,
    perFold: p.perFold,
  };
}

/** Reads `<lfw>/pairs.txt`. */
export function readPairs(lfwDir: string): { pairs: LfwPair[]; folds: number; perFold: number } {
  const file = path.join(lfwDir, 'pairs.txt');
  if (!existsSync(file)) throw new ArgumentError(`--lfw: ${file} does not exist (expected LFW's pairs.txt)`);
  return parsePairs(readFileSync(file, 'utf8'), file);
}

/** The first k same and k different pairs of every fold (a smaller run with the 10-fold structure). */
export function subsetPairs(pairs: readonly LfwPair[], k: number): LfwPair[] {
  const count = new Map<string, number>();
  return pairs.filter((p) => {
    const key = `${p.fold}/${p.same}`;
    const c = count.get(key) ?? 0;
    count.set(key, c + 1);
    return c < k;
  });
}

/** The threshold of the highest accuracy for "same when score > threshold" (ties: the lowest). */
export function bestThreshold(
  scores: readonly number[],
  same: readonly boolean[],
): { threshold: number; accuracy: number } {
  const n = scores.length;
  if (n === 0) throw new ArgumentError('bestThreshold: no scores');
  const idx = [...scores.keys()].sort((i, j) => scores[i]! - scores[j]!);
  const totalSame = same.filter(Boolean).length;
  // below all: every pair predicted same
  let best = { threshold: scores[idx[0]!]! - 1, correct: totalSame };
  let sameBelow = 0; // same pairs at or below the candidate
  let diffBelow = 0;
  for (let k = 0; k < n; k++) {
    const i = idx[k]!;
    if (same[i]) sameBelow++;
    else diffBelow++;
    const s = scores[i]!;
    const next = k + 1 < n ? scores[idx[k + 1]!]! : undefined;
    if (next !== undefined && next === s) continue; // not between distinct scores
    const t = next === undefined ? s + 1 : (s + next) / 2;
    const correct = diffBelow + (totalSame - sameBelow);
    if (correct > best.correct) best = { threshold: t, correct };
  }
  return { threshold: best.threshold, accuracy: best.correct / n };
}

export interface TenFold {
  /** Mean of the fold accuracies. */
  accuracy: number;
  /** Sample sd (ddof 1) of the fold accuracies. */
  sd: number;
  /** Standard error sd / sqrt(folds) (LFW's reporting convention). */
  se: number;
  folds: { fold: number; threshold: number; accuracy: number; train_accuracy: number }[];
}

/** k-fold verification accuracy: threshold from the other folds, accuracy on the held-out one. */
export function tenFold(
  scores: readonly number[],
  same: readonly boolean[],
  fold: readonly number[],
): TenFold {
  if (scores.length !== same.length || scores.length !== fold.length)
    throw new ArgumentError(`tenFold: ${scores.length} scores, ${same.length} labels, ${fold.length} folds`);
  if (scores.some((s) => !Number.isFinite(s))) throw new ArgumentError('tenFold: a score is not finite');
  const ids = [...new Set(fold)].sort((a, b) => a - b);
  if (ids.length < 2) throw new ArgumentError(`tenFold: needs at least 2 folds, received ${ids.length}`);
  const folds = ids.map((f) => {
    const tr = [...scores.keys()].filter((i) => fold[i] !== f);
    const te = [...scores.keys()].filter((i) => fold[i] === f);
    const b = bestThreshold(
      tr.map((i) => scores[i]!),
      tr.map((i) => same[i]!),
    );
    const ok = te.filter((i) => scores[i]! > b.threshold === same[i]).length;
    return { fold: f, threshold: b.threshold, accuracy: ok / te.length, train_accuracy: b.accuracy };
  });
  const acc = folds.map((f) => f.accuracy);
  const mean = acc.reduce((s, v) => s + v, 0) / acc.length;
  const sd = Math.sqrt(acc.reduce((s, v) => s + (v - mean) ** 2, 0) / (acc.length - 1));
  return { accuracy: mean, sd, se: sd / Math.sqrt(acc.length), folds };
}

// ---------------------------------------------------------------------------------------------
// The protocol

export interface LfwOptions {
  /** Folder with pairs.txt and images/. */
  lfw: string;
  methods: readonly Method[];
  /** Pairs used (default: all of pairs.txt); e.g. subsetPairs(readPairs(dir).pairs, k). */
  pairs?: readonly LfwPair[];
  degrade?: DegradationPreset;
  seed?: number;
  framing?: Framing;
  /** Images per batch (default 32). */
  batch?: number;
  /** An IdentityNet already loaded (default: loaded here). */
  identity?: IdentityNet;
  onProgress?: (done: number, total: number) => void;
  /**
   * A JSON-lines file the descriptors of each image are appended to after each batch (first line:
   * the protocol). With `resume`, images already there are not measured again.
   */
  progressFile?: string;
  resume?: boolean;
}

export interface LfwCondition {
  name: string;
  /** Which faces were reduced and restored: none, the first of each pair, or both. */
  reduced: 'none' | 'one' | 'both';
  method: string;
  cosine: TenFold;
  euclidean: TenFold;
  /** Mean cosine of same-person and different-person pairs. */
  mean_cosine_same: number;
  mean_cosine_different: number;
}

export interface LfwResult {
  protocol: Record<string, unknown>;
  pairs: number;
  images: number;
  conditions: LfwCondition[];
  /** Per pair (pairs.txt order): labels, folds and the cosine of each condition (for reference checks). */
  scores: { same: boolean[]; fold: number[]; cosine: Record<string, number[]> };
  seconds: number;
}

const b64 = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
function unb64(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

type DescRow = { file: string; d: Record<string, string> };

function readDescProgress(file: string, header: object, images: readonly string[]): DescRow[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length === 0) return [];
  if (JSON.stringify(JSON.parse(lines[0]!)) !== JSON.stringify(header))
    throw new ArgumentError(
      `--resume: ${file} belongs to another LFW run (pairs, methods, degradation, seed or framing differ); delete it or run without --resume`,
    );
  const rows: DescRow[] = [];
  for (const line of lines.slice(1)) {
    let r: DescRow;
    try {
      r = JSON.parse(line) as DescRow;
    } catch {
      break; // cut short by an interruption
    }
    if (r.file !== images[rows.length]) break;
    rows.push(r);
  }
  return rows;
}

/** Descriptors of every image of the pairs under each condition (hr, hr64, each method). */
export async function lfwDescriptors(
  o: LfwOptions,
  images: readonly string[],
  header: object,
): Promise<Map<string, Record<string, Float32Array>>> {
  const framing = o.framing ?? LFW_FRAMING;
  const deg = makeDegradation(o.degrade ?? 'bicubic4', { seed: o.seed ?? 0, range: '-1,1' });
  const batch = o.batch ?? 32;
  const net = o.identity ?? (await IdentityNet.load());
  const rows: DescRow[] = [];
  if (o.progressFile) {
    if (o.resume) rows.push(...readDescProgress(o.progressFile, header, images));
    writeFileSync(o.progressFile, [header, ...rows].map((x) => JSON.stringify(x) + '\n').join(''));
  }
  const start = rows.length;
  if (start > 0) {
    deg.sample(start, [HR_SIZE, HR_SIZE]); // the degradation's generator where the first run left it
  }
  o.onProgress?.(start, images.length); // first call: where this run starts (0, or the resumed count)
  for (let s = start; s < images.length; s += batch) {
    const part = images.slice(s, s + batch);
    const faces = await Promise.all(
      part.map(async (rel) => {
        const file = path.join(o.lfw, 'images', rel);
        if (!existsSync(file))
          throw new ArgumentError(`LFW image ${file} (named by pairs.txt) does not exist`);
        const img = await readImage(file);
        return frameTightCrop(img, framing);
      }),
    );
    const { outputs } = await restoreFrames(
      faces.map((f) => f.hr),
      deg,
      o.methods,
    );
    const conds: [string, Image8[]][] = [
      ['hr', faces.map((f) => f.native)],
      ['hr64', faces.map((f) => cropSquare(f.hr, f.region))],
      ...o.methods.map((m, k): [string, Image8[]] => [
        m.name,
        outputs[k]!.map((x, i) => cropSquare(x, faces[i]!.region)),
      ]),
    ];
    const added = rows.length;
    const descs = await Promise.all(conds.map(([, ims]) => net.descriptors(ims)));
    part.forEach((file, i) => {
      const d: Record<string, string> = {};
      conds.forEach(([name], c) => (d[name] = b64(descs[c]![i]!)));
      rows.push({ file, d });
    });
    if (o.progressFile)
      appendFileSync(
        o.progressFile,
        rows
          .slice(added)
          .map((r) => JSON.stringify(r) + '\n')
          .join(''),
      );
    o.onProgress?.(Math.min(s + batch, images.length), images.length);
  }
  return new Map(
    rows.map((r) => [r.file, Object.fromEntries(Object.entries(r.d).map(([k, v]) => [k, unb64(v)]))]),
  );
}

/** Runs the LFW protocol; methods are not disposed. */
export async function lfwVerify(o: LfwOptions): Promise<LfwResult> {
  const t0 = Date.now();
  const pairs = o.pairs ?? readPairs(o.lfw).pairs;
  if (pairs.length === 0) throw new ArgumentError('lfw: no pairs');
  const names = o.methods.map((m) => m.name);
  for (const n of names)
    if (n === 'hr' || n === 'hr64') throw new ArgumentError(`lfw: a method may not be called '${n}'`);
  const images = [...new Set(pairs.flatMap((p) => [p.a, p.b]))].sort();
  const framing = o.framing ?? LFW_FRAMING;
  const degrade = o.degrade ?? 'bicubic4';
  const seed = o.seed ?? 0;
  const header = {
    kind: 'facesr-eval-lfw-progress/1',
    images: createHash('sha256').update(images.join('\n')).digest('hex'),
    degrade,
    seed,
    framing,
    methods: o.methods.map((m) => [m.name, m.description]),
  };
  const desc = await lfwDescriptors(o, images, header);
  const same = pairs.map((p) => p.same);
  const fold = pairs.map((p) => p.fold);
  const cosines: Record<string, number[]> = {};
  const condition = (
    name: string,
    reduced: LfwCondition['reduced'],
    method: string,
    ka: string,
    kb: string,
  ) => {
    const cos = pairs.map((p) => cosine(desc.get(p.a)![ka]!, desc.get(p.b)![kb]!));
    const dist = pairs.map((p) => -euclidean(desc.get(p.a)![ka]!, desc.get(p.b)![kb]!));
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
    const eu = tenFold(dist, same, fold);
    cosines[name] = cos;
    return {
      name,
      reduced,
      method,
      cosine: tenFold(cos, same, fold),
      // thresholds back in distance units: same when distance < threshold
      euclidean: { ...eu, folds: eu.folds.map((f) => ({ ...f, threshold: -f.threshold })) },
      mean_cosine_same: mean(cos.filter((_, i) => same[i])),
      mean_cosine_different: mean(cos.filter((_, i) => !same[i])),
    };
  };
  const conditions: LfwCondition[] = [
    condition('hr', 'none', 'hr', 'hr', 'hr'),
    condition('hr64', 'none', 'hr64', 'hr64', 'hr64'),
  ];
  for (const m of names) {
    conditions.push(condition(`${m}/one`, 'one', m, m, 'hr'));
    conditions.push(condition(`${m}/both`, 'both', m, m, m));
  }
  const S = framingSquare(90, framing);
  const protocol = {
    data: `${o.lfw}: pairs.txt (${pairs.length} pairs over ${new Set(fold).size} folds), ${images.length} images`,
    framing: `frame = square of ${framing.side} x the crop's side, centred ${framing.shiftY} sides below the crop's centre (for a 90x90 crop: ${S.size} px at (${S.x}, ${S.y})), edge-replicated outside the crop, area-resized to ${HR_SIZE}x${HR_SIZE}; measured by dev/measure_lfw_framing.mjs to match the HR training framing`,
    degradation: degrade,
    seed,
    lr: `${HR_SIZE / 4}x${HR_SIZE / 4}, 8-bit`,
    judged: `face-api faceRecognitionNet 128-d descriptors; hr: the crop as given; hr64 and methods: the crop's own square of the ${HR_SIZE}x${HR_SIZE} frame`,
    conditions:
      'hr: both faces as given; hr64: both at the 64x64 frame resolution; <method>/one: first face of each pair restored, second as given; <method>/both: both restored',
    accuracy:
      'same when cosine > t (or distance < t); t maximises accuracy on the other folds (midpoints of distinct scores, lowest on ties); mean, sample sd and standard error (sd/sqrt(folds)) of the fold accuracies',
  };
  return {
    protocol,
    pairs: pairs.length,
    images: images.length,
    conditions,
    scores: { same, fold, cosine: cosines },
    seconds: (Date.now() - t0) / 1000,
  };
}

/** The Markdown table: accuracy (%) mean ± sd over folds, per condition. */
export function lfwMarkdown(r: LfwResult): string {
  const pct = (t: TenFold) => `${(100 * t.accuracy).toFixed(2)} ± ${(100 * t.sd).toFixed(2)}`;
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const lines = [
    `LFW verification, ${r.pairs} pairs, ${r.conditions[0]?.cosine.folds.length ?? 0} folds (accuracy % mean ± sd over folds)`,
    '',
    '| condition | reduced | accuracy, cosine | accuracy, Euclidean | mean threshold (cosine) | mean cosine same / different |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const c of r.conditions)
    lines.push(
      `| ${c.name} | ${c.reduced} | ${pct(c.cosine)} | ${pct(c.euclidean)} | ${mean(c.cosine.folds.map((f) => f.threshold)).toFixed(3)} | ${c.mean_cosine_same.toFixed(3)} / ${c.mean_cosine_different.toFixed(3)} |`,
    );
  return lines.join('\n') + '\n';
}
