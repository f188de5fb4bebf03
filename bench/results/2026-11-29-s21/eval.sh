#!/usr/bin/env bash
# eval.sh NAME SEED [SUITE]: world-GenEval of /work/runs/s21/NAME.safetensors, CFG 4, one thread, paired with run 20.
cd /work/runs/s21
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
S=${3:-eval}
./gen eval --suite $S --model $1.safetensors --json --per-item -q --seed $2 > ev_$1_${S}_s$2.json 2> ev_$1_${S}_s$2.err
R=/work/main/bench/results/2026-11-29-s20/cpu_run20_d5_$( [ $S = heldout ] && echo heldout_s0 || echo s$2).json
python3 /work/main/tools/paired_eval.py $R ev_$1_${S}_s$2.json > pe_$1_${S}_s$2.txt
