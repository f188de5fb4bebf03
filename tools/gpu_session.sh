#!/usr/bin/env bash
# One device call for a GPU lease (15 minutes, start-up included): build for
# sm_90, run the gpu tests with the GPU to themselves, time 200 training steps
# of the latent world MMDiT in fp32 and with --tf32, train it on from the
# shipped model until TRAIN_END seconds into the call (the recipe of
# models/README.md runs 11-12), export it, bring it back gzipped in 15 MB
# parts (the device machine has no zstd), and evaluate it on the GPU at seeds
# 0 and 1. Between the tests and the training it times the DiT-XL/2 forward
# and an SD3-medium block against PyTorch (SKIP_BENCH=1: not). Everything
# lands in $OUT: summary.txt, ctest_gpu.log, logs.tgz,
# world-dit.safetensors.gz.part-*.
#
# Here, before the call (the device machine lacks libstb and OpenBLAS; the
# tree that travels is capped at 64 MiB):
#   mkdir -p .devdeps/stb && cp /usr/include/stb/stb_image*.h .devdeps/stb/ &&
#   cp -L /usr/lib/x86_64-linux-gnu/libstb.so.0 .devdeps/ && echo /.devdeps/ >> .git/info/exclude
#   mv models/world-var.safetensors.zst /tmp/    (19 MB; no gpu test reads it; put it back after)
# The call: run(command="bash tools/gpu_session.sh", carry=[".devdeps"], timeout_s=590)
# Build + tests + benches take ~6-7 minutes, which leaves one call little
# training. Two calls, the second while the machine is warm (it keeps /tmp,
# the build included; call at once, the idle window is 30 s):
#   1. run(command="SKIP_TRAIN=1 bash tools/gpu_session.sh", carry=[".devdeps"], timeout_s=480)
#   2. run(command="SKIP_BUILD=1 SKIP_TESTS=1 SKIP_BENCH=1 AE_STEPS=2000 PURE_NOISE=0.1 CAT_WEIGHTS=position=6 TRAIN_END=330 bash tools/gpu_session.sh",
#          carry=[".devdeps"], timeout_s=480)
# (the time counts from each call's start). The training adds the relation
# channel (--relation-channel, RELATION=1 by default: zero-initialised from a
# words model, so it starts as the shipped model; a model that has it needs
# it; RELATION=0 trains without). models/README.md, run 14, says why; runs 15-16
# (fourteenth session) say why PURE_NOISE and a heavier position mix: on the CPU,
# run 16 (both, with the relation channel, 77k images) took position 0.21 -> 0.31
# and 0.33, the first run to move it, while the categories it starved lost.
# Run 17 (fifteenth session, this recipe for 205k CPU images) moved only the
# vertical relations: left/right stayed with the noise (models/README.md).
# After it: cat $files_at/world-dit.safetensors.gz.part-* | gunzip > w.safetensors,
# evaluate on the CPU, pair with tools/paired_eval.py, probe with tools/position_probe.py.
#
# Env: TRAIN_END (default 480: seconds into the call when training stops),
# BATCH (128), LR (3e-4), SEED (24), RELATION (1), CAT_WEIGHTS (e.g. position=9:
# gen train --category-weights; default: the train suite's mix), PURE_NOISE (e.g. 0.1:
# gen train --pure-noise; default: none), AE_STEPS (0: when
# > 0, first train the autoencoder's decoder that many steps x 128 with
# --decoder-only --object-weight 8 from the shipped one, export it as
# world-ae.safetensors.gz.part-*, and print its reconstruction pass rate), TF32 (1: train with --tf32 when its
# 200-step probe kept the loss within 5% of fp32's; 0: always fp32),
# SKIP_TESTS=1, SKIP_BENCH=1, SKIP_TRAIN=1; for a dry run on a CPU: DEVICE=cpu, AB_STEPS,
# BUILD (a build dir) with SKIP_BUILD=1, EVAL_LIMIT (items per eval).
set -u
T0=$(date +%s)
el() { echo $(($(date +%s) - T0)); }
O=${OUT:-/tmp/gpu_session}
L=$O/logs
mkdir -p "$L"
S=$O/summary.txt
say() { echo "[$(el) s] $*" | tee -a "$S"; }
B=${BUILD:-/tmp/silt-gpu-build}
DEV=${DEVICE:-cuda}
AB=${AB_STEPS:-200}
export SILT_MODELS=$PWD/models
extra=()
if [ -d .devdeps/stb ]; then
    extra=(-DSTB_INCLUDE_DIR="$PWD/.devdeps/stb" -DSTB_LIBRARY="$PWD/.devdeps/libstb.so.0")
    export LD_LIBRARY_PATH=$PWD/.devdeps:${LD_LIBRARY_PATH:-}
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$S" 2>&1
say "commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' + local changes')"
[ "${SKIP_BUILD:-0}" = 1 ] || cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DSILT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=90-real" "${extra[@]}" \
    >$L/configure.log 2>&1 || { say "configure failed"; tail -20 $L/configure.log; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cmake --build $B -j"$(nproc)" >$L/build.log 2>&1 || { say "build failed"; tail -30 $L/build.log | tee -a "$S"; exit 1; }
say "built"
if [ "${SKIP_TESTS:-0}" != 1 ]; then
    (cd $B && timeout 240 ctest -L gpu -j3 --timeout 200 --output-on-failure) >$O/ctest_gpu.log 2>&1
    say "ctest -L gpu rc=$?: $(grep -E 'tests passed|tests failed' $O/ctest_gpu.log)"
    grep -E '\*\*\*|^[0-9]+/[0-9]+ Test' $O/ctest_gpu.log | grep -v Passed | head -12 | tee -a "$S"
fi
# The bf16 forwards against PyTorch in one run (bf16w: fp32 activations; bf16:
# the fused bf16-activation kernels), DiT-XL/2 and an SD3-medium block.
if [ "${SKIP_BENCH:-0}" != 1 ] && [ "$DEV" = cuda ]; then
    timeout 150 $B/bench_dit_gpu --reps 10 >$L/bench_dit_gpu.log 2>&1
    say "bench_dit_gpu rc=$?"
    grep -E '^(check|fp32|tf32|bf16w?|SoftPAG) ' $L/bench_dit_gpu.log | tee -a "$S"
    if python3 -c "import torch" 2>/dev/null; then
        timeout 120 python3 bench/dit_torch_gpu.py --reps 10 --silt $L/bench_dit_gpu.log >$L/dit_torch.log 2>&1
        say "dit_torch_gpu rc=$?"
        grep -E '^(mode|fp32|tf32|bf16) ' $L/dit_torch.log | tee -a "$S"
    fi
    timeout 120 $B/bench_mmdit_gpu --reps 5 --no-full >$L/bench_mmdit_gpu.log 2>&1
    say "bench_mmdit_gpu (block) rc=$?"
    grep -E '^(check|block) ' $L/bench_mmdit_gpu.log | tee -a "$S"
    if python3 -c "import torch" 2>/dev/null; then
        timeout 90 python3 bench/mmdit_torch_gpu.py --reps 5 --no-full --silt $L/bench_mmdit_gpu.log >$L/mmdit_torch.log 2>&1
        say "mmdit_torch_gpu rc=$?"
        grep -E 'block' $L/mmdit_torch.log | tee -a "$S"
    fi
    # What the precisions cost in quality: the shipped model's eval in each (seed 0).
    for p in fp32 tf32 bf16; do
        timeout 60 $B/gen eval --suite eval --device cuda --precision $p --json --per-item -q >$L/eval_shipped_$p.json 2>$L/eval_shipped_$p.err
        say "shipped model, eval seed 0, --precision $p: $(python3 -c "import json; d = json.load(open('$L/eval_shipped_$p.json')); print(d['geneval'], d['images_per_s'], 'images/s')" 2>/dev/null || tail -1 $L/eval_shipped_$p.err)"
    done
fi
[ "${SKIP_TRAIN:-0}" = 1 ] && { tar czf $O/logs.tgz -C $O logs && rm -rf $L; say "end"; exit 0; }
G=$B/gen
A=(--arch mmdit --device "$DEV" --clip-model models/world-clip.safetensors.zst --ae models/world-ae.safetensors.zst
   --init models/world-dit.safetensors.zst --size default --batch "${BATCH:-128}" --lr-min 1e-5 --ema 0.999 --clip 1
   --time-shift 3)
[ "${RELATION:-1}" = 1 ] && A+=(--relation-channel)
[ -n "${CAT_WEIGHTS:-}" ] && A+=(--category-weights "$CAT_WEIGHTS")
[ -n "${PURE_NOISE:-}" ] && A+=(--pure-noise "$PURE_NOISE")
# Fresh run folders: a second call on a warm machine (or a retry) finds the last one's in /tmp.
rm -rf /tmp/ab_fp32 /tmp/ab_tf32 /tmp/run /tmp/w.safetensors /tmp/w.gz
# The decoder (decoder-only: the latent, and so the MMDiT, stay as they are).
if [ "${AE_STEPS:-0}" -gt 0 ]; then
    rm -rf /tmp/ae_run /tmp/ae.safetensors
    "$G" train --arch ae --device "$DEV" --vq models/world-ae.safetensors.zst --decoder-only --object-weight 8 \
        --steps "$AE_STEPS" --batch 128 --lr 2e-4 --lr-min 1e-5 --warmup 50 --beta2 0.99 --weight-decay 0 --clip 1 \
        --ema 0.998 --ckpt-every 0 --log-every 100 --seed 43 --out /tmp/ae_run >$L/ae_train.log 2>&1
    say "ae decoder rc=$?; last row: $(tail -1 /tmp/ae_run/train_log.csv 2>/dev/null)"
    cp /tmp/ae_run/train_log.csv $L/ae_train_log.csv 2>/dev/null
    if "$G" train --arch ae --export /tmp/ae_run -o /tmp/ae.safetensors >$L/ae_export.log 2>&1; then
        gzip -1 -c /tmp/ae.safetensors | split -b 15m - $O/world-ae.safetensors.gz.part-
        say "ae recon, shipped: $("$G" world vq-eval --ae models/world-ae.safetensors.zst --json 2>&1 | tail -1)"
        say "ae recon, new:     $("$G" world vq-eval --ae /tmp/ae.safetensors --json 2>&1 | tail -1)"
    else
        say "ae export failed: $(tail -1 $L/ae_export.log)"
    fi
fi
# fp32 against --tf32 on the same 200 steps (the same seed: same data, same draws).
ips() { awk -F, 'END{print $5}' "$1/train_log.csv"; }
loss() { awk -F, 'NR>1{s+=$2;n++} END{printf "%.4f", s/n}' "$1/train_log.csv"; }
for m in fp32 tf32; do
    f=(); [ $m = tf32 ] && f=(--tf32)
    "$G" train "${A[@]}" "${f[@]}" --lr "${LR:-3e-4}" --warmup 100 --seed 1 --steps "$AB" --log-every 20 --ckpt-every 0 \
        --out /tmp/ab_$m >$L/ab_$m.log 2>&1 || { say "$AB-step $m run failed: $(tail -1 $L/ab_$m.log)"; continue; }
    say "$AB steps $m: $(ips /tmp/ab_$m) images/s (the last 20 steps), mean logged loss $(loss /tmp/ab_$m)"
done
use=()
if [ "${TF32:-1}" = 1 ] && [ -f /tmp/ab_tf32/train_log.csv ] && [ -f /tmp/ab_fp32/train_log.csv ] &&
    awk -v a="$(loss /tmp/ab_tf32)" -v b="$(loss /tmp/ab_fp32)" 'BEGIN{exit !(a - b < 0.05 * b && b - a < 0.05 * b)}'; then
    use=(--tf32)
fi
ab=fp32
[ ${#use[@]} -gt 0 ] && ab=tf32
e=$(awk -F, 'END{print $6}' /tmp/ab_$ab/train_log.csv 2>/dev/null)
left=$((${TRAIN_END:-480} - $(el) - 10))
N=$(awk -v e="${e:-10}" -v l="$left" -v k="$AB" 'BEGIN{n=int(l / (e / k) * 0.85); if (n < 100) n = 100; print n}')
say "training ${use[*]:-fp32} for $N steps ($left s left)"
timeout -s TERM $((left + 20)) "$G" train "${A[@]}" "${use[@]}" --lr "${LR:-3e-4}" --warmup 100 --seed "${SEED:-24}" \
    --steps "$N" --log-every 100 --ckpt-every 1000 --keep 1 --out /tmp/run >$L/train.log 2>&1
say "train rc=$?; last row: $(tail -1 /tmp/run/train_log.csv)"
cp /tmp/run/train_log.csv $L/ 2>/dev/null
finish() { tar czf $O/logs.tgz -C $O logs && rm -rf $L; say "end"; exit "$1"; }
[ -f /tmp/run/latest ] || { say "no checkpoint: nothing to export ($(tail -1 $L/train.log))"; finish 1; }
"$G" train --arch mmdit --export /tmp/run -o /tmp/w.safetensors --export-f16 --sample-steps 20 --sample-shift 1 \
    --sample-cfg 4 --sample-pag-scale 1 >$L/export.log 2>&1 &&
    gzip -1 -c /tmp/w.safetensors >/tmp/w.gz && split -b 15m /tmp/w.gz $O/world-dit.safetensors.gz.part- &&
    say "exported: sha256 $(sha256sum /tmp/w.safetensors | cut -c1-16)"
for s in 0 1; do
    "$G" eval --suite eval --model /tmp/w.safetensors --device "$DEV" --json --per-item -q --seed $s ${EVAL_LIMIT:+--limit $EVAL_LIMIT} >$L/eval_s$s.json 2>/dev/null
    say "eval seed $s: $(python3 -c "import json; d = json.load(open('$L/eval_s$s.json')); print(d['geneval'], {k[:8]: round(v['pass_rate'], 3) for k, v in d['categories'].items()})" 2>/dev/null || echo failed)"
done
finish 0
