export * from './blocks.js';
export * from './restoration.js';
export * from './degradation.js';
export * from './discriminator.js';
export * from './fan.js';
export * from './registry.js';
export * from './retinaface.js';
export * from './modelfile.js';
