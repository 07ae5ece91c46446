export * from './errors.js';
export * from './check.js';
