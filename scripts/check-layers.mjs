#!/usr/bin/env node
// Import-boundary check for the layer rule in docs/architecture.md: a folder of src/ may import only
// core, itself, and the transitive closure of the layers it points at below.
// Usage: node scripts/check-layers.mjs [--root DIR]   (DIR holds src/; default: this repo)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Direct arrows: layer -> layers it may import. Order is the order messages list them in. */
const DIRECT = {
  core: [],
  binding: ['core'],
  tensor: ['binding'],
  nn: ['tensor'],
  optim: ['nn'],
  models: ['nn', 'io'],
  data: ['tensor', 'io'],
  io: ['core', 'binding', 'tensor'],
  train: ['models', 'optim', 'data', 'nn', 'io'],
  infer: ['models', 'data', 'io'],
  eval: ['tensor', 'nn', 'models', 'data', 'infer', 'io', 'core'],
  cli: ['train', 'infer', 'eval', 'data', 'io', 'server'],
  server: ['train', 'infer', 'eval', 'data'],
};
const LAYERS = Object.keys(DIRECT);
const ROOT_FILE = 'index.ts'; // the package root may import anything

/** Transitive closure of DIRECT, plus core for everyone, in LAYERS order. */
function closure() {
  const result = {};
  for (const layer of LAYERS) {
    const seen = new Set(layer === 'core' ? [] : ['core']);
    const stack = [...DIRECT[layer]];
    while (stack.length > 0) {
      const next = stack.pop();
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...DIRECT[next]);
    }
    seen.delete(layer);
    result[layer] = LAYERS.filter((l) => seen.has(l));
  }
  return result;
}

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  let root = path.resolve(here, '..');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root' && i + 1 < argv.length) root = path.resolve(argv[++i]);
    else if (argv[i].startsWith('--root=')) root = path.resolve(argv[i].slice('--root='.length));
    else {
      console.error(`check-layers: unknown argument '${argv[i]}' (usage: check-layers.mjs [--root DIR])`);
      process.exit(2);
    }
  }
  return root;
}

/** Every .ts/.mts/.cts file under dir, as absolute paths, sorted. */
function listSources(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full));
    else if (/\.[mc]?ts$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/** Replaces comments with spaces so commented-out imports are not counted; strings are kept. */
function stripComments(src) {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT_PATTERNS = [
  /\bimport\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*(['"])([^'"]+)\1/g, // import x from '...'
  /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])([^'"]+)\1/g, // re-exports
  /\bimport\s*(['"])([^'"]+)\1/g, // side-effect import '...'
  /\bimport\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g, // import('...') and typeof import('...')
];

/** Relative specifiers imported or re-exported by a source text. */
function relativeSpecifiers(text) {
  const code = stripComments(text);
  const found = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) if (m[2].startsWith('.')) found.push([m.index, m[2]]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, spec]) => spec); // source order
}

function main() {
  const root = parseArgs(process.argv.slice(2));
  const srcDir = path.join(root, 'src');
  const allowed = closure();
  const errors = [];
  let entries;
  try {
    entries = readdirSync(srcDir, { withFileTypes: true });
  } catch (err) {
    console.error(`check-layers: cannot read ${srcDir}: ${err.message}`);
    process.exit(2);
  }
  for (const entry of entries) {
    if (entry.isDirectory() && !LAYERS.includes(entry.name)) {
      errors.push(`src/${entry.name}/: unknown layer folder '${entry.name}' (known: ${LAYERS.join(', ')})`);
    }
  }

  const files = listSources(srcDir);
  let importCount = 0;
  for (const file of files) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    const parts = path.relative(srcDir, file).split(path.sep);
    const isRoot = parts.length === 1;
    if (isRoot && parts[0] !== ROOT_FILE) {
      errors.push(`${rel}: files directly under src/ must live in a layer folder (only ${ROOT_FILE} may)`);
      continue;
    }
    const layer = parts[0];
    if (!isRoot && !LAYERS.includes(layer)) continue; // already reported as an unknown folder
    for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      importCount++;
      if (isRoot) continue;
      const target = path.relative(srcDir, path.resolve(path.dirname(file), spec));
      if (target.startsWith('..') || path.isAbsolute(target)) continue; // outside src/: not a layer
      const targetParts = target.split(path.sep);
      const targetLayer = targetParts.length === 1 ? 'the package root (src/index.ts)' : targetParts[0];
      if (targetLayer === layer || allowed[layer].includes(targetLayer)) continue;
      const list = allowed[layer].length > 0 ? allowed[layer].join(', ') : 'none';
      const what =
        LAYERS.includes(targetLayer) || targetParts.length === 1
          ? targetLayer
          : `unknown folder ${targetLayer}`;
      errors.push(`${rel}: layer '${layer}' may not import '${what}' (allowed: ${list})`);
    }
  }

  if (errors.length > 0) {
    for (const e of errors) console.error(e);
    console.error(`check-layers: ${errors.length} violation(s) in ${files.length} file(s)`);
    process.exit(1);
  }
  console.log(`check-layers: ok, ${files.length} file(s), ${importCount} relative import(s), no violations`);
}

main();
