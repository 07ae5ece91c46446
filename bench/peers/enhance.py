#!/usr/bin/env python3
"""PyTorch peer of `npm run bench -- enhance`: the restoration network R in PyTorch 1.13.

R is written from docs/method.md section 2 as in dev/make_model_fixtures.py (G_RLS), widened to any
preset's widths and depths. It loads the same weights as facesr from a facesr model file (safetensors
whose metadata key `facesr` holds the architecture) and the same input batch from a safetensors file.

Usage: enhance.py MODEL.safetensors INPUT.safetensors [THREADS]
A long-lived child driven over stdin/stdout, one command per line:
  forward N   -> N timed inference-mode forwards of the input batch; {"times": [seconds, ...]}
  sample K    -> the first K output values (flattened), for the equality check; {"values": [...]}
  quit        -> exits
The first line it prints is {"ready": true, "torch": ..., "threads": ...}; on a missing torch it
prints {"ready": false, "error": ...} and exits 0.
"""
import json
import struct
import sys
import time


from peer_common import F, nn, say, torch  # noqa: E402,F401 - the shared peer preamble
from peer_nets import R  # noqa: E402 - the restoration network, shared with train.py

try:
    import numpy as np
except Exception as e:  # noqa: BLE001 - no numpy means no peer
    say({"ready": False, "error": f"{type(e).__name__}: {e}"})
    sys.exit(0)

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file (the dtypes facesr writes for R)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        arr = np.frombuffer(buf[base + a : base + b], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def main():
    model_file, input_file = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(threads)
    weights, meta = read_safetensors(model_file)
    info = json.loads(meta["facesr"])
    net = R(info["arch"])
    net.load_state_dict(weights, strict=True)
    net.eval()
    x = read_safetensors(input_file)[0]["x"].float()
    say({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": list(x.shape)})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "quit":
                break
            if cmd[0] == "forward":
                times = []
                for _ in range(int(cmd[1])):
                    t0 = time.perf_counter()
                    with torch.inference_mode():
                        net(x)
                    times.append(time.perf_counter() - t0)
                say({"times": times})
            elif cmd[0] == "sample":
                with torch.inference_mode():
                    y = net(x)
                say({"values": y.flatten()[: int(cmd[1])].tolist()})
            else:
                say({"error": f"unknown command {cmd[0]}"})
        except Exception as e:  # noqa: BLE001 - report to the bench instead of dying silently
            say({"error": f"{type(e).__name__}: {e}"})


main()
