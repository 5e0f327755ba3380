#!/usr/bin/env bash
# Consumer-group figures measured end to end with the client library
# (perf/README.md, "Consumer groups end to end"). Starts fjord-broker on a
# temporary data directory (127.0.0.1, port 0) and stops it by its PID.
#
#  1. failover: a member leaves (SIGTERM: Close) or crashes (SIGKILL); the
#     time until each of its partitions has been consumed by another member,
#     ROUNDS rounds each, session.timeout.ms SESSION_MS, the broker's
#     group.consumer.heartbeat.interval.ms HEARTBEAT_MS.
#  2. heartbeats: N real consumers (N in MEMBERS) in one process for SECONDS;
#     the coordinator's heartbeat rate from /metrics and the broker's CPU,
#     with the heartbeat interval LOAD_HEARTBEAT_MS.
#
# Usage: perf/group_bench.sh [BUILD_DIR]
#   HEARTBEAT_MS=5000 SESSION_MS=6000 ROUNDS=5 MEMBERS="1 10 50" \
#   SECONDS_EACH=10 LOAD_HEARTBEAT_MS=100 bash perf/group_bench.sh
set -euo pipefail
build=${1:-build}
bench="$build/bin/fjord-group-bench"
heartbeat_ms=${HEARTBEAT_MS:-5000}
session_ms=${SESSION_MS:-6000}
rounds=${ROUNDS:-5}
members=${MEMBERS:-"1 10 50"}
seconds=${SECONDS_EACH:-10}
load_heartbeat_ms=${LOAD_HEARTBEAT_MS:-100}
. "$(dirname "$0")/broker_lib.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-group-bench-XXXXXX")
trap 'stop_broker; rm -rf "$dir"' EXIT
start_group_broker() {  # $1: heartbeat interval ms
  start_broker "$build/bin/fjord-broker" "$dir" \
    --set group.min.session.timeout.ms=100 \
    --set "group.consumer.heartbeat.interval.ms=$1" \
    --set offsets.topic.num.partitions=3
  B="127.0.0.1:$kport"; A="127.0.0.1:$gport"; M="http://127.0.0.1:$mport/metrics"
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
heartbeats() { curl -s "$M" | sed -n 's/^fjord_coordinator_heartbeats_total \([0-9]*\)$/\1/p'; }

echo "## leave -> partitions consumed by another member"
echo "(3 members, 12 partitions, session.timeout.ms=$session_ms, broker heartbeat interval $heartbeat_ms ms)"
echo
echo "| how the member left | rounds | median first partition (ms) | median all its partitions (ms) | max all (ms) |"
echo "|---|---|---|---|---|"
start_group_broker "$heartbeat_ms"
for mode in close crash; do
  out=$("$bench" failover --bootstrap "$B" --admin "$A" --mode "$mode" --rounds "$rounds" \
    --session-timeout-ms "$session_ms" --topic "failover-$mode" --group "g-$mode" | tail -1)
  echo "| $mode | $rounds | $(echo "$out" | field median_first_ms) | $(echo "$out" | field median_all_ms) | $(echo "$out" | field max_all_ms) |"
done
stop_broker

echo
echo "## coordinator heartbeats with N real consumers"
echo "(broker heartbeat interval $load_heartbeat_ms ms, session.timeout.ms=$session_ms, ${seconds} s each)"
echo
echo "| consumers | heartbeats/s | broker CPU (% of one core) |"
echo "|---|---|---|"
start_group_broker "$load_heartbeat_ms"
hz=$(getconf CLK_TCK)
for n in $members; do
  "$bench" members --bootstrap "$B" --admin "$A" --members "$n" --seconds $((seconds + 3)) \
    --session-timeout-ms "$session_ms" --topic "load-$n" --group "load-$n" > "$dir/members.out" &
  bpid=$!
  sleep 3  # joins and the first rebalances
  h0=$(heartbeats); c0=$(broker_cpu_ticks)
  sleep "$seconds"
  h1=$(heartbeats); c1=$(broker_cpu_ticks)
  wait "$bpid"
  echo "| $n | $(( (h1 - h0) / seconds )) | $(( (c1 - c0) * 100 / hz / seconds )) |"
done
