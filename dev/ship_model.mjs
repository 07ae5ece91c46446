#!/usr/bin/env node
// Copies a trained restoration model and its FAN into models/ and writes models/manifest.json from
// the runs' own records (configs, steps, times, hold-out) and `facesr eval` JSON results.
//
//   node dev/ship_model.mjs --name facesr-cpu --run RUN_DIR [--pretrain RUN_DIR ...] --fan-run FAN_DIR \
//     --eval EVAL.json [--eval EVAL2.json ...] [--eval-method NAME] [--lr-data TEXT] [--note TEXT ...]
//
// RUN_DIR is the final (mode full) run; --pretrain the runs before it, in order; the wall
// times are the runs' own last_run.json / log.jsonl records.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'facesr-cpu' },
    run: { type: 'string' },
    pretrain: { type: 'string', multiple: true, default: [] },
    'lr-data': { type: 'string' },
    'fan-run': { type: 'string' },
    eval: { type: 'string', multiple: true, default: [] },
    'eval-method': { type: 'string' },
    note: { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: 'models' },
  },
});
if (!values.run || !values['fan-run']) {
  console.error(
    'usage: node dev/ship_model.mjs --run RUN --fan-run FAN_RUN [--pretrain RUN] [--eval JSON ...]',
  );
  process.exit(2);
}

const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const readLog = (f) =>
  existsSync(f)
    ? readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
const sha256 = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
const header = (f) => {
  const b = readFileSync(f);
  const n = Number(b.readBigUInt64LE(0));
  return JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
};

/** A run's record: mode, steps, the seconds its processes trained (summed over resumes via the log). */
function runRecord(dir) {
  const ck = header(path.join(dir, 'checkpoint.safetensors')).__metadata__ ?? {};
  const meta = ck.facesr ? JSON.parse(ck.facesr) : {};
  const log = readLog(path.join(dir, 'log.jsonl'));
  // `time` restarts at each (re)start of the process: add up the last value of each segment.
  let seconds = 0;
  let prev = 0;
  for (const r of log) {
    if (typeof r.time !== 'number') continue;
    if (r.time < prev) seconds += prev;
    prev = r.time;
  }
  seconds += prev;
  const last = log.at(-1) ?? {};
  const losses = Object.fromEntries(
    Object.entries(last).filter(([k]) => !['step', 'time', 'lr'].includes(k)),
  );
  return {
    folder: path.basename(dir),
    mode: meta.extra?.mode ?? meta.mode,
    steps: meta.step ?? last.step,
    batch: meta.extra?.batchSize,
    seed: meta.extra?.seed,
    holdout: meta.extra?.holdout,
    ...(meta.extra?.pixelDegrade ? { lr_degradation: meta.extra.pixelDegrade } : {}),
    init: meta.extra?.init ? path.basename(meta.extra.init) : null,
    train_seconds: Math.round(seconds),
    last_losses: losses,
  };
}

function metricsFrom(file) {
  const j = readJson(file);
  const out = { degradation: j.protocol?.degradation, faces: undefined, source: j.source, methods: {} };
  for (const [name, m] of Object.entries(j.methods ?? {})) {
    // Only bicubic and the shipped model (named --eval-method in the eval), reported under its name.
    if (values['eval-method'] && name !== 'bicubic' && name !== values['eval-method']) continue;
    const key = name === values['eval-method'] ? values.name : name;
    out.faces = m.faces;
    const pick = {};
    for (const k of [
      'psnr',
      'psnr_y',
      'ssim',
      'ssim_y',
      'identity_cosine',
      'identity_distance',
      'landmark_nme',
    ])
      if (m[k]?.mean !== undefined)
        pick[k] = { mean: +m[k].mean.toFixed(4), ci95: m[k].ci95.map((v) => +v.toFixed(4)) };
    if (m.vs_bicubic)
      pick.vs_bicubic = Object.fromEntries(
        Object.entries(m.vs_bicubic).map(([k, v]) => [
          k,
          { mean: +v.mean.toFixed(4), ci95: v.ci95.map((x) => +x.toFixed(4)) },
        ]),
      );
    out.methods[key] = pick;
  }
  return out;
}

const outDir = values.out;
const modelFile = `${values.name}.safetensors`;
const fanFile = `fan-${values.name.replace(/^facesr-/, '')}.safetensors`;
const tmp = (f) => `${f}.tmp`;
copyFileSync(path.join(values.run, 'model.safetensors'), tmp(path.join(outDir, modelFile)));
renameSync(tmp(path.join(outDir, modelFile)), path.join(outDir, modelFile));
copyFileSync(path.join(values['fan-run'], 'fan.safetensors'), tmp(path.join(outDir, fanFile)));
renameSync(tmp(path.join(outDir, fanFile)), path.join(outDir, fanFile));

const info = JSON.parse(header(path.join(outDir, modelFile)).__metadata__.facesr);
const fanMetrics = readJson(path.join(values['fan-run'], 'fan_metrics.json'));
const fanRun = readJson(path.join(values['fan-run'], 'last_run.json'));
const stages = [...values.pretrain, values.run].map(runRecord);
const cpus = os.cpus();
const hardware = `${cpus[0]?.model ?? 'CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, no GPU; Debian libtorch 1.13 (CPU), Node ${process.version}`;

const manifestPath = path.join(outDir, 'manifest.json');
const manifest = existsSync(manifestPath) ? readJson(manifestPath) : { models: {} };
manifest.format = 'facesr-manifest/1';
manifest.models[values.name] = {
  file: modelFile,
  sha256: sha256(path.join(outDir, modelFile)),
  bytes: statSync(path.join(outDir, modelFile)).size,
  description:
    info.mode === 'full'
      ? 'Restoration network R of the semi-cycled GAN with the FAN heatmap loss (method.md), cpu preset with the changes of docs/training.md (degraders with an input skip, R adversarial weight betaR, EMA with its own batch-norm statistics): 16x16 face crops framed as in training -> 64x64.'
      : `Restoration network R (method.md architecture, cpu preset) trained in mode '${info.mode}' (L1 only${info.pixelDegrade ? `, LR by ${info.pixelDegrade} degradation` : ''}): an interim model until the full method is trained; 16x16 face crops framed as in training -> 64x64.`,
  architecture: info.arch,
  preset: info.preset,
  method: info.mode,
  lambda_hm: info.lambdaHm,
  ...(info.weights ? { loss_weights: info.weights } : {}),
  ...(info.pixelDegrade ? { lr_degradation: info.pixelDegrade } : {}),
  input: {
    size: 16,
    range: '[-1, 1] RGB',
    framing: 'square 1.2x the detector box, shifted up 0.034 of its side',
  },
  output: { size: 64, scale: 4 },
  training: {
    stages,
    total_steps: stages.reduce((a, s) => a + (s.steps ?? 0), 0),
    total_train_seconds: stages.reduce((a, s) => a + s.train_seconds, 0),
    data: {
      hr: "CelebA crops (../shared/data/hr/celeba, 16,000 images of 3,200 identities, 128x128 resized to 64x64); 10% of the identities held out (seed 2020, listed in the run's holdout.txt) and never trained on",
      lr:
        values['lr-data'] ??
        "real low-resolution faces cut by 'facesr data harvest' from ../shared/data/real_lr (WIDER, CMU+MIT) and ../shared/data/photos, resized to 16x16",
      augmentation: 'horizontal flip',
    },
    hardware,
    fan: fanFile,
  },
  metrics: values.eval.map(metricsFrom),
  notes: values.note,
};
manifest.models[`fan-${values.name.replace(/^facesr-/, '')}`] = {
  file: fanFile,
  sha256: sha256(path.join(outDir, fanFile)),
  bytes: statSync(path.join(outDir, fanFile)).size,
  description:
    'Face alignment network (stacked hourglasses, 68 heatmaps at 16x16 from a 64x64 face), frozen teacher of the heatmap loss. Not used to grade anything.',
  architecture: fanMetrics.config,
  training: {
    steps: fanMetrics.steps,
    batch: fanMetrics.batch_size,
    train_faces: fanMetrics.train_faces,
    seconds: Math.round(fanRun.seconds),
    data: '../shared/data/landmarks/ytf train split minus an identity-disjoint hold-out',
    hardware,
  },
  metrics: { nme_percent: fanMetrics.nme_percent, notes: fanMetrics.notes },
};
writeFileSync(tmp(manifestPath), `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(tmp(manifestPath), manifestPath);
console.log(`wrote ${path.join(outDir, modelFile)}, ${path.join(outDir, fanFile)}, ${manifestPath}`);

// The README's model-card table, from the manifest just written.
const shipped = manifest.models[values.name];
const rows = [
  '| LR | method | PSNR (dB) | PSNR Y (dB) | SSIM | identity cosine | identity distance | landmark NME % |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const ev of shipped.metrics) {
  for (const name of ['bicubic', values.name]) {
    const x = ev.methods[name];
    const f = (k, p = 2) => (x[k] ? x[k].mean.toFixed(p) : '-');
    rows.push(
      `| ${ev.degradation} | ${name} | ${f('psnr')} | ${f('psnr_y')} | ${f('ssim', 4)} | ${f('identity_cosine', 4)} | ${f('identity_distance', 3)} | ${f('landmark_nme', 1)} |`,
    );
  }
  const v = ev.methods[values.name].vs_bicubic ?? {};
  const sgn = (n, p) => `${n >= 0 ? '+' : ''}${n.toFixed(p)}`;
  const g = (k, p = 2) =>
    v[k] ? `${sgn(v[k].mean, p)} [${sgn(v[k].ci95[0], p)}, ${sgn(v[k].ci95[1], p)}]` : '-';
  rows.push(
    `| ${ev.degradation} | difference | ${g('psnr')} | ${g('psnr_y')} | ${g('ssim', 4)} | ${g('identity_cosine', 4)} | ${g('identity_distance', 3)} | ${g('landmark_nme', 1)} |`,
  );
}
console.log(`\n${rows.join('\n')}`);
