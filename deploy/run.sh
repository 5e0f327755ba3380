#!/usr/bin/env bash
# The main job, from a fresh Debian bookworm machine: installs what the build
# needs, builds, and runs a single-node fjord-broker on its embedded default
# (Kafka protocol on 127.0.0.1:9092, data in ./fjord-data). Extra arguments
# go to fjord-broker (see --help). Stop it with Ctrl-C (a clean shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec build/bin/fjord-broker "$@"
