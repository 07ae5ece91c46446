// Datasets: folders found by content, list files, landmark CSVs, LFW pairs, identity labels,
// identity-disjoint splits, and sample loading (area resize as F.interpolate, cover crop, landmarks).
// Synthetic temp images everywhere; the shared data sets where present (skipped with a reason if not).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {
  FaceDataset,
  ImageFolderDataset,
  LandmarkDataset,
  LfwPairs,
  Rng,
  celebaIdentity,
  coverCrop,
  findImages,
  identityOf,
  lfwIdentity,
  lfwImagePath,
  loadSample,
  resizeAreaPlanar,
  splitByIdentity,
  utkfaceLabels,
  ytfIdentity,
  type FaceItem,
} from '../src/data/index.js';
import { F, fromTypedArray, tidy } from '../src/tensor/index.js';
import { assertClose } from './helpers/compare.js';

const DATA = process.env.FACESR_DATA ?? '/work/shared/data';

function pixels(w: number, h: number, seed: number): Buffer {
  const rng = new Rng(seed);
  const b = Buffer.alloc(w * h * 3);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rng.next() * 256);
  return b;
}

async function encoded(w: number, h: number, seed: number, fmt: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const p = sharp(pixels(w, h, seed), { raw: { width: w, height: h, channels: 3 } });
  return fmt === 'png'
    ? p.png().toBuffer()
    : fmt === 'jpeg'
      ? p.jpeg().toBuffer()
      : p.webp({ lossless: true }).toBuffer();
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'facesr-ds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('fromFolder finds images by content, recursively, sorted; lists what it skipped', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
  await mkdir(path.join(dir, '.hidden'));
  await writeFile(path.join(dir, 'b.png'), await encoded(8, 8, 1, 'png'));
  await writeFile(path.join(dir, 'a_mislabelled.jpg'), await encoded(8, 8, 2, 'png')); // PNG named .jpg
  await writeFile(path.join(dir, 'sub', 'c.webp'), await encoded(8, 8, 3, 'webp'));
  await writeFile(path.join(dir, 'sub', 'deeper', 'no_extension'), await encoded(8, 8, 4, 'jpeg'));
  await writeFile(path.join(dir, 'notes.png'), 'not an image at all');
  await writeFile(path.join(dir, 'empty.jpg'), '');
  await writeFile(path.join(dir, 'README.txt'), 'some notes');
  await writeFile(path.join(dir, '.hidden', 'x.png'), await encoded(8, 8, 5, 'png'));
  const ds = await ImageFolderDataset.fromFolder(dir);
  assert.deepEqual(
    ds.items.map((i) => path.relative(dir, i.file)),
    ['a_mislabelled.jpg', 'b.png', 'sub/c.webp', 'sub/deeper/no_extension'],
  );
  // Files named like images that are not are listed; other non-images (README.txt) are ignored.
  assert.deepEqual(
    ds.skipped.map((s) => path.relative(dir, s.file)),
    ['empty.jpg', 'notes.png'],
  );
  assert.ok(ds.skipped.every((s) => s.reason.length > 0));
  const flat = await findImages(dir, { recursive: false });
  assert.equal(flat.files.length, 2);
  // Loading decodes by content too: the mislabelled PNG reads fine.
  const s = await ds.load(0, { size: 4 });
  assert.equal(s.info.format, 'png');
  assert.equal(s.image.data.length, 3 * 4 * 4);
  await assert.rejects(ImageFolderDataset.fromFolder(path.join(dir, 'missing')), /no such folder/);
});

test('fromList reads relative paths, ignores comments and blanks; a bad file fails when loaded, naming it', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, '10_1.png'), await encoded(6, 6, 1, 'png'));
  await writeFile(path.join(dir, '11_bad.png'), 'garbage');
  await writeFile(path.join(dir, 'list.txt'), '# faces\n10_1.png\n\n11_bad.png\n');
  const ds = await ImageFolderDataset.fromList(path.join(dir, 'list.txt'), { identity: 'celeba' });
  assert.equal(ds.length, 2);
  assert.equal(ds.get(0).file, path.join(dir, '10_1.png'));
  assert.equal(ds.get(0).identity, '10');
  await assert.rejects(
    ds.load(1),
    (err: Error) => err.message.includes('11_bad.png') && /not an image/.test(err.message),
  );
  assert.throws(() => ds.get(2), /out of range/);
});

test('identity labels from file names', () => {
  assert.equal(celebaIdentity('/x/hr/celeba/10000_028381.webp'), '10000');
  assert.equal(lfwIdentity('/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0004.jpg'), 'Aaron_Peirsol');
  assert.equal(lfwIdentity('/lfw/images/Zico/photo.jpg'), 'Zico');
  assert.equal(ytfIdentity('train/Abdel_Aziz_Al-Hakim_02.webp'), 'Abdel_Aziz_Al-Hakim');
  assert.deepEqual(utkfaceLabels('100_1_2_20170112215032192.webp'), {
    age: 100,
    gender: 'female',
    race: 'asian',
    date: '20170112215032192',
  });
  assert.equal(identityOf('/u/26_0_1_20170116.webp', 'utkface'), '26_0_1_20170116');
  assert.equal(identityOf('/people/ann/1.png', 'folder'), 'ann');
  assert.equal(
    identityOf('/a/b.png', (f) => path.basename(f)),
    'b.png',
  );
  assert.throws(() => celebaIdentity('/x/nounderscore.webp'), /nounderscore\.webp: not a CelebA name/);
  assert.throws(() => utkfaceLabels('/x/photo.jpg'), /photo\.jpg: not a UTKFace name/);
  assert.throws(() => identityOf('/x/a.png', 'imagenet' as never), /identity/);
});

test('UTKFace attributes ride on the items', () => {
  const ds = ImageFolderDataset.fromFiles(['/u/3_0_4_2017.webp'], { identity: 'utkface' });
  assert.deepEqual(ds.get(0).attributes, { age: 3, gender: 'male', race: 'other', date: '2017' });
});

test('landmark CSV: header checked, numbers checked with line numbers, missing images listed', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'Ann_Lee_01.png'), await encoded(10, 10, 1, 'png'));
  const head = ['file', ...Array.from({ length: 68 }, (_, i) => `x${i},y${i}`)].join(',');
  const row = (f: string, v = 1.5) => [f, ...Array.from({ length: 136 }, (_, i) => String(v + i))].join(',');
  await writeFile(
    path.join(dir, 'ok.csv'),
    `${head}\n${row('Ann_Lee_01.png')}\n${row('Gone_Person_02.png')}\n`,
  );
  const ds = await LandmarkDataset.fromCsv(path.join(dir, 'ok.csv'), dir, { identity: 'ytf' });
  assert.equal(ds.points, 68);
  assert.equal(ds.length, 1);
  assert.equal(ds.get(0).identity, 'Ann_Lee');
  assert.equal(ds.get(0).landmarks![0], 1.5);
  assert.equal(ds.get(0).landmarks![135], 136.5);
  assert.deepEqual(ds.skipped, [{ file: path.join(dir, 'Gone_Person_02.png'), reason: 'no such file' }]);

  await writeFile(path.join(dir, 'bad.csv'), `${head}\n${row('Ann_Lee_01.png').replace(',3.5,', ',abc,')}\n`);
  await assert.rejects(
    LandmarkDataset.fromCsv(path.join(dir, 'bad.csv'), dir),
    /bad\.csv: line 2: x1 is 'abc'/,
  );
  await writeFile(path.join(dir, 'short.csv'), `${head}\nAnn_Lee_01.png,1,2\n`);
  await assert.rejects(
    LandmarkDataset.fromCsv(path.join(dir, 'short.csv'), dir),
    /line 2: 3 fields, expected 137/,
  );
  await writeFile(path.join(dir, 'nohead.csv'), `${row('Ann_Lee_01.png')}\n`);
  await assert.rejects(
    LandmarkDataset.fromCsv(path.join(dir, 'nohead.csv'), dir),
    /line 1: expected a header/,
  );
  await assert.rejects(LandmarkDataset.fromCsv(path.join(dir, 'ok.csv'), dir, { points: 5 }), /68 points/);
});

test('LFW pairs.txt: folds of same then different pairs; image paths; format errors name the line', () => {
  const text = [
    '2\t2',
    'Ann\t1\t2',
    'Bob\t1\t3',
    'Ann\t1\tBob\t2',
    'Cy\t4\tDee\t10',
    'Ed\t1\t2',
    'Flo\t2\t3',
    'Gus\t1\tHal\t1',
    'Ann\t2\tCy\t1',
    '',
  ].join('\n');
  const p = LfwPairs.parse(text, '/lfw');
  assert.equal(p.folds, 2);
  assert.equal(p.perFold, 2);
  assert.equal(p.pairs.length, 8);
  assert.deepEqual(p.pairs[0], {
    fold: 0,
    same: true,
    nameA: 'Ann',
    nameB: 'Ann',
    a: '/lfw/Ann/Ann_0001.jpg',
    b: '/lfw/Ann/Ann_0002.jpg',
  });
  assert.equal(p.pairs[3]!.b, '/lfw/Dee/Dee_0010.jpg');
  assert.equal(p.pairs[3]!.same, false);
  assert.deepEqual(
    p.fold(1).map((q) => q.same),
    [true, true, false, false],
  );
  const imgs = p.images();
  assert.equal(imgs.length, new Set(p.pairs.flatMap((q) => [q.a, q.b])).size);
  assert.equal(imgs.items.find((i) => i.file.endsWith('Cy_0004.jpg'))!.identity, 'Cy');
  assert.equal(lfwImagePath('/r', 'A_B', 7), path.join('/r', 'A_B', 'A_B_0007.jpg'));
  assert.throws(
    () => LfwPairs.parse(text.replace('Bob\t1\t3', 'Bob\t1\tX\t3'), '/lfw'),
    /line 3: expected a same-person pair/,
  );
  assert.throws(
    () => LfwPairs.parse(text.replace('Cy\t4', 'Cy\tfour'), '/lfw'),
    /line 5: image number 'four'/,
  );
  assert.throws(() => LfwPairs.parse('2 2\nAnn 1 2\n', '/lfw'), /2 lines, expected 9/);
  assert.throws(() => LfwPairs.parse('ten\n', '/lfw'), /line 1/);
});

test('the shared LFW pairs.txt: 10 folds x (300 same + 300 different), every image present', async (t) => {
  const file = path.join(DATA, 'lfw', 'pairs.txt');
  if (!existsSync(file)) return t.skip(`no ${file}`);
  const p = await LfwPairs.load(file, path.join(DATA, 'lfw', 'images'));
  assert.equal(p.pairs.length, 6000);
  for (let f = 0; f < 10; f++) {
    const fold = p.fold(f);
    assert.equal(fold.filter((q) => q.same).length, 300);
    assert.equal(fold.filter((q) => !q.same).length, 300);
  }
  assert.ok(p.pairs.filter((q) => q.same).every((q) => q.nameA === q.nameB && q.a !== q.b));
  assert.ok(p.pairs.filter((q) => !q.same).every((q) => q.nameA !== q.nameB));
  assert.deepEqual(await p.missing(), []);
});

test('the shared sets: CelebA identities, YTF landmark CSVs', async (t) => {
  const celeba = path.join(DATA, 'hr', 'celeba');
  const ytf = path.join(DATA, 'landmarks', 'ytf');
  if (!existsSync(celeba) || !existsSync(ytf)) return t.skip(`shared data not present under ${DATA}`);
  const hr = await ImageFolderDataset.fromFolder(celeba, { identity: 'celeba' });
  assert.equal(hr.length, 16000);
  assert.equal(hr.identities().length, 3200);
  assert.equal(hr.skipped.length, 0);
  const train = await LandmarkDataset.fromCsv(path.join(ytf, 'train.csv'), path.join(ytf, 'train'), {
    identity: 'ytf',
  });
  assert.equal(train.length, 3462);
  assert.equal(train.points, 68);
  const s = await train.load(0, { size: 64 });
  assert.equal(s.image.width, 64);
  const raw = train.get(0).landmarks!;
  // 128 -> 64: continuous coordinates halve.
  assertClose(
    s.landmarks!,
    raw.map((v) => v / 2),
    { atol: 1e-5, rtol: 0 },
  );
  const inside = [...s.landmarks!].every((v) => v >= -2 && v <= 66);
  assert.ok(inside, 'landmarks of a landmark-framed crop lie in the image');
});

/** Items with identities of random group sizes (1-6 images each). */
function syntheticItems(nIds: number, seed: number): FaceItem[] {
  const rng = new Rng(seed);
  const items: FaceItem[] = [];
  for (let i = 0; i < nIds; i++) {
    const k = 1 + rng.int(6);
    for (let j = 0; j < k; j++) items.push({ file: `/f/id${i}_${j}.png`, identity: `id${i}` });
  }
  return items;
}

function idsOf(items: readonly FaceItem[]): Set<string> {
  return new Set(items.map((i) => i.identity!));
}

test('splitByIdentity: disjoint identities, complete, near the fractions, deterministic, order-independent', () => {
  const items = syntheticItems(500, 1);
  const n = items.length;
  const parts = splitByIdentity(items, { fractions: [0.8, 0.1, 0.1], seed: 42 });
  assert.equal(parts.length, 3);
  assert.equal(
    parts.reduce((a, p) => a + p.length, 0),
    n,
    'every item in exactly one split',
  );
  const ids = parts.map(idsOf);
  for (let a = 0; a < 3; a++)
    for (let b = a + 1; b < 3; b++)
      for (const id of ids[a]!) assert.ok(!ids[b]!.has(id), `identity ${id} in splits ${a} and ${b}`);
  [0.8, 0.1, 0.1].forEach((f, k) =>
    assert.ok(Math.abs(parts[k]!.length - f * n) <= 6, `split ${k}: ${parts[k]!.length} vs ${f * n}`),
  );
  // Same seed: same split; items keep their order.
  assert.deepEqual(splitByIdentity(items, { fractions: [0.8, 0.1, 0.1], seed: 42 }), parts);
  for (const p of parts)
    assert.deepEqual(
      p,
      [...p].sort((a, b) => items.indexOf(a) - items.indexOf(b)),
    );
  // Input order does not matter.
  const shuffled = new Rng(3).shuffle([...items]);
  const again = splitByIdentity(shuffled, { fractions: [0.8, 0.1, 0.1], seed: 42 });
  assert.deepEqual(
    again.map((p) => [...idsOf(p)].sort()),
    ids.map((s) => [...s].sort()),
  );
  // Another seed: another split.
  const other = splitByIdentity(items, { fractions: [0.8, 0.1, 0.1], seed: 43 });
  assert.notDeepEqual([...idsOf(other[1]!)].sort(), [...ids[1]!].sort());
  // Fractions under 1 leave the rest out.
  const small = splitByIdentity(items, { fractions: [0.2], seed: 1 });
  assert.ok(Math.abs(small[0]!.length - 0.2 * n) <= 6);
});

test('splitByIdentity with identity counts, a custom identity, and errors', () => {
  const items = syntheticItems(100, 2);
  const [a, b] = splitByIdentity(items, { counts: [70, 20], seed: 0 });
  assert.equal(idsOf(a!).size, 70);
  assert.equal(idsOf(b!).size, 20);
  for (const id of idsOf(b!)) assert.ok(!idsOf(a!).has(id));
  const files = items.map((i) => i.file);
  const byFile = splitByIdentity(files, { fractions: [0.5, 0.5], seed: 0, identity: (f) => f.split('_')[0] });
  assert.equal(byFile[0]!.length + byFile[1]!.length, files.length);
  assert.throws(() => splitByIdentity(items, { counts: [101], seed: 0 }), /101 identities but there are 100/);
  assert.throws(() => splitByIdentity(items, { fractions: [0.7, 0.5], seed: 0 }), /sum to at most 1/);
  assert.throws(() => splitByIdentity(items, { seed: 0 }), /exactly one of/);
  assert.throws(
    () => splitByIdentity([{ file: '/x.png' }], { fractions: [1], seed: 0 }),
    /\/x\.png\) has no identity/,
  );
});

test('splitByIdentity on the shared CelebA set', async (t) => {
  const celeba = path.join(DATA, 'hr', 'celeba');
  if (!existsSync(celeba)) return t.skip(`no ${celeba}`);
  const ds = await ImageFolderDataset.fromFolder(celeba, { identity: 'celeba' });
  const [train, test2] = splitByIdentity(ds.items, { fractions: [0.9, 0.1], seed: 0 });
  assert.equal(train!.length + test2!.length, 16000);
  assert.equal(test2!.length, 1600); // 5 images per identity: exact
  const a = idsOf(train!);
  for (const id of idsOf(test2!)) assert.ok(!a.has(id));
});

test('area resize equals F.interpolate(mode area), including non-integer factors', () => {
  for (const [w, h, ow, oh] of [
    [128, 128, 64, 64],
    [90, 90, 64, 64],
    [20, 12, 7, 5],
    [5, 4, 9, 8],
  ] as const) {
    const px = pixels(w, h, w + ow);
    const ours = resizeAreaPlanar(new Uint8Array(px), w, h, 3, ow, oh);
    const ref = tidy(() => {
      const hwc = fromTypedArray(new Uint8Array(px), [h, w, 3]);
      const x = hwc.permute(2, 0, 1).unsqueeze(0).to({ dtype: 'float32' }).div(255);
      return F.interpolate(x, { size: [oh, ow], mode: 'area' });
    });
    assertClose(ours.data, ref.toFloat32Array(), { atol: 1e-6, rtol: 0, what: `${w}x${h} -> ${ow}x${oh}` });
    ref.dispose();
  }
});

test('loadSample: cover crop of a non-square image, landmarks follow; lanczos3 through sharp', async (t) => {
  const dir = await tempDir(t);
  // 40x20 image: left half dark, right half bright, a marked pixel at (30, 10).
  const w = 40;
  const h = 20;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) raw.fill(x < 20 ? 40 : 200, (y * w + x) * 3, (y * w + x) * 3 + 3);
  const file = path.join(dir, 'wide.png');
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
  assert.deepEqual(coverCrop(40, 20, 10, 10), { left: 10, top: 0, width: 20, height: 20 });
  const item: FaceItem = { file, landmarks: new Float32Array([20, 10, 30.5, 5]) };
  const s = await loadSample(item, { size: 10 });
  assert.equal(s.image.width, 10);
  assert.equal(s.image.height, 10);
  assertClose(s.landmarks!, [5, 5, 10.25, 2.5], { atol: 1e-6, rtol: 0 });
  // The crop is the middle 20x20: its left half dark, its right half bright.
  assert.ok(Math.abs(s.image.data[0]! - 40 / 255) < 1e-6 && Math.abs(s.image.data[9]! - 200 / 255) < 1e-6);
  const fill = await loadSample(item, { size: 10, fit: 'fill' });
  assertClose(fill.landmarks!, [5, 5, 7.625, 2.5], { atol: 1e-6, rtol: 0 });
  const native = await loadSample(item);
  assert.equal(native.image.width, 40);
  assertClose(native.landmarks!, [20, 10, 30.5, 5], { atol: 0, rtol: 0 });
  const lz = await loadSample(item, { size: [8, 12], resize: 'lanczos3' });
  assert.equal(lz.image.data.length, 3 * 8 * 12);
  await assert.rejects(loadSample(item, { size: 0 }), /positive integer for size/);
  await assert.rejects(loadSample(item, { size: 4, resize: 'cubic' as never }), /resize/);
});

test('FaceDataset subset and identities', () => {
  const ds = new FaceDataset(syntheticItems(5, 9));
  assert.deepEqual(ds.identities(), ['id0', 'id1', 'id2', 'id3', 'id4']);
  assert.equal(ds.subset([0, 1]).length, 2);
});
