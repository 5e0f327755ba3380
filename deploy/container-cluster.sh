#!/usr/bin/env bash
# A fjord cluster in containers: one etcd and N brokers from the fjord image
# (deploy/Containerfile) on a user-defined bridge network, with podman or
# docker. Broker i (node.id i) is the container NAME-broker-i; it listens
# on Kafka port KAFKA_PORT+i-1 and gRPC port GRPC_PORT+i-1 and advertises
# NAME-broker-i with those ports, which resolve on the network (the
# engine's DNS); the same ports are published on PUBLISH of this host.
#
#   deploy/container-cluster.sh build [--prebuilt [DIR]]
#                                 build the image FJORD_IMAGE: compile in the
#                                 image, or (--prebuilt) copy fjord-broker and
#                                 fjord from DIR (default build/bin)
#   deploy/container-cluster.sh start [N]   etcd + N brokers (default 3),
#                                 building the image first if it is missing
#   deploy/container-cluster.sh status      containers, controller, brokers
#   deploy/container-cluster.sh stop [--volumes]
#                                 stop (SIGTERM, SIGKILL after 30 s) and remove
#                                 the containers and the network; --volumes
#                                 also removes the data volumes
#   deploy/container-cluster.sh kill ID     SIGKILL broker ID's container
#   deploy/container-cluster.sh restart ID  start broker ID again, same data
#   deploy/container-cluster.sh run CMD...  CMD in a throwaway container on
#                                 the network, stdin attached (a client:
#                                 run kcat -b NAME-broker-1:19092 -L)
#
# Environment: CONTAINER_ENGINE (podman or docker; default the first whose
# `info` works), CLUSTER_NAME (fjord: names the containers, network
# NAME-net and volumes NAME-*-data), CLUSTER_ID (fjord-local), FJORD_IMAGE
# (fjord:latest), FJORD_PREBUILT (a DIR: `start` builds a missing image
# from it as with build --prebuilt), BASE (the base image, a build arg;
# default debian:bookworm), KAFKA_PORT (19092), GRPC_PORT (19192),
# METRICS_PORT (19292, published to each broker's 9094), PUBLISH (127.0.0.1;
# "none" publishes nothing), BROKER_SET (extra "key=value ..." properties
# for every broker), and flags for engines that need them:
# CONTAINER_ENGINE_FLAGS (before the command), CONTAINER_RUN_FLAGS (every
# run), CONTAINER_BUILD_FLAGS (build). A sandbox without cgroup v2 nor
# permission to raise rlimits needs, with podman:
#   CONTAINER_ENGINE_FLAGS="--runtime runc --cgroup-manager cgroupfs"
#   CONTAINER_RUN_FLAGS="--ulimit nofile=20000:20000 --ulimit nproc=1000:1000"
#   CONTAINER_BUILD_FLAGS="--isolation=chroot"
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cmd=${1:-}
shift || true

name=${CLUSTER_NAME:-fjord}
cluster_id=${CLUSTER_ID:-fjord-local}
image=${FJORD_IMAGE:-fjord:latest}
kafka_port=${KAFKA_PORT:-19092}
grpc_port=${GRPC_PORT:-19192}
metrics_port=${METRICS_PORT:-19292}
publish=${PUBLISH:-127.0.0.1}
network="$name-net"
label="fjord.cluster=$name"

die() { echo "container-cluster.sh: $*" >&2; exit 1; }

engine=${CONTAINER_ENGINE:-}
find_engine() {
  [ -n "$engine" ] && return 0
  local e
  for e in podman docker; do
    if command -v "$e" > /dev/null && $e ${CONTAINER_ENGINE_FLAGS:-} info > /dev/null 2>&1; then
      engine=$e
      return 0
    fi
  done
  die "no working container engine (podman or docker; set CONTAINER_ENGINE)"
}
# E ARGS...: the engine with its global flags (word-split on purpose).
E() { $engine ${CONTAINER_ENGINE_FLAGS:-} "$@"; }

running() { [ "$(E inspect -f '{{.State.Running}}' "$1" 2> /dev/null)" = true ]; }
exists() { E inspect -f '{{.Id}}' "$1" > /dev/null 2>&1; }
# count_log CONTAINER TEXT: how many lines of the container's log hold TEXT.
count_log() { E logs "$1" 2>&1 | grep -c "$2"; }

# wait_log CONTAINER TEXT BEFORE SECONDS: until more than BEFORE lines of
# the log hold TEXT; fails if the container stops or time runs out.
wait_log() {
  local c=$1 text=$2 before=$3 secs=$4
  for _ in $(seq 1 $((secs * 5))); do
    [ "$(count_log "$c" "$text")" -gt "$before" ] && return 0
    running "$c" || return 1
    sleep 0.2
  done
  return 1
}

do_build() {
  local prebuilt="" dir=""
  if [ "${1:-}" = --prebuilt ]; then
    prebuilt=1
    dir=${2:-$root/build/bin}
  elif [ -n "${1:-}" ]; then
    die "usage: container-cluster.sh build [--prebuilt [DIR]]"
  fi
  find_engine
  # shellcheck disable=SC2206 # the flags are words on purpose
  local args=(build ${CONTAINER_BUILD_FLAGS:-} -f "$here/Containerfile" -t "$image")
  [ -n "${BASE:-}" ] && args+=(--build-arg "BASE=$BASE")
  if [ -z "$prebuilt" ]; then
    echo "building $image (compiling fjord in the image; takes a while)" >&2
    E "${args[@]}" "$root" || die "image build failed"
    return 0
  fi
  [ -x "$dir/fjord-broker" ] && [ -x "$dir/fjord" ] ||
    die "no fjord-broker and fjord in $dir (build them first)"
  # The context is a directory holding just the two binaries, without
  # their debug info.
  local ctx
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/fjord-image-XXXXXX")
  local b
  for b in fjord-broker fjord; do
    strip --strip-debug -o "$ctx/$b" "$dir/$b" 2> /dev/null || cp "$dir/$b" "$ctx/$b"
  done
  echo "building $image from the binaries in $dir" >&2
  E "${args[@]}" --target prebuilt "$ctx"
  local rc=$?
  rm -rf "$ctx"
  [ $rc -eq 0 ] || die "image build failed"
}

# broker_addr ID: the address broker ID advertises (its container's label).
broker_addr() {
  E inspect -f '{{index .Config.Labels "fjord.kafka"}}' "$name-broker-$1" 2> /dev/null
}
broker_ids() {
  E ps -a --filter "label=$label" --format '{{.Names}}' |
    sed -n "s/^$name-broker-\([0-9]*\)$/\1/p" | sort -n
}
bootstrap() {
  local id list=""
  for id in $(broker_ids); do list="${list:+$list,}$(broker_addr "$id")"; done
  echo "$list"
}

ensure_volume() {
  E volume inspect "$1" > /dev/null 2>&1 ||
    E volume create --label "$label" "$1" > /dev/null || die "cannot create volume $1"
}

create_broker() {
  local id=$1 c="$name-broker-$1"
  local kp=$((kafka_port + id - 1)) gp=$((grpc_port + id - 1)) mp=$((metrics_port + id - 1))
  local ports=()
  if [ "$publish" != none ]; then
    ports=(-p "$publish:$kp:$kp" -p "$publish:$gp:$gp" -p "$publish:$mp:9094")
  fi
  local sets=(--set "node.id=$id" --set "cluster.id=$cluster_id"
    --set "listeners=PLAINTEXT://0.0.0.0:$kp"
    --set "advertised.listeners=PLAINTEXT://$c:$kp"
    --set "grpc.address=0.0.0.0:$gp" --set "grpc.advertised.address=$c:$gp"
    --set "metadata.etcd.endpoints=$name-etcd:2379")
  local kv
  for kv in ${BROKER_SET:-}; do sets+=(--set "$kv"); done
  ensure_volume "$c-data"
  E run -d ${CONTAINER_RUN_FLAGS:-} --name "$c" --hostname "$c" \
    --network "$network" --label "$label" --label "fjord.kafka=$c:$kp" \
    -v "$c-data:/var/lib/fjord" "${ports[@]}" "$image" \
    fjord-broker --config /etc/fjord/broker.properties "${sets[@]}" > /dev/null
}

# await_join ID BEFORE: broker ID logs one more "joined cluster" than BEFORE.
await_join() {
  local c="$name-broker-$1"
  if ! wait_log "$c" "joined cluster" "$2" 60; then
    echo "container-cluster.sh: broker $1 did not join the cluster within 60 s:" >&2
    E logs --tail 5 "$c" >&2 2>&1
    return 1
  fi
}

do_start() {
  local n=${1:-3}
  case "$n" in '' | *[!0-9]*) die "N must be a number, got '$n'" ;; esac
  [ "$n" -ge 1 ] && [ "$n" -le 90 ] || die "N must be in [1, 90]"
  find_engine
  if [ -n "$(E ps -a --filter "label=$label" --format '{{.Names}}')" ]; then
    die "cluster '$name' has containers already (stop it first: container-cluster.sh stop)"
  fi
  if ! E image inspect "$image" > /dev/null 2>&1; then
    if [ -n "${FJORD_PREBUILT:-}" ]; then do_build --prebuilt "$FJORD_PREBUILT"; else do_build; fi
  fi
  E network inspect "$network" > /dev/null 2>&1 ||
    E network create --label "$label" "$network" > /dev/null ||
    die "cannot create network $network"

  # etcd, a one-member cluster on the network. Its peer URL is never
  # dialled. History compacted hourly (brokers re-read after a compaction).
  ensure_volume "$name-etcd-data"
  E run -d ${CONTAINER_RUN_FLAGS:-} --name "$name-etcd" --hostname "$name-etcd" \
    --network "$network" --label "$label" -v "$name-etcd-data:/var/lib/fjord" \
    "$image" etcd --name fjord-etcd --data-dir /var/lib/fjord/etcd \
    --auto-compaction-mode periodic --auto-compaction-retention 1h \
    --listen-client-urls http://0.0.0.0:2379 \
    --advertise-client-urls "http://$name-etcd:2379" \
    --listen-peer-urls http://127.0.0.1:2380 \
    --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster fjord-etcd=http://127.0.0.1:2380 > /dev/null ||
    { do_stop > /dev/null 2>&1; die "cannot start etcd"; }
  if ! wait_log "$name-etcd" "ready to serve client requests" 0 30; then
    E logs --tail 5 "$name-etcd" >&2 2>&1
    do_stop > /dev/null 2>&1
    die "etcd did not start"
  fi

  # One after the other: each registers before the next starts, so broker
  # 1 is the first controller.
  local id
  for id in $(seq 1 "$n"); do
    if ! create_broker "$id" || ! await_join "$id" 0; then
      do_stop > /dev/null 2>&1
      die "broker $id did not start"
    fi
  done
  echo "fjord cluster '$name' (cluster.id $cluster_id) up in $engine containers (image $image, network $network)"
  echo "  etcd      $name-etcd:2379"
  for id in $(seq 1 "$n"); do
    local host=""
    [ "$publish" != none ] && host=", published on $publish:$((kafka_port + id - 1))"
    echo "  broker $id  $(broker_addr "$id")$host"
  done
  echo "  bootstrap $(bootstrap)"
  echo "on the network: $0 run kcat -b $(bootstrap) -L"
  if [ "$publish" != none ]; then
    local names
    names=$(for id in $(seq 1 "$n"); do printf ' %s' "$name-broker-$id"; done)
    echo "from this host: map the names to $publish (/etc/hosts: \"$publish$names\"), then kcat -b $publish:$kafka_port -L"
  fi
}

do_status() {
  find_engine
  local rc=0 c id any=""
  if running "$name-etcd"; then
    echo "etcd      running ($name-etcd:2379)"
  else
    echo "etcd      stopped"; rc=1
  fi
  for id in $(broker_ids); do
    if running "$name-broker-$id"; then
      echo "broker $id  running $(broker_addr "$id")"
      [ -n "$any" ] || any=$id
    else
      echo "broker $id  stopped"; rc=1
    fi
  done
  [ -n "$(broker_ids)" ] || { echo "no brokers of cluster '$name'"; rc=1; }
  if [ -n "$any" ]; then
    # The brokers as broker $any sees them (Metadata), the controller marked.
    E exec "$name-broker-$any" timeout 10 kcat -b "$(broker_addr "$any")" -L -m 5 2>&1 |
      sed -n 's/^  broker \([0-9]*\) at \(.*\)/registered: broker \1 at \2/p'
  fi
  return $rc
}

do_stop() {
  local volumes=""
  [ "${1:-}" = --volumes ] && volumes=1
  find_engine
  local cs c pids=() p rc=0
  cs=$(E ps -a --filter "label=$label" --format '{{.Names}}' | grep -v -- "-etcd$")
  # Brokers first (in parallel: each deregisters from etcd), then etcd.
  for c in $cs; do
    E stop -t 30 "$c" > /dev/null 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  E stop -t 30 "$name-etcd" > /dev/null 2>&1
  # How each broker's last run ended, read before its log goes.
  for c in $cs; do
    if E logs --tail 3 "$c" 2>&1 | grep -q "stopped cleanly"; then
      echo "$c stopped cleanly"
    else
      echo "$c did not stop cleanly (killed, or crashed):"
      E logs --tail 3 "$c" 2>&1 | sed 's/^/  /'
    fi
  done
  for c in $(E ps -a --filter "label=$label" --format '{{.Names}}'); do
    E rm -f "$c" > /dev/null || rc=1
  done
  E network inspect "$network" > /dev/null 2>&1 && { E network rm "$network" > /dev/null || rc=1; }
  if [ -n "$volumes" ]; then
    for c in $(E volume ls -q --filter "label=$label"); do
      E volume rm "$c" > /dev/null || rc=1
    done
  fi
  echo "fjord cluster '$name' stopped and removed${volumes:+, with its volumes}"
  return $rc
}

do_kill() {
  local id=${1:-}
  [ -n "$id" ] || die "usage: container-cluster.sh kill ID"
  find_engine
  running "$name-broker-$id" || die "broker $id is not running"
  E kill --signal KILL "$name-broker-$id" > /dev/null || die "kill failed"
  while running "$name-broker-$id"; do sleep 0.05; done
  echo "broker $id ($name-broker-$id) killed"
}

do_restart() {
  local id=${1:-}
  [ -n "$id" ] || die "usage: container-cluster.sh restart ID"
  find_engine
  exists "$name-broker-$id" || die "no broker $id in cluster '$name'"
  running "$name-broker-$id" && die "broker $id is already running"
  local before
  before=$(count_log "$name-broker-$id" "joined cluster")
  E start "$name-broker-$id" > /dev/null || die "cannot start broker $id"
  await_join "$id" "$before" || exit 1
  echo "broker $id $(broker_addr "$id")"
}

do_run() {
  [ $# -gt 0 ] || die "usage: container-cluster.sh run CMD..."
  find_engine
  E run --rm -i ${CONTAINER_RUN_FLAGS:-} --network "$network" "$image" "$@"
}

case "$cmd" in
  build) do_build "$@" ;;
  start) do_start "$@" ;;
  status) do_status "$@" ;;
  stop) do_stop "$@" ;;
  kill) do_kill "$@" ;;
  restart) do_restart "$@" ;;
  run) do_run "$@" ;;
  *)
    sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || exit 2
    ;;
esac
