#!/usr/bin/env bash
# A network cut isolating a partition's leader in a 3-broker cluster.
#
# Every broker runs in a network namespace of its own, joined by a veth
# pair to a bridge in a hub namespace that holds etcd and the test's
# clients (10.77.0.0/24, inside the namespaces this test creates only; the
# root namespace is not touched). Idempotent acks=all produce goes on in
# chunks while the leader of r-1 is cut off (its link set down in its
# namespace): it loses etcd, its followers and the clients. Just before,
# one follower was kept from fetching (a blackhole route) while the other
# fetched acks=1 records, so the old leader's high watermark is below what
# the new leader holds: truncating to it would be wrong. A client
# inside its namespace keeps producing to it with acks=all: the isolated
# leader appends those records but can replicate them to nobody, so none
# may be acknowledged. The controller elects a new leader from the isr and
# the chunks go on there. Then the cut heals: the old leader finds it no
# longer leads, truncates its divergent tail where its leader-epoch history
# stops agreeing with the new leader's (OffsetForLeaderEpoch: at the start
# of the new epoch, not at its own high watermark), catches up and rejoins
# the isr. Afterwards every replica holds the same bytes and epoch history,
# and every acknowledged record is read back once and in order. The time
# from the cut to the first acknowledged write on the new leader is printed
# as a FIGURE line.
#
# Needs root (ip netns); without it the test is skipped (exit 77).
# Usage: cluster_netcut_test.sh FJORD_BROKER
BROKER=$1
set -u
skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip > /dev/null || skip "ip (iproute2) is not installed"
for c in kcat etcd etcdctl; do
  command -v $c > /dev/null || { echo "FAIL: $c is not installed"; exit 1; }
done

tag=fjnc$$
hub=${tag}h
ns() { echo "${tag}b$1"; }
host() { echo "10.77.0.$((10 + $1))"; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-netcut-test-XXXXXX")
pids=()
made_ns=()
cleanup() {
  local p n
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
  # Deleting a namespace deletes the links and the bridge in it.
  for n in "${made_ns[@]}"; do ip netns del "$n" 2> /dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  local f
  echo "FAIL: $*"
  for f in "$dir"/*.log; do
    [ -f "$f" ] || continue
    echo "--- $(basename "$f") (tail)"
    tail -12 "$f"
  done
  exit 1
}
step() { echo "== $*"; }
now_ms() { date +%s%3N; }
# wait_until SECONDS CMD...: polls CMD every 50 ms.
wait_until() {
  local secs=$1 i
  shift
  for i in $(seq 1 $((secs * 20))); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}
add_ns() {
  ip netns add "$1" 2> "$dir/ns.err" || return 1
  made_ns+=("$1")
  ip -n "$1" link set lo up
}

step "network: hub namespace $hub with a bridge, one namespace per broker"
add_ns "$hub" || skip "cannot create a network namespace: $(cat "$dir/ns.err")"
ip -n "$hub" link add br0 type bridge 2> "$dir/ns.err" ||
  skip "cannot create a bridge: $(cat "$dir/ns.err")"
ip -n "$hub" addr add 10.77.0.1/24 dev br0
ip -n "$hub" link set br0 up
for id in 1 2 3; do
  add_ns "$(ns $id)" || fail "ip netns add $(ns $id): $(cat "$dir/ns.err")"
  ip -n "$hub" link add "v$id" type veth peer name eth0 netns "$(ns $id)" ||
    fail "veth for broker $id"
  ip -n "$hub" link set "v$id" master br0
  ip -n "$hub" link set "v$id" up
  ip -n "$(ns $id)" addr add "$(host $id)/24" dev eth0
  ip -n "$(ns $id)" link set eth0 up
done
H() { ip netns exec "$hub" "$@"; }

step "etcd in the hub, 3 brokers each in its own namespace"
H etcd --name netcut --data-dir "$dir/etcd" \
  --listen-client-urls http://10.77.0.1:0 --advertise-client-urls http://10.77.0.1:0 \
  --listen-peer-urls http://127.0.0.1:0 --initial-advertise-peer-urls http://127.0.0.1:0 \
  --initial-cluster netcut=http://127.0.0.1:0 > "$dir/etcd.log" 2>&1 < /dev/null &
pids+=($!)
epid=$!
eport=""
for _ in $(seq 1 150); do
  eport=$(sed -n 's/.*serving insecure client requests on 10\.77\.0\.1:\([0-9]*\).*/\1/p' "$dir/etcd.log" | head -1)
  [ -n "$eport" ] && break
  kill -0 $epid 2> /dev/null || fail "etcd exited"
  sleep 0.1
done
[ -n "$eport" ] || fail "etcd did not start"
E() { H timeout 10 etcdctl --endpoints="10.77.0.1:$eport" "$@"; }

declare -A addr bpid
start_broker() {
  local id=$1 log="$dir/broker-$1.log" a=""
  cat > "$dir/broker-$id.properties" << EOF
node.id=$id
cluster.id=netcut
log.dirs=$dir/broker-$id/data
listeners=PLAINTEXT://$(host $id):0
grpc.address=$(host $id):0
metrics.address=$(host $id):0
metadata.etcd.endpoints=http://10.77.0.1:$eport
num.partitions=2
EOF
  ip netns exec "$(ns $id)" "$BROKER" --config "$dir/broker-$id.properties" \
    > "$log" 2>&1 < /dev/null &
  bpid[$id]=$!
  pids+=($!)
  for _ in $(seq 1 300); do
    if grep -q "joined cluster" "$log"; then
      a=$(sed -n "s/.*serving Kafka on \($(host $id):[0-9]*\).*/\1/p" "$log" | head -1)
      break
    fi
    kill -0 "${bpid[$id]}" 2> /dev/null || fail "broker $id exited at start"
    sleep 0.1
  done
  [ -n "$a" ] || fail "broker $id did not join the cluster"
  addr[$id]=$a
}
for id in 1 2 3; do start_broker $id; done
bootstrap="${addr[1]},${addr[2]},${addr[3]}"
K() { H timeout 30 kcat -b "$bootstrap" -X api.version.request.timeout.ms=5000 "$@"; }
sees_brokers() {
  H timeout 10 kcat -b "${addr[1]}" -L -X api.version.request.timeout.ms=5000 2> /dev/null |
    grep -q " $1 brokers:"
}
wait_until 10 sees_brokers 3 || fail "broker 1 (the controller) does not see 3 brokers"

topic_json() { E get /fjord/netcut/topics/r --print-value-only; }
leader_of_r1() {
  topic_json | grep -o '"partition":1,"replicas":\[[0-9,]*\],"leader":-\?[0-9]*' | sed 's/.*"leader"://'
}
r1_isr_has() { topic_json | grep -q "\"partition\":1,[^}]*\"isr\":\[[0-9,]*$1"; }
r1_placed() { topic_json | grep -q '"partition":1,"replicas":\[2,'; }
# P: one idempotent acks=all produce of stdin to r-1, short timeouts.
P() {
  H timeout 30 kcat -b "$bootstrap" -P -t r -p 1 -X acks=all \
    -X enable.idempotence=true -X message.timeout.ms=8000 \
    -X api.version.request.timeout.ms=5000 "$@"
}

step "topic r (2 partitions, replication factor 3); r-1 is led by broker 2"
K -L -t r > /dev/null 2>&1 # Metadata for r creates it
wait_until 10 r1_placed || fail "placement: $(topic_json)"
[ "$(leader_of_r1)" = 2 ] || fail "leader of r-1: $(topic_json)"
for id in 1 2 3; do
  wait_until 10 grep -q "r-1: \(leading\|following 2\) at epoch 0" "$dir/broker-$id.log" ||
    fail "broker $id took no role for r-1"
done
seq 1 500 | sed 's/^/a-/' > "$dir/a.in"
P < "$dir/a.in" 2> "$dir/a.err" || fail "acks=all produce: $(cat "$dir/a.err")"
grep -q "Delivery failed" "$dir/a.err" && fail "acks=all produce: $(cat "$dir/a.err")"

step "acks=all chunks go on while broker 2 is cut off; a client inside its namespace keeps writing to it"
: > "$dir/acked"
chunk() { seq 1 50 | sed "s/^/c$1-/"; }
i=0
cut_at=""
first_after=""
deadline=$(($(date +%s) + 60))
while [ $i -lt 40 ] && [ "$(date +%s)" -lt $deadline ]; do
  i=$((i + 1))
  if [ $i -eq 6 ]; then
    # First the leader's high watermark is held back: broker 1's packets
    # to broker 2 are dropped (a blackhole route in its namespace; it stays
    # in etcd and, for replica.lag.time.max.ms, in the isr), so the leader
    # hears of no fetch from it, and acks=1 records that broker 3 fetches
    # go to the leader. (Broker 1 may still receive the answer to a fetch
    # it sent before; its next one, and any retransmission of it delivered
    # once the cut heals, the deposed leader must not count.) So the new leader (broker 3,
    # the first alive isr member in replica order [2,3,1]) will hold
    # records above the old leader's high watermark, and truncating to
    # that high watermark would be wrong.
    ip -n "$(ns 1)" route add blackhole "$(host 2)/32" || fail "blackhole route"
    seq 1 300 | sed 's/^/h-/' > "$dir/h.in"
    H timeout 30 kcat -b "$bootstrap" -P -t r -p 1 -X acks=1 < "$dir/h.in" 2> "$dir/h.err" ||
      fail "acks=1 produce: $(cat "$dir/h.err")"
    grep -q "Delivery failed" "$dir/h.err" && fail "acks=1 produce: $(cat "$dir/h.err")"
    wait_until 10 sh -c "[ \$(cat $dir/broker-3/data/r-1/*.log | wc -c) -eq \$(cat $dir/broker-2/data/r-1/*.log | wc -c) ]" ||
      fail "broker 3 did not fetch the acks=1 records"
    cut_at=$(now_ms)
    ip -n "$(ns 2)" link set eth0 down || fail "link down"
    ip -n "$(ns 1)" route del blackhole "$(host 2)/32" || fail "blackhole route"
    # The isolated leader still believes it leads until its etcd session
    # is lost (up to broker.session.timeout.ms): it appends these, but no
    # follower can fetch them.
    seq 1 2000 | sed 's/^/x-/' |
      ip netns exec "$(ns 2)" timeout 20 kcat -b "${addr[2]}" -P -t r -p 1 \
        -X acks=all -X message.timeout.ms=6000 -X api.version.request.timeout.ms=3000 \
        > "$dir/x.out" 2> "$dir/x.err" &
    xpid=$!
    pids+=($xpid)
  fi
  chunk $i > "$dir/chunk"
  if P < "$dir/chunk" 2> "$dir/chunk.err" && ! grep -q "Delivery failed" "$dir/chunk.err"; then
    cat "$dir/chunk" >> "$dir/acked"
    if [ -n "$cut_at" ] && [ -z "$first_after" ]; then first_after=$(now_ms); fi
  fi
  if [ -n "$first_after" ] && [ $i -ge 20 ]; then break; fi
done
[ -n "$first_after" ] || fail "no acks=all write succeeded after the cut: $(cat "$dir/chunk.err")"
echo "FIGURE network cut of a leader to the first acknowledged acks=all write on the new leader: $((first_after - cut_at)) ms"
[ "$(leader_of_r1)" = 3 ] || fail "new leader of r-1: $(topic_json)"
r1_isr_has 2 && fail "the isolated broker 2 is still in the isr: $(topic_json)"
wait "$xpid"
# kcat reports each message it could not deliver.
nx=$(grep -c "Delivery failed" "$dir/x.err")
[ "$nx" -eq 2000 ] || fail "the isolated leader acknowledged $((2000 - nx)) of 2000 acks=all records: $(tail -3 "$dir/x.err")"
echo "acknowledged $(wc -l < "$dir/acked") records in $i chunks; the isolated leader acknowledged none of 2000"

step "the cut heals: broker 2 truncates its divergent tail by leader epoch, catches up, rejoins the isr"
ip -n "$(ns 2)" link set eth0 up || fail "link up"
wait_until 30 r1_isr_has 2 || fail "broker 2 did not rejoin the isr: $(topic_json)"
follow=$(grep "r-1: following 3 at epoch" "$dir/broker-2.log" | tail -1)
[ -n "$follow" ] || fail "broker 2 does not follow 3"
old_hw=$(echo "$follow" | sed -n 's/.*(high watermark \([0-9]*\)).*/\1/p')
# Where the new leader's epoch starts, and where broker 2 cut its log.
start=$(sed -n 's/.*r-1: leading at epoch [0-9]* from offset \([0-9]*\).*/\1/p' "$dir/broker-3.log" | tail -1)
cut=$(grep "r-1: truncated from" "$dir/broker-2.log" | tail -1)
[ -n "$cut" ] || fail "broker 2 did not truncate r-1 (no divergent tail?)"
from=$(echo "$cut" | sed 's/.*truncated from \([0-9]*\) to \([0-9]*\),.*/\1/')
to=$(echo "$cut" | sed 's/.*truncated from \([0-9]*\) to \([0-9]*\),.*/\2/')
[ "$to" = "$start" ] || fail "broker 2 truncated to $to, the new leader's epoch starts at $start: $cut"
[ "$from" -gt "$to" ] || fail "nothing truncated: $cut"
[ -n "$old_hw" ] && [ "$to" -gt "$old_hw" ] ||
  fail "broker 2's high watermark ($old_hw) is not below the new epoch's start ($start): $follow"
echo "broker 2 truncated r-1 from $from to $to (the new leader's epoch starts at $start; its own high watermark was $old_hw)"
same_replicas() {
  local id s=""
  for id in 1 2 3; do
    s="$s $(cat "$dir/broker-$id/data/r-1/"*.log | md5sum | cut -c1-32)"
    s="$s/$(sed -n '2,$p' "$dir/broker-$id/data/r-1/leader-epoch-checkpoint" | md5sum | cut -c1-32)"
  done
  [ "$(echo "$s" | tr ' ' '\n' | sed '/^$/d' | sort -u | wc -l)" -eq 1 ]
}
# A write in the new epoch reaches all three before the comparison.
echo z | P 2> "$dir/z.err" || fail "acks=all after the heal: $(cat "$dir/z.err")"
grep -q "Delivery failed" "$dir/z.err" && fail "acks=all after the heal: $(cat "$dir/z.err")"
echo z >> "$dir/acked"
wait_until 20 same_replicas ||
  fail "the replicas of r-1 differ: $(for id in 1 2 3; do ls -l "$dir/broker-$id/data/r-1/"; cat "$dir/broker-$id/data/r-1/leader-epoch-checkpoint"; done)"

step "every acknowledged record is read back once, in order; no record of the isolated leader's tail"
K -C -t r -p 1 -o beginning -e -q > "$dir/all.out" || fail "consume"
head -500 "$dir/all.out" | cmp -s - "$dir/a.in" || fail "the first 500 records changed"
# The acks=1 records broker 3 held before it was elected survived.
grep '^h-' "$dir/all.out" | cmp -s - "$dir/h.in" || fail "the acks=1 records the new leader held changed"
grep -q '^x-' "$dir/all.out" && fail "records only the isolated leader had are readable: $(grep -c '^x-' "$dir/all.out")"
grep -Fxf "$dir/acked" "$dir/all.out" > "$dir/all.acked"
cmp -s "$dir/all.acked" "$dir/acked" ||
  fail "acknowledged: $(wc -l < "$dir/acked"), read back once and in order: no ($(wc -l < "$dir/all.acked") lines)"
[ "$(sort "$dir/all.out" | uniq -d | wc -l)" -eq 0 ] || fail "duplicates: $(sort "$dir/all.out" | uniq -d | head -3)"
echo "PASS"
