#!/usr/bin/env bash
# End-to-end: kcat (librdkafka) with enable.idempotence=true producing
# through build/bin/fjord-fault-proxy, which drops responses and resets
# connections; the broker advertises the proxy so every connection goes
# through it. Every record must then be read back exactly once, in send order
# per partition. Bounded in time; every process is stopped by its PID.
# Usage: kcat_idempotence_test.sh PATH_TO_FJORD_BROKER PATH_TO_FJORD
set -u
broker=$1
proxy_bin=$(dirname "$broker")/fjord-fault-proxy
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (deploy/install-deps.sh installs it)"; exit 1; }
[ -x "$proxy_bin" ] || { echo "FAIL: $proxy_bin is not built"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-kcat-idem-XXXXXX")
pid=""
ppid_=""
cleanup() {
  for p in "$pid" "$ppid_"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -9 "$p"; wait "$p" 2>/dev/null; fi
  done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- broker log (tail)"; tail -20 "$dir/broker.log" 2>/dev/null
  echo "--- proxy log"; cat "$dir/proxy.log" 2>/dev/null
  exit 1
}
step() { echo "== $*"; }

step "proxy first (its port is what the broker advertises), target unknown yet"
"$proxy_bin" --listen 127.0.0.1:0 --target-file "$dir/target" --grace-requests 6 \
  --drop-response-every 12 --reset-every 19 --seed 3 > "$dir/proxy.log" 2>&1 &
ppid_=$!
for _ in $(seq 1 100); do
  pport=$(sed -n 's/^fjord-fault-proxy listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/proxy.log")
  [ -n "$pport" ] && break
  sleep 0.05
done
[ -n "$pport" ] || fail "proxy did not come up"

"$broker" --data-dir "$dir/data" --kafka-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
  --metrics-addr 127.0.0.1:0 --set "advertised.listeners=127.0.0.1:$pport" \
  --set num.partitions=6 --set log.segment.bytes=16777216 > "$dir/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*serving Kafka on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
  [ -n "$port" ] && [ "$port" != 0 ] && break
  kill -0 "$pid" 2>/dev/null || fail "broker exited at start"
  sleep 0.1
done
[ -n "$port" ] || fail "broker did not come up"
echo "127.0.0.1:$port" > "$dir/target"
B="127.0.0.1:$pport"
grep -q "advertised 127.0.0.1:$pport" "$dir/broker.log" || fail "broker does not advertise the proxy"

step "100,000 keyed records, idempotent, through dropped responses and resets"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "k%d\t%d\n", i % 6, i }' > "$dir/in"
# kcat gives up as soon as every broker connection is down at once, which a
# proxy cutting the one connection makes happen. So it bootstraps from the
# broker's own port: that connection carries only metadata, while every
# Produce goes to the partition leader at its advertised address, the proxy.
timeout 90 kcat -b "127.0.0.1:$port" -P -t idem -K $'\t' -X enable.idempotence=true \
  -X batch.num.messages=2000 -X linger.ms=5 -X retry.backoff.ms=20 \
  -X reconnect.backoff.ms=10 -X reconnect.backoff.max.ms=200 \
  -X message.timeout.ms=60000 -X log.connection.close=false < "$dir/in" 2> "$dir/produce.err" \
  || fail "produce: $(tail -5 "$dir/produce.err")"
grep -qi "fatal" "$dir/produce.err" && fail "fatal idempotence error: $(grep -i fatal "$dir/produce.err" | head -3)"

step "read back: every record once, in order per partition"
kill -TERM "$ppid_"; wait "$ppid_"; ppid_=""
dropped=$(sed -n 's/.*dropped_responses=\([0-9]*\).*/\1/p' "$dir/proxy.log")
resets=$(sed -n 's/.* resets=\([0-9]*\).*/\1/p' "$dir/proxy.log")
echo "proxy: $(grep stats "$dir/proxy.log")"
[ "${dropped:-0}" -gt 0 ] || fail "no response was dropped"
[ "${resets:-0}" -gt 0 ] || fail "no connection was reset"
# Clients follow the advertised address, the proxy's: the consumer gets a
# proxy without faults on the same port.
"$proxy_bin" --listen "127.0.0.1:$pport" --target "127.0.0.1:$port" > "$dir/proxy2.log" 2>&1 &
ppid_=$!
for _ in $(seq 1 100); do grep -q listening "$dir/proxy2.log" 2>/dev/null && break; sleep 0.05; done
total=0
for p in 0 1 2 3 4 5; do
  timeout 60 kcat -b "$B" -C -t idem -p "$p" -o beginning -e -q -f '%s\n' > "$dir/out.$p" \
    || fail "consume partition $p"
  # Values of one key increase strictly: send order, no duplicate.
  awk 'NR > 1 && $1 <= prev { bad++ } { prev = $1 } END { exit bad > 0 }' "$dir/out.$p" \
    || fail "partition $p out of order or duplicated"
  total=$((total + $(wc -l < "$dir/out.$p")))
done
[ "$total" -eq 100000 ] || fail "read $total records, want 100000"
sort -n "$dir"/out.* | uniq -d | head -1 | grep -q . && fail "a record appears twice"
[ "$(sort -n "$dir"/out.* | uniq | wc -l)" -eq 100000 ] || fail "records missing"

kill -TERM "$ppid_"; wait "$ppid_"; ppid_=""
kill -TERM "$pid"; timeout 30 tail --pid="$pid" -f /dev/null || fail "broker did not stop"
wait "$pid" || fail "broker exited non-zero"
pid=""
echo "PASS: kcat idempotent producer through the fault proxy"
