// facesr serve's API over real HTTP on loopback: the happy paths (multipart and raw body, image and
// JSON answers, face selection, scale, format), every bad-input case with its status and code, the
// size and pixel limits, the queue (429), timeouts, client aborts, no files written, no tensors
// leaked. Faces come from a fake detector and the model is a tiny random R, so nothing here needs
// ../shared; the page itself is tested in e2e-serve.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { liveTensors, manualSeed } from '../src/tensor/index.js';
import { Restoration, saveModel, loadModel, type LoadedModel } from '../src/models/index.js';
import type { Detector, Face, RgbImage } from '../src/data/faces.js';
import { OPTION_NAMES, createServer, type ServeOptions } from '../src/server/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARCH = { type: 'restoration' as const, width: 8, blocks: 1, width2: 8, blocks2: 1, headWidth: 8 };
const W = 160;
const H = 120;
// Two faces the defaults restore (18 and 16 px) and one too large (50 px).
const FACES: Face[] = [
  { box: [20, 20, 38, 38], score: 0.99 },
  { box: [80, 30, 96, 46], score: 0.95 },
  { box: [100, 60, 150, 110], score: 0.9 },
];

let tmp = '';
let model: LoadedModel;
let photo: Buffer; // PNG W x H
let photoPixels: Uint8Array;
const servers: FastifyInstance[] = [];
let base = '';
let errorCodes: string[] = [];

function synthetic(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = Math.round((x * 255) / w);
      data[i + 1] = Math.round((y * 255) / h);
      data[i + 2] = Math.round(128 + 100 * Math.sin(x / 3) * Math.cos(y / 4));
    }
  return { data, width: w, height: h };
}

const fakeDetector = (faces: Face[] = FACES): Detector & { calls: number } => {
  const d = {
    name: 'fake',
    calls: 0,
    detect: async () => {
      d.calls++;
      return faces;
    },
  };
  return d;
};

/** Starts a server on 127.0.0.1 with a free port; returns its base URL. */
async function start(o: Partial<ServeOptions> = {}): Promise<string> {
  const app = await createServer({ model, detector: fakeDetector(), ...o });
  servers.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address();
  assert.ok(a && typeof a === 'object');
  return `http://127.0.0.1:${a.port}`;
}

function form(
  bytes: Buffer,
  fields: Record<string, string> = {},
  type = 'image/png',
  name = 'photo.png',
): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  f.append('image', new Blob([new Uint8Array(bytes)], { type }), name);
  return f;
}

const post = (
  url: string,
  body: BodyInit | Buffer | null,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) =>
  fetch(url, {
    method: 'POST',
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : body,
    headers,
    ...(signal ? { signal } : {}),
  });

/** Asserts an error answer: status, code (one the OpenAPI document lists) and a message matching re. */
async function expectError(res: Response, status: number, code: string, re: RegExp): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = JSON.parse(text) as { statusCode: number; code: string; message: string; error: string };
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code, body.message);
  assert.ok(errorCodes.includes(body.code), `code ${body.code} is not in the OpenAPI document's list`);
  assert.match(body.message, re);
}

async function pixels(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Waits until the server's /healthz queue satisfies ok (polling). */
async function waitQueue(
  url: string,
  ok: (q: Record<string, number>) => boolean,
): Promise<Record<string, number>> {
  for (let i = 0; i < 200; i++) {
    const q = ((await (await fetch(`${url}/healthz`)).json()) as { queue: Record<string, number> }).queue;
    if (ok(q)) return q;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`queue never reached the expected state`);
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'facesr-serve-'));
  manualSeed(5);
  const net = new Restoration(ARCH);
  const file = path.join(tmp, 'tiny.safetensors');
  await saveModel(file, net.stateDict(), { arch: ARCH });
  net.dispose();
  model = await loadModel(file);
  const img = synthetic(W, H);
  photoPixels = img.data;
  photo = await sharp(Buffer.from(img.data), { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toBuffer();
  base = await start();
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    components: { schemas: { Error: { properties: { code: { enum: string[] } } } } };
  };
  errorCodes = doc.components.schemas.Error.properties.code.enum;
});

after(async () => {
  for (const s of servers) await s.close();
  model?.net.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

test('GET /healthz answers ok with the queue state', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; queue: Record<string, number> };
  assert.equal(body.status, 'ok');
  assert.deepEqual(
    { concurrency: body.queue.concurrency, maxQueued: body.queue.maxQueued, running: body.queue.running },
    { concurrency: 1, maxQueued: 8, running: 0 },
  );
});

test('GET /v1/models names the loaded model and the shipped ones', async () => {
  const body = (await (await fetch(`${base}/v1/models`)).json()) as {
    loaded: { file: string; scale: number; inputSize: number; outputSize: number };
    detector: string;
    shipped: { name: string; default: boolean; loaded: boolean }[];
  };
  assert.equal(path.basename(body.loaded.file), 'tiny.safetensors');
  assert.deepEqual([body.loaded.scale, body.loaded.inputSize, body.loaded.outputSize], [4, 16, 64]);
  assert.equal(body.detector, 'fake');
  const cpu = body.shipped.find((m) => m.name === 'facesr-cpu');
  assert.ok(cpu, 'the shipped facesr-cpu is listed');
  assert.equal(cpu.default, true);
  assert.equal(cpu.loaded, false);
});

test('GET /openapi.json describes every route and every enhance option', async () => {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    openapi: string;
    paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: object }>>;
  };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.paths).sort(), ['/healthz', '/openapi.json', '/v1/enhance', '/v1/models']);
  const enhance = doc.paths['/v1/enhance']!.post!;
  assert.deepEqual(
    enhance.parameters!.map((p) => p.name),
    OPTION_NAMES,
  );
  for (const s of ['200', '400', '413', '415', '422', '429', '503']) assert.ok(s in enhance.responses, s);
});

test('GET / serves the page and its files, with nothing from another origin', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/html/);
  assert.match(res.headers.get('content-security-policy')!, /default-src 'self'/);
  const html = await res.text();
  assert.match(html, /<input id="files" type="file"/);
  assert.match(html, /<label for="files"/);
  for (const f of ['/app.js', '/style.css', '/favicon.svg']) {
    const r = await fetch(`${base}${f}`);
    assert.equal(r.status, 200, f);
    const text = await r.text();
    assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${f} refers to another origin`);
  }
  assert.doesNotMatch(html, /https?:\/\//, 'the page refers to another origin');
});

test('POST /v1/enhance (multipart) returns the photo with the small faces restored, the rest untouched', async () => {
  const res = await post(`${base}/v1/enhance`, form(photo));
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.equal(res.headers.get('x-facesr-faces'), '3');
  assert.equal(res.headers.get('x-facesr-restored'), '2');
  assert.match(res.headers.get('content-disposition')!, /filename="photo-restored\.png"/);
  const out = await pixels(Buffer.from(await res.arrayBuffer()));
  assert.deepEqual([out.width, out.height], [W, H]);
  const changed = (x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++)
        for (let c = 0; c < 3; c++)
          if (out.data[(y * W + x) * 3 + c] !== photoPixels[(y * W + x) * 3 + c]) n++;
    return n;
  };
  assert.ok(changed(22, 22, 36, 36) > 100, 'face 0 is restored');
  assert.ok(changed(82, 32, 94, 44) > 100, 'face 1 is restored');
  assert.equal(changed(105, 65, 145, 105), 0, 'the 50-px face is left as it was');
  assert.equal(changed(0, 70, 90, 120), 0, 'the background is untouched');
});

test('POST /v1/enhance (raw body) with scale=2 and format=webp', async () => {
  const res = await post(`${base}/v1/enhance?scale=2&format=webp&quality=80`, photo, {
    'content-type': 'image/png',
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'image/webp');
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 2 * W, 2 * H]);
  const oct = await post(`${base}/v1/enhance`, photo, { 'content-type': 'application/octet-stream' });
  assert.equal(oct.status, 200);
  assert.equal(oct.headers.get('content-type'), 'image/png');
});

test('output=json reports every face, with before/after crops of the restored ones and the photo', async () => {
  const res = await post(`${base}/v1/enhance?output=json`, form(photo, { scale: '2' }));
  assert.equal(res.status, 200);
  const rep = (await res.json()) as {
    scale: number;
    input: { width: number; height: number; format: string };
    output: { width: number; height: number; format: string };
    image: string;
    faces: {
      index: number;
      box: number[];
      restored: boolean;
      skipped?: string;
      before?: string;
      after?: string;
    }[];
    queueMs: number;
  };
  assert.equal(rep.scale, 2);
  assert.deepEqual(
    [rep.input.width, rep.input.height, rep.output.width, rep.output.height],
    [W, H, 2 * W, 2 * H],
  );
  assert.deepEqual(
    rep.faces.map((f) => [f.index, f.restored, f.skipped ?? null]),
    [
      [0, true, null],
      [1, true, null],
      [2, false, 'too-large'],
    ],
  );
  assert.deepEqual(rep.faces[1]!.box, [80, 30, 96, 46]);
  for (const f of rep.faces.slice(0, 2)) {
    for (const url of [f.before!, f.after!]) {
      assert.match(url, /^data:image\/png;base64,/);
      const m = await sharp(Buffer.from(url.split(',')[1]!, 'base64')).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['png', 64, 64]);
    }
    assert.notEqual(f.before, f.after);
  }
  assert.equal(rep.faces[2]!.after, undefined);
  const img = await sharp(Buffer.from(rep.image.split(',')[1]!, 'base64')).metadata();
  assert.deepEqual([img.width, img.height], [2 * W, 2 * H]);
  assert.ok(rep.queueMs >= 0);

  const bare = (await (
    await post(`${base}/v1/enhance?output=json&crops=false&image=false`, form(photo))
  ).json()) as {
    image?: string;
    faces: { after?: string }[];
  };
  assert.equal(bare.image, undefined);
  assert.ok(bare.faces.every((f) => f.after === undefined));
});

test('faces=2 restores exactly the chosen face, whatever its size; others are not-selected', async () => {
  const res = await post(`${base}/v1/enhance?output=json&faces=2&crops=false`, form(photo));
  assert.equal(res.status, 200);
  const rep = (await res.json()) as { faces: { index: number; restored: boolean; skipped?: string }[] };
  assert.deepEqual(
    rep.faces.map((f) => [f.index, f.restored, f.skipped ?? null]),
    [
      [0, false, 'not-selected'],
      [1, false, 'not-selected'],
      [2, true, null],
    ],
  );
  await expectError(
    await post(`${base}/v1/enhance?faces=0,7`, form(photo)),
    400,
    'bad_option',
    /face indices below 3.*faces.*7/,
  );
});

test('every bad option is a 400 naming the option', async () => {
  const cases: [string, RegExp][] = [
    ['colour=red', /Unknown option 'colour'.*scale/],
    ['scale=3', /Expected 1, 2 or 4 for scale but received '3'/],
    ['scale=', /for scale but received ''/],
    ['minSize=-1', /Expected number >= 0 for minSize/],
    ['maxSize=abc', /for maxSize but received 'abc'/],
    ['minSize=30&maxSize=20', /maxSize 20 is below minSize 30/],
    ['faces=one', /faces but received 'one'/],
    ['faces=1,,2', /faces but received '1,,2'/],
    ['format=gif', /Expected jpeg, png or webp for format/],
    ['quality=0', /Expected integer in \[1, 100\] for quality/],
    ['quality=50.5', /for quality but received '50.5'/],
    ['output=xml', /Expected image or json for output/],
    ['crops=maybe', /Expected true or false for crops/],
    ['image=2', /Expected true or false for image/],
    ['scale=1&scale=2', /scale is given 2 times/],
  ];
  for (const [q, re] of cases)
    await expectError(await post(`${base}/v1/enhance?${q}`, form(photo)), 400, 'bad_option', re);
  await expectError(
    await post(`${base}/v1/enhance?scale=2`, form(photo, { scale: '2' })),
    400,
    'bad_option',
    /scale is given both in the query and as a form field/,
  );
  await expectError(
    await post(`${base}/v1/enhance`, form(photo, { bogus: '1' })),
    400,
    'bad_option',
    /Unknown option 'bogus'/,
  );
});

test('every bad body is a clear 4xx', async () => {
  const url = `${base}/v1/enhance`;
  await expectError(await post(url, null), 400, 'no_image', /multipart\/form-data or as the raw body/);
  await expectError(
    await post(url, 'hello', { 'content-type': 'text/plain' }),
    415,
    'unsupported_media_type',
    /image\//,
  );
  await expectError(
    await post(url, '{"image":"x"}', { 'content-type': 'application/json' }),
    415,
    'unsupported_media_type',
    /multipart/,
  );
  await expectError(
    await post(url, Buffer.alloc(0), { 'content-type': 'image/png' }),
    400,
    'empty_image',
    /empty/,
  );
  await expectError(
    await post(url, Buffer.from('this is not a photo at all'), { 'content-type': 'image/jpeg' }),
    422,
    'not_an_image',
    /not an image this server reads/,
  );
  // A PNG cut after its header: the size is known, the pixels are not.
  await expectError(await post(url, form(photo.subarray(0, 60))), 422, 'not_an_image', /photo\.png/);
  const noFile = new FormData();
  noFile.append('scale', '2');
  await expectError(await post(url, noFile), 400, 'no_image', /no file part/);
  const two = form(photo);
  two.append('second', new Blob([new Uint8Array(photo)], { type: 'image/png' }), 'b.png');
  await expectError(await post(url, two), 400, 'too_many_files', /one photo per request/);
  await expectError(await fetch(`${base}/v1/enhance`), 404, 'not_found', /GET \/v1\/enhance/);
  await expectError(await fetch(`${base}/v2/nothing?x=1`), 404, 'not_found', /no route GET \/v2\/nothing;/);
});

test('uploads over the byte limit and photos over the pixel limit are 413', async () => {
  const url = await start({ maxBytes: 2000, pixelLimit: 100 * 100 });
  const big = Buffer.concat([photo, Buffer.alloc(5000)]);
  assert.ok(photo.length > 2000, 'the test photo is over the byte limit');
  await expectError(
    await post(`${url}/v1/enhance`, big, { 'content-type': 'image/png' }),
    413,
    'too_large',
    /0\.0 MB|limit of/,
  );
  await expectError(await post(`${url}/v1/enhance`, form(big)), 413, 'too_large', /limit of/);
  const small = await sharp({ create: { width: 90, height: 90, channels: 3, background: '#888' } })
    .png()
    .toBuffer();
  const wide = await sharp({ create: { width: 200, height: 60, channels: 3, background: '#888' } })
    .png()
    .toBuffer();
  await expectError(
    await post(`${url}/v1/enhance`, wide, { 'content-type': 'image/png' }),
    413,
    'too_many_pixels',
    /200x60 .*over this server's limit/,
  );
  await expectError(
    await post(`${url}/v1/enhance?scale=2`, small, { 'content-type': 'image/png' }),
    413,
    'too_many_pixels',
    /x2 output .* 180x180 .*smaller scale/,
  );
  const ok = await post(`${url}/v1/enhance`, small, { 'content-type': 'image/png' });
  assert.equal(ok.status, 200, await ok.clone().text());
});

/** A detector that waits for `open()` before answering. */
function gatedDetector() {
  let open!: () => void;
  let gate = new Promise<void>((r) => (open = r));
  const d = {
    name: 'gated',
    calls: 0,
    detect: async () => {
      d.calls++;
      await gate;
      return FACES.slice(0, 1);
    },
    open: () => open(),
    reset: () => (gate = new Promise<void>((r) => (open = r))),
  };
  return d;
}

test('a full queue answers 429 at once; queued requests run in turn', async () => {
  const det = gatedDetector();
  const url = await start({ detector: det, concurrency: 1, maxQueued: 1 });
  const a = post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' });
  await waitQueue(url, (q) => q.running === 1);
  const b = post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' });
  await waitQueue(url, (q) => q.waiting === 1);
  const t0 = performance.now();
  const c = await post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' });
  assert.ok(performance.now() - t0 < 2000, 'the 429 comes at once');
  assert.ok(Number(c.headers.get('retry-after')) >= 1);
  await expectError(c, 429, 'queue_full', /busy \(1 running, 1 queued\)/);
  const q = await waitQueue(url, () => true);
  assert.deepEqual([q.admitted, q.running, q.waiting, q.rejected], [2, 1, 1, 1]);
  assert.equal(det.calls, 1, 'the queued request has not started');
  det.open();
  const [ra, rb] = await Promise.all([a, b]);
  assert.deepEqual([ra.status, rb.status], [200, 200]);
  assert.equal(det.calls, 2);
  const end = await waitQueue(url, (s) => s.admitted === 0);
  assert.deepEqual([end.running, end.waiting], [0, 0]);
});

test('a request past its timeout is 503, running or queued, and its slot is freed when the work ends', async () => {
  const det = gatedDetector();
  const url = await start({ detector: det, concurrency: 1, maxQueued: 2, timeoutMs: 400 });
  const a = post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' });
  await waitQueue(url, (q) => q.running === 1);
  const b = post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' });
  await expectError(await a, 503, 'timeout', /within the server's limit of 0\.4 s/);
  await expectError(await b, 503, 'timeout', /0\.4 s/);
  const q = await waitQueue(url, (s) => s.admitted === 0);
  assert.equal(q.running, 1, 'the timed-out work still holds its slot');
  assert.equal(det.calls, 1, 'the request that timed out in the queue never ran');
  det.open();
  await waitQueue(url, (s) => s.running === 0);
});

test('a client that goes away while queued is dropped from the queue', async () => {
  const det = gatedDetector();
  const url = await start({ detector: det, concurrency: 1, maxQueued: 2 });
  const a = post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' });
  await waitQueue(url, (q) => q.running === 1);
  const ctl = new AbortController();
  const b = post(`${url}/v1/enhance`, photo, { 'content-type': 'image/png' }, ctl.signal).catch(
    (e: Error) => e,
  );
  await waitQueue(url, (q) => q.waiting === 1);
  ctl.abort();
  assert.ok((await b) instanceof Error);
  const q = await waitQueue(url, (s) => s.waiting === 0 && s.admitted === 1);
  assert.equal(q.running, 1);
  det.open();
  assert.equal((await a).status, 200);
  await waitQueue(url, (s) => s.admitted === 0);
  assert.equal(det.calls, 1, 'the abandoned request never ran');
});

test('requests write no files and leak no tensors', async () => {
  const dir = mkdtempSync(path.join(tmp, 'tmpdir-'));
  const old = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    assert.equal(os.tmpdir(), dir);
    // One request first: the first run creates lasting engine state.
    await (await post(`${base}/v1/enhance?output=json`, form(photo))).arrayBuffer();
    const live = liveTensors();
    for (let i = 0; i < 4; i++) {
      const r = await post(`${base}/v1/enhance?output=json&scale=2`, form(photo));
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      await (
        await post(`${base}/v1/enhance`, Buffer.from('junk'), { 'content-type': 'image/png' })
      ).arrayBuffer();
    }
    assert.equal(liveTensors(), live, 'live tensors after the requests');
    assert.deepEqual(readdirSync(dir), [], 'files written to the temporary folder');
  } finally {
    if (old === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = old;
  }
  // The package's files are not touched by requests either (a write would show as a new file here).
  assert.ok(readFileSync(path.join(repo, 'package.json'), 'utf8').includes('"facesr"'));
});
