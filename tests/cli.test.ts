import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const main = path.join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('doctor --json reports a working engine', () => {
  const r = run('doctor', '--json', '--threads', '2');
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as {
    ok: boolean;
    threads: number;
    libtorch: string;
    addon: string;
    check: { maxAbsDiff: number };
  };
  assert.equal(rep.ok, true);
  assert.equal(rep.threads, 2);
  assert.match(rep.libtorch, /^\d+\.\d+/);
  assert.match(rep.addon, /facesr_native\.node$/);
  assert.ok(rep.check.maxAbsDiff < 1e-4);
});

test('doctor prints a readable report', () => {
  const r = run('doctor');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /libtorch\s+\d/);
  assert.match(r.stdout, /OK: the engine works\./);
});

test('unknown command and bad options fail with a clear message', () => {
  const u = run('frobnicate');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
  const t = run('doctor', '--threads', '0');
  assert.equal(t.status, 1);
  assert.match(t.stderr, /Expected positive integer for --threads but received '0'/);
  const o = run('doctor', '--bogus');
  assert.equal(o.status, 1);
  assert.match(o.stderr, /Unknown option '--bogus'/);
});

test('no arguments prints help and exits 1; --version prints the version', () => {
  const h = run();
  assert.equal(h.status, 1);
  assert.match(h.stdout, /Usage: facesr <command>/);
  const v = run('--version');
  assert.equal(v.status, 0);
  assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
});
