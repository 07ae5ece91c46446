// Autograd and runtime scopes: no-grad, inference mode, seeding, threads, live-tensor count.
import { native } from '../binding/native.js';
import { checkInt } from '../core/check.js';
import { Tensor } from './tensor.js';
import { checkDevice, type Device } from './dtype.js';

function guard<T>(fn: () => T): T {
  const out = fn();
  if (out instanceof Promise) throw new TypeError('grad scopes are synchronous: fn returned a Promise');
  return out;
}

/** Runs fn with gradient recording off (torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return guard(fn);
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on (torch.enable_grad()), e.g. inside a noGrad scope. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return guard(fn);
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn in inference mode (torch.inference_mode()): faster than noGrad; results can never enter autograd. */
export function inferenceMode<T>(fn: () => T): T {
  native.inferenceEnter();
  try {
    return guard(fn);
  } finally {
    native.inferenceExit();
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** Seeds the global CPU (and CUDA) generators used by randn/rand/dropout/initialisers. */
export function manualSeed(seed: number): void {
  native.manualSeed(checkInt(seed, 'seed', 0));
}

/** A generator's state as a uint8 tensor (for checkpoints): the CPU's, or a CUDA device's ('cuda:0'). */
export function getRngState(device: Device = 'cpu'): Tensor {
  return new Tensor(native.getRngState(checkDevice(device)));
}
export function setRngState(state: Tensor, device: Device = 'cpu'): void {
  native.setRngState(state.handle, checkDevice(device));
}

/** Intra-op threads used by libtorch's CPU kernels. */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt(n, 'threads', 1));
}
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Number of native tensors alive (created and neither disposed nor garbage collected). */
export function liveTensors(): number {
  return native.liveCount();
}

/** libtorch build and runtime facts (for doctor and benches). */
export function engineInfo() {
  return native.info();
}

/**
 * Caps glibc's malloc arenas for the whole process (arenas made from now on): call it early in a
 * long-running server, whose threads otherwise drift onto new arenas that each grow to their working
 * size (measured in facesr serve: steps of ~20 MB of RSS over minutes; with 2, flat). Returns false
 * where it does nothing: not glibc, or MALLOC_ARENA_MAX / GLIBC_TUNABLES set by the user (they win).
 */
export function setMallocArenaMax(n: number): boolean {
  return native.setMallocArenaMax(checkInt(n, 'n', 1));
}

/** Waits until the GPU has finished its queued work (for timings); returns at once without CUDA. */
export function cudaSynchronize(): void {
  native.cudaSynchronize();
}

export function cudaAvailable(): boolean {
  return native.info().cudaAvailable;
}
