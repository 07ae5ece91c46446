// From what a user typed to a list of image files: file paths, folders (walked) and glob patterns.
// Images are recognised by their first bytes, never by extension. Anything that cannot be read is
// reported as a problem naming the path, and the rest goes on; batches (runBatch) work the same way.
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import path from 'node:path';
import { sniffFormat } from './image.js';

export interface ExpandOptions {
  /** Walk sub-folders of a folder input (default true). Globs recurse only through `**`. */
  recursive?: boolean;
  /**
   * Follow symbolic links to folders while walking (default false: such links are skipped, which
   * also rules out loops). Links to files are always followed; a broken link is reported.
   */
  followSymlinks?: boolean;
}

export interface InputProblem {
  path: string;
  reason: string;
}

export interface ExpandedInputs {
  /** Image files, sorted, each once. */
  files: string[];
  /** Inputs or entries that could not be used, with why; sorted by path. */
  problems: InputProblem[];
}

/** Bytes read to recognise an image (enough for every format sniffFormat knows). */
const SNIFF_BYTES = 16;
/** Files opened at once while sniffing a large folder. */
const SNIFF_CONCURRENCY = 32;
/** Extensions that promise an image: such a file that is not one is reported even inside a folder. */
const IMAGE_EXT = /\.(jpe?g|jfif|png|webp|tiff?|gif|avif|heic|heif)$/i;

/** Whether an input is a glob pattern (`*`, `?`, `[...]` or `{a,b}`). */
export function isGlob(input: string): boolean {
  return /[*?[]|\{[^}]*,[^}]*\}/.test(input);
}

/**
 * Expands files, folders and glob patterns into image files.
 * - A file path is checked (exists, readable, an image by content); a non-image is a problem.
 * - A folder is walked (hidden entries skipped); files that are not images are skipped silently,
 *   except those whose extension says image (an empty or damaged `x.jpg`): those are problems.
 * - A glob (`*`, `?`, `**`, `[abc]`, `[!abc]`, `{a,b}`) matches files the same way as a folder walk;
 *   `*` and `?` do not match a leading dot. A path that exists is never taken as a pattern.
 * - Unreadable folders or files, broken links and inputs giving no image are problems; the walk goes on.
 */
export async function expandInputs(inputs: string[], opts: ExpandOptions = {}): Promise<ExpandedInputs> {
  const walker = new Walker(opts.recursive ?? true, opts.followSymlinks ?? false);
  for (const input of inputs) await walker.input(input);
  return walker.result();
}

interface Candidate {
  file: string;
  /** Named by the user: a non-image is a problem. */
  named: boolean;
  /** Known unusable (a broken link): reported if the entry is wanted at all. */
  problem?: string;
}

class Walker {
  private readonly files = new Map<string, string>(); // resolved path -> path as returned
  private readonly problems = new Map<string, InputProblem>();

  constructor(
    private readonly recursive: boolean,
    private readonly followSymlinks: boolean,
  ) {}

  result(): ExpandedInputs {
    const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return {
      files: [...this.files.values()].sort(byPath),
      problems: [...this.problems.values()].sort(
        (a, b) => byPath(a.path, b.path) || byPath(a.reason, b.reason),
      ),
    };
  }

  private problem(p: string, reason: string): void {
    const key = `${p}\0${reason}`;
    if (!this.problems.has(key)) this.problems.set(key, { path: p, reason });
  }

  async input(input: string): Promise<void> {
    if (input === '') {
      this.problem(input, 'empty path');
      return;
    }
    let st: Stats;
    try {
      st = await stat(input);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && isGlob(input)) return this.glob(input);
      if (code === 'ENOENT' && (await isBrokenLink(input)))
        return this.problem(input, 'broken symbolic link (its target does not exist)');
      return this.problem(input, code === 'ENOENT' ? 'no such file or folder' : fsReason(err));
    }
    const clean = path.normalize(input);
    if (st.isDirectory()) {
      const found = await this.sniffAll(await this.walkDir(clean, this.recursive ? Infinity : 1, new Set()));
      if (found === 0) this.problem(input, 'no images found in this folder');
    } else if (st.isFile()) {
      await this.sniffAll([{ file: clean, named: true }]);
    } else {
      this.problem(input, 'not a regular file or folder (a device, pipe or socket)');
    }
  }

  /**
   * Candidate files under dir, down to `levels` levels (1: dir's own files); problems are recorded on
   * the way. `seen` holds the real paths of folders walked, so links cannot make it loop.
   */
  private async walkDir(
    dir: string,
    levels: number,
    seen: Set<string>,
    allowHidden = false,
  ): Promise<Candidate[]> {
    if (this.followSymlinks) {
      // Loop guard: a folder reached twice through links is walked once.
      const real = await realpath(dir).catch(() => dir);
      if (seen.has(real)) return [];
      seen.add(real);
    }
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      this.problem(dir, `cannot list this folder: ${fsReason(err)}`);
      return [];
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const out: Candidate[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.') && !allowHidden) continue;
      const full = path.join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        let target: Stats;
        try {
          target = await stat(full);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const problem =
            code === 'ENOENT'
              ? 'broken symbolic link (its target does not exist)'
              : code === 'ELOOP'
                ? 'symbolic link loop'
                : fsReason(err);
          out.push({ file: full, named: false, problem });
          continue;
        }
        isFile = target.isFile();
        isDir = target.isDirectory() && this.followSymlinks;
      }
      if (isFile) out.push({ file: full, named: false });
      else if (isDir && levels > 1) out.push(...(await this.walkDir(full, levels - 1, seen, allowHidden)));
    }
    return out;
  }

  /**
   * Sniffs candidates a few at a time; images are kept, the rest skipped or reported. Returns how
   * many of them are images (counting those already found through another input).
   */
  private async sniffAll(cands: Candidate[]): Promise<number> {
    let next = 0;
    let images = 0;
    const worker = async () => {
      while (next < cands.length) {
        const c = cands[next++]!;
        if (c.problem) {
          this.problem(c.file, c.problem);
          continue;
        }
        const key = path.resolve(c.file);
        if (this.files.has(key)) {
          images++;
          continue;
        }
        const verdict = await sniffFile(c.file);
        if (verdict === true) {
          this.files.set(key, c.file);
          images++;
        } else if (verdict.unreadable || c.named || IMAGE_EXT.test(c.file)) {
          this.problem(c.file, verdict.reason);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SNIFF_CONCURRENCY, cands.length) }, worker));
    return images;
  }

  private async glob(pattern: string): Promise<void> {
    let matched = 0;
    let images = 0;
    for (const expanded of expandBraces(pattern)) {
      const { base, rest } = splitGlob(expanded);
      if (rest.length === 0) {
        // Braces only: a plain path once expanded.
        const st = await stat(expanded).catch(() => null);
        if (st?.isFile()) {
          matched++;
          images += await this.sniffAll([{ file: path.normalize(expanded), named: false }]);
        }
        continue;
      }
      const baseDir = base === '' ? '.' : base;
      const st = await stat(baseDir).catch(() => null);
      if (!st?.isDirectory()) continue;
      const re = globSegmentsToRegExp(rest);
      const levels = rest.includes('**') ? Infinity : rest.length;
      const allowHidden = rest.some((seg) => seg.startsWith('.'));
      const cands = await this.walkDir(baseDir, levels, new Set(), allowHidden);
      const hits = cands.filter((c) => re.test(path.relative(baseDir, c.file).split(path.sep).join('/')));
      matched += hits.length;
      images += await this.sniffAll(hits);
    }
    if (matched === 0) this.problem(pattern, 'no files match this pattern');
    else if (images === 0) this.problem(pattern, `no images among the ${matched} matching file(s)`);
  }
}

async function isBrokenLink(p: string): Promise<boolean> {
  const l = await lstat(p).catch(() => null);
  return Boolean(l?.isSymbolicLink());
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'no such file or folder';
    case 'ELOOP':
      return 'symbolic link loop';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'EIO':
      return 'input/output error reading the disk';
    default:
      return `cannot read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}

/** true for an image; otherwise why not, and whether it could not be read at all. */
async function sniffFile(file: string): Promise<true | { reason: string; unreadable: boolean }> {
  let fh;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    if (bytesRead === 0) return { reason: 'file is empty (0 bytes)', unreadable: false };
    if (sniffFormat(buf.subarray(0, bytesRead))) return true;
    return {
      reason:
        'not an image (content is not JPEG, PNG, WebP, TIFF, GIF, AVIF or HEIF, whatever the name says)',
      unreadable: false,
    };
  } catch (err) {
    return { reason: fsReason(err), unreadable: true };
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** `a{b,c{d,e}}f` -> [abf, acdf, acef]; unbalanced or comma-less braces are left as they are. */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') {
      if (depth === 0) {
        open = i;
        commas.length = 0;
      }
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        if (commas.length > 0) {
          const pre = pattern.slice(0, open);
          const post = pattern.slice(i + 1);
          const cuts = [open, ...commas, i];
          const out: string[] = [];
          for (let k = 0; k + 1 < cuts.length; k++) {
            for (const alt of expandBraces(pattern.slice(cuts[k]! + 1, cuts[k + 1]!)))
              out.push(...expandBraces(pre + alt + post));
          }
          return [...new Set(out)];
        }
        open = -1;
      }
    } else if (c === ',' && depth === 1) {
      commas.push(i);
    }
  }
  return [pattern];
}

/**
 * Splits a '/'-separated pattern into the folder before its first magic segment and the segments
 * from there (a backslash escapes a magic character).
 */
function splitGlob(pattern: string): { base: string; rest: string[] } {
  const parts = pattern.split('/');
  const i = parts.findIndex((seg) => /(^|[^\\])[*?[]/.test(seg));
  if (i < 0) return { base: pattern, rest: [] };
  const baseParts = parts.slice(0, i);
  const base = baseParts.length === 1 && baseParts[0] === '' ? '/' : baseParts.join('/');
  return { base, rest: parts.slice(i).filter((seg) => seg !== '') };
}

/** Glob segments (relative to the base folder, '/'-separated) to an anchored RegExp. */
export function globSegmentsToRegExp(segments: string[]): RegExp {
  let re = '';
  segments.forEach((seg, k) => {
    const last = k === segments.length - 1;
    if (seg === '**') {
      // Zero or more folders, none hidden.
      re += last ? '(?!\\.)[^/]*(?:/(?!\\.)[^/]*)*' : '(?:(?!\\.)[^/]*/)*';
      return;
    }
    re += segmentToRegExp(seg) + (last ? '' : '/');
  });
  return new RegExp(`^${re}$`);
}

function segmentToRegExp(seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    const atStart = i === 0;
    if (c === '\\' && i + 1 < seg.length) {
      out += escapeRe(seg[++i]!);
    } else if (c === '*') {
      while (seg[i + 1] === '*') i++;
      out += atStart ? '(?!\\.)[^/]*' : '[^/]*';
    } else if (c === '?') {
      out += atStart ? '[^/.]' : '[^/]';
    } else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, close);
      const negate = body[0] === '!' || body[0] === '^';
      if (negate) body = body.slice(1);
      const cls = body.replace(/[\\\]^]/g, (m) => `\\${m}`);
      out += negate ? `[^/${cls}]` : `[${cls}]`;
      i = close;
    } else {
      out += escapeRe(c);
    }
  }
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface BatchProgress {
  /** Files finished so far (including this one). */
  done: number;
  total: number;
  file: string;
  ok: boolean;
  /** The error message when ok is false. */
  error?: string;
}

export interface BatchOptions {
  /** Files worked on at once (default 1). */
  concurrency?: number;
  /** Called after each file, in the order they finish. */
  onProgress?: (p: BatchProgress) => void;
  /** Stops starting new files once aborted; the files not started are listed as failures. */
  signal?: AbortSignal;
}

export interface BatchResult<T> {
  /** Successes, in the order of the input files. */
  results: { file: string; value: T }[];
  /** Failures, in the order of the input files; error is the message (an ImageError names the file). */
  failures: { file: string; error: string }[];
}

/**
 * Runs fn on every file, `concurrency` at a time. An error (thrown or rejected) on one file is
 * recorded and the batch goes on with the rest; the failures are listed at the end.
 */
export async function runBatch<T>(
  files: readonly string[],
  fn: (file: string, index: number) => Promise<T> | T,
  opts: BatchOptions = {},
): Promise<BatchResult<T>> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
  const outcome: ({ ok: true; value: T } | { ok: false; error: string } | undefined)[] = new Array(
    files.length,
  );
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      if (opts.signal?.aborted) return;
      const i = next++;
      const file = files[i]!;
      let o: { ok: true; value: T } | { ok: false; error: string };
      try {
        o = { ok: true, value: await fn(file, i) };
      } catch (err) {
        o = { ok: false, error: errorMessage(err) };
      }
      outcome[i] = o;
      done++;
      if (opts.onProgress) {
        try {
          opts.onProgress({ done, total: files.length, file, ok: o.ok, ...(o.ok ? {} : { error: o.error }) });
        } catch {
          // A failing progress display must not stop the batch.
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  const res: BatchResult<T> = { results: [], failures: [] };
  files.forEach((file, i) => {
    const o = outcome[i];
    if (!o) res.failures.push({ file, error: 'not processed: the batch was stopped' });
    else if (o.ok) res.results.push({ file, value: o.value });
    else res.failures.push({ file, error: o.error });
  });
  return res;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
