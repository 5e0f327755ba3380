#!/usr/bin/env bash
# A 3-broker cluster from deploy/cluster.sh (etcd + brokers on 127.0.0.1-4,
# kernel-chosen ports) seen through kcat: Metadata lists every broker with
# its advertised address and each partition's leader, replicas and isr;
# auto-created topics are spread with balanced leaders; records produced
# through the leaders read back; the cluster stops cleanly.
# Usage: cluster_kcat_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
. "$(dirname "$0")/cluster_test_lib.sh"

step "start 3 brokers and etcd"
BROKER_SET="num.partitions=6" cluster start 3 "$dir" > "$dir/start.out" 2>&1 ||
  fail "cluster start: $(cat "$dir/start.out")"
for id in 1 2 3; do
  grep -q "^127\.0\.0\.$((id + 1)):[0-9]*$" "$dir/broker-$id.address" ||
    fail "broker $id address: $(cat "$dir/broker-$id.address")"
done
cluster status "$dir" > "$dir/status.out" || fail "status: $(cat "$dir/status.out")"
grep -q "registered: 1 2 3" "$dir/status.out" || fail "status: $(cat "$dir/status.out")"

step "kcat -L lists all three brokers with their addresses"
wait_controller_sees 3
K -L > "$dir/meta.out" 2>&1 || fail "kcat -L: $(cat "$dir/meta.out")"
grep -q " 3 brokers:" "$dir/meta.out" || fail "metadata: $(cat "$dir/meta.out")"
for id in 1 2 3; do
  grep -q "broker $id at $(cat "$dir/broker-$id.address")" "$dir/meta.out" ||
    fail "broker $id missing: $(cat "$dir/meta.out")"
done
grep -q "broker 1 at .* (controller)" "$dir/meta.out" || fail "controller: $(cat "$dir/meta.out")"
# Each broker answers alike.
for id in 2 3; do
  timeout 30 kcat -b "$(cat "$dir/broker-$id.address")" -L > "$dir/meta-$id.out" 2>&1 ||
    fail "kcat -L via broker $id"
  grep -q " 3 brokers:" "$dir/meta-$id.out" || fail "via broker $id: $(cat "$dir/meta-$id.out")"
done

step "an auto-created topic gets 6 partitions, replication factor 3, balanced leaders"
seq 1 3000 | awk '{ printf "k%d\tv%d\n", $1 % 37, $1 }' > "$dir/in"
# acks=all: answered once the in-sync replicas have the records, so they
# are below the high watermark, which is what a consumer reads up to (an
# acks=1 record becomes readable only once the followers fetched it).
K -P -t orders -K $'\t' -X acks=all < "$dir/in" || fail "produce"
K -L -t orders > "$dir/orders.out" 2>&1 || fail "kcat -L -t orders"
grep -q 'topic "orders" with 6 partitions' "$dir/orders.out" || fail "orders: $(cat "$dir/orders.out")"
for id in 1 2 3; do
  n=$(grep -c "leader $id, replicas: [1-3],[1-3],[1-3], isrs: [1-3],[1-3],[1-3]$" "$dir/orders.out")
  [ "$n" -eq 2 ] || fail "broker $id leads $n partitions, not 2: $(cat "$dir/orders.out")"
done
E get /fjord/fjord-local/topics/orders --print-value-only > "$dir/orders.json" || fail "etcdctl get"
grep -q '"replication_factor":3' "$dir/orders.json" || fail "record: $(cat "$dir/orders.json")"

step "records read back from the leaders"
K -C -t orders -o beginning -e -q -K $'\t' > "$dir/out" || fail "consume"
[ "$(sort "$dir/in" | md5sum)" = "$(sort "$dir/out" | md5sum)" ] || fail "records differ ($(wc -l < "$dir/out") read)"
# Keyed records: each partition holds what its leader took.
for id in 1 2 3; do
  ls "$dir/broker-$id/data" | grep -q '^orders-5$' || fail "broker $id has no local orders logs"
done

step "idempotent producers get their ids from blocks in etcd"
seq 1 10 | K -P -t ids -X enable.idempotence=true || fail "idempotent produce"
E get /fjord/fjord-local/producer_ids --print-value-only > "$dir/ids.json" || fail "etcdctl get"
grep -q '"next_producer_id":"[1-9][0-9]*"' "$dir/ids.json" || fail "producer ids: $(cat "$dir/ids.json")"

step "stop: every broker deregisters and stops cleanly"
cluster stop "$dir" > "$dir/stop.out" 2>&1 || fail "stop: $(cat "$dir/stop.out")"
for id in 1 2 3; do
  grep -q "stopped cleanly" "$dir/broker-$id.log" || fail "broker $id did not stop cleanly"
  grep -q "deregistered from etcd" "$dir/broker-$id.log" || fail "broker $id did not deregister"
done
cluster status "$dir" > /dev/null && fail "status says running after stop"
echo "PASS"
