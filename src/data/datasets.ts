// Face datasets from folders or list files: plain lists of FaceItems (file, identity, landmarks)
// that load lazily (loadSample) and cross to loader workers as data. Image files are recognised by
// their first bytes, never by extension. Identity labels come from file names; splits keep every
// identity on one side.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ArgumentError, FormatError } from '../core/errors.js';
import { Rng } from './augment.js';
import { expandInputs } from './files.js';
import { type FaceItem, type LoadOptions, type Sample, loadSample } from './sample.js';

/** A file left out of a dataset and why. */
export interface Skipped {
  file: string;
  reason: string;
}

// ---------------------------------------------------------------------------------------------
// Identity labels from file names

/** A named naming scheme, or any function of the file path. */
export type IdentityRule = 'celeba' | 'lfw' | 'ytf' | 'utkface' | 'folder' | ((file: string) => string);

function stem(file: string): string {
  const base = path.basename(file);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** CelebA crops `<identity>_<celeba image id>.webp`: the part before the first underscore. */
export function celebaIdentity(file: string): string {
  const m = /^([^_]+)_[^_]+$/.exec(stem(file));
  if (!m) throw new FormatError(`${file}: not a CelebA name '<identity>_<image id>.<ext>'`);
  return m[1]!;
}

/** LFW `<Name>/<Name>_NNNN.jpg`: the name (from the file name, else the folder). */
export function lfwIdentity(file: string): string {
  const m = /^(.+)_\d{4}$/.exec(stem(file));
  return m ? m[1]! : path.basename(path.dirname(file));
}

/** YouTube Faces landmark frames `<Name>_<frame>.webp`: the name. */
export function ytfIdentity(file: string): string {
  const m = /^(.+)_\d+$/.exec(stem(file));
  if (!m) throw new FormatError(`${file}: not a YouTube Faces frame name '<Name>_<frame>.<ext>'`);
  return m[1]!;
}

export interface UtkFaceLabels {
  age: number;
  gender: 'male' | 'female';
  race: 'white' | 'black' | 'asian' | 'indian' | 'other';
  date: string;
}
const UTK_RACES = ['white', 'black', 'asian', 'indian', 'other'] as const;

/** UTKFace `<age>_<gender 0 male, 1 female>_<race 0-4>_<date>`. */
export function utkfaceLabels(file: string): UtkFaceLabels {
  const m = /^(\d{1,3})_([01])_([0-4])_(\d+)/.exec(stem(file));
  if (!m) throw new FormatError(`${file}: not a UTKFace name '<age>_<gender>_<race>_<date>.<ext>'`);
  return {
    age: Number(m[1]),
    gender: m[2] === '0' ? 'male' : 'female',
    race: UTK_RACES[Number(m[3])]!,
    date: m[4]!,
  };
}

/**
 * The identity of a file under a rule. UTKFace names carry no person: each image counts as its own
 * identity (its file stem), which keeps splits image-disjoint. 'folder' is the parent folder's name.
 */
export function identityOf(file: string, rule: IdentityRule): string {
  if (typeof rule === 'function') return rule(file);
  switch (rule) {
    case 'celeba':
      return celebaIdentity(file);
    case 'lfw':
      return lfwIdentity(file);
    case 'ytf':
      return ytfIdentity(file);
    case 'utkface':
      utkfaceLabels(file);
      return stem(file);
    case 'folder':
      return path.basename(path.dirname(file));
    default:
      throw new ArgumentError(
        `Expected one of 'celeba', 'lfw', 'ytf', 'utkface', 'folder' or a function for identity but received '${String(rule)}'`,
      );
  }
}

function label(item: FaceItem, rule: IdentityRule | undefined): FaceItem {
  if (!rule) return item;
  const out: FaceItem = { ...item, identity: identityOf(item.file, rule) };
  if (rule === 'utkface') out.attributes = { ...utkfaceLabels(item.file) };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Finding images

async function mapLimit<T, R>(xs: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  const run = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, run));
  return out;
}

/**
 * Every image file under root (recursively unless told otherwise), recognised by content, sorted by
 * path; what could not be used (unreadable entries, files named like images that are not) in
 * skipped. The walk is files.ts's expandInputs. Throws when root itself is missing or unreadable.
 */
export async function findImages(
  root: string,
  opts: { recursive?: boolean } = {},
): Promise<{ files: string[]; skipped: Skipped[] }> {
  const st = await stat(root).catch((err: NodeJS.ErrnoException) => {
    throw new ArgumentError(
      `${root}: ${err.code === 'ENOENT' ? 'no such folder' : `cannot read (${err.code ?? String(err)})`}`,
    );
  });
  if (!st.isDirectory()) throw new ArgumentError(`${root}: is not a folder`);
  const { files, problems } = await expandInputs([root], { recursive: opts.recursive ?? true });
  // A folder without images is a problem for expandInputs; for a dataset it is just empty.
  const skipped = problems.filter((p) => p.path !== root).map((p) => ({ file: p.path, reason: p.reason }));
  return { files, skipped };
}

// ---------------------------------------------------------------------------------------------
// Datasets

/** A list of face items, loaded lazily. */
export class FaceDataset {
  constructor(
    readonly items: readonly FaceItem[],
    /** Files left out while building the set, with reasons. */
    readonly skipped: readonly Skipped[] = [],
  ) {}

  get length(): number {
    return this.items.length;
  }

  get(i: number): FaceItem {
    const it = this.items[i];
    if (!it) throw new ArgumentError(`dataset index ${i} out of range [0, ${this.items.length})`);
    return it;
  }

  /** Decodes item i (resized as asked). */
  load(i: number, opts: LoadOptions = {}): Promise<Sample> {
    return loadSample(this.get(i), opts);
  }

  /** The items at these indices, as a dataset. */
  subset(indices: readonly number[]): FaceDataset {
    return new FaceDataset(indices.map((i) => this.get(i)));
  }

  /** Distinct identities, sorted. */
  identities(): string[] {
    return [
      ...new Set(this.items.map((it) => it.identity).filter((x): x is string => x !== undefined)),
    ].sort();
  }
}

export interface FolderOptions {
  /** Look in sub-folders (default true). */
  recursive?: boolean;
  /** How to label identities (none by default). */
  identity?: IdentityRule;
}

/** Any folder of face images: HR training faces, real LR faces, evaluation sets. */
export class ImageFolderDataset extends FaceDataset {
  /** Every image under root, found by content (see findImages). */
  static async fromFolder(root: string, opts: FolderOptions = {}): Promise<ImageFolderDataset> {
    const { files, skipped } = await findImages(root, opts);
    return new ImageFolderDataset(
      files.map((file) => label({ file }, opts.identity)),
      skipped,
    );
  }

  /**
   * A list file: one image path per line (relative paths against root, default the list's folder);
   * blank lines and lines starting with '#' are ignored. Paths are not opened here: a missing or bad
   * file surfaces when it is loaded.
   */
  static async fromList(
    listFile: string,
    opts: { root?: string; identity?: IdentityRule } = {},
  ): Promise<ImageFolderDataset> {
    const root = opts.root ?? path.dirname(listFile);
    const text = await readFile(listFile, 'utf8');
    const files = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => path.resolve(root, l));
    return ImageFolderDataset.fromFiles(files, opts);
  }

  static fromFiles(files: readonly string[], opts: { identity?: IdentityRule } = {}): ImageFolderDataset {
    return new ImageFolderDataset(files.map((file) => label({ file }, opts.identity)));
  }
}

/**
 * Landmark CSV `file,x0,y0,...,x{K-1},y{K-1}` (68 points in landmarks/ytf), coordinates in the
 * image's pixels, files relative to imageRoot. Rows whose image does not exist are skipped and listed.
 */
export class LandmarkDataset extends FaceDataset {
  constructor(
    items: readonly FaceItem[],
    skipped: readonly Skipped[],
    readonly points: number,
  ) {
    super(items, skipped);
  }

  static async fromCsv(
    csvFile: string,
    imageRoot: string,
    opts: { identity?: IdentityRule; points?: number } = {},
  ): Promise<LandmarkDataset> {
    const lines = (await readFile(csvFile, 'utf8')).split(/\r?\n/);
    const header = lines[0]?.split(',').map((s) => s.trim()) ?? [];
    const k = (header.length - 1) / 2;
    if (header[0] !== 'file' || !Number.isInteger(k) || k < 1 || header[1] !== 'x0' || header[2] !== 'y0')
      throw new FormatError(`${csvFile}: line 1: expected a header 'file,x0,y0,...' but found '${lines[0]}'`);
    if (opts.points !== undefined && opts.points !== k)
      throw new FormatError(`${csvFile}: has ${k} points per row, expected ${opts.points}`);
    const rows: FaceItem[] = [];
    for (let li = 1; li < lines.length; li++) {
      const line = lines[li]!.trim();
      if (!line) continue;
      const cells = line.split(',');
      if (cells.length !== header.length)
        throw new FormatError(
          `${csvFile}: line ${li + 1}: ${cells.length} fields, expected ${header.length} (file + ${k} x,y pairs)`,
        );
      const lm = new Float32Array(2 * k);
      for (let j = 1; j < cells.length; j++) {
        const v = Number(cells[j]);
        if (cells[j]!.trim() === '' || !Number.isFinite(v))
          throw new FormatError(`${csvFile}: line ${li + 1}: ${header[j]} is '${cells[j]}', not a number`);
        lm[j - 1] = v;
      }
      rows.push(label({ file: path.resolve(imageRoot, cells[0]!.trim()), landmarks: lm }, opts.identity));
    }
    const exists = await mapLimit(rows, 32, (r) =>
      stat(r.file).then(
        (s) => (s.isFile() ? null : 'not a file'),
        (err: NodeJS.ErrnoException) =>
          err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code})`,
      ),
    );
    const items: FaceItem[] = [];
    const skipped: Skipped[] = [];
    rows.forEach((r, i) => (exists[i] ? skipped.push({ file: r.file, reason: exists[i]! }) : items.push(r)));
    return new LandmarkDataset(items, skipped, k);
  }
}

// ---------------------------------------------------------------------------------------------
// LFW verification pairs

export interface LfwPair {
  fold: number;
  same: boolean;
  a: string;
  b: string;
  nameA: string;
  nameB: string;
}

/** `<root>/<Name>/<Name>_NNNN.jpg`. */
export function lfwImagePath(root: string, name: string, index: number): string {
  return path.join(root, name, `${name}_${String(index).padStart(4, '0')}.jpg`);
}

/**
 * LFW `pairs.txt`: a first line `<folds> <n>` ("10 300"), then per fold n same-person lines
 * `name i j` and n different-person lines `name1 i name2 j` (tabs or spaces). A single-number first
 * line (the View 1 files) means one fold.
 */
export class LfwPairs {
  private constructor(
    readonly folds: number,
    readonly perFold: number,
    readonly pairs: readonly LfwPair[],
  ) {}

  static async load(pairsFile: string, imageRoot: string): Promise<LfwPairs> {
    return LfwPairs.parse(await readFile(pairsFile, 'utf8'), imageRoot, pairsFile);
  }

  static parse(text: string, imageRoot: string, source = 'pairs.txt'): LfwPairs {
    const lines = text.split(/\r?\n/).map((l) => l.trim());
    while (lines.length && !lines[lines.length - 1]) lines.pop();
    const head = lines[0]?.split(/\s+/).map(Number) ?? [];
    const ok = (v: number | undefined) => v !== undefined && Number.isInteger(v) && v > 0;
    const [folds, n] = head.length === 1 ? [1, head[0]] : head;
    if (!(head.length === 1 || head.length === 2) || !ok(folds) || !ok(n))
      throw new FormatError(
        `${source}: line 1: expected '<folds> <pairs per half-fold>' but found '${lines[0]}'`,
      );
    const expected = 1 + folds! * 2 * n!;
    if (lines.length !== expected)
      throw new FormatError(
        `${source}: ${lines.length} lines, expected ${expected} (1 + ${folds} folds x ${2 * n!} pairs)`,
      );
    const idx = (s: string, li: number): number => {
      const v = Number(s);
      if (!Number.isInteger(v) || v < 1)
        throw new FormatError(`${source}: line ${li + 1}: image number '${s}' is not a positive integer`);
      return v;
    };
    const pairs: LfwPair[] = [];
    for (let f = 0; f < folds!; f++) {
      for (let k = 0; k < 2 * n!; k++) {
        const li = 1 + f * 2 * n! + k;
        const t = lines[li]!.split(/\s+/);
        const same = k < n!;
        if (same && t.length === 3) {
          const [name, i, j] = t as [string, string, string];
          pairs.push({
            fold: f,
            same,
            nameA: name,
            nameB: name,
            a: lfwImagePath(imageRoot, name, idx(i, li)),
            b: lfwImagePath(imageRoot, name, idx(j, li)),
          });
        } else if (!same && t.length === 4) {
          const [n1, i, n2, j] = t as [string, string, string, string];
          pairs.push({
            fold: f,
            same,
            nameA: n1,
            nameB: n2,
            a: lfwImagePath(imageRoot, n1, idx(i, li)),
            b: lfwImagePath(imageRoot, n2, idx(j, li)),
          });
        } else {
          throw new FormatError(
            `${source}: line ${li + 1}: expected ${same ? "a same-person pair 'name i j'" : "a different-person pair 'name1 i name2 j'"} (fold ${f + 1}, pair ${k + 1}) but found '${lines[li]}'`,
          );
        }
      }
    }
    return new LfwPairs(folds!, n!, pairs);
  }

  /** The pairs of fold k (0-based). */
  fold(k: number): LfwPair[] {
    return this.pairs.filter((p) => p.fold === k);
  }

  /** Every image the pairs use, once, sorted, labelled with its person. */
  images(): FaceDataset {
    const seen = new Map<string, string>();
    for (const p of this.pairs) {
      seen.set(p.a, p.nameA);
      seen.set(p.b, p.nameB);
    }
    return new FaceDataset([...seen.keys()].sort().map((file) => ({ file, identity: seen.get(file)! })));
  }

  /** Files named by the pairs that do not exist. */
  async missing(): Promise<string[]> {
    const files = this.images().items.map((i) => i.file);
    const st = await mapLimit(files, 32, (f) =>
      stat(f).then(
        () => false,
        () => true,
      ),
    );
    return files.filter((_, i) => st[i]);
  }
}

// ---------------------------------------------------------------------------------------------
// Splits

export interface SplitOptions<T> {
  /** Share of items per split (e.g. [0.8, 0.1, 0.1]); a sum under 1 leaves the rest out. */
  fractions?: readonly number[];
  /** Number of identities per split (e.g. [3000, 200]); identities beyond the sum are left out. */
  counts?: readonly number[];
  seed: number;
  /** The identity of an item (default item.identity). */
  identity?: (item: T) => string | undefined;
}

/**
 * Splits items so that no identity is on two sides. Identities are sorted, then shuffled with the
 * seed, so the result depends only on the set of items and the seed, not on their order. With
 * fractions, an identity goes to the split in whose share its middle item falls (item counts come
 * out within one identity's size of the target); with counts, splits take whole identities in turn.
 * Items keep their input order within a split. Throws when an item has no identity.
 */
export function splitByIdentity<T>(items: readonly T[], opts: SplitOptions<T>): T[][] {
  const idOf = opts.identity ?? ((it: T) => (it as { identity?: string }).identity);
  if ((opts.fractions === undefined) === (opts.counts === undefined))
    throw new ArgumentError('splitByIdentity: give exactly one of fractions and counts');
  const groups = new Map<string, number[]>();
  items.forEach((it, i) => {
    const id = idOf(it);
    if (id === undefined || id === '')
      throw new ArgumentError(
        `splitByIdentity: item ${i}${(it as { file?: string }).file ? ` (${(it as { file?: string }).file})` : ''} has no identity`,
      );
    const g = groups.get(id);
    if (g) g.push(i);
    else groups.set(id, [i]);
  });
  const ids = new Rng([opts.seed, 0x5711]).shuffle([...groups.keys()].sort());
  const parts: number[][] = [];
  if (opts.fractions) {
    const fr = opts.fractions;
    if (fr.length === 0 || fr.some((f) => !(f >= 0)) || fr.reduce((a, b) => a + b, 0) > 1 + 1e-9)
      throw new ArgumentError(
        `splitByIdentity: fractions must be >= 0 and sum to at most 1, received [${fr.join(', ')}]`,
      );
    const edges: number[] = [];
    let acc = 0;
    for (const f of fr) edges.push((acc += f) * items.length);
    fr.forEach(() => parts.push([]));
    let before = 0;
    for (const id of ids) {
      const g = groups.get(id)!;
      const mid = before + g.length / 2;
      before += g.length;
      const k = edges.findIndex((e) => mid < e);
      if (k >= 0) parts[k]!.push(...g);
    }
  } else {
    const counts = opts.counts!;
    if (counts.length === 0 || counts.some((c) => !Number.isInteger(c) || c < 0))
      throw new ArgumentError(
        `splitByIdentity: counts must be non-negative integers, received [${counts.join(', ')}]`,
      );
    const total = counts.reduce((a, b) => a + b, 0);
    if (total > ids.length)
      throw new ArgumentError(
        `splitByIdentity: counts ask for ${total} identities but there are ${ids.length}`,
      );
    let at = 0;
    for (const c of counts) {
      parts.push(ids.slice(at, at + c).flatMap((id) => groups.get(id)!));
      at += c;
    }
  }
  return parts.map((p) => p.sort((a, b) => a - b).map((i) => items[i]!));
}
