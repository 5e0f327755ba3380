# Shared by the cluster shell tests: a cluster from deploy/cluster.sh in a
# temporary directory, every port chosen by the kernel, always stopped by
# the PIDs it recorded. Source it with BROKER and CLUSTER_SH set.
set -u
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed"; exit 1; }
command -v etcd >/dev/null || { echo "FAIL: etcd is not installed (etcd-server)"; exit 1; }
command -v etcdctl >/dev/null || { echo "FAIL: etcdctl is not installed (etcd-client)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-cluster-test-XXXXXX")
export FJORD_BROKER=$BROKER ETCD_PORT=0 KAFKA_PORT=0 GRPC_PORT=0 METRICS_PORT=0
extra_pids=()
cleanup() {
  for p in "${extra_pids[@]}"; do
    kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  bash "$CLUSTER_SH" stop "$dir" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.log; do
    [ -f "$f" ] || continue
    echo "--- $(basename "$f") (tail)"
    tail -8 "$f"
  done
  exit 1
}
step() { echo "== $*"; }
now_ms() { date +%s%3N; }
cluster() { timeout 120 bash "$CLUSTER_SH" "$@"; }
bootstrap() { cat "$dir/bootstrap"; }
etcd_ep() { sed 's#http://##' "$dir/etcd.endpoint"; }
E() { timeout 10 etcdctl --endpoints="$(etcd_ep)" "$@"; }
K() { timeout 30 kcat -b "$(bootstrap)" -X api.version.request.timeout.ms=5000 "$@"; }
# The record of topic $1 in etcd (cluster id fjord-local), and from it the
# leader and the in-sync set (comma-separated) of its partition $2.
topic_json() { E get "/fjord/fjord-local/topics/$1" --print-value-only; }
leader_of() {
  topic_json "$1" | grep -o "\"partition\":$2,\"replicas\":\[[0-9,]*\],\"leader\":-\?[0-9]*" |
    sed 's/.*"leader"://'
}
isr_of() {
  topic_json "$1" | grep -o "\"partition\":$2,[^}]*\"isr\":\[[0-9,]*\]" |
    sed 's/.*"isr":\[\([0-9,]*\)\]/\1/'
}
# grpc_of ID: broker ID's gRPC address, as its log states it.
grpc_of() {
  sed -n 's/.*serving gRPC admin and coordinator on \([0-9.]*:[0-9]*\).*/\1/p' \
    "$dir/broker-$1.log" | tail -1
}
# wait_until SECONDS CMD...: polls CMD every 50 ms.
wait_until() {
  local secs=$1 i
  shift
  for i in $(seq 1 $((secs * 20))); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}
# sees_brokers N ADDR: the broker at ADDR lists N brokers in Metadata.
sees_brokers() {
  timeout 10 kcat -b "$2" -L -X api.version.request.timeout.ms=5000 2>/dev/null | grep -q " $1 brokers:"
}
# The controller (broker 1 after a start) places topics with what its own
# view shows: wait until that view has all N brokers.
wait_controller_sees() {
  wait_until 10 sees_brokers "$1" "$(cat "$dir/broker-1.address")" || fail "broker 1 does not see $1 brokers"
}
