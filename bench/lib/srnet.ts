// The prototype's SR-style network, the engine bench's workload and the data bench's stand-in trainer.
import type { Tensor } from '../../src/tensor/index.js';
import { Conv2d, Module, PixelShuffle, ReLU, Sequential, type Layer } from '../../src/nn/index.js';

class ResBlock extends Module implements Layer {
  readonly body: Sequential;
  constructor(c: number) {
    super();
    this.body = this.registerModule(
      'body',
      new Sequential(new Conv2d(c, c, 3, { padding: 1 }), new ReLU(), new Conv2d(c, c, 3, { padding: 1 })),
    );
  }
  forward(x: Tensor): Tensor {
    const r = this.body.forward(x);
    const y = x.add(r);
    r.dispose();
    return y;
  }
}

/** conv 3->64; 8 residual blocks; 2 x (conv 64->256, pixel shuffle x2, relu); conv 64->3. */
export function makeSrNet(): Sequential {
  const layers: (Module & Layer)[] = [new Conv2d(3, 64, 3, { padding: 1 })];
  for (let i = 0; i < 8; i++) layers.push(new ResBlock(64));
  for (let i = 0; i < 2; i++)
    layers.push(new Conv2d(64, 256, 3, { padding: 1 }), new PixelShuffle(2), new ReLU());
  layers.push(new Conv2d(64, 3, 3, { padding: 1 }));
  return new Sequential(...layers);
}

/** Lets the event loop turn once (the project's rule: once per training step). */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
