// Tiny networks with the method's topology (every network of method.md at a few channels): fast
// enough for unit tests of training, checkpoints and devices.
import type { MethodNetworks } from '../../src/models/index.js';

export const TINY: MethodNetworks = {
  R: { type: 'restoration', width: 8, blocks: 1, width2: 8, blocks2: 1, headWidth: 8 },
  DF: { type: 'degradation', blocks: [8, 8, 8, 8, 16, 16, 32, 32, 8, 8, 2, 2], headWidth: 4 },
  DB: { type: 'degradation', blocks: [8, 8, 8, 8, 16, 16, 32, 32, 8, 8, 2, 2], headWidth: 4 },
  DL: { type: 'discriminator', inputSize: 16, blocks: [8, 8, 8, 8], hidden: 8 },
  DH: { type: 'discriminator', inputSize: 64, blocks: [8, 8, 8, 8], hidden: 8 },
  FAN: { type: 'fan', inputSize: 64, stacks: 1, width: 8, stemWidth: 4, pool: true, landmarks: 4 },
};
