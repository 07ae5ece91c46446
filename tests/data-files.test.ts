// Input expansion and batches (src/data/files.ts): folders walked and images found by content,
// globs, problems reported for unusable entries while the rest goes on, and runBatch.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { expandBraces, expandInputs, isGlob, runBatch } from '../src/data/files.js';
import { ImageError, readImage } from '../src/data/image.js';

let root = '';
let png: Buffer;
let jpg: Buffer;

/** root-relative paths -> absolute. */
const at = (...rel: string[]) => rel.map((r) => path.join(root, r));

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'facesr-files-'));
  const img = () =>
    sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 9, g: 99, b: 199 } } });
  png = await img().png().toBuffer();
  jpg = await img().jpeg().toBuffer();
  const files: [string, Buffer | string][] = [
    ['d/a.png', png],
    ['d/b.jpg', jpg],
    ['d/mislabelled.jpg', png], // a PNG named .jpg: found, by content
    ['d/noext', jpg], // no extension at all: found, by content
    ['d/notes.txt', 'not an image\n'], // skipped silently
    ['d/.hidden.png', png], // hidden: skipped
    ['d/.cache/x.png', png], // in a hidden folder: skipped
    ['d/sub/c.png', png],
    ['d/sub/deep/e.webp', await img().webp().toBuffer()],
    ['d/sub/deep/f.png', png],
    ['other/z.png', png],
    ['empty.png', Buffer.alloc(0)],
  ];
  for (const [rel, bytes] of files) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), bytes);
  }
});
after(async () => {
  await chmod(path.join(root, 'locked', 'inner'), 0o755).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

test('a folder walk finds images by content, skips hidden entries and non-images', async () => {
  const r = await expandInputs(at('d'));
  assert.deepEqual(
    r.files,
    at(
      'd/a.png',
      'd/b.jpg',
      'd/mislabelled.jpg',
      'd/noext',
      'd/sub/c.png',
      'd/sub/deep/e.webp',
      'd/sub/deep/f.png',
    ),
  );
  assert.deepEqual(r.problems, []);
  const flat = await expandInputs(at('d'), { recursive: false });
  assert.deepEqual(flat.files, at('d/a.png', 'd/b.jpg', 'd/mislabelled.jpg', 'd/noext'));
});

test('named files: taken as they are when images, problems when not', async () => {
  const r = await expandInputs(
    at('d/notes.txt', 'd/.hidden.png', 'missing.png', 'empty.png', 'd/mislabelled.jpg'),
  );
  assert.deepEqual(r.files, at('d/.hidden.png', 'd/mislabelled.jpg'));
  const problems = Object.fromEntries(r.problems.map((p) => [p.path, p.reason]));
  assert.match(problems[at('d/notes.txt')[0]!]!, /not an image/);
  assert.match(problems[at('missing.png')[0]!]!, /no such file/);
  assert.match(problems[at('empty.png')[0]!]!, /empty/);
  assert.equal(r.problems.length, 3);
});

test('duplicates removed, order sorted whatever the input order', async () => {
  const r = await expandInputs([...at('d/sub', 'd/b.jpg', 'd'), `${root}/d/./a.png`]);
  assert.deepEqual(
    r.files,
    at(
      'd/a.png',
      'd/b.jpg',
      'd/mislabelled.jpg',
      'd/noext',
      'd/sub/c.png',
      'd/sub/deep/e.webp',
      'd/sub/deep/f.png',
    ),
  );
  // Relative inputs come back relative (normalised).
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const rel = await expandInputs(['./d/sub/deep', 'd/sub/deep/f.png']);
    assert.deepEqual(rel.files, ['d/sub/deep/e.webp', 'd/sub/deep/f.png']);
  } finally {
    process.chdir(cwd);
  }
});

test('globs: ** and brace alternatives match exactly the expected files', async () => {
  const deep = await expandInputs([`${root}/d/**/*.png`]);
  assert.deepEqual(deep.files, at('d/a.png', 'd/sub/c.png', 'd/sub/deep/f.png'));
  assert.deepEqual(deep.problems, []);
  const braces = await expandInputs([`${root}/d/*.{jpg,png}`]);
  assert.deepEqual(braces.files, at('d/a.png', 'd/b.jpg', 'd/mislabelled.jpg'));
  const chars = await expandInputs([`${root}/d/s?b/[cd].*`, `${root}/d/sub/deep/[!f]*`]);
  assert.deepEqual(chars.files, at('d/sub/c.png', 'd/sub/deep/e.webp'));
  const hidden = await expandInputs([`${root}/d/.*.png`]);
  assert.deepEqual(hidden.files, at('d/.hidden.png'));
  const none = await expandInputs([`${root}/d/*.gif`, `${root}/d/*.txt`]);
  assert.deepEqual(none.files, []);
  assert.deepEqual(none.problems, [
    { path: `${root}/d/*.gif`, reason: 'no files match this pattern' },
    { path: `${root}/d/*.txt`, reason: 'no images among the 1 matching file(s)' },
  ]);
});

test('glob helpers', () => {
  assert.equal(isGlob('a/*.png'), true);
  assert.equal(isGlob('a/**'), true);
  assert.equal(isGlob('a/im?.png'), true);
  assert.equal(isGlob('a/[ab].png'), true);
  assert.equal(isGlob('a/{x,y}.png'), true);
  assert.equal(isGlob('a/b.png'), false);
  assert.deepEqual(expandBraces('a{b,c{d,e}}f'), ['abf', 'acdf', 'acef']);
  assert.deepEqual(expandBraces('a{b}c'), ['a{b}c']);
});

test('unreadable entries are problems and the walk goes on', async (t) => {
  const dir = path.join(root, 'u');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'good.png'), png);
  await symlink(path.join(root, 'no-such-target.png'), path.join(dir, 'broken.png'));
  await symlink(path.join(root, 'd', 'a.png'), path.join(dir, 'link.png'));
  await writeFile(path.join(dir, 'bad.jpg'), 'oops'); // image name, not an image: reported
  const r = await expandInputs([dir]);
  assert.deepEqual(r.files, [path.join(dir, 'good.png'), path.join(dir, 'link.png')]);
  assert.deepEqual(r.problems, [
    { path: path.join(dir, 'bad.jpg'), reason: r.problems[0]!.reason },
    { path: path.join(dir, 'broken.png'), reason: 'broken symbolic link (its target does not exist)' },
  ]);
  assert.match(r.problems[0]!.reason, /not an image/);
  // A broken link named directly.
  const named = await expandInputs([path.join(dir, 'broken.png')]);
  assert.deepEqual(named.problems, [
    { path: path.join(dir, 'broken.png'), reason: 'broken symbolic link (its target does not exist)' },
  ]);

  // A folder without read permission. As root, chmod does not block reads: detect that and skip.
  const locked = path.join(root, 'locked');
  await mkdir(path.join(locked, 'inner'), { recursive: true });
  await writeFile(path.join(locked, 'inner', 'x.png'), png);
  await writeFile(path.join(locked, 'ok.png'), png);
  await chmod(path.join(locked, 'inner'), 0o000);
  const blocked = await readdir(path.join(locked, 'inner')).then(
    () => false,
    () => true,
  );
  if (!blocked) {
    t.diagnostic(
      'running as root: chmod 000 does not block reads, permission case covered by the broken link',
    );
    return;
  }
  const l = await expandInputs([locked]);
  assert.deepEqual(l.files, [path.join(locked, 'ok.png')]);
  assert.equal(l.problems.length, 1);
  assert.equal(l.problems[0]!.path, path.join(locked, 'inner'));
  assert.match(l.problems[0]!.reason, /cannot list this folder: permission denied/);
});

test('symlinked folders are followed only when asked, without looping', async () => {
  const dir = path.join(root, 's');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'own.png'), png);
  await symlink(path.join(root, 'other'), path.join(dir, 'to-other'));
  await symlink(dir, path.join(dir, 'loop'));
  const plain = await expandInputs([dir]);
  assert.deepEqual(plain.files, [path.join(dir, 'own.png')]);
  const followed = await expandInputs([dir], { followSymlinks: true });
  assert.deepEqual(followed.files, [path.join(dir, 'own.png'), path.join(dir, 'to-other', 'z.png')]);
});

test('an empty folder, or one without images, is a problem', async () => {
  const dir = path.join(root, 'no-images');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'readme.txt'), 'hi');
  const r = await expandInputs([dir]);
  assert.deepEqual(r.files, []);
  assert.deepEqual(r.problems, [{ path: dir, reason: 'no images found in this folder' }]);
});

test('runBatch goes on after failures and lists them, in input order', async () => {
  const files = ['a', 'b', 'c', 'd', 'e'];
  const progress: { done: number; file: string; ok: boolean }[] = [];
  let running = 0;
  let maxRunning = 0;
  const r = await runBatch(
    files,
    async (f, i) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((res) => setTimeout(res, (5 - i) * 3));
      running--;
      if (f === 'b') throw new Error('b broke');
      if (f === 'd') return Promise.reject(new ImageError('d', 'truncated JPEG'));
      if (f === 'e') throw 'a string';
      return f.toUpperCase();
    },
    { concurrency: 2, onProgress: (p) => progress.push(p) },
  );
  assert.deepEqual(r.results, [
    { file: 'a', value: 'A' },
    { file: 'c', value: 'C' },
  ]);
  assert.deepEqual(r.failures, [
    { file: 'b', error: 'b broke' },
    { file: 'd', error: 'd: truncated JPEG' },
    { file: 'e', error: 'a string' },
  ]);
  assert.equal(maxRunning, 2);
  assert.deepEqual(
    progress.map((p) => p.done),
    [1, 2, 3, 4, 5],
  );
  assert.equal(progress.filter((p) => !p.ok).length, 3);
});

test('runBatch over real files: a bad image fails, the others are read', async () => {
  const dir = path.join(root, 'batch');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, '1.png'), png);
  await writeFile(path.join(dir, '2.jpg'), jpg.subarray(0, Math.floor(jpg.length * 0.6)));
  await writeFile(path.join(dir, '3.jpg'), jpg);
  const { files, problems } = await expandInputs([dir]);
  assert.deepEqual(problems, []);
  assert.equal(files.length, 3);
  const r = await runBatch(files, async (f) => (await readImage(f)).width, { concurrency: 3 });
  assert.deepEqual(
    r.results.map((x) => [path.basename(x.file), x.value]),
    [
      ['1.png', 4],
      ['3.jpg', 4],
    ],
  );
  assert.equal(r.failures.length, 1);
  assert.equal(r.failures[0]!.file, path.join(dir, '2.jpg'));
  assert.match(r.failures[0]!.error, /2\.jpg: (truncated|corrupt)/);
});

test('runBatch stops starting files once aborted and lists the rest', async () => {
  const ac = new AbortController();
  const r = await runBatch(
    ['a', 'b', 'c'],
    async (f) => {
      if (f === 'a') ac.abort();
      return f;
    },
    { signal: ac.signal },
  );
  assert.deepEqual(r.results, [{ file: 'a', value: 'a' }]);
  assert.deepEqual(
    r.failures.map((x) => x.file),
    ['b', 'c'],
  );
  assert.match(r.failures[0]!.error, /stopped/);
});
