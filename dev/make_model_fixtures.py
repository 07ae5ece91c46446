"""Golden fixture for tests/models.test.ts: SCGAN's R (G_RLS), DF (G_DHL) and a 16x16 discriminator
at the paper sizes, written in PyTorch from docs/method.md section 2 (not from facesr's code).

The weights are not stored (R alone is 62 MB): both sides compute them from one formula, see
formula_state_dict. The fixture holds the inputs, PyTorch's eval-mode outputs, one train-mode forward each
of R and D_L (output, BatchNorm running stats / spectral-norm u after it) and (metadata) each
network's state-dict keys in PyTorch's order.

Run: /usr/bin/python3 dev/make_model_fixtures.py   (torch 1.13)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_writer import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'models_golden.safetensors')


class BB(nn.Module):
    """Generator residual block: conv3x3(ReLU x) -> ReLU -> [avgpool 2] -> conv3x3, + skip."""

    def __init__(self, cin, cout, down=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Sequential(nn.AvgPool2d(2), c2) if down else c2
        if cin != cout or down:
            sk = nn.Conv2d(cin, cout, 1)
            self.skip = nn.Sequential(nn.AvgPool2d(2), sk) if down else sk
        else:
            self.skip = None

    def forward(self, x):
        body = self.conv2(F.relu(self.conv1(F.relu(x))))
        return body + (self.skip(x) if self.skip is not None else x)


def up_stage(n):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True), nn.BatchNorm2d(n), nn.ReLU(), nn.ConvTranspose2d(n, n, 1))


class R(nn.Module):
    """Restoration generator (G_RLS), LR 16x16 -> HR 64x64."""

    def __init__(self):
        super().__init__()
        self.layers_set_final = nn.ModuleList([
            nn.Sequential(*[BB(256, 256) for _ in range(12)]),
            nn.Sequential(BB(256, 128), BB(128, 128), BB(128, 128)),
        ])
        self.layers_set_final_up = nn.ModuleList([up_stage(256), up_stage(128)])
        self.a1 = nn.Sequential(nn.Conv2d(256, 128, 1))
        self.layers_in = nn.Conv2d(3, 256, 3, padding=1, bias=False)
        self.main = nn.Sequential(
            nn.Conv2d(128, 96, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(96, 96, 1), nn.ReLU(), nn.Conv2d(96, 3, 1), nn.Tanh()
        )

    def forward(self, x):
        x = self.layers_in(x)
        x = x + self.layers_set_final[0](x)
        x = self.layers_set_final_up[0](x)
        x = self.layers_set_final[1](x) + self.a1(x)
        x = self.layers_set_final_up[1](x)
        return self.main(x)


class DF(nn.Module):
    """Degradation generator (G_DHL): HR 64x64 + z (64) -> LR 16x16."""

    def __init__(self):
        super().__init__()
        ch = [96, 96, 128, 128, 256, 256, 512, 512, 128, 128, 32, 32]
        self.noise_fc = nn.Linear(64, 64 * 64)
        self.in_layer = nn.Conv2d(4, 96, 3, padding=1, bias=False)
        downs, cin = [], 96
        for i in range(8):
            downs.append(BB(cin, ch[i], down=i % 2 == 0))
            cin = ch[i]
        self.down_layers = nn.Sequential(*downs)
        self.up_layers = nn.Sequential(nn.PixelShuffle(2), BB(128, 128), BB(128, 128), nn.PixelShuffle(2), BB(32, 32), BB(32, 32))
        self.out_layer = nn.Sequential(nn.Conv2d(32, 8, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1, bias=False), nn.Tanh())

    def forward(self, hr, z):
        m = self.noise_fc(z).view(-1, 1, 64, 64)
        x = self.in_layer(torch.cat([hr, m], 1))
        return self.out_layer(self.up_layers(self.down_layers(x)))


SN = nn.utils.spectral_norm


class DB(nn.Module):
    """Discriminator residual block: pre-activation, SN convs, max-pool 2 when down; skip from x."""

    def __init__(self, cin, cout, down):
        super().__init__()
        self.conv1 = SN(nn.Conv2d(cin, cout, 3, padding=1, bias=False))
        c2 = SN(nn.Conv2d(cout, cout, 3, padding=1, bias=False))
        self.conv2 = nn.Sequential(nn.MaxPool2d(2), c2) if down else c2
        if cin != cout or down:
            sk = SN(nn.Conv2d(cin, cout, 1))
            self.skip = nn.Sequential(nn.MaxPool2d(2), sk) if down else sk
        else:
            self.skip = None

    def forward(self, x):
        body = self.conv2(F.relu(self.conv1(F.relu(x))))
        return body + (self.skip(x) if self.skip is not None else x)


class D(nn.Module):
    """Discriminator: channels 128,128,256,256,512,512, max-pool down to 4x4, SN-linear 8192->512->1."""

    def __init__(self, size):
        super().__init__()
        ch = [128, 128, 256, 256, 512, 512]
        downs = int(math.log2(size // 4))
        blocks, cin = [], 3
        for i, c in enumerate(ch):
            blocks.append(DB(cin, c, i >= len(ch) - downs))
            cin = c
        self.residual_blocks = nn.Sequential(*blocks)
        self.out_layer = nn.Sequential(SN(nn.Linear(16 * 512, 512)), nn.ReLU(), SN(nn.Linear(512, 1)))

    def forward(self, x):
        h = self.residual_blocks(x)
        return self.out_layer(h.reshape(h.shape[0], -1))


M32 = 0xFFFFFFFF


def hash_uniform(n, k):
    """s_i in [-1, 1): murmur3's 32-bit finaliser of (i + (k + 1) * 0x9E3779B9) mod 2^32, scaled.
    Integer arithmetic, so facesr's test reproduces the values bit for bit. (A smooth formula such as
    sin(0.7 i + 1.3 k) makes conv weights coherent across input channels, 9 * 0.7 ~ 2 pi, and DF's
    activations grow 10^5-fold; an equidistributed one gives rows that sum to ~0 and the ReLU'd
    residual bodies vanish.)"""
    h = (np.arange(n, dtype=np.uint64) + np.uint64(((k + 1) * 0x9E3779B9) & M32)) & np.uint64(M32)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(M32)
    h ^= h >> np.uint64(16)
    return torch.from_numpy(h.astype(np.float64) / 2.0**31 - 1.0)


POWER_ITERS = 3


def formula_state_dict(sd):
    """Deterministic weights: the k-th key in sorted order, n elements, s = hash_uniform(n, k) in float64:
    conv/linear weights (and weight_orig) s * sqrt(3 / fan_in), fan_in = numel / shape[0] (variance 1 / fan_in); BatchNorm weight 1 + 0.1 s, bias
    0.1 s, running_mean 0.05 s, running_var 1 + 0.2 |s|, num_batches_tracked 0; other biases 0.01 s;
    spectral-norm weight_v: s / ||s|| then POWER_ITERS power iterations on W (weight_orig as a matrix
    [out, -1], float64): u = Wv / ||Wv||, v = W'u / ||W'u||; finally weight_u = Wv / ||Wv||, so sigma is
    close to W's largest singular value as after training. Cast to float32 at the end."""
    out = {}
    keys = sorted(sd.keys())
    bn_prefixes = {k[: -len('running_mean')] for k in keys if k.endswith('running_mean')}
    for k, name in enumerate(keys):
        t = sd[name]
        if name.endswith('num_batches_tracked'):
            out[name] = torch.zeros((), dtype=torch.int64)
            continue
        n = t.numel()
        s = hash_uniform(n, k)
        leaf = name.rsplit('.', 1)[-1]
        prefix = name[: -len(leaf)]
        is_bn = prefix in bn_prefixes
        if leaf in ('weight', 'weight_orig') and t.dim() >= 2:
            v = s * math.sqrt(3 / (n / t.shape[0]))
        elif leaf == 'weight_v':
            v = s / torch.linalg.norm(s)
        elif leaf == 'weight_u':
            continue  # needs weight_orig and weight_v: filled in below
        elif leaf == 'weight' and is_bn:
            v = 1 + 0.1 * s
        elif leaf == 'bias':
            v = 0.1 * s if is_bn else 0.01 * s
        elif leaf == 'running_mean':
            v = 0.05 * s
        elif leaf == 'running_var':
            v = 1 + 0.2 * s.abs()
        else:
            raise ValueError(f'no formula for {name}')
        out[name] = v.reshape(t.shape)
    for name in keys:
        if name.endswith('weight_u'):
            p = name[: -len('weight_u')]
            w = out[p + 'weight_orig']
            m = w.reshape(w.shape[0], -1)
            v = out[p + 'weight_v']
            for _ in range(POWER_ITERS):
                u = m @ v
                u = u / torch.linalg.norm(u)
                v = m.t() @ u
                v = v / torch.linalg.norm(v)
            out[p + 'weight_v'] = v
            wv = m @ v
            out[name] = wv / torch.linalg.norm(wv)
    return {k: (v.to(torch.float32) if v.dtype == torch.float64 else v) for k, v in out.items()}


def load_formula(m):
    sd = m.state_dict()
    m.load_state_dict(formula_state_dict(sd), strict=True)
    return m.eval()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    lr = torch.randn(2, 3, 16, 16).tanh()
    z = torch.randn(2, 64)
    out = {'lr': lr, 'z': z}
    meta = {'source': 'dev/make_model_fixtures.py', 'torch': torch.__version__}
    with torch.no_grad():
        r = load_formula(R())
        print('R params', sum(p.numel() for p in r.parameters()))
        meta['r_keys'] = json.dumps(list(r.state_dict().keys()))
        sr = r(lr)
        out['r_out'] = sr
        # Train mode: BatchNorm normalises with batch statistics and updates its running stats.
        # Every other pixel of the output keeps the fixture small.
        r.train()
        out['r_out_train_sub2'] = r(lr)[:, :, ::2, ::2].contiguous()
        for k, v in r.state_dict().items():
            if 'running' in k:
                out[f'r_train_state.{k}'] = v
        del r
        df = load_formula(DF())
        print('DF params', sum(p.numel() for p in df.parameters()))
        meta['df_keys'] = json.dumps(list(df.state_dict().keys()))
        # DF reads R's output (stored above) as its HR input: no second 64x64 input in the fixture.
        out['df_out'] = df(sr, z)
        del df
        d = load_formula(D(16))
        print('D16 params', sum(p.numel() for p in d.parameters()))
        meta['d16_keys'] = json.dumps(list(d.state_dict().keys()))
        out['d16_out'] = d(lr)
        # Train mode: one power iteration per spectral-norm layer updates u and v, then sigma.
        d.train()
        out['d16_out_train'] = d(lr)
        for k, v in d.state_dict().items():
            if k.endswith('weight_u'):
                out[f'd16_train_state.{k}'] = v
    for k, v in out.items():
        if 'state.' in k:
            continue
        print(k, list(v.shape), f'mean {v.mean().item():.5f} std {v.std().item():.5f}')
    write_safetensors(OUT, out, metadata=meta, verbose=True)


if __name__ == '__main__':
    main()
