#!/usr/bin/env bash
# A local fjord cluster: one etcd and N fjord-broker processes, each broker
# on its own loopback address (Linux routes all of 127.0.0.0/8 to lo, no
# setup needed): etcd on 127.0.0.1, broker i (node.id i) on 127.0.0.(i+1).
#
#   deploy/cluster.sh start [N] [DIR]   start etcd + N brokers (default 3)
#   deploy/cluster.sh status [DIR]      processes, controller, brokers
#   deploy/cluster.sh stop [DIR]        SIGTERM every process (by the PIDs
#                                       recorded in DIR), SIGKILL after 30 s
#   deploy/cluster.sh kill ID [DIR]     kill -9 broker ID (a crash drill)
#   deploy/cluster.sh restart ID [DIR]  start broker ID again, same data
#
# DIR (default ${TMPDIR:-/tmp}/fjord-cluster) holds everything: etcd/ and
# broker-<id>/ data, <name>.log, <name>.pid, broker-<id>.properties, and
# `bootstrap` (the brokers' host:port list) and `etcd.endpoint`.
# Environment: FJORD_BROKER (default: this checkout's
# build/bin/fjord-broker), CLUSTER_ID (fjord-local), ETCD_PORT (2379), KAFKA_PORT (9092),
# GRPC_PORT (9093), METRICS_PORT (9094) -- 0 lets the kernel pick a free
# port (the ports in use are read back from the logs) -- and BROKER_SET
# (extra "key=value ..." properties for every broker).
set -u

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
shift || true

broker_bin=${FJORD_BROKER:-$here/../build/bin/fjord-broker}
cluster_id=${CLUSTER_ID:-fjord-local}
etcd_port=${ETCD_PORT:-2379}
kafka_port=${KAFKA_PORT:-9092}
grpc_port=${GRPC_PORT:-9093}
metrics_port=${METRICS_PORT:-9094}

die() { echo "cluster.sh: $*" >&2; exit 1; }

# alive PIDFILE NAME: the recorded process runs and is the one we started.
alive() {
  local pidfile=$1 name=$2 pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$name"
}

# wait_log FILE REGEX SECONDS PID: the first capture group of REGEX once it
# appears in FILE; fails if PID exits or time runs out.
wait_log() {
  local file=$1 regex=$2 secs=$3 pid=$4 v i
  for i in $(seq 1 $((secs * 10))); do
    v=$(sed -n "s/.*$regex.*/\1/p" "$file" 2>/dev/null | head -1)
    if [ -n "$v" ]; then echo "$v"; return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_broker() {
  local dir=$1 id=$2 host="127.0.0.$(($2 + 1))" pid port
  local log="$dir/broker-$id.log"
  if alive "$dir/broker-$id.pid" fjord-broker; then
    die "broker $id is already running (pid $(cat "$dir/broker-$id.pid"))"
  fi
  : >> "$log"
  echo "--- start $(date -Is)" >> "$log"
  local from
  from=$(wc -l < "$log")
  local sets=()
  for kv in ${BROKER_SET:-}; do sets+=(--set "$kv"); done
  "$broker_bin" --config "$dir/broker-$id.properties" "${sets[@]}" \
    >> "$log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$dir/broker-$id.pid"
  # Only this start's lines count.
  local part="$dir/.broker-$id.tail"
  for _ in $(seq 1 300); do
    tail -n +"$((from + 1))" "$log" > "$part"
    if grep -q "joined cluster" "$part"; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: broker $id exited at start:" >&2
      tail -5 "$part" >&2
      rm -f "$part"
      return 1
    fi
    sleep 0.1
  done
  if ! grep -q "joined cluster" "$part"; then
    rm -f "$part"
    die "broker $id did not join the cluster within 30 s (see $log)"
  fi
  port=$(sed -n "s/.*serving Kafka on $host:\([0-9]*\).*/\1/p" "$part" | head -1)
  rm -f "$part"
  echo "$host:$port" > "$dir/broker-$id.address"
}

write_bootstrap() {
  local dir=$1 list=""
  for f in "$dir"/broker-*.address; do
    [ -f "$f" ] || continue
    list="${list:+$list,}$(cat "$f")"
  done
  echo "$list" > "$dir/bootstrap"
}

do_start() {
  local n=${1:-3} dir=${2:-${TMPDIR:-/tmp}/fjord-cluster}
  case "$n" in '' | *[!0-9]*) die "N must be a number, got '$n'" ;; esac
  [ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "N must be in [1, 250]"
  [ -x "$broker_bin" ] || die "no fjord-broker at $broker_bin (build first, or set FJORD_BROKER)"
  command -v etcd > /dev/null || die "etcd is not installed (deploy/install-deps.sh installs etcd-server)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if alive "$dir/etcd.pid" etcd; then die "a cluster is already running in $dir (stop it first)"; fi

  # etcd. Its own peer URL is never dialled in a one-member cluster. Its
  # history is compacted hourly (brokers re-read after a compaction).
  : > "$dir/etcd.log"
  etcd --name fjord-etcd --data-dir "$dir/etcd" \
    --auto-compaction-mode periodic --auto-compaction-retention 1h \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls http://127.0.0.1:0 \
    --initial-advertise-peer-urls http://127.0.0.1:0 \
    --initial-cluster fjord-etcd=http://127.0.0.1:0 \
    >> "$dir/etcd.log" 2>&1 < /dev/null &
  local epid=$!
  echo "$epid" > "$dir/etcd.pid"
  local eport
  eport=$(wait_log "$dir/etcd.log" \
    'serving insecure client requests on 127\.0\.0\.1:\([0-9]*\)' 15 "$epid") ||
    { tail -5 "$dir/etcd.log" >&2; die "etcd did not start (see $dir/etcd.log)"; }
  local endpoint="http://127.0.0.1:$eport"
  echo "$endpoint" > "$dir/etcd.endpoint"

  local id
  for id in $(seq 1 "$n"); do
    local host="127.0.0.$((id + 1))"
    mkdir -p "$dir/broker-$id"
    cat > "$dir/broker-$id.properties" <<EOF
# fjord broker $id of the local cluster in $dir (deploy/cluster.sh)
node.id=$id
cluster.id=$cluster_id
log.dirs=$dir/broker-$id/data
listeners=PLAINTEXT://$host:$kafka_port
grpc.address=$host:$grpc_port
metrics.address=$host:$metrics_port
metadata.etcd.endpoints=$endpoint
EOF
  done
  # Started one after the other: each registers before the next starts, so
  # node 1 is the first controller.
  for id in $(seq 1 "$n"); do
    start_broker "$dir" "$id" || { do_stop "$dir" > /dev/null; exit 1; }
  done
  write_bootstrap "$dir"
  echo "fjord cluster '$cluster_id' up in $dir"
  echo "  etcd      $endpoint (pid $epid)"
  for id in $(seq 1 "$n"); do
    echo "  broker $id  $(cat "$dir/broker-$id.address") (pid $(cat "$dir/broker-$id.pid"))"
  done
  echo "  bootstrap $(cat "$dir/bootstrap")"
  echo "try: kcat -b $(cat "$dir/bootstrap") -L"
}

do_status() {
  local dir=${1:-${TMPDIR:-/tmp}/fjord-cluster} rc=0 f id
  [ -d "$dir" ] || die "no cluster directory $dir"
  if alive "$dir/etcd.pid" etcd; then
    echo "etcd      running (pid $(cat "$dir/etcd.pid")) $(cat "$dir/etcd.endpoint" 2>/dev/null)"
  else
    echo "etcd      stopped"; rc=1
  fi
  for f in "$dir"/broker-*.properties; do
    [ -f "$f" ] || continue
    id=$(sed -n 's/^node.id=//p' "$f")
    if alive "$dir/broker-$id.pid" fjord-broker; then
      echo "broker $id  running (pid $(cat "$dir/broker-$id.pid")) $(cat "$dir/broker-$id.address" 2>/dev/null)"
    else
      echo "broker $id  stopped"; rc=1
    fi
  done
  if alive "$dir/etcd.pid" etcd && command -v etcdctl > /dev/null; then
    local ep root
    ep=$(sed 's#http://##' "$dir/etcd.endpoint")
    root="/fjord/$(sed -n 's/^cluster.id=//p' "$dir/broker-1.properties" 2>/dev/null)"
    echo "controller: $(etcdctl --endpoints="$ep" get "$root/controller" --print-value-only 2>/dev/null)"
    echo "registered: $(etcdctl --endpoints="$ep" get "$root/brokers/" --prefix --keys-only 2>/dev/null | sed -n 's#.*/brokers/##p' | sort -n | tr '\n' ' ')"
  fi
  return $rc
}

# stop_pid PIDFILE NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local pidfile=$1 name=$2 pid
  alive "$pidfile" "$name" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  echo "cluster.sh: $name (pid $pid) did not stop in 30 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
  return 1
}

do_stop() {
  local dir=${1:-${TMPDIR:-/tmp}/fjord-cluster} rc=0 f
  [ -d "$dir" ] || die "no cluster directory $dir"
  # Brokers first (in parallel: each deregisters from etcd), then etcd.
  local pids=()
  for f in "$dir"/broker-*.pid; do
    [ -f "$f" ] || continue
    stop_pid "$f" fjord-broker &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  stop_pid "$dir/etcd.pid" etcd || rc=1
  echo "fjord cluster in $dir stopped"
  return $rc
}

do_kill() {
  local id=${1:-} dir=${2:-${TMPDIR:-/tmp}/fjord-cluster}
  [ -n "$id" ] || die "usage: cluster.sh kill ID [DIR]"
  alive "$dir/broker-$id.pid" fjord-broker || die "broker $id is not running"
  local pid
  pid=$(cat "$dir/broker-$id.pid")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$dir/broker-$id.pid"
  echo "broker $id (pid $pid) killed"
}

do_restart() {
  local id=${1:-} dir=${2:-${TMPDIR:-/tmp}/fjord-cluster}
  [ -n "$id" ] || die "usage: cluster.sh restart ID [DIR]"
  [ -f "$dir/broker-$id.properties" ] || die "no broker $id in $dir"
  dir=$(cd "$dir" && pwd)
  start_broker "$dir" "$id" || exit 1
  write_bootstrap "$dir"
  echo "broker $id $(cat "$dir/broker-$id.address") (pid $(cat "$dir/broker-$id.pid"))"
}

case "$cmd" in
  start) do_start "$@" ;;
  status) do_status "$@" ;;
  stop) do_stop "$@" ;;
  kill) do_kill "$@" ;;
  restart) do_restart "$@" ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || exit 2
    ;;
esac
