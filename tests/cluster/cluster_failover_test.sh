#!/usr/bin/env bash
# Failover in a 3-broker cluster of processes (deploy/cluster.sh): kill -9
# the controller, which also leads partitions: another broker becomes
# controller and new leaders from the isr are recorded in etcd within
# seconds (both times printed as FIGURE lines); then brokers die until no
# in-sync replica is left: the partitions report LEADER_NOT_AVAILABLE
# (leader -1) through Metadata, and lead again when an in-sync replica
# returns. broker.session.timeout.ms is the default, 3000. (Phase 1 has no
# replication: a partition's records are on the broker that led it when
# they were produced, and only that is checked.)
# Usage: cluster_failover_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
. "$(dirname "$0")/cluster_test_lib.sh"

controller_is() { E get /fjord/fjord-local/controller --print-value-only | grep -q "\"node_id\":$1[,}]"; }
controller_not() { E get /fjord/fjord-local/controller --print-value-only | grep -q '"node_id"' &&
  ! controller_is "$1"; }
# No partition of topic $1 is led by broker $2.
not_led_by() { topic_json "$1" | grep -q '"leader"' && ! topic_json "$1" | grep -q "\"leader\":$2,"; }

step "start 3 brokers; topic t with 3 partitions, replication factor 3"
BROKER_SET="num.partitions=3" cluster start 3 "$dir" > "$dir/start.out" 2>&1 ||
  fail "cluster start: $(cat "$dir/start.out")"
wait_until 10 controller_is 1 || fail "broker 1 is not the controller"
wait_controller_sees 3
# Partition p starts led by broker p + 1 (placement from an empty cluster).
K -L -t t > /dev/null 2>&1  # Metadata for t creates it
wait_until 10 sh -c "timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/t --print-value-only | grep -q '\"partition\":2,\"replicas\":\[3,'" ||
  fail "placement: $(topic_json t)"
for p in 0 1 2; do
  seq 1 100 | sed "s/^/p$p-/" | K -P -t t -p $p || fail "produce to partition $p"
done

step "kill -9 the controller (broker 1, a leader too)"
t0=$(now_ms)
cluster kill 1 "$dir" > /dev/null || fail "kill 1"
wait_until 20 controller_not 1 || fail "no new controller"
t1=$(now_ms)
wait_until 20 not_led_by t 1 || fail "broker 1 still leads: $(topic_json t)"
t2=$(now_ms)
echo "FIGURE controller failover (kill -9 to a new controller in etcd): $((t1 - t0)) ms"
echo "FIGURE leader failover (kill -9 to new leaders recorded in etcd): $((t2 - t0)) ms"
[ $((t2 - t0)) -lt 10000 ] || fail "failover took $((t2 - t0)) ms"
topic_json t > "$dir/t1.json"
grep -q '"isr":\[[23],[23]\]' "$dir/t1.json" || fail "isr still has broker 1: $(cat "$dir/t1.json")"
grep -q '"leader_epoch":1' "$dir/t1.json" || fail "no epoch bump: $(cat "$dir/t1.json")"
K -L -t t > "$dir/meta1.out" 2>&1 || fail "kcat -L: $(cat "$dir/meta1.out")"
grep -q " 2 brokers:" "$dir/meta1.out" || fail "metadata: $(cat "$dir/meta1.out")"
grep -q "broker 1 at" "$dir/meta1.out" && fail "dead broker listed: $(cat "$dir/meta1.out")"
grep -q "leader 1," "$dir/meta1.out" && fail "dead leader listed: $(cat "$dir/meta1.out")"
K -C -t t -o beginning -e -q -p 0 > /dev/null || fail "consume after failover"

step "kill broker 2: broker 3, the last in-sync replica, leads everything"
cluster kill 2 "$dir" > /dev/null || fail "kill 2"
wait_until 20 not_led_by t 2 || fail "broker 2 still leads: $(topic_json t)"
[ "$(topic_json t | grep -o '"leader":3,' | wc -l)" -eq 3 ] || fail "not all led by 3: $(topic_json t)"

step "kill broker 3, restart broker 1 (out of sync): leader -1, LEADER_NOT_AVAILABLE"
cluster kill 3 "$dir" > /dev/null || fail "kill 3"
# Let broker 3's lease run out before anyone comes back.
wait_until 20 sh -c "! timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/brokers/3 --print-value-only | grep -q node_id" ||
  fail "broker 3 still registered"
cluster restart 1 "$dir" > /dev/null 2>&1 || fail "restart 1"
wait_until 20 sh -c "timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/t --print-value-only | grep -q '\"leader\":-1'" ||
  fail "no leader -1: $(topic_json t)"
topic_json t > "$dir/t3.json"
[ "$(grep -o '"leader":-1,' "$dir/t3.json" | wc -l)" -eq 3 ] || fail "not all offline: $(cat "$dir/t3.json")"
grep -q '"isr":\[3\]' "$dir/t3.json" || fail "isr lost its last member: $(cat "$dir/t3.json")"
timeout 30 kcat -b "$(cat "$dir/broker-1.address")" -L -t t > "$dir/meta3.out" 2>&1 || fail "kcat -L: $(cat "$dir/meta3.out")"
[ "$(grep -c "leader -1, replicas: .*, isrs: 3, Broker: Leader not available" "$dir/meta3.out")" -eq 3 ] ||
  fail "metadata: $(cat "$dir/meta3.out")"

step "broker 3 returns: it was in sync, so it leads again"
cluster restart 3 "$dir" > /dev/null 2>&1 || fail "restart 3"
wait_until 20 sh -c "[ \$(timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/t --print-value-only | grep -o '\"leader\":3,' | wc -l) -eq 3 ]" ||
  fail "broker 3 does not lead: $(topic_json t)"
# What broker 3 took as leader of partition 2 survived its kill -9.
timeout 30 kcat -b "$(cat "$dir/broker-3.address")" -C -t t -p 2 -o beginning -e -q > "$dir/after.out" || fail "consume from 3"
[ "$(seq 1 100 | sed 's/^/p2-/')" = "$(cat "$dir/after.out")" ] || fail "read $(wc -l < "$dir/after.out") of partition 2's 100 records from broker 3"
echo "PASS"
