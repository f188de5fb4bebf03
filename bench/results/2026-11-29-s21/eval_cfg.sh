#!/usr/bin/env bash
# eval_cfg.sh NAME G: world-GenEval of NAME.safetensors with CFG scale G (seed 0), one thread, paired with CFG 4.
cd /work/runs/s21
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1
./gen eval --suite eval --model $1.safetensors --cfg $2 --json --per-item -q --seed 0 > ev_$1_cfg$2.json 2> ev_$1_cfg$2.err
python3 /work/main/tools/paired_eval.py ev_$1_eval_s0.json ev_$1_cfg$2.json > pe_$1_cfg$2.txt
