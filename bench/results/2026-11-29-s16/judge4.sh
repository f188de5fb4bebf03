#!/bin/bash
cd /work/runs/s16
OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE ./gen_judge2 train --arch clip --init /tmp/wc_relinit.safetensors \
  --hard-negatives 6 --category-weights single_object=0,two_objects=0,counting=0,colours=0,position=1,colour_attribution=0,background=0 \
  --steps 1500 --batch 64 --lr 1e-3 --lr-min 1e-5 --warmup 50 --ema 0.99 --clip 1 --ckpt-every 250 --keep 3 --log-every 25 --seed 63 --out judge4
