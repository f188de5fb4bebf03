#!/usr/bin/env bash
# gen train: a run killed with SIGKILL after its step-20 checkpoint and
# resumed with --resume auto ends with a final checkpoint byte-identical to an
# uninterrupted run (the checkpoint holds no time stamps or paths), the CSV
# has each step once and the same (step, loss, lr, grad_norm) columns; SIGTERM
# stops gracefully with a checkpoint; --init starts a fresh run from a
# finished one's weights; bad flags exit 2.
# Usage: test_train.sh PATH/TO/gen
set -u
gen=${1:?usage: test_train.sh GEN}
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -KILL $bg 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

det_cols() { cut -d, -f1-4 "$1"; }
no_dup_steps() { [ -z "$(tail -n +2 "$1" | cut -d, -f1 | sort | uniq -d)" ]; }

args=(train --arch toy --steps 40 --ckpt-every 10 --log-every 1 --accum 2 --batch 16 --ema 0.9 --warmup 5 --seed 3)
A=$tmp/a B=$tmp/b C=$tmp/c

# 1. uninterrupted
expect full 0 "$gen" "${args[@]}" --out "$A"
check full-final test -f "$A/checkpoint_40.safetensors"
check full-latest grep -qx 'checkpoint_40.safetensors' "$A/latest"
check full-keeps-3 bash -c "[ \$(ls '$A' | grep -c '^checkpoint_') -eq 3 ] && [ ! -e '$A/checkpoint_10.safetensors' ]"
check full-csv-rows bash -c "[ \$(wc -l < '$A/train_log.csv') -eq 41 ]"
check full-csv-header grep -qx 'step,loss,lr,grad_norm,images_per_s,elapsed_s' "$A/train_log.csv"
expect info-ckpt 0 "$gen" info "$A/checkpoint_40.safetensors"
check info-step grep -q 'step = 40' "$tmp/out"
first_loss=$(awk -F, 'NR==2{print $2}' "$A/train_log.csv")

# 2. the same run, killed (SIGKILL) once checkpoint 20 exists, then resumed
"$gen" "${args[@]}" --out "$B" --step-delay-ms 100 >/dev/null 2>"$tmp/err_b" &
bg=$!
check killed-run-reached-20 wait_for "$B/checkpoint_20.safetensors"
expect concurrent-run 1 "$gen" "${args[@]}" --out "$B" --resume auto
check concurrent-run-says grep -q 'another run is training' "$tmp/err"
kill -KILL "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
rc=$?
bg=
check killed-by-sigkill test "$rc" -eq 137
check killed-mid-way test ! -e "$B/checkpoint_40.safetensors"
check killed-has-latest test -f "$B/latest"
expect resume 0 "$gen" "${args[@]}" --out "$B" --resume auto
check resume-says grep -q 'resuming from' "$tmp/err"
check resume-final-identical cmp "$A/checkpoint_40.safetensors" "$B/checkpoint_40.safetensors"
check resume-csv-no-dups no_dup_steps "$B/train_log.csv"
check resume-csv-same bash -c "diff <(cut -d, -f1-4 '$A/train_log.csv') <(cut -d, -f1-4 '$B/train_log.csv') >/dev/null"
check no-temp-files bash -c "! ls '$B' | grep -q '\.tmp\.'"

# 3. SIGTERM: the step in flight finishes, a checkpoint is written, exit 1
#    with one line; resuming finishes identically
"$gen" "${args[@]}" --out "$C" --step-delay-ms 100 >/dev/null 2>"$tmp/err_c" &
bg=$!
wait_for "$C/checkpoint_10.safetensors"
kill -TERM "$bg" 2>/dev/null
wait "$bg"
rc=$?
bg=
check sigterm-exit-1 test "$rc" -eq 1
check sigterm-says-interrupted grep -q '^gen: train: interrupted' "$tmp/err_c"
step=$(sed -n 's/^checkpoint_\([0-9]*\)\.safetensors$/\1/p' "$C/latest")
check sigterm-checkpointed test "${step:-0}" -ge 10 -a "${step:-40}" -lt 40
check sigterm-csv-to-step bash -c "[ \$(tail -n 1 '$C/train_log.csv' | cut -d, -f1) -eq ${step:-0} ]"
expect sigterm-resume 0 "$gen" "${args[@]}" --out "$C" --resume auto
check sigterm-final-identical cmp "$A/checkpoint_40.safetensors" "$C/checkpoint_40.safetensors"
check sigterm-csv-same bash -c "diff <(cut -d, -f1-4 '$A/train_log.csv') <(cut -d, -f1-4 '$C/train_log.csv') >/dev/null"

# 4. refusals and usage errors
expect fresh-into-run 1 "$gen" "${args[@]}" --out "$A"
check fresh-into-run-line one_line
# the EMA warmup (on by default) is part of the run's numbers: resuming
# without it warns that the run will not match
expect resume-other-ema-warmup 0 "$gen" "${args[@]}" --out "$tmp/w" --resume "$A/checkpoint_40.safetensors" \
    --steps 41 --ema-warmup off
check resume-other-ema-warmup-warns grep -q 'other parameters' "$tmp/err"
check ema-warmup-in-params grep -q '"ema_warmup": true' "$tmp/err"
expect resume-missing 1 "$gen" "${args[@]}" --out "$tmp/d" --resume "$tmp/none.safetensors"
check resume-missing-line one_line
# --init: a fresh run from another run's weights; a finished run's EMA
# weights, so its first loss (the same first batch) is below a fresh start's
expect init-run 0 "$gen" "${args[@]}" --out "$tmp/i" --init "$A" --steps 5
check init-says-so grep -q "starting from the weights of $A/checkpoint_40.safetensors (step 40)" "$tmp/err"
check init-loss-lower bash -c "[ \$(awk -F, 'NR==2{print (\$2 < 0.8 * $first_loss)}' '$tmp/i/train_log.csv') = 1 ]"
expect init-missing 1 "$gen" "${args[@]}" --out "$tmp/i2" --init "$tmp/none"
check init-missing-line one_line
expect init-empty 2 "$gen" train --arch toy --init "" --out "$tmp/e"
expect init-export 2 "$gen" train --arch mmdit --export "$A" --init "$A" --out "$tmp/e.safetensors"
expect unknown-arch 2 "$gen" train --arch nope --out "$tmp/e"
check unknown-arch-lists grep -q 'known: toy' "$tmp/err"
check unknown-arch-line one_line
expect no-arch 2 "$gen" train --out "$tmp/e"
expect zero-steps 2 "$gen" train --arch toy --steps 0 --out "$tmp/e"
expect bad-lr 2 "$gen" train --arch toy --lr abc --out "$tmp/e"
expect lr-min-above-lr 2 "$gen" train --arch toy --lr 0.01 --lr-min 0.1 --out "$tmp/e"
expect bad-ema 2 "$gen" train --arch toy --ema 1 --out "$tmp/e"
expect bad-ema-warmup 2 "$gen" train --arch toy --ema 0.9 --ema-warmup maybe --out "$tmp/e"
expect unknown-flag 2 "$gen" train --arch toy --frobnicate
expect resume-no-value 2 "$gen" train --arch toy --resume
check nothing-written test ! -e "$tmp/e"
expect help 0 "$gen" train --help
check help-lists-toy grep -q '^  toy ' "$tmp/out"
check help-default grep -q 'default: 1000' "$tmp/out"
expect main-help 0 "$gen" --help
check main-help-lists-train grep -q '^  train ' "$tmp/out"

finish
