export { Tensor, assertSameShape } from './tensor.js';
export * from './dtype.js';
export * from './create.js';
export * from './autograd.js';
export { tidy, keep, dispose } from './scope.js';
export * as F from './functional.js';
