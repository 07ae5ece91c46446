// facesr serve as a library: createServer(options) gives a fastify app to listen on.
export { createServer, SERVE_DEFAULTS, type ServeOptions } from './app.js';
export { HttpError } from './errors.js';
export { OPTION_NAMES, OPTION_SPECS, parseRequestOptions, type RequestOptions } from './options.js';
export { openApiDocument } from './openapi.js';
export { WorkQueue, type QueueStats } from './queue.js';
export {
  startWorkerRunner,
  inProcessRunner,
  type JobRunner,
  type WorkerSpec,
  type LoadedModelInfo,
} from './runner.js';
