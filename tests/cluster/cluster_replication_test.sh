#!/usr/bin/env bash
# Replication in a 3-broker cluster of processes (deploy/cluster.sh):
# followers fetch from the leader and hold its batches; acks=all is
# answered once the in-sync replicas have a batch; a consumer reads up to
# the high watermark;
# with fewer in-sync replicas than min.insync.replicas acks=all gets
# NOT_ENOUGH_REPLICAS. Then idempotent acks=all produce goes on in chunks
# while the partition's leader is killed with kill -9: every chunk kcat
# had acknowledged is read back afterwards from the new leader, exactly
# once and in order. The time from the kill to the first acknowledged
# write is printed as a FIGURE line.
# Usage: cluster_replication_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
. "$(dirname "$0")/cluster_test_lib.sh"

isr_is() { topic_json "$1" | grep -q "\"partition\":$2,[^}]*\"isr\":\[$3\]"; }
# P PARTITION [kcat args]: acks=all, idempotent, short timeouts, to the
# partition's leader (found through Metadata).
P() {
  local p=$1
  shift
  timeout 30 kcat -b "$(bootstrap)" -P -t r -p "$p" -X acks=all \
    -X enable.idempotence=true -X message.timeout.ms=8000 \
    -X api.version.request.timeout.ms=5000 "$@"
}

step "start 3 brokers; topic r with 2 partitions, replication factor 3"
BROKER_SET="num.partitions=2" cluster start 3 "$dir" > "$dir/start.out" 2>&1 ||
  fail "cluster start: $(cat "$dir/start.out")"
wait_controller_sees 3
K -L -t r > /dev/null 2>&1  # Metadata for r creates it
wait_until 10 sh -c "timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/r --print-value-only | grep -q '\"partition\":1,\"replicas\":\[2,'" ||
  fail "placement: $(topic_json r)"
# Partition 1 is led by broker 2 (not the controller, broker 1).
[ "$(leader_of r 1)" = 2 ] || fail "leader of r-1: $(topic_json r)"
for id in 1 2 3; do
  wait_until 10 grep -q "r-1: \(leading\|following 2\) at epoch 0" "$dir/broker-$id.log" ||
    fail "broker $id took no role for r-1"
done

step "acks=all: 1000 records acknowledged, each replica holds them"
seq 1 1000 | sed 's/^/a-/' > "$dir/a.in"
P 1 < "$dir/a.in" 2> "$dir/a.err" || fail "acks=all produce: $(cat "$dir/a.err")"
grep -q "Delivery failed" "$dir/a.err" && fail "acks=all produce: $(cat "$dir/a.err")"
K -C -t r -p 1 -o beginning -e -q > "$dir/a.out" || fail "consume"
[ "$(cat "$dir/a.in")" = "$(cat "$dir/a.out")" ] || fail "read $(wc -l < "$dir/a.out") of 1000 records"
# The followers' logs have the leader's bytes (a segment each, the same
# size) and the isr is still all three.
isr_is r 1 "2,3,1\|1,2,3\|2,1,3\|3,2,1" || fail "isr: $(topic_json r)"
sizes=$(for id in 1 2 3; do stat -c %s "$dir/broker-$id/data/r-1/"*.log; done | sort -u)
[ "$(echo "$sizes" | wc -l)" -eq 1 ] && [ "$sizes" -gt 0 ] ||
  fail "replica segment sizes differ: $(for id in 1 2 3; do ls -l "$dir/broker-$id/data/r-1/"; done)"

step "kill -9 the leader of r-1 (broker 2) while acks=all produce goes on"
: > "$dir/acked"
chunk() { seq 1 50 | sed "s/^/c$1-/"; }
i=0
killed_at=""
first_after=""
deadline=$(( $(date +%s) + 60 ))
while [ $i -lt 40 ] && [ "$(date +%s)" -lt $deadline ]; do
  i=$((i + 1))
  if [ $i -eq 10 ]; then
    killed_at=$(now_ms)
    cluster kill 2 "$dir" > /dev/null || fail "kill 2"
  fi
  chunk $i > "$dir/chunk"
  if P 1 < "$dir/chunk" 2> "$dir/chunk.err" && ! grep -q "Delivery failed" "$dir/chunk.err"; then
    cat "$dir/chunk" >> "$dir/acked"
    if [ -n "$killed_at" ] && [ -z "$first_after" ]; then first_after=$(now_ms); fi
  fi
done
[ -n "$first_after" ] || fail "no acks=all write succeeded after the kill: $(cat "$dir/chunk.err")"
echo "FIGURE leader kill -9 to the first acknowledged acks=all write: $((first_after - killed_at)) ms"
new=$(leader_of r 1)
[ "$new" = 1 ] || [ "$new" = 3 ] || fail "new leader of r-1: $(topic_json r)"

step "every acknowledged record is read back from the new leader, once, in order"
K -C -t r -p 1 -o beginning -e -q > "$dir/b.out" || fail "consume after failover"
grep -v '^a-' "$dir/b.out" > "$dir/b.chunks"
head -1000 "$dir/b.out" | cmp -s - "$dir/a.in" || fail "the first 1000 records changed"
# Acknowledged records, each once, in the order acknowledged; records of
# a chunk that failed may be there too (they were not acknowledged).
grep -Fxf "$dir/acked" "$dir/b.chunks" > "$dir/b.acked"
cmp -s "$dir/b.acked" "$dir/acked" ||
  fail "acknowledged: $(wc -l < "$dir/acked"), read back once and in order: no ($(wc -l < "$dir/b.acked") lines)"
[ "$(sort "$dir/b.out" | uniq -d | wc -l)" -eq 0 ] || fail "duplicates: $(sort "$dir/b.out" | uniq -d | head -3)"
echo "acknowledged $(wc -l < "$dir/acked") records in chunks; all read back"

step "with only 1 of 3 replicas in sync, acks=all gets NOT_ENOUGH_REPLICAS"
other=$((new == 1 ? 3 : 1))
cluster kill "$other" "$dir" > /dev/null || fail "kill $other"
wait_until 20 isr_is r 1 "$new" || fail "isr did not shrink to $new: $(topic_json r)"
# No retries, so the delivery report carries the broker's error.
echo x | K -P -t r -p 1 -X acks=all -X retries=0 2> "$dir/ner.err"
grep -q "Not enough in-sync replicas" "$dir/ner.err" ||
  fail "no NOT_ENOUGH_REPLICAS: $(cat "$dir/ner.err")"
# acks=1 still works.
echo y | K -P -t r -p 1 -X acks=1 || fail "acks=1 with one replica"

step "broker 2 returns: it compares its epoch history with the new leader (OffsetForLeaderEpoch), catches up, rejoins the isr"
cluster restart 2 "$dir" > /dev/null 2>&1 || fail "restart 2"
wait_until 30 sh -c "timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/r --print-value-only | grep -q '\"partition\":1,[^}]*\"isr\":\[[0-9,]*2'" ||
  fail "broker 2 did not rejoin the isr: $(topic_json r)"
echo z | P 1 2> "$dir/z.err" || fail "acks=all after broker 2 rejoined: $(cat "$dir/z.err")"
K -C -t r -p 1 -o beginning -e -q > "$dir/c.out" || fail "consume"
tail -2 "$dir/c.out" | tr '\n' ' ' | grep -q "^y z $" || fail "tail: $(tail -3 "$dir/c.out")"
echo "PASS"
