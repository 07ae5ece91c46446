"""The method's networks in PyTorch for the bench peers (train.py, enhance.py), written from
docs/method.md as dev/make_model_fixtures.py does, with widths and depths from a facesr config (missing
restoration keys take the paper's values, as facesr's do)."""
import math

from peer_common import F, nn, torch  # noqa: F401

SN = nn.utils.spectral_norm  # one power iteration per forward in training mode


# ---- generators (dev/make_model_fixtures.py, widths and depths from the config) ----
class BB(nn.Module):
    """Generator residual block: conv3x3(ReLU x) -> ReLU -> [avgpool 2] -> conv3x3, + skip."""

    def __init__(self, cin, cout, down=False, relu_skip=False):
        super().__init__()
        self.relu_skip = relu_skip
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Sequential(nn.AvgPool2d(2), c2) if down else c2
        if cin != cout or down:
            sk = nn.Conv2d(cin, cout, 1)
            self.skip = nn.Sequential(nn.AvgPool2d(2), sk) if down else sk
        else:
            self.skip = None

    def forward(self, x):
        rx = F.relu(x)
        body = self.conv2(F.relu(self.conv1(rx)))
        s = rx if self.relu_skip else x
        return body + (self.skip(s) if self.skip is not None else s)


def up_stage(n):
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.BatchNorm2d(n),
        nn.ReLU(),
        nn.ConvTranspose2d(n, n, 1),
    )


class R(nn.Module):
    """Restoration generator (G_RLS), LR 16x16 -> HR 64x64."""

    def __init__(self, c):
        super().__init__()
        w, w2, h = c.get("width", 256), c.get("width2", 128), c.get("headWidth", 96)
        q = c.get("reluSkipQuirk", False)
        self.layers_set_final = nn.ModuleList(
            [
                nn.Sequential(*[BB(w, w, relu_skip=q) for _ in range(c.get("blocks", 12))]),
                nn.Sequential(BB(w, w2, relu_skip=q), *[BB(w2, w2, relu_skip=q) for _ in range(c.get("blocks2", 3) - 1)]),
            ]
        )
        self.layers_set_final_up = nn.ModuleList([up_stage(w), up_stage(w2)])
        self.a1 = nn.Sequential(nn.Conv2d(w, w2, 1))
        if c.get("unusedConv", False):
            self.a2 = nn.Sequential(nn.Conv2d(w2, h, 1))  # SCGAN's unused conv: parameters only
        self.layers_in = nn.Conv2d(3, w, 3, padding=1, bias=False)
        self.main = nn.Sequential(
            nn.Conv2d(w2, h, 3, padding=1, bias=False),
            nn.ReLU(),
            nn.Conv2d(h, h, 1),
            nn.ReLU(),
            nn.Conv2d(h, 3, 1),
            nn.Tanh(),
        )

    def forward(self, x):
        x = self.layers_in(x)
        x = x + self.layers_set_final[0](x)
        x = self.layers_set_final_up[0](x)
        x = self.layers_set_final[1](x) + self.a1(x)
        x = self.layers_set_final_up[1](x)
        return self.main(x)


class Degradation(nn.Module):
    """Degradation generator (G_DHL / G_DSL): HR + z -> LR at a quarter of the side."""

    def __init__(self, c):
        super().__init__()
        ch, q = c["blocks"], c["reluSkipQuirk"]
        self.size = c["hrSize"]
        self.noise_fc = nn.Linear(c["noiseDim"], self.size * self.size)
        self.in_layer = nn.Conv2d(4, ch[0], 3, padding=1, bias=False)
        downs, cin = [], ch[0]
        for i in range(8):
            downs.append(BB(cin, ch[i], down=i % 2 == 0, relu_skip=q))
            cin = ch[i]
        self.down_layers = nn.Sequential(*downs)
        ups = []
        for i in range(2):
            ups += [nn.PixelShuffle(2), BB(ch[8 + 2 * i], ch[8 + 2 * i], relu_skip=q), BB(ch[9 + 2 * i], ch[9 + 2 * i], relu_skip=q)]
        self.up_layers = nn.Sequential(*ups)
        self.out_layer = nn.Sequential(
            nn.Conv2d(ch[11], c["headWidth"], 3, padding=1, bias=False),
            nn.ReLU(),
            nn.Conv2d(c["headWidth"], 3, 3, padding=1, bias=False),
        )
        # The cpu preset's option (docs/training.md): atanh of the x4 pooled input added before the tanh.
        self.input_skip = c.get("inputSkip", False)

    def forward(self, hr, z):
        m = self.noise_fc(z).view(-1, 1, self.size, self.size)
        x = self.in_layer(torch.cat([hr, m], 1))
        pre = self.out_layer(self.up_layers(self.down_layers(x)))
        if self.input_skip:
            pooled = F.avg_pool2d(hr, self.size // pre.shape[2]).clamp(-0.999, 0.999)
            pre = pre + torch.atanh(pooled)
        return torch.tanh(pre)


# ---- discriminators ----
class DBlock(nn.Module):
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
    """Discriminator: residual blocks (the last log2(size/4) max-pool), SN-linear 16*C -> hidden -> 1."""

    def __init__(self, c):
        super().__init__()
        ch = c["blocks"]
        downs = int(math.log2(c["inputSize"] // 4))
        blocks, cin = [], 3
        for i, n in enumerate(ch):
            blocks.append(DBlock(cin, n, i >= len(ch) - downs))
            cin = n
        self.residual_blocks = nn.Sequential(*blocks)
        self.out_layer = nn.Sequential(SN(nn.Linear(16 * ch[-1], c["hidden"])), nn.ReLU(), SN(nn.Linear(c["hidden"], 1)))

    def forward(self, x):
        h = self.residual_blocks(x)
        return self.out_layer(h.reshape(h.shape[0], -1))


# ---- FAN (1adrianb/face-alignment's stacked hourglasses, sized by the config) ----
class ConvBlock(nn.Module):
    """Three pre-activation 3x3 convs (out/2, out/4, out/4) concatenated, plus a (BN-ReLU-conv1x1) skip."""

    def __init__(self, cin, cout):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout // 2)
        self.conv2 = nn.Conv2d(cout // 2, cout // 4, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout // 4)
        self.conv3 = nn.Conv2d(cout // 4, cout // 4, 3, padding=1, bias=False)
        self.downsample = (
            nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False)) if cin != cout else None
        )

    def forward(self, x):
        o1 = self.conv1(F.relu(self.bn1(x)))
        o2 = self.conv2(F.relu(self.bn2(o1)))
        o3 = self.conv3(F.relu(self.bn3(o2)))
        res = self.downsample(x) if self.downsample is not None else x
        return torch.cat([o1, o2, o3], 1) + res


class HourGlass(nn.Module):
    def __init__(self, depth, features):
        super().__init__()
        self.depth = depth
        self._build(depth, features)

    def _build(self, level, f):
        self.add_module(f"b1_{level}", ConvBlock(f, f))
        self.add_module(f"b2_{level}", ConvBlock(f, f))
        if level > 1:
            self._build(level - 1, f)
        else:
            self.add_module(f"b2_plus_{level}", ConvBlock(f, f))
        self.add_module(f"b3_{level}", ConvBlock(f, f))

    def _run(self, level, x):
        up1 = self._modules[f"b1_{level}"](x)
        low1 = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2))
        low2 = self._run(level - 1, low1) if level > 1 else self._modules[f"b2_plus_{level}"](low1)
        low3 = self._modules[f"b3_{level}"](low2)
        return up1 + F.interpolate(low3, scale_factor=2, mode="nearest")

    def forward(self, x):
        return self._run(self.depth, x)


class FAN(nn.Module):
    """Stem (conv7x7/2, BN, ReLU, ConvBlocks, optional avg-pool), stacks of hourglass + heatmap head."""

    def __init__(self, c):
        super().__init__()
        stem, w, L = c["stemWidth"], c["width"], c["landmarks"]
        self.stacks, self.pool = c["stacks"], c["pool"]
        self.conv1 = nn.Conv2d(3, stem, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(stem)
        self.conv2 = ConvBlock(stem, stem * 2)
        self.conv3 = ConvBlock(stem * 2, stem * 2)
        self.conv4 = ConvBlock(stem * 2, w)
        for i in range(self.stacks):
            self.add_module(f"m{i}", HourGlass(c["depth"], w))
            self.add_module(f"top_m_{i}", ConvBlock(w, w))
            self.add_module(f"conv_last{i}", nn.Conv2d(w, w, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(w))
            self.add_module(f"l{i}", nn.Conv2d(w, L, 1))
            if i < self.stacks - 1:
                self.add_module(f"bl{i}", nn.Conv2d(w, w, 1))
                self.add_module(f"al{i}", nn.Conv2d(L, w, 1))

    def forward(self, x):
        h = self.conv2(F.relu(self.bn1(self.conv1(x))))
        if self.pool:
            h = F.avg_pool2d(h, 2)
        previous = self.conv4(self.conv3(h))
        outs = []
        m = self._modules
        for i in range(self.stacks):
            ll = m[f"top_m_{i}"](m[f"m{i}"](previous))
            ll = F.relu(m[f"bn_end{i}"](m[f"conv_last{i}"](ll)))
            out = m[f"l{i}"](ll)
            outs.append(out)
            if i < self.stacks - 1:
                previous = previous + m[f"bl{i}"](ll) + m[f"al{i}"](out)
        return outs
