#!/usr/bin/env node
// Writes differences.svg beside an eval JSON's report from the JSON alone (for reports made before
// the plot existed): node dev/eval_plots.mjs RESULT.json OUT.svg [hr|lr]
import { readFileSync, writeFileSync } from 'node:fs';
import { HR_PLOT, LR_PLOT, differencePlot } from '../dist/src/eval/report.js';

const [json, out, kind = 'hr'] = process.argv.slice(2);
if (!json || !out) {
  console.error('usage: node dev/eval_plots.mjs RESULT.json OUT.svg [hr|lr]');
  process.exit(2);
}
const r = JSON.parse(readFileSync(json, 'utf8'));
const methods = Object.entries(r.methods).map(([name, m]) => ({
  name,
  vs_bicubic: m.vs_bicubic ?? undefined,
}));
const metrics = kind === 'lr' ? LR_PLOT : HR_PLOT;
const svg = differencePlot(methods, metrics);
if (!svg) {
  console.error(`${json}: no paired differences to plot`);
  process.exit(1);
}
writeFileSync(out, svg);
console.log(`wrote ${out}`);
