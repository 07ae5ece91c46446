// Data layer: images, inputs, datasets, degradations, loaders, face finding and framing.
// Each module adds its own export line here.
export * from './image.js';
export * from './faces.js';
export * from './files.js';
export * from './degrade.js';
export * from './sample.js';
export * from './datasets.js';
export * from './augment.js';
export * from './augment_tensor.js';
export * from './loader.js';
