// facesr: the public library API.
export * from './core/errors.js';
export * from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * from './io/index.js';
export { doctor, type DoctorReport } from './cli/doctor.js';
export * from './infer/index.js';
