#!/usr/bin/env bash
# Installs, from Debian bookworm's packages only, exactly what fjord's build and
# test suite need. Does nothing (and touches no network) when all are present.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # log/: batch codecs and utilities
  libabsl-dev libfmt-dev libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev
  libspdlog-dev libcli11-dev
  # tools/: JSON output; jq reads it in the tool's tests, script(1) gives
  # them a terminal
  nlohmann-json3-dev jq bsdutils
  # broker/: Kafka protocol over Asio, /metrics over cpp-httplib
  libasio-dev libcpp-httplib-dev
  # proto/: the gRPC control plane
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # tests and benchmarks; clang's libFuzzer for the fuzz targets
  catch2 libbenchmark-dev clang libclang-rt-14-dev
  # independent Kafka clients for end-to-end tests
  kcat librdkafka-dev
  # the peers fjord is measured beside (perf/peers.sh, tests/perf/)
  nats-server redis-server redis-tools
  # cluster metadata (broker/cluster/): etcd, and etcdctl for the tests
  etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
