import { checkOneOf } from '../core/check.js';

export const DTYPES = [
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
] as const;
export type DType = (typeof DTYPES)[number];
/** 'cpu', 'cuda' or 'cuda:N'. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | BigInt64Array
  | Uint16Array;

export function checkDtype(v: unknown, name = 'dtype'): DType {
  return checkOneOf(v, name, DTYPES);
}

export function checkDevice(v: unknown, name = 'device'): Device {
  if (typeof v === 'string' && (v === 'cpu' || v === 'cuda' || /^cuda:\d+$/.test(v))) return v as Device;
  throw new TypeError(`Expected 'cpu', 'cuda' or 'cuda:N' for ${name} but received ${String(v)}`);
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}

/** The dtype a typed array holds natively (what fromTypedArray uses when no dtype is given). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint16Array) return 'float16'; // raw half bits
  throw new TypeError('Unsupported typed array');
}

export function bytesPerElement(d: DType): number {
  switch (d) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
      return 2;
    default:
      return 1;
  }
}
