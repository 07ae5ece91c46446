// The worker-thread loader: deterministic order and content across runs and worker counts, every
// item once per epoch, no leaked tensors, bad files skipped (reported) or fatal by option, landmarks
// through augmentation, clean shutdown (child processes must exit), and workers that never load the
// libtorch addon.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import {
  DataLoader,
  ImageFolderDataset,
  LoaderError,
  type Batch,
  type FaceItem,
  type LoaderOptions,
} from '../src/data/index.js';
import { liveTensors } from '../src/tensor/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataIndex = pathToFileURL(path.join(here, '..', 'src', 'data', 'index.js')).href;
const imageFile = pathToFileURL(path.join(here, '..', 'src', 'data', 'image.js')).href;
const workerFile = pathToFileURL(path.join(here, '..', 'src', 'data', 'loader_worker.js')).href;
const DATA = process.env.FACESR_DATA ?? '/work/shared/data';

let dir = '';
let items: FaceItem[] = [];
const N = 37;

/** Image i: 16x16, flat colour (i, 255 - i, 7i mod 256), so a batch tells which items it holds. */
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'facesr-loader-'));
  items = [];
  for (let i = 0; i < N; i++) {
    const file = path.join(dir, `${String(i).padStart(2, '0')}_x.png`);
    await sharp({
      create: { width: 16, height: 16, channels: 3, background: { r: i, g: 255 - i, b: (7 * i) % 256 } },
    })
      .png()
      .toFile(file);
    items.push({ file, identity: String(i) });
  }
});
test.after(() => rm(dir, { recursive: true, force: true }));

interface Run {
  indices: number[][];
  epochs: number[];
  bytes: Buffer[];
}

async function run(opts: Partial<LoaderOptions>, list: readonly FaceItem[] = items): Promise<Run> {
  const loader = new DataLoader(list, { batchSize: 8, size: 8, ...opts });
  const out: Run = { indices: [], epochs: [], bytes: [] };
  for await (const b of loader) {
    out.indices.push(b.indices);
    out.epochs.push(b.epoch);
    out.bytes.push(Buffer.from(b.images.bytes()));
    assert.deepEqual(b.images.shape, [b.indices.length, 3, 8, 8]);
    b.dispose();
  }
  return out;
}

test('order and content are the same across runs and worker counts (0, 1, 2), shuffled and augmented', async () => {
  const live = liveTensors();
  const opts: Partial<LoaderOptions> = { shuffle: true, seed: 5, epochs: 2, augment: {} };
  const a = await run({ ...opts, numWorkers: 2 });
  const b = await run({ ...opts, numWorkers: 1 });
  const c = await run({ ...opts, numWorkers: 2, prefetch: 1 });
  const d = await run({ ...opts, numWorkers: 0 });
  for (const other of [b, c, d]) {
    assert.deepEqual(other.indices, a.indices);
    assert.ok(
      other.bytes.every((x, i) => x.equals(a.bytes[i]!)),
      'batch content differs',
    );
  }
  assert.equal(liveTensors(), live, 'tensors leaked');
  // Each epoch holds every item exactly once, in a different order.
  assert.deepEqual(a.epochs, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  const e0 = a.indices.slice(0, 5).flat();
  const e1 = a.indices.slice(5).flat();
  for (const e of [e0, e1])
    assert.deepEqual(
      [...e].sort((x, y) => x - y),
      Array.from({ length: N }, (_, i) => i),
    );
  assert.notDeepEqual(e0, e1);
  // Another seed: another order.
  const s = await run({ ...opts, seed: 6, numWorkers: 2 });
  assert.notDeepEqual(s.indices, a.indices);
});

test('startBatch resumes mid-run with exactly the batches an uninterrupted loader gives', async () => {
  const opts = { shuffle: true, seed: 5, epochs: 3, augment: { flip: 0.5, rotate: 10 }, numWorkers: 1 };
  const full = await run(opts);
  assert.equal(full.indices.length, 15); // 37 items, batch 8: 5 batches per epoch, 3 epochs
  for (const start of [0, 3, 7, 14]) {
    const rest = await run({ ...opts, startBatch: start });
    assert.deepEqual(rest.indices, full.indices.slice(start), `indices from batch ${start}`);
    assert.deepEqual(rest.epochs, full.epochs.slice(start), `epochs from batch ${start}`);
    assert.ok(
      rest.bytes.every((b, i) => b.equals(full.bytes[start + i]!)),
      `pixels from batch ${start}`,
    );
  }
  assert.throws(() => new DataLoader(items, { batchSize: 8, startBatch: -1 }), /startBatch/);
});

test('without augmentation a batch holds exactly its items, in dataset order; dropLast; epochOrder', async () => {
  const loader = new DataLoader(items, { batchSize: 8, size: 8, dropLast: true, numWorkers: 2 });
  assert.equal(loader.batchesPerEpoch, 4);
  const expected = loader.epochOrder(0);
  let k = 0;
  for await (const b of loader) {
    assert.deepEqual(b.indices, expected[k]);
    assert.deepEqual(
      b.indices,
      Array.from({ length: 8 }, (_, i) => 8 * k + i),
    );
    assert.equal(b.step, k);
    const px = b.images.toFloat32Array();
    b.indices.forEach((idx, j) => {
      const red = px[j * 192]!; // first red value of item j
      assert.ok(Math.abs(red * 255 - idx) < 1e-3, `item ${idx} holds red ${red * 255}`);
      assert.equal(b.items[j]!.identity, String(idx));
    });
    b.dispose();
    k++;
  }
  assert.equal(k, 4);
  const r = await run({ numWorkers: 1, range: '-1,1' });
  assert.equal(r.indices.length, 5);
  assert.equal(r.indices[4]!.length, 5, 'last partial batch kept');
});

test('bad files: skipped by default (counted, warned once, batch shorter); fatal with onError error', async (t) => {
  const bad = path.join(dir, 'zz_bad.png');
  await writeFile(bad, 'this is not a png');
  t.after(() => rm(bad, { force: true }));
  const list = [...items.slice(0, 6), { file: bad }, { file: path.join(dir, 'missing.png') }];
  const warnings: string[] = [];
  const loader = new DataLoader(list, {
    batchSize: 4,
    size: 8,
    epochs: 2,
    numWorkers: 2,
    warn: (m) => warnings.push(m),
  });
  const sizes: number[] = [];
  for await (const b of loader) {
    sizes.push(b.indices.length);
    b.dispose();
  }
  assert.deepEqual(sizes, [4, 2, 4, 2]);
  assert.equal(loader.report.skipped, 4);
  assert.deepEqual([...loader.report.failures.keys()], [bad, path.join(dir, 'missing.png')]);
  assert.match(loader.report.failures.get(bad)!, /not an image/);
  assert.equal(warnings.length, 2);
  assert.equal(warnings[0], `facesr loader: skipped ${bad}: ${loader.report.failures.get(bad)}`);
  assert.ok(!loader.report.failures.get(bad)!.includes(bad), 'the reason does not repeat the file');

  const strict = new DataLoader(list, { batchSize: 4, size: 8, numWorkers: 1, onError: 'error' });
  const live = liveTensors();
  await assert.rejects(
    (async () => {
      for await (const b of strict) b.dispose();
    })(),
    (err: Error) =>
      err instanceof LoaderError && err.message.startsWith(bad) && /not an image/.test(err.message),
  );
  assert.equal(liveTensors(), live);
});

test('images of different sizes need a size; the message says so', async (t) => {
  const big = path.join(dir, 'zz_big.png');
  await sharp({ create: { width: 20, height: 20, channels: 3, background: '#808080' } })
    .png()
    .toFile(big);
  t.after(() => rm(big, { force: true }));
  const warnings: string[] = [];
  const loader = new DataLoader([items[0]!, { file: big }], {
    batchSize: 2,
    numWorkers: 1,
    warn: (m) => warnings.push(m),
  });
  for await (const b of loader) {
    assert.deepEqual(b.images.shape, [1, 3, 16, 16]);
    b.dispose();
  }
  assert.match(warnings[0]!, /zz_big\.png: is 20x20 but the batch is 16x16; give the loader a size/);
});

test('options are checked', () => {
  assert.throws(() => new DataLoader(items, { batchSize: 0 }), /positive integer for batchSize/);
  assert.throws(() => new DataLoader([], { batchSize: 2 }), /empty/);
  assert.throws(() => new DataLoader(items, { batchSize: 100, dropLast: true }), /no full batch/);
  assert.throws(() => new DataLoader(items, { batchSize: 2, epochs: 0 }), /epochs/);
  assert.throws(
    () => new DataLoader([{ file: 'a', landmarks: new Float32Array(4) }, { file: 'b' }], { batchSize: 2 }),
    /item 1 \(b\) has 0 landmarks, item 0 has 2/,
  );
});

test('a loader is single use; close() ends iteration early and is idempotent', async () => {
  const loader = new DataLoader(items, { batchSize: 4, size: 8, numWorkers: 2, epochs: Infinity });
  let n = 0;
  for await (const b of loader) {
    b.dispose();
    if (++n === 3) await loader.close();
  }
  assert.equal(n, 3);
  await loader.close();
  await assert.rejects(
    (async () => {
      for await (const b of loader) b.dispose();
    })(),
    /single use/,
  );
});

test('landmarks follow the augmented image through the workers', async (t) => {
  // A 64x64 image with a dot at point 30 (nose tip, its own mirror partner), resized to 32.
  const d = await mkdtemp(path.join(os.tmpdir(), 'facesr-lm-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  const list: FaceItem[] = [];
  for (let i = 0; i < 12; i++) {
    const x = 20 + i * 2;
    const y = 40 - i;
    const raw = Buffer.alloc(64 * 64 * 3);
    for (let r = 0; r < 64; r++)
      for (let c = 0; c < 64; c++) {
        const v = 255 * Math.exp(-((c + 0.5 - x) ** 2 + (r + 0.5 - y) ** 2) / (2 * 1.5 ** 2));
        raw[(r * 64 + c) * 3] = Math.round(v);
      }
    const file = path.join(d, `p_${i}.png`);
    await sharp(raw, { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toFile(file);
    const lm = new Float32Array(136).fill(32);
    lm[60] = x;
    lm[61] = y;
    list.push({ file, landmarks: lm });
  }
  const loader = new DataLoader(list, {
    batchSize: 6,
    size: 32,
    numWorkers: 2,
    seed: 1,
    augment: { flip: 0.5, rotate: 15, scale: 0.1, shift: 0.05, brightness: 0, contrast: 0, saturation: 0 },
  });
  let checked = 0;
  for await (const b of loader) {
    assert.deepEqual(b.landmarks!.shape, [6, 68, 2]);
    const px = b.images.toFloat32Array();
    const lm = b.landmarks!.toFloat32Array();
    for (let j = 0; j < 6; j++) {
      const red = px.subarray(j * 3 * 1024, j * 3 * 1024 + 1024);
      let at = 0;
      for (let i = 1; i < 1024; i++) if (red[i]! > red[at]!) at = i;
      const [ax, ay] = [(at % 32) + 0.5, Math.floor(at / 32) + 0.5];
      const [lx, ly] = [lm[j * 136 + 60]!, lm[j * 136 + 61]!];
      assert.ok(Math.hypot(ax - lx, ay - ly) <= 1, `dot (${ax}, ${ay}) vs point 30 (${lx}, ${ly})`);
      checked++;
    }
    b.dispose();
  }
  assert.equal(checked, 12);
});

let scripts = 0;
/** Runs an ES module script in a fresh node process; the timeout catches a process that does not exit. */
function runChild(
  code: string,
  timeoutMs = 30000,
): { status: number | null; out: string; err: string; ms: number } {
  const file = path.join(dir, `child_${scripts++}.mjs`);
  writeFileSync(file, code);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [file], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

test('the process exits after breaking out, after close(), and after abandoning a loader', () => {
  const setup = `
    import { DataLoader } from ${JSON.stringify(dataIndex)};
    const items = ${JSON.stringify(items.map((i) => ({ file: i.file })))};
    const loader = new DataLoader(items, { batchSize: 4, size: 8, numWorkers: 2, epochs: Infinity });`;
  const cases = {
    break: `let n = 0; for await (const b of loader) { b.dispose(); if (++n === 3) break; } console.log('done', n);`,
    close: `const it = loader[Symbol.asyncIterator](); (await it.next()).value.dispose(); await loader.close();
            console.log('done', (await it.next()).done);`,
    abandon: `const it = loader[Symbol.asyncIterator](); (await it.next()).value.dispose(); console.log('done');`,
  };
  for (const [name, body] of Object.entries(cases)) {
    const r = runChild(setup + body);
    assert.equal(r.status, 0, `${name}: exit status ${r.status} after ${r.ms} ms; stderr: ${r.err}`);
    assert.match(r.out, /^done/, `${name}: ${r.out}`);
  }
});

test('loader workers never load the libtorch addon', () => {
  // A process that loads only image.js (sharp) and one loader worker, runs a batch through it, then lists
  // the shared objects in the process: no facesr_native.node, no libtorch.
  const code = `
    import ${JSON.stringify(imageFile)}; // loads sharp first, as the loader's main thread does
    import { Worker } from 'node:worker_threads';
    const w = new Worker(new URL(${JSON.stringify(workerFile)}), { workerData: {
      kind: 'facesr-loader', items: [{ file: ${JSON.stringify(items[3]!.file)} }], load: { size: 8 },
      augment: {}, seed: 0, range: '0,1', points: 0 } });
    w.on('message', (m) => {
      const libs = process.report.getReport().sharedObjects.filter((s) => /facesr_native|libtorch|libc10/.test(s));
      console.log(JSON.stringify({ type: m.type, n: m.result?.kept.length, len: m.result?.images.length, libs }));
      w.postMessage({ type: 'close' });
    });
    w.postMessage({ type: 'task', task: { id: 0, epoch: 0, indices: [0] } });`;
  const r = runChild(code);
  assert.equal(r.status, 0, r.err);
  const res = JSON.parse(r.out.trim()) as { type: string; n: number; len: number; libs: string[] };
  assert.deepEqual(res, { type: 'result', n: 1, len: 3 * 8 * 8, libs: [] });
});

test('the shared CelebA faces through the loader', async (t) => {
  const celeba = path.join(DATA, 'hr', 'celeba');
  if (!existsSync(celeba)) return t.skip(`no ${celeba}`);
  const ds = await ImageFolderDataset.fromFolder(celeba, { identity: 'celeba' });
  const loader = new DataLoader(ds.items.slice(0, 64), {
    batchSize: 16,
    size: 64,
    augment: {},
    shuffle: true,
    seed: 0,
  });
  let batches: Batch[] = [];
  for await (const b of loader) batches.push(b);
  assert.equal(batches.length, 4);
  for (const b of batches) {
    assert.deepEqual(b.images.shape, [16, 3, 64, 64]);
    const v = b.images.toFloat32Array();
    assert.ok(v.every((x) => x >= 0 && x <= 1));
    b.dispose();
  }
  batches = [];
  assert.equal(loader.report.skipped, 0);
});
