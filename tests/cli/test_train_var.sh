#!/usr/bin/env bash
# gen train --arch vq and --arch var (tiny presets, a few steps each): the
# loss falls, a run stopped by SIGTERM after a checkpoint and resumed with
# --resume auto ends byte-identical to an uninterrupted run, --export writes
# model files that var_vq_load / var_load and `gen info` recognise, the VAR
# trains on an exported tokenizer or a tokenizer run directory, and wrong
# inputs fail with one line.
# Usage: test_train_var.sh PATH/TO/gen
set -u
gen=${1:?usage: test_train_var.sh GEN}
tmp=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -KILL $bg 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
# One thread: bit-identical resumes need the same thread count, and the
# tiny models gain nothing from more.
export OMP_NUM_THREADS=1

loss_at() { awk -F, -v s="$2" '$1 == s {print $2}' "$1/train_log.csv"; }
# resume_identical NAME ARGS...: run once whole, once stopped by SIGTERM after
# checkpoint_4 and resumed; the final checkpoints are identical.
resume_identical() {
    local name=$1; shift
    "$gen" "$@" --out "$tmp/${name}_b" --step-delay-ms 150 >/dev/null 2>"$tmp/err_b" &
    bg=$!
    wait_for "$tmp/${name}_b/checkpoint_4.safetensors"
    kill -TERM "$bg" 2>/dev/null
    wait "$bg"
    local rc=$?
    bg=
    check "$name-sigterm-exit-1" test "$rc" -eq 1
    check "$name-stopped-early" test ! -e "$tmp/${name}_b/checkpoint_12.safetensors"
    expect "$name-resume" 0 "$gen" "$@" --out "$tmp/${name}_b" --resume auto
    check "$name-resume-says" err_has 'resuming from'
    check "$name-resume-identical" cmp "$tmp/$name/checkpoint_12.safetensors" "$tmp/${name}_b/checkpoint_12.safetensors"
}

# A throwaway world-CLIP (one step) as the frozen text encoder.
expect clip 0 "$gen" train --arch clip --steps 1 --batch 2 --out "$tmp/clip"

# 1. tokenizer
vq=(train --arch vq --size tiny --steps 12 --batch 8 --lr 3e-3 --warmup 1 --log-every 1 --ckpt-every 4 --ema 0.9 --seed 2)
expect vq 0 "$gen" "${vq[@]}" --out "$tmp/vq"
check vq-final test -f "$tmp/vq/checkpoint_12.safetensors"
check vq-loss-falls falls "$tmp/vq" 0.9
resume_identical vq "${vq[@]}"
expect vq-info 0 "$gen" info "$tmp/vq/checkpoint_12.safetensors"
check vq-info-arch out_has 'architecture: vqvae-var (codebook 64 x 8, base width 8, downsample 4)'
expect vq-export 0 "$gen" train --arch vq --export "$tmp/vq" --out "$tmp/world-vq.safetensors"
# gen world vq-eval reads the run dir and the exported model alike.
expect vq-eval 0 "$gen" world vq-eval --vq "$tmp/world-vq.safetensors" --limit 7 --json
check vq-eval-json python3 -c "import json; d = json.load(open('$tmp/out')); assert d['items'] == 7 and 0 < d['psnr'] < 99 and 0 <= d['recon_pass'] <= 1 and 0 < d['codes_used'] <= d['codebook']"
cp "$tmp/out" "$tmp/vq_eval_export.json"
expect vq-eval-dir 0 "$gen" world vq-eval --vq "$tmp/vq" --limit 7 --json
check vq-eval-dir-is-export cmp -s "$tmp/out" "$tmp/vq_eval_export.json"  # the run's EMA weights, as exported
expect vq-eval-missing 1 "$gen" world vq-eval --vq "$tmp/nothing"
check vq-eval-missing-line one_line
expect vq-export-info 0 "$gen" info "$tmp/world-vq.safetensors"
check vq-export-arch out_has 'architecture: vqvae-var'
check vq-export-kind out_has 'silt.kind = world-vq'

# 2. text-conditioned VAR on the exported tokenizer
var=(train --arch var --size tiny --vq "$tmp/world-vq.safetensors" --clip-model "$tmp/clip" --steps 12 --batch 8
     --lr 3e-3 --warmup 1 --log-every 1 --ckpt-every 4 --ema 0.9 --seed 2)
expect var 0 "$gen" "${var[@]}" --out "$tmp/var"
check var-final test -f "$tmp/var/checkpoint_12.safetensors"
check var-loss-falls falls "$tmp/var" 0.85
check var-loss-starts-near-ln64 awk -v l="$(loss_at "$tmp/var" 1)" 'BEGIN {exit !(l > 3.5 && l < 4.8)}'
resume_identical var "${var[@]}"
expect var-info 0 "$gen" info "$tmp/var/checkpoint_12.safetensors"
check var-info-arch out_has 'architecture: var (depth 1, width 32, 2 heads, text-conditioned (pooled 64, tokens 64), codebook 64 x 8, 130 tokens over 6 scales)'
expect var-export 0 "$gen" train --arch var --export "$tmp/var/checkpoint_12.safetensors" --out "$tmp/world-var.safetensors"
expect var-export-info 0 "$gen" info "$tmp/world-var.safetensors"
check var-export-kind out_has 'silt.kind = world-var'
check var-export-train out_has 'silt.train = {"step": 12, "ema": true'
check var-export-no-cfg bash -c "! grep -q 'silt.cfg' '$tmp/out'"
# --sample-cfg stores gen's default CFG scale: sampling the model with it
# equals sampling the plain export with --cfg 4
expect var-export-cfg 0 "$gen" train --arch var --export "$tmp/var/checkpoint_12.safetensors" --sample-cfg 4 \
    --out "$tmp/world-var-cfg4.safetensors"
expect var-export-cfg-info 0 "$gen" info "$tmp/world-var-cfg4.safetensors"
check var-export-cfg-stored out_has 'silt.cfg = 4'
expect clip-export-for-gen 0 "$gen" train --arch clip --export "$tmp/clip" --out "$tmp/clip.safetensors"
vgen=(--arch var --vq "$tmp/world-vq.safetensors" --clip "$tmp/clip.safetensors" --prompt "a red circle" --native -q)
expect var-gen-meta-cfg 0 "$gen" "${vgen[@]}" --model "$tmp/world-var-cfg4.safetensors" -o "$tmp/v_meta.png"
expect var-gen-flag-cfg 0 "$gen" "${vgen[@]}" --model "$tmp/world-var.safetensors" --cfg 4 -o "$tmp/v_flag.png"
expect var-gen-default-cfg 0 "$gen" "${vgen[@]}" --model "$tmp/world-var.safetensors" -o "$tmp/v_default.png"
check var-meta-cfg-is-default python3 -c "
import sys, zlib, struct
def px(f):
    b = open(f, 'rb').read()[8:]; d = b''
    while b:
        n, t = struct.unpack('>I4s', b[:8])
        if t == b'IDAT': d += b[8:8 + n]
        b = b[12 + n:]
    return zlib.decompress(d)
sys.exit(0 if px('$tmp/v_meta.png') == px('$tmp/v_flag.png') != px('$tmp/v_default.png') else 1)"
expect var-export-steps-refused 2 "$gen" train --arch var --export "$tmp/var" --sample-steps 10 --out "$tmp/x.safetensors"
check var-export-steps-refused-line one_line
# A tokenizer run directory works as --vq too (its latest checkpoint, EMA weights).
expect var-on-vq-dir 0 "$gen" train --arch var --size tiny --vq "$tmp/vq" --clip-model "$tmp/clip" --steps 1 --batch 2 --out "$tmp/var_dir"

# 3. refusals: one line each
expect var-no-vq 1 "$gen" train --arch var --size tiny --vq "$tmp/none.safetensors" --clip-model "$tmp/clip" --steps 1 --out "$tmp/e"
check var-no-vq-line one_line
check var-no-vq-says err_has 'pass --vq'
expect var-vq-not-tokenizer 1 "$gen" train --arch var --size tiny --vq "$tmp/clip" --clip-model "$tmp/clip" --steps 1 --out "$tmp/e"
check var-vq-not-tokenizer-says err_has 'not a VAR VQ-VAE'
expect vq-with-clip 1 "$gen" train --arch vq --size tiny --clip-model "$tmp/clip" --steps 1 --out "$tmp/e"
check vq-with-clip-line one_line
expect var-resume-other-size 1 "$gen" train --arch var --size small --vq "$tmp/world-vq.safetensors" --clip-model "$tmp/clip" --steps 20 --out "$tmp/var" --resume auto
check var-resume-other-size-says err_has 'holds a model with config'
expect var-export-wrong-arch 1 "$gen" train --arch var --export "$tmp/vq" --out "$tmp/x.safetensors"
check var-export-wrong-arch-says err_has 'not a `gen train --arch var` checkpoint'
expect help 0 "$gen" train --help
check help-lists-vq grep -q '^  vq ' "$tmp/out"
check help-lists-var grep -q '^  var ' "$tmp/out"

finish
