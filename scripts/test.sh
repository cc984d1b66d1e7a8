#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, build, run every test; then build with
# ASan+UBSan and run the unit tests and the sandboxed compatibility tests under it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 600 -LE bench)
(cd build && ctest -L bench -V | grep -E "^[0-9]+: (getppid|/bin/true)") || true  # informational: prints ratios
if [[ "${SKIP_SANITIZE:-0}" != 1 ]]; then
  BUILD_DIR=build-asan scripts/build.sh -DSANITIZE=ON
  (cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j2 --timeout 900 -L 'unit|sandbox')
fi
