#!/usr/bin/env bash
# The main job, from a fresh Debian bookworm machine: installs what the build
# needs, builds, and runs it. Until the broker exists the main job is the
# storage engine demo: append 1,000,000 records to ./fjord-data, stop cleanly,
# restart, and read every record back through the CRC-checked read path.
# Extra arguments go to `fjord storage-demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec build/bin/fjord storage-demo "$@"
