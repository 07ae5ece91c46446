// The load side of `npm run bench -- serve`, run as its own process: autocannon POSTs the photo's
// bytes (a Buffer: autocannon's CLI reads --input as UTF-8 text, which breaks binary photos).
// It starts once, before the server loads its model, and then runs one load per line read from
// stdin ('{"url":...,"photo":...,"connections":N,"duration":S}'), printing autocannon's result as
// one JSON line each. Forking later, while the server's worker thread is inside an OpenBLAS call,
// deadlocks in OpenBLAS's fork handler (seen: the bench hung in blas_thread_shutdown_).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

type Cannon = (o: Record<string, unknown>) => Promise<unknown>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const o = JSON.parse(line) as { url: string; photo: string; connections: number; duration: number };
  const result = await autocannon({
    url: o.url,
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: readFileSync(o.photo),
    connections: o.connections,
    duration: o.duration,
    timeout: 60,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
