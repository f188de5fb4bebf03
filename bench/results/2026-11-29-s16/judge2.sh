#!/bin/bash
cd /work/runs/s16
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE ./gen_judge2 train --arch clip --init judge1/checkpoint_1000.safetensors \
  --hard-negatives 6 --category-weights position=6,counting=4 --steps 3000 --batch 64 --lr 1e-3 --lr-min 1e-5 --warmup 100 \
  --ema 0.999 --clip 1 --ckpt-every 250 --keep 3 --log-every 50 --seed 62 --out judge2
