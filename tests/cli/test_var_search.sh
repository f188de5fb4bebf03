#!/usr/bin/env bash
# The world VAR from the command line and its test-time search (issue 5),
# on tiny RANDOM models (a 2-step world-CLIP, 1-step tiny tokenizer and VAR):
#  - gen --arch var --prompt with --model/--vq/--clip, and the built-in
#    lookup through $SILT_MODELS (.zst names) with its one-line error;
#    256 px by default, --native 32 px, --grid; PNG parameters;
#  - --search tts|best-of-n|importance: compute hand-checked (token-forwards
#    with CFG rows, decodes, reward and feature calls) on stderr and in the
#    PNG; TTS with N = 1 and no selection writes the plain image;
#  - gen eval --suite eval --arch var: world-GenEval with compute, a search,
#    --json, --reward-correlation;
#  - bench/claim_check_var.sh end to end on 7 prompts (3 configurations):
#    its table, its verdict line and the correlation table;
#  - bad flags: one line, exit 2.
# Usage: test_var_search.sh PATH/TO/gen
set -u
gen=${1:?usage: test_var_search.sh GEN}
gen=$(cd "$(dirname "$gen")" && pwd)/$(basename "$gen")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1
json_ok() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($1) else 1)"; }
# The pixels of a PNG (IDAT chunks), without the parameters text.
idat() { python3 - "$1" <<'EOF'
import struct, sys, zlib
b = open(sys.argv[1], 'rb').read()[8:]
data = b''
while b:
    n, t = struct.unpack('>I4s', b[:8])
    if t == b'IDAT': data += b[8:8 + n]
    b = b[12 + n:]
sys.stdout.buffer.write(zlib.decompress(data))
EOF
}
same_pixels() { [ "$(idat "$1" | md5sum)" = "$(idat "$2" | md5sum)" ]; }

mkdir -p "$tmp/models" "$tmp/empty"
expect clip-train 0 "$gen" train --arch clip --steps 2 --batch 4 --out "$tmp/clip"
expect clip-export 0 "$gen" train --arch clip --export "$tmp/clip" --out "$tmp/models/world-clip.safetensors.zst"
expect vq-train 0 "$gen" train --arch vq --size tiny --steps 1 --batch 2 --out "$tmp/vq"
expect vq-export 0 "$gen" train --arch vq --export "$tmp/vq" --out "$tmp/models/world-vq.safetensors.zst"
expect var-train 0 "$gen" train --arch var --size tiny --vq "$tmp/models/world-vq.safetensors.zst" \
    --clip-model "$tmp/models/world-clip.safetensors.zst" --steps 1 --batch 2 --out "$tmp/var"
expect var-export 0 "$gen" train --arch var --export "$tmp/var" --out "$tmp/models/world-var.safetensors.zst"
files=(--model "$tmp/models/world-var.safetensors.zst" --vq "$tmp/models/world-vq.safetensors.zst"
       --clip "$tmp/models/world-clip.safetensors.zst")
p="a red circle left of a blue square"

# 1. Plain generation.
expect plain 0 "$gen" --arch var "${files[@]}" --prompt "$p" -o "$tmp/plain.png" -q
check plain-256 png_size_is "$tmp/plain.png" 256x256
check plain-prompt png_param "$tmp/plain.png" "$p"
check plain-params png_param "$tmp/plain.png" "family: var, seed: 0, sampler: next-scale, scales: 6, guidance: cfg, cfg: 1.5"
check plain-search-none png_param "$tmp/plain.png" "search: none, compute: token-forwards 260 (1.00x plain)"
check plain-stderr err_has "token-forwards 260"
expect native 0 "$gen" --arch var "${files[@]}" --prompt "$p" --native -o "$tmp/native.png" -q
check native-32 png_size_is "$tmp/native.png" 32x32
expect grid 0 "$gen" --arch var "${files[@]}" --prompt "$p" --grid 2 -o "$tmp/grid.png" -q
check grid-wide wider_than "$tmp/grid.png" 256
check grid-compute err_has "token-forwards 520 "
# The built-in files by name, through $SILT_MODELS.
expect builtin 0 env SILT_MODELS="$tmp/models" "$gen" --arch var --prompt "$p" -o "$tmp/builtin.png" -q
check builtin-same cmp "$tmp/plain.png" "$tmp/builtin.png"
if [ ! -e "$(dirname "$gen")/../models/world-var.safetensors.zst" ]; then
    (cd "$tmp/empty" && SILT_MODELS="$tmp/empty" "$gen" --arch var --prompt "$p" -o x.png >"$tmp/out" 2>"$tmp/err")
    check builtin-missing-exit test $? -eq 1
    check builtin-missing-line one_line
    check builtin-missing-names err_has "world-var.safetensors.zst not found"
fi

# 2. Searches. TTS N=2 on 6 scales: live 16,16,12,8,4,2 (cluster at 1, 2;
# resample at 3, 4): token-forwards 2 (16 + 64 + 108 + 128 + 144 + 128) = 1176;
# decodes 16 + 12 + 8 + 4 + 2; rewards 8 + 4 + 2; features 16 + 12.
expect tts 0 "$gen" --arch var "${files[@]}" --prompt "$p" --search tts --n 2 -o "$tmp/tts.png" -q
check tts-stderr err_has "token-forwards 1176 (4.52x plain), flops .* decodes 42, reward calls 14, feature calls 28"
check tts-params png_param "$tmp/tts.png" "search: tts, n: 2, scales: 1,2:3,4, schedule: 8,6,4,2,1,1, potential: value, lambda: 10, reward: eval"
check tts-params-compute png_param "$tmp/tts.png" "token-forwards 1176"
expect tts-diff 0 "$gen" --arch var "${files[@]}" --prompt "$p" --search tts --n 1 --potential diff --lambda 3 \
    --search-scales 2:4 --schedule 4,4,2,2,1,1 --reward clip -o "$tmp/tts2.png" -q
check tts-diff-params png_param "$tmp/tts2.png" "scales: 2:4, schedule: 4,4,2,2,1,1, potential: diff, lambda: 3, reward: clip"
expect tts-plain 0 "$gen" --arch var "${files[@]}" --prompt "$p" --search tts --n 1 --search-scales : \
    --schedule 1,1,1,1,1,1 -o "$tmp/tts1.png" -q
check tts-n1-is-plain same_pixels "$tmp/tts1.png" "$tmp/plain.png"
check tts-n1-no-reward err_has "decodes 1, reward calls 0"
expect bon 0 "$gen" --arch var "${files[@]}" --prompt "$p" --search best-of-n --n 3 -o "$tmp/bon.png" -q
check bon-compute err_has "token-forwards 780 (3.00x plain), flops .* decodes 3, reward calls 3, feature calls 0"
expect imp 0 "$gen" --arch var "${files[@]}" --prompt "$p" --search importance --n 3 --lambda 0 -o "$tmp/imp.png" -q
check imp-params png_param "$tmp/imp.png" "search: importance, n: 3, lambda: 0, reward: eval"

# 3. The eval suite.
expect suite 0 "$gen" eval --suite eval --arch var "${files[@]}" --limit 3 -q
check suite-geneval out_has "world-GenEval eval: "
check suite-compute out_has "compute:           token-forwards 780 (1.00x plain)"
expect suite-bon 0 "$gen" eval --suite eval --arch var "${files[@]}" --limit 3 --search best-of-n --n 2 --json -q
check suite-bon-json json_ok "d['var']['reward_calls'] == 6 and d['var']['token_forwards'] == 1560 and d['items'] == 3"
# The judge reward (a world-CLIP file of its own) for the VAR too, in gen and the suite.
expect judge-export 0 "$gen" train --arch clip --export "$tmp/clip" --out "$tmp/judge.safetensors"
expect bon-judge 0 "$gen" --arch var "${files[@]}" --prompt "$p" --search best-of-n --n 2 --reward judge --judge "$tmp/judge.safetensors" -o "$tmp/bonj.png" -q
check bon-judge-params png_param "$tmp/bonj.png" "search: best-of-n, n: 2, reward: judge"
expect suite-bon-judge 0 "$gen" eval --suite eval --arch var "${files[@]}" --limit 2 --search best-of-n --n 2 --reward judge --judge "$tmp/judge.safetensors" --json -q
check suite-bon-judge-json json_ok "d['var']['reward_calls'] == 4 and 'reward: judge' in d['var']['search']"
expect suite-corr 0 "$gen" eval --suite eval --arch var "${files[@]}" --limit 2 --reward-correlation --n 2 -q
check suite-corr-table out_has "| 5 | 8x8 | "
check suite-corr-head out_has "2 items x 2 samples each"

# 4. Refusals: one line, exit 2.
src=$(cd "$(dirname "$0")/../.." && pwd)
(cd "$tmp" && bash "$src/bench/claim_check_var.sh" --gen "$gen" "${files[@]}" --limit 7 --only "none bon8 tts2" \
    --corr-n 2 > "$tmp/cc.md" 2> "$tmp/cc.err")
check claim-check-runs test $? -eq 0
check claim-check-json bash -c "[ \$(wc -l < '$tmp/claim_check_var.json') -eq 3 ]"
check claim-check-rows bash -c "[ \$(grep -c '^| \(no search\|best-of-N, N=8\|TTS-VAR, N=2\) |' '$tmp/cc.md') -eq 3 ]"
check claim-check-verdict grep -q "^TTS-VAR N=2 .* vs best-of-8 .*: the paper's claim \(holds\|does not hold\|is not decided\)" "$tmp/cc.md"
# a random model's final rewards are constant: undefined correlations print "-"
check claim-check-correlation grep -q '^| 5 | 8x8 | [0-9.]* | \(-\|1.000\) |' "$tmp/cc.md"
check claim-check-no-nan bash -c "! grep -qi nan '$tmp/cc.md'"

bad() {  # bad NAME ARGS...
    local name=$1; shift
    expect "$name" 2 "$gen" "$@"
    check "$name-line" one_line
}
bad bad-search --arch var "${files[@]}" --prompt "$p" --search beam
bad bad-n-alone --arch var "${files[@]}" --prompt "$p" --n 4
bad bad-scales-range --arch var "${files[@]}" --prompt "$p" --search tts --search-scales 1,9:3
bad bad-scales-last --arch var "${files[@]}" --prompt "$p" --search tts --search-scales 1:5
bad bad-scales-syntax --arch var "${files[@]}" --prompt "$p" --search tts --search-scales 1,2
bad bad-schedule-count --arch var "${files[@]}" --prompt "$p" --search tts --schedule 8,4
bad bad-schedule-shrink --arch var "${files[@]}" --prompt "$p" --search tts --search-scales 1:3 --schedule 8,6,4,2,1,1
bad bad-potential-bon --arch var "${files[@]}" --prompt "$p" --search best-of-n --potential max
bad bad-lambda-bon --arch var "${files[@]}" --prompt "$p" --search best-of-n --lambda 2
bad bad-arch --arch unet --prompt "$p"
bad bad-vq-vae --arch var "${files[@]}" --vae "$tmp/models/world-vq.safetensors.zst" --prompt "$p"
bad bad-reward-caption --arch var "${files[@]}" --prompt "red blue" --search best-of-n --n 2
bad bad-class --arch var "${files[@]}" --class 3
bad bad-corr-arch eval --suite eval --model render --reward-correlation
bad bad-search-pseudo eval --suite eval --model render --search best-of-n --n 2
expect bad-judge-missing 1 "$gen" --arch var "${files[@]}" --prompt "$p" --search best-of-n --n 2 --reward judge --judge "$tmp/none.safetensors"
check bad-judge-missing-line one_line
bad bad-corr-search eval --suite eval --arch var "${files[@]}" --reward-correlation --search tts
bad bad-suite-steps eval --suite eval --arch var "${files[@]}" --steps 4
expect mmdit-model 0 "$gen" world test-model -o "$tmp/mm.safetensors"
bad bad-search-mmdit --model "$tmp/mm.safetensors" --clip "$tmp/models/world-clip.safetensors.zst" --prompt "$p" --search tts
bad bad-arch-mismatch --arch var --model "$tmp/mm.safetensors" --vq "$tmp/models/world-vq.safetensors.zst" \
    --clip "$tmp/models/world-clip.safetensors.zst" --prompt "$p"
finish
