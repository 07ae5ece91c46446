// `facesr serve`: the web page and JSON API on one port, until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { ArgumentError } from '../core/errors.js';
// The engine, detectors and fastify load only once the options are known good (bad ones fail fast).
import { SERVE_DEFAULTS } from '../server/defaults.js';
import { deviceOption, intOption, numOption } from './args.js';

export const serveHelp = (
  DEFAULT_MODEL: string,
) => `Usage: facesr serve [--port 8080] [--host 127.0.0.1] [options]

Serves a web page (drop photos, see each face before and after, download) and a JSON API
(POST /v1/enhance, GET /v1/models, GET /healthz, described at GET /openapi.json). Uploads are kept
in memory, never written to disk. There is no authentication: keep the default loopback host unless
the network is yours.

Options:
  --port N                  TCP port (default 8080; 0 picks a free one, printed at start)
  --host H                  address to listen on (default 127.0.0.1)
  --model NAME|FILE         shipped model name or a .safetensors model file (default ${DEFAULT_MODEL})
  --detector NAME           retinaface or ssd (default: retinaface when its weights are given by
                            --detector-weights or FACESR_RETINAFACE, else ssd)
  --detector-weights FILE   RetinaFace weights (e.g. ../shared/models/retinaface_mnet025.safetensors)
  --score T                 detector score threshold (default 0.5)
  --device DEV              cpu (default), cuda or cuda:N
  --threads N               libtorch threads (default: all cores)
  --concurrency N           photos processed at once (default ${SERVE_DEFAULTS.concurrency})
  --queue N                 requests waiting beyond those (default ${SERVE_DEFAULTS.maxQueued}); more are answered 429
  --max-upload-mb N         largest upload (default ${SERVE_DEFAULTS.maxBytes / 1e6} MB); larger: 413
  --pixel-limit N           largest photo, input and scaled output (default ${SERVE_DEFAULTS.pixelLimit / 1e6} MP); larger: 413
  --timeout S               per-request limit in seconds, upload to answer (default ${SERVE_DEFAULTS.timeoutMs / 1000}); then 503
  --quiet                   no line per request
  -h, --help                this text`;

/** An integer option in [min, max], or dflt when absent. */
function rangeInt(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new ArgumentError(`Expected integer in [${min}, ${max}] for ${name} but received '${v}'`);
  return n;
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      model: { type: 'string' },
      detector: { type: 'string' },
      'detector-weights': { type: 'string' },
      score: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      concurrency: { type: 'string' },
      queue: { type: 'string' },
      'max-upload-mb': { type: 'string' },
      'pixel-limit': { type: 'string' },
      timeout: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    const { DEFAULT_MODEL } = await import('../models/modelfile.js');
    console.log(serveHelp(DEFAULT_MODEL));
    return 0;
  }
  if (positionals.length) throw new ArgumentError(`serve: takes no photos (received '${positionals[0]}')`);
  const port = rangeInt(values.port, '--port', 8080, 0, 65535);
  const host = values.host ?? '127.0.0.1';
  const score = numOption(values.score, '--score', 0.5, 1);
  const concurrency = intOption(values.concurrency, '--concurrency', SERVE_DEFAULTS.concurrency);
  const maxQueued = rangeInt(values.queue, '--queue', SERVE_DEFAULTS.maxQueued, 0, 1_000_000);
  const maxBytes = Math.round(
    numOption(values['max-upload-mb'], '--max-upload-mb', SERVE_DEFAULTS.maxBytes / 1e6) * 1e6,
  );
  if (!(maxBytes >= 1))
    throw new ArgumentError(
      `Expected positive number for --max-upload-mb but received '${values['max-upload-mb']}'`,
    );
  const pixelLimit = intOption(values['pixel-limit'], '--pixel-limit', SERVE_DEFAULTS.pixelLimit);
  const timeoutS = numOption(values.timeout, '--timeout', SERVE_DEFAULTS.timeoutMs / 1000);
  if (!(timeoutS > 0))
    throw new ArgumentError(`Expected positive number for --timeout but received '${values.timeout}'`);
  const device = deviceOption(values.device);
  const threads = values.threads === undefined ? undefined : intOption(values.threads, '--threads', 1);

  const { createServer, startWorkerRunner } = await import('../server/index.js');
  // Before the worker and libvips threads exist: a server's threads otherwise drift onto new malloc
  // arenas over hours, each growing its own working set (docs/serve.md, Bench).
  const { setMallocArenaMax } = await import('../tensor/index.js');
  setMallocArenaMax(2);

  const weights = values['detector-weights'] ?? process.env.FACESR_RETINAFACE;
  const detectorName = values.detector ?? (weights ? 'retinaface' : 'ssd');
  if (!values.detector && !weights)
    console.error(
      'facesr: no RetinaFace weights (--detector-weights or FACESR_RETINAFACE): using the SSD detector, which misses more small faces',
    );
  // The model and detector live in a worker thread: this thread only speaks HTTP, so health
  // checks, 429s and uploads are answered while a photo is processed.
  const runner = await startWorkerRunner({
    ...(values.model !== undefined ? { model: values.model } : {}),
    device,
    detector: detectorName,
    ...(weights ? { detectorWeights: weights } : {}),
    scoreThreshold: score,
    ...(threads !== undefined ? { threads } : {}),
  });
  const quiet = values.quiet ?? false;
  const app = await createServer({
    runner,
    concurrency,
    maxQueued,
    maxBytes,
    pixelLimit,
    timeoutMs: Math.round(timeoutS * 1000),
    onEnhance: (e) => {
      if (quiet) return;
      const faces = e.faces === undefined ? '' : ` ${e.restored}/${e.faces} faces restored`;
      console.error(`${new Date().toISOString()} POST /v1/enhance ${e.status}${faces} ${e.ms} ms`);
    },
  });
  try {
    await app.listen({ port, host });
  } catch (err) {
    await runner.close();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new ArgumentError(`serve: port ${port} on ${host} is in use; give another --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      throw new ArgumentError(`serve: cannot listen on --host ${host} (${code})`);
    throw err;
  }
  const addr = app.server.address();
  const actual = addr && typeof addr === 'object' ? addr.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  console.log(
    `facesr serve: listening on http://${shown}:${actual}/ (model ${runner.loaded.name ?? runner.loaded.file}, detector ${runner.detectorName}); Ctrl-C to stop`,
  );
  if (!/^(127\.|localhost$|::1$)/.test(host))
    console.error(`facesr serve: listening on ${host}, beyond this machine: there is no authentication`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await app.close();
  await runner.close();
  return 0;
}
