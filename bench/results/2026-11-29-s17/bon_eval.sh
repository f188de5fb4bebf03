#!/bin/bash
# best-of-4 by the judge (head logit + 2 x 100 x cosine), real pipeline, seeds 0 and 1, then heldout
cd /work/runs/s17
export SILT_MODELS=/work/main/models OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
J=judge10.safetensors
(./gen_eval eval --suite eval --json --per-item -q --seed 0 --search best-of-n --n 4 --reward judge --judge $J > bon4_judge_s0.json 2> bon4_judge_s0.err;
 ./gen_eval eval --suite heldout --json --per-item -q --seed 0 --search best-of-n --n 4 --reward judge --judge $J > bon4_judge_heldout.json 2> bon4_judge_heldout.err) &
./gen_eval eval --suite eval --json --per-item -q --seed 1 --search best-of-n --n 4 --reward judge --judge $J > bon4_judge_s1.json 2> bon4_judge_s1.err
wait
echo done > bon_eval.done
