#!/usr/bin/env bash
# acks=all produce throughput of a local 3-broker cluster (deploy/cluster.sh:
# etcd + 3 brokers on 127.0.0.2-4, kernel-chosen ports) as seen by kcat,
# for a topic of one partition with replication factor RF: RF=3 measures
# what replication costs (every batch waits for both followers' fetches),
# RF=1 the same cluster without it. Produces RECORDS records of SIZE bytes
# with kcat -P -X acks=all, REPS times (a fresh topic each), prints every
# run and the median, and stops the cluster by its recorded PIDs.
#
# Usage: perf/cluster_acks_bench.sh [BUILD_DIR]   (default: build)
# Environment: RF (3), RECORDS (200000), SIZE (100), REPS (3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rf=${RF:-3}
records=${RECORDS:-200000}
size=${SIZE:-100}
reps=${REPS:-3}
export FJORD_BROKER="$build/bin/fjord-broker"
[ -x "$FJORD_BROKER" ] || { echo "no $FJORD_BROKER: build first" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat is not installed" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-cluster-bench-XXXXXX")
cleanup() {
  bash deploy/cluster.sh stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
export ETCD_PORT=0 KAFKA_PORT=0 GRPC_PORT=0 METRICS_PORT=0
min_isr=$((rf < 2 ? 1 : 2))
BROKER_SET="num.partitions=1 default.replication.factor=$rf min.insync.replicas=$min_isr" \
  bash deploy/cluster.sh start 3 "$dir" >"$dir/start.out" 2>&1 ||
  { cat "$dir/start.out" >&2; exit 1; }
bootstrap=$(cat "$dir/bootstrap")
# The controller (broker 1) places topics with the brokers it sees.
for _ in $(seq 1 100); do
  kcat -b "$(cat "$dir/broker-1.address")" -L 2>/dev/null | grep -q " 3 brokers:" && break
  sleep 0.1
done

payload=$(head -c "$size" /dev/zero | tr '\0' 'x')
awk -v n="$records" -v p="$payload" 'BEGIN { for (i = 0; i < n; i++) print p }' >"$dir/in"

rates=()
for rep in $(seq 1 "$reps"); do
  topic="bench-rf$rf-$rep"
  # Metadata creates the topic; wait until it has a leader.
  for _ in $(seq 1 100); do
    kcat -b "$bootstrap" -L -t "$topic" 2>/dev/null | grep -q "leader [1-3]," && break
    sleep 0.1
  done
  start=$(date +%s%N)
  kcat -b "$bootstrap" -P -t "$topic" -p 0 -X acks=all <"$dir/in"
  end=$(date +%s%N)
  # Every record acknowledged and readable (below the high watermark).
  got=$(kcat -b "$bootstrap" -C -t "$topic" -p 0 -o beginning -e -q | wc -l)
  [ "$got" -eq "$records" ] || { echo "read back $got of $records records" >&2; exit 1; }
  ms=$(((end - start) / 1000000))
  rate=$((records * 1000 / (ms > 0 ? ms : 1)))
  echo "run $rep: rf=$rf acks=all $records x ${size} B in $ms ms: $rate records/s"
  rates+=("$rate")
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((reps + 1) / 2))p")
echo "median: rf=$rf acks=all $median records/s ($records records of $size B, kcat, 3 brokers on loopback)"
