#!/usr/bin/env bash
# gen train --arch mmdit (tiny size, on a 2-step world-CLIP made here): the
# flow loss falls, a run killed with SIGKILL and resumed ends byte-identical
# to an uninterrupted one, --export writes a model `gen info` reads as an
# MMDiT with the sampling metadata, and bad flags or a missing text encoder
# give one error line. Usage: test_train_mmdit.sh PATH/TO/gen
set -u
gen=${1:?usage: test_train_mmdit.sh GEN}
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -KILL $bg 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
# One thread: bit-identical resumes need a fixed thread count anyway, and tiny
# steps on a busy machine are much slower with spinning OpenMP threads.
export OMP_NUM_THREADS=1

# mean of the loss column (2) over CSV rows [from, to] (1-based, header excluded)
mean_loss() { tail -n +2 "$1" | sed -n "$2,$3p" | awk -F, '{s += $2; n++} END {printf "%.6f", s / n}'; }
less_than() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }

# A world-CLIP to condition on (any trained state will do; the test checks the MMDiT).
expect clip 0 "$gen" train --arch clip --steps 2 --batch 4 --warmup 1 --out "$tmp/clip"
clip=$tmp/clip

args=(train --arch mmdit --size tiny --clip-model "$clip" --steps 40 --batch 16 --lr 1e-2 --warmup 5
      --ema 0.9 --ckpt-every 10 --log-every 1 --seed 5)
A=$tmp/a B=$tmp/b

# 1. uninterrupted; the loss falls (mean of the last 10 steps vs the first 3:
#    at init adaLN-Zero predicts 0, so the loss starts at E|noise - x0|^2 ~ 1.5)
expect full 0 "$gen" "${args[@]}" --out "$A"
check full-final test -f "$A/checkpoint_40.safetensors"
first=$(mean_loss "$A/train_log.csv" 1 3) last=$(mean_loss "$A/train_log.csv" 31 40)
check "loss-falls ($first -> $last)" less_than "$last" "$(awk -v a="$first" 'BEGIN {print 0.85 * a}')"
check loss-finite less_than "$last" 10
expect info-ckpt 0 "$gen" info "$A/checkpoint_40.safetensors"
check info-ckpt-mmdit out_has 'architecture: mmdit-diffusers'
check info-ckpt-config out_has 'num_attention_heads'

# 2. killed (SIGKILL) after its step-10 checkpoint, resumed: identical end
"$gen" "${args[@]}" --out "$B" --step-delay-ms 60 >/dev/null 2>"$tmp/err_b" &
bg=$!
# `latest` is written after the checkpoint it names: wait for it, not the checkpoint
check killed-run-reached-10 wait_for "$B/latest"
kill -KILL "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
bg=
check killed-mid-way test ! -e "$B/checkpoint_40.safetensors"
expect resume 0 "$gen" "${args[@]}" --out "$B" --resume auto
check resume-says err_has 'resuming from'
check resume-final-identical cmp "$A/checkpoint_40.safetensors" "$B/checkpoint_40.safetensors"
check resume-csv-same bash -c "diff <(cut -d, -f1-4 '$A/train_log.csv') <(cut -d, -f1-4 '$B/train_log.csv') >/dev/null"
# another size is another model: resuming into it is refused
expect resume-other-size 1 "$gen" train --arch mmdit --size small --clip-model "$clip" --steps 50 --out "$B" --resume auto
check resume-other-size-says err_has 'holds a model with config'

# 3. export: from the run directory (its latest checkpoint, EMA weights) and from a file
expect export 0 "$gen" train --arch mmdit --export "$A" -o "$tmp/m.safetensors"
check export-written test -f "$tmp/m.safetensors"
expect info-model 0 "$gen" info "$tmp/m.safetensors"
check info-mmdit out_has 'architecture: mmdit-diffusers'
check info-kind out_has 'silt.kind = world-mmdit'
check info-encoder out_has 'silt.text_encoder = world-clip'
check info-sampler out_has 'silt.sampler = flow_euler'
check info-steps out_has 'silt.steps = 20'
check info-cfg out_has 'silt.cfg = 4'
check info-train-ema out_has '"ema": true'
check info-no-adam bash -c "! grep -q adam_ '$tmp/out'"
expect export-file 0 "$gen" train --arch mmdit --export "$A/checkpoint_40.safetensors" -o "$tmp/m2.safetensors.zst" \
    --sample-steps 8 --sample-cfg 2.5
expect info-model2 0 "$gen" info "$tmp/m2.safetensors.zst"
check info2-steps out_has 'silt.steps = 8'
check info2-cfg out_has 'silt.cfg = 2.5'
expect export-f16 0 "$gen" train --arch mmdit --export "$A" -o "$tmp/m16.safetensors" --export-f16
check export-f16-smaller bash -c "[ \$(stat -c %s '$tmp/m16.safetensors') -lt \$(( \$(stat -c %s '$tmp/m.safetensors') * 6 / 10 )) ]"
expect gen-f16 0 "$gen" --prompt "a red circle" --model "$tmp/m16.safetensors" --clip "$clip/checkpoint_2.safetensors" --native --steps 2 -q -o "$tmp/f16.png"
expect export-f16-clip 2 "$gen" train --arch clip --export "$clip" -o "$tmp/x.safetensors" --export-f16
expect export-not-mmdit 1 "$gen" train --arch mmdit --export "$clip" -o "$tmp/x.safetensors"
check export-not-mmdit-line one_line
check export-not-mmdit-nothing test ! -e "$tmp/x.safetensors"

# --sample-pag-scale: the model's default --pag-scale (metadata silt.pag_scale), which a flag overrides
expect export-pag 0 "$gen" train --arch mmdit --export "$A" -o "$tmp/mpag.safetensors" --sample-pag-scale 1.5
expect info-pag 0 "$gen" info "$tmp/mpag.safetensors"
check info-pag-meta out_has 'silt.pag_scale = 1.5'
ev=(eval --suite eval --model "$tmp/mpag.safetensors" --clip "$clip/checkpoint_2.safetensors" --guidance pag --limit 1
    --steps 1 --json -q)
expect pag-default 0 "$gen" "${ev[@]}"
check pag-default-used out_has '"scale": 1.5'
expect pag-flag 0 "$gen" "${ev[@]}" --pag-scale 2
check pag-flag-wins out_has '"scale": 2,'
expect pag-none-stored 0 "$gen" eval --suite eval --model "$tmp/m.safetensors" --clip "$clip/checkpoint_2.safetensors" \
    --guidance pag --limit 1 --steps 1 --json -q
check pag-none-stored-3 out_has '"scale": 3,'
expect export-pag-var 2 "$gen" train --arch var --export "$A" -o "$tmp/x.safetensors" --sample-pag-scale 1

# --init from an exported model file (the F16 export, zstd'd: how a run goes on
# from a shipped model): its first loss, on the same first batch, is below a
# fresh start's; a model file of another size, or a checkpoint of another arch,
# is refused
zstd -q "$tmp/m16.safetensors" -o "$tmp/m16.safetensors.zst"
expect init-model-file 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/init" --init "$tmp/m16.safetensors.zst"
check init-model-file-says err_has 'starting from the weights of the model file'
init_first=$(mean_loss "$tmp/init/train_log.csv" 1 1) a_first=$(mean_loss "$A/train_log.csv" 1 1)
check "init-model-file-loss ($init_first vs $a_first)" less_than "$init_first" "$(awk -v a="$a_first" 'BEGIN {print 0.7 * a}')"
expect init-other-size 1 "$gen" train --arch mmdit --size small --clip-model "$clip" --steps 1 --out "$tmp/init2" \
    --init "$tmp/m16.safetensors.zst"
check init-other-size-names err_has 'm16.safetensors.zst: tensor'
expect init-clip-ckpt 1 "$gen" "${args[@]}" --out "$tmp/init3" --init "$clip"
check init-clip-ckpt-says err_has "holds arch .clip."

# REPA: a run with the alignment exports a model without its projector (gen
# reads it), starts from a plain model (the projector fresh), and resumes
# only with the same settings
expect repa-run 0 "$gen" "${args[@]}" --steps 4 --out "$tmp/repa" --repa 0.5
check repa-says err_has 'REPA on: weight 0.5, the image stream after block 0'
expect repa-export 0 "$gen" train --arch mmdit --export "$tmp/repa" -o "$tmp/repa.safetensors"
expect repa-export-loads 0 "$gen" --prompt "a red circle" --model "$tmp/repa.safetensors" --clip "$clip/checkpoint_2.safetensors" \
    --native --steps 2 -q -o "$tmp/repa.png"
check repa-export-same-tensors bash -c "[ \$('$gen' info '$tmp/repa.safetensors' | grep -c 'aux\.') -eq 0 ]"
expect repa-init-plain 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/repa2" --repa 0.5 --init "$tmp/m16.safetensors.zst"
check repa-init-plain-fresh err_has 'lacks 6 training-only aux'
# --init across REPA settings: the config's training-only aux_* keys aside,
# the model must match (a plain checkpoint into a REPA run and back; another
# size is still refused)
expect repa-init-plain-ckpt 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/repa4" --repa 0.5 --init "$A"
check repa-init-plain-ckpt-ema err_has "starting from the weights of $A/checkpoint_40.safetensors (step 40)"
expect repa-ckpt-into-plain 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/repa5" --init "$tmp/repa"
expect repa-ckpt-other-size 1 "$gen" train --arch mmdit --size small --clip-model "$clip" --steps 1 --out "$tmp/repa6" \
    --repa 0.5 --init "$tmp/repa"
check repa-ckpt-other-size-says err_has 'holds a model with config'
expect repa-resume-without 1 "$gen" "${args[@]}" --steps 6 --out "$tmp/repa" --resume auto
check repa-resume-without-says err_has 'aux_repa_weight'
expect repa-deep-layer 1 "$gen" "${args[@]}" --out "$tmp/repa3" --repa 0.5 --repa-layer 1
check repa-deep-layer-says err_has 'before the last'
# --relation-channel: 2 more context columns, widened from a words model
# (m16) with the new ones at zero; mmdit only, and not with --clip-only.
expect relation-init 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/rel" --init "$tmp/m16.safetensors.zst" --relation-channel
check relation-init-widened err_has "2 new input columns start at zero"
expect relation-export 0 "$gen" train --arch mmdit --export "$tmp/rel" -o "$tmp/rel.safetensors"
expect relation-gen 0 "$gen" --prompt "a red circle left of a square" --model "$tmp/rel.safetensors" --clip "$clip/checkpoint_2.safetensors" --native --steps 2 -q -o "$tmp/rel.png"
# A words run cannot start from the wider relation model: one error line (after
# the model's info line) that names the flag.
expect relation-into-words 1 "$gen" "${args[@]}" --steps 2 --out "$tmp/e2" --init "$tmp/rel.safetensors"
check relation-into-words-line bash -c "[ \$(grep -c '^gen: ' '$tmp/err') -eq 1 ]"
check relation-into-words-hint err_has "relation-channel"
expect relation-toy 2 "$gen" train --arch toy --relation-channel --out "$tmp/e"
check relation-toy-line one_line
expect relation-clip-only 2 "$gen" "${args[@]}" --out "$tmp/e" --relation-channel --clip-only
check relation-clip-only-line one_line
# --category-weights: the mix is said, kept in the config (a resume must give
# it again), and checked; the defaults given explicitly add nothing.
expect cat-weights 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/cw" --category-weights position=9,counting=0
check cat-weights-says err_has "counting 0%, colours 11%, position 47%"
expect cat-weights-resume-without 1 "$gen" "${args[@]}" --steps 3 --out "$tmp/cw" --resume auto
check cat-weights-resume-without-says err_has 'aux_category_weights'
expect cat-weights-resume 0 "$gen" "${args[@]}" --steps 3 --out "$tmp/cw" --resume auto --category-weights counting=0,position=9
expect cat-weights-default 0 "$gen" "${args[@]}" --steps 1 --out "$tmp/cw2" --category-weights position=3
check cat-weights-default-quiet bash -c "! grep -q 'captions by category' '$tmp/err'"
expect cat-weights-unknown 2 "$gen" "${args[@]}" --out "$tmp/e" --category-weights posture=3
check cat-weights-unknown-line one_line
check cat-weights-unknown-says err_has "unknown category 'posture'"
expect cat-weights-bad 2 "$gen" "${args[@]}" --out "$tmp/e" --category-weights position=-1
expect cat-weights-zero 2 "$gen" "${args[@]}" --out "$tmp/e" --category-weights single_object=0,two_objects=0,counting=0,colours=0,position=0,colour_attribution=0,background=0
check cat-weights-zero-says err_has "every weight is 0"
expect cat-weights-vq 2 "$gen" train --arch vq --size tiny --category-weights position=1 --out "$tmp/e"
expect cat-weights-export 2 "$gen" train --arch mmdit --export "$tmp/cw" --category-weights position=9 -o "$tmp/e.safetensors"
check cat-weights-export-nothing-written test ! -e "$tmp/e.safetensors"
expect pure-noise-export 2 "$gen" train --arch mmdit --export "$tmp/cw" --pure-noise 0.1 -o "$tmp/e.safetensors"
check pure-noise-export-says err_has "do not go together"
expect pure-noise 0 "$gen" "${args[@]}" --steps 2 --out "$tmp/pn" --pure-noise 0.2
check pure-noise-says err_has "20% of the training images at sigma 1"
expect pure-noise-resume-without 1 "$gen" "${args[@]}" --steps 3 --out "$tmp/pn" --resume auto
check pure-noise-resume-without-says err_has 'aux_pure_noise'
expect pure-noise-range 2 "$gen" "${args[@]}" --out "$tmp/e" --pure-noise 0.9
expect pure-noise-vq 2 "$gen" train --arch vq --size tiny --pure-noise 0.1 --out "$tmp/e"
check pure-noise-vq-says err_has "is for --arch mmdit"
expect repa-toy 2 "$gen" train --arch toy --repa 0.5 --out "$tmp/e"
expect repa-layer-alone 2 "$gen" "${args[@]}" --out "$tmp/e" --repa-layer 0
expect repa-negative 2 "$gen" "${args[@]}" --out "$tmp/e" --repa -1

# 4. usage and runtime errors
(cd "$tmp" && "$gen" train --arch mmdit --size tiny --steps 1 --out "$tmp/e" >"$tmp/out" 2>"$tmp/err")
check no-clip-exit-1 test $? -eq 1
check no-clip-line one_line
check no-clip-says err_has 'models/world-clip.safetensors.zst'
check no-clip-hint err_has '--clip-model'
expect bad-size 2 "$gen" train --arch mmdit --size huge --clip-model "$clip" --out "$tmp/e"
expect size-for-toy 1 "$gen" train --arch toy --size tiny --out "$tmp/e"
check size-for-toy-line one_line
expect clip-export 0 "$gen" train --arch clip --export "$clip" -o "$tmp/clip.safetensors.zst"
expect clip-export-loads 0 "$gen" world clip-eval --clip "$tmp/clip.safetensors.zst" --suite eval
expect clip-export-of-mmdit 1 "$gen" train --arch clip --export "$A" -o "$tmp/x.safetensors"
check clip-export-of-mmdit-line one_line
check clip-export-of-mmdit-nothing test ! -e "$tmp/x.safetensors"
expect export-no-out 2 "$gen" train --arch mmdit --export "$A"
expect sample-without-export 2 "$gen" train --arch mmdit --sample-steps 4 --clip-model "$clip" --out "$tmp/e"
check nothing-written test ! -e "$tmp/e"
expect help 0 "$gen" train --help
check help-lists-mmdit grep -q '^  mmdit ' "$tmp/out"
check help-export out_has '--export'

finish
