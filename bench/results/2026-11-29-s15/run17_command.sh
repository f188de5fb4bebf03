#!/bin/bash
cd /work/runs/s15
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
exec ./gen train --arch mmdit --device cpu --clip-model /work/main/models/world-clip.safetensors.zst \
  --ae /work/main/models/world-ae.safetensors.zst --init /work/main/models/world-dit.safetensors.zst --size default \
  --batch 32 --lr 3e-4 --lr-min 1e-5 --warmup 100 --ema 0.999 --clip 1 --time-shift 3 \
  --relation-channel --category-weights position=6 --pure-noise 0.1 --seed 51 --steps 6400 \
  --log-every 50 --ckpt-every 400 --keep 2 --out run17 "$@"
