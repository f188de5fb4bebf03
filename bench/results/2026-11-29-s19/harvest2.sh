#!/bin/bash
# More labelled candidates (data-scaling check): the same mix, new items.
cd /work/runs/s19
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
W=position=4,counting=4,two_objects=4
./gen world harvest --all --count 1024 --offset 4000000 --tries 4 --category-weights $W --batch 16 -q -o a2.safetensors > a2.log 2>&1 &
./gen world harvest --all --count 1024 --offset 5000000 --tries 4 --category-weights $W --batch 16 -q -o a3.safetensors > a3.log 2>&1
wait
echo done > harvest2.done
