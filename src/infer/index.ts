// The photo pipeline's public API: enhance photos, restore aligned crops, find faces.
export * from './enhance.js';
export * from './detectors.js';
export {
  loadModel,
  saveModel,
  resolveModel,
  DEFAULT_MODEL,
  type LoadedModel,
  type ModelInfo,
} from '../models/modelfile.js';
export type { Box, Detector, Face, Frame, RgbImage } from '../data/faces.js';
