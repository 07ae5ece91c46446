// `facesr serve` as a command: help, bad options named, a real start on a free port with the shipped
// model (SSD detector, so no ../shared), /healthz over HTTP, a clean stop on SIGTERM, a busy port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const main = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const env = { ...process.env, OMP_NUM_THREADS: '1', FACESR_RETINAFACE: '' };
const run = (...args: string[]) =>
  spawnSync(process.execPath, [main, 'serve', ...args], { encoding: 'utf8', env });

/** Starts `facesr serve` and resolves with its URL once it prints it. */
function serve(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [main, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL after 90 s; stderr: ${err}`)), 90_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+?)\/ /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
}

test('serve --help describes the command', () => {
  const r = run('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: facesr serve \[--port 8080\] \[--host 127\.0\.0\.1\]/);
  assert.match(r.stdout, /--queue N/);
  const top = spawnSync(process.execPath, [main, 'help'], { encoding: 'utf8' });
  assert.match(top.stdout, /serve {13}a web page and JSON API/);
});

test('serve names its bad options', () => {
  const cases: [string[], RegExp][] = [
    [['--port', 'abc'], /Expected integer in \[0, 65535\] for --port but received 'abc'/],
    [['--port', '70000'], /for --port but received '70000'/],
    [['--queue=-1'], /for --queue but received '-1'/],
    [['--concurrency', '0'], /Expected positive integer for --concurrency but received '0'/],
    [['--timeout', '0'], /Expected positive number for --timeout/],
    [['--max-upload-mb', 'x'], /for --max-upload-mb but received 'x'/],
    [['photo.jpg'], /serve: takes no photos/],
  ];
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, re);
  }
});

test('serve --port 0 starts, answers /healthz, and stops on SIGTERM; a busy port is named', async () => {
  const { child, url, stderr } = await serve(['--port', '0', '--threads', '1', '--queue', '3']);
  try {
    const h = (await (await fetch(`${url}/healthz`)).json()) as {
      status: string;
      queue: { maxQueued: number };
    };
    assert.equal(h.status, 'ok');
    assert.equal(h.queue.maxQueued, 3);
    const m = (await (await fetch(`${url}/v1/models`)).json()) as {
      loaded: { name: string };
      detector: string;
    };
    assert.deepEqual([m.loaded.name, m.detector], ['facesr-cpu', 'ssd']);
    const bad = await fetch(`${url}/v1/enhance?scale=3`, {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'image/png' },
    });
    assert.equal(bad.status, 400);

    // The same port again: refused with a message naming it.
    const port = new URL(url).port;
    const busy = run('--port', port, '--threads', '1');
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
  } finally {
    child.kill('SIGTERM');
  }
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /POST \/v1\/enhance 400/);
  // Nothing listens there any more.
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(Number(new URL(url).port), '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(true));
  });
  assert.ok(refused, 'the port is closed after SIGTERM');
});
