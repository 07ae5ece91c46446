// Neural-network ops with PyTorch's torch.nn.functional semantics and defaults.
import { native } from '../binding/native.js';
import { ArgumentError } from '../core/errors.js';
import { checkOneOf, tuple, checkInt } from '../core/check.js';
import { Tensor } from './tensor.js';

type Pair = number | readonly [number, number];
type Reduction = 'mean' | 'sum' | 'none';
const opt = (t: Tensor | null | undefined) => (t ? t.handle : null);

function need4d(x: Tensor, op: string): void {
  if (x.ndim !== 4)
    throw new ArgumentError(`${op}: expected a 4-d [N, C, H, W] input but received [${x.shape.join(', ')}]`);
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  return new Tensor(
    native.conv2d(
      x.handle,
      weight.handle,
      opt(bias),
      tuple(o.stride ?? 1, 2, 'stride', 1),
      tuple(o.padding ?? 0, 2, 'padding'),
      tuple(o.dilation ?? 1, 2, 'dilation', 1),
      checkInt(o.groups ?? 1, 'groups', 1),
    ),
  );
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  o: ConvTranspose2dOptions = {},
): Tensor {
  return new Tensor(
    native.convTranspose2d(
      x.handle,
      weight.handle,
      opt(bias),
      tuple(o.stride ?? 1, 2, 'stride', 1),
      tuple(o.padding ?? 0, 2, 'padding'),
      tuple(o.outputPadding ?? 0, 2, 'outputPadding'),
      checkInt(o.groups ?? 1, 'groups', 1),
      tuple(o.dilation ?? 1, 2, 'dilation', 1),
    ),
  );
}

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return new Tensor(native.linear(x.handle, weight.handle, opt(bias)));
}

export interface PoolOptions {
  stride?: Pair | null;
  padding?: Pair;
  ceilMode?: boolean;
}
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  o: PoolOptions & { countIncludePad?: boolean } = {},
): Tensor {
  const k = tuple(kernel, 2, 'kernel', 1);
  return new Tensor(
    native.avgPool2d(
      x.handle,
      k,
      tuple(o.stride ?? k, 2, 'stride', 1),
      tuple(o.padding ?? 0, 2, 'padding'),
      o.ceilMode ?? false,
      o.countIncludePad ?? true,
    ),
  );
}
export function maxPool2d(x: Tensor, kernel: Pair, o: PoolOptions & { dilation?: Pair } = {}): Tensor {
  const k = tuple(kernel, 2, 'kernel', 1);
  return new Tensor(
    native.maxPool2d(
      x.handle,
      k,
      tuple(o.stride ?? k, 2, 'stride', 1),
      tuple(o.padding ?? 0, 2, 'padding'),
      tuple(o.dilation ?? 1, 2, 'dilation', 1),
      o.ceilMode ?? false,
    ),
  );
}
export function adaptiveAvgPool2d(x: Tensor, size: Pair): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(x.handle, tuple(size, 2, 'outputSize', 1)));
}
export function adaptiveMaxPool2d(x: Tensor, size: Pair): Tensor {
  return new Tensor(native.adaptiveMaxPool2d(x.handle, tuple(size, 2, 'outputSize', 1)));
}

export const INTERPOLATE_MODES = ['nearest', 'nearest-exact', 'bilinear', 'bicubic', 'area'] as const;
export type InterpolateMode = (typeof INTERPOLATE_MODES)[number];
export interface InterpolateOptions {
  size?: Pair;
  scaleFactor?: number | readonly [number, number];
  mode?: InterpolateMode;
  alignCorners?: boolean;
  antialias?: boolean;
}
/**
 * F.interpolate for 4-d input. Give size or scaleFactor. As in PyTorch (recompute_scale_factor unset),
 * a scale factor sets the output size to floor(in * scale) and is also what the kernel samples with.
 */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  need4d(x, 'interpolate');
  const mode = checkOneOf(o.mode ?? 'nearest', 'mode', INTERPOLATE_MODES);
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  let size: number[];
  let scales: number[] | null = null;
  if (o.size !== undefined && o.scaleFactor === undefined) {
    size = tuple(o.size, 2, 'size', 1);
  } else if (o.scaleFactor !== undefined && o.size === undefined) {
    const s = typeof o.scaleFactor === 'number' ? [o.scaleFactor, o.scaleFactor] : [...o.scaleFactor];
    if (s.some((v) => !(v > 0)))
      throw new ArgumentError(`interpolate: scaleFactor must be positive, received ${String(o.scaleFactor)}`);
    size = [Math.floor(h * s[0]!), Math.floor(w * s[1]!)];
    scales = s;
  } else {
    throw new ArgumentError('interpolate: give exactly one of size and scaleFactor');
  }
  const align = o.alignCorners ?? false;
  if (o.antialias && mode !== 'bilinear' && mode !== 'bicubic') {
    throw new ArgumentError(`interpolate: antialias only applies to bilinear and bicubic, not '${mode}'`);
  }
  if (o.alignCorners !== undefined && (mode === 'nearest' || mode === 'nearest-exact' || mode === 'area')) {
    throw new ArgumentError(`interpolate: alignCorners only applies to bilinear and bicubic, not '${mode}'`);
  }
  return new Tensor(native.interpolate(x.handle, mode, size, scales, align, o.antialias ?? false));
}

export function pixelShuffle(x: Tensor, factor: number): Tensor {
  return new Tensor(native.pixelShuffle(x.handle, checkInt(factor, 'factor', 1)));
}
export function pixelUnshuffle(x: Tensor, factor: number): Tensor {
  return new Tensor(native.pixelUnshuffle(x.handle, checkInt(factor, 'factor', 1)));
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';
/** F.pad: pads lists (left, right, top, bottom, ...) starting from the last dim. */
export function pad(x: Tensor, pads: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
  checkOneOf(mode, 'mode', ['constant', 'reflect', 'replicate', 'circular'] as const);
  return new Tensor(native.pad(x.handle, pads, mode, value));
}

export interface NormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  momentum?: number;
  eps?: number;
}
/** F.batch_norm: with training true it uses batch statistics and updates the running buffers in place. */
export function batchNorm(x: Tensor, training: boolean, o: NormOptions = {}): Tensor {
  return new Tensor(
    native.batchNorm(
      x.handle,
      opt(o.weight),
      opt(o.bias),
      opt(o.runningMean),
      opt(o.runningVar),
      training,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}
export function instanceNorm(x: Tensor, o: NormOptions & { useInputStats?: boolean } = {}): Tensor {
  return new Tensor(
    native.instanceNorm(
      x.handle,
      opt(o.weight),
      opt(o.bias),
      opt(o.runningMean),
      opt(o.runningVar),
      o.useInputStats ?? true,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}
export function groupNorm(x: Tensor, groups: number, o: NormOptions = {}): Tensor {
  return new Tensor(
    native.groupNorm(x.handle, checkInt(groups, 'groups', 1), opt(o.weight), opt(o.bias), o.eps ?? 1e-5),
  );
}
export function layerNorm(x: Tensor, normalizedShape: readonly number[], o: NormOptions = {}): Tensor {
  return new Tensor(native.layerNorm(x.handle, normalizedShape, opt(o.weight), opt(o.bias), o.eps ?? 1e-5));
}

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  return new Tensor(native.dropout(x.handle, p, training));
}

export function l1Loss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.l1Loss(a.handle, b.handle, reduction));
}
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.mseLoss(a.handle, b.handle, reduction));
}
export function smoothL1Loss(a: Tensor, b: Tensor, reduction: Reduction = 'mean', beta = 1): Tensor {
  return new Tensor(native.smoothL1Loss(a.handle, b.handle, reduction, beta));
}
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  target: Tensor,
  reduction: Reduction = 'mean',
): Tensor {
  return new Tensor(native.bceWithLogits(logits.handle, target.handle, reduction));
}
export function crossEntropy(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.crossEntropy(logits.handle, target.handle, reduction));
}

/** F.affine_grid for 2-d: theta [N, 2, 3], size [N, C, H, W]. */
export function affineGrid(theta: Tensor, size: readonly number[], alignCorners = false): Tensor {
  return new Tensor(native.affineGrid(theta.handle, size, alignCorners));
}
/** F.grid_sample for 4-d input. */
export function gridSample(
  x: Tensor,
  grid: Tensor,
  o: {
    mode?: 'bilinear' | 'nearest' | 'bicubic';
    paddingMode?: 'zeros' | 'border' | 'reflection';
    alignCorners?: boolean;
  } = {},
): Tensor {
  const mode = ['bilinear', 'nearest', 'bicubic'].indexOf(o.mode ?? 'bilinear');
  const padding = ['zeros', 'border', 'reflection'].indexOf(o.paddingMode ?? 'zeros');
  if (mode < 0) throw new ArgumentError(`gridSample: unknown mode '${String(o.mode)}'`);
  if (padding < 0) throw new ArgumentError(`gridSample: unknown paddingMode '${String(o.paddingMode)}'`);
  return new Tensor(native.gridSample(x.handle, grid.handle, mode, padding, o.alignCorners ?? false));
}
