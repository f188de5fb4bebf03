#!/usr/bin/env bash
# gen train --device: cpu (the default) trains and says so in the closing line; auto falls
# back to the cpu without a usable GPU (same checkpoint bytes as --device cpu);
# cuda without a usable GPU (or in a CPU-only build) is one error line (exit
# 1), for every arch with a device path (mmdit, vq, var, clip); cuda for an
# arch without one (toy) and an unknown device are usage errors (exit 2);
# --help names the GPU archs; --tf32 off cuda is a usage error. The GPU side is tests/gpu/test_gpu_train.c
# (mmdit) and tests/gpu/test_gpu_train_var.c (vq, var, clip).
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
expect train-tf32-cpu 2 "$gen" "${args[@]}" --device cpu --tf32 --out "$tmp/x"
check train-tf32-cpu-line one_line
check train-tf32-cpu-says err_has "--tf32 is for a run on cuda"
check train-tf32-cpu-nothing test ! -e "$tmp/x/latest"
expect train-tf32-export 2 "$gen" train --arch mmdit --export "$tmp/cpu" --out "$tmp/x.safetensors" --tf32
check train-tf32-export-says err_has "--export and --tf32 do not go together"
check train-tf32-export-nothing test ! -e "$tmp/x.safetensors"
expect train-bogus 2 "$gen" "${args[@]}" --device tpu --out "$tmp/x"
check train-bogus-line one_line
expect train-cuda-toy 2 "$gen" train --arch toy --steps 1 --device cuda --out "$tmp/toy"
check train-cuda-toy-line one_line
check train-cuda-toy-says err_has "toy trains on the cpu only (on the GPU: clip, mmdit, vq, ae, var)"
check train-cuda-toy-nothing test ! -e "$tmp/toy/latest"
expect help 0 "$gen" train --help
check help-device out_has "cuda (archs clip, mmdit, vq, ae, var)"
if "$gen" info --system 2>&1 | grep -q '^gpu: .*\(not built\|no GPU\)'; then
    expect train-cuda-none 1 "$gen" "${args[@]}" --device cuda --out "$tmp/x"
    check train-cuda-none-line one_line
    check train-cuda-none-says err_has "cuda"
    check train-cuda-none-nothing test ! -e "$tmp/x/latest"
    expect train-auto 0 "$gen" "${args[@]}" --device auto --out "$tmp/auto"
    check train-auto-cpu err_has "on cpu"
    check train-auto-same cmp -s "$tmp/cpu/checkpoint_2.safetensors" "$tmp/auto/checkpoint_2.safetensors"
    # vq, var and clip: the same refusal without a GPU, and auto trains on the cpu.
    vq=(train --arch vq --size tiny --steps 2 --batch 2 --warmup 1 --seed 1)
    expect vq-cuda-none 1 "$gen" "${vq[@]}" --device cuda --out "$tmp/vx"
    check vq-cuda-none-line one_line
    check vq-cuda-none-says err_has "no usable CUDA GPU"
    check vq-cuda-none-nothing test ! -e "$tmp/vx/latest"
    expect vq-cpu 0 "$gen" "${vq[@]}" --device cpu --out "$tmp/vq_cpu"
    expect vq-auto 0 "$gen" "${vq[@]}" --device auto --out "$tmp/vq_auto"
    check vq-auto-cpu err_has "on cpu"
    check vq-auto-same cmp -s "$tmp/vq_cpu/checkpoint_2.safetensors" "$tmp/vq_auto/checkpoint_2.safetensors"
    expect vq-export 0 "$gen" train --arch vq --export "$tmp/vq_cpu" --out "$tmp/vq.safetensors"
    expect var-cuda-none 1 "$gen" train --arch var --size tiny --vq "$tmp/vq.safetensors" --clip-model "$tmp/clip" \
        --steps 1 --batch 2 --device cuda --out "$tmp/rx"
    check var-cuda-none-line one_line
    check var-cuda-none-says err_has "no usable CUDA GPU"
    expect var-auto 0 "$gen" train --arch var --size tiny --vq "$tmp/vq.safetensors" --clip-model "$tmp/clip" \
        --steps 1 --batch 2 --device auto --out "$tmp/r_auto"
    check var-auto-cpu err_has "on cpu"
    expect clip-cuda-none 1 "$gen" train --arch clip --steps 1 --batch 2 --device cuda --out "$tmp/cx"
    check clip-cuda-none-line one_line
    check clip-cuda-none-says err_has "no usable CUDA GPU"
    expect clip-auto 0 "$gen" train --arch clip --steps 1 --batch 2 --device auto --out "$tmp/c_auto"
    check clip-auto-cpu err_has "on cpu"
    check clip-auto-same cmp -s "$tmp/clip/checkpoint_1.safetensors" "$tmp/c_auto/checkpoint_1.safetensors"
fi
finish
