// Restoration model files: a safetensors file of R's weights whose metadata carries the architecture
// (`facesr` key: JSON {format, arch, scale, inputSize, outputSize, ...}), and the package's shipped
// models listed in models/manifest.json.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError, FacesrError, FormatError } from '../core/errors.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import { Restoration, type RestorationConfig } from './restoration.js';
import type { Device, Tensor } from '../tensor/index.js';

/** What a model file says about itself (safetensors metadata key `facesr`). */
export interface ModelInfo {
  format: 'facesr-restoration/1';
  arch: RestorationConfig;
  /** Up-scaling factor (4: 16x16 -> 64x64). */
  scale: number;
  inputSize: number;
  outputSize: number;
  /** Pixel range the network works in. */
  range: '-1,1';
  /** Free-form: preset, training mode, steps, data. */
  [key: string]: unknown;
}

export interface LoadedModel {
  net: Restoration;
  info: ModelInfo;
  /** The file the weights came from. */
  file: string;
  /** Shipped model name, when loaded by name. */
  name?: string;
}

/** The default shipped model. */
export const DEFAULT_MODEL = 'facesr-cpu';

/** The package's models/ folder. */
export function modelsDir(): string {
  // dist/src/models/modelfile.js -> package root; src/models/modelfile.ts (ts-node style) -> package root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../..']) {
    const d = path.resolve(here, up, 'models');
    if (existsSync(path.join(d, 'manifest.json'))) return d;
  }
  return path.resolve(here, '../../..', 'models');
}

export interface ManifestEntry {
  file: string;
  description?: string;
  [key: string]: unknown;
}

/** models/manifest.json: `{ "models": { name: { file, ... } } }`. */
export function readManifest(dir = modelsDir()): Record<string, ManifestEntry> {
  const f = path.join(dir, 'manifest.json');
  if (!existsSync(f)) return {};
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(f, 'utf8'));
  } catch (err) {
    throw new FormatError(`${f}: not valid JSON (${(err as Error).message})`);
  }
  const models = (j as { models?: Record<string, ManifestEntry> }).models;
  return models && typeof models === 'object' ? models : {};
}

/**
 * Resolves a model spec to a file: a path to a .safetensors file, or the name of a shipped model
 * (default DEFAULT_MODEL).
 */
export function resolveModel(spec: string = DEFAULT_MODEL): { file: string; name?: string } {
  if (spec.endsWith('.safetensors') || spec.includes('/') || spec.includes(path.sep)) {
    if (!existsSync(spec)) throw new ArgumentError(`Model file ${spec} does not exist`);
    return { file: spec };
  }
  const dir = modelsDir();
  const entry = readManifest(dir)[spec];
  if (!entry) {
    const names = Object.keys(readManifest(dir));
    throw new ArgumentError(
      `Unknown model '${spec}'. ${names.length ? `Shipped models: ${names.join(', ')}` : `No models are listed in ${path.join(dir, 'manifest.json')}`}; or give a .safetensors file`,
    );
  }
  const file = path.join(dir, entry.file);
  if (!existsSync(file)) throw new FacesrError(`Shipped model '${spec}' is listed but ${file} is missing`);
  return { file, name: spec };
}

function parseInfo(meta: Record<string, string>, file: string): ModelInfo {
  const raw = meta.facesr;
  if (!raw)
    throw new FormatError(
      `${file}: not a facesr restoration model (no 'facesr' metadata); training checkpoints are exported with exportRestoration`,
    );
  let info: ModelInfo;
  try {
    info = JSON.parse(raw) as ModelInfo;
  } catch (err) {
    throw new FormatError(`${file}: its 'facesr' metadata is not JSON (${(err as Error).message})`);
  }
  if (String(info.format).startsWith('facesr-checkpoint'))
    throw new FormatError(
      `${file}: a training checkpoint, not a restoration model; use the model.safetensors beside it`,
    );
  if (info.format !== 'facesr-restoration/1' || info.arch?.type !== 'restoration')
    throw new FormatError(`${file}: unsupported model format '${String(info.format)}'`);
  return info;
}

/** Loads a restoration model (file or shipped name) in eval mode. */
export async function loadModel(spec?: string, opts: { device?: Device } = {}): Promise<LoadedModel> {
  const { file, name } = resolveModel(spec);
  const { tensors, metadata } = await readSafetensors(file);
  try {
    const info = parseInfo(metadata, file);
    const net = new Restoration(info.arch);
    try {
      net.loadStateDict(tensors);
    } catch (err) {
      net.dispose();
      throw new FormatError(`${file}: weights do not match its architecture: ${(err as Error).message}`);
    }
    net.eval();
    if (opts.device && opts.device !== 'cpu') net.to({ device: opts.device });
    return { net, info, file, ...(name ? { name } : {}) };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Writes R's weights with their architecture as a model file (atomically). */
export async function saveModel(
  file: string,
  weights: Map<string, Tensor>,
  info: Omit<ModelInfo, 'format' | 'range' | 'scale' | 'inputSize' | 'outputSize'> &
    Partial<Pick<ModelInfo, 'scale' | 'inputSize' | 'outputSize'>>,
): Promise<void> {
  const full: ModelInfo = {
    format: 'facesr-restoration/1',
    range: '-1,1',
    scale: 4,
    inputSize: 16,
    outputSize: 64,
    ...info,
  } as ModelInfo;
  await writeSafetensors(file, weights, { facesr: JSON.stringify(full) });
}
