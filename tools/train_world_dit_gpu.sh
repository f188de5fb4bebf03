#!/usr/bin/env bash
# A world-MMDiT training run on a GPU machine (how the earlier, pixel-space
# world model was made; with AE and INIT it goes on with the shipped latent
# one, as two short runs of its history did, models/README.md): build gen,
# time 20 training steps of the world MMDiT on cuda, then train for as many
# steps as fit the time budget (a full cosine schedule for that length),
# export the EMA weights as F16 with the shipped model's sampling defaults
# (20 steps, shift 1, CFG 4, PAG scale 1: without it gen would use PAG scale 3).
#
#   tools/train_world_dit_gpu.sh [BUDGET_SECONDS (default 400)] [OUT_DIR (default ./world_dit_gpu)]
#
# Env: BUILD (build dir, default /tmp/silt-gpu-build), EXTRA_CMAKE (more cmake
# args, e.g. -DSTB_INCLUDE_DIR=... where libstb is not installed), AE (a world
# autoencoder file: train the latent world MMDiT in it, `gen train --ae`;
# default: pixel space), INIT (a checkpoint, run dir or model file to start
# from, `gen train --init`: e.g. models/world-dit.safetensors.zst with
# AE=models/world-ae.safetensors.zst goes on from the shipped model), LR (peak
# learning rate, default 1e-3; 5e-4 suits a run from INIT), BATCH (default
# 64), TIME_SHIFT (`gen train --time-shift`, default none), SEED (default 0),
# TF32=1 (`gen train --tf32`: tensor-core products; not yet timed on a GPU).
# The shipped model's last two runs (twelfth session, models/README.md runs
# 11-12): INIT=models/world-dit.safetensors.zst AE=models/world-ae.safetensors.zst
# BATCH=128 LR=4e-4 TIME_SHIFT=3.
# The pixel-space model: BUDGET 395 on an H100 gave 5374 steps (batch 64,
# 1250-1330 images/s, 277 s of training). The latent model: a median
# 4660 images/s at batch 128 on an H200 (twelfth session; 320-370 at batch 64
# before its encoders moved to the device). The device machine has no zstd:
# the model then stays uncompressed (split it to bring it back).
set -u
T0=$(date +%s)
budget=${1:-400}
out=${2:-world_dit_gpu}
B=${BUILD:-/tmp/silt-gpu-build}
mkdir -p "$out"
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DSILT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=90-real;80-virtual" \
    ${EXTRA_CMAKE:-} >"$out/configure.log" 2>&1 &&
    cmake --build "$B" -j"$(nproc)" --target gen >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
G=$B/gen
A=(--arch mmdit --device cuda --clip-model models/world-clip.safetensors.zst --size default --batch "${BATCH:-64}"
   --lr "${LR:-1e-3}" --lr-min 1e-5 --warmup 200 --ema 0.999 --clip 1 --seed "${SEED:-0}")
[ -n "${TIME_SHIFT:-}" ] && A+=(--time-shift "$TIME_SHIFT")
[ "${TF32:-0}" = 1 ] && A+=(--tf32)
[ -n "${AE:-}" ] && A+=(--ae "$AE")
[ -n "${INIT:-}" ] && A+=(--init "$INIT")
rm -rf "$out/probe" "$out/run"
"$G" train "${A[@]}" --steps 40 --log-every 20 --ckpt-every 0 --out "$out/probe" >"$out/probe.log" 2>&1 ||
    { tail -5 "$out/probe.log"; exit 1; }
e20=$(awk -F, 'NR==2{print $6}' "$out/probe/train_log.csv")
e40=$(awk -F, 'NR==3{print $6}' "$out/probe/train_log.csv")
left=$(( budget - ($(date +%s) - T0) - 25 ))
N=$(awk -v a="$e20" -v b="$e40" -v l="$left" 'BEGIN{sp=(b-a)/20; n=int(l/sp*0.92); if(n<200)n=200; print n}')
echo "20 steps took $(awk -v a="$e20" -v b="$e40" 'BEGIN{print b-a}') s; $left s left: training $N steps"
# SIGTERM (the time limit) makes gen train finish its step and checkpoint.
timeout -s TERM $(( left + 10 )) "$G" train "${A[@]}" --steps "$N" --log-every 100 --ckpt-every 1000 --keep 1 \
    --out "$out/run" >"$out/train.log" 2>&1
echo "train rc=$?"; tail -1 "$out/run/train_log.csv"
"$G" train --arch mmdit --export "$out/run" -o "$out/world-dit.safetensors" --export-f16 \
    --sample-steps 20 --sample-shift 1 --sample-cfg 4 --sample-pag-scale 1 && { ! command -v zstd >/dev/null || zstd -19 -q -f "$out/world-dit.safetensors"; }
echo "done in $(( $(date +%s) - T0 )) s: $out/world-dit.safetensors(.zst)"
