// Self-test of scripts/check-layers.mjs against small temporary src/ trees.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Tests run from the repo root (`node --test dist/tests/`), so the script is found from the cwd.
const script = path.resolve(process.cwd(), 'scripts/check-layers.mjs');

function makeTree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'facesr-layers-'));
  for (const [rel, text] of Object.entries(files)) {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return root;
}

function check(root: string) {
  return spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
}

const clean = {
  'src/core/errors.ts': 'export class FacesrError extends Error {}\n',
  'src/binding/index.ts': "import { FacesrError } from '../core/errors.js';\nexport { FacesrError };\n",
  'src/tensor/tensor.ts':
    "import type { FacesrError } from '../core/errors.js';\nexport * from '../binding/index.js';\n",
  'src/nn/module.ts': "export { FacesrError } from '../core/errors.js';\nimport '../tensor/tensor.js';\n",
  'src/train/loop.ts':
    "// import '../cli/main.js' is only a comment\nconst m = import('../binding/index.js');\n",
  'src/index.ts': "export * from './nn/module.js';\nexport * from './train/loop.js';\n",
};

test('check-layers passes a tree that follows the layer rule', () => {
  const root = makeTree(clean);
  try {
    const result = check(root);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /check-layers: ok, 6 file\(s\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('check-layers fails when tensor imports nn, naming the file and the allowed layers', () => {
  const root = makeTree({
    ...clean,
    'src/tensor/tensor.ts': "import { Module } from '../nn/module.js';\nexport { Module };\n",
  });
  try {
    const result = check(root);
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^src\/tensor\/tensor\.ts: layer 'tensor' may not import 'nn' \(allowed: core, binding\)$/m,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('check-layers reports an unknown folder under src/', () => {
  const root = makeTree({ ...clean, 'src/misc/util.ts': 'export const x = 1;\n' });
  try {
    const result = check(root);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /unknown layer folder 'misc'/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
