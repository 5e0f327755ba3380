#!/usr/bin/env bash
# The gRPC Admin (and so the fjord tool) in a 3-broker cluster: every
# broker answers for the whole cluster. A topic created through one
# broker's Admin is placed by the controller (in etcd, replicated 3 times,
# in every broker's Kafka Metadata); any broker lists and describes it with
# its leaders, replicas and in-sync sets; cluster describe shows the three
# brokers and the controller; a config change, which would reach one
# broker only, is refused with a clear error; a delete through another
# broker removes it from the cluster.
# Usage: cluster_admin_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
. "$(dirname "$0")/cluster_test_lib.sh"
FJORD=$(dirname "$BROKER")/fjord
[ -x "$FJORD" ] || fail "no fjord tool beside $BROKER"

# F ID ARGS: the fjord tool against broker ID (Kafka and gRPC).
F() {
  local id=$1
  shift
  timeout 60 "$FJORD" --brokers "$(cat "$dir/broker-$id.address")" --admin "$(grpc_of "$id")" "$@"
}

step "start 3 brokers"
cluster start 3 "$dir" > "$dir/start.out" 2>&1 || fail "cluster start: $(cat "$dir/start.out")"
wait_controller_sees 3
for id in 1 2 3; do [ -n "$(grpc_of "$id")" ] || fail "no gRPC address of broker $id"; done

step "topic create through broker 2's Admin is placed by the controller"
F 2 topic create orders --partitions 3 --config retention.ms=3600000 > "$dir/create.out" 2>&1 ||
  fail "topic create: $(cat "$dir/create.out")"
topic_json orders | grep -q '"replication_factor":3' || fail "not in etcd with 3 replicas: $(topic_json orders)"
for id in 1 2 3; do
  wait_until 10 sh -c "timeout 10 kcat -b $(cat "$dir/broker-$id.address") -L -t orders 2>/dev/null | grep -q 'topic \"orders\" with 3 partitions'" ||
    fail "broker $id's Metadata has no orders with 3 partitions"
done

step "every broker lists it; broker 3 describes it with leaders, replicas and isr"
for id in 1 2 3; do
  F "$id" topic list > "$dir/list.$id" 2>&1 || fail "topic list on $id: $(cat "$dir/list.$id")"
  grep -q "^orders *3$" "$dir/list.$id" || fail "broker $id's list: $(cat "$dir/list.$id")"
done
wait_until 10 sh -c "[ \"\$(timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/orders --print-value-only | grep -o '\"isr\":\[[0-9],[0-9],[0-9]\]' | wc -l)\" = 3 ]" ||
  fail "isr not full: $(topic_json orders)"
F 3 topic describe orders --format json > "$dir/describe.json" 2>&1 || fail "describe: $(cat "$dir/describe.json")"
for p in 0 1 2; do
  want_leader=$(leader_of orders $p)
  got=$(jq -c ".partitions[$p] | [.leader, (.replicas | length), (.isr | length)]" "$dir/describe.json")
  [ "$got" = "[$want_leader,3,3]" ] || fail "partition $p: $got, etcd has leader $want_leader: $(cat "$dir/describe.json")"
done
jq -e '.configs[] | select(.name == "retention.ms") | .value == "3600000" and .source == "override"' "$dir/describe.json" > /dev/null ||
  fail "retention.ms override: $(jq -c '.configs' "$dir/describe.json")"
# Broker 3 holds a replica of every partition: its figures are known.
seq 1 30 | F 1 produce orders --acks all > /dev/null 2>&1 || fail "produce"
F 3 topic describe orders --format json > "$dir/describe2.json" 2>&1 || fail "describe"
[ "$(jq '[.partitions[].log_end_offset] | add' "$dir/describe2.json")" = 30 ] ||
  fail "log end offsets: $(jq -c '.partitions' "$dir/describe2.json")"

step "cluster describe lists the three brokers and the controller"
F 2 cluster describe --format json > "$dir/cluster.json" 2>&1 || fail "cluster describe: $(cat "$dir/cluster.json")"
[ "$(jq '.brokers | length' "$dir/cluster.json")" = 3 ] || fail "brokers: $(cat "$dir/cluster.json")"
controller=$(E get /fjord/fjord-local/controller --print-value-only | sed 's/.*"node_id":\([0-9]*\).*/\1/')
[ "$(jq '.controller_id' "$dir/cluster.json")" = "$controller" ] ||
  fail "controller: $(cat "$dir/cluster.json"), etcd: $controller"

step "a config change, which would reach one broker only, is refused"
F 1 topic alter-config orders --set retention.ms=1000 > "$dir/alter.out" 2>&1 && fail "alter-config was accepted"
grep -q "not supported in a cluster" "$dir/alter.out" || fail "alter-config: $(cat "$dir/alter.out")"
topic_json orders | grep -q '"retention.ms":"3600000"' || fail "config changed: $(topic_json orders)"

step "topic delete through broker 1 removes it from the cluster"
F 1 topic delete orders > "$dir/delete.out" 2>&1 || fail "delete: $(cat "$dir/delete.out")"
[ -z "$(topic_json orders)" ] || fail "still in etcd: $(topic_json orders)"
not_listed_on() { ! F "$1" topic list 2>/dev/null | grep -q '^orders '; }
wait_until 10 not_listed_on 3 || fail "broker 3 still lists orders"
F 2 topic describe orders > "$dir/gone.out" 2>&1 && fail "describe of a deleted topic succeeded"
grep -q "topic 'orders' not found" "$dir/gone.out" || fail "describe after delete: $(cat "$dir/gone.out")"
echo "PASS"
