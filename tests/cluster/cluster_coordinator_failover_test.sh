#!/usr/bin/env bash
# Consumer-group coordinator failover in a 3-broker cluster of processes
# (deploy/cluster.sh): a group's coordinator is the leader of its
# __consumer_offsets partition (created through the controller, replication
# factor 3). A member of group g1 (`fjord consume --group`) reads 150 of
# topic t's 300 records and commits; the coordinator broker is killed with
# kill -9; another broker, the partition's new leader, serves the group's
# committed offsets (the time from the kill is printed as a FIGURE line:
# the first DescribeGroup through a survivor that answers with them, which
# the coordinator serves from the same loaded offsets as FetchOffsets; one
# describe started right after the kill must also succeed on its own, by
# fjord::Admin's retries); a
# new member of g1 starts at those offsets (FetchOffsets) and reads exactly
# the other 150 records: nothing lost, nothing read twice. Its commits go
# to the new coordinator. broker.session.timeout.ms is the default, 3000.
# Usage: cluster_coordinator_failover_test.sh FJORD_BROKER CLUSTER_SH
# (the fjord tool is taken from the broker's directory).
BROKER=$1
CLUSTER_SH=$2
FJORD=$(dirname "$BROKER")/fjord
. "$(dirname "$0")/cluster_test_lib.sh"
[ -x "$FJORD" ] || fail "no fjord tool at $FJORD (build the fjord target)"
command -v jq > /dev/null || fail "jq is not installed"

# describe ADMIN: group g1 as JSON, through the broker at ADMIN.
describe() {
  timeout 20 "$FJORD" --admin "$1" --timeout-ms 2000 group describe g1 \
    --format json 2> "$dir/describe.err"
}
# offsets_of JSON: "partition:committed" for every partition, sorted.
offsets_of() { jq -r '[.partitions[] | "\(.partition):\(.committed_offset)"] | sort | join(" ")'; }
# consume_group ADMIN COUNT OUT: a member of g1 prints COUNT records of t.
consume_group() {
  timeout 60 "$FJORD" --brokers "$(bootstrap)" --admin "$1" --timeout-ms 5000 \
    consume t --group g1 --count "$2" --format '%p %o %v' > "$3" 2> "$3.err"
}

step "start 3 brokers; topic t with 3 partitions, replication factor 3"
BROKER_SET="num.partitions=3 offsets.topic.num.partitions=6" \
  cluster start 3 "$dir" > "$dir/start.out" 2>&1 ||
  fail "cluster start: $(cat "$dir/start.out")"
wait_controller_sees 3
K -L -t t > /dev/null 2>&1 # Metadata for t creates it
wait_until 15 sh -c "timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/t --print-value-only | grep -q '\"partition\":2,'" ||
  fail "topic t was not created"
for p in 0 1 2; do
  seq 1 100 | sed "s/^/p$p-/" |
    timeout 30 kcat -b "$(bootstrap)" -P -t t -p "$p" -X acks=all ||
    fail "produce to partition $p"
done

step "a member of g1 reads 150 records and commits them (this creates __consumer_offsets)"
admin1=$(grpc_of 1)
[ -n "$admin1" ] || fail "no gRPC address in broker-1.log"
consume_group "$admin1" 150 "$dir/first.out" ||
  fail "first consume: $(tail -5 "$dir/first.out.err")"
[ "$(wc -l < "$dir/first.out")" -eq 150 ] || fail "first consume printed $(wc -l < "$dir/first.out") records"
E get /fjord/fjord-local/topics/__consumer_offsets --print-value-only > "$dir/offsets-topic.json"
grep -q '"replication_factor":3' "$dir/offsets-topic.json" ||
  fail "__consumer_offsets is not replicated 3 times: $(cat "$dir/offsets-topic.json")"
describe "$admin1" > "$dir/before.json" || fail "describe: $(cat "$dir/describe.err")"
before=$(offsets_of < "$dir/before.json")
coordinator=$(jq -r .coordinator "$dir/before.json")
opart=$(jq -r .offsets_partition "$dir/before.json")
# Broker i listens on 127.0.0.(i+1).
victim=$(($(echo "$coordinator" | sed 's/^127\.0\.0\.\([0-9]*\):.*/\1/') - 1))
[ "$victim" -ge 1 ] && [ "$victim" -le 3 ] || fail "coordinator $coordinator is no broker of this cluster"
leader=$(jq -r ".partitions[$opart].leader" "$dir/offsets-topic.json")
[ "$leader" = "$victim" ] ||
  fail "the coordinator ($coordinator, broker $victim) is not the leader ($leader) of __consumer_offsets-$opart"
# The committed offsets add up to what was printed.
sum=$(jq '[.partitions[].committed_offset | select(. > 0)] | add' "$dir/before.json")
[ "$sum" -eq 150 ] || fail "committed offsets sum to $sum, not 150: $before"
# Every broker names the same coordinator (a non-coordinator answers
# FindCoordinator with the leader; calls sent to it say NOT_COORDINATOR).
for i in 1 2 3; do
  [ "$(describe "$(grpc_of "$i")" | jq -r .coordinator)" = "$coordinator" ] ||
    fail "broker $i names another coordinator than $coordinator"
done
echo "coordinator: broker $victim ($coordinator), __consumer_offsets-$opart; committed $before"

step "kill -9 the coordinator (broker $victim)"
survivor=$((victim % 3 + 1))
admin=$(grpc_of "$survivor")
t0=$(now_ms)
cluster kill "$victim" "$dir" > /dev/null || fail "kill $victim"
# One describe started at once must ride the failover out by itself
# (fjord::Admin retries while the coordinator moves).
timeout 40 "$FJORD" --admin "$admin" --timeout-ms 30000 group describe g1 \
  --format json > "$dir/single.json" 2> "$dir/single.err" &
single=$!
extra_pids+=("$single")
served() {
  describe "$admin" > "$dir/after.json" 2> /dev/null &&
    [ "$(offsets_of < "$dir/after.json")" = "$before" ]
}
wait_until 30 served || fail "the committed offsets are not served after the kill: $(cat "$dir/after.json" "$dir/describe.err")"
t1=$(now_ms)
echo "FIGURE coordinator failover: $((t1 - t0)) ms from kill to offsets served"
new=$(jq -r .coordinator "$dir/after.json")
[ "$new" != "$coordinator" ] || fail "the dead broker is still named coordinator"
E get /fjord/fjord-local/topics/__consumer_offsets --print-value-only > "$dir/offsets-topic2.json"
newleader=$(jq -r ".partitions[$opart].leader" "$dir/offsets-topic2.json")
[ "$new" = "$(grpc_of "$newleader")" ] ||
  fail "the new coordinator $new is not the new leader $newleader of __consumer_offsets-$opart"
[ $((t1 - t0)) -lt 20000 ] || fail "failover took $((t1 - t0)) ms"
wait "$single" || fail "a group describe during the failover failed: $(cat "$dir/single.err")"
[ "$(offsets_of < "$dir/single.json")" = "$before" ] ||
  fail "the describe during the failover saw $(offsets_of < "$dir/single.json")"

step "a new member of g1 resumes at the committed offsets: the other 150 records, none twice"
consume_group "$admin" 150 "$dir/second.out" ||
  fail "second consume: $(tail -5 "$dir/second.out.err")"
[ "$(wc -l < "$dir/second.out")" -eq 150 ] || fail "second consume printed $(wc -l < "$dir/second.out") records"
cut -d' ' -f3 "$dir/first.out" "$dir/second.out" | sort > "$dir/all.out"
for p in 0 1 2; do seq 1 100 | sed "s/^/p$p-/"; done | sort > "$dir/expected.out"
if ! cmp -s "$dir/all.out" "$dir/expected.out"; then
  fail "records lost or read twice: $(diff "$dir/expected.out" "$dir/all.out" | head -10)"
fi
# Its commits went to the new coordinator.
describe "$admin" > "$dir/end.json" || fail "describe: $(cat "$dir/describe.err")"
[ "$(offsets_of < "$dir/end.json")" = "0:100 1:100 2:100" ] ||
  fail "final committed offsets: $(offsets_of < "$dir/end.json")"
echo "PASS"
