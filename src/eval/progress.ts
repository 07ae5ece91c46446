// Progress files of long evaluations: JSON lines, the first a header saying what is measured, then
// one line per face in order. With resume, the faces already there are kept (when the header is the
// same) and the run continues after them; a line cut short by an interruption is measured again.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ArgumentError } from '../core/errors.js';

const numberOut = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
const numberIn = (_k: string, v: unknown) =>
  v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : v;

/** Faces already measured in `file` with the same header, in the order of `files`; throws if the file is another run's. */
export function readProgress<F extends { file: string }>(
  file: string,
  header: Record<string, unknown>,
  files: readonly string[],
): F[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length === 0) return [];
  let head: string;
  try {
    head = JSON.stringify(JSON.parse(lines[0]!));
  } catch {
    throw new ArgumentError(
      `eval --resume: ${file} is not a progress file; delete it or run without --resume`,
    );
  }
  if (head !== JSON.stringify(header))
    throw new ArgumentError(
      `eval --resume: ${file} belongs to another evaluation (faces, degradation, seed, methods or metrics differ); delete it or run without --resume`,
    );
  const faces: F[] = [];
  for (const line of lines.slice(1)) {
    let f: F;
    try {
      f = JSON.parse(line, numberIn) as F;
    } catch {
      break; // a line cut short by an interruption: measure that face again
    }
    if (f.file !== files[faces.length]) break;
    faces.push(f);
  }
  return faces;
}

/** Starts (or, with the kept faces, rewrites) a progress file. */
export function startProgress(file: string, header: Record<string, unknown>, kept: readonly unknown[]): void {
  writeFileSync(file, [header, ...kept].map((x) => JSON.stringify(x, numberOut) + '\n').join(''));
}

/** Appends measured faces. */
export function appendProgress(file: string, faces: readonly unknown[]): void {
  if (faces.length) appendFileSync(file, faces.map((f) => JSON.stringify(f, numberOut) + '\n').join(''));
}
