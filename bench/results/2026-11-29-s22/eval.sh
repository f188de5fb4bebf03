#!/usr/bin/env bash
# eval.sh MODEL_FILE NAME SEED [SUITE] [GUIDANCE]: world-GenEval (CFG 4 unless GUIDANCE), one thread,
# paired with run 21 (the shipped model, s21's JSONs on the same noise).
cd /work/runs/s22
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
S=${4:-eval} G=${5:-cfg}
tag=${2}_${S}_${G}_s$3
./gen eval --suite $S --model $1 --guidance $G --json --per-item -q --seed $3 > ev_$tag.json 2> ev_$tag.err || { echo "eval $tag failed"; exit 1; }
B=/work/main/bench/results/2026-11-29-s21
case $S/$G/$3 in
  eval/cfg/0) R=$B/cpu_run21_e1_s0.json;; eval/cfg/1) R=$B/cpu_run21_e1_s1.json;;
  heldout/cfg/0) R=$B/cpu_run21_e1_heldout_s0.json;; eval/*/0) R=$B/cpu_run21_e1_$G.json;; *) exit 0;;
esac
python3 /work/main/tools/paired_eval.py $R ev_$tag.json > pe_$tag.txt
sed -n 5p pe_$tag.txt
