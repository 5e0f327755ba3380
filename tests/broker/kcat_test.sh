#!/usr/bin/env bash
# End-to-end: a real fjord-broker process driven by kcat (librdkafka), the
# independent check that fjord speaks Kafka. Bounded in time; the broker is
# always stopped by its PID.
# Usage: kcat_test.sh PATH_TO_FJORD_BROKER PATH_TO_FJORD
set -u
broker=$1
fjord=$2
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (deploy/install-deps.sh installs it)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-kcat-test-XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; wait "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- broker log (tail)"; tail -20 "$dir/broker.log" 2>/dev/null; exit 1; }
step() { echo "== $*"; }

start_broker() {
  : > "$dir/broker.log"
  "$broker" --data-dir "$dir/data" --kafka-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
    --metrics-addr 127.0.0.1:0 "$@" >> "$dir/broker.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*serving Kafka on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
    if [ -n "$port" ] && [ "$port" != 0 ]; then break; fi
    kill -0 "$pid" 2>/dev/null || fail "broker exited at start"
    sleep 0.1
  done
  [ -n "$port" ] || fail "broker did not come up"
  B="127.0.0.1:$port"
  for _ in $(seq 1 50); do
    mport=$(sed -n 's/.*serving \/metrics on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
    [ -n "$mport" ] && break
    sleep 0.1
  done
  [ -n "$mport" ] || fail "no /metrics listener"
}
stop_broker() {
  kill -TERM "$pid"
  local rc=0
  timeout 30 tail --pid="$pid" -f /dev/null || fail "broker did not stop on SIGTERM"
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "broker exited $rc on SIGTERM"
  grep -q "stopped cleanly" "$dir/broker.log" || fail "no clean stop in the log"
  pid=""
}
K() { timeout 60 kcat -b "$B" -X api.version.request.timeout.ms=5000 "$@"; }

start_broker
step "metadata lists the broker"
K -L > "$dir/meta.out" 2>&1 || fail "kcat -L: $(cat "$dir/meta.out")"
grep -q "broker 0 at $B" "$dir/meta.out" || fail "metadata: $(cat "$dir/meta.out")"

step "100,000 keyed records with headers round-trip byte for byte"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "key-%06d\tvalue-%06d-%s\n", i, i, substr("abcdefghijklmnopqrstuvwxyz0123456789", 1 + i % 36) }' > "$dir/keyed.in"
t0=$(date +%s%3N)
K -P -t keyed -K $'\t' -H app=fjord -H "trace=a b=c" -X acks=all < "$dir/keyed.in" || fail "produce keyed"
t1=$(date +%s%3N)
K -C -t keyed -o beginning -e -q -f '%k\t%s\t%h\n' > "$dir/keyed.out" || fail "consume keyed"
awk '{ print $0 "\tapp=fjord,trace=a b=c" }' "$dir/keyed.in" > "$dir/keyed.expected"
cmp -s "$dir/keyed.expected" "$dir/keyed.out" || fail "keyed records differ: $(diff "$dir/keyed.expected" "$dir/keyed.out" | head -5)"
K -C -t keyed -o beginning -e -q -f '%T\n' > "$dir/ts.out" || fail "consume timestamps"
awk -v lo="$t0" -v hi="$t1" '$1 < lo || $1 > hi { bad++ } END { exit bad > 0 }' "$dir/ts.out" || fail "timestamps outside [$t0, $t1]"
[ "$(wc -l < "$dir/ts.out")" -eq 100000 ] || fail "timestamp count"

for z in gzip snappy lz4 zstd; do
  step "compression $z"
  awk -v z="$z" 'BEGIN { for (i = 0; i < 20000; i++) printf "%s-%06d-payload-payload-payload\n", z, i }' > "$dir/$z.in"
  K -P -t "codec-$z" -z "$z" < "$dir/$z.in" || fail "produce $z"
  K -C -t "codec-$z" -o beginning -e -q > "$dir/$z.out" || fail "consume $z"
  cmp -s "$dir/$z.in" "$dir/$z.out" || fail "$z records differ"
  # The batches on disk are the producer's, compressed with that codec
  # (librdkafka silently sends uncompressed batches to brokers it doubts).
  "$fjord" segment dump "$dir/data/codec-$z-0" | grep -q "codec=$z " || fail "no $z batch stored"
done

step "consume from an offset, beginning, end, -N and a timestamp"
[ "$(K -C -t keyed -o 50000 -c 1 -q -f '%o %k\n')" = "50000 key-050000" ] || fail "from offset 50000"
[ "$(K -C -t keyed -o beginning -c 1 -q -f '%o\n')" = "0" ] || fail "from beginning"
[ "$(K -C -t keyed -o -3 -e -q -f '%o\n' | tr '\n' ' ')" = "99997 99998 99999 " ] || fail "from -3"
[ -z "$(K -C -t keyed -o end -e -q)" ] || fail "from end returned records"
seq 1 100 | sed 's/^/before-/' | K -P -t timed || fail "produce before"
sleep 1.2
mid=$(date +%s%3N)
sleep 0.2
seq 1 100 | sed 's/^/after-/' | K -P -t timed || fail "produce after"
first=$(K -C -t timed -o "s@$mid" -c 1 -q)
[ "$first" = "after-1" ] || fail "from timestamp: got '$first'"

step "idempotent producer"
seq 1 5000 | K -P -t idem -X enable.idempotence=true || fail "idempotent produce"
[ "$(K -C -t idem -o beginning -e -q | wc -l)" -eq 5000 ] || fail "idempotent count"

step "a malformed frame closes only its own connection"
printf '\x7f\xff\xff\xff' > "/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
printf '\x00\x00\x00\x20\x00\x03' > "/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
sleep 0.3
grep -q "closing connection from 127.0.0.1" "$dir/broker.log" || fail "no log line for the bad frame"
K -L > /dev/null 2>&1 || fail "broker unusable after a bad frame"

step "requests cut into single bytes, or two in one write, are each answered"
# ApiVersions v0, correlation id 7 (then 8), client id "t": 11 bytes.
req7='\x00\x00\x00\x0b\x00\x12\x00\x00\x00\x00\x00\x07\x00\x01\x74'
req8='\x00\x00\x00\x0b\x00\x12\x00\x00\x00\x00\x00\x08\x00\x01\x74'
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect"
for b in $(printf "$req7" | od -An -v -tx1); do printf "\\x$b" >&3; sleep 0.02; done
printf "$req7$req8" >&3
# Three answers, read a byte at a time (dd bs=1: nothing read past them).
readn() { timeout 5 dd bs=1 count="$1" status=none <&3 | od -An -v -tx1 | tr -d ' \n'; }
size=$((16#$(readn 4)))
[ "$size" -gt 6 ] || fail "no answer to a request sent byte by byte"
[ "$(readn "$size" | cut -c1-12)" = "000000070000" ] || fail "byte-by-byte request: bad answer"
for want in 7 8; do
  got=$(readn "$((size + 4))")
  [ "$(echo "$got" | cut -c9-20)" = "0000000${want}0000" ] || fail "pipelined request $want: answer starts $(echo "$got" | head -c 40)"
done
exec 3<&-

step "/metrics reports what happened"
metrics() {
  exec 3<>"/dev/tcp/127.0.0.1/$mport" || fail "cannot connect to /metrics"
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  cat <&3
  exec 3<&-
}
metrics > "$dir/metrics.out"
grep -q '^fjord_topic_records_in_total{topic="keyed"} 100000$' "$dir/metrics.out" || fail "records in: $(grep records_in "$dir/metrics.out")"
grep -q '^fjord_requests_total{api="Produce"} [1-9]' "$dir/metrics.out" || fail "no Produce count"
grep -q '^fjord_request_duration_seconds_bucket{api="Fetch",le="+Inf"} [1-9]' "$dir/metrics.out" || fail "no Fetch latency"
grep -q '^fjord_log_end_offset{topic="keyed",partition="0"} 100000$' "$dir/metrics.out" || fail "no log end offset"
grep -q '^fjord_bad_frames_total [1-9]' "$dir/metrics.out" || fail "bad frames not counted"
grep -q '^fjord_connections ' "$dir/metrics.out" || fail "no connections gauge"
grep -q '^fjord_coordinator_groups 0$' "$dir/metrics.out" || fail "no coordinator groups gauge"
grep -q '^fjord_coordinator_heartbeats_total 0$' "$dir/metrics.out" || fail "no coordinator heartbeats counter"

step "clean restart keeps everything"
stop_broker
start_broker
grep -q "after a clean stop" "$dir/broker.log" || fail "restart was not clean"
K -C -t keyed -o beginning -e -q -f '%k\t%s\t%h\n' > "$dir/keyed2.out" || fail "consume after restart"
cmp -s "$dir/keyed.expected" "$dir/keyed2.out" || fail "records differ after a clean restart"

step "kill -9 loses nothing acknowledged (acks=all)"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "crash-%06d\n", i }' > "$dir/crash.in"
K -P -t crashy -X acks=all < "$dir/crash.in" || fail "produce crashy"
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=""
start_broker
grep -q "unclean stop" "$dir/broker.log" || fail "restart after kill -9 not reported as unclean"
K -C -t crashy -o beginning -e -q > "$dir/crash.out" || fail "consume crashy"
cmp -s "$dir/crash.in" "$dir/crash.out" || fail "acknowledged records missing after kill -9"
K -C -t keyed -o beginning -e -q -f '%k\t%s\t%h\n' > "$dir/keyed3.out" || fail "consume keyed after kill -9"
cmp -s "$dir/keyed.expected" "$dir/keyed3.out" || fail "keyed records differ after kill -9"

stop_broker
echo "PASS: kcat end-to-end"
