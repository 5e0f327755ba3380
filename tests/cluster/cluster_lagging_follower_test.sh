#!/usr/bin/env bash
# A follower that stops fetching (SIGSTOP: alive, registered, its etcd
# lease still held, but frozen) leaves the in-sync set after
# replica.lag.time.max.ms, so acks=all writes go on with the two replicas
# left instead of waiting for it; once it runs again (SIGCONT) it catches
# up, rejoins the isr, and ends with the leader's bytes. Every record
# acknowledged meanwhile is read back once, in order.
# Usage: cluster_lagging_follower_test.sh FJORD_BROKER CLUSTER_SH
BROKER=$1
CLUSTER_SH=$2
. "$(dirname "$0")/cluster_test_lib.sh"

in_isr() { isr_of "$1" "$2" | tr ',' '\n' | grep -qx "$3"; }
not_in_isr() { ! in_isr "$@"; }
P() {
  timeout 30 kcat -b "$(bootstrap)" -P -t lag -p 0 -X acks=all \
    -X enable.idempotence=true -X message.timeout.ms=15000 \
    -X api.version.request.timeout.ms=5000 "$@"
}
# chunk NAME: 100 acks=all records NAME-1..NAME-100; appended to acked
# when kcat reports every one delivered.
chunk() {
  seq 1 100 | sed "s/^/$1-/" > "$dir/chunk"
  if P < "$dir/chunk" 2> "$dir/chunk.err" && ! grep -q "Delivery failed" "$dir/chunk.err"; then
    cat "$dir/chunk" >> "$dir/acked"
    return 0
  fi
  return 1
}

# Lag 1 s; a broker's session (lease) 10 s, so a follower frozen for a
# few seconds is out of the isr for lagging, not for a lost lease.
step "start 3 brokers (replica.lag.time.max.ms=1000, broker.session.timeout.ms=10000)"
BROKER_SET="num.partitions=1 replica.lag.time.max.ms=1000 broker.session.timeout.ms=10000" \
  cluster start 3 "$dir" > "$dir/start.out" 2>&1 || fail "cluster start: $(cat "$dir/start.out")"
wait_controller_sees 3
K -L -t lag > /dev/null 2>&1  # Metadata creates the topic
wait_until 15 sh -c "[ \"\$(timeout 10 etcdctl --endpoints=$(etcd_ep) get /fjord/fjord-local/topics/lag --print-value-only | grep -o '\"isr\":\[[0-9,]*\]' | tr -cd ',' | wc -c)\" = 2 ]" ||
  fail "topic lag with 3 in-sync replicas: $(topic_json lag)"
leader=$(leader_of lag 0)
follower=""
for id in 1 2 3; do
  if [ "$id" != "$leader" ]; then follower=$id; fi
done
[ -n "$leader" ] && [ -n "$follower" ] || fail "leader/follower of lag-0: $(topic_json lag)"
echo "leader $leader, frozen follower $follower"
: > "$dir/acked"
chunk before || fail "acks=all with 3 in sync: $(cat "$dir/chunk.err")"

step "freeze follower $follower (SIGSTOP): it leaves the isr while writes go on"
fpid=$(cat "$dir/broker-$follower.pid")
kill -STOP "$fpid" || fail "SIGSTOP $fpid"
stopped_at=$(now_ms)
i=0
left=""
while [ $i -lt 30 ]; do
  i=$((i + 1))
  chunk "during$i" || fail "acks=all while follower $follower is frozen: $(cat "$dir/chunk.err")"
  if not_in_isr lag 0 "$follower"; then
    left=$(now_ms)
    break
  fi
done
[ -n "$left" ] || { kill -CONT "$fpid"; fail "follower $follower never left the isr: $(topic_json lag)"; }
echo "FIGURE frozen follower out of the isr after $((left - stopped_at)) ms (replica.lag.time.max.ms=1000)"
# It left for lagging: it is still registered (its lease outlives the freeze).
E get "/fjord/fjord-local/brokers/$follower" --print-value-only | grep -q "\"node_id\":$follower" ||
  { kill -CONT "$fpid"; fail "broker $follower lost its registration (the lease, not lag, removed it)"; }
grep -q "lag-0: isr \[[0-9,]*\] -> \[[0-9,]*\]" "$dir/broker-$leader.log" ||
  { kill -CONT "$fpid"; fail "the leader logged no isr change"; }
# acks=all goes on with two in sync.
for j in 1 2 3; do
  chunk "shrunk$j" || { kill -CONT "$fpid"; fail "acks=all with 2 of 3 in sync: $(cat "$dir/chunk.err")"; }
done

step "thaw follower $follower (SIGCONT): it catches up and rejoins the isr"
kill -CONT "$fpid" || fail "SIGCONT $fpid"
wait_until 30 in_isr lag 0 "$follower" || fail "follower $follower did not rejoin the isr: $(topic_json lag)"
chunk after || fail "acks=all after the rejoin: $(cat "$dir/chunk.err")"
# The follower holds the leader's bytes once it has fetched the last chunk.
same_size() {
  [ "$(for id in 1 2 3; do stat -c %s "$dir/broker-$id/data/lag-0/"*.log; done | sort -u | wc -l)" -eq 1 ]
}
wait_until 10 same_size ||
  fail "replica segment sizes differ: $(for id in 1 2 3; do ls -l "$dir/broker-$id/data/lag-0/"; done)"

step "every acknowledged record is read back once, in order"
K -C -t lag -p 0 -o beginning -e -q > "$dir/out" || fail "consume"
grep -Fxf "$dir/acked" "$dir/out" > "$dir/out.acked"
cmp -s "$dir/out.acked" "$dir/acked" ||
  fail "acknowledged $(wc -l < "$dir/acked"), read back once and in order: no ($(wc -l < "$dir/out.acked"))"
[ "$(sort "$dir/out" | uniq -d | wc -l)" -eq 0 ] || fail "duplicates: $(sort "$dir/out" | uniq -d | head -3)"
echo "acknowledged $(wc -l < "$dir/acked") records; all read back once"
echo "PASS"
