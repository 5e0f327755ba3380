# perf/broker_lib.sh: sourced by the perf scripts. A fjord-broker on
# 127.0.0.1 with every port 0 (the kernel's choice, read from its log),
# always stopped by its PID.
#
#   start_broker BIN DIR [ARG...]  fresh data in DIR/data, log DIR/broker.log,
#                                  ARGs passed on (--set k=v ...); sets
#                                  broker_pid, kport (Kafka), gport (gRPC),
#                                  mport (/metrics); exits 1 if it does not
#                                  come up within 20 s
#   stop_server PID                SIGTERM, up to 10 s to finish, then SIGKILL
#   stop_broker                    stop_server of the broker
#   broker_cpu_ticks               its user + system CPU so far, in clock ticks

broker_pid=""

start_broker() {
  local bin=$1 dir=$2
  shift 2
  rm -rf "$dir/data"
  "$bin" --data-dir "$dir/data" --kafka-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
    --metrics-addr 127.0.0.1:0 "$@" > "$dir/broker.log" 2>&1 &
  broker_pid=$!
  kport="" gport="" mport=""
  for _ in $(seq 1 200); do
    kport=$(sed -n 's/.*serving Kafka on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
    gport=$(sed -n 's/.*serving gRPC admin and coordinator on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
    mport=$(sed -n 's/.*serving \/metrics on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
    [ -n "$kport" ] && [ -n "$gport" ] && [ -n "$mport" ] && return 0
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "fjord-broker did not come up: $(tail -5 "$dir/broker.log")" >&2
  exit 1
}

stop_server() {  # PID
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

stop_broker() {
  stop_server "$broker_pid"
  broker_pid=""
}

broker_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$broker_pid/stat"; }
