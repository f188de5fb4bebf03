#!/usr/bin/env bash
# bon.sh NAME SEED: best-of-4 by the shipped world-judge on NAME.safetensors, one thread, paired with run 20.
cd /work/runs/s21
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
./gen eval --suite eval --model $1.safetensors --search best-of-n --n 4 --reward judge --json --per-item -q --seed $2 > bo4_$1_s$2.json 2> bo4_$1_s$2.err
python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-29-s20/cpu_run20_d5_bo4_judge_s$2.json bo4_$1_s$2.json > pe_bo4_$1_s$2.txt
