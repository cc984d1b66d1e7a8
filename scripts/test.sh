#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, build, run every test; then build with
# ASan+UBSan and run the unit tests and the sandboxed compatibility tests under it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j2 --timeout 600 -LE bench)
(cd build && ctest -L bench -V | grep -E "^[0-9]+: (getppid|/bin/true|fork\+exec|futex)") || true  # informational: prints ratios
if [[ "${SKIP_SANITIZE:-0}" != 1 ]]; then
  BUILD_DIR=build-asan scripts/build.sh -DSANITIZE=ON
  # Unit tests run with LeakSanitizer. The sandboxed runs do not: LSan's stop-the-world
  # cannot work in the sentry (PID 1 of its namespace, itself a ptrace tracer).
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j2 --timeout 900 -L unit)
  (cd build-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j2 --timeout 900 -L sandbox)
fi
