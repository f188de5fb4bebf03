#!/bin/bash
cd /work/runs/s17
SILT_MODELS=/work/main/models OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE ./gen_judge10 train --arch clip \
  --init /work/main/models/world-clip.safetensors.zst --itm-layers 2 \
  --hard-negatives 6 --category-weights position=9,counting=4 --steps 3000 --batch 64 --lr 1e-3 --lr-min 1e-5 --warmup 100 \
  --ema 0.999 --clip 1 --ckpt-every 250 --keep 4 --log-every 50 --seed 75 --out judge10
