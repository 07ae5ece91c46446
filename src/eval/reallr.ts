// The real-LR protocol of `facesr eval --lr` (method.md section 5): real low-resolution faces have
// no HR, so each method's 64x64 output is scored by no-reference measures and by a face detector.
//
// - faces: a harvest folder (`facesr data harvest`: manifest.jsonl + lr16/), a folder of such
//   folders (each a set, e.g. wider, cmu_mit, photos), or a plain folder of face images (each
//   taken as its centred square, area-resized to 16x16 when it is not 16x16 already);
// - methods as in run.ts (bicubic, the shipped model, model files); outputs quantised to 8 bits;
// - per face and method: NIQE (niqe.ts, 32x32 blocks on the 64x64 output: see there why this is not
//   the standard 96x96 NIQE), BRISQUE (brisque.ts, OpenCV's LIVE model), and whether an independent
//   detector finds the face in the output;
// - detection: face-api's SSD MobileNet v1 (not RetinaFace: RetinaFace is the pipeline's detector
//   and found the harvested photo faces in the first place; the WIDER and CMU+MIT faces come from
//   ground-truth boxes, so the SSD found none of the faces it is asked about). Outputs are laid out
//   16 to a 512x512 canvas (the SSD's input size, so a 64x64 output is seen at its own size), each
//   in a 128x128 cell on mid-grey; a face counts as detected when a detection (score >= 0.5)
//   overlaps the face's box in that output at IoU >= 0.3. The box is the harvest box mapped into
//   the frame, or for plain images the square of 1/1.2 of the side in the training framing.
// - summary per method (and per set): mean, 95% Student-t interval and count; the detection rate
//   is the mean of 0/1 (normal approximation); the paired difference to bicubic per face.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError, FormatError } from '../core/errors.js';
import { BOX_FRAMING, iou, type Box, type Detector } from '../data/faces.js';
import { FaceApiSsdDetector } from '../infer/detectors.js';
import { brisque, loadBrisqueModel, type BrisqueModel } from './brisque.js';
import type { Image8 } from './metrics.js';
import { loadNiqeModel, niqe, type NiqeModel } from './niqe.js';
import { appendProgress, readProgress, startProgress } from './progress.js';
import {
  HR_SIZE,
  SCALE,
  imagesToTensor,
  listImages,
  loadHr,
  restoreWith,
  spread,
  type Method,
} from './run.js';
import { summarize, type Summary } from './stats.js';

const LR_SIZE = HR_SIZE / SCALE;

/** A real LR face: its file, set, and the face box expected in a restored (HR_SIZE) output. */
export interface LrFace {
  file: string;
  set: string;
  /** [x1, y1, x2, y2] in the 64x64 output. */
  box: Box;
  /** How the face was found (harvest manifest 'origin'), when known. */
  origin?: string;
}

interface ManifestLine {
  id?: string;
  box?: number[];
  frame?: { x: number; y: number; size: number };
  origin?: string;
  files?: Record<string, string>;
}

/** The face box of a plain face image in the training framing (BOX_FRAMING), in output pixels. */
function framedBox(size = HR_SIZE): Box {
  const side = size / BOX_FRAMING.scale;
  const cy = size / 2 - BOX_FRAMING.shiftY * side;
  return [size / 2 - side / 2, cy - side / 2, size / 2 + side / 2, cy + side / 2];
}

function readManifest(dir: string, set: string): LrFace[] {
  const file = path.join(dir, 'manifest.jsonl');
  const out: LrFace[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let r: ManifestLine;
      try {
        r = JSON.parse(line) as ManifestLine;
      } catch (err) {
        throw new FormatError(`${file} line ${i + 1}: not JSON: ${(err as Error).message}`, { cause: err });
      }
      const lr = r.files?.lr16;
      if (!lr)
        throw new FormatError(`${file} line ${i + 1}: no files.lr16 (harvest with --sizes including 16)`);
      let box = framedBox();
      if (r.box && r.frame && r.frame.size > 0) {
        const s = HR_SIZE / r.frame.size;
        const [x1, y1, x2, y2] = r.box as [number, number, number, number];
        box = [(x1 - r.frame.x) * s, (y1 - r.frame.y) * s, (x2 - r.frame.x) * s, (y2 - r.frame.y) * s];
      }
      out.push({ file: path.join(dir, lr), set, box, ...(r.origin ? { origin: r.origin } : {}) });
    });
  return out;
}

/** The faces of --lr DIR: a harvest folder, a folder of harvest folders, or a folder of images. */
export function listLrFaces(dir: string): LrFace[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ArgumentError(`--lr: ${dir} is not a folder`);
  const name = path.basename(path.resolve(dir));
  if (existsSync(path.join(dir, 'manifest.jsonl'))) return readManifest(dir, name);
  const subs = readdirSync(dir)
    .sort()
    .filter((d) => existsSync(path.join(dir, d, 'manifest.jsonl')));
  if (subs.length) return subs.flatMap((d) => readManifest(path.join(dir, d), d));
  const files = listImages(dir, '--lr');
  if (files.length === 0)
    throw new ArgumentError(`--lr: ${dir} holds no images and no harvest (manifest.jsonl) folders`);
  return files.map((file) => ({ file, set: name, box: framedBox() }));
}

/** Lays out up to 16 64x64 outputs on a 512x512 mid-grey canvas and asks the detector which it finds. */
export async function detectFaces(
  detector: Detector,
  images: readonly Image8[],
  boxes: readonly Box[],
  minIou = 0.3,
): Promise<number[]> {
  const CANVAS = 512;
  const CELL = 128;
  const per = CANVAS / CELL;
  const found: number[] = [];
  for (let s = 0; s < images.length; s += per * per) {
    const part = images.slice(s, s + per * per);
    const data = new Uint8Array(CANVAS * CANVAS * 3).fill(128);
    const origin = part.map((img, k) => {
      if (img.channels !== 3 || img.width > CELL || img.height > CELL)
        throw new ArgumentError(`detectFaces: expected RGB images up to ${CELL}x${CELL}`);
      const ox = (k % per) * CELL + Math.floor((CELL - img.width) / 2);
      const oy = Math.floor(k / per) * CELL + Math.floor((CELL - img.height) / 2);
      for (let y = 0; y < img.height; y++)
        data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((oy + y) * CANVAS + ox) * 3);
      return [ox, oy] as const;
    });
    const faces = await detector.detect({ data, width: CANVAS, height: CANVAS });
    part.forEach((_, k) => {
      const [ox, oy] = origin[k]!;
      const b = boxes[s + k]!;
      const want: Box = [b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy];
      found.push(faces.some((f) => iou(f.box, want) >= minIou) ? 1 : 0);
    });
  }
  return found;
}

export interface LrEvalOptions {
  faces: readonly LrFace[];
  methods: readonly Method[];
  /** NIQE pristine model (default: found by loadNiqeModel()). */
  niqeModel?: NiqeModel;
  /** NIQE block side on the 64x64 outputs (default 32). */
  niqeBlock?: number;
  brisqueModel?: BrisqueModel;
  /** The detector for the detection rate (default face-api's SSD); null skips detection. */
  detector?: Detector | null;
  batch?: number;
  gridFaces?: number;
  onProgress?: (done: number, total: number) => void;
  progressFile?: string;
  resume?: boolean;
}

export interface LrFaceScores {
  niqe: number;
  brisque: number;
  /** 1 when the detector found the face in this output, else 0. */
  detected?: number;
}

export interface LrSummary {
  faces: number;
  niqe: Summary;
  brisque: Summary;
  detection_rate?: Summary;
}

export interface LrMethodResult extends LrSummary {
  name: string;
  description: string;
  /** Per set (harvest folder), when there is more than one. */
  sets?: Record<string, LrSummary>;
  vs_bicubic?: Record<string, Summary>;
}

export interface LrEvalResult {
  protocol: Record<string, unknown>;
  methods: LrMethodResult[];
  faces: { file: string; set: string; scores: Record<string, LrFaceScores> }[];
  grid: { file: string; lr: Image8; outputs: Image8[] }[];
  seconds: number;
}

const LR_METRICS = ['niqe', 'brisque', 'detected'] as const;

/** Runs the real-LR protocol; methods are not disposed. */
export async function evaluateLr(o: LrEvalOptions): Promise<LrEvalResult> {
  const t0 = Date.now();
  if (o.faces.length === 0) throw new ArgumentError('eval --lr: no faces to evaluate');
  if (o.methods.length === 0) throw new ArgumentError('eval: no methods');
  const batch = o.batch ?? 64;
  const block = o.niqeBlock ?? 32;
  const niqeModel = o.niqeModel ?? loadNiqeModel();
  const brisqueModel = o.brisqueModel ?? loadBrisqueModel();
  const detector = o.detector === undefined ? new FaceApiSsdDetector({ tileSizes: [] }) : o.detector;
  if (detector && detector.name === 'retinaface') {
    const own = o.faces.filter((f) => f.origin === 'retinaface').length;
    if (own)
      throw new ArgumentError(
        `eval --lr: ${own} of the faces were found by RetinaFace (manifest origin), so RetinaFace is not an independent judge of them; use the SSD`,
      );
  }
  const files = o.faces.map((f) => f.file);
  const header = {
    kind: 'facesr-eval-lr-progress/1',
    faces: createHash('sha256').update(files.join('\n')).digest('hex'),
    methods: o.methods.map((m) => [m.name, m.description]),
    niqe: [niqeModel.file, block],
    brisque: brisqueModel.files.model,
    detector: detector?.name ?? null,
  };
  const faces: LrEvalResult['faces'] = [];
  if (o.progressFile) {
    if (o.resume) faces.push(...readProgress<LrEvalResult['faces'][number]>(o.progressFile, header, files));
    startProgress(o.progressFile, header, faces);
  }
  const start = faces.length;
  if (start > 0) o.onProgress?.(start, files.length);
  const gridIdx = new Set(spread([...files.keys()], o.gridFaces ?? 8));
  const grid: LrEvalResult['grid'] = [];
  for (let s = start; s < files.length; s += batch) {
    const part = o.faces.slice(s, s + batch);
    const lr = await Promise.all(part.map((f) => loadHr(f.file, LR_SIZE)));
    const lrT = imagesToTensor(lr);
    let outs: Image8[][];
    try {
      outs = restoreWith(o.methods, lrT);
    } finally {
      lrT.dispose();
    }
    const det: number[][] = [];
    if (detector)
      for (const out of outs)
        det.push(
          await detectFaces(
            detector,
            out,
            part.map((f) => f.box),
          ),
        );
    const added = faces.length;
    part.forEach((f, i) => {
      const scores: Record<string, LrFaceScores> = {};
      o.methods.forEach((m, k) => {
        const img = outs[k]![i]!;
        const q: LrFaceScores = {
          niqe: niqe(img, niqeModel, { blockSize: block }),
          brisque: brisque(img, brisqueModel),
        };
        if (detector) q.detected = det[k]![i]!;
        scores[m.name] = q;
      });
      faces.push({ file: f.file, set: f.set, scores });
      if (gridIdx.has(s + i)) grid.push({ file: f.file, lr: lr[i]!, outputs: outs.map((x) => x[i]!) });
    });
    if (o.progressFile) appendProgress(o.progressFile, faces.slice(added));
    o.onProgress?.(Math.min(s + batch, files.length), files.length);
  }
  const sets = [...new Set(faces.map((f) => f.set))];
  const summary = (name: string, list: typeof faces): LrSummary => {
    const col = (k: (typeof LR_METRICS)[number]) => list.map((f) => f.scores[name]![k]!);
    // NIQE is NaN for a flat output (no AGGD fit): such faces are left out of its mean
    const r: LrSummary = {
      faces: list.length,
      niqe: summarize(col('niqe').filter((v) => !Number.isNaN(v))),
      brisque: summarize(col('brisque').filter((v) => !Number.isNaN(v))),
    };
    if (detector) r.detection_rate = summarize(col('detected'));
    return r;
  };
  const methods: LrMethodResult[] = o.methods.map((m) => {
    const r: LrMethodResult = { name: m.name, description: m.description, ...summary(m.name, faces) };
    if (sets.length > 1)
      r.sets = Object.fromEntries(
        sets.map((set) => [
          set,
          summary(
            m.name,
            faces.filter((f) => f.set === set),
          ),
        ]),
      );
    if (m.name !== 'bicubic' && o.methods.some((x) => x.name === 'bicubic')) {
      r.vs_bicubic = {};
      for (const k of LR_METRICS) {
        if (k === 'detected' && !detector) continue;
        const d = faces
          .map((f) => f.scores[m.name]![k]! - f.scores.bicubic![k]!)
          .filter((v) => !Number.isNaN(v));
        r.vs_bicubic[k === 'detected' ? 'detection_rate' : k] = summarize(d);
      }
    }
    return r;
  });
  const protocol = {
    lr: `real low-resolution faces, ${LR_SIZE}x${LR_SIZE} (harvest lr16, or each image's centred square, area resize); no HR exists`,
    sets: sets.join(', '),
    outputs: `${HR_SIZE}x${HR_SIZE}, quantised to 8 bits before scoring`,
    niqe: `NIQE (BasicSR/MATLAB conventions: Y channel, rounded, standard pristine model ${path.basename(niqeModel.file)}) with ${block}x${block} blocks on the ${HR_SIZE}x${HR_SIZE} output (standard NIQE uses 96x96 blocks, larger than these faces): values compare methods here, not with published NIQE; lower is more natural`,
    brisque: "BRISQUE as OpenCV's quality module computes it, LIVE model of opencv-data (0 best, 100 worst)",
    detection_rate: detector
      ? `share of faces ${detector.name === 'ssd' ? "face-api's SSD MobileNet v1 (score >= 0.5)" : detector.name} finds in each output, shown at its own size 16 to a 512x512 mid-grey canvas, IoU >= 0.3 with the face's box in the frame; not the detector that found the faces (ground-truth boxes for WIDER and CMU+MIT, RetinaFace for harvested photos)`
      : 'not computed',
    interval:
      '95% Student-t confidence interval of the mean over faces (mean -/+ t(0.975, n-1) sd / sqrt(n)); for the detection rate the same on 0/1 values',
    vs_bicubic: 'paired per-face difference (method - bicubic), same interval',
  };
  return { protocol, methods, faces, grid, seconds: (Date.now() - t0) / 1000 };
}
