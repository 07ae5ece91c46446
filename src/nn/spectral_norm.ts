// Spectral normalisation exactly as torch.nn.utils.spectral_norm (1.13): weight_orig parameter,
// weight_u / weight_v buffers, power iteration in training mode, sigma = u . (W v).
import { checkInt } from '../core/check.js';
import { type Tensor, randn, noGrad, tidy } from '../tensor/index.js';
import { WeightedLayer, type WeightProvider } from './layers.js';

function normalize(v: Tensor, eps: number): Tensor {
  return tidy(() => v.div(v.norm().clamp(eps)));
}

class SpectralNorm implements WeightProvider {
  constructor(
    private readonly layer: WeightedLayer,
    private readonly nPowerIterations: number,
    private readonly eps: number,
    private readonly dim: number,
  ) {}

  matrix(w: Tensor): Tensor {
    let m = w;
    if (this.dim !== 0) {
      const perm = [this.dim, ...w.shape.map((_, i) => i).filter((i) => i !== this.dim)];
      m = w.permute(perm);
    }
    return m.reshape(m.shape[0]!, -1);
  }

  weight(): Tensor {
    const l = this.layer;
    const w = l.param('weight_orig');
    const u = l.buffer('weight_u');
    const v = l.buffer('weight_v');
    return tidy(() => {
      const mat = this.matrix(w);
      if (l.training && this.nPowerIterations > 0) {
        noGrad(() => {
          for (let i = 0; i < this.nPowerIterations; i++) {
            // In place into the buffers, as torch does with out=.
            v.copy_(normalize(mat.transpose(0, 1).mv(u), this.eps));
            u.copy_(normalize(mat.mv(v), this.eps));
          }
        });
      }
      // torch clones u and v after the power iteration so autograd sees fixed vectors.
      const uc = u.clone();
      const vc = v.clone();
      const sigma = uc.dot(mat.mv(vc));
      return w.div(sigma);
    });
  }
}

/**
 * Applies spectral normalisation to a layer's weight (Conv2d, ConvTranspose2d, Linear), like
 * torch.nn.utils.spectral_norm: the parameter becomes `weight_orig`, with buffers `weight_u`, `weight_v`.
 */
export function spectralNorm<L extends WeightedLayer>(
  layer: L,
  o: { nPowerIterations?: number; eps?: number; dim?: number } = {},
): L {
  const n = checkInt(o.nPowerIterations ?? 1, 'nPowerIterations', 0);
  const eps = o.eps ?? 1e-12;
  const dim = o.dim ?? layer.outputDim;
  const w = layer.param('weight');
  const sn = new SpectralNorm(layer, n, eps, dim);
  const [h, wd] = tidy(() => {
    const m = sn.matrix(w.detach());
    return [m.shape[0]!, m.shape[1]!];
  });
  const u = tidy(() => normalize(randn([h]), eps));
  const v = tidy(() => normalize(randn([wd]), eps));
  layer.reparametrize(sn, 'weight_orig', { weight_u: u, weight_v: v });
  return layer;
}
