// Module: parameters, buffers and children walked recursively, with PyTorch-compatible state-dict keys.
import { StateDictError, ArgumentError } from '../core/errors.js';
import { Tensor, keep, noGrad, type DType, type Device, isFloating } from '../tensor/index.js';

/** A module that maps one tensor to one tensor (what Sequential chains). */
export interface Layer {
  forward(x: Tensor): Tensor;
}

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

/**
 * Base class of every network piece. Subclasses register parameters, buffers and child modules in
 * their constructor; names become the state-dict keys exactly as in PyTorch ("body.0.weight").
 */
export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, { t: Tensor | null; persistent: boolean; optional: boolean }>();
  readonly #children = new Map<string, Module>();

  /** Registers a trainable tensor (it gets requiresGrad and outlives tidy scopes). */
  protected registerParameter(name: string, t: Tensor | null): Tensor {
    if (t) {
      keep(t);
      if (!t.requiresGrad) t.requiresGrad_(true);
    }
    this.#params.set(name, t);
    return t as Tensor;
  }
  /**
   * Registers a non-trainable tensor saved in the state dict (unless persistent is false). An optional
   * buffer may be absent from a state dict being loaded (BatchNorm's num_batches_tracked, as PyTorch
   * tolerates for state dicts without version metadata).
   */
  protected registerBuffer(name: string, t: Tensor | null, persistent = true, optional = false): Tensor {
    if (t) keep(t);
    this.#buffers.set(name, { t, persistent, optional });
    return t as Tensor;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }
  /** Renames a parameter (spectral norm's weight -> weight_orig). */
  protected renameParameter(from: string, to: string): void {
    const t = this.#params.get(from);
    if (t === undefined) throw new ArgumentError(`No parameter '${from}'`);
    this.#params.delete(from);
    this.#params.set(to, t);
  }
  param(name: string): Tensor {
    const t = this.#params.get(name);
    if (!t) throw new ArgumentError(`${this.constructor.name} has no parameter '${name}'`);
    return t;
  }
  buffer(name: string): Tensor {
    const b = this.#buffers.get(name);
    if (!b?.t) throw new ArgumentError(`${this.constructor.name} has no buffer '${name}'`);
    return b.t;
  }
  hasParam(name: string): boolean {
    return Boolean(this.#params.get(name));
  }

  namedChildren(): [string, Module][] {
    return [...this.#children];
  }
  child(name: string): Module {
    const m = this.#children.get(name);
    if (!m) throw new ArgumentError(`${this.constructor.name} has no child '${name}'`);
    return m;
  }
  /** This module and every descendant, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.#children) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m.#params) if (t) out.push([p ? `${p}.${n}` : n, t]);
    }
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, b] of m.#buffers)
        if (b.t && (!persistentOnly || b.persistent)) out.push([p ? `${p}.${n}` : n, b.t]);
    }
    return out;
  }
  /** Number of parameter elements (trainable weights). */
  numParameters(): number {
    return this.parameters().reduce((a, t) => a + t.numel, 0);
  }

  /**
   * Parameters and persistent buffers by PyTorch key. The tensors are the module's own (not copies):
   * do not dispose them; clone them to keep a snapshot.
   */
  stateDict(): StateDict {
    const sd: StateDict = new Map();
    const all = [...this.namedParameters(), ...this.namedBuffers('', true)];
    const rank = registrationOrder(this);
    all.sort((a, b) => (rank.get(a[0]) ?? 0) - (rank.get(b[0]) ?? 0));
    for (const [k, t] of all) sd.set(k, t);
    return sd;
  }

  /**
   * Copies values in by key. With strict (default) any missing or unexpected key is an error; a shape
   * mismatch always is. Every problem is listed in one StateDictError.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = new Map([...this.namedParameters(), ...this.namedBuffers('', true)]);
    const optional = new Set<string>();
    for (const [p, m] of this.namedModules()) {
      for (const [n, b] of m.#buffers) if (b.optional) optional.add(p ? `${p}.${n}` : n);
    }
    const missing = [...own.keys()].filter((k) => !src.has(k) && !optional.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    const misShaped: string[] = [];
    for (const [k, t] of own) {
      const s = src.get(k);
      if (!s) continue;
      const a = t.shape;
      const b = s.shape;
      if (a.length !== b.length || a.some((v, i) => v !== b[i]))
        misShaped.push(`${k}: expected [${a.join(', ')}] but received [${b.join(', ')}]`);
    }
    if (misShaped.length || (strict && (missing.length || unexpected.length))) {
      const lines = [`Error(s) loading state dict into ${this.constructor.name}:`];
      if (missing.length) lines.push(`  missing keys (${missing.length}): ${missing.join(', ')}`);
      if (unexpected.length) lines.push(`  unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
      if (misShaped.length)
        lines.push(`  shape mismatches (${misShaped.length}):`, ...misShaped.map((m) => `    ${m}`));
      throw new StateDictError(lines.join('\n'));
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const s = src.get(k);
        if (s) t.copy_(s);
      }
    });
    return { missing, unexpected };
  }

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /**
   * Moves/converts every parameter and buffer in place (tensor identity is kept, so optimizers built
   * before still work). dtype applies to floating tensors only, as in PyTorch.
   */
  to(opts: { device?: Device; dtype?: DType }): this {
    noGrad(() => {
      for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
        const dtype = opts.dtype && isFloating(t.dtype) ? opts.dtype : undefined;
        const c = t.to({ device: opts.device, dtype });
        t.setData_(c);
        c.dispose();
      }
    });
    return this;
  }

  /** Sets every parameter's gradient to null (zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Requires (or stops requiring) gradients for every parameter: freezing a network. */
  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** Frees every parameter and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}

// Registration order, as PyTorch's state_dict: per module, its params then buffers, then children.
function registrationOrder(root: Module): Map<string, number> {
  const m = new Map<string, number>();
  let i = 0;
  const walk = (mod: Module, prefix: string): void => {
    const own = (n: string) => (prefix ? `${prefix}.${n}` : n);
    for (const [n] of mod.namedParameters().filter(([k]) => !k.includes('.'))) m.set(own(n), i++);
    for (const [n] of mod.namedBuffers().filter(([k]) => !k.includes('.'))) m.set(own(n), i++);
    for (const [n, c] of mod.namedChildren()) walk(c, own(n));
  };
  walk(root, '');
  return m;
}
