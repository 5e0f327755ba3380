#!/usr/bin/env bash
# A 3-broker cluster in containers (deploy/container-cluster.sh: etcd and
# the brokers from the fjord image on a private bridge network): the image
# is built from these binaries (--prebuilt), every broker joins, the
# published host ports answer, kcat on the network produces 1000 records
# with acks=all to a partition replicated 3 times; the leader's container
# is killed (SIGKILL) while acks=all produce goes on in chunks: produce
# continues and every acknowledged record is read back exactly once; the
# killed broker restarts on its volume and rejoins; stop --volumes leaves
# no container, network or volume behind. Clients use only the test's
# network and 127.0.0.1. The kill-to-first-ack time is a FIGURE line.
# Exits 77 (skipped) without a container engine that can run containers.
# Usage: container_cluster_test.sh FJORD_BROKER FJORD_TOOL CONTAINER_CLUSTER_SH
# Environment: FJORD_IMAGE (use this image, build nothing), BASE (the base
# image to build on), and container-cluster.sh's CONTAINER_* flags.
set -u
BROKER=$1
TOOL=$2
CCS=$3
bin=$(cd "$(dirname "$BROKER")" && pwd)
[ "$(cd "$(dirname "$TOOL")" && pwd)" = "$bin" ] || { echo "FAIL: fjord-broker and fjord must be in one directory"; exit 1; }
# The runtime image has no sanitizer runtimes.
if ldd "$BROKER" 2> /dev/null | grep -q 'libasan\|libubsan\|libtsan'; then
  echo "SKIP: $BROKER is a sanitizer build; the image takes release binaries"
  exit 77
fi

step() { echo "== $*"; }
now_ms() { date +%s%3N; }

# A working engine, else skip.
engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  for e in podman docker; do
    if command -v "$e" > /dev/null && timeout 30 "$e" info > /dev/null 2>&1; then engine=$e; break; fi
  done
fi
[ -n "$engine" ] || { echo "SKIP: no working container engine (podman or docker)"; exit 77; }
export CONTAINER_ENGINE=$engine
E() { $engine ${CONTAINER_ENGINE_FLAGS:-} "$@"; }

# The base image: BASE, else debian:bookworm, else a local import of it.
if [ -z "${BASE:-}" ] && ! E image inspect debian:bookworm > /dev/null 2>&1 &&
  E image inspect localhost/debian:bookworm > /dev/null 2>&1; then
  export BASE=localhost/debian:bookworm
fi
probe=${FJORD_IMAGE:-${BASE:-debian:bookworm}}
# Sandboxes without cgroup v2 nor the right to raise rlimits need podman's
# flags from container-cluster.sh's header; used only when a plain run fails.
if ! timeout 120 $engine ${CONTAINER_ENGINE_FLAGS:-} run --rm ${CONTAINER_RUN_FLAGS:-} "$probe" true > /dev/null 2>&1; then
  if [ "$engine" = podman ] && [ -z "${CONTAINER_ENGINE_FLAGS:-}${CONTAINER_RUN_FLAGS:-}" ]; then
    export CONTAINER_ENGINE_FLAGS="--runtime runc --cgroup-manager cgroupfs"
    export CONTAINER_RUN_FLAGS="--ulimit nofile=20000:20000 --ulimit nproc=1000:1000"
    export CONTAINER_BUILD_FLAGS=${CONTAINER_BUILD_FLAGS:-"--isolation=chroot"}
  fi
  timeout 120 $engine ${CONTAINER_ENGINE_FLAGS:-} run --rm ${CONTAINER_RUN_FLAGS:-} "$probe" true > /dev/null 2>&1 ||
    { echo "SKIP: $engine cannot run a container of $probe here"; exit 77; }
  echo "note: $engine needs CONTAINER_ENGINE_FLAGS='$CONTAINER_ENGINE_FLAGS' CONTAINER_RUN_FLAGS='$CONTAINER_RUN_FLAGS' here"
fi

# Names and host ports of this run only (below the kernel's ephemeral range).
base=$((21000 + ($$ % 1000) * 10))
export CLUSTER_NAME="fjordtest$$" KAFKA_PORT=$base GRPC_PORT=$((base + 3)) METRICS_PORT=$((base + 6))
export PUBLISH=127.0.0.1 BROKER_SET="num.partitions=1"
built=""
if [ -z "${FJORD_IMAGE:-}" ]; then
  export FJORD_IMAGE="localhost/fjord:test-$$"
  built=1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-container-test-XXXXXX")
cleanup() {
  timeout 90 bash "$CCS" stop --volumes > /dev/null 2>&1
  # Whatever is left, by name.
  local c
  for c in $(E ps -a --filter "label=fjord.cluster=$CLUSTER_NAME" --format '{{.Names}}' 2> /dev/null); do
    E rm -f "$c" > /dev/null 2>&1
  done
  [ -n "$built" ] && E rmi -f "$FJORD_IMAGE" > /dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  local c
  for c in $(E ps -a --filter "label=fjord.cluster=$CLUSTER_NAME" --format '{{.Names}}' 2> /dev/null); do
    echo "--- $c (tail)"
    E logs --tail 8 "$c" 2>&1
  done
  exit 1
}
CC() { timeout 120 bash "$CCS" "$@"; }
boot="$CLUSTER_NAME-broker-1:$base,$CLUSTER_NAME-broker-2:$((base + 1)),$CLUSTER_NAME-broker-3:$((base + 2))"
# K ARGS...: kcat in a container on the cluster's network.
K() { timeout 60 bash "$CCS" run kcat -b "$boot" -X api.version.request.timeout.ms=5000 "$@"; }
P() { K -P -t t -p 0 -X acks=all -X enable.idempotence=true -X message.timeout.ms=8000; }
leader() { K -L -t t 2> /dev/null | sed -n 's/.*partition 0, leader \([0-9-]*\),.*/\1/p'; }

if [ -n "$built" ]; then
  step "build $FJORD_IMAGE from $bin"
  CC build --prebuilt "$bin" > "$dir/build.out" 2>&1 || fail "build: $(tail -20 "$dir/build.out")"
fi
t_start=$(now_ms)
step "start etcd + 3 brokers in $engine containers"
CC start 3 > "$dir/start.out" 2>&1 || fail "start: $(cat "$dir/start.out")"
grep -q "bootstrap $boot$" "$dir/start.out" || fail "start output: $(cat "$dir/start.out")"
for id in 1 2 3; do
  E logs "$CLUSTER_NAME-broker-$id" 2>&1 | grep -q "joined cluster fjord-local (etcd http://$CLUSTER_NAME-etcd:2379) advertising kafka $CLUSTER_NAME-broker-$id:$((base + id - 1))" ||
    fail "broker $id did not join as expected"
done
echo "cluster up in $(( $(now_ms) - t_start )) ms"
CC status > "$dir/status.out" 2>&1 || fail "status: $(cat "$dir/status.out")"
for id in 1 2 3; do
  grep -q "^registered: broker $id at $CLUSTER_NAME-broker-$id:$((base + id - 1))" "$dir/status.out" ||
    fail "status: $(cat "$dir/status.out")"
done

step "the published ports answer on 127.0.0.1 (Metadata from each broker)"
if command -v kcat > /dev/null; then
  for id in 1 2 3; do
    timeout 30 kcat -b "127.0.0.1:$((base + id - 1))" -L -X api.version.request.timeout.ms=5000 > "$dir/host-$id.out" 2>&1 ||
      fail "host kcat via broker $id: $(cat "$dir/host-$id.out")"
    grep -q " 3 brokers:" "$dir/host-$id.out" || fail "host metadata: $(cat "$dir/host-$id.out")"
  done
else
  echo "(no kcat on this host: skipped)"
fi
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((base + 6)) && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3" > "$dir/metrics.out" 2>&1
grep -q "^fjord_" "$dir/metrics.out" || fail "no /metrics on 127.0.0.1:$((base + 6)): $(head -5 "$dir/metrics.out")"

step "1000 records with acks=all to t-0 (replication factor 3), from a container on the network"
K -L -t t > /dev/null 2>&1  # Metadata for t creates it
wait_isr3() { K -L -t t 2> /dev/null | grep -q "partition 0, leader [1-3], replicas: [1-3],[1-3],[1-3], isrs: [1-3],[1-3],[1-3]$"; }
for _ in $(seq 1 20); do wait_isr3 && break; sleep 0.5; done
wait_isr3 || fail "t-0 is not replicated 3 times: $(K -L -t t 2>&1)"
seq 1 1000 | sed 's/^/a-/' > "$dir/a.in"
P < "$dir/a.in" 2> "$dir/a.err" || fail "produce: $(cat "$dir/a.err")"
grep -q "Delivery failed" "$dir/a.err" && fail "produce: $(cat "$dir/a.err")"
K -C -t t -p 0 -o beginning -e -q > "$dir/a.out" 2> "$dir/a.cerr" || fail "consume: $(cat "$dir/a.cerr")"
cmp -s "$dir/a.in" "$dir/a.out" || fail "read $(wc -l < "$dir/a.out") of 1000 records"
# The fjord tool in the image sees the topic too.
timeout 30 bash "$CCS" run fjord topic list --brokers "$CLUSTER_NAME-broker-1:$base" \
  --admin "$CLUSTER_NAME-broker-1:$((base + 3))" > "$dir/topics.out" 2>&1 || fail "fjord topic list: $(cat "$dir/topics.out")"
grep -q "^t  *1$" "$dir/topics.out" || fail "fjord topic list: $(cat "$dir/topics.out")"

step "kill the leader's container (SIGKILL) while acks=all produce goes on in chunks"
old=$(leader)
case "$old" in 1 | 2 | 3) ;; *) fail "no leader of t-0: $(K -L -t t 2>&1)" ;; esac
: > "$dir/acked"
killed_at=""
first_after=""
after=0
i=0
deadline=$(( $(date +%s) + 60 ))
while [ $after -lt 5 ] && [ "$(date +%s)" -lt $deadline ]; do
  i=$((i + 1))
  if [ $i -eq 3 ]; then
    killed_at=$(now_ms)
    CC kill "$old" > "$dir/kill.out" 2>&1 || fail "kill $old: $(cat "$dir/kill.out")"
  fi
  seq 1 50 | sed "s/^/c$i-/" > "$dir/chunk"
  if P < "$dir/chunk" 2> "$dir/chunk.err" && ! grep -q "Delivery failed" "$dir/chunk.err"; then
    cat "$dir/chunk" >> "$dir/acked"
    if [ -n "$killed_at" ]; then
      after=$((after + 1))
      [ -n "$first_after" ] || first_after=$(now_ms)
    fi
  fi
done
[ -n "$killed_at" ] || fail "never got to the kill"
[ -n "$first_after" ] || fail "no acks=all write succeeded after the kill: $(cat "$dir/chunk.err")"
[ $after -ge 5 ] || fail "only $after chunks acknowledged in the 60 s after the kill"
echo "FIGURE leader container SIGKILL to the first acknowledged acks=all write: $((first_after - killed_at)) ms"
new=$(leader)
case "$new" in 1 | 2 | 3) [ "$new" != "$old" ] || fail "broker $old still leads" ;; *) fail "no new leader: $(K -L -t t 2>&1)" ;; esac

step "every acknowledged record is read back from the new leader (broker $new), once"
K -C -t t -p 0 -o beginning -e -q > "$dir/b.out" 2> "$dir/b.cerr" || fail "consume: $(cat "$dir/b.cerr")"
head -1000 "$dir/b.out" | cmp -s - "$dir/a.in" || fail "the first 1000 records changed"
grep -Fxf "$dir/acked" "$dir/b.out" > "$dir/b.acked"
cmp -s "$dir/b.acked" "$dir/acked" ||
  fail "acknowledged $(wc -l < "$dir/acked"), read back once and in order: no ($(wc -l < "$dir/b.acked") lines)"
[ "$(sort "$dir/b.out" | uniq -d | wc -l)" -eq 0 ] || fail "duplicates: $(sort "$dir/b.out" | uniq -d | head -3)"
echo "acknowledged 1000 + $(wc -l < "$dir/acked") records ($i chunks tried); all read back once"

step "broker $old restarts on its volume and rejoins the isr"
CC restart "$old" > "$dir/restart.out" 2>&1 || fail "restart $old: $(cat "$dir/restart.out")"
for _ in $(seq 1 40); do wait_isr3 && break; sleep 0.5; done
wait_isr3 || fail "broker $old did not rejoin the isr: $(K -L -t t 2>&1)"

step "stop --volumes: brokers stop cleanly, nothing of the cluster is left"
CC stop --volumes > "$dir/stop.out" 2>&1 || fail "stop: $(cat "$dir/stop.out")"
[ "$(grep -c "^$CLUSTER_NAME-broker-[1-3] stopped cleanly$" "$dir/stop.out")" -eq 3 ] || fail "stop: $(cat "$dir/stop.out")"
[ -z "$(E ps -a --filter "label=fjord.cluster=$CLUSTER_NAME" --format '{{.Names}}')" ] || fail "containers left"
[ -z "$(E volume ls -q --filter "label=fjord.cluster=$CLUSTER_NAME")" ] || fail "volumes left"
E network inspect "$CLUSTER_NAME-net" > /dev/null 2>&1 && fail "network left"
echo "PASS ($(( $(now_ms) - t_start )) ms from start to stop)"
