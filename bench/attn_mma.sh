#!/usr/bin/env bash
# One short device run for the tensor-core attention forward
# (attention_fwd_cuda_bf16, cuda/ops_attention_mma.cu): builds only the
# targets it needs, runs the attention gpu tests (the fp32 twins and the
# bf16 kernel vs the CPU), the attention lines of bench_gpu_ops (fp32 and
# bf16 mma TFLOP/s) and bench_dit_gpu (tf32/bf16 modes use the new kernel),
# then, unless SKIP_TORCH=1, the PyTorch eager twin for torch/silt.
#
#   bench/attn_mma.sh [build-dir]      (default: build-gpu next to the sources)
#   env: JOBS (default nproc), ITERS (default 20), LOGDIR (default $OUT, else
#        the build dir), CUDA_ARCH (default "90-real;80-virtual").
# Prints a short summary last; full logs go to LOGDIR.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 4)}
iters=${ITERS:-20}
arch=${CUDA_ARCH:-90-real;80-virtual}
logdir=${LOGDIR:-${OUT:-$build}}
mkdir -p "$build" "$logdir" || exit 1

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSILT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch" \
    >"$logdir/attn_configure.log" 2>&1 || { tail -20 "$logdir/attn_configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target test_cuda_attention test_cuda_attention_mma bench_gpu_ops bench_dit_gpu \
    >"$logdir/attn_build.log" 2>&1 || { tail -40 "$logdir/attn_build.log"; exit 1; }

(cd "$build" && ctest -R '^test_cuda_attention' --output-on-failure) >"$logdir/attn_ctest.log" 2>&1
test_rc=$?
"$build/bench_gpu_ops" "$iters" >"$logdir/attn_bench_gpu_ops.log" 2>&1
ops_rc=$?
"$build/bench_dit_gpu" --reps "$iters" >"$logdir/bench_dit_gpu.log" 2>&1
dit_rc=$?
torch_out="torch: skipped (SKIP_TORCH=1)"
if [ "${SKIP_TORCH:-0}" != 1 ]; then
    torch_out=$("${SILT_TORCH_PYTHON:-python3}" "$root/bench/dit_torch_gpu.py" --reps "$iters" \
        --silt "$logdir/bench_dit_gpu.log" 2>"$logdir/dit_torch_gpu.err") ||
        torch_out="torch twin failed: $(tail -3 "$logdir/dit_torch_gpu.err")"
fi

echo
echo "attention mma run ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
grep -E "^(FAIL|not ok)|off,|rerun|dispatch|tests passed|tests failed|Failed|Skipped|SKIP" "$logdir/attn_ctest.log" |
    grep -vE "^ok " | tail -20
grep -E "D72 .*(out|lse)|D128 .*(out|lse)" "$logdir/attn_ctest.log" | grep "B2 H16\|B1 H3 Tq200" | head -8
echo "ctest rc $test_rc"
grep -E "^ops on|attention" "$logdir/attn_bench_gpu_ops.log"
[ $ops_rc -eq 0 ] || echo "bench_gpu_ops exited with $ops_rc"
grep -v '^silt_ms ' "$logdir/bench_dit_gpu.log"
[ $dit_rc -eq 0 ] || echo "bench_dit_gpu exited with $dit_rc"
echo "$torch_out"
[ $test_rc -eq 0 ] && [ $ops_rc -eq 0 ] && [ $dit_rc -eq 0 ]
