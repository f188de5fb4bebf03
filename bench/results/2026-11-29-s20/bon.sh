#!/usr/bin/env bash
# bon.sh NAME SEED: best-of-4 by the shipped world-judge on NAME.safetensors, one thread.
cd /work/runs/s20
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
./gen eval --suite eval --model $1.safetensors --search best-of-n --n 4 --reward judge --json --per-item -q --seed $2 > bo4_$1_s$2.json 2> bo4_$1_s$2.err
python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-29-s19/cpu_run12_bon4_judge19_s$2.json bo4_$1_s$2.json > pe_bo4_$1_s$2.txt
