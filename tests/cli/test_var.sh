#!/usr/bin/env bash
# gen generate on the tiny golden VAR checkpoints (tests/golden/README_var.md):
# var_a (released layout) and var_b (shared AdaLN) with the var_vq tokenizer.
# PNG size (the tokenizer's native size: last scale 6 tokens x downsample 4 =
# 24 px) and parameters chunk, determinism per seed, --grid, gen info, and the
# error cases (one line; exit 2 for a wrong choice or a flag VAR does not read).
# Usage: test_var.sh PATH/TO/gen
set -u
gen=${1:?usage: test_var.sh GEN}
src=${SILT_SOURCE_DIR:-.}
G=$src/tests/golden
var_a=$G/var_a.model.safetensors
var_b=$G/var_b.model.safetensors
vq=$G/var_vq.model.safetensors
sd_vae=$G/vae_sd.model.safetensors
dit=$G/dit_diffusers.model.safetensors
for f in "$var_a" "$var_b" "$vq" "$sd_vae" "$dit"; do
    [ -f "$f" ] || { echo "SKIP: $f missing"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"


va=(--model "$var_a" --vae "$vq" -q)

# One image: native size, parameters, not constant; flags without a command run generate.
expect render 0 "$gen" "${va[@]}" --class 3 -o "$tmp/a.png"
check render-size png_size_is "$tmp/a.png" 24x24
check render-family png_param "$tmp/a.png" "family: var,"
check render-class png_param "$tmp/a.png" "class 3"
check render-sampling png_param "$tmp/a.png" "seed: 0, sampler: next-scale, scales: 5, guidance: cfg, cfg: 1.5, top-k: 900, top-p: 0.96, size: 24x24"
check render-files png_param "$tmp/a.png" "model: var_a.model.safetensors, vae: var_vq.model.safetensors"
check render-varies png_not_constant "$tmp/a.png"

# Deterministic per seed; the seed, the class, cfg and top-k change the image.
expect again 0 "$gen" generate "${va[@]}" --class 3 -o "$tmp/again.png"
check deterministic cmp -s "$tmp/a.png" "$tmp/again.png"
expect seed 0 "$gen" "${va[@]}" --class 3 --seed 7 -o "$tmp/seed7.png"
check seed-matters differs "$tmp/a.png" "$tmp/seed7.png"
check seed-param png_param "$tmp/seed7.png" "seed: 7,"
expect class 0 "$gen" "${va[@]}" --class 4 -o "$tmp/c4.png"
check class-matters differs "$tmp/a.png" "$tmp/c4.png"
expect no-cfg 0 "$gen" "${va[@]}" --class 3 --guidance none -o "$tmp/none.png"
check no-cfg-param png_param "$tmp/none.png" "guidance: none, cfg: 0,"
check no-cfg-matters differs "$tmp/a.png" "$tmp/none.png"
expect sampling 0 "$gen" "${va[@]}" --class 3 --cfg 4 --top-k 3 --top-p 0.5 -o "$tmp/k3.png"
check sampling-param png_param "$tmp/k3.png" "cfg: 4, top-k: 3, top-p: 0.5,"
check sampling-matters differs "$tmp/a.png" "$tmp/k3.png"
# Class names resolve through the ImageNet table (ids below the model's 10).
expect class-name 0 "$gen" "${va[@]}" --class goldfish -o "$tmp/name.png"
check class-name-param png_param "$tmp/name.png" "class 1$"
expect native-size 0 "$gen" "${va[@]}" --class 3 --width 24 --height 24 -o "$tmp/n.png"

# Grid: seeds 0..3 in one sheet, tile 0 is the single image's seed.
expect grid 0 "$gen" "${va[@]}" --class 3 --grid 4 -o "$tmp/grid.png"
check grid-param png_param "$tmp/grid.png" "grid 4: seeds 0..3"
check grid-wider wider_than "$tmp/grid.png" 24

# The d36-s layout (shared AdaLN, no l2 attention) runs too.
expect shared-aln 0 "$gen" --model "$var_b" --vae "$vq" -q --class 2 -o "$tmp/b.png"
check shared-aln-size png_size_is "$tmp/b.png" 24x24

# --device: cpu says so; without a usable GPU (or in a CPU-only build) cuda
# fails with one line (exit 1) and auto runs on the cpu, same image. The cuda
# side against the cpu is tests/gpu/test_gpu_var_cli.c.
expect device-cpu 0 "$gen" "${va[@]}" --class 3 --device cpu -o "$tmp/dev_cpu.png"
check device-cpu-says err_has "model evaluations on cpu"
check device-cpu-same cmp -s "$tmp/a.png" "$tmp/dev_cpu.png"
if "$gen" info --system 2>&1 | grep -q '^gpu: .*\(not built\|no GPU\)'; then
    expect device-cuda-none 1 "$gen" "${va[@]}" --class 3 --device cuda -o "$tmp/x.png"
    check device-cuda-none-line one_line
    check device-cuda-none-says err_has "cuda"
    expect device-auto 0 "$gen" "${va[@]}" --class 3 --device auto -o "$tmp/dev_auto.png"
    check device-auto-cpu err_has "model evaluations on cpu"
    check device-auto-same cmp -s "$tmp/a.png" "$tmp/dev_auto.png"
fi
expect help-device 0 "$gen" generate --help
check help-device-var out_has "VAR: the transformer with its KV cache and the VQ tokenizer"

# gen info reads the VAR config from shapes; --help states the VAR defaults.
expect info 0 "$gen" info "$var_a"
check info-arch out_has "architecture: var (depth 2, width 32, 2 heads, 10 classes, codebook 32 x 8, 66 tokens over 5 scales)"
expect info-vq 0 "$gen" info "$vq"
check info-vq-arch out_has "architecture: vqvae-var (codebook 32 x 8, base width 8, downsample 4)"
expect help 0 "$gen" generate --help
check help-var-cfg out_has "1.5 for VAR"
check help-var-ramp out_has "t = cfg k/(K-1)"

# Errors: one line, exit 2 for what the user picked wrong.
expect class-range 2 "$gen" "${va[@]}" --class 10 -o "$tmp/x.png"
check class-range-line one_line
check class-range-says err_has "out of range"
expect class-missing 2 "$gen" "${va[@]}" -o "$tmp/x.png"
check class-missing-line one_line
expect sd-vae 2 "$gen" --model "$var_a" --vae "$sd_vae" --class 3 -o "$tmp/x.png"
check sd-vae-line one_line
check sd-vae-says err_has "not a VAR VQ-VAE"
expect dit-as-vae 2 "$gen" --model "$var_a" --vae "$dit" --class 3 -o "$tmp/x.png"
check dit-as-vae-line one_line
expect no-vae 2 "$gen" --model "$var_a" --class 3 -o "$tmp/x.png"
check no-vae-line one_line
check no-vae-says err_has "pass --vae"
expect vq-as-model 2 "$gen" --model "$vq" --class 3 -o "$tmp/x.png"
check vq-as-model-line one_line
for flag in "--steps 5" "--sampler ddim" "--heads 1" "--pag-scale 2" "--save-latents $tmp/l.safetensors"; do
    name=${flag%% *}
    expect "var${name}" 2 "$gen" "${va[@]}" --class 3 $flag -o "$tmp/x.png"
    check "var${name}-line" one_line
    check "var${name}-names" err_has "'\?${name}'\? does not apply to VAR"
done
expect var-pag 2 "$gen" "${va[@]}" --class 3 --guidance pag -o "$tmp/x.png"
check var-pag-line one_line
check var-pag-says err_has "guidance pag does not apply to VAR"
expect var-size 2 "$gen" "${va[@]}" --class 3 --width 32 -o "$tmp/x.png"
check var-size-line one_line
expect var-prompt 2 "$gen" "${va[@]}" --prompt "a cat" -o "$tmp/x.png"
check var-prompt-line one_line
expect dit-top-k 2 "$gen" --model "$dit" --vae "$sd_vae" --class 3 --top-k 5 -o "$tmp/x.png"
check dit-top-k-line one_line
check dit-top-k-says err_has "top-k is for VAR"
check nothing-written bash -c "[ ! -e '$tmp/x.png' ]"

finish
