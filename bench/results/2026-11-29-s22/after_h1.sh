#!/usr/bin/env bash
# Waits for h1's export, then its CFG evals at seeds 0 and 1 (two at once), paired with run 21 and g1.
cd /work/runs/s22
while [ ! -f h1.safetensors ] || pgrep -f "export /work/runs/s22/h1" > /dev/null; do sleep 20; done
sleep 5
./eval.sh /work/runs/s22/h1.safetensors h1 0 > h1_e0.out 2>&1 &
./eval.sh /work/runs/s22/h1.safetensors h1 1 > h1_e1.out 2>&1 &
wait
for s in 0 1; do python3 /work/main/tools/paired_eval.py /work/main/bench/results/2026-11-29-s21/cpu_round3_g1_s$s.json ev_h1_eval_cfg_s$s.json > pe_h1_vs_g1_s$s.txt; done
echo done > h1_evals.done
