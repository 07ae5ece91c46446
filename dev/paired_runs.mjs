#!/usr/bin/env node
// Paired per-face difference between two methods scored by two `facesr eval` JSON files on the same
// faces: mean(A - B) over the faces both scored, with the 95% Student-t interval of `facesr eval`
// (src/eval/stats.ts summarize, the interval of its vs_bicubic columns). Needs `npm run build:ts`.
//
//   node dev/paired_runs.mjs A.json METHOD_A B.json METHOD_B [--metrics psnr,identity_cosine]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { summarize } from '../dist/src/eval/stats.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { metrics: { type: 'string', default: 'psnr,identity_cosine' } },
});
if (positionals.length !== 4) {
  console.error('usage: node dev/paired_runs.mjs A.json METHOD_A B.json METHOD_B [--metrics m1,m2]');
  process.exit(2);
}
const [fileA, methodA, fileB, methodB] = positionals;
function scores(file, method) {
  const out = new Map();
  for (const f of JSON.parse(readFileSync(file, 'utf8')).faces ?? []) {
    if (f.scores?.[method]) out.set(f.file, f.scores[method]);
  }
  if (out.size === 0) throw new Error(`${file}: no per-face scores for method '${method}'`);
  return out;
}
const a = scores(fileA, methodA);
const b = scores(fileB, methodB);
const sign = (x) => (x >= 0 ? '+' : '') + x.toFixed(4);
for (const m of values.metrics.split(',')) {
  const d = [];
  for (const [file, s] of a) {
    const t = b.get(file);
    if (t && Number.isFinite(s[m]) && Number.isFinite(t[m])) d.push(s[m] - t[m]);
  }
  const r = summarize(d);
  console.log(
    `${methodA} - ${methodB} ${m}: ${sign(r.mean)} [${sign(r.ci95[0])}, ${sign(r.ci95[1])}] over ${r.n} faces`,
  );
}
