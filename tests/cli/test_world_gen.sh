#!/usr/bin/env bash
# World generation and world-GenEval from the command line (issue 4):
#  - gen eval --suite with the pseudo-models (no trained model needed): the
#    renderer's own images score world-GenEval 1 in every category with
#    world-FD ~0; noise and shuffled (wrong) images score low; --json parses;
#  - a tiny RANDOM world MMDiT (gen world test-model) with a 2-step world-CLIP
#    checkpoint (gen train --arch clip): gen --prompt writes a 256 px PNG whose
#    parameters record prompt, seed, steps, guidance and model; --native 32 px;
#    --grid 4; softpag/pag/none guidance with --heads; unknown words warned;
#    gen eval --suite runs on it, batched or not, with the same result;
#    best-of-n with a world-judge (gen train --arch clip --hard-negatives,
#    --itm-layers: a judge head, its resume and --init) or world-CLIP, n 1
#    equal to the plain image; a
#    `gen train --arch mmdit` checkpoint and its export generate alike;
#    gen world harvest (counts, file, errors, --all) and gen train --samples (a set
#    trains and resumes exactly; errors);
#  - the built-in lookup ($SILT_MODELS, <gen>/../models, ./models) and its
#    one-line error; bad flags give one-line errors with exit 2.
# Usage: test_world_gen.sh PATH/TO/gen
set -u
gen=${1:?usage: test_world_gen.sh GEN}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
# The pixels of two PNGs (their IDAT streams; the parameters chunks differ).
idat() { python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read(); i = 8; out = b''
while i < len(d):
    n = struct.unpack('>I', d[i:i + 4])[0]
    if d[i + 4:i + 8] == b'IDAT': out += d[i + 8:i + 8 + n]
    i += 12 + n
sys.stdout.buffer.write(out)" "$1"; }
same_pixels() { local a b; a=$(idat "$1" | od -An -tx1) && b=$(idat "$2" | od -An -tx1) && [ -n "$a" ] && [ "$a" = "$b" ]; }
not_same_pixels() { ! same_pixels "$1" "$2"; }
json_ok() { python3 -c "import json,sys; d=json.load(open('$tmp/out')); sys.exit(0 if ($1) else 1)"; }
cats="single_object two_objects counting colours position colour_attribution background"

expect clip-train 0 "$gen" train --arch clip --steps 2 --batch 4 --out "$tmp/clip"
clip=$tmp/clip/checkpoint_2.safetensors
check clip-ckpt test -f "$clip"

# 1. The harness on the renderer's own images, then on wrong ones.
expect render-suite 0 "$gen" eval --suite eval --model render --limit 14 --clip "$clip" -q
check render-geneval-1 out_has "world-GenEval eval: 1.0000  (14/14"
for c in $cats; do check "render-$c" grep -Eq "^  $c +1\.0000  \(n 2\)" "$tmp/out"; done
check render-soft-1 out_has "soft score:        1.0000"
check render-fd-0 out_has "world-FD:          0.0000"
check render-clip-score out_has "world-CLIP score:"
expect render-json 0 "$gen" eval --suite eval --model render --limit 14 --clip "$clip" --json -q
check render-json-parses json_ok "d['geneval'] == 1.0 and d['items'] == 14 and len(d['categories']) == 7 and d['fd'] < 1e-6 and all(v['pass_rate'] == 1.0 and v['n'] == 2 for v in d['categories'].values())"
check render-json-clip json_ok "isinstance(d['clip_score'], float) and d['source'] == 'render'"
expect noise-suite 0 "$gen" eval --suite eval --model noise --limit 14 --clip "$clip" --json -q
check noise-low json_ok "d['geneval'] == 0 and d['soft_score'] < 0.2 and d['fd'] > 0.01"
expect shuffled-suite 0 "$gen" eval --suite eval --model shuffled --limit 14 --clip "$clip" --json -q
check shuffled-low json_ok "d['geneval'] < 0.3"
# Per-item verdicts pair two runs (tools/paired_eval.py): the render passes
# every item, the shuffled renders fail most; the verdicts add up to the totals.
expect render-per-item 0 "$gen" eval --suite eval --model render --limit 14 --clip "$clip" --json --per-item -q
cp "$tmp/out" "$tmp/render.json"
check render-per-item-json json_ok "len(d['per_item']) == 14 and all(v['pass'] and v['soft'] == 1 for v in d['per_item']) and abs(sum(v['clip_cos'] for v in d['per_item']) / 14 * 100 - d['clip_score']) < 1e-3 and [v['index'] for v in d['per_item']] == list(range(14))"
expect shuffled-per-item 0 "$gen" eval --suite eval --model shuffled --limit 14 --clip "$clip" --json --per-item -q
cp "$tmp/out" "$tmp/shuffled.json"
check shuffled-per-item-sums json_ok "sum(v['pass'] for v in d['per_item']) == d['passed'] < 14 and abs(sum(v['soft'] for v in d['per_item']) / 14 - d['soft_score']) < 1e-5"
# --dump: each judged image, with its caption on the first parameter line, so
# that gen eval --image gives each the same verdict again.
mkdir -p "$tmp/dump"
expect shuffled-dump 0 "$gen" eval --suite eval --model shuffled --limit 6 --clip "$clip" --json --per-item -q --dump "$tmp/dump"
cp "$tmp/out" "$tmp/dump.json"
check shuffled-dump-files test "$(ls "$tmp/dump" | wc -l)" -eq 6
check shuffled-dump-rejudged bash -c "for i in 0 1 2 3 4 5; do '$gen' eval --image '$tmp/dump/00'\$i.png --json; done > '$tmp/rejudged'"
check shuffled-dump-same python3 -c "
import json
d = json.load(open('$tmp/dump.json'))
text = open('$tmp/rejudged').read()
dec = json.JSONDecoder(); pos = 0; got = []
while pos < len(text.rstrip()):
    o, pos = dec.raw_decode(text, pos); got.append(o); pos += 1
assert [g['pass'] for g in got] == [v['pass'] for v in d['per_item']], got
assert all(g['unknown_words'] == [] for g in got) and any(not g['pass'] for g in got)"
expect dump-missing 2 "$gen" eval --suite eval --model render --limit 1 --dump "$tmp/no_such_dir"
check dump-missing-says err_has "not an existing folder"
expect paired 0 python3 "$(dirname "$0")/../../tools/paired_eval.py" "$tmp/render.json" "$tmp/shuffled.json" --json
check paired-counts json_ok "(lambda o: o['both'] + o['only_a'] == 14 and o['only_b'] == 0 and o['neither'] == 0 and abs(o['p_mcnemar'] - min(1, 2 * 0.5 ** o['only_a'])) < 1e-12)(d['overall']) and sum(c['items'] for c in d['categories'].values()) == 14"
expect render-per-item-13 0 "$gen" eval --suite eval --model render --limit 13 --clip "$clip" --json --per-item -q
cp "$tmp/out" "$tmp/render13.json"
expect paired-unmatched 2 python3 "$(dirname "$0")/../../tools/paired_eval.py" "$tmp/render.json" "$tmp/render13.json"
check paired-unmatched-says err_has "paired_eval: the runs judged other items"
expect per-item-text 0 "$gen" eval --suite eval --model render --limit 2 --clip "$clip" --per-item -q
check per-item-text-rows out_has "    1  two_objects        pass  soft 1.000"
expect per-item-corr 2 "$gen" eval --suite eval --arch var --reward-correlation --per-item
check per-item-corr-line one_line
expect heldout-render 0 "$gen" eval --suite heldout --model render --limit 12 --clip "$clip" --json -q
check heldout-six-categories json_ok "d['geneval'] == 1.0 and 'single_object' not in d['categories'] and len(d['categories']) == 6"
# No world-CLIP anywhere: a copy of gen away from the repo's models/ (the
# lookup also tries <folder of gen>/../models and ./models), run from $tmp.
mkdir -p "$tmp/bin" && cp "$gen" "$tmp/bin/gen"
expect render-no-clip 0 env -C "$tmp" SILT_MODELS="$tmp/none" "$tmp/bin/gen" eval --suite eval --model render --limit 3 -q
check render-no-clip-warns err_has "world-FD skipped"
check render-no-clip-na out_has "world-FD:          n/a"

# 2. A tiny random world MMDiT.
model=$tmp/world.safetensors
expect test-model 0 "$gen" world test-model -o "$model"
prompt="a red circle left of a blue square"
m=(--model "$model" --clip "$clip" -q)
expect gen-prompt 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 -o "$tmp/a.png"
check gen-256 png_size_is "$tmp/a.png" 256x256
check gen-param-prompt png_param "$tmp/a.png" "$prompt"
check gen-param-model png_param "$tmp/a.png" "model: world.safetensors"
check gen-param-seed png_param "$tmp/a.png" "seed: 5,"
check gen-param-steps png_param "$tmp/a.png" "steps: 4,"  # the metadata's silt.steps
check gen-param-guidance png_param "$tmp/a.png" "guidance: cfg, cfg: 4"
check gen-not-constant png_not_constant "$tmp/a.png"
expect gen-eval-reads-back 0 "$gen" eval --image "$tmp/a.png" --json
check gen-eval-prompt grep -q "\"prompt\": \"$prompt\"" "$tmp/out"
expect gen-again 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 -o "$tmp/b.png"
check gen-deterministic cmp -s "$tmp/a.png" "$tmp/b.png"
expect gen-seed 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 6 -o "$tmp/c.png"
check gen-seed-matters differs "$tmp/a.png" "$tmp/c.png"
expect gen-native 0 "$gen" --prompt "$prompt" "${m[@]}" --native -o "$tmp/n.png"
check gen-native-32 png_size_is "$tmp/n.png" 32x32
expect gen-grid 0 "$gen" --prompt "$prompt" "${m[@]}" --grid 4 -o "$tmp/g.png"
check gen-grid-wide wider_than "$tmp/g.png" 511
check gen-grid-param png_param "$tmp/g.png" "grid 4: Philox streams 0..3"
for mode in none pag softpag; do
    expect "gen-$mode" 0 "$gen" --prompt "$prompt" "${m[@]}" --guidance $mode --steps 2 -o "$tmp/$mode.png"
    check "gen-$mode-param" png_param "$tmp/$mode.png" "guidance: $mode"
done
# A CFG window: 4 steps with CFG on steps 2..3 only = 4 cond + 2 uncond rows;
# the image differs from full CFG's and the window is recorded.
expect gen-cfg-full 0 "$gen" --prompt "$prompt" "${m[@]}" --steps 4 -o "$tmp/cf.png"
check gen-cfg-full-rows err_has "(.*, cfg, 8 model evaluations"
expect gen-cfg-window 0 "$gen" --prompt "$prompt" "${m[@]}" --steps 4 --cfg-start 0.5 -o "$tmp/cw.png"
check gen-cfg-window-rows err_has "(.*, cfg, 6 model evaluations"
check gen-cfg-window-param png_param "$tmp/cw.png" "cfg-window: 0.5-1"
check gen-cfg-window-matters differs "$tmp/cw.png" "$tmp/cf.png"
expect gen-cfg-window-bad 2 "$gen" --prompt "$prompt" "${m[@]}" --cfg-start 0.6 --cfg-stop 0.6 -o "$tmp/x.png"
check gen-cfg-window-bad-says err_has "cfg-start 0.6 must be below --cfg-stop 0.6"
expect gen-softpag-heads 0 "$gen" --prompt "$prompt" "${m[@]}" --guidance softpag --heads 1:0,0:1:0.3 --steps 2 -o "$tmp/sh.png"
check gen-softpag-heads-param png_param "$tmp/sh.png" "heads: 0:1:0.3,1:0"
check gen-heads-matter differs "$tmp/sh.png" "$tmp/softpag.png"
expect gen-unknown 0 "$gen" --prompt "a shiny red circle near a dragon" "${m[@]}" --steps 1 -o "$tmp/u.png"
check gen-unknown-warns err_has "warning: unknown words in the prompt ignored: shiny near dragon"
expect gen-negative 0 "$gen" --prompt "$prompt" "${m[@]}" --negative "a green cross" --seed 5 -o "$tmp/neg.png"
check gen-negative-matters differs "$tmp/a.png" "$tmp/neg.png"

# Best-of-n: n candidates, the kept ones recorded; n 1 is the plain image;
# world-CLIP scores by default, --reward judge takes a `gen train --arch clip
# --hard-negatives` export (--judge FILE; without it the built-in world-judge,
# or one line naming it where there is none); tts is the VAR's.
expect judge-train 0 "$gen" train --arch clip --hard-negatives 2 --category-weights position=9 --steps 2 --batch 4 --out "$tmp/judge"
check judge-train-says err_has "2 hard-negative captions per image"
check judge-train-weights err_has "clip: train captions by category: .*position 43%"  # 9 of 21
check judge-train-config grep -aq 'aux_hard_negatives[^0-9]*2, [^0-9]*aux_category_weights[^0-9]*2, 2, 2, 2, 9, 2, 2\]' "$tmp/judge/checkpoint_2.safetensors"
expect judge-export 0 "$gen" train --arch clip --export "$tmp/judge" --out "$tmp/judge.safetensors"
# A class-token judge (new shapes: from scratch; --init from a mean-pooled one is refused).
expect judge-cls 0 "$gen" train --arch clip --class-token --hard-negatives 1 --steps 1 --batch 4 --out "$tmp/judgecls"
expect judge-cls-export 0 "$gen" train --arch clip --export "$tmp/judgecls" --out "$tmp/judgecls.safetensors"
check judge-cls-file grep -aq "visual.class_embedding" "$tmp/judgecls.safetensors"
expect judge-cls-init 1 "$gen" train --arch clip --class-token --init "$tmp/judge.safetensors" --steps 1 --batch 4 --out "$tmp/judgecls2"
check judge-cls-init-line one_line
expect judge-cls-mmdit 2 "$gen" train --arch mmdit --class-token --steps 1 --out "$tmp/x"
check judge-cls-mmdit-line one_line
expect bon-judge-cls 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 --steps 1 --search best-of-n --n 2 --reward judge --judge "$tmp/judgecls.safetensors" -o "$tmp/bonc.png"
# A judge head (--itm-layers): --init from a world-CLIP without one starts the
# head fresh; it needs hard negatives; the judge reward then scores by it.
expect judge-itm 0 "$gen" train --arch clip --init "$tmp/judge.safetensors" --itm-layers 1 --hard-negatives 2 --steps 2 --batch 4 --out "$tmp/judgeitm"
check judge-itm-fresh err_has "lacks the 23 parameters of the model's new head: they start fresh"
expect judge-itm-export 0 "$gen" train --arch clip --export "$tmp/judgeitm" --out "$tmp/judgeitm.safetensors"
check judge-itm-file grep -aq "itm.head.weight" "$tmp/judgeitm.safetensors"
# A resume keeps the model it started with: without --itm-layers the head
# would be dropped, so it is refused (one line, nothing written).
expect judge-itm-resume-plain 1 "$gen" train --arch clip --hard-negatives 2 --steps 3 --batch 4 --resume auto --out "$tmp/judgeitm"
check judge-itm-resume-plain-line bash -c "[ \$(grep -c '^gen: ' '$tmp/err') -eq 1 ]"  # after the task's info lines
check judge-itm-resume-plain-says err_has "holds parameter itm\..*, which this run's model lacks"
check judge-itm-resume-plain-nothing-new test ! -e "$tmp/judgeitm/checkpoint_3.safetensors"
# --init from a plain world-CLIP run's checkpoint (no config at all): its EMA towers, a fresh head.
expect plain-clip-run 0 "$gen" train --arch clip --steps 1 --batch 4 --ema 0.99 --out "$tmp/plainclip"
expect judge-itm-init-ckpt 0 "$gen" train --arch clip --init "$tmp/plainclip" --itm-layers 1 --hard-negatives 1 --steps 1 --batch 4 --out "$tmp/judgeitm2"
check judge-itm-init-ckpt-fresh err_has "lacks the 23 parameters of the model's new head: they start fresh"
check judge-itm-init-ckpt-ema bash -c "! grep -q 'no EMA weights' '$tmp/err'"
expect judge-itm-no-neg 2 "$gen" train --arch clip --itm-layers 1 --steps 1 --out "$tmp/x"
check judge-itm-no-neg-line one_line
check judge-itm-no-neg-says err_has "give --hard-negatives K >= 1"
expect judge-itm-mmdit 2 "$gen" train --arch mmdit --itm-layers 1 --steps 1 --out "$tmp/x"
check judge-itm-mmdit-line one_line
expect bon-judge-itm 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 --steps 1 --search best-of-n --n 2 --reward judge --judge "$tmp/judgeitm.safetensors" -o "$tmp/boni.png"
check bon-judge-itm-says err_has "best of 2 by judge: kept candidate [01]"
expect bon-judge 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 --steps 2 --search best-of-n --n 3 --reward judge --judge "$tmp/judge.safetensors" -o "$tmp/bon.png"
check bon-judge-rows err_has "cfg, 12 model evaluations"  # 3 candidates x 2 steps x 2 rows
check bon-judge-says err_has "best of 3 by judge: kept candidate [0-2] (0 = the plain image)"
check bon-judge-param png_param "$tmp/bon.png" "search: best-of-n, n: 3, reward: judge (judge.safetensors), kept: "
expect bon-one 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 --steps 2 --search best-of-n --n 1 --native -o "$tmp/bon1.png"
expect bon-plain 0 "$gen" --prompt "$prompt" "${m[@]}" --seed 5 --steps 2 --native -o "$tmp/plain1.png"
check bon-one-is-plain same_pixels "$tmp/bon1.png" "$tmp/plain1.png"
expect bon-grid 0 "$gen" --prompt "$prompt" "${m[@]}" --steps 1 --grid 2 --search best-of-n --n 2 -o "$tmp/bong.png"
check bon-grid-kept err_has "best of 2 by clip: kept candidates [01],[01] "
# Without --judge, the built-in world-judge; where there is none, one line naming it.
expect bon-no-judge 1 env -C "$tmp" SILT_MODELS="$tmp/none" "$tmp/bin/gen" --prompt "$prompt" "${m[@]}" --steps 1 --search best-of-n --n 2 --reward judge -o "$tmp/x.png"
check bon-no-judge-line one_line
check bon-no-judge-says err_has "world-judge.safetensors.zst not found"
expect bon-bad-judge 1 "$gen" --prompt "$prompt" "${m[@]}" --steps 1 --search best-of-n --n 2 --reward judge --judge "$tmp/none.safetensors" -o "$tmp/x.png"
check bon-bad-judge-line one_line
expect bon-tts 2 "$gen" --prompt "$prompt" "${m[@]}" --search tts --n 2 -o "$tmp/x.png"
check bon-tts-line one_line
check bon-tts-says err_has "the world MMDiT takes best-of-n"
expect bon-judge-clip 2 "$gen" --prompt "$prompt" "${m[@]}" --search best-of-n --n 2 --reward clip --judge "$tmp/judge.safetensors" -o "$tmp/x.png"
check bon-judge-clip-line one_line
expect hard-neg-mmdit 2 "$gen" train --arch mmdit --hard-negatives 2 --steps 1 --out "$tmp/x"
check hard-neg-mmdit-line one_line
expect suite-bon 0 "$gen" eval --suite eval --limit 7 --model "$model" --clip "$clip" --steps 2 --search best-of-n --n 2 --reward judge --judge "$tmp/judge.safetensors" --json -q
check suite-bon-json json_ok "d['items'] == 7 and d['model_rows'] == 2 * 2 * 2 * 7 and d['search'].startswith('search: best-of-n, n: 2, reward: judge (judge.safetensors)')"
expect suite-bon1 0 "$gen" eval --suite eval --limit 7 --model "$model" --clip "$clip" --steps 2 --search best-of-n --n 1 --json --per-item -q
cp "$tmp/out" "$tmp/bon1.json"
expect suite-plain 0 "$gen" eval --suite eval --limit 7 --model "$model" --clip "$clip" --steps 2 --json --per-item -q
check suite-bon1-is-plain python3 -c "import json; a=json.load(open('$tmp/out')); b=json.load(open('$tmp/bon1.json')); exit(0 if a['per_item']==b['per_item'] else 1)"

expect suite-model 0 "$gen" eval --suite eval --limit 7 --model "$model" --clip "$clip" --steps 2 --json -q
check suite-model-json json_ok "d['items'] == 7 and d['steps'] == 2 and d['model_rows'] == 2 * 2 * 7 and d['images_per_s'] > 0 and len(d['categories']) == 7"
cp "$tmp/out" "$tmp/suite_b8.json"
expect suite-model-batch1 0 "$gen" eval --suite eval --limit 7 --model "$model" --clip "$clip" --steps 2 --batch 1 --json -q
check suite-batch-invariant python3 -c "import json; a=json.load(open('$tmp/out')); b=json.load(open('$tmp/suite_b8.json')); exit(0 if a['passed']==b['passed'] and abs(a['clip_score']-b['clip_score'])<1e-3 and abs(a['fd']-b['fd'])<1e-4 else 1)"
expect suite-softpag 0 "$gen" eval --suite heldout --limit 6 --model "$model" --clip "$clip" --steps 1 --guidance softpag --heads 1 -q
check suite-softpag-text out_has "guidance softpag, cfg 4, scale 3, heads 1"

# 2b. What `gen train --arch mmdit` makes: its checkpoint and its export are
# world models that generate the same pixels (the checkpoint has no silt.*
# defaults: the export's are passed by hand).
if "$gen" train --help | grep -q -- --export; then
    expect mm-train 0 "$gen" train --arch mmdit --size tiny --steps 2 --batch 4 --clip-model "$clip" --out "$tmp/mm"
    expect mm-export 0 "$gen" train --arch mmdit --export "$tmp/mm" --out "$tmp/mm.safetensors" --sample-steps 3
    expect mm-gen-export 0 "$gen" --prompt "$prompt" --model "$tmp/mm.safetensors" --clip "$clip" -q -o "$tmp/mm1.png"
    check mm-gen-export-steps png_param "$tmp/mm1.png" "steps: 3,"
    ck=$(ls "$tmp"/mm/checkpoint_*.safetensors | head -1)
    shift_=$(grep -ao 'shift: [0-9.]*' "$tmp/mm1.png" | cut -d' ' -f2)
    cfg_=$(grep -ao 'cfg: [0-9.]*' "$tmp/mm1.png" | cut -d' ' -f2)
    expect mm-gen-ckpt 0 "$gen" --prompt "$prompt" --model "$ck" --clip "$clip" --steps 3 --shift "$shift_" --cfg "$cfg_" -q -o "$tmp/mm2.png"
    check mm-ckpt-equals-export same_pixels "$tmp/mm1.png" "$tmp/mm2.png"
    check mm-pixels-compared not_same_pixels "$tmp/mm1.png" "$tmp/a.png"  # the comparison can fail
fi

# 2c. gen world harvest (verified self-samples) and gen train --samples. The
# random model's images rarely pass: its run checks the counts and the file;
# a set written here (3 random images, train items 0..2; item 2, "a yellow
# cross", is an eval prompt and is dropped) trains and resumes.
expect harvest 0 "$gen" world harvest "${m[@]}" --count 4 --tries 2 --batch 3 --category-weights position=1000 -o "$tmp/h.safetensors"
check harvest-summary out_has "harvest: 4 items, "
check harvest-categories out_has "  position               4 items"
check harvest-file test -s "$tmp/h.safetensors"
expect harvest-no-out 2 "$gen" world harvest "${m[@]}" --count 4
check harvest-no-out-line one_line
expect harvest-no-count 2 "$gen" world harvest "${m[@]}" -o "$tmp/h2.safetensors"
check harvest-no-count-line one_line
expect harvest-bad-weights 2 "$gen" world harvest "${m[@]}" --count 4 --category-weights shapes=2 -o "$tmp/h2.safetensors"
check harvest-bad-weights-line one_line
expect harvest-not-world 2 "$gen" world harvest --model "$SILT_SOURCE_DIR/tests/golden/dit_diffusers.model.safetensors" --count 1 -o "$tmp/h2.safetensors"
check harvest-not-world-line one_line
expect harvest-no-dir 1 "$gen" world harvest "${m[@]}" --count 1 -o "$tmp/no/such/h.safetensors"
check harvest-no-dir-line one_line
python3 - "$tmp/set.safetensors" <<'PY'
import json, struct, sys
n, s = 3, 32
img = bytes((i * 37 + 11) % 256 for i in range(n * s * s * 3))
items = b"".join(struct.pack("<q", i) for i in range(n))
head = {"__metadata__": {"silt.kind": "world-samples", "silt.seed": "0", "silt.weights": "2,2,2,2,3,2,2"},
        "items": {"dtype": "I64", "shape": [n], "data_offsets": [0, len(items)]},
        "images": {"dtype": "U8", "shape": [n, s, s, 3], "data_offsets": [len(items), len(items) + len(img)]}}
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + items + img)
PY
rs=(--arch mmdit --size tiny --batch 4 --clip-model "$clip" --samples "$tmp/set.safetensors" --samples-fraction 0.5)
expect samples-train 0 "$gen" train "${rs[@]}" --steps 4 --ckpt-every 2 --out "$tmp/rs"
check samples-train-says err_has "50% of the images from 2 harvested samples (position 0, counting 0, two_objects 0; 1 with eval-suite captions dropped)"
expect samples-resume 0 "$gen" train "${rs[@]}" --steps 6 --ckpt-every 2 --resume auto --out "$tmp/rs"
expect samples-straight 0 "$gen" train "${rs[@]}" --steps 6 --ckpt-every 2 --out "$tmp/rs2"
check samples-resume-exact cmp -s "$tmp/rs/checkpoint_6.safetensors" "$tmp/rs2/checkpoint_6.safetensors"
expect samples-not-set 1 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --steps 1 --samples "$model" --out "$tmp/rs3"
check samples-not-set-says err_has "not a sample set"
expect samples-fraction-alone 2 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --steps 1 --samples-fraction 0.3 --out "$tmp/rs3"
check samples-fraction-alone-line one_line
expect samples-clip 2 "$gen" train --arch clip --samples "$tmp/set.safetensors" --steps 1 --out "$tmp/rs3"
check samples-clip-line one_line
# --all keeps every candidate with its verdict; the judge head trains on
# such a set (labelled.safetensors: item 0 passed and failed, item 1 passed).
expect harvest-all 0 "$gen" world harvest "${m[@]}" --all --count 3 --tries 2 --batch 4 --category-weights position=1000 -o "$tmp/ha.safetensors"
check harvest-all-says out_has "candidates drawn ("
check harvest-all-file python3 - "$tmp/ha.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
assert h["__metadata__"]["silt.keep"] == "all", h["__metadata__"]
assert h["images"]["shape"][0] == 6 and h["pass"]["shape"] == [6] and h["pass"]["dtype"] == "U8", h
PY
python3 - "$tmp/labelled.safetensors" <<'PY'
import json, struct, sys
n, s = 3, 32
img = bytes((i * 37 + 11) % 256 for i in range(n * s * s * 3))
items = b"".join(struct.pack("<q", i) for i in (0, 1, 0))
ok = bytes([1, 1, 0])
head = {"__metadata__": {"silt.kind": "world-samples", "silt.seed": "0", "silt.weights": "2,2,2,2,3,2,2", "silt.keep": "all"},
        "items": {"dtype": "I64", "shape": [n], "data_offsets": [0, 24]},
        "images": {"dtype": "U8", "shape": [n, s, s, 3], "data_offsets": [24, 24 + len(img)]},
        "pass": {"dtype": "U8", "shape": [n], "data_offsets": [24 + len(img), 24 + len(img) + n]}}
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + items + img + ok)
PY
js=(--arch clip --itm-layers 1 --hard-negatives 2 --batch 4 --samples "$tmp/labelled.safetensors" --sample-pairs 2)
expect judge-samples 0 "$gen" train "${js[@]}" --steps 4 --ckpt-every 2 --out "$tmp/js"
check judge-samples-says err_has "2 pairs per batch from 1 (passed, failed) candidate pairs of one caption (3 samples, 2 passed"
expect judge-samples-resume 0 "$gen" train "${js[@]}" --steps 6 --ckpt-every 2 --resume auto --out "$tmp/js"
expect judge-samples-straight 0 "$gen" train "${js[@]}" --steps 6 --ckpt-every 2 --out "$tmp/js2"
check judge-samples-resume-exact cmp -s "$tmp/js/checkpoint_6.safetensors" "$tmp/js2/checkpoint_6.safetensors"
# A file listed twice: its groups stay apart (2 pairs; merged they would make 4).
expect judge-samples-twice 0 "$gen" train "${js[@]}" --samples "$tmp/labelled.safetensors,$tmp/labelled.safetensors" --steps 1 --out "$tmp/js5"
check judge-samples-twice-pairs err_has "from 2 (passed, failed) candidate pairs"
expect judge-samples-unlabelled 1 "$gen" train "${js[@]}" --samples "$tmp/set.safetensors" --steps 1 --out "$tmp/js3"
check judge-samples-unlabelled-says err_has "no item has both a passed and a failed candidate"
expect sample-pairs-alone 2 "$gen" train --arch clip --itm-layers 1 --hard-negatives 2 --sample-pairs 2 --steps 1 --out "$tmp/js3"
check sample-pairs-alone-line one_line
expect judge-mirrors 0 "$gen" train "${js[@]}" --sample-mirrors --steps 1 --out "$tmp/js4"
check judge-mirrors-says err_has "samples with their mirrors"
expect sample-mirrors-alone 2 "$gen" train --arch clip --itm-layers 1 --hard-negatives 2 --sample-mirrors --steps 1 --out "$tmp/js3"
check sample-mirrors-alone-line one_line

# 2d. gen train --arch mmdit --dpo: preference pairs (a passed and a failed
# candidate of one caption) against the frozen --init. dpo.safetensors is
# labelled.safetensors with three different images (labelled's are equal).
# At the start the model is its reference: loss ln 2. A pair of equal
# images stays at ln 2 however far the model moves (both see one noise and
# one sigma). Trained, the model moves its plain flow loss on the passed
# image down and on the failed one up (measured with --samples sets of each
# image alone at lr 0, same noise): a sign error would do the opposite.
python3 - "$tmp" <<'PY'
import json, random, struct, sys
s, d = 32, sys.argv[1]
imgs = [random.Random(k).randbytes(s * s * 3) for k in range(3)]
def write(name, items, images, ok=None):
    meta = {"silt.kind": "world-samples", "silt.seed": "0", "silt.weights": "2,2,2,2,3,2,2"}
    if ok is not None:
        meta["silt.keep"] = "all"
    it = b"".join(struct.pack("<q", i) for i in items)
    im = b"".join(images)
    head = {"__metadata__": meta, "items": {"dtype": "I64", "shape": [len(items)], "data_offsets": [0, len(it)]},
            "images": {"dtype": "U8", "shape": [len(items), s, s, 3], "data_offsets": [len(it), len(it) + len(im)]}}
    body = it + im
    if ok is not None:
        head["pass"] = {"dtype": "U8", "shape": [len(items)], "data_offsets": [len(body), len(body) + len(ok)]}
        body += bytes(ok)
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    open(d + "/" + name + ".safetensors", "wb").write(struct.pack("<Q", len(h)) + h + body)
write("dpo", (0, 1, 0), imgs, (1, 1, 0))
write("won", (0,), imgs[:1])
write("lost", (0,), imgs[2:])
PY
dp=(--arch mmdit --size tiny --clip-model "$clip" --init "$tmp/mm.safetensors" --dpo "$tmp/dpo.safetensors")
expect dpo-start 0 "$gen" train "${dp[@]}" --batch 2 --lr 0 --lr-min 0 --warmup 0 --steps 1 --out "$tmp/dpo0"
check dpo-says err_has "on 1 (passed, failed) pairs of one caption from 3 candidates"
check dpo-start-ln2 python3 -c "import csv,math; r=list(csv.DictReader(open('$tmp/dpo0/train_log.csv'))); exit(0 if abs(float(r[0]['loss'])-math.log(2))<1e-4 else 1)"
expect dpo-equal-images 0 "$gen" train "${dp[@]}" --dpo "$tmp/labelled.safetensors" --batch 2 --lr 3e-3 --warmup 0 --steps 5 --log-every 1 --out "$tmp/dpo5"
check dpo-equal-images-ln2 python3 -c "import csv,math; r=list(csv.DictReader(open('$tmp/dpo5/train_log.csv'))); exit(0 if all(abs(float(x['loss'])-math.log(2))<1e-4 for x in r) else 1)"
expect dpo-train 0 "$gen" train "${dp[@]}" --batch 4 --lr 3e-3 --warmup 0 --dpo-beta 50 --steps 30 --ckpt-every 10 --out "$tmp/dpo1"
expect dpo-export 0 "$gen" train --arch mmdit --export "$tmp/dpo1" --out "$tmp/dpo1.safetensors"
check dpo-loss-falls python3 -c "import csv,math; r=list(csv.DictReader(open('$tmp/dpo1/train_log.csv'))); exit(0 if float(r[-1]['loss'])<0.5*math.log(2) else 1)"
for set in won lost; do
    for mdl in mm dpo1; do
        expect "dpo-plain-$set-$mdl" 0 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --init "$tmp/$mdl.safetensors" \
            --samples "$tmp/$set.safetensors" --samples-fraction 1 --batch 16 --lr 0 --lr-min 0 --warmup 0 --steps 4 --log-every 1 --out "$tmp/plain_${set}_$mdl"
    done
done
check dpo-moves-the-right-way python3 - "$tmp" <<'PY'
import csv, sys
def mean(d):
    r = list(csv.DictReader(open(sys.argv[1] + "/" + d + "/train_log.csv")))
    return sum(float(x["loss"]) for x in r) / len(r)
dw = mean("plain_won_dpo1") - mean("plain_won_mm")
dl = mean("plain_lost_dpo1") - mean("plain_lost_mm")
print("passed image's flow loss change", dw, "failed image's", dl)
sys.exit(0 if dw < dl and dl > 0 else 1)
PY
expect dpo-resume 0 "$gen" train "${dp[@]}" --batch 2 --steps 4 --ckpt-every 2 --out "$tmp/dpo2"
expect dpo-resume2 0 "$gen" train "${dp[@]}" --batch 2 --steps 6 --ckpt-every 2 --out "$tmp/dpo2" --resume auto
expect dpo-straight 0 "$gen" train "${dp[@]}" --batch 2 --steps 6 --ckpt-every 2 --out "$tmp/dpo3"
check dpo-resume-exact cmp -s "$tmp/dpo2/checkpoint_6.safetensors" "$tmp/dpo3/checkpoint_6.safetensors"
# A resume against another reference fails (its fingerprint is in the config).
expect dpo-resume-other-ref 1 "$gen" train "${dp[@]}" --init "$tmp/dpo1.safetensors" --batch 2 --steps 8 --ckpt-every 2 --out "$tmp/dpo2" --resume auto
check dpo-resume-other-ref-says err_has "holds a model with config"
expect dpo-no-init 2 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --dpo "$tmp/labelled.safetensors" --steps 1 --out "$tmp/dpo4"
check dpo-no-init-line one_line
expect dpo-with-samples 2 "$gen" train "${dp[@]}" --samples "$tmp/set.safetensors" --steps 1 --out "$tmp/dpo4"
check dpo-with-samples-line one_line
expect dpo-with-weights 1 "$gen" train "${dp[@]}" --category-weights position=9 --steps 1 --out "$tmp/dpo4"
check dpo-with-weights-says err_has "no renders"
expect dpo-beta-alone 2 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --dpo-beta 10 --steps 1 --out "$tmp/dpo4"
check dpo-beta-alone-line one_line
expect dpo-ckpt-ref 1 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --init "$tmp/dpo1" --dpo "$tmp/labelled.safetensors" --steps 1 --out "$tmp/dpo4"
check dpo-ckpt-ref-says err_has "not a world MMDiT model file"
# --dpo-cfg W: the errors of the guided velocity v_u + W (v_c - v_u). The
# plumbing here: at W = 1 (the conditional velocity again; the
# unconditional branch's gradient is 1 - W = 0) each lr-0 step's gradient
# norm is plain DPO's; at W = 4 the start is still ln 2 and it trains; the
# scale is in the config (a resume with another fails); errors are one
# line. This 2-step model hardly uses its caption (v_u ~ v_c), so these
# checks cannot tell the branches apart: test_builtin_model.sh does, on
# the shipped model (W 1 equal to plain DPO, W 4 far from it).
for w in plain 1 4; do
    extra=(); [ $w = plain ] || extra=(--dpo-cfg $w)
    expect "dpo-cfg-lr0-$w" 0 "$gen" train "${dp[@]}" "${extra[@]}" --batch 2 --lr 0 --lr-min 0 --warmup 0 --steps 4 --log-every 1 --out "$tmp/dpoc_$w"
done
check dpo-cfg-says err_has "DPO (beta 2000, on the CFG 4 velocity)"
check dpo-cfg-1-is-plain python3 - "$tmp" <<'PY'
import csv, math, sys
rows = lambda w: list(csv.DictReader(open(sys.argv[1] + "/dpoc_" + w + "/train_log.csv")))
p, one, four = rows("plain"), rows("1"), rows("4")
close = lambda a, b: abs(a - b) <= 1e-4 * max(abs(a), abs(b), 1e-3)
ok = len(p) == len(one) == len(four) == 4
ok = ok and all(close(float(a["loss"]), float(b["loss"])) and close(float(a["grad_norm"]), float(b["grad_norm"])) for a, b in zip(p, one))
ok = ok and abs(float(four[0]["loss"]) - math.log(2)) < 1e-4
print("plain", [(r["loss"], r["grad_norm"]) for r in p], "W 1", [(r["loss"], r["grad_norm"]) for r in one], "W 4", four[0]["loss"])
sys.exit(0 if ok else 1)
PY
expect dpo-cfg-train 0 "$gen" train "${dp[@]}" --dpo-cfg 4 --batch 4 --lr 3e-3 --warmup 0 --dpo-beta 50 --steps 30 --ckpt-every 10 --out "$tmp/dpoc"
check dpo-cfg-loss-falls python3 -c "import csv,math; r=list(csv.DictReader(open('$tmp/dpoc/train_log.csv'))); exit(0 if float(r[-1]['loss'])<0.5*math.log(2) else 1)"
expect dpo-cfg-resume-other 1 "$gen" train "${dp[@]}" --dpo-cfg 2 --batch 4 --lr 3e-3 --warmup 0 --dpo-beta 50 --steps 40 --ckpt-every 10 --out "$tmp/dpoc" --resume auto
check dpo-cfg-resume-other-says err_has "holds a model with config"
expect dpo-cfg-alone 2 "$gen" train --arch mmdit --size tiny --clip-model "$clip" --dpo-cfg 4 --steps 1 --out "$tmp/dpo4"
check dpo-cfg-alone-line one_line
expect dpo-cfg-range 2 "$gen" train "${dp[@]}" --dpo-cfg -1 --steps 1 --out "$tmp/dpo4"
check dpo-cfg-range-line one_line
expect dpo-unlabelled 1 "$gen" train "${dp[@]}" --dpo "$tmp/set.safetensors" --steps 1 --out "$tmp/dpo4"
check dpo-unlabelled-says err_has "no item has both a passed and a failed candidate"

# 3. The built-in models: found through $SILT_MODELS; a one-line error naming
# the places looked in when absent (a copy of gen, so <gen>/../models is empty).
mkdir -p "$tmp/bin" "$tmp/empty"
cp "$gen" "$tmp/bin/gen"
expect builtin-missing 1 bash -c "cd '$tmp/empty' && env -u SILT_MODELS '$tmp/bin/gen' --prompt 'a red circle' -o x.png"
check builtin-missing-line one_line
check builtin-missing-names err_has "world-dit.safetensors.zst not found (looked in \$SILT_MODELS (unset), $tmp/bin/../models, ./models)"
if command -v zstd >/dev/null; then
    mkdir -p "$tmp/models"
    expect builtin-dit 0 "$gen" world test-model -o "$tmp/models/world-dit.safetensors.zst"
    zstd -q "$clip" -o "$tmp/models/world-clip.safetensors.zst"
    expect builtin 0 env SILT_MODELS="$tmp/models" "$gen" --prompt "$prompt" -q -o "$tmp/builtin.png"
    check builtin-256 png_size_is "$tmp/builtin.png" 256x256
    check builtin-param png_param "$tmp/builtin.png" "model: world-dit.safetensors.zst, vae: none, clip: world-clip.safetensors.zst"
    expect builtin-eval 0 env SILT_MODELS="$tmp/models" "$gen" eval --suite eval --limit 2 --steps 1 -q
    check builtin-eval-model out_has "world-dit.safetensors.zst, 1 steps"
fi

# 4. Errors: one line, exit 2 for usage, 1 for runtime.
expect bad-suite 2 "$gen" eval --suite test --model render
check bad-suite-line one_line
expect train-suite 2 "$gen" eval --suite train --model render
check train-suite-line one_line
expect bad-limit 2 "$gen" eval --suite eval --model render --limit -1
check bad-limit-line one_line
expect pseudo-guidance 2 "$gen" eval --suite eval --model render --guidance pag
check pseudo-guidance-line one_line
expect suite-image 2 "$gen" eval --suite eval --image "$tmp/a.png"
check suite-image-line one_line
expect suite-heads-cfg 2 "$gen" eval --suite eval "${m[@]}" --heads 1
check suite-heads-cfg-line one_line
expect suite-missing-model 1 "$gen" eval --suite eval --model "$tmp/none.safetensors"
check suite-missing-model-line one_line
expect suite-not-world 2 "$gen" eval --suite eval --model "$SILT_SOURCE_DIR/tests/golden/dit_diffusers.model.safetensors"
check suite-not-world-line one_line
expect gen-class-world 2 "$gen" "${m[@]}" --class 3
check gen-class-world-line one_line
expect gen-no-prompt 2 "$gen" "${m[@]}"
check gen-no-prompt-line one_line
expect gen-embeds-world 2 "$gen" "${m[@]}" --prompt "a circle" --text-embeds "$SILT_SOURCE_DIR/tests/cli/data/sd3_text_embeds.safetensors"
check gen-embeds-world-line one_line
expect gen-bad-upscale 2 "$gen" "${m[@]}" --prompt "a circle" --upscale 100
check gen-bad-upscale-line one_line
expect gen-native-upscale 2 "$gen" "${m[@]}" --prompt "a circle" --upscale 64 --native
check gen-native-upscale-line one_line
expect gen-clip-not-world 2 "$gen" --model "$SILT_SOURCE_DIR/tests/golden/dit_diffusers.model.safetensors" --class 1 --clip "$clip"
check gen-clip-not-world-line one_line
expect gen-missing-clip 1 "$gen" --model "$model" --clip "$tmp/none.safetensors" --prompt "a circle"
check gen-missing-clip-line one_line
# an output folder that is not there: refused before any work, nothing written
expect gen-no-out-dir 1 "$gen" "${m[@]}" --prompt "a circle" -o "$tmp/no/such/dir/x.png"
check gen-no-out-dir-line one_line
check gen-no-out-dir-names grep -q "cannot write into $tmp/no/such/dir" "$tmp/err"
# checked before the model loads: with a missing model too, the output is named
expect gen-no-out-dir-first 1 "$gen" --model "$tmp/none.safetensors" --clip "$clip" --prompt "a circle" -o "$tmp/no/x.png"
check gen-no-out-dir-first-names grep -q "cannot write into $tmp/no" "$tmp/err"
expect gen-empty-out 2 "$gen" "${m[@]}" --prompt "a circle" -o ""
expect gen-folder-out 2 "$gen" "${m[@]}" --prompt "a circle" -o "$tmp/"
check gen-folder-out-line one_line
finish
