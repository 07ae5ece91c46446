// facesr data <subcommand>: turning photos into training data.
//   harvest: find faces in real photos (or take them from a box file), cut each at native
//   resolution in the HR training framing, write low-resolution crops and a manifest.
import { parseArgs } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { ArgumentError, FacesrError, FormatError } from '../core/errors.js';
import { writeFileAtomic } from '../io/index.js';
import { readImage, writeImage, DEFAULT_PIXEL_LIMIT } from '../data/image.js';
import { expandInputs, runBatch } from '../data/files.js';
import {
  type Box,
  type Detector,
  type Face,
  type Frame,
  type FrameOptions,
  type Point,
  boxSide,
  frameBox,
  frameCrops,
  frameLandmarks,
} from '../data/faces.js';

export const DATA_HELP = `Usage: facesr data <subcommand> [options]

Subcommands:
  harvest   cut real low-resolution faces out of photos into a training set

Run 'facesr data harvest --help' for its options.`;

export const HARVEST_HELP = `Usage: facesr data harvest <photos|folders...> --out DIR [options]

Finds the faces in real photos (or takes them from a box file), cuts each in the framing of the HR
training crops (a square about 1.2x the face box, forehead to chin in the middle 75%) at the
photo's own resolution, and writes for each face:
  DIR/native/<id>.png   the crop at native resolution
  DIR/lr16/<id>.png     resized to 16x16 (area average; enlarged bicubic if the crop is smaller)
  DIR/lr32/<id>.png     resized to 32x32
and DIR/manifest.jsonl, one JSON line per face: source, box, score, landmarks, native size, frame,
files. Folders are walked for images (recognised by content). Bad files are reported and skipped.

Options:
  --out DIR                 output folder (created; must not hold a harvest unless --overwrite)
  --boxes FILE              take faces from a JSON box file instead of a detector, keyed by file
                            name: {"x.jpg": {"boxes_xywh": [[x, y, w, h], ...]}} (WIDER FACE style)
                            or {"boxes_x1y1x2y2": [...]} (CMU style); optional "landmarks6"
                            (eyes, nose, mouth left/centre/right) or "landmarks5" frame by landmarks
  --detector NAME           retinaface (default) or ssd (face-api SSD MobileNet v1, weights in npm)
  --detector-weights PATH   RetinaFace weights (e.g. ../shared/models/retinaface_mnet025.safetensors)
  --score T                 detector score threshold (default 0.5)
  --min-size N              skip faces whose box is under N pixels on its long side (default 8)
  --sizes LIST              low-resolution sizes (default 16,32)
  --frame-scale S           square side / box long side (default 1.2, measured; see docs/detectors.md)
  --pixel-limit N           largest photo accepted in pixels (default ${DEFAULT_PIXEL_LIMIT})
  --overwrite               replace an earlier harvest in DIR
  --quiet                   no progress line

Exit status: 0 when at least one face was written, 1 otherwise.`;

/** One face in manifest.jsonl. */
export interface ManifestEntry {
  id: string;
  source: string;
  image: { width: number; height: number; grayscale: boolean };
  box: Box;
  score: number;
  landmarks: Point[] | null;
  /** Box long side in photo pixels. */
  faceSize: number;
  /** The square cut from the photo (native resolution; may reach outside, then edge-padded). */
  frame: Frame & { method: 'box' | 'landmarks' };
  nativeSize: number;
  /** Where the faces came from: a detector name or 'boxes:<file>'. */
  origin: string;
  /** Files relative to the output folder, by kind: native, lr16, lr32, ... */
  files: Record<string, string>;
  /** Sizes that were enlarged from a smaller native crop. */
  upsampled: number[];
}

interface BoxEntry {
  faces: Face[];
}

/** Reads a WIDER-style (boxes_xywh) or CMU-style (boxes_x1y1x2y2) box file. */
export async function readBoxFile(file: string): Promise<Map<string, BoxEntry>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new FormatError(`${file}: cannot read the box file (${(err as Error).message})`, { cause: err });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new FormatError(`${file}: expected a JSON object keyed by image file name`);
  const out = new Map<string, BoxEntry>();
  const nums = (v: unknown, n: number, where: string): number[] => {
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
      throw new FormatError(`${file}: ${where}: expected ${n} numbers but received ${JSON.stringify(v)}`);
    return v as number[];
  };
  for (const [name, e] of Object.entries(raw as Record<string, unknown>)) {
    const entry = e as Record<string, unknown>;
    let boxes: Box[];
    if (entry && Array.isArray(entry.boxes_xywh)) {
      boxes = entry.boxes_xywh.map((b, i) => {
        const [x, y, w, h] = nums(b, 4, `'${name}' boxes_xywh[${i}]`) as [number, number, number, number];
        return [x, y, x + w, y + h];
      });
    } else if (entry && Array.isArray(entry.boxes_x1y1x2y2)) {
      boxes = entry.boxes_x1y1x2y2.map((b, i) => nums(b, 4, `'${name}' boxes_x1y1x2y2[${i}]`) as Box);
    } else {
      throw new FormatError(`${file}: '${name}' has neither boxes_xywh nor boxes_x1y1x2y2`);
    }
    let lms: (Point[] | undefined)[] = boxes.map(() => undefined);
    const l6 = entry.landmarks6;
    const l5 = entry.landmarks5;
    if (Array.isArray(l6) || Array.isArray(l5)) {
      const list = (l6 ?? l5) as unknown[];
      const k = l6 ? 6 : 5;
      if (list.length !== boxes.length)
        throw new FormatError(
          `${file}: '${name}' has ${boxes.length} boxes but ${list.length} landmark sets`,
        );
      lms = list.map((v, i) => {
        const p = nums(v, 2 * k, `'${name}' landmarks${k}[${i}]`);
        const pts = Array.from({ length: k }, (_, j) => [p[2 * j]!, p[2 * j + 1]!] as Point);
        // 6 points: eyes, nose, mouth left, centre, right -> the 5 of the template.
        return k === 6 ? [pts[0]!, pts[1]!, pts[2]!, pts[3]!, pts[5]!] : pts;
      });
    }
    out.set(name, {
      faces: boxes.map((box, i) => ({ box, score: 1, ...(lms[i] ? { landmarks: lms[i] } : {}) })),
    });
  }
  return out;
}

const SUBDIR = (size: number | 'native') => (size === 'native' ? 'native' : `lr${size}`);

/** Buckets of the face size (box long side) used in reports. */
export const SIZE_BUCKETS: [string, number, number][] = [
  ['<10', 0, 10],
  ['10-16', 10, 16],
  ['16-24', 16, 24],
  ['24-32', 24, 32],
  ['32-64', 32, 64],
  ['>=64', 64, Infinity],
];

function parsePositive(v: string | undefined, name: string, int: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isFinite(n) && n >= 0 && (!int || Number.isInteger(n))))
    throw new ArgumentError(
      `Expected ${int ? 'non-negative integer' : 'non-negative number'} for ${name} but received '${v}'`,
    );
  return n;
}

export async function harvest(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      boxes: { type: 'string' },
      detector: { type: 'string' },
      'detector-weights': { type: 'string' },
      score: { type: 'string' },
      'min-size': { type: 'string' },
      sizes: { type: 'string' },
      'frame-scale': { type: 'string' },
      'pixel-limit': { type: 'string' },
      overwrite: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HARVEST_HELP);
    return 0;
  }
  if (!values.out) throw new ArgumentError('harvest: give the output folder with --out DIR');
  if (positionals.length === 0) throw new ArgumentError('harvest: give photos or folders to harvest');
  const out = values.out;
  const score = parsePositive(values.score, '--score', false) ?? 0.5;
  if (score > 1)
    throw new ArgumentError(`Expected number in [0, 1] for --score but received '${values.score}'`);
  const minSize = parsePositive(values['min-size'], '--min-size', false) ?? 8;
  const pixelLimit = parsePositive(values['pixel-limit'], '--pixel-limit', true) ?? DEFAULT_PIXEL_LIMIT;
  const frameScale = parsePositive(values['frame-scale'], '--frame-scale', false);
  if (frameScale === 0)
    throw new ArgumentError("Expected positive number for --frame-scale but received '0'");
  const sizes = (values.sizes ?? '16,32').split(',').map((s) => {
    const n = Number(s);
    if (!(Number.isInteger(n) && n >= 1 && n <= 4096))
      throw new ArgumentError(`Expected integers in [1, 4096] for --sizes but received '${values.sizes}'`);
    return n;
  });

  // Refuse to mix with an earlier harvest.
  const manifestPath = path.join(out, 'manifest.jsonl');
  const ours = [...sizes.map(SUBDIR), SUBDIR('native')].map((d) => path.join(out, d));
  const existing = ours.flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => path.join(d, f)) : []));
  if (existsSync(manifestPath) || existing.length > 0) {
    if (!values.overwrite)
      throw new FacesrError(
        `${out} already holds a harvest (${existsSync(manifestPath) ? 'manifest.jsonl' : ''}${existsSync(manifestPath) && existing.length ? ', ' : ''}${existing.length ? `${existing.length} files in ${ours.map((d) => path.basename(d)).join('/')}` : ''}); give --overwrite to replace it`,
      );
    await rm(manifestPath, { force: true });
    for (const f of existing) if (f.endsWith('.png')) await rm(f, { force: true });
  }

  // Where faces come from.
  let boxes: Map<string, BoxEntry> | null = null;
  let detector: Detector | null = null;
  let origin: string;
  if (values.boxes) {
    boxes = await readBoxFile(values.boxes);
    origin = `boxes:${path.basename(values.boxes)}`;
    if (values.detector)
      console.error(`facesr: --boxes given: faces come from ${values.boxes}, not the detector`);
  } else {
    const { createDetector } = await import('../infer/detectors.js');
    detector = createDetector(values.detector ?? 'retinaface', {
      weights: values['detector-weights'],
      scoreThreshold: score,
    });
    origin = detector.name;
  }

  const { files, problems } = await expandInputs(positionals);
  for (const d of [out, ...ours]) await mkdir(d, { recursive: true });
  const entries: ManifestEntry[] = [];
  const usedStems = new Map<string, string>();
  const quiet = values.quiet || false;
  const tty = process.stderr.isTTY;
  let skippedSmall = 0;

  const work = async (file: string): Promise<number> => {
    let faces: Face[];
    const key = path.basename(file);
    let entry: BoxEntry | undefined;
    if (boxes) {
      entry = boxes.get(key) ?? boxes.get(file) ?? boxes.get(path.relative(process.cwd(), file));
      if (!entry) throw new FacesrError(`${file}: no entry for '${key}' in the box file ${values.boxes}`);
    }
    const img = await readImage(file, { pixelLimit });
    if (entry) faces = entry.faces;
    else faces = await detector!.detect(img);
    let stem = path.basename(file).replace(/\.[^.]*$/, '') || 'image';
    stem = stem.replace(/[^A-Za-z0-9._-]+/g, '_');
    // Two sources with the same name get different ids.
    let unique = stem;
    for (let k = 2; usedStems.has(unique) && usedStems.get(unique) !== file; k++) unique = `${stem}-${k}`;
    usedStems.set(unique, file);
    const framing: FrameOptions = {
      ...(detector?.framing ?? {}),
      ...(frameScale ? { scale: frameScale } : {}),
    };
    let n = 0;
    for (const [i, f] of faces.entries()) {
      const side = boxSide(f.box);
      if (side < minSize || !(f.box[2] > f.box[0] && f.box[3] > f.box[1])) {
        skippedSmall++;
        continue;
      }
      // Hand-placed landmarks frame best (box files); detector faces are framed by their box,
      // which is steadier than landmarks on faces of a few pixels.
      const byLandmarks = Boolean(entry && f.landmarks && !frameScale);
      const frame = byLandmarks
        ? frameLandmarks(f.landmarks!, img.width, img.height)
        : frameBox(f.box, img.width, img.height, framing);
      const id = `${unique}_${String(i).padStart(3, '0')}`;
      const { native, resized } = frameCrops(img, frame, sizes);
      const gray = img.info.isGrayscale;
      const filesOut: Record<string, string> = { native: path.join('native', `${id}.png`) };
      await writeImage(path.join(out, filesOut.native!), { ...native, channels: 3 }, { grayscale: gray });
      for (const [s, im] of resized) {
        filesOut[SUBDIR(s)] = path.join(SUBDIR(s), `${id}.png`);
        await writeImage(path.join(out, filesOut[SUBDIR(s)]!), { ...im, channels: 3 }, { grayscale: gray });
      }
      entries.push({
        id,
        source: file,
        image: { width: img.width, height: img.height, grayscale: gray },
        box: f.box.map((v) => Math.round(v * 100) / 100) as Box,
        score: Math.round(f.score * 1e4) / 1e4,
        landmarks: f.landmarks
          ? f.landmarks.map(([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100] as Point)
          : null,
        faceSize: Math.round(side * 100) / 100,
        frame: { ...frame, method: byLandmarks ? 'landmarks' : 'box' },
        nativeSize: frame.size,
        origin,
        files: filesOut,
        upsampled: sizes.filter((s) => frame.size < s),
      });
      n++;
    }
    return n;
  };

  let total = 0;
  const { failures } = await runBatch(files, work, {
    onProgress: (p) => {
      if (quiet) return;
      const line = `[${p.done}/${p.total}] ${path.basename(p.file)}: ${p.ok ? 'ok' : 'FAILED'} (${entries.length} faces so far)`;
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else process.stderr.write(`${line}\n`);
    },
  }).finally(() => detector?.dispose?.());
  if (tty && !quiet && files.length) process.stderr.write('\n');
  total = entries.length;
  if (total > 0) await writeFileAtomic(manifestPath, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');

  // Report.
  const counts = SIZE_BUCKETS.map(([name, lo, hi]) => ({
    name,
    n: entries.filter((e) => e.faceSize >= lo && e.faceSize < hi).length,
  }));
  console.log(
    `harvested ${total} faces from ${files.length - failures.length} of ${files.length} photos into ${out}` +
      (skippedSmall ? ` (${skippedSmall} faces under --min-size ${minSize} px skipped)` : ''),
  );
  console.log(`by face size (box long side, px): ${counts.map((c) => `${c.name}: ${c.n}`).join(', ')}`);
  const bad = [...problems.map((p) => ({ file: p.path, error: p.reason })), ...failures];
  if (bad.length) {
    console.error(`${bad.length} input(s) failed:`);
    for (const b of bad)
      console.error(
        `  ${b.file}: ${b.error.startsWith(`${b.file}: `) ? b.error.slice(b.file.length + 2) : b.error}`,
      );
  }
  return total > 0 ? 0 : 1;
}

/** `facesr data ...` */
export async function dataCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    console.log(DATA_HELP);
    return sub ? 0 : 1;
  }
  switch (sub) {
    case 'harvest':
      return harvest(rest);
    default:
      console.error(`facesr data: unknown subcommand '${sub}'. Subcommands: harvest.`);
      return 2;
  }
}
