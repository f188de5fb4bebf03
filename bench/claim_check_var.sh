#!/usr/bin/env bash
# The issue-5 claim check (TTS-VAR, METHODS.md sec. 5): on the eval suite with
# the world VAR, world-GenEval per category and the compute of
#   no search; best-of-N at N = 2, 4, 8; importance sampling (N = 8);
#   TTS-VAR at N = 2, 4, 8,
# as one markdown table, then the intermediate-vs-final reward correlation per
# scale. The paper (Infinity-2B, GenEval) finds TTS-VAR at N = 2 (0.740) beats
# best-of-8 (0.736); compare at equal compute (the token-forwards / FLOPs
# columns are multiples of one plain sample).
#
# Usage: bench/claim_check_var.sh [--gen build/gen] [--model VAR --vq VQ --clip CLIP]
#                                 [--limit N] [--suite eval|heldout] [--reward eval|clip]
#                                 [--corr-n N] [--only "none bon2 ..."] [-- extra gen eval flags]
# Without --model/--vq/--clip the built-in world VAR is used. --limit 0 runs
# the whole suite (504 prompts x 9 configurations: hours on a CPU; start with
# --limit 56, 8 per category). Results also go to claim_check_var.json
# (one JSON object per configuration) in the current folder.
set -euo pipefail
gen=build/gen limit=56 suite=eval reward=eval corr_n=4 only="" model=() extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --gen) gen=$2; shift 2 ;;
    --model|--vq|--clip) model+=("$1" "$2"); shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --reward) reward=$2; shift 2 ;;
    --corr-n) corr_n=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "claim_check_var.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$gen" ] || { echo "claim_check_var.sh: no gen at $gen (--gen PATH)" >&2; exit 2; }
configs=(
    "none|no search|"
    "bon2|best-of-N, N=2|--search best-of-n --n 2"
    "bon4|best-of-N, N=4|--search best-of-n --n 4"
    "bon8|best-of-N, N=8|--search best-of-n --n 8"
    "is8|importance, N=8, lambda 10|--search importance --n 8 --lambda 10"
    "tts2|TTS-VAR, N=2|--search tts --n 2"
    "tts4|TTS-VAR, N=4|--search tts --n 4"
    "tts8|TTS-VAR, N=8|--search tts --n 8"
)
out=claim_check_var.json
: > "$out"
for c in "${configs[@]}"; do
    IFS='|' read -r key label flags <<< "$c"
    if [ -n "$only" ] && [[ " $only " != *" $key "* ]]; then continue; fi
    rflags=()
    [ "$key" != none ] && rflags=(--reward "$reward")
    echo "[$(date +%H:%M:%S)] $label" >&2
    # shellcheck disable=SC2086
    json=$("$gen" eval --suite "$suite" --arch var "${model[@]}" --limit "$limit" $flags "${rflags[@]}" "${extra[@]}" --json -q)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["key"]=sys.argv[2]; d["label"]=sys.argv[3]; d["flags"]=sys.argv[4]; print(json.dumps(d))' \
        "$json" "$key" "$label" "$flags" >> "$out"
done
python3 "$(dirname "$0")/claim_check_var_table.py" "$out"
echo >&2 "[$(date +%H:%M:%S)] reward correlation (n $corr_n)"
"$gen" eval --suite "$suite" --arch var "${model[@]}" --limit "$limit" --reward-correlation --n "$corr_n" \
    --reward "$reward" "${extra[@]}" -q
