#!/usr/bin/env bash
# gen train --device: cpu (the default) trains and says so in the closing line; auto falls
# back to the cpu without a usable GPU (same checkpoint bytes as --device cpu);
# cuda without a usable GPU (or in a CPU-only build) is one error line (exit
# 1); cuda for an arch without a device path and an unknown device are usage
# errors (exit 2). The GPU side is tests/gpu/test_gpu_train.c.
# Usage: test_train_device.sh PATH/TO/gen
set -u
gen=${1:?usage: test_train_device.sh GEN}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1

expect clip 0 "$gen" train --arch clip --steps 1 --batch 2 --out "$tmp/clip"
args=(train --arch mmdit --size tiny --clip-model "$tmp/clip" --steps 2 --batch 2 --warmup 1 --seed 1)
expect train-cpu 0 "$gen" "${args[@]}" --device cpu --out "$tmp/cpu"
check train-cpu-says err_has "on cpu"
check train-cpu-ckpt test -f "$tmp/cpu/checkpoint_2.safetensors"
expect train-default 0 "$gen" "${args[@]}" --out "$tmp/default"
check train-default-cpu err_has "on cpu"
check train-default-same cmp -s "$tmp/cpu/checkpoint_2.safetensors" "$tmp/default/checkpoint_2.safetensors"
expect train-bogus 2 "$gen" "${args[@]}" --device tpu --out "$tmp/x"
check train-bogus-line one_line
expect train-cuda-vq 2 "$gen" train --arch vq --size tiny --steps 1 --device cuda --out "$tmp/vq"
check train-cuda-vq-line one_line
if "$gen" info --system 2>&1 | grep -q '^gpu: .*\(not built\|no GPU\)'; then
    expect train-cuda-none 1 "$gen" "${args[@]}" --device cuda --out "$tmp/x"
    check train-cuda-none-line one_line
    check train-cuda-none-says err_has "cuda"
    check train-cuda-none-nothing test ! -e "$tmp/x/latest"
    expect train-auto 0 "$gen" "${args[@]}" --device auto --out "$tmp/auto"
    check train-auto-cpu err_has "on cpu"
    check train-auto-same cmp -s "$tmp/cpu/checkpoint_2.safetensors" "$tmp/auto/checkpoint_2.safetensors"
fi
finish
