// facesr serve's worker runner (src/server/runner.ts): the model and detector load in a worker
// thread, jobs run there, their answers and their HTTP errors come back, a bad model fails the
// start with the loader's message, and close ends the thread. Uses the shipped model and the SSD
// detector (inside the package), so nothing here needs ../shared.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { createServer, startWorkerRunner, type JobRunner } from '../src/server/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const photo = readFileSync(path.join(repo, 'examples/party-small.jpg'));

test('a bad model fails the worker start with the loader message', async () => {
  await assert.rejects(
    startWorkerRunner({ model: '/nonexistent/model.safetensors', detector: 'ssd' }),
    /Model file \/nonexistent\/model\.safetensors does not exist/,
  );
  await assert.rejects(startWorkerRunner({ detector: 'nope' }), /detector/i);
});

test('jobs run in the worker: answers, errors as HTTP, health while busy, close', async () => {
  const runner: JobRunner = await startWorkerRunner({ detector: 'ssd', threads: 1 });
  assert.equal(runner.loaded.name, 'facesr-cpu');
  assert.equal(runner.loaded.scale, 4);
  assert.equal(runner.detectorName, 'ssd');
  const app = await createServer({ runner, concurrency: 1, maxQueued: 2 });
  try {
    const models = (await app.inject({ method: 'GET', url: '/v1/models' })).json() as {
      loaded: { name: string };
      detector: string;
    };
    assert.deepEqual([models.loaded.name, models.detector], ['facesr-cpu', 'ssd']);

    // An image answer, decoded: the photo at scale 2.
    const meta = await sharp(photo).metadata();
    const enhancing = app.inject({
      method: 'POST',
      url: '/v1/enhance?scale=2',
      headers: { 'content-type': 'image/jpeg' },
      body: photo,
    });
    // The event loop is free while the worker works: health answers before the photo does.
    let healthFirst = false;
    const health = app.inject({ method: 'GET', url: '/healthz' }).then((r) => {
      healthFirst = !enhanced;
      return r;
    });
    let enhanced = false;
    const res = await enhancing.then((r) => {
      enhanced = true;
      return r;
    });
    const h = await health;
    assert.equal(h.statusCode, 200);
    const mem = (h.json() as { memory: { rssMb: number; jobs: { thread: string } } }).memory;
    assert.equal(mem.jobs.thread, 'worker');
    assert.ok(mem.rssMb > 50, `rss ${mem.rssMb} MB`);
    const idle = (await app.inject({ method: 'GET', url: '/healthz' })).json() as {
      memory: { jobs: { heapUsedMb: number; liveTensors: number; ageMs: number } };
    };
    assert.ok(idle.memory.jobs.heapUsedMb > 1, 'an idle worker gives its heap');
    assert.equal(idle.memory.jobs.ageMs, 0, 'an idle worker answers at once');
    assert.ok(idle.memory.jobs.liveTensors > 0, 'the model weights are live tensors');
    assert.ok(healthFirst, '/healthz waited for the photo');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'image/jpeg');
    const out = await sharp(res.rawPayload).metadata();
    assert.deepEqual([out.width, out.height], [meta.width! * 2, meta.height! * 2]);
    assert.ok(Number(res.headers['x-facesr-faces']) > 0, 'no face found in the party photo');

    // An error raised inside the worker keeps its status, code and message.
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/enhance?faces=999',
      headers: { 'content-type': 'image/jpeg' },
      body: photo,
    });
    assert.equal(bad.statusCode, 400);
    const body = bad.json() as { code: string; message: string };
    assert.equal(body.code, 'bad_option');
    assert.match(body.message, /face indices below \d+ .* but received 999/);
  } finally {
    await app.close();
    await runner.close();
  }
  await assert.rejects(runner.run(photo, {} as never, 'x.jpg', 1e7), /the job worker is closed/);
});
