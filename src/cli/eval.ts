// `facesr eval`: command-line front of src/eval: the synthetic-LR protocol on a folder or list of HR
// faces (--hr/--list) and the real-LR protocol on low-resolution faces without HR (--lr).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FacesrError } from '../core/errors.js';
import { intOption } from './args.js';

export const EVAL_HELP = `Usage: facesr eval (--hr DIR | --list FILE) --json OUT [options]
       facesr eval --lr DIR --json OUT [options]

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
  --quiet             no progress line

Real low-resolution faces (--lr), which have no HR: each method's 64x64 output is scored by NIQE
(standard pristine model, BasicSR/MATLAB conventions, 32x32 blocks because the faces are smaller
than NIQE's 96x96 blocks), BRISQUE (OpenCV's LIVE model from Debian's opencv-data) and the rate at
which face-api's SSD, a detector that did not find these faces, finds the face in the output.

  --lr DIR            a harvest folder (facesr data harvest: manifest.jsonl + lr16/), a folder of
                      harvest folders (each reported as a set), or a folder of face images
                      (centred square, resized to 16x16)
  --methods, --limit, --batch, --json, --report, --resume, --quiet   as above
  --niqe-params FILE  the NIQE pristine model niqe_pristine_params.json (default: the
                      FACESR_NIQE_PARAMS variable, else ../shared/data/metrics beside the package
                      or the working folder)
  --niqe-block N      NIQE block side on the 64x64 outputs (default 32)
  --brisque-model DIR folder of brisque_model_live.yml and brisque_range_live.yml (default: the
                      FACESR_BRISQUE_DIR variable, else /usr/share/opencv4/quality)
  --no-detection      skip the detection rate (the slowest part)
  The JSON has per method niqe, brisque and detection_rate (mean, 95% interval, n) and the face
  count, per set when there are several, and the paired difference to bicubic.

Also: facesr eval lfw --lfw DIR --json OUT [...]  LFW verification with restored faces (--help)
      facesr eval utk --utk DIR --json OUT [...]  identity by age, gender and race on UTKFace (--help)`;

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
      'niqe-params': { type: 'string' },
      'niqe-block': { type: 'string' },
      'brisque-model': { type: 'string' },
      'no-detection': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  if (values.lr) {
    if (values.hr || values.list)
      throw new FacesrError(
        'Give one of --hr DIR or --list FILE (or --lr DIR for real low-resolution faces)',
      );
    for (const o of ['degrade', 'seed', 'crop-border'] as const)
      if (values[o] !== undefined) throw new FacesrError(`--${o} has no meaning with --lr (real LR faces)`);
    return evalLr(values as LrValues);
  }
  if (!values.hr === !values.list)
    throw new FacesrError('Give one of --hr DIR or --list FILE (or --lr DIR for real low-resolution faces)');
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

interface LrValues {
  lr: string;
  methods?: string;
  limit?: string;
  batch?: string;
  json?: string;
  report?: string;
  quiet?: boolean;
  resume?: boolean;
  'niqe-params'?: string;
  'niqe-block'?: string;
  'brisque-model'?: string;
  'no-detection'?: boolean;
}

/** `facesr eval --lr DIR`: the real-LR protocol. */
async function evalLr(values: LrValues): Promise<number> {
  if (!values.json) throw new FacesrError('Missing --json OUT (where to write the results)');
  const specs = (values.methods ?? 'bicubic,model')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (specs.length === 0) throw new FacesrError('--methods is empty');
  const { spread, makeMethods } = await import('../eval/run.js');
  const { listLrFaces, evaluateLr } = await import('../eval/reallr.js');
  const { loadNiqeModel } = await import('../eval/niqe.js');
  const { loadBrisqueModel } = await import('../eval/brisque.js');
  const { resultJson, writeLrReport } = await import('../eval/report.js');
  const niqeBlock = intOption(values['niqe-block'], '--niqe-block', 32);
  if (niqeBlock < 8 || niqeBlock > 64)
    throw new FacesrError(
      `Expected integer in [8, 64] for --niqe-block but received '${values['niqe-block']}'`,
    );
  // models first: a missing file should fail before any face is read
  const niqeModel = loadNiqeModel(values['niqe-params']);
  const brisqueModel = loadBrisqueModel(values['brisque-model']);
  let faces = listLrFaces(values.lr);
  const all = faces.length;
  if (values.limit !== undefined) faces = spread(faces, intOption(values.limit, '--limit', all));
  const methods = await makeMethods(specs);
  const quiet = values.quiet ?? false;
  mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
  const progressFile = `${values.json}.progress.jsonl`;
  const t0 = Date.now();
  try {
    const r = await evaluateLr({
      faces,
      methods,
      niqeModel,
      niqeBlock,
      brisqueModel,
      ...(values['no-detection'] ? { detector: null } : {}),
      batch: intOption(values.batch, '--batch', 64),
      progressFile,
      resume: values.resume ?? false,
      onProgress: quiet
        ? undefined
        : (done, total) => {
            const s = (Date.now() - t0) / 1000;
            const rate = done / Math.max(s, 1e-3);
            process.stderr.write(
              `\reval --lr: ${done}/${total} faces, ${rate.toFixed(1)} faces/s, ${s.toFixed(0)} s elapsed, ~${((total - done) / rate).toFixed(0)} s left   `,
            );
          },
    });
    if (!quiet) process.stderr.write('\n');
    writeFileSync(
      values.json,
      resultJson(r, { command: 'facesr eval', source: { lr: values.lr }, faces_available: all }),
    );
    const f = (s: { mean: number; ci95: [number, number] } | undefined, d: number) =>
      s ? `${s.mean.toFixed(d)} [${s.ci95[0].toFixed(d)}, ${s.ci95[1].toFixed(d)}]` : '-';
    for (const m of r.methods)
      console.log(
        `${m.name}: ${m.faces} faces  NIQE ${f(m.niqe, 3)}  BRISQUE ${f(m.brisque, 2)}  detection rate ${f(m.detection_rate, 3)}`,
      );
    rmSync(progressFile, { force: true });
    console.log(
      `facesr eval --lr: ${r.faces.length} faces (${r.seconds.toFixed(1)} s in this run); results in ${values.json}`,
    );
    if (values.report) {
      const file = await writeLrReport(values.report, r, 'facesr eval: real low-resolution faces');
      console.log(`report: ${file}`);
    }
  } finally {
    for (const m of methods) m.dispose();
  }
  return 0;
}
