// The load side of `npm run bench -- serve`, run as its own process: autocannon POSTs the photo's
// bytes (a Buffer: autocannon's CLI reads --input as UTF-8 text, which breaks binary photos) and
// prints autocannon's result as one JSON line.
// Usage: node dist/bench/lib/serve_load.js '{"url":...,"photo":...,"connections":N,"duration":S}'
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

type Cannon = (o: Record<string, unknown>) => Promise<unknown>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const o = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  photo: string;
  connections: number;
  duration: number;
};
const result = await autocannon({
  url: o.url,
  method: 'POST',
  headers: { 'content-type': 'image/jpeg' },
  body: readFileSync(o.photo),
  connections: o.connections,
  duration: o.duration,
  timeout: 60,
});
console.log(JSON.stringify(result));
