// Deterministic memory management: tidy() scopes that dispose every tensor created inside them
// except what the scope returns or keep()s. Node's finalizers alone cannot keep up with a training
// loop (see docs/architecture.md), so every hot loop runs inside tidy().
import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

/** Called by the Tensor constructor: the tensor belongs to the innermost open scope. */
export function track(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s) s.add(t);
}

/** Removes a tensor from every open scope so that it outlives them; returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value === null || value === undefined || depth > 4) return;
  if (typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

let isTensor: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
/** Wired by tensor.ts to avoid an import cycle. */
export function setTensorCheck(fn: (v: unknown) => v is Tensor): void {
  isTensor = fn;
}

/**
 * Runs fn; disposes every tensor created during it except the ones in its result (a tensor, or
 * tensors inside arrays, Maps and plain objects), which move to the enclosing scope.
 * fn must be synchronous: a Promise result throws.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TypeError(
      'tidy(fn): fn returned a Promise; tidy scopes are synchronous (await outside, tidy inside)',
    );
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Disposes tensors (and tensors inside arrays/objects). */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collect(value, all);
  for (const t of all) t.dispose();
}
