// Sequential and ModuleList: children named '0', '1', ... as in PyTorch.
import { ArgumentError } from '../core/errors.js';
import type { Tensor } from '../tensor/index.js';
import { Module, type Layer } from './module.js';

export type LayerModule = Module & Layer;

/** Applies its children in order. Intermediate outputs are released as soon as the next layer has run. */
export class Sequential extends Module implements Layer {
  readonly layers: LayerModule[];
  constructor(...layers: LayerModule[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) {
      const next = m.forward(y);
      // Autograd keeps what it needs; our own handle to an intermediate can go now.
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
  at(i: number): LayerModule {
    const m = this.layers[i < 0 ? this.layers.length + i : i];
    if (!m) throw new ArgumentError(`Sequential has ${this.layers.length} layers; no index ${i}`);
    return m;
  }
  get length(): number {
    return this.layers.length;
  }
}

/** Holds modules in a list (registered as '0', '1', ...) without defining forward. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: readonly M[] = []) {
    super();
    for (const m of items) this.push(m);
  }
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }
  at(i: number): M {
    const m = this.items[i < 0 ? this.items.length + i : i];
    if (!m) throw new ArgumentError(`ModuleList has ${this.items.length} modules; no index ${i}`);
    return m;
  }
  get length(): number {
    return this.items.length;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
