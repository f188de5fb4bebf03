#!/bin/bash
# Labelled candidates for the judge: every candidate with its verdict.
cd /work/runs/s19
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
cp /work/main/build-cpu/gen ./gen
W=position=4,counting=4,two_objects=4
./gen world harvest --all --count 2000 --offset 2000000 --tries 4 --category-weights $W --batch 16 -q -o a0.safetensors > a0.log 2>&1 &
./gen world harvest --all --count 2000 --offset 3000000 --tries 4 --category-weights $W --batch 16 -q -o a1.safetensors > a1.log 2>&1
wait
echo done > harvest.done
