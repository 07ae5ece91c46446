// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}}, then raw little-endian tensor bytes.
// Writes are atomic (temporary file, then rename).
import { readFileSync } from 'node:fs';
import { readFile, writeFile, rename, unlink, open } from 'node:fs/promises';
import path from 'node:path';
import { FormatError, ArgumentError } from '../core/errors.js';
import { Tensor, bytesPerElement, fromBytes, type DType } from '../tensor/index.js';

const TO_ST: Partial<Record<DType, string>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(
  Object.entries(TO_ST).map(([k, v]) => [v, k as DType]),
);
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a whole safetensors file held in memory. `file` names it in error messages. */
export function parseSafetensors(buf: Uint8Array, file = '<buffer>'): SafetensorsFile {
  if (buf.byteLength < 8)
    throw new FormatError(`${file}: not a safetensors file (only ${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > buf.byteLength) {
    throw new FormatError(
      `${file}: not a safetensors file (header length ${n} exceeds the file size ${buf.byteLength})`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch (err) {
    throw new FormatError(`${file}: not a safetensors file (header is not JSON: ${(err as Error).message})`);
  }
  if (!isObject(header))
    throw new FormatError(`${file}: not a safetensors file (header is not a JSON object)`);
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const meta = header.__metadata__ ?? {};
  if (!isObject(meta) || Object.values(meta).some((v) => typeof v !== 'string'))
    throw new FormatError(`${file}: __metadata__ must map strings to strings`);
  const metadata = meta as Record<string, string>;
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const entry = (isObject(e) ? e : {}) as Partial<Entry>;
      const dtype = Object.hasOwn(FROM_ST, String(entry.dtype)) ? FROM_ST[String(entry.dtype)] : undefined;
      if (!dtype)
        throw new FormatError(`${file}: tensor '${name}' has unsupported dtype ${String(entry.dtype)}`);
      const shape = entry.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        throw new FormatError(`${file}: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
      const offsets = entry.data_offsets;
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o)))
        throw new FormatError(
          `${file}: tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`,
        );
      const [b, end] = offsets;
      if (!(b >= 0 && end >= b && end <= dataLen)) {
        throw new FormatError(
          `${file}: tensor '${name}' has data offsets [${b}, ${end}] outside the data (${dataLen} bytes)`,
        );
      }
      const need = shape.reduce((a, d) => a * d, 1) * bytesPerElement(dtype);
      if (end - b !== need) {
        throw new FormatError(
          `${file}: tensor '${name}' (${entry.dtype} [${shape.join(', ')}]) needs ${need} bytes ` +
            `but its data offsets [${b}, ${end}] hold ${end - b}`,
        );
      }
      tensors.set(name, fromBytes(buf.subarray(dataStart + b, dataStart + end), shape, dtype));
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    if (err instanceof FormatError) throw err;
    throw new FormatError(`${file}: ${(err as Error).message}`, { cause: err });
  }
  return { tensors, metadata };
}

/** Reads every tensor of a safetensors file (on the CPU). */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(file), file);
}
export function readSafetensorsSync(file: string): SafetensorsFile {
  return parseSafetensors(readFileSync(file), file);
}

/** Serialises tensors (any device; written from CPU copies) to safetensors bytes, keys sorted as the reference writer does. */
export function serializeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors : new Map(Object.entries(tensors)))].sort((a, b) =>
    a[0] < b[0] ? -1 : 1,
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const st = TO_ST[t.dtype];
    if (!st) throw new ArgumentError(`safetensors: tensor '${name}' has unsupported dtype ${t.dtype}`);
    // A detached handle (bytes() of a tensor that requires grad); disposed at once, not left to the GC.
    const d = t.detach();
    let bytes: Uint8Array;
    try {
      bytes = d.bytes();
    } finally {
      d.dispose();
    }
    header[name] = { dtype: st, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hb.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const b of blobs) {
    out.set(b, p);
    p += b.byteLength;
  }
  return out;
}

/** Writes tensors to a safetensors file atomically (temporary file in the same folder, fsync, rename). */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata);
  await writeFileAtomic(file, bytes);
}

/** Writes bytes to file via a temporary sibling and a rename, so readers never see half a file. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, data);
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
