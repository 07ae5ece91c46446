// facesr data harvest: crops, manifest, bad files, overwrite protection, box files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  readdirSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const SHARED = [process.env.FACESR_SHARED, path.join(repo, 'shared'), path.join(repo, '../shared')]
  .filter((p): p is string => Boolean(p))
  .find((p) => existsSync(path.join(p, 'models/retinaface_mnet025.safetensors')));
const SKIP = SHARED ? false : `shared/ (models and photos) not found beside ${repo}`;
if (SKIP) console.log(`# harvest tests skipped: ${SKIP}`);
const WEIGHTS = SHARED ? path.join(SHARED, 'models/retinaface_mnet025.safetensors') : '';

const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

interface Entry {
  id: string;
  source: string;
  box: number[];
  score: number;
  landmarks: number[][] | null;
  faceSize: number;
  nativeSize: number;
  frame: { x: number; y: number; size: number; method: string };
  origin: string;
  files: Record<string, string>;
}

const manifest = (dir: string): Entry[] =>
  readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry);

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'facesr-harvest-'));
}

test('harvest: two photos and a corrupt file', { skip: SKIP }, async () => {
  const tmp = tempDir();
  try {
    const inDir = path.join(tmp, 'in');
    const out = path.join(tmp, 'out');
    spawnSync('mkdir', [inDir]);
    copyFileSync(path.join(SHARED!, 'data/photos/ultralight_8.jpg'), path.join(inDir, 'group.jpg'));
    copyFileSync(path.join(SHARED!, 'data/photos/gfpgan_Blake_Lively.jpg'), path.join(inDir, 'portrait.jpg'));
    // A JPEG header followed by garbage.
    const good = readFileSync(path.join(inDir, 'portrait.jpg'));
    writeFileSync(
      path.join(inDir, 'corrupt.jpg'),
      Buffer.concat([good.subarray(0, 200), Buffer.alloc(500, 7)]),
    );

    const r = run('data', 'harvest', inDir, '--out', out, '--detector-weights', WEIGHTS);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /corrupt\.jpg: (corrupt|truncated) JPEG/);
    assert.match(r.stderr, /1 input\(s\) failed/);
    assert.match(r.stderr, /\[3\/3\]/); // progress
    const m = manifest(out);
    assert.match(r.stdout, new RegExp(`harvested ${m.length} faces from 2 of 3 photos`));
    assert.match(r.stdout, /by face size \(box long side, px\): <10: \d+, 10-16: \d+/);
    const portrait = m.filter((e) => e.source.endsWith('portrait.jpg'));
    assert.equal(portrait.length, 2);
    assert.ok(m.filter((e) => e.source.endsWith('group.jpg')).length >= 5);
    for (const e of m) {
      assert.equal(e.origin, 'retinaface');
      assert.equal(e.landmarks?.length, 5);
      assert.ok(e.score > 0.5);
      assert.ok(e.faceSize >= 8);
      assert.equal(e.frame.method, 'box');
      assert.equal(e.nativeSize, e.frame.size);
      assert.deepEqual(Object.keys(e.files).sort(), ['lr16', 'lr32', 'native']);
      const meta = await sharp(path.join(out, e.files.native!)).metadata();
      assert.equal(meta.format, 'png');
      assert.equal(meta.width, e.nativeSize);
      assert.equal(meta.height, e.nativeSize);
      assert.equal((await sharp(path.join(out, e.files.lr16!)).metadata()).width, 16);
      assert.equal((await sharp(path.join(out, e.files.lr32!)).metadata()).width, 32);
    }
    // No temporary files left behind (atomic writes).
    for (const d of ['', 'native', 'lr16', 'lr32'])
      assert.ok(
        readdirSync(path.join(out, d)).every((f) => !f.includes('.tmp')),
        `temp file in ${d}`,
      );

    // A second run refuses to mix with the first; --overwrite replaces it.
    const again = run('data', 'harvest', inDir, '--out', out, '--detector-weights', WEIGHTS);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already holds a harvest.*--overwrite/);
    const over = run(
      'data',
      'harvest',
      path.join(inDir, 'portrait.jpg'),
      '--out',
      out,
      '--detector-weights',
      WEIGHTS,
      '--overwrite',
      '--quiet',
    );
    assert.equal(over.status, 0, over.stderr);
    assert.equal(manifest(out).length, 2);
    assert.equal(readdirSync(path.join(out, 'native')).length, 2, 'old crops removed');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('harvest: faces from WIDER-style and CMU-style box files', { skip: SKIP }, () => {
  const tmp = tempDir();
  try {
    const img = path.join(SHARED!, 'data/photos/gfpgan_Blake_Lively.jpg');
    const wider = path.join(tmp, 'wider.json');
    writeFileSync(
      wider,
      JSON.stringify({
        'gfpgan_Blake_Lively.jpg': {
          boxes_xywh: [
            [415, 62, 188, 268],
            [105, 118, 134, 190],
            [0, 0, 5, 5],
          ],
        },
      }),
    );
    const out = path.join(tmp, 'w');
    const r = run('data', 'harvest', img, '--out', out, '--boxes', wider, '--quiet');
    assert.equal(r.status, 0, r.stderr);
    const m = manifest(out);
    assert.equal(m.length, 2); // the 5 px box is under --min-size 8
    assert.match(r.stdout, /1 faces under --min-size 8 px skipped/);
    assert.equal(m[0]!.origin, 'boxes:wider.json');
    assert.deepEqual(m[0]!.box, [415, 62, 603, 330]);
    assert.equal(m[0]!.score, 1);
    assert.equal(m[0]!.landmarks, null);
    // 1.2 x the long side (268).
    assert.equal(m[0]!.nativeSize, Math.round(1.2 * 268));

    const cmu = path.join(tmp, 'cmu.json');
    const lm6 = [468, 159, 552, 177, 497, 209, 448, 238, 490, 250, 534, 254];
    writeFileSync(
      cmu,
      JSON.stringify({
        'gfpgan_Blake_Lively.jpg': { boxes_x1y1x2y2: [[440, 120, 580, 280]], landmarks6: [lm6] },
      }),
    );
    const out2 = path.join(tmp, 'c');
    const c = run('data', 'harvest', img, '--out', out2, '--boxes', cmu, '--quiet');
    assert.equal(c.status, 0, c.stderr);
    const [e] = manifest(out2);
    assert.equal(e!.frame.method, 'landmarks');
    assert.equal(e!.landmarks!.length, 5);
    assert.deepEqual(e!.landmarks![4], [534, 254]); // mouth right, not centre

    // A photo missing from the box file is a failure; nothing harvested -> exit 1.
    const other = path.join(SHARED!, 'data/photos/ultralight_8.jpg');
    const miss = run('data', 'harvest', other, '--out', path.join(tmp, 'x'), '--boxes', wider, '--quiet');
    assert.equal(miss.status, 1);
    assert.match(miss.stderr, /no entry for 'ultralight_8\.jpg' in the box file/);
    // A malformed box file names the problem.
    writeFileSync(wider, JSON.stringify({ 'a.jpg': { boxes_xywh: [[1, 2, 3]] } }));
    const bad = run('data', 'harvest', img, '--out', path.join(tmp, 'y'), '--boxes', wider);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /'a\.jpg' boxes_xywh\[0\]: expected 4 numbers/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('harvest: usage errors and all inputs failing', () => {
  const tmp = tempDir();
  try {
    const noOut = run('data', 'harvest', tmp);
    assert.equal(noOut.status, 1);
    assert.match(noOut.stderr, /--out DIR/);
    const noDet = run('data', 'harvest', tmp, '--out', path.join(tmp, 'o'));
    assert.equal(noDet.status, 1);
    assert.match(noDet.stderr, /needs its weights: give --detector-weights/);
    const unknown = run('data', 'harvest', tmp, '--out', path.join(tmp, 'o'), '--detector', 'yolo');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /Unknown detector 'yolo'/);
    const sub = run('data', 'frobnicate');
    assert.equal(sub.status, 2);
    assert.match(sub.stderr, /unknown subcommand 'frobnicate'/);
    const help = run('data', 'harvest', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: facesr data harvest/);
    if (!SHARED) return;
    // Only bad inputs: listed, exit 1.
    writeFileSync(path.join(tmp, 'empty.jpg'), '');
    writeFileSync(path.join(tmp, 'text.png'), 'not an image');
    const r = run(
      'data',
      'harvest',
      path.join(tmp, 'empty.jpg'),
      path.join(tmp, 'text.png'),
      '--out',
      path.join(tmp, 'o'),
      '--detector-weights',
      WEIGHTS,
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /empty\.jpg: file is empty/);
    assert.match(r.stderr, /text\.png: not an image/);
    assert.match(r.stdout, /harvested 0 faces/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
