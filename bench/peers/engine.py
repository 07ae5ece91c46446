#!/usr/bin/env python3
"""PyTorch peer of `npm run bench -- engine`, written from the bench spec (not from facesr's code).

A long-lived child driven over stdin/stdout, one command per line:
  forward N   -> N timed no-grad forwards; answers one JSON line
                 {"times": [seconds, ...], "minflt": minor page faults over the N}
  train N     -> N timed training steps (zero_grad + forward + L1 + backward + Adam step)
  quit        -> exits
The first line it prints is {"ready": true, "torch": ..., "threads": ...}; on a missing torch it
prints {"ready": false, "error": ...} and exits 0 so the bench can report "peer": null.
"""
import json
import resource
import sys
import time


from peer_common import F, nn, say, torch  # noqa: E402,F401 - the shared peer preamble

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(THREADS)
torch.manual_seed(0)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


def make_net():
    layers = [nn.Conv2d(3, 64, 3, padding=1)]
    layers += [ResBlock(64) for _ in range(8)]
    for _ in range(2):
        layers += [nn.Conv2d(64, 256, 3, padding=1), nn.PixelShuffle(2), nn.ReLU()]
    layers.append(nn.Conv2d(64, 3, 3, padding=1))
    return nn.Sequential(*layers)


net = make_net()
opt = torch.optim.Adam(net.parameters(), lr=1e-4)
x = torch.randn(8, 3, 16, 16)
target = torch.randn(8, 3, 64, 64)


def forward_once():
    with torch.no_grad():
        y = net(x)
    return y


def train_once():
    # set_to_none=True: the same work as facesr's zeroGrad (grads dropped, not memset).
    opt.zero_grad(set_to_none=True)
    y = net(x)
    loss = F.l1_loss(y, target)
    loss.backward()
    opt.step()
    return loss


def timed(fn, n):
    """Per-iteration seconds, and the minor page faults taken over the n iterations."""
    out = []
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return {"times": out, "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}


say(
    {
        "ready": True,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
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
    if cmd == "forward":
        say(timed(forward_once, n))
    elif cmd == "train":
        say(timed(train_once, n))
    else:
        say({"error": f"unknown command {cmd!r}"})
