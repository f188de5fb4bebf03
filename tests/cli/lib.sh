# Shared helpers for the CLI tests (sourced): counters, expect/check, stderr
# and PNG predicates. The sourcing script sets `tmp` (a scratch dir) first and
# ends with `finish`.
pass=0 fail=0

expect() {  # expect NAME CODE CMD... ; stdout in $tmp/out, stderr in $tmp/err
    local name=$1 code=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -eq "$code" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $name: exit $rc, expected $code"; sed 's/^/  stderr: /' "$tmp/err" | head -5
    fi
}
check() {  # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $name"; fi
}
one_line() { [ "$(grep -c . "$tmp/err")" -eq 1 ] && grep -q '^gen: ' "$tmp/err"; }
err_has() { grep -q -- "$1" "$tmp/err"; }
out_has() { grep -q -- "$1" "$tmp/out"; }
# PNG facts from the bytes: IHDR width/height, the parameters text, IDAT size.
be32() { od -An -tu1 -j "$2" -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}'; }
png_size_is() { [ "$(be32 "$1" 16)x$(be32 "$1" 20)" = "$2" ]; }
png_param() { grep -aq -- "$2" "$1"; }
png_not_constant() {
    local off; off=$(grep -abo IDAT "$1" | head -1 | cut -d: -f1)
    [ -n "$off" ] && [ "$(be32 "$1" $((off - 4)))" -gt 200 ]
}
differs() { ! cmp -s "$1" "$2"; }
wider_than() { [ "$(be32 "$1" 16)" -gt "$2" ]; }
# Training runs (gen train): a file appearing, a loss column falling.
wait_for() {  # wait_for FILE: up to 60 s
    for _ in $(seq 1 3000); do [ -e "$1" ] && return 0; sleep 0.02; done
    return 1
}
falls() {  # falls RUN FACTOR: mean loss of the last 4 logged steps < FACTOR x that of the first 2
    awk -F, -v f="$2" 'NR > 1 {l[NR] = $2; n = NR}
             END {a = (l[2] + l[3]) / 2; b = (l[n] + l[n-1] + l[n-2] + l[n-3]) / 4; exit !(b < f * a)}' "$1/train_log.csv"
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
