// `facesr eval`: command-line front of src/eval (synthetic-LR protocol on a folder or list of HR faces).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FacesrError } from '../core/errors.js';
import { intOption } from './args.js';

export const EVAL_HELP = `Usage: facesr eval (--hr DIR | --list FILE) --json OUT [options]

Makes low-resolution faces from high-resolution face crops with a seeded degradation, restores them
with each method and scores the result against the HR face: PSNR and SSIM (RGB and BT.601 Y,
BasicSR conventions, 8-bit) and identity similarity (cosine of face-api's 128-d face descriptors,
restored vs HR) and the landmark NME of face-api's 68-point net (restored vs HR). HR = each image's centred square resized to 64x64 (area); LR = 16x16.

  --hr DIR            folder of HR face crops (any size, square works best)
  --list FILE         or a file of image paths, one a line (e.g. a training run's holdout.txt)
  --degrade D         bicubic4 (default) | realistic (blur + noise + JPEG)
  --methods LIST      comma-separated: bicubic, model (the shipped default), or .safetensors model
                      files (default bicubic,model)
  --limit N           use N faces spread evenly over the list
  --seed S            degradation seed (default 0)
  --batch N           faces per batch (default 64)
  --crop-border N     pixels dropped on each side before PSNR/SSIM (default 0)
  --no-identity       skip identity similarity (faster)
  --no-landmarks      skip the landmark NME (face-api 68-point net, restored vs HR)
  --json OUT          write the results: per method mean, 95% interval (Student-t) and face count
                      for psnr, psnr_y, ssim, ssim_y, identity_cosine, identity_distance
                      (Euclidean, dlib's same-person threshold is about 0.6), landmark_nme;
                      per-face scores
  --report DIR        also write DIR/report.md and DIR/report.html (table) and DIR/grid.png
                      (LR | methods | HR)
  --resume            continue an interrupted run: faces already in OUT.progress.jsonl (written
                      after every batch, removed at the end) are not measured again
  --quiet             no progress line`;

export async function evalCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      hr: { type: 'string' },
      list: { type: 'string' },
      lr: { type: 'string' },
      degrade: { type: 'string' },
      methods: { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      'crop-border': { type: 'string' },
      'no-identity': { type: 'boolean' },
      'no-landmarks': { type: 'boolean' },
      json: { type: 'string' },
      report: { type: 'string' },
      quiet: { type: 'boolean' },
      resume: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  if (values.lr)
    throw new FacesrError('facesr eval --lr (real LR faces, no-reference metrics) is not built yet');
  if (!values.hr === !values.list) throw new FacesrError('Give one of --hr DIR or --list FILE');
  if (!values.json) throw new FacesrError('Missing --json OUT (where to write the results)');
  const degrade = values.degrade ?? 'bicubic4';
  if (degrade !== 'bicubic4' && degrade !== 'realistic')
    throw new FacesrError(`Expected bicubic4 or realistic for --degrade but received '${degrade}'`);
  const specs = (values.methods ?? 'bicubic,model')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (specs.length === 0) throw new FacesrError('--methods is empty');
  let seed = 0;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new FacesrError(`Expected non-negative integer for --seed but received '${values.seed}'`);
  }
  const cropBorder = values['crop-border'] === undefined ? 0 : Number(values['crop-border']);
  if (!Number.isInteger(cropBorder) || cropBorder < 0 || cropBorder > 20)
    throw new FacesrError(
      `Expected integer in [0, 20] for --crop-border but received '${values['crop-border']}'`,
    );
  const { listImages, readList, spread, makeMethods, evaluate } = await import('../eval/run.js');
  const { resultJson, writeReport } = await import('../eval/report.js');
  let files = values.hr ? listImages(values.hr) : readList(values.list!);
  if (files.length === 0) throw new FacesrError(`No images in ${values.hr ?? values.list}`);
  const all = files.length;
  if (values.limit !== undefined) files = spread(files, intOption(values.limit, '--limit', all));
  const methods = await makeMethods(specs);
  const quiet = values.quiet ?? false;
  mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
  const progressFile = `${values.json}.progress.jsonl`;
  const t0 = Date.now();
  try {
    const r = await evaluate({
      files,
      degrade,
      methods,
      seed,
      batch: intOption(values.batch, '--batch', 64),
      identity: !(values['no-identity'] ?? false),
      landmarks: !(values['no-landmarks'] ?? false),
      cropBorder,
      progressFile,
      resume: values.resume ?? false,
      onProgress: quiet
        ? undefined
        : (done, total) => {
            const s = (Date.now() - t0) / 1000;
            const rate = done / Math.max(s, 1e-3);
            process.stderr.write(
              `\reval: ${done}/${total} faces, ${rate.toFixed(1)} faces/s, ${s.toFixed(0)} s elapsed, ~${((total - done) / rate).toFixed(0)} s left   `,
            );
          },
    });
    if (!quiet) process.stderr.write('\n');
    writeFileSync(
      values.json,
      resultJson(r, {
        command: 'facesr eval',
        source: values.hr ? { hr: values.hr } : { list: values.list },
        faces_available: all,
      }),
    );
    for (const m of r.methods) {
      const f = (s: { mean: number; ci95: [number, number] } | undefined, d: number) =>
        s ? `${s.mean.toFixed(d)} [${s.ci95[0].toFixed(d)}, ${s.ci95[1].toFixed(d)}]` : '-';
      console.log(
        `${m.name}: ${m.faces} faces  PSNR ${f(m.psnr, 2)}  PSNR-Y ${f(m.psnr_y, 2)}  SSIM ${f(m.ssim, 4)}  SSIM-Y ${f(m.ssim_y, 4)}  identity cosine ${f(m.identity_cosine, 4)}  distance ${f(m.identity_distance, 3)}  landmark NME % ${f(m.landmark_nme, 2)}`,
      );
    }
    rmSync(progressFile, { force: true });
    console.log(
      `facesr eval: ${r.faces.length} faces (${r.seconds.toFixed(1)} s in this run); results in ${values.json}`,
    );
    if (values.report) {
      const file = await writeReport(values.report, r, `facesr eval: ${degrade}`);
      console.log(`report: ${file}`);
    }
  } finally {
    for (const m of methods) m.dispose();
  }
  return 0;
}
