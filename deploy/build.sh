#!/usr/bin/env bash
# Configures and builds one CMake tree. Usage: deploy/build.sh DIR [cmake args]
# Installs dependencies first (a no-op when they are present).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
dir=$1
shift
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
cmake --build "$dir" -j "${FJORD_JOBS:-$(nproc)}"
