// Minimal, self-contained safetensors reader for test fixtures (tests/fixtures/*.safetensors).
// Format: u64 little-endian header length N, N bytes of JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}, then raw LE data.
import { readFileSync } from 'node:fs';
import { fromBytes, type DType, type Tensor } from '../../src/tensor/index.js';

export interface RawTensor {
  dtype: DType;
  shape: number[];
  /** A copy of the tensor's bytes (own ArrayBuffer, so typed views are aligned). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

const DTYPES: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

const SIZES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function readSafetensors(file: string): SafetensorsFile {
  const buf = readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: too short for a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} exceeds the file`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as HeaderEntry;
    const dtype = DTYPES[e.dtype];
    if (!dtype) throw new Error(`${file}: ${name} has unsupported dtype ${e.dtype}`);
    const [begin, end] = e.data_offsets;
    const numel = e.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== numel * SIZES[dtype] || base + end > buf.length) {
      throw new Error(`${file}: ${name} has bad data_offsets [${begin}, ${end}] for shape [${e.shape}]`);
    }
    tensors.set(name, {
      dtype,
      shape: e.shape,
      bytes: new Uint8Array(buf.subarray(base + begin, base + end)),
    });
  }
  return { tensors, metadata };
}

/** A new Tensor holding a copy of the raw tensor. */
export function rawToTensor(raw: RawTensor): Tensor {
  return fromBytes(raw.bytes, raw.shape, raw.dtype);
}

/** float32 elements of a raw F32 tensor. */
export function rawFloat32(raw: RawTensor): Float32Array {
  if (raw.dtype !== 'float32') throw new Error(`expected F32 but the tensor is ${raw.dtype}`);
  return new Float32Array(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength / 4);
}
