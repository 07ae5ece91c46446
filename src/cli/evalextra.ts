// `facesr eval lfw` and `facesr eval utk`: command-line fronts of src/eval/lfw.ts and src/eval/utk.ts
// (LFW verification with restored faces; identity similarity by age, gender and race on UTKFace).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FacesrError } from '../core/errors.js';
import { intOption } from './args.js';

export const EVAL_LFW_HELP = `Usage: facesr eval lfw --lfw DIR --json OUT [options]

LFW verification accuracy (pairs.txt, 10 folds, threshold chosen on the other 9) when one or both
faces of each pair are reduced to 16x16 and restored by each method, against the faces as given (hr)
and at the 64x64 frame's resolution (hr64). Judge: cosine (and Euclidean distance) of face-api's
128-d face descriptors. Each 90x90 crop is framed like the training faces (a square 1.65x its side,
edge-replicated outside it), area-resized to 64x64, degraded to 16x16 and restored; the judge sees
the crop's own square of each output.

  --lfw DIR           folder with pairs.txt and images/<Name>/<Name>_NNNN.jpg
  --methods LIST      comma-separated: bicubic, model (the shipped default), or .safetensors model
                      files (default bicubic,model)
  --pairs-per-fold K  use the first K same and K different pairs of each fold (default: all 300)
  --degrade D         bicubic4 (default) | realistic
  --seed S            degradation seed (default 0)
  --batch N           images per batch (default 32)
  --json OUT          write the results: per condition mean accuracy, sd and standard error over
                      folds, per-fold thresholds (cosine and Euclidean)
  --report FILE       also write the Markdown table to FILE
  --scores FILE       also write every pair's cosine per condition, labels and folds (for
                      dev/make_lfw_fixtures.py --check FILE)
  --resume            continue an interrupted run: images already in OUT.progress.jsonl (written
                      after every batch, removed at the end) are not measured again
  --quiet             no progress line`;

export const EVAL_UTK_HELP = `Usage: facesr eval utk --utk DIR --json OUT [options]

Identity similarity (cosine of face-api's 128-d descriptors, restored vs HR) broken down by age
bucket, gender and race, read from UTKFace file names <age>_<gender>_<race>_<date>.<ext>. Each chip
is framed like the training faces (a square 1.45x its side, edge-replicated outside it),
area-resized to 64x64 (HR), degraded to 16x16 and restored; both are judged on the chip's own square.

  --utk DIR           folder of UTKFace chips
  --methods LIST      comma-separated: bicubic, model (the shipped default), or .safetensors model
                      files (default bicubic,model)
  --limit N           use N faces spread evenly over the folder
  --degrade D         bicubic4 (default) | realistic
  --seed S            degradation seed (default 0)
  --batch N           faces per batch (default 32)
  --json OUT          write the results: per group (all, age bucket, gender, race) and method the
                      mean cosine with its 95% interval and the face count, the paired difference
                      to bicubic; per-face scores
  --report FILE       also write the Markdown table to FILE
  --resume            continue an interrupted run (OUT.progress.jsonl)
  --quiet             no progress line`;

function methodList(v: string | undefined): string[] {
  const specs = (v ?? 'bicubic,model')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (specs.length === 0) throw new FacesrError('--methods is empty');
  return specs;
}

function degradeOption(v: string | undefined): 'bicubic4' | 'realistic' {
  const d = v ?? 'bicubic4';
  if (d !== 'bicubic4' && d !== 'realistic')
    throw new FacesrError(`Expected bicubic4 or realistic for --degrade but received '${d}'`);
  return d;
}

function seedOption(v: string | undefined): number {
  if (v === undefined) return 0;
  const s = Number(v);
  if (!Number.isInteger(s) || s < 0 || s > 0xffffffff)
    throw new FacesrError(`Expected non-negative integer for --seed but received '${v}'`);
  return s;
}

function progressLine(what: string, quiet: boolean): ((done: number, total: number) => void) | undefined {
  if (quiet) return undefined;
  const t0 = Date.now();
  let first: number | null = null;
  return (done, total) => {
    first ??= done; // the first call gives the starting point (resumed items are not counted in the rate)
    const s = (Date.now() - t0) / 1000;
    const rate = (done - first) / Math.max(s, 1e-3);
    const left = rate > 0 ? `~${((total - done) / rate).toFixed(0)} s left` : '';
    process.stderr.write(
      `\r${what}: ${done}/${total}, ${rate.toFixed(2)}/s, ${s.toFixed(0)} s elapsed, ${left}   `,
    );
  };
}

const jsonOut = (x: unknown) =>
  JSON.stringify(x, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? null : String(v)) : v,
  ) + '\n';

export async function lfwCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      lfw: { type: 'string' },
      methods: { type: 'string' },
      'pairs-per-fold': { type: 'string' },
      degrade: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'string' },
      report: { type: 'string' },
      scores: { type: 'string' },
      resume: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(EVAL_LFW_HELP);
    return 0;
  }
  if (!values.lfw) throw new FacesrError('Missing --lfw DIR (the folder with pairs.txt and images/)');
  if (!values.json) throw new FacesrError('Missing --json OUT (where to write the results)');
  const specs = methodList(values.methods);
  const degrade = degradeOption(values.degrade);
  const seed = seedOption(values.seed);
  const batch = intOption(values.batch, '--batch', 32);
  const { readPairs, subsetPairs, lfwVerify, lfwMarkdown } = await import('../eval/lfw.js');
  const { makeMethods } = await import('../eval/run.js');
  const all = readPairs(values.lfw);
  const k = intOption(values['pairs-per-fold'], '--pairs-per-fold', all.perFold);
  const pairs = k >= all.perFold ? all.pairs : subsetPairs(all.pairs, k);
  const methods = await makeMethods(specs);
  mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
  const progressFile = `${values.json}.progress.jsonl`;
  try {
    const r = await lfwVerify({
      lfw: values.lfw,
      pairs,
      methods,
      degrade,
      seed,
      batch,
      progressFile,
      resume: values.resume ?? false,
      onProgress: progressLine('eval lfw: images', values.quiet ?? false),
    });
    if (!values.quiet) process.stderr.write('\n');
    const { scores, ...rest } = r;
    writeFileSync(values.json, jsonOut({ command: 'facesr eval lfw', lfw: values.lfw, ...rest }));
    if (values.scores) {
      const conditions: Record<string, unknown> = {};
      for (const c of r.conditions)
        conditions[c.name] = {
          scores: scores.cosine[c.name],
          same: scores.same,
          fold: scores.fold,
          accuracy: c.cosine.accuracy,
        };
      writeFileSync(values.scores, jsonOut({ conditions }));
    }
    const table = lfwMarkdown(r);
    if (values.report) writeFileSync(values.report, table);
    console.log(table);
    rmSync(progressFile, { force: true });
    console.log(
      `facesr eval lfw: ${r.pairs} pairs, ${r.images} images (${r.seconds.toFixed(1)} s); results in ${values.json}`,
    );
  } finally {
    for (const m of methods) m.dispose();
  }
  return 0;
}

export async function utkCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      utk: { type: 'string' },
      methods: { type: 'string' },
      limit: { type: 'string' },
      degrade: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'string' },
      report: { type: 'string' },
      resume: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(EVAL_UTK_HELP);
    return 0;
  }
  if (!values.utk) throw new FacesrError('Missing --utk DIR (a folder of UTKFace chips)');
  if (!values.json) throw new FacesrError('Missing --json OUT (where to write the results)');
  const specs = methodList(values.methods);
  const degrade = degradeOption(values.degrade);
  const seed = seedOption(values.seed);
  const batch = intOption(values.batch, '--batch', 32);
  const { listUtk, utkIdentity, utkMarkdown } = await import('../eval/utk.js');
  const { makeMethods, spread } = await import('../eval/run.js');
  let files = listUtk(values.utk);
  if (files.length === 0) throw new FacesrError(`No images in ${values.utk}`);
  if (values.limit !== undefined) files = spread(files, intOption(values.limit, '--limit', files.length));
  const methods = await makeMethods(specs);
  mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
  const progressFile = `${values.json}.progress.jsonl`;
  try {
    const r = await utkIdentity({
      files,
      methods,
      degrade,
      seed,
      batch,
      progressFile,
      resume: values.resume ?? false,
      onProgress: progressLine('eval utk: faces', values.quiet ?? false),
    });
    if (!values.quiet) process.stderr.write('\n');
    writeFileSync(values.json, jsonOut({ command: 'facesr eval utk', utk: values.utk, ...r }));
    const table = utkMarkdown(r);
    if (values.report) writeFileSync(values.report, table);
    console.log(table);
    rmSync(progressFile, { force: true });
    console.log(
      `facesr eval utk: ${r.faces.length} faces (${r.seconds.toFixed(1)} s); results in ${values.json}`,
    );
  } finally {
    for (const m of methods) m.dispose();
  }
  return 0;
}
