// The report's plot of paired differences to bicubic (src/eval/report.ts differencePlot).
import test from 'node:test';
import assert from 'node:assert/strict';
import { differencePlot } from '../src/eval/report.js';
import type { Summary } from '../src/eval/stats.js';

const S = (mean: number, lo: number, hi: number): Summary => ({ mean, ci95: [lo, hi], n: 10 }) as Summary;
const METRICS = [
  { key: 'psnr', label: 'PSNR', higherBetter: true },
  { key: 'landmark_nme', label: 'NME', higherBetter: false },
];

test('differencePlot: a dot and an interval per method and metric, coloured by the better side', () => {
  const svg = differencePlot(
    [
      { name: 'bicubic' },
      { name: 'model', vs_bicubic: { psnr: S(0.3, 0.2, 0.4), landmark_nme: S(-5, -6, -4) } },
      { name: 'full', vs_bicubic: { psnr: S(-5, -5.2, -4.8), landmark_nme: S(1, -1, 3) } },
    ],
    METRICS,
  )!;
  assert.ok(svg.startsWith('<svg'), 'not an SVG');
  const dots = [
    ...svg.matchAll(
      /<circle class="mean" data-method="([^"]+)" data-metric="([^"]+)" data-mean="([^"]+)" cx="([^"]+)"[^>]*fill="([^"]+)"/g,
    ),
  ];
  assert.deepEqual(
    dots.map((d) => [d[1], d[2], Number(d[3]), d[5]]),
    [
      ['model', 'psnr', 0.3, '#1a7f37'], // higher is better, interval above 0: better
      ['full', 'psnr', -5, '#c62828'], // interval below 0: worse
      ['model', 'landmark_nme', -5, '#1a7f37'], // lower is better
      ['full', 'landmark_nme', 1, '#555'], // interval spans 0: no difference shown
    ],
  );
  // Within a panel, a positive mean sits right of a negative one.
  const x = (m: string, k: string) => Number(dots.find((d) => d[1] === m && d[2] === k)![4]);
  assert.ok(x('model', 'psnr') > x('full', 'psnr'));
  assert.equal([...svg.matchAll(/<line class="ci"/g)].length, 4);
  assert.match(svg, />better to the right</);
  assert.match(svg, />better to the left</);
  assert.equal(differencePlot([{ name: 'bicubic' }], METRICS), null);
});
