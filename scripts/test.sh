#!/usr/bin/env bash
# Builds silt (installing what a fresh machine lacks) and runs the test suite:
# every ctest label except gpu (gpu tests report SKIP without a GPU anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build -DSILT_CUDA=AUTO -DSILT_WERROR=ON
cd build
ctest -LE gpu --output-on-failure -j2
