#!/usr/bin/env bash
# Rolling kill -9 in a 3-broker cluster of processes (deploy/cluster.sh):
# the fjord tool produces keyed records at a steady rate with acks=all
# (idempotent by default) to a topic of 3 partitions replicated 3 times,
# while a consumer-group member (`fjord consume --group`) reads them. The
# leader of partition 0, then of 1, then of 2 is killed with kill -9 and
# restarted, each time after the broker it killed last is back in every
# isr. Afterwards: the producer delivered every record (exit 0); the log
# holds each exactly once, in send order per key (so per partition); and
# the consumer, which ran throughout, printed every record: it went on
# after each failover by itself. A group member is at-least-once: when a
# killed broker was also the group's coordinator, the member rejoins and
# resumes from the last committed offsets, printing what it had printed
# since again; how many is printed, not failed.
# Usage: cluster_rolling_kill_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
FJORD=$(dirname "$BROKER")/fjord
. "$(dirname "$0")/cluster_test_lib.sh"
[ -x "$FJORD" ] || fail "no fjord tool at $FJORD (build the fjord target)"
# Fixed ports (outside the kernel's ephemeral range; each broker has its
# own address), so a restarted broker is where clients last saw it, as in
# a real deployment.
port=$((22000 + ($$ % 500) * 4))
export KAFKA_PORT=$port GRPC_PORT=$((port + 1)) METRICS_PORT=$((port + 2))
# Every broker's gRPC address: the clients' admin.servers.
admins() { echo "$(grpc_of 1),$(grpc_of 2),$(grpc_of 3)"; }

TOTAL=10000
# all_in_isr: every partition of t has 3 in-sync replicas.
all_in_isr() {
  [ "$(topic_json t | grep -o '"isr":\[[0-9],[0-9],[0-9]\]' | wc -l)" = 3 ]
}
# check_order FILE: lines "k<K> <N>"; per key the numbers strictly increase
# (send order, nothing twice); prints the number of lines.
check_order() {
  awk '{ k = $1; n = $2 + 0
         if ((k in last) && n <= last[k]) { print "out of order: " $0 " after " last[k]; bad = 1 }
         last[k] = n; c++ }
       END { if (bad) exit 1; print c + 0 }' "$1"
}

step "start 3 brokers; topic t with 3 partitions, replication factor 3"
BROKER_SET="num.partitions=3" cluster start 3 "$dir" > "$dir/start.out" 2>&1 ||
  fail "cluster start: $(cat "$dir/start.out")"
wait_controller_sees 3
timeout 60 "$FJORD" --brokers "$(bootstrap)" --admin "$(admins)" topic create t --partitions 3 \
  > "$dir/create.out" 2>&1 || fail "topic create: $(cat "$dir/create.out")"
wait_until 15 all_in_isr || fail "isr not full: $(topic_json t)"

step "a group member consumes while records are produced at a steady rate"
timeout 170 "$FJORD" --brokers "$(bootstrap)" --admin "$(admins)" \
  consume t --group readers --format '%k %v' > "$dir/consumed" 2> "$dir/consumed.err" &
consumer=$!
extra_pids+=("$consumer")
# Record i: key k<i % 9>, value i; 20 records every 60 ms (~300/s, for
# about 35 s: through all three kills).
(
  for i in $(seq 1 $TOTAL); do
    echo "k$((i % 9)):$i"
    if [ $((i % 20)) -eq 0 ]; then sleep 0.06; fi
  done
) | timeout 170 "$FJORD" --brokers "$(bootstrap)" produce t --key-delimiter : --acks all \
  > "$dir/produce.out" 2> "$dir/produce.err" &
producer=$!
extra_pids+=("$producer")

# The member is consuming (it has joined and been assigned) before the
# first kill.
consuming() { [ -s "$dir/consumed" ]; }
wait_until 60 consuming || fail "the consumer printed nothing: $(tail -5 "$dir/consumed.err")"
for p in 0 1 2; do
  wait_until 30 all_in_isr || fail "before killing the leader of t-$p: isr not full: $(topic_json t)"
  leader=$(leader_of t "$p")
  [ -n "$leader" ] && [ "$leader" -ge 1 ] || fail "no leader of t-$p: $(topic_json t)"
  step "kill -9 broker $leader, the leader of t-$p; restart it"
  killed_at=$(now_ms)
  cluster kill "$leader" "$dir" > /dev/null || fail "kill $leader"
  wait_until 15 sh -c "[ \"\$(timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/t --print-value-only | grep -o '\"partition\":$p,\"replicas\":\[[0-9,]*\],\"leader\":[0-9]*' | sed 's/.*\"leader\"://')\" != $leader ]" ||
    fail "t-$p kept leader $leader: $(topic_json t)"
  echo "FIGURE kill -9 of the leader of t-$p to a new leader in etcd: $(($(now_ms) - killed_at)) ms"
  cluster restart "$leader" "$dir" > /dev/null 2>&1 || fail "restart $leader"
done
wait_until 30 all_in_isr || fail "after the kills: isr not full: $(topic_json t)"

step "the producer delivers every record"
wait "$producer"
rc=$?
[ $rc -eq 0 ] || fail "fjord produce exited $rc: $(tail -5 "$dir/produce.err")"
grep -q "produced $TOTAL records" "$dir/produce.err" || fail "produce summary: $(tail -3 "$dir/produce.err")"

step "the log holds every record once, in order per key"
timeout 60 "$FJORD" --brokers "$(bootstrap)" --admin "$(admins)" consume t --offset beginning --exit-at-end --format '%k %v' \
  > "$dir/log" 2> "$dir/log.err" || fail "read back: $(tail -3 "$dir/log.err")"
n=$(check_order "$dir/log") || fail "log: $n"
[ "$n" -eq $TOTAL ] || fail "log holds $n records, $TOTAL were sent"
[ "$(sort -u "$dir/log" | wc -l)" -eq $TOTAL ] || fail "duplicates in the log"

step "the consumer went on through every failover: it printed every record"
consumed_all() { [ "$(sort -u "$dir/consumed" | wc -l)" -ge $TOTAL ]; }
wait_until 60 consumed_all ||
  fail "the consumer printed $(sort -u "$dir/consumed" | wc -l) of $TOTAL records: $(tail -5 "$dir/consumed.err")"
kill -TERM "$consumer" 2> /dev/null
wait "$consumer"
# Exactly the records sent (no other line), each at least once.
sort -u "$dir/consumed" > "$dir/consumed.set"
sort -u "$dir/log" | cmp -s - "$dir/consumed.set" || fail "the consumer printed other records than the log holds"
echo "consumer: $(wc -l < "$dir/consumed") lines for $TOTAL records ($(($(wc -l < "$dir/consumed") - TOTAL)) printed again after a rejoin)"
echo "PASS"
