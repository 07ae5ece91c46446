// `npm run bench -- train`: one semi-cycle training iteration (src/train/scgan.ts SemiCycleTrainer.step,
// mode 'full': the four spectral-norm discriminators with hinge losses, then DF, R with the frozen
// FAN's heatmap loss, then DB, each with its Adam update; method.md section 3) against the same
// iteration written in PyTorch (bench/peers/train.py) in the same run, for the `paper` preset at batch
// 8 and the `cpu` preset at batch 16. Method and conventions: docs/benchmarks.md.
//
// Each preset gets its own PyTorch child (so each child's peak RSS is that preset's), built from the
// configs facesr's modules resolved; parameter counts must match network by network or the bench
// stops. Warm-up iterations on both sides, then alternating rounds of one iteration each; medians.
// The cpu preset runs first, so the facesr peak RSS printed after it is the cpu preset's alone.
// Last line: {"bench":"train","paper_ratio":P,"cpu_ratio":C,"cpu_ms":M,"peak_rss_mb":R}
// (ratio = facesr / PyTorch median iteration time; M = facesr cpu-preset median in ms; R = this
// process's peak RSS in MB over the whole run).
import path from 'node:path';
import {
  getNumThreads,
  manualSeed,
  rand,
  setNumThreads,
  tidy,
  engineInfo,
  cudaSynchronize,
  type Tensor,
} from '../src/tensor/index.js';
import { type FAN, buildModel, preset as presetConfig } from '../src/models/index.js';
import { SemiCycleTrainer, buildNetworks, NETWORK_NAMES, type Losses } from '../src/train/scgan.js';
import { turn } from './lib/srnet.js';
import { PythonPeer, cores, cpuModel, fmtMs, repoRoot, round, stats, type Stats } from './lib/common.js';

type PresetName = 'cpu' | 'paper';
const PRESETS: readonly PresetName[] = ['cpu', 'paper'];
const BATCH: Record<PresetName, number> = { cpu: 16, paper: 8 };
/** Timed iterations per side by default: the paper preset takes ~1 min per iteration on 2 cores. */
const DEFAULT_ITERS: Record<PresetName, number> = { cpu: 5, paper: 2 };

interface Options {
  presets: PresetName[];
  threads: number;
  warmup: number;
  /** null: DEFAULT_ITERS per preset. */
  iters: number | null;
  device: 'cpu' | 'cuda';
}

const USAGE =
  'options: --preset cpu|paper|all (all), --threads N (2), --warmup N (1), --iters N (cpu 5, paper 2), --device cpu|cuda (cpu)';

function parseArgs(argv: string[]): Options {
  const o: Options = { presets: [...PRESETS], threads: 2, warmup: 1, iters: null, device: 'cpu' };
  const bad = (arg: string): never => {
    console.error(`train: bad argument '${arg}' (${USAGE})`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) bad(arg);
    if (flag === '--preset') {
      if (value === 'all') o.presets = [...PRESETS];
      else if ((PRESETS as readonly string[]).includes(value!)) o.presets = [value as PresetName];
      else bad(arg);
      continue;
    }
    if (flag === '--device') {
      if (value === 'cpu' || value === 'cuda') o.device = value;
      else bad(arg);
      continue;
    }
    const n = Number(value);
    const min = flag === '--warmup' ? 0 : 1;
    if (!Number.isInteger(n) || n < min) bad(arg);
    if (flag === '--threads') o.threads = n;
    else if (flag === '--warmup') o.warmup = n;
    else if (flag === '--iters') o.iters = n;
    else bad(arg);
  }
  return o;
}

/** Per-iteration seconds and the minor page faults taken over them. */
interface Batch {
  times: number[];
  minflt: number;
  losses: Losses;
}

interface PeerBatch extends Batch {
  maxrss_mb: number;
}

interface PresetResult {
  name: PresetName;
  batch: number;
  facesr: Stats;
  torch: Stats | null;
  facesrFaults: number;
  torchFaults: number | null;
  facesrPeakMb: number;
  torchPeakMb: number | null;
}

const mb = (kib: number) => kib / 1024;
const fmtCount = (n: number) => n.toLocaleString('en-US');
const fmtLosses = (l: Losses) =>
  Object.entries(l)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');

async function runPreset(name: PresetName, o: Options): Promise<PresetResult> {
  const batch = BATCH[name];
  const iters = o.iters ?? DEFAULT_ITERS[name];
  manualSeed(0);
  const cfg = presetConfig(name);
  const nets = buildNetworks(cfg);
  const fan = buildModel(cfg.FAN) as FAN;
  if (o.device !== 'cpu') {
    for (const n of NETWORK_NAMES) nets[n].to({ device: o.device });
    fan.to({ device: o.device });
  }
  const trainer = new SemiCycleTrainer(nets, { mode: 'full', fan });
  const size = nets.DF.config.hrSize;
  const [hr, lr] = tidy(() => [
    rand([batch, 3, size, size]).mul(2).sub(1).to(o.device),
    rand([batch, 3, size / 4, size / 4])
      .mul(2)
      .sub(1)
      .to(o.device),
  ]) as [Tensor, Tensor];

  // The configs as facesr's modules resolved them (defaults filled in): the peer builds from these.
  const resolved = {
    R: nets.R.config,
    DF: nets.DF.config,
    DB: nets.DB.config,
    DL: nets.DL1.config,
    DH: nets.DH1.config,
    FAN: fan.config,
  };
  const ours: Record<string, number> = {};
  for (const n of NETWORK_NAMES) ours[n] = nets[n].numParameters();
  ours.FAN = fan.numParameters();

  const peerScript = path.join(repoRoot(), 'bench', 'peers', 'train.py');
  const peer = await PythonPeer.start(
    peerScript,
    [String(o.threads), String(batch), String(trainer.weights.lambdaHm), JSON.stringify(resolved), o.device],
    { OMP_NUM_THREADS: String(o.threads) },
  );
  const theirs = peer ? (peer.info.params as Record<string, number>) : null;

  console.log(
    `\n== preset ${name}, batch ${batch}: mode full, lambda_hm ${trainer.weights.lambdaHm}, ` +
      `${o.warmup} warm-up + ${iters} timed iterations per side` +
      (peer
        ? `; peer PyTorch ${String(peer.info.torch)}, threads ${String(peer.info.threads)}, device ${String(peer.info.device ?? 'cpu')}`
        : '; no peer'),
  );
  console.log(`${'network'.padEnd(8)} ${'facesr params'.padStart(14)} ${'torch params'.padStart(14)}`);
  const mismatched: string[] = [];
  for (const [n, count] of Object.entries(ours)) {
    const t = theirs?.[n];
    if (theirs && t !== count) mismatched.push(n);
    const mark = theirs ? (t === count ? '  equal' : '  MISMATCH') : '';
    console.log(
      `${n.padEnd(8)} ${fmtCount(count).padStart(14)} ${(t === undefined ? '-' : fmtCount(t)).padStart(14)}${mark}`,
    );
  }
  if (mismatched.length) {
    if (peer) await peer.close();
    throw new Error(`train: parameter counts differ from the PyTorch peer for ${mismatched.join(', ')}`);
  }

  const faults = () => process.resourceUsage().minorPageFault;
  let lastLosses: Losses = {};
  const ourBatch = async (n: number): Promise<Batch> => {
    const times: number[] = [];
    const f0 = faults();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      lastLosses = trainer.step({ hr, lr });
      if (o.device !== 'cpu') cudaSynchronize();
      await turn(); // the project's rule: the event loop turns once per training step (timed)
      times.push((performance.now() - t0) / 1e3);
    }
    return { times, minflt: faults() - f0, losses: lastLosses };
  };
  const peerBatch = (n: number) => peer!.request<PeerBatch>(`train ${n}`);

  if (o.warmup > 0) {
    await ourBatch(o.warmup);
    if (peer) await peerBatch(o.warmup);
  }
  const mine: number[] = [];
  const theirsT: number[] = [];
  let myFaults = 0;
  let theirFaults = 0;
  let peerLast: PeerBatch | null = null;
  for (let r = 0; r < iters; r++) {
    const a = await ourBatch(1);
    mine.push(...a.times);
    myFaults += a.minflt;
    let line = `${name} round ${r + 1}/${iters}: facesr ${(a.times[0]! * 1e3).toFixed(0)} ms`;
    if (peer) {
      const b = await peerBatch(1);
      peerLast = b;
      theirsT.push(...b.times);
      theirFaults += b.minflt;
      line += `; torch ${(b.times[0]! * 1e3).toFixed(0)} ms`;
    }
    console.log(line);
  }
  if (peer) await peer.close();
  for (const v of Object.values(lastLosses))
    if (!Number.isFinite(v)) throw new Error(`train: facesr loss is not finite (${fmtLosses(lastLosses)})`);
  console.log(`last losses: facesr ${fmtLosses(lastLosses)}`);
  if (peerLast) console.log(`             torch  ${fmtLosses(peerLast.losses)}`);

  hr.dispose();
  lr.dispose();
  for (const n of NETWORK_NAMES) nets[n].dispose();
  fan.dispose();
  return {
    name,
    batch,
    facesr: stats(mine),
    torch: peer ? stats(theirsT) : null,
    facesrFaults: Math.round(myFaults / Math.max(1, mine.length)),
    torchFaults: peer ? Math.round(theirFaults / Math.max(1, theirsT.length)) : null,
    facesrPeakMb: mb(process.resourceUsage().maxRSS),
    torchPeakMb: peerLast ? peerLast.maxrss_mb : null,
  };
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  setNumThreads(o.threads);
  const info = engineInfo();
  const backend = /parallel backend:\s*(\S+)/.exec(info.parallelInfo)?.[1] ?? 'unknown';
  console.log(
    `machine: ${cpuModel()}, ${cores()} cores; libtorch ${info.torchVersion} (parallel backend ${backend}, ` +
      `mkldnn ${info.mkldnn}); device ${o.device}${o.device === 'cpu' ? '' : ` (${info.cudaDeviceCount} GPU)`}; threads ${getNumThreads()}; node ${process.version}; float32`,
  );
  const mallocEnv = Object.entries(process.env)
    .filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES')
    .map(([k, v]) => `${k}=${v ?? ''}`);
  console.log(
    `malloc: ${mallocEnv.length ? `${mallocEnv.join(' ')} (both sides)` : 'glibc defaults (facesr tunes its own unless MALLOC_* is set)'}`,
  );

  const results: PresetResult[] = [];
  for (const name of PRESETS) if (o.presets.includes(name)) results.push(await runPreset(name, o));

  // ---- table ----
  const header = [
    'preset',
    'batch',
    'facesr ms (min-max)',
    'torch ms (min-max)',
    'ratio',
    'ratio of mins',
    'faults/iter facesr / torch',
    'peak RSS MB facesr / torch',
  ];
  const rows = results.map((r) => {
    const ms = (s: Stats) =>
      `${(s.median * 1e3).toFixed(0)} (${(s.min * 1e3).toFixed(0)}-${(s.max * 1e3).toFixed(0)})`;
    return [
      r.name,
      String(r.batch),
      ms(r.facesr),
      r.torch ? ms(r.torch) : '-',
      r.torch ? (r.facesr.median / r.torch.median).toFixed(3) : '-',
      r.torch ? (r.facesr.min / r.torch.min).toFixed(3) : '-',
      `${r.facesrFaults} / ${r.torchFaults ?? '-'}`,
      `${r.facesrPeakMb.toFixed(0)} / ${r.torchPeakMb === null ? '-' : r.torchPeakMb.toFixed(0)}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmtRow = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log('');
  console.log(fmtRow(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(fmtRow(row));
  console.log(
    'one iteration = 4 discriminator steps + DF + R (with FAN heatmap loss) + DB, each with its Adam update; ' +
      'medians (min-max) of alternating rounds; facesr peak RSS is the process peak after that preset ran',
  );
  for (const r of results)
    console.log(`${r.name}: facesr ${fmtMs(r.facesr)}${r.torch ? `; torch ${fmtMs(r.torch)}` : ''}`);

  const ratio = (n: PresetName) => {
    const r = results.find((x) => x.name === n);
    return r?.torch ? round(r.facesr.median / r.torch.median) : null;
  };
  const cpu = results.find((x) => x.name === 'cpu');
  console.log(
    JSON.stringify({
      bench: 'train',
      paper_ratio: ratio('paper'),
      cpu_ratio: ratio('cpu'),
      cpu_ms: cpu ? round(cpu.facesr.median * 1e3, 1) : null,
      peak_rss_mb: round(mb(process.resourceUsage().maxRSS), 1),
    }),
  );
}
