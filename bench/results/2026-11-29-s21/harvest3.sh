#!/bin/bash
# On-policy labelled candidates from run 20 (the shipped model) for a second DPO round; one core each.
cd /work/runs/s21
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
W=position=4,counting=4,two_objects=4
./gen world harvest --all --model /work/main/models/world-dit.safetensors.zst --count ${COUNT:-2400} --offset $2 --tries 4 --category-weights $W --batch 16 -q -o $1.safetensors > $1.log 2>&1
echo done > $1.done
