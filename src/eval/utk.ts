// Identity similarity of restored faces broken down by age bucket, gender and race, on UTKFace
// (../shared/data/eval/utkface: 128x128 aligned chips named `<age>_<gender>_<race>_<date>.webp`,
// gender 0 male / 1 female, race 0 white / 1 black / 2 asian / 3 indian / 4 other).
//
// - Framing: the chips are tighter than the HR training framing; RetinaFace on 200 of them
//   (dev/measure_lfw_framing.mjs --dir) puts the training-framed square at 1.45x the chip's side
//   (median 1.46, sd 0.11), centred 0.14 sides above the chip's centre; outside the chip it is
//   filled by edge replication (lfw.ts frameTightCrop). It is area-resized to 64x64 (HR), reduced to
//   16x16 by the degradation, restored by each method.
// - Score per face and method: cosine of face-api's 128-d descriptors of the restored face vs the
//   HR face, both cut to the chip's own square of the 64x64 frame (the replicated border is never
//   judged); as in run.ts, restored vs HR at the same resolution.
// - Summary per group (all, each age bucket, gender, race) and method: mean with the 95% Student-t
//   interval (stats.ts summarize), and the paired difference to bicubic when bicubic is a method.
import { utkfaceLabels } from '../data/datasets.js';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError } from '../core/errors.js';
import { makeDegradation, readImage, type DegradationPreset } from '../data/index.js';
import { IdentityNet, cosine } from './identity.js';
import { cropSquare, frameTightCrop, restoreFrames, type Framing } from './lfw.js';
import { HR_SIZE, type Method } from './run.js';
import { summarize, type Summary } from './stats.js';

/** UTKFace chips: measured by dev/measure_lfw_framing.mjs --dir ../shared/data/eval/utkface --n 200. */
export const UTK_FRAMING: Readonly<Framing> = Object.freeze({ side: 1.45, shiftY: -0.14 });

export const AGE_BUCKETS = [
  '0-2',
  '3-9',
  '10-19',
  '20-29',
  '30-39',
  '40-49',
  '50-59',
  '60-69',
  '70+',
] as const;
export const GENDERS = ['male', 'female'] as const;
export const RACES = ['white', 'black', 'asian', 'indian', 'other'] as const;

export interface UtkLabel {
  age: number;
  age_bucket: (typeof AGE_BUCKETS)[number];
  gender: (typeof GENDERS)[number];
  race: (typeof RACES)[number];
}

export function ageBucket(age: number): UtkLabel['age_bucket'] {
  if (age <= 2) return '0-2';
  if (age <= 9) return '3-9';
  if (age >= 70) return '70+';
  return AGE_BUCKETS[Math.floor(age / 10) + 1]!;
}

/** Labels from a UTKFace file name `<age>_<gender>_<race>_<date>.<ext>` (the data layer's parser). */
export function parseUtkName(file: string): UtkLabel {
  const { age, gender, race } = utkfaceLabels(file);
  return { age, age_bucket: ageBucket(age), gender, race };
}

/** The UTKFace image files of a folder, sorted; throws naming the first file whose name has no labels. */
export function listUtk(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ArgumentError(`--utk: ${dir} is not a folder`);
  const files = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .map((f) => path.join(dir, f));
  for (const f of files) parseUtkName(f);
  return files;
}

export interface UtkOptions {
  files: readonly string[];
  methods: readonly Method[];
  degrade?: DegradationPreset;
  seed?: number;
  framing?: Framing;
  /** Faces per batch (default 32). */
  batch?: number;
  identity?: IdentityNet;
  onProgress?: (done: number, total: number) => void;
  /** JSON-lines file of per-face scores, appended after each batch; with resume, continued. */
  progressFile?: string;
  resume?: boolean;
}

export interface UtkFace extends UtkLabel {
  file: string;
  /** Identity cosine per method. */
  cosine: Record<string, number>;
}

export interface UtkGroup {
  /** e.g. 'all', 'age 20-29', 'gender female', 'race asian'. */
  group: string;
  faces: number;
  /** Per method: identity cosine summary. */
  methods: Record<string, Summary>;
  /** Per method (not bicubic): paired difference to bicubic. */
  vs_bicubic?: Record<string, Summary>;
}

export interface UtkResult {
  protocol: Record<string, unknown>;
  methods: { name: string; description: string }[];
  groups: UtkGroup[];
  faces: UtkFace[];
  seconds: number;
}

function readUtkProgress(file: string, header: object, files: readonly string[]): UtkFace[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length === 0) return [];
  if (JSON.stringify(JSON.parse(lines[0]!)) !== JSON.stringify(header))
    throw new ArgumentError(
      `--resume: ${file} belongs to another UTKFace run (faces, methods, degradation, seed or framing differ); delete it or run without --resume`,
    );
  const out: UtkFace[] = [];
  for (const line of lines.slice(1)) {
    let f: UtkFace;
    try {
      f = JSON.parse(line) as UtkFace;
    } catch {
      break;
    }
    if (f.file !== files[out.length]) break;
    out.push(f);
  }
  return out;
}

/** Groups of faces: all, then each age bucket, gender and race present (in the lists' order). */
export function utkGroups(faces: readonly UtkFace[], methods: readonly string[]): UtkGroup[] {
  const defs: [string, (f: UtkFace) => boolean][] = [['all', () => true]];
  for (const a of AGE_BUCKETS) defs.push([`age ${a}`, (f) => f.age_bucket === a]);
  for (const g of GENDERS) defs.push([`gender ${g}`, (f) => f.gender === g]);
  for (const r of RACES) defs.push([`race ${r}`, (f) => f.race === r]);
  const hasBicubic = methods.includes('bicubic');
  const out: UtkGroup[] = [];
  for (const [group, keep] of defs) {
    const sel = faces.filter(keep);
    if (sel.length === 0) continue;
    const g: UtkGroup = {
      group,
      faces: sel.length,
      methods: Object.fromEntries(methods.map((m) => [m, summarize(sel.map((f) => f.cosine[m]!))])),
    };
    if (hasBicubic && methods.length > 1)
      g.vs_bicubic = Object.fromEntries(
        methods
          .filter((m) => m !== 'bicubic')
          .map((m) => [m, summarize(sel.map((f) => f.cosine[m]! - f.cosine['bicubic']!))]),
      );
    out.push(g);
  }
  return out;
}

/** Runs the UTKFace protocol; methods are not disposed. */
export async function utkIdentity(o: UtkOptions): Promise<UtkResult> {
  const t0 = Date.now();
  const files = o.files;
  if (files.length === 0) throw new ArgumentError('utk: no faces');
  if (o.methods.length === 0) throw new ArgumentError('utk: no methods');
  const labels = files.map((f) => parseUtkName(f));
  const framing = o.framing ?? UTK_FRAMING;
  const degrade = o.degrade ?? 'bicubic4';
  const seed = o.seed ?? 0;
  const batch = o.batch ?? 32;
  const deg = makeDegradation(degrade, { seed, range: '-1,1' });
  const net = o.identity ?? (await IdentityNet.load());
  const header = {
    kind: 'facesr-eval-utk-progress/1',
    faces: createHash('sha256').update(files.join('\n')).digest('hex'),
    degrade,
    seed,
    framing,
    methods: o.methods.map((m) => [m.name, m.description]),
  };
  const faces: UtkFace[] = [];
  if (o.progressFile) {
    if (o.resume) faces.push(...readUtkProgress(o.progressFile, header, files));
    writeFileSync(o.progressFile, [header, ...faces].map((x) => JSON.stringify(x) + '\n').join(''));
  }
  const start = faces.length;
  if (start > 0) {
    deg.sample(start, [HR_SIZE, HR_SIZE]);
  }
  o.onProgress?.(start, files.length); // first call: where this run starts (0, or the resumed count)
  for (let s = start; s < files.length; s += batch) {
    const part = files.slice(s, s + batch);
    const framed = await Promise.all(part.map(async (f) => frameTightCrop(await readImage(f), framing)));
    const { outputs } = await restoreFrames(
      framed.map((f) => f.hr),
      deg,
      o.methods,
    );
    const hrD = await net.descriptors(framed.map((f) => cropSquare(f.hr, f.region)));
    const outD: Float32Array[][] = [];
    for (const out of outputs)
      outD.push(await net.descriptors(out.map((x, i) => cropSquare(x, framed[i]!.region))));
    const added = faces.length;
    part.forEach((file, i) => {
      const cos: Record<string, number> = {};
      o.methods.forEach((m, k) => (cos[m.name] = cosine(outD[k]![i]!, hrD[i]!)));
      faces.push({ file, ...labels[s + i]!, cosine: cos });
    });
    if (o.progressFile)
      appendFileSync(
        o.progressFile,
        faces
          .slice(added)
          .map((f) => JSON.stringify(f) + '\n')
          .join(''),
      );
    o.onProgress?.(Math.min(s + batch, files.length), files.length);
  }
  const names = o.methods.map((m) => m.name);
  const protocol = {
    faces: `${files.length} UTKFace chips; labels from the file names`,
    framing: `frame = square of ${framing.side} x the chip's side, centred ${framing.shiftY} sides below its centre, edge-replicated outside the chip, area-resized to ${HR_SIZE}x${HR_SIZE} (HR); measured by dev/measure_lfw_framing.mjs --dir`,
    degradation: degrade,
    seed,
    lr: `${HR_SIZE / 4}x${HR_SIZE / 4}, 8-bit`,
    identity_cosine: `cosine of ${net.name} descriptors, restored vs HR, both the chip's own square of the 64x64 frame`,
    age_buckets: AGE_BUCKETS.join(', '),
    interval:
      '95% Student-t confidence interval of the mean over faces; vs_bicubic: paired per-face difference',
  };
  return {
    protocol,
    methods: o.methods.map((m) => ({ name: m.name, description: m.description })),
    groups: utkGroups(faces, names),
    faces,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** The Markdown table: identity cosine mean [95% interval] per group and method. */
export function utkMarkdown(r: UtkResult): string {
  const names = r.methods.map((m) => m.name);
  const diffs = names.filter((m) => m !== 'bicubic' && r.groups[0]?.vs_bicubic?.[m]);
  const f = (s: Summary | undefined, sign = false) => {
    if (!s || s.n === 0) return '-';
    const v = (x: number) => (sign && x >= 0 ? '+' : '') + x.toFixed(4);
    return Number.isFinite(s.ci95[0]) ? `${v(s.mean)} [${v(s.ci95[0])}, ${v(s.ci95[1])}]` : v(s.mean);
  };
  const lines = [
    'Identity cosine (restored vs HR, face-api descriptors), mean [95% interval], UTKFace',
    '',
    `| group | faces | ${names.join(' | ')}${diffs.map((m) => ` | ${m} - bicubic`).join('')} |`,
    `| --- | ---: | ${names.map(() => '---:').join(' | ')}${diffs.map(() => ' | ---:').join('')} |`,
  ];
  for (const g of r.groups)
    lines.push(
      `| ${g.group} | ${g.faces} | ${names.map((m) => f(g.methods[m])).join(' | ')}${diffs.map((m) => ` | ${f(g.vs_bicubic?.[m], true)}`).join('')} |`,
    );
  return lines.join('\n') + '\n';
}
