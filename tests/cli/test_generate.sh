#!/usr/bin/env bash
# gen generate on the tiny golden checkpoints (tests/golden/README.md): every
# guidance mode on a DiT (+ SD VAE) and an MMDiT (+ SD3 VAE, text embeddings
# from tests/cli/data), PNG size and parameters chunk, images that are not
# constant and that change with the guidance, determinism, and the error
# cases (one line, exit 2 for a wrong choice, 1 for a failure).
# Usage: test_generate.sh PATH/TO/gen
set -u
gen=${1:?usage: test_generate.sh GEN}
src=${SILT_SOURCE_DIR:-.}
G=$src/tests/golden
dit=$G/dit_diffusers.model.safetensors
dit_orig=$G/dit_original.model.safetensors
mmdit=$G/mmdit_diffusers.model.safetensors
vae=$G/vae_sd.model.safetensors
vae3=$G/vae_sd3.model.safetensors
embeds=$src/tests/cli/data/sd3_text_embeds.safetensors
for f in "$dit" "$dit_orig" "$mmdit" "$vae" "$vae3" "$embeds"; do
    [ -f "$f" ] || { echo "SKIP: $f missing"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

# A constant image deflates to a few bytes; these noisy tiny renders need hundreds.

dit_args=(--model "$dit" --vae "$vae" --class 3 --steps 6 -q)
mm_args=(--model "$mmdit" --vae "$vae3" --text-embeds "$embeds" --prompt "a red circle" --steps 6 -q)

# Every mode on both families.
for mode in none cfg pag softpag seg slg uniform; do
    expect "dit-$mode" 0 "$gen" generate "${dit_args[@]}" --guidance "$mode" -o "$tmp/dit_$mode.png"
    check "dit-$mode-size" png_size_is "$tmp/dit_$mode.png" 16x16
    check "dit-$mode-param" png_param "$tmp/dit_$mode.png" "guidance: $mode,"
    check "dit-$mode-model" png_param "$tmp/dit_$mode.png" "model: dit_diffusers.model.safetensors"
    check "dit-$mode-varies" png_not_constant "$tmp/dit_$mode.png"
    expect "mmdit-$mode" 0 "$gen" generate "${mm_args[@]}" --guidance "$mode" -o "$tmp/mm_$mode.png"
    check "mmdit-$mode-size" png_size_is "$tmp/mm_$mode.png" 16x16
    check "mmdit-$mode-param" png_param "$tmp/mm_$mode.png" "guidance: $mode,"
    check "mmdit-$mode-prompt" png_param "$tmp/mm_$mode.png" "a red circle"
    check "mmdit-$mode-varies" png_not_constant "$tmp/mm_$mode.png"
done
check dit-params png_param "$tmp/dit_pag.png" "class 3"
check dit-params-seed png_param "$tmp/dit_pag.png" "seed: 0, sampler: ddim, steps: 6"
check dit-params-heads png_param "$tmp/dit_pag.png" "scale: 3, heads: 1,"
check mmdit-params-identity png_param "$tmp/mm_softpag.png" "identity: joint"
check mmdit-params-pag-identity png_param "$tmp/mm_pag.png" "identity: image"
check mmdit-params-sampler png_param "$tmp/mm_none.png" "sampler: flow_euler, steps: 6, shift: 3"
# Guidance changes the image; the perturbations differ from CFG and each other.
for m in none pag softpag seg slg; do
    check "dit-$m-vs-cfg" differs "$tmp/dit_$m.png" "$tmp/dit_cfg.png"
    check "mmdit-$m-vs-cfg" differs "$tmp/mm_$m.png" "$tmp/mm_cfg.png"
done
check dit-pag-vs-slg differs "$tmp/dit_pag.png" "$tmp/dit_slg.png"
check mmdit-pag-vs-softpag differs "$tmp/mm_pag.png" "$tmp/mm_softpag.png"

# Deterministic; the seed matters; flags without a command run generate.
expect dit-again 0 "$gen" "${dit_args[@]}" --guidance pag -o "$tmp/again.png"
check deterministic cmp -s "$tmp/dit_pag.png" "$tmp/again.png"
expect dit-seed 0 "$gen" "${dit_args[@]}" --guidance pag --seed 1 -o "$tmp/seed1.png"
check seed-matters differs "$tmp/dit_pag.png" "$tmp/seed1.png"

# Original DiT layout, other samplers, heads spec and file, sizes, grid, class names.
expect dit-original 0 "$gen" --model "$dit_orig" --vae "$vae" --class 7 --steps 4 -q --guidance softpag \
    --heads 0:1,1:0:0.25 -o "$tmp/orig.png"
check orig-heads png_param "$tmp/orig.png" "heads: 0:1,1:0:0.25,"
for s in ddpm euler euler_a dpmpp_2m; do
    expect "sampler-$s" 0 "$gen" "${dit_args[@]}" --sampler "$s" --guidance cfg -o "$tmp/s_$s.png"
    check "sampler-$s-param" png_param "$tmp/s_$s.png" "sampler: $s"
done
printf '# HeadHunter heads\n\n1,0\n(1, 1, 0.5)  # soft\n' >"$tmp/heads.txt"
expect heads-file 0 "$gen" "${mm_args[@]}" --guidance softpag --heads "$tmp/heads.txt" -o "$tmp/hf.png"
check heads-file-param png_param "$tmp/hf.png" "heads: 1:0,1:1"
expect mmdit-rect 0 "$gen" "${mm_args[@]}" --guidance slg --width 20 --height 12 -o "$tmp/rect.png"
check mmdit-rect-size png_size_is "$tmp/rect.png" 20x12
expect grid 0 "$gen" "${dit_args[@]}" --guidance cfg --grid 3 -o "$tmp/grid.png"
check grid-param png_param "$tmp/grid.png" "grid 3: seeds 0..2"
check grid-wider wider_than "$tmp/grid.png" 16
expect help 0 "$gen" generate --help
check help-convention grep -q 'e = e_u + g (e_c - e_u) + s (e_c - e_p)' "$tmp/out"
check help-adm grep -q '4.0 is 3.0' "$tmp/out"
check help-default-heads grep -q 'layer depth/2' "$tmp/out"

# Errors: one line, exit 2 for what the user picked wrong, 1 for failures.
expect bad-guidance 2 "$gen" generate "${dit_args[@]}" --guidance magic -o "$tmp/x.png"
check bad-guidance-line one_line
expect bad-heads 2 "$gen" generate "${dit_args[@]}" --guidance pag --heads 1:x -o "$tmp/x.png"
check bad-heads-line one_line
check bad-heads-names err_has "'1:x'"
expect heads-range 2 "$gen" generate "${dit_args[@]}" --guidance pag --heads 0:1,12 -o "$tmp/x.png"
check heads-range-line one_line
check heads-range-names err_has "'12'"
expect slg-head-level 2 "$gen" generate "${dit_args[@]}" --guidance slg --heads 1:0 -o "$tmp/x.png"
check slg-head-level-line one_line
expect heads-with-cfg 2 "$gen" generate "${dit_args[@]}" --guidance cfg --heads 1 -o "$tmp/x.png"
expect class-range 2 "$gen" generate --model "$dit" --vae "$vae" --class 10 -o "$tmp/x.png"
check class-range-line one_line
check class-range-says err_has "out of range"
expect class-name-range 2 "$gen" generate --model "$dit" --vae "$vae" --class "golden retriever" -o "$tmp/x.png"
check class-name-range-line one_line
expect class-unknown 2 "$gen" generate --model "$dit" --vae "$vae" --class "golden doodle" -o "$tmp/x.png"
check class-unknown-line one_line
expect class-missing 2 "$gen" generate --model "$dit" --vae "$vae" -o "$tmp/x.png"
check class-missing-line one_line
expect no-vae 2 "$gen" generate --model "$dit" --class 3 -o "$tmp/x.png"
check no-vae-line one_line
check no-vae-says err_has "4-channel latents: pass --vae"
expect vae-is-dit 2 "$gen" generate --model "$dit" --vae "$dit_orig" --class 3 -o "$tmp/x.png"
check vae-is-dit-line one_line
check vae-is-dit-says err_has "not a VAE"
expect vae-channels 2 "$gen" generate --model "$dit" --vae "$vae3" --class 3 -o "$tmp/x.png"
check vae-channels-line one_line
expect mm-prompt-only 2 "$gen" generate --model "$mmdit" --vae "$vae3" --prompt "a cat" -o "$tmp/x.png"
check mm-prompt-only-line one_line
check mm-prompt-only-says err_has "text-embeds"
expect mm-bad-embeds 2 "$gen" generate --model "$mmdit" --vae "$vae3" --text-embeds "$G/dit_diffusers.io.safetensors" -o "$tmp/x.png"
check mm-bad-embeds-line one_line
expect mm-misshaped-embeds 2 "$gen" generate --model "$mmdit" --vae "$vae3" --text-embeds "$G/mmdit_diffusers.io.safetensors" -o "$tmp/x.png"
check mm-misshaped-embeds-line one_line
expect mm-class 2 "$gen" generate --model "$mmdit" --vae "$vae3" --class 3 -o "$tmp/x.png"
check mm-class-line one_line
expect bad-size 2 "$gen" generate "${dit_args[@]}" --width 15 -o "$tmp/x.png"
check bad-size-line one_line
expect dit-flow-sampler 2 "$gen" generate "${dit_args[@]}" --sampler flow_euler -o "$tmp/x.png"
expect bad-sampler 2 "$gen" generate "${dit_args[@]}" --sampler heun -o "$tmp/x.png"
check bad-sampler-line one_line
expect no-model 2 "$gen" generate --class 3 -o "$tmp/x.png"
expect missing-model 1 "$gen" generate --model "$tmp/none.safetensors" --class 3 -o "$tmp/x.png"
check missing-model-line one_line
expect missing-heads-file 1 "$gen" generate "${dit_args[@]}" --guidance pag --heads "$tmp/none.txt" -o "$tmp/x.png"
check missing-heads-file-line one_line
expect bad-out-dir 1 "$gen" generate "${dit_args[@]}" -o "$tmp/no/such/dir/x.png"
check bad-out-dir-line one_line
check nothing-written bash -c "[ ! -e '$tmp/x.png' ]"

finish
