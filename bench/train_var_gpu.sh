#!/usr/bin/env bash
# One short device run for VQ / VAR / world-CLIP training on the GPU (issue 6):
# builds only the targets it needs and runs the gpu tests of that path: the
# new twins (test_cuda_var_ops: the scale clamp's backward and the VAR
# cross-entropy; test_cuda_clip: the InfoNCE), the device backward chain the
# tokenizer uses (test_gpu_backward), the cpu-only gate (test_gpu_models) and
# the training itself, cuda vs cpu through the trainer's tasks plus the CLI
# (test_gpu_train_var), with their wall times.
#
#   bench/train_var_gpu.sh [build-dir]      (default: build-gpu next to the sources)
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
tests='test_cuda_var_ops test_cuda_clip test_gpu_backward test_gpu_models test_gpu_train_var'

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSILT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch" \
    >"$logdir/train_var_configure.log" 2>&1 || { tail -20 "$logdir/train_var_configure.log"; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target gen $tests >"$logdir/train_var_build.log" 2>&1 ||
    { tail -40 "$logdir/train_var_build.log"; exit 1; }

(cd "$build" && ctest -R "^($(echo $tests | tr ' ' '|'))\$" --output-on-failure -V) >"$logdir/train_var_ctest.log" 2>&1
rc=$?

echo
echo "VQ/VAR/CLIP training gpu run ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
grep -E "device: " "$logdir/train_var_ctest.log" | head -1
grep -E "BAD|FAIL|off,|differ|not |SKIP|loss cpu|loss: cuda|tests passed|tests failed|Failed|Passed +[0-9.]+ sec" \
    "$logdir/train_var_ctest.log" | grep -vE "^[0-9]+: ok |0 of [0-9]+ code indices differ" | tail -40
echo "ctest rc $rc"
exit $rc
