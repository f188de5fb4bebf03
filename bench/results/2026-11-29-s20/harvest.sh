#!/bin/bash
# More labelled candidates for DPO pairs: same mix, new items, one core.
cd /work/runs/s20
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
W=position=4,counting=4,two_objects=4
./gen world harvest --all --count 2000 --offset 6000000 --tries 4 --category-weights $W --batch 16 -q -o b0.safetensors > b0.log 2>&1
echo done > harvest.done
