#!/usr/bin/env bash
# One short device run for VAR on the GPU (issue 6): builds only the targets
# it needs and runs the gpu tests of the VAR device path: the new forward
# twins (test_cuda_var_ops), the codebook search among the other twins
# (test_cuda_misc, test_cuda_resample), the VAR / VQ forward, KV-cached
# generation and search steps cuda vs cpu (test_gpu_var) and
# `gen --arch var --device cuda` vs cpu PNGs (test_gpu_var_cli), with their
# wall times.
#
#   bench/var_gpu.sh [build-dir]      (default: build-gpu next to the sources)
#   env: JOBS (default nproc), LOGDIR (default $OUT, else the build dir),
#        CUDA_ARCH (default "90-real;80-virtual").
# Prints a short summary last; full logs go to LOGDIR.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 4)}
arch=${CUDA_ARCH:-90-real;80-virtual}
logdir=${LOGDIR:-${OUT:-$build}}
mkdir -p "$build" "$logdir" || exit 1

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSILT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch" \
    >"$logdir/var_configure.log" 2>&1 || { tail -20 "$logdir/var_configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target gen test_cuda_var_ops test_cuda_misc test_cuda_resample test_gpu_var \
    test_gpu_var_cli >"$logdir/var_build.log" 2>&1 || { tail -40 "$logdir/var_build.log"; exit 1; }

(cd "$build" && ctest -R '^(test_cuda_var_ops|test_cuda_misc|test_cuda_resample|test_gpu_var|test_gpu_var_cli)$' \
    --output-on-failure -V) >"$logdir/var_ctest.log" 2>&1
rc=$?

echo
echo "VAR gpu run ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
grep -E "device: " "$logdir/var_ctest.log" | head -1
grep -E "FAIL|off,|differ|not |SKIP|tests passed|tests failed|Failed|Passed +[0-9.]+ sec" "$logdir/var_ctest.log" |
    grep -vE "^[0-9]+: ok " | tail -30
echo "ctest rc $rc"
exit $rc
