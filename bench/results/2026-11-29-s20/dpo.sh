#!/usr/bin/env bash
# DPO of the shipped world MMDiT on its labelled candidates (s19 a0-a3 [+ s20 b0]).
cd /work/main
OMP_NUM_THREADS=${THREADS:-1} OMP_WAIT_POLICY=PASSIVE /work/runs/s20/gen_dpo train --arch mmdit --clip-model models/world-clip.safetensors.zst \
    --ae models/world-ae.safetensors.zst --init models/world-dit.safetensors.zst --size default --batch ${BATCH:-16} \
    --lr ${LR:-2e-5} --lr-min ${LRMIN:-2e-6} --warmup 20 --ema ${EMA:-0.99} --clip 1 --time-shift 3 \
    --dpo ${SETS:-/work/runs/s19/a0.safetensors,/work/runs/s19/a1.safetensors,/work/runs/s19/a2.safetensors,/work/runs/s19/a3.safetensors} \
    --dpo-beta ${BETA:-2000} --steps ${STEPS:-400} --ckpt-every 100 --keep 8 --log-every 10 --seed ${SEED:-41} --out ${OUT}
/work/runs/s20/gen_dpo train --arch mmdit --export ${OUT} -o ${OUT}.safetensors --export-f16 --sample-steps 20 --sample-shift 1 --sample-cfg 4 --sample-pag-scale 1
