#!/bin/bash
# best-of-4 by a judge through the real pipeline: bon_eval.sh JUDGE TAG (seeds 0 and 1 in parallel)
cd /work/runs/s19
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
J=$1 T=$2
./gen eval --suite eval --json --per-item -q --seed 0 --search best-of-n --n 4 --reward judge --judge $J > bon4_${T}_s0.json 2> bon4_${T}_s0.err &
./gen eval --suite eval --json --per-item -q --seed 1 --search best-of-n --n 4 --reward judge --judge $J > bon4_${T}_s1.json 2> bon4_${T}_s1.err
wait
echo done > bon_${T}.done
