#!/usr/bin/env bash
# Export a run's EMA weights and evaluate: eval seeds 0 and 1 (in parallel), then heldout; paired against run 12.
R=${1:?run dir}; N=${2:?name}
cd /work/main
G=build-cpu/gen
$G train --arch mmdit --export "$R" -o /work/runs/s18/$N.safetensors --export-f16 --sample-steps 20 --sample-shift 1 \
    --sample-cfg 4 --sample-pag-scale 1 > /work/runs/s18/$N.export.log 2>&1 || { echo export failed; exit 1; }
for s in 0 1; do
    OMP_NUM_THREADS=1 $G eval --suite eval --model /work/runs/s18/$N.safetensors --json --per-item -q --seed $s > /work/runs/s18/${N}_s$s.json &
done
wait
OMP_NUM_THREADS=2 $G eval --suite heldout --model /work/runs/s18/$N.safetensors --json --per-item -q > /work/runs/s18/${N}_heldout.json
B=bench/results/2026-11-28-s14
for s in 0 1; do
    b=$B/cpu_run12_dec14_cfg.json; [ $s = 1 ] && b=$B/cpu_run12_dec14_cfg_seed1.json
    echo "seed $s:"; python3 tools/paired_eval.py $b /work/runs/s18/${N}_s$s.json | tail -12
done
echo heldout:; python3 tools/paired_eval.py $B/cpu_run12_dec14_heldout.json /work/runs/s18/${N}_heldout.json | tail -12
