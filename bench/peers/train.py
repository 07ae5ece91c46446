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
import resource
import sys
import time


from peer_common import F, nn, say, torch  # noqa: E402,F401 - the shared peer preamble

THREADS = int(sys.argv[1])
BATCH = int(sys.argv[2])
LAMBDA_HM = float(sys.argv[3])
CFG = json.loads(sys.argv[4])
DEVICE = sys.argv[5] if len(sys.argv) > 5 else "cpu"
torch.set_num_threads(THREADS)
torch.manual_seed(0)

# SCGAN's weights (method.md section 3).
ALPHA, BETA, THETA, GAMMA = 1.0, 0.05, 1.0, 0.05


from peer_nets import FAN, D, Degradation, R  # noqa: E402 - the networks, shared with enhance.py


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
for m in [*nets.values(), fan]:
    m.to(DEVICE)
fan.eval()
fan.requires_grad_(False)
for n in nets.values():
    n.train()
opts = {k: torch.optim.Adam(n.parameters(), lr=1e-4, betas=(0.9, 0.999)) for k, n in nets.items()}
NOISE_DIM = CFG["DF"]["noiseDim"]
HR_SIZE = CFG["DF"]["hrSize"]
hr = (torch.rand(BATCH, 3, HR_SIZE, HR_SIZE) * 2 - 1).to(DEVICE)
lr = (torch.rand(BATCH, 3, HR_SIZE // 4, HR_SIZE // 4) * 2 - 1).to(DEVICE)


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
    z = torch.randn(BATCH, NOISE_DIM, device=DEVICE)
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
        if DEVICE != "cpu":
            torch.cuda.synchronize()
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
        "device": DEVICE if DEVICE == "cpu" else torch.cuda.get_device_name(),
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
