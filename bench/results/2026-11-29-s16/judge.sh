#!/bin/bash
cd /work/runs/s16
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE ./gen_judge train --arch clip --init /work/main/models/world-clip.safetensors.zst \
  --hard-negatives 3 --steps 3000 --batch 64 --lr 1e-3 --lr-min 1e-5 --warmup 100 --ema 0.999 --clip 1 \
  --ckpt-every 250 --keep 2 --log-every 50 --seed 61 --out judge1
