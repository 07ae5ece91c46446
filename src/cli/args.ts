// Option values shared by the commands: one message template for every bad value.
import { FacesrError } from '../core/errors.js';

/** A positive integer option, or dflt when absent. */
export function intOption(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new FacesrError(`Expected positive integer for ${name} but received '${v}'`);
  return n;
}

/** A number in [0, max], or dflt when absent. */
export function numOption(v: string | undefined, name: string, dflt: number, max = Infinity): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > max) {
    const what = max === Infinity ? 'non-negative number' : `number in [0, ${max}]`;
    throw new FacesrError(`Expected ${what} for ${name} but received '${v}'`);
  }
  return n;
}

/** --preset: cpu (default) or paper. */
export function presetOption(v: string | undefined): 'cpu' | 'paper' {
  const p = v ?? 'cpu';
  if (p !== 'cpu' && p !== 'paper')
    throw new FacesrError(`Expected cpu or paper for --preset but received '${p}'`);
  return p;
}

/** --device: cpu (default), cuda or cuda:N. */
export function deviceOption(v: string | undefined): 'cpu' | 'cuda' | `cuda:${number}` {
  const d = v ?? 'cpu';
  if (!/^(cpu|cuda(:\d+)?)$/.test(d))
    throw new FacesrError(`Expected cpu, cuda or cuda:N for --device but received '${d}'`);
  return d as 'cpu';
}
