#!/usr/bin/env bash
# One on-policy DPO round of the world MMDiT (models/README.md, runs 20-21):
# the model draws labelled candidates of new train items (gen world harvest
# --all, JOBS processes of one thread, disjoint item ranges), DPO from the
# model with the model itself as the frozen reference (gen train --dpo),
# export, then world-GenEval with CFG at seeds 0 and 1, paired item by item
# with the model's own evals (tools/paired_eval.py). Ship the result only if
# both seeds gain (the paired tables say by how much).
#
# Usage: tools/dpo_round.sh DIR [MODEL]   (MODEL: default the shipped
#   models/world-dit.safetensors.zst; DIR gets the sets, the run, the
#   export DIR/round.safetensors, the evals and summary.txt)
# Env: JOBS (2), COUNT (2400 items per job; the set is saved every 256, and
#   about 45% of train items are skipped for an eval-suite caption),
#   OFFSET (7000000; job j starts at OFFSET + j x 100000: move it past the
#   last round's items), TRIES (4), WEIGHTS (position=4,counting=4,two_objects=4),
#   LR (6e-5), LR_MIN (2e-6), STEPS (900), BATCH (16 pairs), BETA (2000),
#   SEED (42), EVAL_LIMIT (0: all 504 items), DEVICE (cpu; cuda for the
#   harvest, the training and the evals on a GPU), GEN (build/gen).
# On this 2-core CPU with the defaults: harvest 47 min, DPO 26 min (one
# thread; two threads do not double it), evals 7 min each (two at once).
# Measured: rounds 1 and 2 gained ~0.04 each, round 3 ~0.01 (models/README.md).
set -eu
dir=${1:?usage: tools/dpo_round.sh DIR [MODEL]}
src=$(cd "$(dirname "$0")/.." && pwd)
model=${2:-$src/models/world-dit.safetensors.zst}
gen=$(realpath -m "${GEN:-$src/build/gen}")
[ -x "$gen" ] || { echo "dpo_round: no gen at $gen (build first, or set GEN)" >&2; exit 2; }
[ -f "$model" ] || { echo "dpo_round: no model $model" >&2; exit 2; }
model=$(realpath "$model")
# A round never writes over another's sets, run or evals.
[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || { echo "dpo_round: $dir is not empty (a round's own folder)" >&2; exit 2; }
mkdir -p "$dir"
dir=$(realpath "$dir")
cd "$dir"
export SILT_MODELS=$src/models OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
jobs=${JOBS:-2} dev=${DEVICE:-cpu} lim=${EVAL_LIMIT:-0}
T0=$(date +%s)
say() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a summary.txt; }

say "harvest: $jobs jobs x ${COUNT:-2400} items with $model"
pids=() sets=()
for ((j = 0; j < jobs; j++)); do
    "$gen" world harvest --all --model "$model" --count "${COUNT:-2400}" --offset $(( ${OFFSET:-7000000} + j * 100000 )) \
        --tries "${TRIES:-4}" --category-weights "${WEIGHTS:-position=4,counting=4,two_objects=4}" --device "$dev" \
        -q -o "set$j.safetensors" > "harvest$j.log" 2>&1 &
    pids+=($!) sets+=("$dir/set$j.safetensors")
done
for p in "${pids[@]}"; do wait "$p" || { echo "dpo_round: a harvest failed (harvest*.log)" >&2; exit 1; }; done
grep -h "^harvest:" harvest*.log | tee -a summary.txt

say "dpo: lr ${LR:-6e-5}, ${STEPS:-900} steps x ${BATCH:-16} pairs, beta ${BETA:-2000}"
"$gen" train --arch mmdit --device "$dev" --clip-model "$src/models/world-clip.safetensors.zst" \
    --ae "$src/models/world-ae.safetensors.zst" --init "$model" --size default --batch "${BATCH:-16}" \
    --lr "${LR:-6e-5}" --lr-min "${LR_MIN:-2e-6}" --warmup 20 --ema 0.99 --clip 1 --time-shift 3 \
    --dpo "$(IFS=,; echo "${sets[*]}")" --dpo-beta "${BETA:-2000}" --steps "${STEPS:-900}" --ckpt-every 100 \
    --log-every 50 --seed "${SEED:-42}" --out run > train.log 2>&1 || { echo "dpo_round: training failed (train.log)" >&2; exit 1; }
grep -h "pairs of one caption" train.log | tee -a summary.txt
"$gen" train --arch mmdit --export run -o round.safetensors --export-f16 --sample-steps 20 --sample-shift 1 \
    --sample-cfg 4 --sample-pag-scale 1 >> train.log 2>&1 || { echo "dpo_round: export failed (train.log)" >&2; exit 1; }

say "evals (CFG, seeds 0 and 1, limit $lim), paired with the starting model"
for s in 0 1; do
    pids=()
    for m in start round; do
        f=$model; [ $m = round ] && f=$dir/round.safetensors
        "$gen" eval --suite eval --model "$f" --limit "$lim" --device "$dev" --json --per-item -q --seed $s \
            > "ev_${m}_s$s.json" 2> "ev_${m}_s$s.err" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || { echo "dpo_round: an eval failed (ev_*_s$s.err)" >&2; exit 1; }; done
    python3 "$src/tools/paired_eval.py" "ev_start_s$s.json" "ev_round_s$s.json" > "paired_s$s.txt"
    sed -n 5p "paired_s$s.txt" | tee -a summary.txt
done
say "done: $dir/round.safetensors (ship: zstd -19 it to models/world-dit.safetensors.zst)"
