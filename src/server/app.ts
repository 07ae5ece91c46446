// facesr serve: a fastify app with the JSON API (POST /v1/enhance, GET /v1/models, GET /healthz,
// GET /openapi.json) and the web page (GET /). Uploads stay in memory: nothing from a request is
// ever written to disk. The pipeline runs on this thread, `concurrency` requests at a time.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { ArgumentError } from '../core/errors.js';
import type { Detector } from '../data/faces.js';
import type { RestorationModel } from '../infer/enhance.js';
import { DEFAULT_MODEL, readManifest } from '../models/modelfile.js';
import { HttpError, errorBody } from './errors.js';
import { MIME, checkPhoto } from './job.js';
import { type JobRunner, inProcessRunner } from './runner.js';
import { openApiDocument } from './openapi.js';
import { parseRequestOptions } from './options.js';
import { SlotAbortedError, WorkQueue } from './queue.js';
import { packageVersion, readPublicFiles } from './static.js';
import { SERVE_DEFAULTS } from './defaults.js';

export { SERVE_DEFAULTS };

export interface ServeOptions {
  /** The restoration model (loadModel), used on this thread; or give `runner`. */
  model?: RestorationModel;
  /** Finds the faces; shared by all requests (with `model`). */
  detector?: Detector;
  /** Where jobs run instead of this thread with model and detector: e.g. startWorkerRunner's
   * worker thread, which keeps the event loop free while a photo is processed. */
  runner?: JobRunner;
  /** Requests processed at once (default 1: the pipeline uses every core already). */
  concurrency?: number;
  /** Requests admitted beyond those running (uploading or waiting; default 8); more get 429. */
  maxQueued?: number;
  /** Largest upload in bytes (default 25 MB). */
  maxBytes?: number;
  /** Largest photo, input and scaled output, in pixels (default 40 MP). */
  pixelLimit?: number;
  /** Per-request limit from arrival to answer, ms (default 120 s); then 503. */
  timeoutMs?: number;
  /** Called once per answered enhance request (for a log line). */
  onEnhance?: (e: { status: number; ms: number; faces?: number; restored?: number }) => void;
}

/** Content types accepted as a raw photo body. */
const RAW_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/tiff',
  'image/gif',
  'image/avif',
  'image/heif',
  'image/heic',
  'application/octet-stream',
];

interface Pending {
  release: () => void;
  signal: AbortSignal;
  reason: () => 'timeout' | 'closed';
  started: number;
  faces?: { faces: number; restored: number };
}

function positiveInt(v: number, name: string, min = 1): number {
  if (!(Number.isInteger(v) && v >= min))
    throw new ArgumentError(`Expected integer >= ${min} for ${name} but received ${v}`);
  return v;
}

/** Builds the app (not listening yet: call `listen`). Closing it does not dispose the model or detector. */
export async function createServer(opts: ServeOptions): Promise<FastifyInstance> {
  const o = { ...SERVE_DEFAULTS, ...opts };
  positiveInt(o.concurrency, 'concurrency');
  positiveInt(o.maxQueued, 'maxQueued', 0);
  positiveInt(o.maxBytes, 'maxBytes');
  positiveInt(o.pixelLimit, 'pixelLimit');
  positiveInt(o.timeoutMs, 'timeoutMs');
  let runner: JobRunner;
  if (o.runner) runner = o.runner;
  else if (o.model && o.detector) runner = inProcessRunner(o.model, o.detector);
  else throw new ArgumentError('createServer needs a runner, or a model and a detector');
  const queue = new WorkQueue(o.concurrency, o.maxQueued);
  const pending = new WeakMap<FastifyRequest, Pending>();
  const started = Date.now();
  const version = packageVersion();
  const publicFiles = await readPublicFiles();
  const openapi = openApiDocument(version, { maxBytes: o.maxBytes, pixelLimit: o.pixelLimit });

  const app = Fastify({
    logger: false,
    bodyLimit: o.maxBytes,
    // Slow uploads count against the same per-request limit (Node answers 408).
    requestTimeout: o.timeoutMs,
    forceCloseConnections: true,
  });
  // Only multipart and raw photos: JSON or text bodies get 415 rather than a parse.
  app.removeAllContentTypeParsers();
  await app.register(multipart, {
    limits: { fileSize: o.maxBytes, files: 1, fields: 20, parts: 21, fieldSize: 1000 },
  });
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: o.maxBytes }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((err, _req, reply) => {
    const body = errorBody(err, o.maxBytes);
    if (body.statusCode === 500) console.error('facesr serve: internal error:', err);
    return reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      code: 'not_found',
      message: `no route ${req.method} ${req.url.split('?')[0]}; see GET /openapi.json`,
    }),
  );

  const securityHeaders = (reply: FastifyReply) =>
    reply
      .header('x-content-type-options', 'nosniff')
      .header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      )
      .header('referrer-policy', 'no-referrer');

  for (const [route, file] of Object.entries(publicFiles))
    app.get(route, (_req, reply) =>
      securityHeaders(reply).type(file.type).header('cache-control', 'no-cache').send(file.body),
    );

  app.get('/healthz', async () => ({
    status: 'ok',
    uptimeS: Math.round((Date.now() - started) / 100) / 10,
    queue: queue.stats(),
    memory: {
      rssMb: Math.round(process.memoryUsage.rss() / 104857.6) / 10,
      // Never waits on a busy worker for long: health must answer while a photo is processed.
      jobs: await runner.memory({ waitMs: 50 }),
    },
  }));
  app.get('/openapi.json', async () => openapi);
  app.get('/v1/models', async () => {
    const loaded = runner.loaded;
    const shipped = Object.entries(readManifest()).map(([name, e]) => ({
      name,
      file: e.file,
      description: e.description ?? '',
      default: name === DEFAULT_MODEL,
      loaded: loaded.name === name,
    }));
    return { loaded, detector: runner.detectorName, shipped };
  });

  app.post(
    '/v1/enhance',
    {
      // Admission before the body is read: a full server reads no more uploads.
      onRequest: async (req, reply) => {
        const release = queue.admit();
        if (!release) {
          reply.header('retry-after', String(Math.max(1, Math.ceil(o.timeoutMs / 1000 / 10))));
          throw new HttpError(
            429,
            'queue_full',
            `the server is busy (${o.concurrency} running, ${o.maxQueued} queued); retry later`,
          );
        }
        const ctl = new AbortController();
        let why: 'timeout' | 'closed' = 'timeout';
        const timer = setTimeout(() => ctl.abort(), o.timeoutMs);
        reply.raw.on('close', () => {
          clearTimeout(timer);
          release();
          if (!reply.raw.writableFinished) {
            why = 'closed';
            ctl.abort();
          }
        });
        pending.set(req, { release, signal: ctl.signal, reason: () => why, started: performance.now() });
      },
      onResponse: async (req, reply) => {
        const p = pending.get(req);
        const ms = Math.round(performance.now() - (p?.started ?? performance.now()));
        o.onEnhance?.({ status: reply.statusCode, ms, ...p?.faces });
      },
    },
    async (req, reply) => {
      const p = pending.get(req)!;
      const { bytes, fields, name } = await readUpload(req);
      const query = req.query as Record<string, unknown>;
      for (const k of Object.keys(fields))
        if (Object.hasOwn(query, k))
          throw new ArgumentError(`Option ${k} is given both in the query and as a form field; give it once`);
      const ro = parseRequestOptions({ ...query, ...fields });
      await checkPhoto(bytes, ro.scale, o.pixelLimit, name);
      const t0 = performance.now();
      let free: () => void;
      try {
        free = await queue.acquire(p.signal, p.reason);
      } catch (err) {
        throw err instanceof SlotAbortedError ? timeoutError(o.timeoutMs) : err;
      }
      const queueMs = Math.round(performance.now() - t0);
      const job = runner.run(bytes, ro, name, o.pixelLimit);
      // The slot stays taken until the work really ends, even when the answer went out before.
      job.then(free, free);
      const r = await raceAbort(job, p.signal, o.timeoutMs);
      const restored = r.faces.filter((f) => f.restored).length;
      p.faces = { faces: r.faces.length, restored };
      if (ro.output === 'json') {
        const image = ro.image ? `data:${MIME[r.format]};base64,${r.bytes.toString('base64')}` : undefined;
        return reply.type('application/json').send({ ...r.report, ...(image ? { image } : {}), queueMs });
      }
      const stem =
        name
          .replace(/\.[^.]*$/, '')
          .replace(/[^\w.-]+/g, '_')
          .slice(0, 80) || 'photo';
      return reply
        .type(MIME[r.format]!)
        .header('x-facesr-faces', String(r.faces.length))
        .header('x-facesr-restored', String(restored))
        .header(
          'content-disposition',
          `inline; filename="${stem}-restored.${r.format === 'jpeg' ? 'jpg' : r.format}"`,
        )
        .send(r.bytes);
    },
  );
  return app;
}

function timeoutError(ms: number): HttpError {
  return new HttpError(
    503,
    'timeout',
    `the request did not finish within the server's limit of ${ms / 1000} s`,
  );
}

/** Resolves with the job, or rejects with a timeout once the request's signal aborts. */
function raceAbort<T>(job: Promise<T>, signal: AbortSignal, ms: number): Promise<T> {
  if (signal.aborted) return Promise.reject(timeoutError(ms));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeoutError(ms));
    signal.addEventListener('abort', onAbort, { once: true });
    job.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The photo's bytes (one multipart file part or the raw body) and the multipart text fields. */
async function readUpload(
  req: FastifyRequest,
): Promise<{ bytes: Buffer; fields: Record<string, string>; name: string }> {
  const fields: Record<string, string> = {};
  if (req.isMultipart()) {
    let bytes: Buffer | null = null;
    let name = 'the upload';
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (bytes) throw new HttpError(400, 'too_many_files', 'send one photo per request');
        bytes = await part.toBuffer();
        if (part.filename) name = part.filename.slice(0, 200);
      } else {
        if (Object.hasOwn(fields, part.fieldname))
          throw new ArgumentError(`Option ${part.fieldname} is given 2 times; give it once`);
        fields[part.fieldname] = String(part.value);
      }
    }
    if (!bytes)
      throw new HttpError(
        400,
        'no_image',
        'the multipart body has no file part; send the photo as a file field',
      );
    return { bytes, fields, name };
  }
  const body = req.body;
  if (!Buffer.isBuffer(body))
    throw new HttpError(
      400,
      'no_image',
      'no photo in the request: send it as multipart/form-data or as the raw body with an image/* Content-Type',
    );
  return { bytes: body, fields, name: 'the upload' };
}
