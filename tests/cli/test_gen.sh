#!/usr/bin/env bash
# CLI contract of gen: exit codes (0 ok, 1 runtime failure, 2 usage error),
# one clear line on stderr for errors, files not clobbered on failure, and the
# smoke render. Usage: test_gen.sh PATH/TO/gen
set -u
gen=${1:?usage: test_gen.sh GEN}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/lib.sh"


expect version 0 "$gen" --version
check version-text grep -q '^gen (silt) ' "$tmp/out"
expect help 0 "$gen" --help
check help-lists-info grep -q 'info' "$tmp/out"
expect no-args 2 "$gen"
expect unknown-command 2 "$gen" frobnicate
check unknown-command-line one_line
expect unknown-flag 2 "$gen" pattern --no-such-flag
check unknown-flag-names-it grep -q "no-such-flag" "$tmp/err"
check unknown-flag-line one_line
expect bad-int 2 "$gen" pattern --seed abc
check bad-int-line one_line
expect out-of-range 2 "$gen" pattern --width 3
expect missing-value 2 "$gen" pattern --seed
expect pattern-help 0 "$gen" pattern --help
check help-shows-default grep -q 'default: 256' "$tmp/out"

# info --system
expect info-system 0 "$gen" info --system
check info-system-blas grep -q '^blas: .*kernel' "$tmp/out"
check info-system-gpu grep -q '^gpu: ' "$tmp/out"
expect info-missing-arg 2 "$gen" info

# info on bad files: one line, exit 1, never a crash
expect info-missing-file 1 "$gen" info "$tmp/none.safetensors"
check info-missing-file-line one_line
printf 'short' >"$tmp/short.safetensors"
expect info-short 1 "$gen" info "$tmp/short.safetensors"
check info-short-line one_line
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":{"dtype":' >"$tmp/trunc.safetensors"
expect info-truncated 1 "$gen" info "$tmp/trunc.safetensors"
check info-truncated-line one_line
head -c 100 /dev/urandom >"$tmp/random.safetensors"
expect info-random 1 "$gen" info "$tmp/random.safetensors"

# info on a real file (the safetensors golden written by the Python library)
golden="${SILT_SOURCE_DIR:-.}/tests/golden/st_reference.safetensors"
if [ -f "$golden" ]; then
    expect info-golden 0 "$gen" info "$golden"
    check info-golden-params grep -q '^parameters:' "$tmp/out"
fi

# pattern: a PNG with the parameters chunk; grid; failures leave files alone
expect pattern 0 "$gen" pattern -o "$tmp/p.png" --seed 7 --width 64 --height 48
check pattern-png bash -c "head -c 8 '$tmp/p.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'"
check pattern-text grep -aq 'parameters' "$tmp/p.png"
check pattern-seed grep -aq 'seed: 7' "$tmp/p.png"
expect pattern-again 0 "$gen" pattern -o "$tmp/q.png" --seed 7 --width 64 --height 48
check pattern-deterministic cmp -s "$tmp/p.png" "$tmp/q.png"
expect pattern-other-seed 0 "$gen" pattern -o "$tmp/r.png" --seed 8 --width 64 --height 48
check pattern-seed-matters bash -c "! cmp -s '$tmp/p.png' '$tmp/r.png'"
expect grid 0 "$gen" pattern -o "$tmp/g.png" --grid 4 --width 32 --height 32
check grid-bigger bash -c "[ \$(stat -c %s '$tmp/g.png') -gt \$(stat -c %s '$tmp/p.png') ]"
expect pattern-bad-dir 1 "$gen" pattern -o "$tmp/no/such/dir/x.png"
check pattern-bad-dir-line one_line
cp "$tmp/p.png" "$tmp/keep.png"
chmod 500 "$tmp" 2>/dev/null
if [ "$(id -u)" -ne 0 ]; then
    expect pattern-readonly-dir 1 "$gen" pattern -o "$tmp/keep.png" --seed 9
    check pattern-kept cmp -s "$tmp/p.png" "$tmp/keep.png"
fi
chmod 700 "$tmp"
check no-temp-files-left bash -c "! ls '$tmp' | grep -q '\.tmp'"

finish
