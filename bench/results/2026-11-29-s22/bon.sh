#!/usr/bin/env bash
# bon.sh MODEL_FILE NAME SEED: best-of-4 by the shipped world-judge, one thread, paired with run 21's.
cd /work/runs/s22
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
./gen eval --suite eval --model $1 --search best-of-n --n 4 --reward judge --json --per-item -q --seed $3 > bo4_$2_s$3.json 2> bo4_$2_s$3.err || { echo "bo4 $2 s$3 failed"; exit 1; }
python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-29-s21/cpu_run21_e1_bo4_judge_s$3.json bo4_$2_s$3.json > pe_bo4_$2_s$3.txt
sed -n 5p pe_bo4_$2_s$3.txt
