#!/usr/bin/env bash
# The rest of tools/dpo_round.sh for r3 (its driver was stopped after the harvest started, to train on
# two threads and to skip re-evaluating the start, g1, whose evals exist): DPO from g1 (its own
# reference) on r3's sets, the round's recipe; export; CFG evals at seeds 0 and 1, paired with g1 and run 21.
cd /work/runs/s22/r3
while pgrep -f "harvest --all --model /work/runs/s21/g1" > /dev/null; do sleep 15; done
src=/work/main gen=/work/runs/s22/gen
export SILT_MODELS=$src/models OMP_WAIT_POLICY=PASSIVE
grep -h "^harvest:" harvest*.log | tee -a summary.txt
OMP_NUM_THREADS=2 $gen train --arch mmdit --device cpu --clip-model $src/models/world-clip.safetensors.zst \
    --ae $src/models/world-ae.safetensors.zst --init /work/runs/s21/g1.safetensors --size default --batch 16 \
    --lr 6e-5 --lr-min 2e-6 --warmup 20 --ema 0.99 --clip 1 --time-shift 3 \
    --dpo set0.safetensors,set1.safetensors --dpo-beta 2000 --steps 900 --ckpt-every 100 \
    --log-every 50 --seed 42 --out run > train.log 2>&1 || { echo "training failed"; exit 1; }
grep -h "pairs of one caption" train.log | tee -a summary.txt
$gen train --arch mmdit --export run -o round.safetensors --export-f16 --sample-steps 20 --sample-shift 1 \
    --sample-cfg 4 --sample-pag-scale 1 >> train.log 2>&1 || { echo "export failed"; exit 1; }
cd /work/runs/s22
./eval.sh /work/runs/s22/r3/round.safetensors r3 0 > r3_e0.out 2>&1 &
./eval.sh /work/runs/s22/r3/round.safetensors r3 1 > r3_e1.out 2>&1 &
wait
for s in 0 1; do python3 $src/tools/paired_eval.py $src/bench/results/2026-11-29-s21/cpu_round3_g1_s$s.json ev_r3_eval_cfg_s$s.json > pe_r3_vs_g1_s$s.txt; done
cat r3_e0.out r3_e1.out
echo done > r3.done
