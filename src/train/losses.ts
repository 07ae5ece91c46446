// Losses of the semi-cycled GAN (method.md section 3): hinge adversarial terms and L1 means.
import { F, type Tensor, tidy } from '../tensor/index.js';

/** Discriminator hinge loss: relu(1 - D(real)).mean() + relu(1 + D(fake)).mean(). */
export function hingeD(realScores: Tensor, fakeScores: Tensor): Tensor {
  return tidy(() => realScores.rsub(1).relu().mean().add(fakeScores.add(1).relu().mean()));
}

/** Generator hinge loss: -D(fake).mean(). */
export function hingeG(fakeScores: Tensor): Tensor {
  return tidy(() => fakeScores.mean().neg());
}

/** Mean absolute error. */
export function l1(a: Tensor, b: Tensor): Tensor {
  return F.l1Loss(a, b);
}

/** Heatmap loss L_hm: mean over landmarks and pixels of (FAN(sr) - FAN(hr))^2. */
export function heatmapLoss(srHeatmaps: Tensor, hrHeatmaps: Tensor): Tensor {
  return F.mseLoss(srHeatmaps, hrHeatmaps);
}

/**
 * DF's L1 anchor: lr_syn against the x4 average pool of hr (method.md), both average-pooled further
 * by `pool` when it is above 1 (LossWeights.dfAnchorPool), which anchors only the coarser content.
 */
export function degradationAnchor(lrSyn: Tensor, hr: Tensor, pool = 1): Tensor {
  if (pool === 1) return l1(lrSyn, F.avgPool2d(hr, 4));
  return tidy(() => l1(F.avgPool2d(lrSyn, pool), F.avgPool2d(hr, 4 * pool)));
}
