// Server defaults, in a file of their own so the command line can show them without loading the engine.
export const SERVE_DEFAULTS = {
  concurrency: 1,
  maxQueued: 8,
  maxBytes: 25_000_000,
  pixelLimit: 40_000_000,
  timeoutMs: 120_000,
};
