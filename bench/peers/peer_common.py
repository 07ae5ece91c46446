"""What every bench peer starts with: one JSON object per line on stdout, and torch imported or a
{"ready": false} line (exit 0) so the bench reports that there is no peer."""
import json
import sys


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
    say({"ready": False, "error": f"{type(e).__name__}: {e}"})
    sys.exit(0)

__all__ = ["say", "torch", "nn", "F"]
