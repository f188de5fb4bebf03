#!/usr/bin/env bash
# eval_g.sh NAME GUIDANCE: world-GenEval of NAME.safetensors with --guidance G (seed 0), one thread.
cd /work/runs/s20
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
./gen eval --suite eval --model $1.safetensors --guidance $2 --json --per-item -q --seed 0 > ev_$1_$2.json 2> ev_$1_$2.err
python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-28-s14/cpu_run12_dec14_$2.json ev_$1_$2.json > pe_$1_$2.txt
