#!/usr/bin/env bash
# eval_g.sh NAME GUIDANCE: world-GenEval of NAME.safetensors with --guidance G (seed 0), one thread, paired with run 20.
cd /work/runs/s21
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
./gen eval --suite eval --model $1.safetensors --guidance $2 --json --per-item -q --seed 0 > ev_$1_$2.json 2> ev_$1_$2.err
python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-29-s20/cpu_run20_d5_$2.json ev_$1_$2.json > pe_$1_$2.txt
