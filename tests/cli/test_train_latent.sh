#!/usr/bin/env bash
# gen train --arch ae (the world autoencoder) and --arch mmdit --ae (the
# latent world MMDiT), tiny presets: the ae loss falls, a run stopped by
# SIGTERM after a checkpoint and resumed ends byte-identical, --export writes
# a world-ae file with its latent normalisation, `gen world vq-eval --ae`
# reads it; --decoder-only keeps the latent numbers and a latent MMDiT takes
# its export as the same latent; a latent MMDiT trains on it, exports with silt.latent, and `gen
# --prompt` decodes through it (given with --vae or found as the built-in
# world-ae); a resume with another autoencoder, a tokenizer given as the
# autoencoder, and misplaced flags fail with one line.
# Usage: test_train_latent.sh PATH/TO/gen
set -u
gen=${1:?usage: test_train_latent.sh GEN}
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -KILL $bg 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1


expect clip 0 "$gen" train --arch clip --steps 1 --batch 2 --out "$tmp/clip"

# 1. the autoencoder: trains, resumes exactly, exports
ae=(train --arch ae --size tiny --steps 40 --batch 16 --lr 5e-3 --warmup 2 --log-every 1 --ckpt-every 10 --ema 0.9
    --weight-decay 0 --seed 2)
expect ae 0 "$gen" "${ae[@]}" --out "$tmp/ae"
check ae-loss-falls falls "$tmp/ae" 0.85
"$gen" "${ae[@]}" --out "$tmp/ae_b" --step-delay-ms 100 >/dev/null 2>"$tmp/err_b" &
bg=$!
wait_for "$tmp/ae_b/checkpoint_10.safetensors"
kill -TERM "$bg" 2>/dev/null
wait "$bg"
rc=$?
bg=
check ae-sigterm-exit-1 test "$rc" -eq 1
expect ae-resume 0 "$gen" "${ae[@]}" --out "$tmp/ae_b" --resume auto
check ae-resume-identical cmp "$tmp/ae/checkpoint_40.safetensors" "$tmp/ae_b/checkpoint_40.safetensors"
mkdir -p "$tmp/models"
expect ae-export 0 "$gen" train --arch ae --export "$tmp/ae" --out "$tmp/models/world-ae.safetensors.zst"
expect ae-info 0 "$gen" info "$tmp/models/world-ae.safetensors.zst"
check ae-info-kind out_has 'silt.kind = world-ae'
check ae-info-scale out_has 'silt.latent_scale = '
check ae-info-shift out_has 'silt.latent_shift = '
expect ae-eval 0 "$gen" world vq-eval --ae "$tmp/models/world-ae.safetensors.zst" --limit 5 --json
check ae-eval-json python3 -c "import json; d = json.load(open('$tmp/out')); assert d['items'] == 5 and 0 < d['psnr'] < 99 and 0 <= d['recon_pass'] <= 1 and 'codes_used' not in d"
mkdir -p "$tmp/dump"
expect ae-eval-dump 0 "$gen" world vq-eval --ae "$tmp/ae" --limit 3 --dump "$tmp/dump"
check ae-eval-dump-files test "$(ls "$tmp/dump" | wc -l)" -eq 3
check ae-eval-dump-png png_size_is "$tmp/dump/002.png" 32x32
check ae-eval-dump-caption bash -c "grep -aq -e 'reconstruction: pass' -e 'reconstruction: fail' '$tmp/dump/000.png'"
# gen eval --image reads the caption from the dump's first parameter line,
# with no verdict word in it to warn about.
expect ae-eval-dump-judged 0 "$gen" eval --image "$tmp/dump/000.png" --json
check ae-eval-dump-judged-prompt python3 -c "import json; d = json.load(open('$tmp/out')); assert d['unknown_words'] == [] and d['prompt'] == 'a cross', d"
expect ae-eval-both 2 "$gen" world vq-eval --ae "$tmp/ae" --vq "$tmp/ae" --limit 1
expect ae-with-clip 1 "$gen" train --arch ae --size tiny --clip-model "$tmp/clip" --steps 1 --out "$tmp/e"
check ae-with-clip-line one_line
# A warm start from a tokenizer run (tiny, one step)
expect vq 0 "$gen" train --arch vq --size tiny --steps 1 --batch 2 --out "$tmp/vq"
expect ae-warm 0 "$gen" train --arch ae --size tiny --vq "$tmp/vq" --steps 1 --batch 2 --out "$tmp/ae_warm"
check ae-warm-says err_has 'initialised from'
expect ae-warm-wrong-size 1 "$gen" train --arch ae --size small --vq "$tmp/vq" --steps 1 --out "$tmp/e"
check ae-warm-wrong-size-line one_line
# Decoder-only from the exported autoencoder (weight decay on): the export's
# latent numbers are the start's, a resume must keep the flag, and it needs
# a start and the ae arch (usage errors).
dec=(train --arch ae --size tiny --vq "$tmp/models/world-ae.safetensors.zst" --steps 3 --batch 4 --weight-decay 0.1
     --ema 0.9 --ckpt-every 1 --keep 0 --out "$tmp/ae_dec")
expect ae-dec 0 "$gen" "${dec[@]}" --decoder-only
check ae-dec-says err_has 'decoder only'
expect ae-dec-export 0 "$gen" train --arch ae --export "$tmp/ae_dec" --out "$tmp/ae_dec.safetensors"
"$gen" info "$tmp/models/world-ae.safetensors.zst" | grep 'silt.latent_s' >"$tmp/numbers_start"
"$gen" info "$tmp/ae_dec.safetensors" | grep 'silt.latent_s' >"$tmp/numbers_dec"
check ae-dec-same-numbers bash -c "test \$(wc -l <'$tmp/numbers_start') -eq 2 && cmp '$tmp/numbers_start' '$tmp/numbers_dec'"
expect ae-dec-resume-plain 1 "$gen" "${dec[@]}" --steps 4 --resume auto
check ae-dec-resume-plain-says err_has "holds a model with config"
expect ae-dec-resume 0 "$gen" "${dec[@]}" --steps 4 --resume auto --decoder-only
# --object-weight: a training-only key a resume must match; ae only.
expect ae-ow 0 "$gen" "${dec[@]/ae_dec/ae_ow}" --decoder-only --object-weight 4
check ae-ow-says err_has 'weigh 5 times'
expect ae-ow-resume-plain 1 "$gen" "${dec[@]/ae_dec/ae_ow}" --steps 4 --resume auto --decoder-only
check ae-ow-resume-plain-says err_has "holds a model with config"
expect ae-ow-not-ae 2 "$gen" train --arch vq --size tiny --object-weight 1 --steps 1 --out "$tmp/e"
check ae-ow-not-ae-says err_has "is for --arch ae"
expect ae-ow-export 2 "$gen" train --arch ae --export "$tmp/ae_ow" --object-weight 4 --out "$tmp/e.safetensors"
check ae-ow-export-line one_line
expect ae-ow-range 2 "$gen" "${dec[@]/ae_dec/e}" --object-weight -1
expect ae-dec-no-start 2 "$gen" train --arch ae --size tiny --decoder-only --steps 1 --out "$tmp/e"
check ae-dec-no-start-says err_has "start from a trained one"
expect ae-dec-not-ae 2 "$gen" train --arch vq --size tiny --decoder-only --steps 1 --out "$tmp/e"
check ae-dec-not-ae-line one_line
expect ae-dec-export-flag 2 "$gen" train --arch ae --export "$tmp/ae_dec" --decoder-only --out "$tmp/e.safetensors"
check ae-dec-export-flag-nothing-written test ! -e "$tmp/e.safetensors"

# 2. the latent MMDiT
mm=(train --arch mmdit --size tiny --clip-model "$tmp/clip" --ae "$tmp/models/world-ae.safetensors.zst" --steps 16
    --batch 8 --lr 1e-2 --warmup 2 --log-every 1 --ckpt-every 8 --ema 0.9 --seed 3)
expect mm 0 "$gen" "${mm[@]}" --out "$tmp/mm"
check mm-loss-falls falls "$tmp/mm" 0.9
check mm-says-latent err_has 'latent of'
expect mm-export 0 "$gen" train --arch mmdit --export "$tmp/mm" --out "$tmp/mm.safetensors"
expect mm-info 0 "$gen" info "$tmp/mm.safetensors"
check mm-info-latent out_has 'silt.latent = world-ae'
check mm-info-channels out_has '8 latent channels'
expect gen-vae 0 "$gen" --model "$tmp/mm.safetensors" --clip "$tmp/clip/checkpoint_1.safetensors" \
    --vae "$tmp/models/world-ae.safetensors.zst" --prompt "a red circle" --native --steps 3 -q -o "$tmp/a.png"
check gen-vae-size png_size_is "$tmp/a.png" 32x32
# the built-in world-ae, found through $SILT_MODELS; the same pixels
expect gen-builtin-ae 0 env SILT_MODELS="$tmp/models" "$gen" --model "$tmp/mm.safetensors" \
    --clip "$tmp/clip/checkpoint_1.safetensors" --prompt "a red circle" --native --steps 3 -q -o "$tmp/b.png"
check gen-builtin-same-pixels bash -c "python3 - '$tmp/a.png' '$tmp/b.png' <<'EOF'
import sys, zlib
def idat(p):
    b = open(p, 'rb').read(); i = 8; out = b''
    while i < len(b):
        n = int.from_bytes(b[i:i+4], 'big'); t = b[i+4:i+8]
        if t == b'IDAT': out += b[i+8:i+8+n]
        i += 12 + n
    return zlib.decompress(out)
sys.exit(0 if idat(sys.argv[1]) == idat(sys.argv[2]) else 1)
EOF"
# no world-ae anywhere gen looks ($SILT_MODELS, <gen>/../models, ./models): a
# copy of gen in a folder without models, run from there
mkdir -p "$tmp/bare/bin" && cp "$gen" "$tmp/bare/bin/gen"
(cd "$tmp/bare" && env SILT_MODELS="$tmp/nowhere" "$tmp/bare/bin/gen" --model "$tmp/mm.safetensors" \
    --clip "$tmp/clip/checkpoint_1.safetensors" --prompt "a red circle" --native --steps 3 -q -o "$tmp/c.png" \
    >"$tmp/out" 2>"$tmp/err")
check gen-no-ae-exit-1 test $? -eq 1
check gen-no-ae-line one_line
check gen-no-ae-names err_has 'world-ae.safetensors.zst'
# a world-ae of another width (--vae): refused, naming both widths
expect ae-other-width 0 "$gen" train --arch ae --size small --steps 1 --batch 2 --out "$tmp/ae_small"
expect ae-other-width-export 0 "$gen" train --arch ae --export "$tmp/ae_small" --out "$tmp/ae_small.safetensors"
expect gen-ae-other-width 2 "$gen" --model "$tmp/mm.safetensors" --clip "$tmp/clip/checkpoint_1.safetensors" \
    --vae "$tmp/ae_small.safetensors" --prompt "a red circle" --native --steps 3 -q -o "$tmp/c.png"
check gen-ae-other-width-says err_has "16-channel latent"
expect gen-vq-as-ae 2 "$gen" --model "$tmp/mm.safetensors" --clip "$tmp/clip/checkpoint_1.safetensors" \
    --vae "$tmp/vq/checkpoint_1.safetensors" --prompt "a red circle" --native --steps 3 -q -o "$tmp/c.png"
check gen-vq-as-ae-line one_line
check nothing-written test ! -e "$tmp/c.png"
# a tokenizer is not an autoencoder to train in
expect mm-vq-as-ae 1 "$gen" train --arch mmdit --size tiny --clip-model "$tmp/clip" --ae "$tmp/vq/checkpoint_1.safetensors" \
    --steps 1 --out "$tmp/e"
check mm-vq-as-ae-line one_line
# resuming a latent run with another autoencoder is refused (its config records the latent)
expect ae2-export 0 "$gen" train --arch ae --export "$tmp/ae_warm" --out "$tmp/ae2.safetensors"
expect mm-resume-other-ae 1 "$gen" train --arch mmdit --size tiny --clip-model "$tmp/clip" --ae "$tmp/ae2.safetensors" \
    --steps 20 --out "$tmp/mm" --resume auto
check mm-resume-other-ae-says err_has "holds a model with config"
# an exported model of another latent starts a run (same shapes) with a warning naming both
expect mm-init-other-ae 0 "$gen" train --arch mmdit --size tiny --clip-model "$tmp/clip" --ae "$tmp/ae2.safetensors" \
    --init "$tmp/mm.safetensors" --steps 1 --batch 2 --out "$tmp/mm_init"
check mm-init-other-ae-warns err_has "was trained on another latent"
expect mm-init-same-ae 0 "$gen" train --arch mmdit --size tiny --clip-model "$tmp/clip" \
    --ae "$tmp/models/world-ae.safetensors.zst" --init "$tmp/mm.safetensors" --steps 1 --batch 2 --out "$tmp/mm_init2"
check mm-init-same-ae-quiet bash -c "! grep -q 'another latent' '$tmp/err'"
# the decoder-only autoencoder is the same latent to the MMDiT
expect mm-init-dec-ae 0 "$gen" train --arch mmdit --size tiny --clip-model "$tmp/clip" \
    --ae "$tmp/ae_dec.safetensors" --init "$tmp/mm.safetensors" --steps 1 --batch 2 --out "$tmp/mm_init3"
check mm-init-dec-ae-quiet bash -c "! grep -q 'another latent' '$tmp/err'"
# a latent model given to a pixel run: the warning names both spaces, then
# the patch embedding's shapes refuse it in one line (nothing trained)
expect mm-init-latent-into-pixels 1 "$gen" train --arch mmdit --size tiny --clip-model "$tmp/clip" \
    --init "$tmp/mm.safetensors" --steps 1 --batch 2 --out "$tmp/mm_init4"
check mm-init-latent-into-pixels-warns err_has "was trained in a latent, this run trains in pixels"
check mm-init-latent-into-pixels-nothing test ! -e "$tmp/mm_init4/checkpoint_1.safetensors"
# a patch that divides 32 px but not the 8 x 8 latent is a usage error, before anything loads
expect mm-latent-patch 2 "$gen" train --arch mmdit --size 16:32:2:1 --clip-model "$tmp/clip" --ae "$tmp/ae2.safetensors" \
    --steps 1 --out "$tmp/e"
check mm-latent-patch-says err_has "patch dividing 8"
expect mm-latent-patch-2 0 "$gen" train --arch mmdit --size 2:32:2:1 --clip-model "$tmp/clip" --ae "$tmp/ae2.safetensors" \
    --steps 1 --batch 2 --out "$tmp/mm_p2"
expect ae-for-var 1 "$gen" train --arch var --size tiny --ae "$tmp/ae2.safetensors" --steps 1 --out "$tmp/e"
check ae-for-var-line one_line
expect help 0 "$gen" train --help
check help-lists-ae grep -q '^  ae ' "$tmp/out"
check help-ae-flag out_has '--ae PATH'

finish
