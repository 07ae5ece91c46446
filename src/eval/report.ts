// eval's outputs: the JSON (per method: mean, 95% interval, face count; per face scores) and a
// Markdown report with a table and an image grid (LR | each method | HR).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeImage } from '../data/index.js';
import type { EvalResult, MethodResult } from './run.js';
import type { LrEvalResult, LrSummary } from './reallr.js';
import type { Image8 } from './metrics.js';
import type { Summary } from './stats.js';

/** The JSON eval writes (NaN and Infinity as null and "Infinity"); for the HR and the real-LR protocol. */
export function resultJson(
  r: { protocol: Record<string, unknown>; seconds: number; methods: { name: string }[]; faces: unknown[] },
  extra: Record<string, unknown> = {},
): string {
  const methods: Record<string, unknown> = {};
  for (const m of r.methods) {
    const { name, ...rest } = m;
    methods[name] = rest;
  }
  const out = {
    ...extra,
    protocol: r.protocol,
    seconds: r.seconds,
    methods,
    faces: r.faces,
  };
  return (
    JSON.stringify(out, (_k, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? null : String(v)) : v,
    ) + '\n'
  );
}

function fmt(s: Summary | undefined, digits: number): string {
  if (!s || s.n === 0) return '-';
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
  return Number.isFinite(s.ci95[0]) ? `${f(s.mean)} [${f(s.ci95[0])}, ${f(s.ci95[1])}]` : f(s.mean);
}

const COLUMNS: [keyof MethodResult & string, string, number][] = [
  ['psnr', 'PSNR RGB (dB)', 2],
  ['psnr_y', 'PSNR Y (dB)', 2],
  ['ssim', 'SSIM RGB', 4],
  ['ssim_y', 'SSIM Y', 4],
  ['identity_cosine', 'identity cosine', 4],
  ['identity_distance', 'identity distance', 4],
  ['landmark_nme', 'landmark NME %', 2],
];

/** The Markdown table: mean [95% interval] per method. */
export function markdownTable(r: EvalResult): string {
  const cols = COLUMNS.filter(([k]) => r.methods.some((m) => m[k] !== undefined));
  const lines = [
    `| method | faces | ${cols.map((c) => c[1]).join(' | ')} |`,
    `| --- | ---: | ${cols.map(() => '---:').join(' | ')} |`,
  ];
  for (const m of r.methods)
    lines.push(`| ${m.name} | ${m.faces} | ${cols.map(([k, , d]) => fmt(m[k] as Summary, d)).join(' | ')} |`);
  const diffs = r.methods.filter((m) => m.vs_bicubic);
  if (diffs.length) {
    lines.push('', 'Paired difference to bicubic (method - bicubic, per face):', '');
    lines.push(
      `| method | ${cols.map((c) => c[1]).join(' | ')} |`,
      `| --- | ${cols.map(() => '---:').join(' | ')} |`,
    );
    for (const m of diffs)
      lines.push(`| ${m.name} | ${cols.map(([k, , d]) => fmt(m.vs_bicubic![k], d)).join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * An SVG forest plot of the paired differences to bicubic: one panel per metric, one row per method
 * (mean as a dot, 95% interval as a bar), the zero line, and which side is better. Each panel has
 * its own symmetric scale (the largest |interval end|). Methods without differences are left out.
 */
export function differencePlot(
  methods: readonly { name: string; vs_bicubic?: Record<string, Summary> }[],
  metrics: readonly { key: string; label: string; higherBetter: boolean }[],
): string | null {
  const rows = methods.filter((m) => m.vs_bicubic);
  const panels = metrics.filter((k) => rows.some((m) => m.vs_bicubic![k.key]?.n));
  if (!rows.length || !panels.length) return null;
  const W = 260; // one panel
  const rowH = 22;
  const top = 38;
  const left = 120;
  const h = top + rows.length * rowH + 26;
  const parts: string[] = [];
  panels.forEach((k, pi) => {
    const x0 = left + pi * (W + 20);
    const ends = rows.flatMap((m) => {
      const d = m.vs_bicubic![k.key];
      return d ? [Math.abs(d.ci95[0]), Math.abs(d.ci95[1]), Math.abs(d.mean)] : [];
    });
    const span = Math.max(...ends.filter(Number.isFinite), 1e-9) * 1.1;
    const X = (v: number) => x0 + W / 2 + (v / span) * (W / 2);
    parts.push(
      `<text x="${x0 + W / 2}" y="14" text-anchor="middle" font-weight="bold">${esc(k.label)}</text>`,
      `<text x="${x0 + W / 2}" y="28" text-anchor="middle" font-size="10" fill="#555">${k.higherBetter ? 'better to the right' : 'better to the left'}</text>`,
      `<rect x="${x0}" y="${top - 4}" width="${W}" height="${rows.length * rowH + 4}" fill="none" stroke="#ccc"/>`,
      `<line x1="${X(0)}" y1="${top - 4}" x2="${X(0)}" y2="${top + rows.length * rowH}" stroke="#888" stroke-dasharray="3,3"/>`,
      `<text x="${x0}" y="${h - 8}" font-size="10">${(-span).toPrecision(2)}</text>`,
      `<text x="${x0 + W}" y="${h - 8}" font-size="10" text-anchor="end">${span.toPrecision(2)}</text>`,
    );
    rows.forEach((m, ri) => {
      const d = m.vs_bicubic![k.key];
      if (!d?.n) return;
      const y = top + ri * rowH + rowH / 2;
      const good = k.higherBetter ? d.ci95[0] > 0 : d.ci95[1] < 0;
      const bad = k.higherBetter ? d.ci95[1] < 0 : d.ci95[0] > 0;
      const colour = good ? '#1a7f37' : bad ? '#c62828' : '#555';
      parts.push(
        `<line class="ci" x1="${X(d.ci95[0]).toFixed(1)}" y1="${y}" x2="${X(d.ci95[1]).toFixed(1)}" y2="${y}" stroke="${colour}" stroke-width="3"/>`,
        `<circle class="mean" data-method="${esc(m.name)}" data-metric="${esc(k.key)}" data-mean="${d.mean}" cx="${X(d.mean).toFixed(1)}" cy="${y}" r="4" fill="${colour}"/>`,
      );
    });
  });
  rows.forEach((m, ri) =>
    parts.push(
      `<text x="${left - 8}" y="${top + ri * rowH + rowH / 2 + 4}" text-anchor="end">${esc(m.name)}</text>`,
    ),
  );
  const w = left + panels.length * (W + 20);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<title>Paired difference to bicubic (method - bicubic), mean and 95% interval</title>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** The metrics plotted for the HR protocol and for real LR (differencePlot). */
export const HR_PLOT = [
  { key: 'psnr', label: 'PSNR RGB (dB)', higherBetter: true },
  { key: 'ssim', label: 'SSIM RGB', higherBetter: true },
  { key: 'identity_cosine', label: 'identity cosine', higherBetter: true },
  { key: 'landmark_nme', label: 'landmark NME %', higherBetter: false },
];
export const LR_PLOT = [
  { key: 'niqe', label: 'NIQE', higherBetter: false },
  { key: 'brisque', label: 'BRISQUE', higherBetter: false },
  { key: 'detection_rate', label: 'detection rate', higherBetter: true },
];

function nearestUp(img: Image8, f: number): Image8 {
  const w = img.width * f;
  const h = img.height * f;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = (Math.floor(y / f) * img.width + Math.floor(x / f)) * 3;
      const q = (y * w + x) * 3;
      out[q] = img.data[p]!;
      out[q + 1] = img.data[p + 1]!;
      out[q + 2] = img.data[p + 2]!;
    }
  return { data: out, width: w, height: h, channels: 3 };
}

/** Rows of faces, columns LR (nearest, enlarged) | each method | HR (when there is one), with a 2 px white gap. */
export function gridImage(r: {
  methods: unknown[];
  grid: { lr: Image8; outputs: Image8[]; hr?: Image8 }[];
}): Image8 {
  const rows = r.grid;
  const tile = rows[0]?.outputs[0]?.width ?? 64;
  const withHr = rows.some((g) => g.hr);
  const cols = 1 + r.methods.length + (withHr ? 1 : 0);
  const gap = 2;
  const W = cols * tile + (cols + 1) * gap;
  const H = Math.max(1, rows.length) * tile + (Math.max(1, rows.length) + 1) * gap;
  const data = new Uint8Array(W * H * 3).fill(255);
  const put = (img: Image8, row: number, col: number) => {
    const ox = gap + col * (tile + gap);
    const oy = gap + row * (tile + gap);
    for (let y = 0; y < Math.min(tile, img.height); y++)
      for (let x = 0; x < Math.min(tile, img.width); x++)
        for (let c = 0; c < 3; c++)
          data[((oy + y) * W + ox + x) * 3 + c] = img.data[(y * img.width + x) * 3 + c]!;
  };
  rows.forEach((g, i) => {
    put(nearestUp(g.lr, Math.max(1, Math.floor(tile / g.lr.width))), i, 0);
    g.outputs.forEach((o, k) => put(o, i, k + 1));
    if (g.hr) put(g.hr, i, cols - 1);
  });
  return { data, width: W, height: H, channels: 3 };
}

/** The opening of a report page: doctype, title, the shared style, the heading. */
function pageHead(title: string): string[] {
  return [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${esc(title)}</title>`,
    '<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}td:first-child{text-align:left}img{image-rendering:pixelated;width:calc(2*var(--w))}</style>',
    '</head><body>',
    `<h1>${esc(title)}</h1>`,
  ];
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The same table as HTML. */
export function htmlTable(r: EvalResult): string {
  const cols = COLUMNS.filter(([k]) => r.methods.some((m) => m[k] !== undefined));
  const head = `<tr><th>method</th><th>faces</th>${cols.map((c) => `<th>${esc(c[1])}</th>`).join('')}</tr>`;
  const rows = r.methods.map(
    (m) =>
      `<tr><td>${esc(m.name)}</td><td>${m.faces}</td>${cols.map(([k, , d]) => `<td>${esc(fmt(m[k] as Summary, d))}</td>`).join('')}</tr>`,
  );
  return `<table>\n${head}\n${rows.join('\n')}\n</table>`;
}

/** Writes DIR/report.md, DIR/report.html and DIR/grid.png. */
export async function writeReport(dir: string, r: EvalResult, title: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const g = gridImage(r);
  await writeImage(path.join(dir, 'grid.png'), { ...g, data: new Uint8Array(g.data) });
  const plot = differencePlot(r.methods, HR_PLOT);
  if (plot) writeFileSync(path.join(dir, 'differences.svg'), plot);
  const p = r.protocol;
  const md = [
    `# ${title}`,
    '',
    `${r.methods[0]?.faces ?? 0} faces, degradation \`${String(p.degradation)}\` (seed ${String(p.seed)}), ${r.seconds.toFixed(0)} s.`,
    '',
    'Mean [95% interval] over faces. Interval: Student-t on the per-face scores (mean -/+ t sd / sqrt(n)).',
    '',
    markdownTable(r),
    '',
    ...(plot ? ['![paired differences to bicubic](differences.svg)', ''] : []),
    'Reading the numbers:',
    '',
    '- PSNR and SSIM are higher-is-better; identity cosine higher-is-better, identity distance and landmark NME lower-is-better.',
    "- Identity cosine: face-api's 128-d descriptors are not centred, so even different people score about 0.9 (in a small",
    '  sample of CelebA 64x64 crops: 0.92 between different people, 0.95 between two photos of one person); the distance, with',
    "  dlib's same-person threshold of about 0.6, is easier to read.",
    "- Landmark NME compares face-api's 68 points on the restored face with its points on the HR face. The net often",
    '  fails on blurry faces (points collapse towards the centre), so a high NME says the judge cannot find the',
    '  features, not only that they moved.',
    '',
    '## Protocol',
    '',
    ...Object.entries(p).map(([k, v]) => `- ${k}: ${String(v)}`),
    '',
    '## Methods',
    '',
    ...r.methods.map((m) => `- ${m.name}: ${m.description}`),
    '',
    '## Faces',
    '',
    `Columns: LR (nearest-neighbour, enlarged) | ${r.methods.map((m) => m.name).join(' | ')} | HR.`,
    '',
    '![grid](grid.png)',
    '',
    ...r.grid.map((g, i) => `${i + 1}. ${path.basename(g.file)}`),
    '',
  ].join('\n');
  const file = path.join(dir, 'report.md');
  writeFileSync(file, md);
  const html = [
    ...pageHead(title),
    `<p>${r.methods[0]?.faces ?? 0} faces, degradation <code>${esc(String(p.degradation))}</code> (seed ${esc(String(p.seed))}). Mean [95% interval] over faces (Student-t).</p>`,
    htmlTable(r),
    ...(plot
      ? ['<p><img src="differences.svg" alt="paired differences to bicubic" style="width:auto"></p>']
      : []),
    '<h2>Protocol</h2><ul>',
    ...Object.entries(p).map(([k, v]) => `<li>${esc(k)}: ${esc(String(v))}</li>`),
    '</ul><h2>Methods</h2><ul>',
    ...r.methods.map((m) => `<li>${esc(m.name)}: ${esc(m.description)}</li>`),
    `</ul><h2>Faces</h2><p>LR | ${esc(r.methods.map((m) => m.name).join(' | '))} | HR</p>`,
    `<img src="grid.png" alt="grid" style="--w:${g.width}px">`,
    '</body></html>',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'report.html'), html);
  return file;
}

const LR_COLUMNS: [keyof LrSummary & string, string, number][] = [
  ['niqe', 'NIQE (32 px blocks)', 3],
  ['brisque', 'BRISQUE', 2],
  ['detection_rate', 'detection rate', 3],
];

/** Markdown tables of the real-LR protocol: all faces, each set, paired difference to bicubic. */
export function lrMarkdownTable(r: LrEvalResult): string {
  const cols = LR_COLUMNS.filter(([k]) => r.methods.some((m) => m[k] !== undefined));
  const head = (first: string) => [
    `| ${first} | faces | ${cols.map((c) => c[1]).join(' | ')} |`,
    `| --- | ---: | ${cols.map(() => '---:').join(' | ')} |`,
  ];
  const row = (label: string, s: LrSummary) =>
    `| ${label} | ${s.faces} | ${cols.map(([k, , d]) => fmt(s[k] as Summary | undefined, d)).join(' | ')} |`;
  const lines = [...head('method'), ...r.methods.map((m) => row(m.name, m))];
  const sets = Object.keys(r.methods[0]?.sets ?? {});
  if (sets.length) {
    lines.push('', 'Per set:', '', ...head('set, method'));
    for (const set of sets) for (const m of r.methods) lines.push(row(`${set}, ${m.name}`, m.sets![set]!));
  }
  const diffs = r.methods.filter((m) => m.vs_bicubic);
  if (diffs.length) {
    lines.push('', 'Paired difference to bicubic (method - bicubic, per face):', '');
    lines.push(
      `| method | ${cols.map((c) => c[1]).join(' | ')} |`,
      `| --- | ${cols.map(() => '---:').join(' | ')} |`,
    );
    for (const m of diffs)
      lines.push(`| ${m.name} | ${cols.map(([k, , d]) => fmt(m.vs_bicubic![k], d)).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Writes DIR/report.md, DIR/report.html (the tables) and DIR/grid.png (LR | methods) for the real-LR protocol. */
export async function writeLrReport(dir: string, r: LrEvalResult, title: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const g = gridImage(r);
  await writeImage(path.join(dir, 'grid.png'), { ...g, data: new Uint8Array(g.data) });
  const plot = differencePlot(r.methods, LR_PLOT);
  if (plot) writeFileSync(path.join(dir, 'differences.svg'), plot);
  const p = r.protocol;
  const table = lrMarkdownTable(r);
  const intro = `${r.methods[0]?.faces ?? 0} real low-resolution faces (${String(p.sets)}), ${r.seconds.toFixed(0)} s. No HR exists: no-reference measures and a detector only.`;
  const reading = [
    'NIQE and BRISQUE are lower-is-better; the detection rate higher-is-better.',
    'NIQE here uses 32x32 blocks on 64x64 outputs (the standard is 96x96 blocks): it ranks methods on the same faces but is not comparable with NIQE values published for larger images.',
    'Sharpening artefacts can look "natural" to NIQE and BRISQUE: read them with the images below.',
  ];
  const md = [
    `# ${title}`,
    '',
    intro,
    '',
    'Mean [95% interval] over faces. Interval: Student-t on the per-face scores (mean -/+ t sd / sqrt(n)).',
    '',
    table,
    '',
    ...(plot ? ['![paired differences to bicubic](differences.svg)', ''] : []),
    'Reading the numbers:',
    '',
    ...reading.map((l) => `- ${l}`),
    '',
    '## Protocol',
    '',
    ...Object.entries(p).map(([k, v]) => `- ${k}: ${String(v)}`),
    '',
    '## Methods',
    '',
    ...r.methods.map((m) => `- ${m.name}: ${m.description}`),
    '',
    '## Faces',
    '',
    `Columns: LR (nearest-neighbour, enlarged) | ${r.methods.map((m) => m.name).join(' | ')}.`,
    '',
    '![grid](grid.png)',
    '',
    ...r.grid.map((x, i) => `${i + 1}. ${path.basename(x.file)}`),
    '',
  ].join('\n');
  const file = path.join(dir, 'report.md');
  writeFileSync(file, md);
  const htmlTables = table
    .split('\n\n')
    .map((block) => {
      const rows = block.split('\n').filter((l) => l.startsWith('|') && !l.startsWith('| ---'));
      if (!rows.length) return `<p>${esc(block)}</p>`;
      const cells = (l: string) =>
        l
          .slice(1, -1)
          .split('|')
          .map((c) => esc(c.trim()));
      const [h, ...body] = rows;
      return `<table>\n<tr>${cells(h!)
        .map((c) => `<th>${c}</th>`)
        .join('')}</tr>\n${body
        .map(
          (l) =>
            `<tr>${cells(l)
              .map((c) => `<td>${c}</td>`)
              .join('')}</tr>`,
        )
        .join('\n')}\n</table>`;
    })
    .join('\n');
  const html = [
    ...pageHead(title),
    `<p>${esc(intro)} Mean [95% interval] over faces (Student-t).</p>`,
    htmlTables,
    ...(plot
      ? ['<p><img src="differences.svg" alt="paired differences to bicubic" style="width:auto"></p>']
      : []),
    '<h2>Reading the numbers</h2><ul>',
    ...reading.map((l) => `<li>${esc(l)}</li>`),
    '</ul><h2>Protocol</h2><ul>',
    ...Object.entries(p).map(([k, v]) => `<li>${esc(k)}: ${esc(String(v))}</li>`),
    '</ul><h2>Methods</h2><ul>',
    ...r.methods.map((m) => `<li>${esc(m.name)}: ${esc(m.description)}</li>`),
    `</ul><h2>Faces</h2><p>LR | ${esc(r.methods.map((m) => m.name).join(' | '))}</p>`,
    `<img src="grid.png" alt="grid" style="--w:${g.width}px">`,
    '</body></html>',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'report.html'), html);
  return file;
}
