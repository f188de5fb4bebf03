#!/usr/bin/env bash
# eval.sh NAME SEED [SUITE]: world-GenEval of /work/runs/s20/NAME.safetensors, CFG 4, one thread.
cd /work/runs/s20
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
./gen eval --suite ${3:-eval} --model $1.safetensors --json --per-item -q --seed $2 > ev_$1_${3:-eval}_s$2.json 2> ev_$1_${3:-eval}_s$2.err
python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-28-s14/cpu_run12_dec14_$( [ "${3:-eval}" = heldout ] && echo heldout || ( [ $2 = 0 ] && echo cfg || echo cfg_seed1 )).json ev_$1_${3:-eval}_s$2.json > pe_$1_${3:-eval}_s$2.txt
