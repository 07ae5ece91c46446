// Training reports: a progress line, JSONL logs, sample grids and loss curves.
import { appendFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { F, tidy, cat, type Tensor, tensorToImage } from '../tensor/index.js';
import { writeFileAtomic } from '../io/index.js';

/** One line that rewrites itself on a terminal (or prints every `every` steps otherwise). */
export class Progress {
  private readonly t0 = performance.now();
  private readonly tty = Boolean(process.stderr.isTTY);
  constructor(
    private readonly total: number,
    private readonly start: number,
    private readonly every = 50,
  ) {}
  update(step: number, losses: Record<string, number>, keys: string[]): void {
    const done = step - this.start;
    const secs = (performance.now() - this.t0) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - step) / rate : 0;
    const pct = ((100 * step) / this.total).toFixed(1);
    const parts = keys.filter((k) => k in losses).map((k) => `${k} ${losses[k]!.toFixed(4)}`);
    const line = `step ${step}/${this.total} (${pct}%) ${rate.toFixed(2)} it/s eta ${fmtTime(eta)} | ${parts.join(' ')}`;
    if (this.tty) process.stderr.write(`\r${line.slice(0, (process.stderr.columns ?? 160) - 1)}\x1b[K`);
    else if (step % this.every === 0 || step === this.total) process.stderr.write(`${line}\n`);
  }
  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/** Loss records of log.jsonl up to a step (for the curves after a resume). */
export async function readHistory(
  file: string,
  upTo: number,
): Promise<{ step: number; losses: Record<string, number> }[]> {
  if (!existsSync(file)) return [];
  const out: { step: number; losses: Record<string, number> }[] = [];
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try {
      const { step, time: _t, lr: _lr, ...losses } = JSON.parse(line) as Record<string, number>;
      if (step! <= upTo) out.push({ step: step!, losses });
    } catch {
      // a torn last line after a crash carries nothing
    }
  }
  return out;
}

/** Appends one JSON object per line. */
export async function logJsonl(file: string, record: Record<string, unknown>): Promise<void> {
  await appendFile(file, `${JSON.stringify(record)}\n`);
}

/**
 * A PNG grid with one row per face: LR (nearest, enlarged) | bicubic | SR | HR; inputs in [-1, 1].
 * lr [B,3,h,w], sr and hr [B,3,H,W].
 */
export async function writeSampleGrid(
  file: string,
  lr: Tensor,
  sr: Tensor,
  hr: Tensor,
  rows = 4,
): Promise<void> {
  const img = tidy(() => {
    const n = Math.min(rows, lr.shape[0]!);
    const size: [number, number] = [hr.shape[2]!, hr.shape[3]!];
    const l = lr.detach().slice(0, 0, n).float();
    const near = F.interpolate(l, { size, mode: 'nearest' });
    const bic = F.interpolate(l, { size, mode: 'bicubic', alignCorners: false }).clamp(-1, 1);
    const s = sr.detach().slice(0, 0, n).float().clamp(-1, 1);
    const h = hr.detach().slice(0, 0, n).float();
    const row = cat([near, bic, s, h], 3); // [n, 3, H, 4W]
    return cat(row.split(1, 0), 2).squeeze(0); // [3, nH, 4W]
  });
  try {
    const { pixels, width, height, channels } = tensorToImage(img, { range: '-1,1' });
    const png = await sharp(Buffer.from(pixels), { raw: { width, height, channels: channels as 3 } })
      .png()
      .toBuffer();
    await writeFileAtomic(file, png);
  } finally {
    img.dispose();
  }
}

/** Loss curves (log-scale y when all values are positive) as SVG, and rendered to PNG. */
export async function writeLossCurves(
  fileBase: string,
  history: { step: number; losses: Record<string, number> }[],
): Promise<void> {
  if (history.length < 2) return;
  const keys = [...new Set(history.flatMap((h) => Object.keys(h.losses)))].sort();
  const W = 900;
  const H = 160;
  const pad = 40;
  const colors = [
    '#1f77b4',
    '#d62728',
    '#2ca02c',
    '#9467bd',
    '#ff7f0e',
    '#17becf',
    '#8c564b',
    '#e377c2',
    '#7f7f7f',
    '#bcbd22',
  ];
  const x0 = history[0]!.step;
  const x1 = history[history.length - 1]!.step;
  const panels = keys.map((k, i) => {
    const pts = history
      .filter((h) => Number.isFinite(h.losses[k]))
      .map((h) => [h.step, h.losses[k]!] as const);
    if (pts.length < 2) return '';
    const ys = pts.map((p) => p[1]);
    const logy = ys.every((y) => y > 0);
    const f = (y: number) => (logy ? Math.log10(y) : y);
    const lo = Math.min(...ys.map(f));
    const hi = Math.max(...ys.map(f));
    const sx = (x: number) => pad + ((x - x0) / Math.max(1, x1 - x0)) * (W - 2 * pad);
    const sy = (y: number) => i * H + H - 20 - ((f(y) - lo) / Math.max(1e-12, hi - lo)) * (H - 40);
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
    const label = `${k}: ${ys[ys.length - 1]!.toPrecision(4)} (range ${Math.min(...ys).toPrecision(3)}-${Math.max(...ys).toPrecision(3)}${logy ? ', log' : ''})`;
    return `<g><rect x="${pad}" y="${i * H + 10}" width="${W - 2 * pad}" height="${H - 20}" fill="none" stroke="#ccc"/><path d="${d}" fill="none" stroke="${colors[i % colors.length]}" stroke-width="1.5"/><text x="${pad + 6}" y="${i * H + 26}" font-family="sans-serif" font-size="13">${label}</text></g>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * keys.length + 20}" viewBox="0 0 ${W} ${H * keys.length + 20}"><rect width="100%" height="100%" fill="white"/>${panels.join('')}<text x="${pad}" y="${H * keys.length + 14}" font-family="sans-serif" font-size="12">step ${x0} - ${x1}</text></svg>`;
  await writeFileAtomic(`${fileBase}.svg`, svg);
  await writeFileAtomic(`${fileBase}.png`, await sharp(Buffer.from(svg)).png().toBuffer());
}

/**
 * Stop requests for a training loop: SIGINT (Ctrl-C) or SIGTERM (a scheduler, `timeout`) ask it to
 * finish the step, save and exit. A second signal quits at once, unless it comes within a second of
 * the first: `timeout` and some shells deliver one Ctrl-C both to the process and to its group, and
 * that must not lose the checkpoint. `dispose()` removes the handlers.
 */
export function stopOnSignal(command: string): {
  readonly requested: boolean;
  request(): void;
  dispose(): void;
} {
  let requested = false;
  let first = 0;
  const onSig = () => {
    if (requested && Date.now() - first > 1000) process.exit(130);
    if (requested) return;
    requested = true;
    first = Date.now();
    console.error(
      `\nfacesr ${command}: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)`,
    );
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return {
    get requested() {
      return requested;
    },
    request() {
      requested = true;
    },
    dispose() {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    },
  };
}
