#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the `sandbox run` demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
S=build/bin/sandbox
set -x
$S run -- /bin/echo hello
$S run -- /bin/ls -la /usr/bin | tail -n 5   # tail reads all (head would end ls with SIGPIPE: 141 under pipefail)
$S run -- /bin/cat /etc/os-release
$S run -- /usr/bin/python3 -c 'import json,hashlib; print(json.dumps({"h": hashlib.sha256(b"x").hexdigest()}))'
$S run -- /bin/uname -a
$S run --strace -- /bin/true
