#!/usr/bin/env bash
# CLI contract of gen world / gen eval: a rendered eval prompt passes its own
# caption and fails a wrong one, --json is valid JSON, unknown words are named
# in a warning, and bad inputs give one error line with the documented exit
# code (1 runtime, 2 usage). Usage: test_world.sh PATH/TO/gen
set -u
gen=${1:?usage: test_world.sh GEN}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

first_word() { [ "$(head -n1 "$tmp/out" | cut -d' ' -f1)" = "$1" ]; }

# An eval prompt, rendered (upscaled to 256 px by default) and judged.
expect render 0 "$gen" world render --suite eval --index 11 -o "$tmp/a.png"
caption=$(cat "$tmp/out")
check render-caption test -n "$caption"
check render-png bash -c "head -c 8 '$tmp/a.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
check render-parameters grep -aq "$caption" "$tmp/a.png"
expect eval-pass 0 "$gen" eval --image "$tmp/a.png" --prompt "$caption"
check eval-pass-word first_word pass
check eval-pass-score grep -q 'score 1.000' "$tmp/out"
expect eval-from-chunk 0 "$gen" eval --image "$tmp/a.png"
check eval-from-chunk-pass first_word pass
expect render-again 0 "$gen" world render --suite eval --index 11 -o "$tmp/b.png"
check render-deterministic cmp -s "$tmp/a.png" "$tmp/b.png"
expect render-other 0 "$gen" world render --suite eval --index 12 -o "$tmp/c.png"
check render-index-matters bash -c "! cmp -s '$tmp/a.png' '$tmp/c.png'"

# A known scene and wrong captions: colour, count, shape, relation.
expect render-prompt 0 "$gen" world render --prompt "a red circle left of a blue square" --seed 3 --native -o "$tmp/p.png"
check render-native bash -c "[ \$(stat -c %s '$tmp/p.png') -lt 4000 ]"
expect eval-prompt 0 "$gen" eval -i "$tmp/p.png" -p "a red circle left of a blue square"
check eval-prompt-pass first_word pass
for wrong in "a green circle left of a blue square" "two red circles" "a red cross left of a blue square" \
             "a red circle right of a blue square" "a blue circle and a red square"; do
    expect "eval-wrong: $wrong" 0 "$gen" eval -i "$tmp/p.png" -p "$wrong"
    check "eval-wrong-fails: $wrong" first_word fail
done
expect render-64 0 "$gen" world render --suite heldout --index 5 --size 64 --native -o "$tmp/h.png"
expect eval-64 0 "$gen" eval -i "$tmp/h.png"
check eval-64-pass first_word pass

# JSON
expect eval-json 0 "$gen" eval -i "$tmp/a.png" -p "$caption" --json
check eval-json-valid python3 -m json.tool "$tmp/out" /dev/null
check eval-json-pass grep -q '"pass": true' "$tmp/out"
check eval-json-requirements grep -q '"requirements"' "$tmp/out"
expect prompts 0 "$gen" world prompts --suite eval
check prompts-504 bash -c "[ \$(wc -l < '$tmp/out') -eq 504 ]"
expect prompts-json 0 "$gen" world prompts --suite heldout --json
check prompts-json-valid python3 -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if len(d)==144 else 1)"

# Unknown words: a warning naming them, then judged without them.
expect eval-unknown 0 "$gen" eval -i "$tmp/p.png" -p "a shiny red circle left of a blue dragon square"
check eval-unknown-named grep -q 'shiny dragon' "$tmp/err"
check eval-unknown-pass first_word pass
expect eval-unknown-json 0 "$gen" eval -i "$tmp/p.png" -p "a shiny red circle" --json
check eval-unknown-json-list grep -q '"unknown_words": \["shiny"\]' "$tmp/out"

# Errors: one line, exit 1 for files, 2 for usage.
expect eval-missing-file 1 "$gen" eval -i "$tmp/none.png" -p "a circle"
check eval-missing-file-line one_line
head -c 300 /dev/urandom >"$tmp/junk.png"
expect eval-junk-file 1 "$gen" eval -i "$tmp/junk.png" -p "a circle"
check eval-junk-file-line one_line
expect pattern 0 "$gen" pattern -o "$tmp/rect.png" --width 64 --height 48
expect eval-not-square 1 "$gen" eval -i "$tmp/rect.png" -p "a circle"
check eval-not-square-line one_line
expect eval-no-image 2 "$gen" eval -p "a circle"
expect eval-bad-grammar 2 "$gen" eval -i "$tmp/a.png" -p "circle red a"
check eval-bad-grammar-line one_line
expect eval-no-prompt-no-chunk 2 "$gen" eval -i "$tmp/rect.png"
expect render-bad-index 2 "$gen" world render --suite eval --index 504 -o "$tmp/x.png"
expect render-bad-suite 2 "$gen" world render --suite test -o "$tmp/x.png"
expect render-bad-upscale 2 "$gen" world render --upscale 100 -o "$tmp/x.png"
expect render-too-many 2 "$gen" world render --prompt "three circles and two squares" -o "$tmp/x.png"
check render-too-many-line one_line
expect render-bad-dir 1 "$gen" world render -o "$tmp/no/such/dir/x.png"
check render-bad-dir-line one_line
expect world-no-sub 2 "$gen" world
expect world-bad-sub 2 "$gen" world paint
expect eval-help 0 "$gen" eval --help
expect render-help 0 "$gen" world render --help
check render-help-default grep -q 'default: eval' "$tmp/out"

finish
