// `npm run bench -- enhance`: restored faces per second of R (the shipped model, or --model FILE, or
// the cpu preset's R with random weights when neither exists) on 2 threads against the same R with
// the same weights and input in PyTorch (bench/peers/enhance.py), alternating rounds; then
// tiny_selfie.jpg end to end through enhance(), split into decode, detect, restore, paste, encode.
// Conventions: docs/benchmarks.md. Last line: {"bench":"enhance","faces_per_s":F,"ratio_vs_pytorch":R,"selfie_s":S}
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  engineInfo,
  getNumThreads,
  manualSeed,
  rand,
  setNumThreads,
  tidy,
  inferenceMode,
} from '../src/tensor/index.js';
import { writeSafetensors } from '../src/io/index.js';
import {
  Restoration,
  preset,
  loadModel,
  resolveModel,
  saveModel,
  type LoadedModel,
} from '../src/models/index.js';
import { enhance, restoreFaces } from '../src/infer/enhance.js';
import { createDetector } from '../src/infer/detectors.js';
import { PythonPeer, cores, cpuModel, fmtMs, repoRoot, round, stats } from './lib/common.js';

const THREADS = 2;
const USAGE =
  'options: --model NAME|FILE, --batch N (64), --rounds N (5), --iters N (3), --selfie FILE, --detector-weights FILE, --no-selfie';

interface Options {
  model?: string;
  batch: number;
  rounds: number;
  iters: number;
  selfie: string;
  weights?: string;
  noSelfie: boolean;
}

function parseArgs(argv: string[]): Options {
  const root = repoRoot();
  const o: Options = {
    batch: 64,
    rounds: 5,
    iters: 3,
    selfie: path.resolve(root, '../shared/data/photos/tiny_selfie.jpg'),
    weights:
      process.env.FACESR_RETINAFACE || path.resolve(root, '../shared/models/retinaface_mnet025.safetensors'),
    noSelfie: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const val = () => inline ?? argv[++i] ?? '';
    const int = () => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 1) {
        console.error(`enhance: bad value for ${flag} (${USAGE})`);
        process.exit(2);
      }
      return n;
    };
    if (flag === '--model') o.model = val();
    else if (flag === '--batch') o.batch = int();
    else if (flag === '--rounds') o.rounds = int();
    else if (flag === '--iters') o.iters = int();
    else if (flag === '--selfie') o.selfie = val();
    else if (flag === '--detector-weights') o.weights = val();
    else if (flag === '--no-selfie') o.noSelfie = true;
    else {
      console.error(`enhance: unknown argument '${argv[i]}' (${USAGE})`);
      process.exit(2);
    }
  }
  return o;
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  setNumThreads(THREADS);
  manualSeed(0);
  const info = engineInfo();
  console.log(
    `machine: ${cpuModel()}, ${cores()} cores; libtorch ${info.torchVersion}; device cpu; threads ${getNumThreads()}; node ${process.version}`,
  );
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-bench-enhance-'));
  let model: LoadedModel | undefined;
  let peer: PythonPeer | null = null;
  try {
    // The model: shipped (or --model), else the cpu preset's R with random weights, saved so the
    // peer loads the very same weights.
    let modelFile: string;
    let what: string;
    let shipped: string | undefined;
    try {
      shipped = resolveModel(o.model).file;
    } catch (err) {
      if (o.model) throw err;
    }
    if (shipped) {
      modelFile = shipped;
      what = o.model ?? 'facesr-cpu (shipped)';
    } else {
      const arch = preset('cpu').R;
      const net = new Restoration(arch);
      modelFile = path.join(tmp, 'random-cpu-R.safetensors');
      await saveModel(modelFile, net.stateDict(), { arch });
      net.dispose();
      what = 'cpu preset R, random weights (no shipped model found)';
    }
    model = await loadModel(modelFile);
    console.log(`model: ${what}: ${JSON.stringify(model.info.arch)}, ${model.net.numParameters()} weights`);

    // One input batch for both sides.
    const x = rand([o.batch, 3, 16, 16]).mul(2).sub(1);
    const inputFile = path.join(tmp, 'input.safetensors');
    await writeSafetensors(inputFile, { x });

    peer = await PythonPeer.start(
      path.join(repoRoot(), 'bench', 'peers', 'enhance.py'),
      [modelFile, inputFile, String(THREADS)],
      { OMP_NUM_THREADS: String(THREADS) },
    );
    if (peer) console.log(`peer: PyTorch ${String(peer.info.torch)}, threads ${String(peer.info.threads)}`);

    // Same outputs?
    const K = 2048;
    const ours = tidy(() =>
      Array.from(restoreFaces(x, model!).flatten().slice(0, 0, K).data() as Float32Array),
    );
    if (peer) {
      const theirs = (await peer.request<{ values: number[] }>(`sample ${K}`)).values;
      const diff = Math.max(...ours.map((v, i) => Math.abs(v - theirs[i]!)));
      console.log(`outputs: max |facesr - pytorch| over the first ${K} values = ${diff.toExponential(2)}`);
    }

    const timeOurs = (n: number): number[] => {
      const t: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        tidy(() => inferenceMode(() => void restoreFaces(x, model!, { batchSize: o.batch })));
        t.push((performance.now() - t0) / 1e3);
      }
      return t;
    };
    timeOurs(1);
    if (peer) await peer.request(`forward 1`);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      a.push(...timeOurs(o.iters));
      if (peer) b.push(...(await peer.request<{ times: number[] }>(`forward ${o.iters}`)).times);
    }
    x.dispose();
    const sa = stats(a);
    const sb = stats(b);
    const facesPerS = o.batch / sa.median;
    console.log(`facesr  R forward, batch ${o.batch}: ${fmtMs(sa)} -> ${facesPerS.toFixed(1)} faces/s`);
    let ratio: number | null = null;
    if (peer) {
      ratio = sa.median / sb.median;
      console.log(
        `pytorch R forward, batch ${o.batch}: ${fmtMs(sb)} -> ${(o.batch / sb.median).toFixed(1)} faces/s`,
      );
      console.log(`ratio (facesr time / pytorch time): ${ratio.toFixed(3)}`);
    }
    await peer?.close();
    peer = null;

    // The whole photo.
    let selfie: number | null = null;
    if (o.noSelfie) console.log('selfie: skipped (--no-selfie)');
    else if (!existsSync(o.selfie)) console.log(`selfie: ${o.selfie} not found; skipped`);
    else {
      const useRetina = Boolean(o.weights && existsSync(o.weights));
      const detector = createDetector(
        useRetina ? 'retinaface' : 'ssd',
        useRetina ? { weights: o.weights } : {},
      );
      try {
        const t0 = performance.now();
        const r = await enhance(o.selfie, { model, detector });
        selfie = (performance.now() - t0) / 1e3;
        const t = r.timings;
        const restored = r.faces.filter((f) => f.restored).length;
        console.log(
          `selfie: ${path.basename(o.selfie)} ${r.input.width}x${r.input.height}, detector ${detector.name}, ` +
            `${r.faces.length} faces found, ${restored} restored: ${selfie.toFixed(2)} s = decode ${t.decode.toFixed(2)} ` +
            `+ detect ${t.detect.toFixed(2)} + restore ${t.restore.toFixed(2)} + paste ${t.paste.toFixed(2)} + encode ${t.encode.toFixed(2)} s`,
        );
      } finally {
        detector.dispose?.();
      }
    }
    console.log(
      JSON.stringify({
        bench: 'enhance',
        faces_per_s: round(facesPerS, 1),
        ratio_vs_pytorch: ratio === null ? null : round(ratio, 3),
        selfie_s: selfie === null ? null : round(selfie, 2),
      }),
    );
  } finally {
    await peer?.close();
    model?.net.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}
