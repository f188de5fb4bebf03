#!/bin/bash
cd /work/runs/s16
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE ./gen_judge5 train --arch clip --class-token --hard-negatives 6 \
  --category-weights position=6,counting=4 --steps 3000 --batch 64 --lr 2e-3 --lr-min 1e-5 --warmup 150 \
  --ema 0.999 --clip 1 --ckpt-every 500 --keep 2 --log-every 100 --seed 65 --out judge5
