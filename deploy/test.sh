#!/usr/bin/env bash
# The whole test suite, from a fresh Debian bookworm machine: installs what
# the build needs, then builds and runs every test twice, once optimized and
# once under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${FJORD_JOBS:-$(nproc)}

echo "== build (RelWithDebInfo)"
bash deploy/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== test (RelWithDebInfo)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900

echo "== build (ASan + UBSan)"
bash deploy/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DFJORD_SANITIZE=ON \
  -DFJORD_BUILD_BENCHMARKS=OFF
echo "== test (ASan + UBSan)"
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 1800
