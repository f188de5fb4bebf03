#!/usr/bin/env bash
# gen generate --device: cpu runs everywhere and says so in the closing line;
# cuda without a usable GPU (or in a CPU-only build) fails at run time with
# one line (exit 1); an unknown device is a usage error (exit 2); so is a
# --precision other than fp32 on the cpu. The CUDA side against the CPU is
# tests/gpu/test_gpu_cli.c.
# Usage: test_device.sh PATH/TO/gen
set -u
gen=${1:?usage: test_device.sh GEN}
src=${SILT_SOURCE_DIR:-.}
G=$src/tests/golden
dit=$G/dit_diffusers.model.safetensors
vae=$G/vae_sd.model.safetensors
for f in "$dit" "$vae"; do
    [ -f "$f" ] || { echo "SKIP: $f missing"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"

args=(--model "$dit" --vae "$vae" --class 3 --steps 2 -q)
expect device-cpu 0 "$gen" generate "${args[@]}" --device cpu -o "$tmp/cpu.png"
check device-cpu-says err_has "model evaluations on cpu"
check device-cpu-png png_size_is "$tmp/cpu.png" 16x16
expect device-bogus 2 "$gen" generate "${args[@]}" --device tpu -o "$tmp/x.png"
check device-bogus-line one_line
# --precision: fp32 is the default (same image, nothing recorded); tf32 and
# bf16 run on cuda only, so on the cpu they are usage errors that write nothing.
expect precision-fp32 0 "$gen" generate "${args[@]}" --device cpu --precision fp32 -o "$tmp/fp32.png"
check precision-fp32-same cmp -s "$tmp/cpu.png" "$tmp/fp32.png"
for p in tf32 bf16; do
    expect precision-$p-cpu 2 "$gen" generate "${args[@]}" --device cpu --precision $p -o "$tmp/p_$p.png"
    check precision-$p-cpu-line one_line
    check precision-$p-cpu-says err_has "--precision $p runs on cuda"
    check precision-$p-cpu-nofile bash -c "[ ! -e '$tmp/p_$p.png' ]"
done
expect precision-bogus 2 "$gen" generate "${args[@]}" --device cpu --precision fp16 -o "$tmp/x.png"
check precision-bogus-line one_line
if "$gen" info --system 2>&1 | grep -q '^gpu: .*\(not built\|no GPU\)'; then
    # auto without a GPU runs on the cpu: a non-fp32 precision is refused.
    expect precision-auto-none 2 "$gen" generate "${args[@]}" --device auto --precision bf16 -o "$tmp/x.png"
    check precision-auto-none-says err_has "no usable GPU"
    expect device-cuda-none 1 "$gen" generate "${args[@]}" --device cuda -o "$tmp/x.png"
    check device-cuda-none-line one_line
    check device-cuda-none-says err_has "cuda"
    # auto falls back to the CPU and gives the same image.
    expect device-auto 0 "$gen" generate "${args[@]}" --device auto -o "$tmp/auto.png"
    check device-auto-cpu err_has "model evaluations on cpu"
    check device-auto-same cmp -s "$tmp/cpu.png" "$tmp/auto.png"
    # gen eval --suite --device likewise (on a tiny random world model).
    expect world-model 0 "$gen" world test-model -o "$tmp/w.safetensors"
    expect clip 0 "$gen" train --arch clip --steps 1 --batch 2 --out "$tmp/clip"
    ev=(eval --suite eval --model "$tmp/w.safetensors" --clip "$tmp/clip/checkpoint_1.safetensors" --limit 2 --steps 2 -q --json)
    expect eval-cuda-none 1 "$gen" "${ev[@]}" --device cuda
    check eval-cuda-none-line one_line
    expect eval-auto 0 "$gen" "${ev[@]}" --device auto
    check eval-auto-quiet bash -c "[ ! -s '$tmp/err' ]"
    check eval-json-precision grep -q '"precision": "fp32"' "$tmp/out"
    expect eval-precision-cpu 2 "$gen" "${ev[@]}" --device cpu --precision bf16
    check eval-precision-cpu-line one_line
fi
expect eval-device-render 2 "$gen" eval --suite eval --model render --device cpu --limit 1 -q
finish
