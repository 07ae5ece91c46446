// Image I/O (src/data/image.ts): decoding by content across formats and pixel layouts, orientation,
// bad input with clear errors naming the file, and encoding (round trips, grayscale, alpha, EXIF).
// Test images are made with sharp in a temporary folder at run time.
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {
  encodeImage,
  formatForExtension,
  ImageError,
  readImage,
  sniffFormat,
  writeImage,
  type DecodedImage,
  type RawImage,
} from '../src/data/image.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'facesr-image-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const RED = { r: 200, g: 30, b: 40 };

async function save(name: string, bytes: Buffer | string): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return file;
}

function solid(w: number, h: number, c: { r: number; g: number; b: number }) {
  return sharp({ create: { width: w, height: h, channels: 3, background: c } });
}

/** [r, g, b] at (x, y). */
function px(img: RawImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * img.channels;
  return [...img.data.subarray(i, i + img.channels)];
}

function assertColour(actual: number[], expected: number[], tol: number, what: string) {
  for (let c = 0; c < expected.length; c++)
    assert.ok(
      Math.abs(actual[c]! - expected[c]!) <= tol,
      `${what}: got [${actual.join(',')}], expected [${expected.join(',')}] within ${tol}`,
    );
}

/** A gradient (smooth, so lossy codecs keep it close). */
function gradient(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = Math.round((255 * x) / (w - 1));
      data[i + 1] = Math.round((255 * y) / (h - 1));
      data[i + 2] = 128;
    }
  return { data, width: w, height: h, channels: 3 };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/** Asserts that reading `input` fails with an ImageError whose message starts with the path. */
async function rejectsImage(input: string, re: RegExp, opts = {}): Promise<ImageError> {
  let caught: unknown;
  try {
    await readImage(input, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ImageError, `expected an ImageError for ${input}, got ${String(caught)}`);
  assert.ok(caught.message.startsWith(`${input}: `), `message should start with the path: ${caught.message}`);
  assert.equal(caught.file, input);
  assert.match(caught.message, re);
  return caught;
}

// ---- decoding by content -------------------------------------------------------------------------

test('a PNG saved with a .jpg name decodes as PNG, pixels exact', async () => {
  const file = await save('mislabelled.jpg', await solid(5, 3, RED).png().toBuffer());
  const img = await readImage(file);
  assert.equal(img.info.format, 'png');
  assert.equal(img.width, 5);
  assert.equal(img.height, 3);
  assert.equal(img.channels, 3);
  assert.equal(img.data.length, 5 * 3 * 3);
  assert.deepEqual(px(img, 4, 2), [200, 30, 40]);
  assert.equal(img.source, file);
});

test('JPEG, PNG, WebP, TIFF and GIF decode to the right size and colour', async () => {
  const cases = [
    ['jpeg', await solid(8, 6, RED).jpeg({ quality: 95 }).toBuffer(), 4],
    ['png', await solid(8, 6, RED).png().toBuffer(), 0],
    ['webp', await solid(8, 6, RED).webp({ lossless: true }).toBuffer(), 0],
    ['tiff', await solid(8, 6, RED).tiff().toBuffer(), 4],
    ['gif', await solid(8, 6, RED).gif().toBuffer(), 4],
  ] as const;
  for (const [format, bytes, tol] of cases) {
    assert.equal(sniffFormat(bytes), format);
    const file = await save(`fmt.${format}.bin`, bytes);
    const img = await readImage(file);
    assert.equal(img.info.format, format);
    assert.equal(img.width, 8, format);
    assert.equal(img.height, 6, format);
    assert.equal(img.data.length, 8 * 6 * 3, format);
    assertColour(px(img, 3, 3), [200, 30, 40], tol, format);
    assert.deepEqual(img.warnings, [], format);
  }
});

test('AVIF decodes (when this sharp can write one to test with)', async (t) => {
  let bytes: Buffer;
  try {
    bytes = await solid(8, 6, RED).avif({ quality: 90 }).toBuffer();
  } catch (err) {
    t.skip(`sharp cannot write AVIF here: ${(err as Error).message}`);
    return;
  }
  assert.equal(sniffFormat(bytes), 'avif');
  const img = await readImage(await save('x.avif', bytes));
  assert.equal(img.info.format, 'avif');
  assert.equal(img.width, 8);
  assert.equal(img.height, 6);
  assertColour(px(img, 4, 3), [200, 30, 40], 8, 'avif');
});

test('animated GIF and WebP: first frame with a warning; animated "error" refuses', async () => {
  // Two 4x4 frames: white, then black.
  const frames = Buffer.concat([Buffer.alloc(4 * 4 * 3, 255), Buffer.alloc(4 * 4 * 3, 0)]);
  const raw = { raw: { width: 4, height: 8, channels: 3 as const, pageHeight: 4 } };
  for (const [format, bytes] of [
    ['gif', await sharp(frames, raw).gif({ loop: 0 }).toBuffer()],
    ['webp', await sharp(frames, raw).webp({ loop: 0, lossless: true }).toBuffer()],
  ] as const) {
    const file = await save(`anim.${format}`, bytes);
    const img = await readImage(file);
    assert.equal(img.width, 4, format);
    assert.equal(img.height, 4, format);
    assert.equal(img.info.pages, 2, format);
    assert.deepEqual(px(img, 1, 1), [255, 255, 255], `${format}: the first frame is white`);
    assert.equal(img.warnings.length, 1, format);
    assert.match(img.warnings[0]!, /animation with 2 frames: used the first frame/);
    await rejectsImage(file, /animation/, { animated: 'error' });
  }
});

test('16-bit PNG: bitDepth 16, samples scaled to 8 bits (0xFFFF -> 255, 0x8080 -> 128)', async () => {
  const rgb16 = await sharp(new Uint16Array([0xffff, 0x8080, 0x0000, 0x0101, 0x7f7f, 0xfefe]), {
    raw: { width: 2, height: 1, channels: 3 },
  })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  const a = await readImage(await save('rgb16.png', rgb16));
  assert.equal(a.info.bitDepth, 16);
  assert.equal(a.info.isGrayscale, false);
  assert.deepEqual([...a.data], [255, 128, 0, 1, 127, 254]);

  const grey16 = await sharp(new Uint16Array([0xffff, 0x8080, 0x0000]), {
    raw: { width: 3, height: 1, channels: 1 },
  })
    .toColourspace('grey16')
    .png()
    .toBuffer();
  const g = await readImage(await save('grey16.png', grey16));
  assert.equal(g.info.bitDepth, 16);
  assert.equal(g.info.isGrayscale, true);
  assert.deepEqual([...g.data], [255, 255, 255, 128, 128, 128, 0, 0, 0]);
});

test('grayscale PNG and JPEG: isGrayscale, three equal channels', async () => {
  const gray = Buffer.from([10, 200, 30, 40]);
  const png = await sharp(gray, { raw: { width: 2, height: 2, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  const img = await readImage(await save('gray.png', png));
  assert.equal(img.info.isGrayscale, true);
  assert.equal(img.info.channels, 1);
  assert.equal(img.info.hasAlpha, false);
  assert.equal(img.alpha, undefined);
  assert.deepEqual([...img.data], [10, 10, 10, 200, 200, 200, 30, 30, 30, 40, 40, 40]);

  const jpg = await sharp(Buffer.alloc(16 * 16, 90), { raw: { width: 16, height: 16, channels: 1 } })
    .toColourspace('b-w')
    .jpeg()
    .toBuffer();
  const j = await readImage(await save('gray.jpg', jpg));
  assert.equal(j.info.isGrayscale, true);
  const p = px(j, 5, 5);
  assert.ok(p[0] === p[1] && p[1] === p[2], `equal channels, got ${p.join(',')}`);
  assertColour(p, [90, 90, 90], 2, 'gray jpeg');
});

test('gray+alpha and RGBA: alpha kept separately, colour right', async () => {
  const ga = await sharp(Buffer.from([10, 100, 200, 50]), { raw: { width: 2, height: 1, channels: 2 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  const g = await readImage(await save('ga.png', ga));
  assert.equal(g.info.hasAlpha, true);
  assert.equal(g.info.isGrayscale, true);
  assert.equal(g.channels, 3);
  assert.deepEqual([...g.data], [10, 10, 10, 200, 200, 200]);
  assert.deepEqual([...g.alpha!], [100, 50]);

  const rgba = await sharp(Buffer.from([10, 20, 30, 40, 50, 60, 70, 255]), {
    raw: { width: 2, height: 1, channels: 4 },
  })
    .png()
    .toBuffer();
  const r = await readImage(await save('rgba.png', rgba));
  assert.equal(r.info.hasAlpha, true);
  assert.equal(r.info.isGrayscale, false);
  assert.deepEqual([...r.data], [10, 20, 30, 50, 60, 70]);
  assert.deepEqual([...r.alpha!], [40, 255]);
});

test('CMYK JPEG: info.space cmyk, decoded to RGB of about the right colour', async () => {
  const c = { r: 180, g: 120, b: 90 };
  const bytes = await solid(8, 8, c).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
  const img = await readImage(await save('cmyk.jpg', bytes));
  assert.equal(img.info.space, 'cmyk');
  assert.equal(img.info.channels, 4);
  assert.equal(img.info.hasAlpha, false);
  assert.equal(img.alpha, undefined);
  assert.equal(img.channels, 3);
  assertColour(px(img, 4, 4), [180, 120, 90], 12, 'cmyk');
});

/** 40x20 JPEG, top-left 20x10 quadrant red, the rest blue, EXIF orientation 6 (+ Make 'ACME'). */
async function orientedJpeg(): Promise<Buffer> {
  const quadrant = await solid(20, 10, { r: 255, g: 0, b: 0 }).png().toBuffer();
  return solid(40, 20, { r: 0, g: 0, b: 255 })
    .composite([{ input: quadrant, left: 0, top: 0 }])
    .jpeg({ quality: 95 })
    .withExif({ IFD0: { Make: 'ACME' } })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

test('EXIF orientation 6: 40x20 decodes as 20x40 with the top-left corner now top-right', async () => {
  const bytes = await orientedJpeg();
  const stored = await sharp(bytes).metadata();
  assert.equal(stored.width, 40);
  assert.equal(stored.orientation, 6);
  const img = await readImage(await save('orient6.jpg', bytes));
  assert.equal(img.width, 20);
  assert.equal(img.height, 40);
  assert.equal(img.info.width, 20);
  assert.equal(img.info.height, 40);
  assert.equal(img.info.orientation, 6);
  assertColour(px(img, 17, 2), [255, 0, 0], 12, 'top-right (was top-left)');
  assertColour(px(img, 2, 2), [0, 0, 255], 12, 'top-left');
  assertColour(px(img, 17, 37), [0, 0, 255], 12, 'bottom-right');
});

test('a 1x1 image works', async () => {
  const img = await readImage(
    await save('one.png', await solid(1, 1, { r: 1, g: 2, b: 3 }).png().toBuffer()),
  );
  assert.equal(img.width, 1);
  assert.equal(img.height, 1);
  assert.deepEqual([...img.data], [1, 2, 3]);
});

test('bytes can be read directly, named in messages', async () => {
  const img = await readImage(await solid(3, 2, RED).png().toBuffer(), { name: 'upload.png' });
  assert.equal(img.source, 'upload.png');
  await assert.rejects(readImage(Buffer.from('hello'), { name: 'upload.txt' }), (err: unknown) => {
    assert.ok(err instanceof ImageError);
    assert.match(err.message, /^upload\.txt: not an image/);
    return true;
  });
});

// ---- bad input -----------------------------------------------------------------------------------

/** A noisy JPEG, big enough that cutting or damaging it hits the image data. */
async function noisyJpeg(): Promise<Buffer> {
  return sharp({
    create: {
      width: 160,
      height: 120,
      channels: 3,
      background: 'black',
      noise: { type: 'gaussian', mean: 128, sigma: 50 },
    },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
}

test('zero-byte file: "file is empty"', async () => {
  await rejectsImage(await save('empty.jpg', Buffer.alloc(0)), /file is empty/);
});

test('truncated JPEG (60% of its bytes): "truncated" and the file name', async () => {
  const jpg = await noisyJpeg();
  const file = await save('cut.jpg', jpg.subarray(0, Math.floor(jpg.length * 0.6)));
  const err = await rejectsImage(file, /truncated|corrupt/);
  assert.match(err.message, /cut\.jpg/);
  assert.match(err.message, /truncated/);
});

test('truncated PNG, WebP and GIF are reported as truncated', async () => {
  const noise = () =>
    sharp({
      create: {
        width: 64,
        height: 64,
        channels: 3,
        background: 'black',
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    });
  for (const [name, bytes] of [
    ['cut.png', await noise().png().toBuffer()],
    ['cut.webp', await noise().webp().toBuffer()],
    ['cut.gif', await noise().gif().toBuffer()],
  ] as const) {
    const file = await save(name, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await rejectsImage(file, /truncated/);
  }
});

test('corrupt bytes after a valid JPEG header: "corrupt", not a silently garbled image', async () => {
  const jpg = await noisyJpeg();
  const sos = jpg.indexOf(Buffer.from([0xff, 0xda]));
  assert.ok(sos > 0);
  // (a) Scattered bit flips in the entropy-coded data (libjpeg only warns about these).
  const flipped = Buffer.from(jpg);
  for (let i = sos + 20; i < flipped.length - 2; i += 37) flipped[i]! ^= 0x5a;
  await rejectsImage(await save('flipped.jpg', flipped), /corrupt/);
  // (b) Everything after the tables overwritten with a pattern.
  const garbage = Buffer.from(jpg);
  for (let i = sos + 20; i < garbage.length - 2; i++) garbage[i] = (i * 7) & 0xff;
  await rejectsImage(await save('garbage.jpg', garbage), /corrupt/);
});

test('not an image (a text file, whatever its name): "not an image"', async () => {
  await rejectsImage(await save('notes.jpg', 'hello, these are notes\n'), /not an image/);
});

test('over the pixel limit: the message gives the size and the limit', async () => {
  const file = await save('big.png', await solid(100, 50, RED).png().toBuffer());
  await rejectsImage(file, /100x50.*5000 pixels.*limit of 4000 pixels/, { pixelLimit: 4000 });
  const ok = await readImage(file, { pixelLimit: 5000 });
  assert.equal(ok.width, 100);
  // Large limits read in megapixels.
  const big = await rejectsImage(file, /over the pixel limit/, { pixelLimit: 4000 });
  assert.doesNotMatch(big.message, /0\.0 MP/);
});

test('a folder passed as a file, and a missing file', async () => {
  const sub = path.join(dir, 'a-folder.png');
  await mkdir(sub, { recursive: true });
  await rejectsImage(sub, /is a folder/);
  await rejectsImage(path.join(dir, 'nope.png'), /no such file/);
});

// ---- encoding ------------------------------------------------------------------------------------

test('PNG round trip is exact; JPEG and WebP are close', async () => {
  const g = gradient(33, 17);
  const pngFile = path.join(dir, 'rt.png');
  await writeImage(pngFile, g);
  const back = await readImage(pngFile);
  assert.equal(back.info.format, 'png');
  assert.deepEqual(back.data, g.data);

  for (const [ext, format, tol] of [
    ['jpg', 'jpeg', 3],
    ['webp', 'webp', 4],
  ] as const) {
    const file = path.join(dir, `rt.${ext}`);
    await writeImage(file, g, { quality: 95 });
    const r = await readImage(file);
    assert.equal(r.info.format, format);
    assert.equal(r.width, 33);
    assert.equal(r.height, 17);
    const mad = meanAbsDiff(r.data, g.data);
    assert.ok(mad < tol, `${format} round trip mean abs diff ${mad.toFixed(2)}`);
  }
  // An explicit format wins over the extension.
  const forced = path.join(dir, 'forced.png');
  await writeImage(forced, g, { format: 'jpeg' });
  assert.equal((await readImage(forced)).info.format, 'jpeg');
});

test('grayscale output has one channel (also when carrying metadata)', async () => {
  const g = gradient(12, 8);
  const plain = await encodeImage(g, { format: 'png', grayscale: true });
  assert.equal((await sharp(plain).metadata()).channels, 1);
  const src = await solid(12, 8, RED)
    .jpeg()
    .withExif({ IFD0: { Make: 'ACME' } })
    .toBuffer();
  const withMeta = await encodeImage(g, { format: 'png', grayscale: true, metadataFrom: src });
  const m = await sharp(withMeta).metadata();
  assert.equal(m.channels, 1);
  assert.ok(m.exif?.includes('ACME'));
});

test('alpha is re-attached; without alpha no alpha channel appears', async () => {
  const rgba = await sharp(Buffer.from([10, 20, 30, 40, 50, 60, 70, 0, 1, 2, 3, 255]), {
    raw: { width: 3, height: 1, channels: 4 },
  })
    .png()
    .withExif({ IFD0: { Make: 'ACME' } })
    .toBuffer();
  const img = await readImage(await save('alpha-src.png', rgba));
  for (const metadataFrom of [undefined, img.bytes]) {
    const what = metadataFrom ? 'with metadata' : 'plain';
    const out = path.join(dir, `alpha-out-${metadataFrom ? 'meta' : 'plain'}.png`);
    await writeImage(out, img, { alpha: img.alpha, metadataFrom });
    const back = await readImage(out);
    assert.equal(back.info.hasAlpha, true, what);
    assert.deepEqual([...back.data], [10, 20, 30, 50, 60, 70, 1, 2, 3], what);
    assert.deepEqual([...back.alpha!], [40, 0, 255], what);

    const noAlpha = await encodeImage(img, { format: 'png', metadataFrom });
    assert.equal((await sharp(noAlpha).metadata()).channels, 3, `${what}: no alpha asked, none written`);
  }
  // Gray pixels with alpha give gray+alpha.
  const ga = await encodeImage(
    { data: new Uint8Array([5, 6]), width: 2, height: 1, channels: 1 },
    { format: 'png', grayscale: true, alpha: new Uint8Array([7, 8]) },
  );
  const gaMeta = await sharp(ga).metadata();
  assert.equal(gaMeta.channels, 2);
  assert.equal(gaMeta.space, 'b-w');
  const gaBack = await readImage(ga);
  assert.deepEqual([...gaBack.data], [5, 5, 5, 6, 6, 6]);
  assert.deepEqual([...gaBack.alpha!], [7, 8]);
});

test('metadataFrom keeps EXIF, resets orientation, writes upright pixels', async () => {
  const src = await save('exif-src.jpg', await orientedJpeg());
  const img: DecodedImage = await readImage(src);
  assert.equal(img.info.hasExif, true);
  for (const ext of ['jpg', 'png', 'webp']) {
    const out = path.join(dir, `exif-out.${ext}`);
    await writeImage(out, img, { metadataFrom: img.bytes });
    const m = await sharp(out).metadata();
    assert.ok(m.exif, `${ext}: has EXIF`);
    assert.ok(m.exif.includes('ACME'), `${ext}: EXIF keeps Make`);
    assert.ok(m.orientation === undefined || m.orientation === 1, `${ext}: orientation ${m.orientation}`);
    assert.equal(m.width, 20, ext);
    assert.equal(m.height, 40, ext);
    const back = await readImage(out);
    assertColour(px(back, 17, 2), [255, 0, 0], 16, `${ext}: red corner stays top-right`);
    assertColour(px(back, 2, 2), [0, 0, 255], 16, `${ext}: top-left is blue`);
  }
  // Without metadataFrom nothing is carried.
  const bare = await encodeImage(img, { format: 'jpeg' });
  assert.equal((await sharp(bare).metadata()).exif, undefined);
  // Output of another size (an upscale) also carries it.
  const up = await encodeImage(gradient(80, 160), { format: 'jpeg', metadataFrom: img.bytes });
  const um = await sharp(up).metadata();
  assert.equal(um.width, 80);
  assert.equal(um.height, 160);
  assert.ok(um.exif?.includes('ACME'));
});

test('metadataFrom keeps pixels exact (PNG), even from an original with a colour profile', async () => {
  const g = gradient(16, 8);
  const src = await sharp(Buffer.from(g.data), { raw: { width: 16, height: 8, channels: 3 } })
    .withIccProfile('p3')
    .png()
    .withExif({ IFD0: { Make: 'ACME' } })
    .toBuffer();
  const img = await readImage(src);
  assert.equal(img.info.hasIcc, true);
  const out = await encodeImage(g, { format: 'png', metadataFrom: img.bytes });
  const back = await readImage(out);
  assert.deepEqual(back.data, g.data);
  assert.equal((await sharp(out).metadata()).channels, 3);
});

test('JPEG output of pixels with alpha is flattened onto white (not written as CMYK)', async () => {
  const c = { data: new Uint8Array(8 * 8 * 3), width: 8, height: 8, channels: 3 };
  for (let i = 0; i < 64; i++) c.data.set([200, 100, 50], i * 3);
  const alpha = new Uint8Array(64).fill(255);
  alpha.fill(0, 32); // bottom half transparent
  for (const metadataFrom of [undefined, await solid(8, 8, RED).png().toBuffer()]) {
    const jpg = await encodeImage(c, { format: 'jpeg', alpha, quality: 100, metadataFrom });
    const j = await readImage(jpg);
    assert.equal(j.info.space, 'srgb');
    assert.equal(j.info.hasAlpha, false);
    assertColour(px(j, 4, 1), [200, 100, 50], 4, 'opaque half');
    assertColour(px(j, 4, 6), [255, 255, 255], 4, 'transparent half');
  }
});

test('writeImage is atomic and names the file in errors', async () => {
  const out = path.join(dir, 'atomic');
  await mkdir(out);
  const g = gradient(9, 9);
  await Promise.all([
    writeImage(path.join(out, 'a.png'), g),
    writeImage(path.join(out, 'a.png'), g),
    writeImage(path.join(out, 'b.jpg'), g),
    writeImage(path.join(out, 'c.webp'), g),
  ]);
  const bmp = path.join(out, 'd.bmp');
  await assert.rejects(writeImage(bmp, g), (err: unknown) => {
    assert.ok(err instanceof ImageError);
    assert.ok(err.message.startsWith(`${bmp}: `), err.message);
    assert.match(err.message, /extension '\.bmp'/);
    return true;
  });
  const missing = path.join(out, 'no-such-folder', 'e.png');
  await assert.rejects(writeImage(missing, g), (err: unknown) => {
    assert.ok(err instanceof ImageError);
    assert.ok(err.message.startsWith(`${missing}: `), err.message);
    assert.match(err.message, /does not exist/);
    return true;
  });
  // A folder in the way of the output.
  await mkdir(path.join(out, 'f.png'));
  await assert.rejects(writeImage(path.join(out, 'f.png'), g), /f\.png: cannot write/);
  assert.deepEqual((await readdir(out)).sort(), ['a.png', 'b.jpg', 'c.webp', 'f.png']);
  assert.deepEqual(await readdir(path.join(out, 'f.png')), []);
});

test('encodeImage checks its pixels', async () => {
  await assert.rejects(
    encodeImage({ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }, { format: 'png' }),
    /10 bytes of pixels for 2x2x3 \(expected 12\)/,
  );
  await assert.rejects(
    encodeImage(gradient(2, 2), { format: 'png', alpha: new Uint8Array(3) }),
    /alpha has 3 bytes; expected 4/,
  );
});

test('formatForExtension', () => {
  assert.equal(formatForExtension('x/y.JPG'), 'jpeg');
  assert.equal(formatForExtension('y.jpeg'), 'jpeg');
  assert.equal(formatForExtension('y.png'), 'png');
  assert.equal(formatForExtension('y.webp'), 'webp');
  assert.equal(formatForExtension('y.tif'), null);
  assert.equal(formatForExtension('noext'), null);
});
