#!/usr/bin/env python3
"""PyTorch peer of `npm run bench -- train`: one semi-cycle training iteration (docs/method.md
section 3, mode 'full'), written in PyTorch from method.md (not from facesr's code).

The networks are those of dev/make_model_fixtures.py (R = G_RLS, DF/DB = G_DHL, spectral-norm
discriminators via torch.nn.utils.spectral_norm), generalised to the widths and depths of a preset,
plus the FAN (stacked hourglasses of 1adrianb/face-alignment, sized as src/models/fan.ts's config).

Usage: train.py THREADS BATCH LAMBDA_HM CONFIG_JSON
  CONFIG_JSON: {"R": {...}, "DF": {...}, "DB": {...}, "DL": {...}, "DH": {...}, "FAN": {...}}, every
  option resolved (the bench sends the configs facesr's modules resolved, defaults included).

A long-lived child driven over stdin/stdout, one command per line:
  train N  -> N timed iterations; answers one JSON line
              {"times": [seconds, ...], "minflt": minor page faults over the N, "losses": {...} of the
               last one, "maxrss_mb": peak RSS of this process}
  quit     -> exits
The first line it prints is {"ready": true, "torch": ..., "threads": ..., "params": {name: count}}; on a
missing torch it prints {"ready": false, "error": ...} and exits 0 so the bench can report no peer.
"""
import json
import math
import resource
import sys
import time


from peer_common import F, nn, say, torch  # noqa: E402,F401 - the shared peer preamble

THREADS = int(sys.argv[1])
BATCH = int(sys.argv[2])
LAMBDA_HM = float(sys.argv[3])
CFG = json.loads(sys.argv[4])
torch.set_num_threads(THREADS)
torch.manual_seed(0)

# SCGAN's weights (method.md section 3).
ALPHA, BETA, THETA, GAMMA = 1.0, 0.05, 1.0, 0.05
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
        w, w2, h, q = c["width"], c["width2"], c["headWidth"], c["reluSkipQuirk"]
        self.layers_set_final = nn.ModuleList(
            [
                nn.Sequential(*[BB(w, w, relu_skip=q) for _ in range(c["blocks"])]),
                nn.Sequential(BB(w, w2, relu_skip=q), *[BB(w2, w2, relu_skip=q) for _ in range(c["blocks2"] - 1)]),
            ]
        )
        self.layers_set_final_up = nn.ModuleList([up_stage(w), up_stage(w2)])
        self.a1 = nn.Sequential(nn.Conv2d(w, w2, 1))
        if c["unusedConv"]:
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
            nn.Tanh(),
        )

    def forward(self, hr, z):
        m = self.noise_fc(z).view(-1, 1, self.size, self.size)
        x = self.in_layer(torch.cat([hr, m], 1))
        return self.out_layer(self.up_layers(self.down_layers(x)))


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


# ---- the seven networks, their optimizers, the frozen FAN ----
nets = {
    "R": R(CFG["R"]),
    "DF": Degradation(CFG["DF"]),
    "DB": Degradation(CFG["DB"]),
    "DL1": D(CFG["DL"]),
    "DH1": D(CFG["DH"]),
    "DL2": D(CFG["DL"]),
    "DH2": D(CFG["DH"]),
}
fan = FAN(CFG["FAN"])
fan.eval()
fan.requires_grad_(False)
for n in nets.values():
    n.train()
opts = {k: torch.optim.Adam(n.parameters(), lr=1e-4, betas=(0.9, 0.999)) for k, n in nets.items()}
NOISE_DIM = CFG["DF"]["noiseDim"]
HR_SIZE = CFG["DF"]["hrSize"]
hr = torch.rand(BATCH, 3, HR_SIZE, HR_SIZE) * 2 - 1
lr = torch.rand(BATCH, 3, HR_SIZE // 4, HR_SIZE // 4) * 2 - 1


def update(name, loss):
    opts[name].zero_grad(set_to_none=True)  # as facesr's zeroGrad: grads dropped, not memset
    loss.backward()
    opts[name].step()


def hinge_d(real_scores, fake_scores):
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_g(fake_scores):
    return -fake_scores.mean()


def step_d(name, real, fake):
    d = nets[name]
    loss = hinge_d(d(real), d(fake.detach()))
    update(name, loss)
    return loss.item()


def iteration():
    """method.md section 3: fakes; D_L1, D_H1, D_L2, D_H2; then DF, R (with L_hm), DB."""
    Rn, DFn, DBn = nets["R"], nets["DF"], nets["DB"]
    losses = {}
    z = torch.randn(BATCH, NOISE_DIM)
    lr_syn = DFn(hr, z)
    sr_syn = Rn(lr_syn.detach())
    sr_real = Rn(lr)
    lr_cyc = DBn(sr_real.detach(), z)
    up = F.interpolate(lr, size=(HR_SIZE, HR_SIZE), mode="bicubic", align_corners=False)

    losses["D_L1"] = step_d("DL1", lr, lr_syn)
    losses["D_H1"] = step_d("DH1", hr, sr_syn)
    losses["D_L2"] = step_d("DL2", lr, lr_cyc)
    losses["D_H2"] = step_d("DH2", hr, sr_real)

    df_loss = F.l1_loss(lr_syn, F.avg_pool2d(hr, 4)) * ALPHA + hinge_g(nets["DL1"](lr_syn)) * BETA
    update("DF", df_loss)
    losses["DF"] = df_loss.item()

    r_l1 = F.l1_loss(sr_syn, hr)
    fwd = r_l1 * ALPHA + hinge_g(nets["DH1"](sr_syn)) * BETA
    if LAMBDA_HM > 0:
        with torch.no_grad():
            hm_hr = fan(hr)[-1]
        hm = F.mse_loss(fan(sr_syn)[-1], hm_hr)
        losses["R_hm"] = hm.item()
        fwd = fwd + hm * LAMBDA_HM
    r_loss = fwd * THETA
    losses["R_l1"] = r_l1.item()
    bwd = F.l1_loss(sr_real, up) * ALPHA + hinge_g(nets["DH2"](sr_real)) * BETA
    r_loss = r_loss + bwd * GAMMA
    update("R", r_loss)
    losses["R"] = r_loss.item()

    db_loss = F.l1_loss(lr_cyc, lr) * ALPHA + hinge_g(nets["DL2"](lr_cyc)) * BETA
    update("DB", db_loss)
    losses["DB"] = db_loss.item()
    return losses


def timed(n):
    out, losses = [], {}
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        t0 = time.perf_counter()
        losses = iteration()
        out.append(time.perf_counter() - t0)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"times": out, "minflt": ru.ru_minflt - f0, "losses": losses, "maxrss_mb": ru.ru_maxrss / 1024}


params = {k: sum(p.numel() for p in n.parameters()) for k, n in nets.items()}
params["FAN"] = sum(p.numel() for p in fan.parameters())
say(
    {
        "ready": True,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "params": params,
    }
)

for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    cmd = parts[0]
    if cmd == "quit":
        break
    n = int(parts[1]) if len(parts) > 1 else 1
    if cmd == "train":
        try:
            say(timed(n))
        except Exception as e:  # noqa: BLE001 - report, keep serving
            say({"error": f"{type(e).__name__}: {e}"})
    else:
        say({"error": f"unknown command {cmd!r}"})
