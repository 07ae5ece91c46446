import { ArgumentError } from './errors.js';

/** Describes a received value the way every facesr message does: `1.5 of type number`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value))
    return `[${value.slice(0, 8).map(describe).join(', ')}${value.length > 8 ? ', ...' : ''}] of type array`;
  if (typeof value === 'string')
    return `'${value.length > 60 ? value.slice(0, 57) + '...' : value}' of type string`;
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'object'}`;
  return `${String(value)} of type ${typeof value}`;
}

/** One message template: "Expected positive integer for width but received 1.5 of type number". */
export function invalid(expected: string, name: string, value: unknown): ArgumentError {
  return new ArgumentError(`Expected ${expected} for ${name} but received ${describe(value)}`);
}

export function checkInt(value: unknown, name: string, min = -Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(
      min === 0 ? 'non-negative integer' : min === 1 ? 'positive integer' : 'integer',
      name,
      value,
    );
  }
  return value;
}

export function checkNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalid('number', name, value);
  return value;
}

export function checkPositive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    throw invalid('positive number', name, value);
  return value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(`one of ${allowed.map((a) => `'${a}'`).join(', ')}`, name, value);
  }
  return value as T;
}

/** Expands an int or an n-tuple to an n-tuple of non-negative integers (kernel sizes, strides). */
export function tuple(value: number | readonly number[], n: number, name: string, min = 0): number[] {
  const arr = typeof value === 'number' ? new Array<number>(n).fill(value) : [...value];
  if (arr.length !== n || arr.some((v) => !Number.isInteger(v) || v < min)) {
    throw invalid(`${min >= 1 ? 'positive' : 'non-negative'} integer or ${n} of them`, name, value);
  }
  return arr;
}
