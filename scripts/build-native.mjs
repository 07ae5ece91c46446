#!/usr/bin/env node
// Builds the libtorch addon with node-gyp against the installed Node headers (never downloads them).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';

const require = createRequire(import.meta.url);
function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm bundles node-gyp; use that copy when the project has none.
    const npmDir = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
    const p = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(p)) return p;
    throw new Error('node-gyp not found: run npm ci, or install npm with its bundled node-gyp');
  }
}
const nodedir = process.env.npm_config_nodedir || path.resolve(path.dirname(process.execPath), '..');
if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`Node headers not found under ${nodedir}/include/node; set npm_config_nodedir.`);
  process.exit(1);
}
const jobs = String(Math.max(1, Math.min(os.availableParallelism?.() ?? 2, 4)));
// Incremental when a configured build exists (the addon's files recompile only when changed);
// --clean, or a LIBTORCH change, needs a full rebuild.
const require2 = createRequire(import.meta.url);
const torchConfig = JSON.stringify(
  JSON.parse(
    spawnSync(process.execPath, [require2.resolve('./torch-config.cjs')], { encoding: 'utf8' }).stdout ||
      '{}',
  ),
);
const stamp = path.join('build', 'torch-config.json');
const sameTorch = existsSync(stamp) && readFileSync(stamp, 'utf8') === torchConfig;
const configured =
  existsSync(path.join('build', 'Makefile')) && sameTorch && !process.argv.includes('--clean');
const args = [findNodeGyp(), configured ? 'build' : 'rebuild', `--nodedir=${nodedir}`, '-j', jobs];
if (process.argv.includes('--debug')) args.push('--debug');
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
writeFileSync(stamp, torchConfig);
console.log(
  `facesr native addon built in ${((Date.now() - t0) / 1000).toFixed(0)} s: build/Release/facesr_native.node`,
);
