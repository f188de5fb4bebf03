#!/usr/bin/env bash
# Run 13: rejection-sampling fine-tuning of the shipped world MMDiT on its own verified samples.
cd /work/main
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE build-cpu/gen train --arch mmdit --clip-model models/world-clip.safetensors.zst \
    --ae models/world-ae.safetensors.zst --init models/world-dit.safetensors.zst --size default --batch 32 \
    --lr ${LR:-2e-4} --lr-min 1e-5 --warmup 50 --ema ${EMA:-0.998} --clip 1 --time-shift 3 \
    --samples /work/runs/s18/h0.safetensors,/work/runs/s18/h1.safetensors --samples-fraction ${FRAC:-0.75} \
    --steps ${STEPS:-1500} --ckpt-every 250 --keep 8 --log-every 25 --seed 31 --out ${OUT:-/work/runs/s18/ft1}
