#!/bin/bash
# The world-judge fine-tuned on labelled candidates: judge.sh OUT SETS STEPS [LR] [PAIRS]
cd /work/runs/s19
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=${THREADS:-2} OMP_WAIT_POLICY=PASSIVE
OUT=$1 SETS=$2 STEPS=$3 LR=${4:-3e-4} PAIRS=${5:-32}
./gen train --arch clip --init /work/main/models/world-judge.safetensors.zst --itm-layers 2 --hard-negatives 6 \
    --category-weights position=9,counting=4 --samples "$SETS" --sample-pairs $PAIRS --steps $STEPS --batch 64 \
    --lr $LR --lr-min 1e-5 --warmup 50 --ema 0.999 --clip 1 --seed 91 --log-every 50 --ckpt-every 200 --keep 2 \
    --out $OUT > $OUT.log 2>&1
./gen train --arch clip --export $OUT -o $OUT.safetensors >> $OUT.log 2>&1
echo done > $OUT.done
