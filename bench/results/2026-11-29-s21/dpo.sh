#!/usr/bin/env bash
# Second DPO round: from the shipped run 20 (also the frozen reference) on its own labelled candidates (c0, c1).
cd /work/main
OMP_NUM_THREADS=${THREADS:-1} OMP_WAIT_POLICY=PASSIVE /work/runs/s21/gen train --arch mmdit --clip-model models/world-clip.safetensors.zst \
    --ae models/world-ae.safetensors.zst --init models/world-dit.safetensors.zst --size default --batch ${BATCH:-16} \
    --lr ${LR:-6e-5} --lr-min ${LRMIN:-2e-6} --warmup 20 --ema ${EMA:-0.99} --clip 1 --time-shift 3 \
    --dpo ${SETS:-/work/runs/s21/c0.safetensors,/work/runs/s21/c1.safetensors} \
    --dpo-beta ${BETA:-2000} --steps ${STEPS:-900} --ckpt-every 100 --keep 10 --log-every 10 --seed ${SEED:-42} --out ${OUT}
/work/runs/s21/gen train --arch mmdit --export ${OUT} -o ${OUT}.safetensors --export-f16 --sample-steps 20 --sample-shift 1 --sample-cfg 4 --sample-pag-scale 1
