#!/usr/bin/env bash
# How a broker in cluster mode starts, or refuses to: an unreachable etcd
# fails the start with a clear message within metadata.etcd.connect.timeout.ms
# (and serves nothing meanwhile); a broker given a longer timeout waits for
# an etcd that comes up late; a second broker with a node.id already
# registered is refused, naming the holder; bad cluster settings are refused.
# Usage: cluster_start_faults_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
. "$(dirname "$0")/cluster_test_lib.sh"

# A loopback port nobody listens on now (bash's /dev/tcp: refused).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    if ! (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}
# run_broker NAME ARGS...: starts a broker on 127.0.0.9 with port-0
# listeners, its own data dir, in the background; sets $bpid.
run_broker() {
  local name=$1
  shift
  "$BROKER" --data-dir "$dir/$name" --kafka-addr 127.0.0.9:0 --grpc-addr 127.0.0.9:0 \
    --metrics-addr 127.0.0.9:0 "$@" > "$dir/$name.log" 2>&1 &
  bpid=$!
  extra_pids+=("$bpid")
}
# exits_within SECONDS: waits for $bpid; sets $rc and $took_ms.
exits_within() {
  local secs=$1 t0
  t0=$(now_ms)
  if ! timeout "$secs" tail --pid="$bpid" -f /dev/null; then return 1; fi
  took_ms=$(($(now_ms) - t0))
  rc=0
  wait "$bpid" || rc=$?
  return 0
}

step "unreachable etcd: a clear failure within the connect timeout, nothing served"
dead=$(free_port)
t0=$(now_ms)
run_broker unreachable --set metadata.etcd.endpoints=http://127.0.0.1:$dead \
  --set metadata.etcd.connect.timeout.ms=1500
exits_within 15 || fail "broker still running against an unreachable etcd"
took=$(($(now_ms) - t0))
[ "$rc" -eq 1 ] || fail "exit code $rc"
grep -q "cannot reach etcd at http://127.0.0.1:$dead within 1500 ms" "$dir/unreachable.log" ||
  fail "message: $(cat "$dir/unreachable.log")"
grep -q "serving Kafka" "$dir/unreachable.log" && fail "it served Kafka before failing"
[ "$took" -ge 1400 ] && [ "$took" -lt 8000 ] || fail "failed after $took ms"
echo "   failed after $took ms: $(grep -o 'cannot reach etcd.*' "$dir/unreachable.log" | head -1)"

step "a longer metadata.etcd.connect.timeout.ms waits for an etcd that starts late"
eport=$(free_port)
run_broker waiting --set metadata.etcd.endpoints=http://127.0.0.1:$eport \
  --set metadata.etcd.connect.timeout.ms=20000 --set node.id=7
sleep 2
kill -0 "$bpid" 2>/dev/null || fail "gave up before the timeout: $(cat "$dir/waiting.log")"
grep -q "serving Kafka" "$dir/waiting.log" && fail "served Kafka without etcd"
etcd --name late --data-dir "$dir/late-etcd" \
  --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
  --listen-peer-urls http://127.0.0.1:0 --initial-advertise-peer-urls http://127.0.0.1:0 \
  --initial-cluster late=http://127.0.0.1:0 > "$dir/late-etcd.log" 2>&1 &
extra_pids+=("$!")
wait_until 20 grep -q "joined cluster" "$dir/waiting.log" || fail "did not join: $(tail -5 "$dir/waiting.log")"
kill -TERM "$bpid"
exits_within 30 || fail "did not stop"
[ "$rc" -eq 0 ] || fail "exit $rc on SIGTERM: $(tail -5 "$dir/waiting.log")"

step "a second broker with a registered node.id is refused, naming the holder"
cluster start 1 "$dir" > "$dir/start.out" 2>&1 || fail "cluster start: $(cat "$dir/start.out")"
holder_pid=$(cat "$dir/broker-1.pid")
run_broker duplicate --set "metadata.etcd.endpoints=$(cat "$dir/etcd.endpoint")" \
  --set node.id=1 --set cluster.id=fjord-local
exits_within 20 || fail "duplicate still running"
[ "$rc" -eq 1 ] || fail "exit code $rc"
grep -q "node.id 1 is already registered under /fjord/fjord-local/ by node 1 (kafka $(cat "$dir/broker-1.address")" "$dir/duplicate.log" ||
  fail "message: $(tail -3 "$dir/duplicate.log")"
grep -q "pid $holder_pid " "$dir/duplicate.log" || fail "holder pid not named: $(tail -3 "$dir/duplicate.log")"
echo "   refused after $took_ms ms: $(grep -o 'node.id 1 is already.*' "$dir/duplicate.log" | head -1)"
kill -0 "$holder_pid" || fail "the holder died"
E get /fjord/fjord-local/brokers/1 --print-value-only | grep -q "\"pid\":$holder_pid" || fail "registration changed"

step "bad cluster settings stop the broker at start, naming the property"
for bad in "metadata.etcd.endpoints=https://127.0.0.1:1" "metadata.etcd.endpoints=127.0.0.1" \
  "broker.session.timeout.ms=500" "min.insync.replicas=0" "default.replication.factor=0" \
  "unclean.leader.election.enable=maybe" "replica.lag.time.max.ms=0" "grpc.advertised.address=nope"; do
  run_broker bad --set "$bad"
  exits_within 10 || fail "$bad: still running"
  [ "$rc" -eq 1 ] || fail "$bad: exit $rc"
  grep -q "${bad%%=*}" "$dir/bad.log" || fail "$bad: $(cat "$dir/bad.log")"
done
run_broker badid --set "metadata.etcd.endpoints=$(cat "$dir/etcd.endpoint")" --set "cluster.id=a/b"
exits_within 10 || fail "cluster.id a/b: still running"
grep -q "invalid value 'a/b' for cluster.id" "$dir/badid.log" || fail "cluster.id: $(cat "$dir/badid.log")"
echo "PASS"
