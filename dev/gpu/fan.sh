#!/usr/bin/env bash
# Fine-tunes the shipped cpu-preset FAN on the GPU machine (see dev/gpu/check.sh for the setup):
# .gpu/ytf holds ../shared/data/landmarks/ytf. Stopped by SIGINT after SECONDS (checkpoint kept);
# finish a stopped run elsewhere with `facesr train-fan --resume --steps <its step>` (evaluates).
#   dev/gpu/fan.sh STEPS SECONDS
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
# shellcheck source=dev/gpu/setup.sh
source dev/gpu/setup.sh
node --test dist/tests/cuda.test.js > "$OUT/cuda-tests.log" 2>&1; echo "cuda tests rc=$?"; grep -E "^not ok|^# (pass|fail)" "$OUT/cuda-tests.log"
run=/tmp/fan-gpu
timeout --foreground -s INT "$2" node dist/src/cli/main.js train-fan --data .gpu/ytf --out $run --device cuda \
  --init models/fan-cpu.safetensors --steps "$1" --lr0 0.0003 --workers 6 > "$OUT/fan.log" 2>&1
echo "train-fan rc=$?"
tail -c 2000 "$OUT/fan.log"
cp $run/checkpoint.safetensors $run/log.jsonl $run/last_run.json "$OUT/" 2>/dev/null
cp $run/fan.safetensors $run/fan_metrics.json "$OUT/" 2>/dev/null
ls -la $run
