#!/usr/bin/env bash
# Trains the cpu preset's full method and its two GAN baselines (SCGAN = lambda_hm 0, Bulat18 = DF + R)
# side by side on one GPU, with the same data, init, warm-up, steps and seed (issue 6's "same data
# and budget"). Carried in .gpu/data: hr.tar.xz (hr/, a spread of CelebA training faces, no held-out identity),
# lr.tar.xz (lr/, the widened LR set of dev/make_lr_pool.mjs: real photos + WIDER faces, synthetic x4 bicubic
# and realistic; a tar, as thousands of tiny files count by disk blocks), p2-init.safetensors (the pixel run's networks). Each run is stopped by SIGINT after
# GUARD seconds if not done (it saves). Returns runs.tar (model, logs, samples) and the logs.
#   [DEVICE=cuda] [STEPS=2000] [WARM=500] [GUARD=520] [MODES="full scgan bulat18"] dev/gpu/trio.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}
t0=$(date +%s)
if [ "$DEVICE" != cpu ]; then
  # shellcheck source=dev/gpu/setup.sh
  source dev/gpu/setup.sh
fi
[ -d .gpu/data/lr ] || tar -C .gpu/data -xJf .gpu/data/lr.tar.xz
[ -d .gpu/data/hr ] || tar -C .gpu/data -xJf .gpu/data/hr.tar.xz
echo "== [$(($(date +%s) - t0)) s] start"
nhr=$(ls .gpu/data/hr | wc -l)
# The cosine period in steps equals the full set's (10 epochs of 14,400 faces at batch 16 = 9,000).
epochs=$(( 9000 * 16 / nhr ))
pids=()
for m in ${MODES:-full scgan bulat18}; do
  node -e "const c=require('./configs/cpu-$m.json'); c.cosineEpochs=$epochs; console.log(JSON.stringify(c))" > /tmp/cfg-$m.json
  timeout --foreground -s INT "${GUARD:-520}" node dist/src/cli/main.js train --config /tmp/cfg-$m.json \
    --device "$DEVICE" --threads 2 --workers 2 --hr .gpu/data/hr --lr .gpu/data/lr --out /tmp/g-$m \
    --init .gpu/data/p2-init.safetensors --steps "${STEPS:-2000}" --warmup-degraders "${WARM:-500}" \
    --holdout 0 ${RESUME:+--resume} --sample-every 250 --checkpoint-every 100000 > "$OUT/train-$m.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; echo "run pid $p rc=$?"; done
echo "== [$(($(date +%s) - t0)) s] trained"
for m in ${MODES:-full scgan bulat18}; do
  echo "-- $m"; cat /tmp/g-$m/last_run.json 2>/dev/null; tail -c 400 "$OUT/train-$m.log"; echo
done
tar -C /tmp -cf "$OUT/runs.tar" --exclude=checkpoint.safetensors $(for m in ${MODES:-full scgan bulat18}; do echo g-$m; done)
ls -la "$OUT"
