export { Module, type Layer, type StateDict, type LoadResult } from './module.js';
export * from './layers.js';
export * from './containers.js';
export { spectralNorm } from './spectral_norm.js';
export * as init from './init.js';
export { F } from '../tensor/index.js';
