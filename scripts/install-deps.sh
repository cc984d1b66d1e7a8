#!/usr/bin/env bash
# Installs the Debian 12 packages the build and tests need; a no-op (and fast) when all are
# present. Runs `apt-get update` once, and only if something is missing.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ gcc pkg-config        # toolchain
  libseccomp-dev libabsl-dev libunwind-dev     # sentry/gofer libraries
  libprotobuf-dev protobuf-compiler            # gofer wire + boot spec
  libxbyak-dev                                 # stub code generation
  libgtest-dev libgmock-dev                    # tests
  python3                                      # e2e driver and the demo's python3 guest
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
