#!/usr/bin/env bash
# Session 12 device run: build, gpu tests (alongside), a timed latent world-MMDiT
# run from the shipped model (word channel + --time-shift 3), export, GPU evals,
# a short attention bench. Everything lands in $OUT.
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
O=${OUT:-/tmp/out}; mkdir -p "$O/logs"; L=$O/logs
S=$O/summary.txt; say() { echo "[$(el) s] $*" | tee -a "$S"; }
TRAIN_END=${TRAIN_END:-430}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader >>"$S" 2>&1
say "commit $(git rev-parse --short HEAD) + local changes"
B=/tmp/b; export SILT_MODELS=$PWD/models LD_LIBRARY_PATH=$PWD/.devdeps:${LD_LIBRARY_PATH:-}
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DSILT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=90-real" -DSTB_INCLUDE_DIR=$PWD/.devdeps/stb -DSTB_LIBRARY=$PWD/.devdeps/libstb.so.0 >$L/configure.log 2>&1 || { say "configure failed"; tail -20 $L/configure.log; exit 1; }
cmake --build $B -j16 --target gen >$L/build_gen.log 2>&1 || { say "gen build failed"; tail -40 $L/build_gen.log | tee -a $S; exit 1; }
say "gen built"
(cmake --build $B -j12 >$L/build_all.log 2>&1; echo $? >$L/build_all.rc) &
BP=$!
G=$B/gen
A=(--arch mmdit --device cuda --clip-model models/world-clip.safetensors.zst --ae models/world-ae.safetensors.zst
   --init models/world-dit.safetensors.zst --size default --batch 128 --lr 4e-4 --lr-min 1e-5 --warmup 200
   --ema 0.999 --clip 1 --seed 21 --time-shift 3)
probe() {  # $1 = dir; 30 steps; echo seconds of steps 10..30 or fail
    rm -rf "$1"; "$G" train "${A[@]}" --steps 30 --log-every 10 --ckpt-every 0 --out "$1" >"$1.log" 2>&1 || return 1
    awk -F, 'NR>1{print}' "$1/train_log.csv" | tee -a "$S"
    awk -F, 'NR>1 && ($2!=$2+0 || $2>1.5){bad=1} END{exit bad}' "$1/train_log.csv"
}
ENVS=""
if probe /tmp/probe; then say "probe ok (default paths)"
else
    say "probe FAILED with the default paths: $(tail -2 /tmp/probe.log | tr '\n' ' ')"
    export SILT_CUDA_MULTI=0 SILT_CUBLASLT=0; ENVS="SILT_CUDA_MULTI=0 SILT_CUBLASLT=0"
    if probe /tmp/probe2; then say "probe ok with $ENVS"; else say "probe FAILED with $ENVS too: $(tail -2 /tmp/probe2.log | tr '\n' ' ')"; ENVS=FAIL; fi
fi
cp /tmp/probe*.log $L/ 2>/dev/null
if [ "$ENVS" != FAIL ]; then
    e10=$(awk -F, 'NR==2{print $6}' /tmp/probe*/train_log.csv | tail -1); e30=$(awk -F, 'NR==4{print $6}' /tmp/probe*/train_log.csv | tail -1)
    left=$(( TRAIN_END - $(el) - 15 ))
    N=$(awk -v a="$e10" -v b="$e30" -v l="$left" 'BEGIN{sp=(b-a)/20; n=int(l/sp*0.85); if(n<200)n=200; print n}')
    say "probe: 20 steps in $(awk -v a=$e10 -v b=$e30 'BEGIN{print b-a}') s (build alongside); $left s left -> $N steps"
    timeout -s TERM $(( left + 20 )) "$G" train "${A[@]}" --steps "$N" --log-every 100 --ckpt-every 1000 --keep 1 \
        --out /tmp/run >$L/train.log 2>&1 &
    TP=$!
fi
wait $BP; say "all built rc=$(cat $L/build_all.rc)"; tail -5 $L/build_all.log | grep -i error | tee -a $S
(cd $B && timeout 150 ctest -L gpu --timeout 100 --output-on-failure) >$O/ctest_gpu.log 2>&1
say "ctest rc=$? (training alongside): $(grep -E 'tests passed|tests failed' $O/ctest_gpu.log)"
grep -E "Failed|\*\*\*" $O/ctest_gpu.log | head -12 | tee -a $S
if [ "$ENVS" != FAIL ]; then
    wait $TP; say "train rc=$?; last row: $(tail -1 /tmp/run/train_log.csv)"
    cp /tmp/run/train_log.csv $L/
    "$G" train --arch mmdit --export /tmp/run -o /tmp/w.safetensors --export-f16 --sample-steps 20 --sample-shift 1 \
        --sample-cfg 4 --sample-pag-scale 1 >$L/export.log 2>&1 && say "exported $(sha256sum /tmp/w.safetensors | cut -c1-16)"
    for s in 0 1; do
        "$G" eval --suite eval --model /tmp/w.safetensors --device cuda --json --per-item -q --seed $s >$L/gpu_eval_s$s.json 2>$L/gpu_eval_s$s.err
        say "gpu eval seed $s rc=$?: $(python3 -c "import json;d=json.load(open('$L/gpu_eval_s$s.json'));print(d['geneval'],{k[:6]:round(v['pass_rate'],3) for k,v in d['categories'].items()})" 2>&1 | cut -c1-300)"
    done
    zstd -19 -T16 -q -f /tmp/w.safetensors -o /tmp/w.zst && split -b 15m /tmp/w.zst $O/model.zst.part- && say "model $(stat -c %s /tmp/w.zst) bytes"
fi
for v in 1 2; do
    [ $(el) -lt 540 ] || break
    timeout 30 $B/bench_mmdit_gpu --reps 3 --no-full --attn-mma $v >$L/bench_mmdit_attn$v.log 2>&1
    say "bench_mmdit_gpu --attn-mma $v rc=$?"; grep -v '^silt_ms' $L/bench_mmdit_attn$v.log | tail -8 >>$S
done
[ $(el) -lt 555 ] && { timeout 25 $B/bench_gpu_ops >$L/bench_gpu_ops.log 2>&1; say "bench_gpu_ops rc=$?"; grep -i "attn\|attention" $L/bench_gpu_ops.log >>$S; }
tar czf $O/logs.tgz -C $O logs; rm -rf $L
say "end"
