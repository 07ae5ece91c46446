// The augmentations of augment.ts on tensors (e.g. a whole batch on the GPU): the affine goes through
// F.affineGrid + F.gridSample (bilinear, border padding, alignCorners false). Kept apart from
// augment.ts because that module must stay free of the tensor layer for the loader's workers.
import { ArgumentError } from '../core/errors.js';
import { F, Tensor, tensor, tidy } from '../tensor/index.js';
import { type AugmentParams, type Matrix2x3, affineToTheta } from './augment.js';

/**
 * Warps [N, C, H, W] images by source-to-destination matrices (one per image, or one for all), same
 * size, bilinear with border padding: the tensor twin of warpAffine.
 */
export function warpAffineTensor(x: Tensor, m: Matrix2x3 | readonly Matrix2x3[]): Tensor {
  if (x.ndim !== 4)
    throw new ArgumentError(`warpAffineTensor: expected [N, C, H, W] but received [${x.shape.join(', ')}]`);
  const [n, , h, w] = x.shape as [number, number, number, number];
  const ms: readonly Matrix2x3[] = isMatrixList(m) ? m : Array.from({ length: n }, () => m);
  if (ms.length !== n) throw new ArgumentError(`warpAffineTensor: ${ms.length} matrices for a batch of ${n}`);
  return tidy(() => {
    const theta = tensor(
      ms.map((mi) => {
        const t = affineToTheta(mi, w, h);
        return [t.slice(0, 3), t.slice(3, 6)];
      }),
      { device: x.device, dtype: 'float32' },
    );
    const xf = x.dtype === 'float32' ? x : x.to({ dtype: 'float32' });
    const grid = F.affineGrid(theta, x.shape, false);
    return F.gridSample(xf, grid, { mode: 'bilinear', paddingMode: 'border', alignCorners: false });
  });
}

function isMatrixList(m: Matrix2x3 | readonly Matrix2x3[]): m is readonly Matrix2x3[] {
  return Array.isArray(m[0]);
}

/** Mirrors [..., W] images left to right. */
export function hflipTensor(x: Tensor): Tensor {
  return x.flip(-1);
}

/** The colour part of applyAugment on [N, 3, H, W] images in [0, 1] (torchvision order and clamps). */
export function adjustColorTensor(x: Tensor, c: AugmentParams['color']): Tensor {
  return tidy(() => {
    let y = x;
    if (c.brightness !== 1) y = y.mul(c.brightness).clamp(0, 1);
    const grey = (t: Tensor) =>
      t
        .narrow(1, 0, 1)
        .mul(0.299)
        .add(t.narrow(1, 1, 1).mul(0.587))
        .add(t.narrow(1, 2, 1).mul(0.114));
    if (c.contrast !== 1) {
      const mean = grey(y).mean([1, 2, 3], true);
      y = y
        .mul(c.contrast)
        .add(mean.mul(1 - c.contrast))
        .clamp(0, 1);
    }
    if (c.saturation !== 1)
      y = y
        .mul(c.saturation)
        .add(grey(y).mul(1 - c.saturation))
        .clamp(0, 1);
    return y === x ? x.clone() : y;
  });
}
