#!/usr/bin/env bash
# A/B: DPO on the CFG-4 guided velocity (--dpo-cfg 4, beta 500) from run 21 on run 21's own candidates f0, f1
# (1786 pairs), the recipe of s21's g1 (plain DPO, beta 2000, 500 steps) otherwise.
cd /work/main
OMP_NUM_THREADS=${THREADS:-1} OMP_WAIT_POLICY=PASSIVE /work/runs/s22/gen train --arch mmdit --clip-model models/world-clip.safetensors.zst \
    --ae models/world-ae.safetensors.zst --init models/world-dit.safetensors.zst --size default --batch 16 \
    --lr 6e-5 --lr-min 2e-6 --warmup 20 --ema 0.99 --clip 1 --time-shift 3 \
    --dpo /work/runs/s21/f0.safetensors,/work/runs/s21/f1.safetensors --dpo-cfg ${CFG:-4} \
    --dpo-beta ${BETA:-500} --steps ${STEPS:-500} --ckpt-every 100 --keep 10 --log-every 10 --seed 42 --out ${OUT}
/work/runs/s22/gen train --arch mmdit --export ${OUT} -o ${OUT}.safetensors --export-f16 --sample-steps 20 --sample-shift 1 --sample-cfg 4 --sample-pag-scale 1
