#!/usr/bin/env bash
# The GPU session's checks, as one script for the device machine (its tool copies the working tree;
# the ignored folder .gpu/ travels with it: node.xz (a stripped Node binary), node-include/ (N-API
# headers), nm.tar.xz (sharp, node-addon-api and their few dependencies), data/{hr,lr} (small subsets
# of the training sets), and dist/ (the compiled TypeScript)).
#   [QUICK=1] [RESUME_S=45] dev/gpu/check.sh [TRAIN_SECONDS]   (QUICK: CUDA tests only, no bench)
# Builds the addon against the machine's PyTorch libtorch (CUDA), then: doctor; the CUDA tests and
# the CPU test files most sensitive to the libtorch version; the train bench on CUDA against PyTorch
# on CUDA (both presets); a paper-preset training run on CUDA stopped by SIGINT after TRAIN_SECONDS
# and resumed for a few steps. Logs and a few images go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
train_s=${1:-150}
t0=$(date +%s)
stamp() { echo "== [$(($(date +%s) - t0)) s] $*"; }

stamp setup and build
# shellcheck source=dev/gpu/setup.sh
source dev/gpu/setup.sh

stamp doctor
node dist/src/cli/main.js doctor 2>&1 | head -30

stamp tests
tests=(dist/tests/cuda.test.js)
[ "${QUICK:-0}" = 1 ] || tests+=(dist/tests/tensor-golden.test.js dist/tests/nn-golden.test.js
  dist/tests/tensor-basics.test.js dist/tests/optim.test.js dist/tests/models.test.js dist/tests/train-scgan.test.js)
node --test --test-concurrency=1 "${tests[@]}" > "$OUT/tests.log" 2>&1
echo "tests rc=$?"
grep -E "^# (tests|pass|fail|skipped)|^not ok|cuda tests skipped" "$OUT/tests.log" | head -30

stamp bench
[ "${QUICK:-0}" = 1 ] || node dist/bench/run.js train --device cuda --threads 8 --warmup 3 --iters 10 2>&1 | tee "$OUT/bench-train.log" | tail -25

stamp train
run=/tmp/run-paper
rm -rf $run
timeout --foreground -s INT "$train_s" node dist/src/cli/main.js train --config configs/paper-full.json --device cuda \
  --hr .gpu/data/hr --lr .gpu/data/lr --out $run --fan models/fan-cpu.safetensors --steps 100000 \
  --sample-every 200 --checkpoint-every 100000 --workers 4 > "$OUT/train.log" 2>&1
echo "train rc=$? (124/130: stopped by the time limit's SIGINT)"
tail -c 1500 "$OUT/train.log"
stamp resume
timeout --foreground -s INT "${RESUME_S:-45}" node dist/src/cli/main.js train --config configs/paper-full.json --device cuda \
  --hr .gpu/data/hr --lr .gpu/data/lr --out $run --fan models/fan-cpu.safetensors --steps 100000 \
  --sample-every 200 --checkpoint-every 100000 --workers 4 --resume > "$OUT/resume.log" 2>&1
echo "resume rc=$?"
grep -h "resumed from\|interrupted at" "$OUT/train.log" "$OUT/resume.log"
tail -c 800 "$OUT/resume.log"
cp $run/log.jsonl "$OUT/train-log.jsonl" 2>/dev/null
cp $run/losses.png "$OUT/" 2>/dev/null
last=$(ls $run/samples/*.png 2>/dev/null | sort | tail -1)
[ -n "$last" ] && cp "$last" "$OUT/last-sample.png"
ls -la $run | head
stamp done
