#!/usr/bin/env bash
# Producer and consumer throughput of the client library (stopgap for
# issue 9's perf/run.sh): starts a broker on a temporary data directory,
# runs each scenario RUNS times (median reported), stops the broker by PID.
# Usage: perf/client_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build}
runs=${2:-3}
bench="$build/bin/fjord_client_benchmark"
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-client-bench-XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
"$build/bin/fjord-broker" --data-dir "$dir/data" --kafka-addr 127.0.0.1:0 \
  --grpc-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 > "$dir/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  kport=$(sed -n 's/.*serving Kafka on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
  gport=$(sed -n 's/.*serving gRPC admin on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
  [ -n "$kport" ] && [ -n "$gport" ] && break
  sleep 0.1
done
B="127.0.0.1:$kport"; A="127.0.0.1:$gport"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
echo "| records | size | partitions | acks | produce records/s | produce MB/s | consume records/s |"
echo "|---|---|---|---|---|---|---|"
n=0
for size in 100 1024; do
  records=$([ "$size" = 100 ] && echo 3000000 || echo 600000)
  for parts in 1 6; do
    for acks in 1 all; do
      p_rps=(); p_mbs=(); c_rps=()
      for r in $(seq 1 "$runs"); do
        n=$((n + 1)); topic="bench-$n"
        out=$("$bench" produce --bootstrap "$B" --admin "$A" --topic "$topic" \
          --records "$records" --record-size "$size" --partitions "$parts" --acks "$acks")
        p_rps+=("$(echo "$out" | field records_per_sec)")
        p_mbs+=("$(echo "$out" | field mb_per_sec)")
        out=$("$bench" consume --bootstrap "$B" --topic "$topic" --records "$records" \
          --partitions "$parts")
        c_rps+=("$(echo "$out" | field records_per_sec)")
        "$bench" delete --admin "$A" --topic "$topic"
      done
      echo "| $records | $size | $parts | $acks | $(printf '%s\n' "${p_rps[@]}" | median) | $(printf '%s\n' "${p_mbs[@]}" | median) | $(printf '%s\n' "${c_rps[@]}" | median) |"
    done
  done
done
