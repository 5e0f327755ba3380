#!/usr/bin/env bash
# perf/peers.sh: fjord and its peers, NATS JetStream and Redis Streams,
# measured on this machine with the same produce and consume scenario (one
# stream or partition, 100 B and 1 KiB records), each run repeated and the
# medians tabulated with fjord's ratio to each peer.
#
# Starts its own fjord-broker, nats-server and redis-server on 127.0.0.1
# with data in a temporary directory, drives them with build/bin/fjord-perf
# and build/bin/fjord-peer-bench (and redis-benchmark as a cross-check),
# stops all three by PID, prints a markdown table on stdout (progress on
# stderr). See perf/README.md.
#
# Environment (defaults in brackets):
#   BUILD [build]              build tree holding bin/fjord-peer-bench,
#                              bin/fjord-perf and bin/fjord-broker
#   REPS [3]                   repetitions of every run; the table shows medians
#   RECORDS_100 [1000000]      records in the 100-byte runs
#   RECORDS_1K [200000]        records in the 1 KiB runs
#   RUN_TIMEOUT [120]          seconds any one run may take
#   PEERS_JSON                 if set, also write every run's JSON line there
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
BENCH=$BUILD/bin/fjord-peer-bench
FJORD_PERF=$BUILD/bin/fjord-perf
FJORD_BROKER=$BUILD/bin/fjord-broker
REPS=${REPS:-3}
RECORDS_100=${RECORDS_100:-1000000}
RECORDS_1K=${RECORDS_1K:-200000}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}

die() { echo "peers.sh: $*" >&2; exit 1; }
note() { echo "peers.sh: $*" >&2; }

for b in "$BENCH" "$FJORD_PERF" "$FJORD_BROKER"; do
  [ -x "$b" ] || die "$b not found; build it: cmake --build $BUILD --target fjord-peer-bench fjord-perf fjord-broker"
done
for cmd in nats-server redis-server redis-benchmark; do
  command -v "$cmd" >/dev/null || die "$cmd is not installed (deploy/install-deps.sh installs it)"
done

. perf/broker_lib.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fjord-peers-XXXXXX")
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do stop_server "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers ---------------------------------------------------------------

# nats-server picks a free port itself (-p -1) and logs it.
start_nats() {
  mkdir -p "$tmp/nats"
  nats-server -js -a 127.0.0.1 -p -1 -sd "$tmp/nats" > "$tmp/nats.log" 2>&1 &
  NATS_PID=$!
  server_pids+=("$NATS_PID")
  NATS_PORT=""
  for _ in $(seq 1 100); do
    NATS_PORT=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/nats.log" | head -1)
    [ -n "$NATS_PORT" ] && grep -q "Server is ready" "$tmp/nats.log" && break
    kill -0 "$NATS_PID" 2>/dev/null || die "nats-server exited at start: $(tail -5 "$tmp/nats.log")"
    sleep 0.1
  done
  [ -n "$NATS_PORT" ] || die "nats-server did not come up: $(tail -5 "$tmp/nats.log")"
  NATS_VERSION=$(nats-server --version | sed 's/.*v//')
}

# redis-server cannot pick its own port (0 turns TCP off): try random high
# ports until one binds.
start_redis() {
  mkdir -p "$tmp/redis"
  for _ in $(seq 1 20); do
    REDIS_PORT=$((20000 + RANDOM % 40000))
    : > "$tmp/redis.log"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --appendonly yes \
      --appendfsync everysec --save '' --dir "$tmp/redis" \
      --daemonize no --logfile "$tmp/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
      grep -q "Ready to accept connections" "$tmp/redis.log" && break
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q "Ready to accept connections" "$tmp/redis.log"; then
      server_pids+=("$REDIS_PID")
      REDIS_VERSION=$(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')
      return 0
    fi
    stop_server "$REDIS_PID"
  done
  die "redis-server did not come up: $(tail -5 "$tmp/redis.log")"
}

# fjord-broker with its defaults (flush.ms=1000), Kafka and gRPC on ports
# the kernel picks (read back from its log).
start_fjord() {
  start_broker "$FJORD_BROKER" "$tmp"
  FJORD_PID=$broker_pid FJORD_PORT=$kport FJORD_ADMIN_PORT=$gport
  server_pids+=("$FJORD_PID")
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {  # PID
  awk -v tck="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / tck }' "/proc/$1/stat"
}

# --- runs ------------------------------------------------------------------

results=$tmp/results.jsonl
: > "$results"

# Runs one measurement and appends its JSON line, tagged with the scenario
# it belongs to, the repetition and the CPU the server used meanwhile.
run() {  # SCENARIO REP SERVER_PID COMMAND...
  local scenario=$1 rep=$2 spid=$3
  shift 3
  local before after line
  before=$(cpu_seconds "$spid")
  if ! line=$(timeout $((RUN_TIMEOUT + 30)) "$@" 2> "$tmp/run.err" | tail -1); then
    die "run failed: $* :: $(tail -3 "$tmp/run.err")"
  fi
  after=$(cpu_seconds "$spid")
  case "$line" in
    "{"*"}") ;;
    *) die "no JSON result from: $* :: $(tail -3 "$tmp/run.err")" ;;
  esac
  note "$scenario #$rep: $(tail -1 "$tmp/run.err")"
  echo "${line%\}},\"scenario\":\"$scenario\",\"rep\":$rep,\"server_cpu_seconds\":$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a - b }')}" >> "$results"
}

# redis-benchmark's XADD, the same shape as redis-produce (8 connections,
# pipeline 64, one field of SIZE bytes), turned into a result line.
run_redis_benchmark() {  # REP RECORDS SIZE
  local rep=$1 n=$2 size=$3 value before after t0 t1 rps
  value=$(head -c "$size" /dev/zero | tr '\0' 'x')
  timeout 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" DEL fjordbench-rb > /dev/null
  before=$(cpu_seconds "$REDIS_PID")
  t0=$(date +%s.%N)
  rps=$(timeout $((RUN_TIMEOUT + 30)) redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" \
          -c 8 -P 64 -n "$n" --csv XADD fjordbench-rb '*' f "$value" 2>/dev/null |
        awk -F'","' 'NR == 2 { print $2 }') || die "redis-benchmark failed"
  t1=$(date +%s.%N)
  after=$(cpu_seconds "$REDIS_PID")
  [ -n "$rps" ] || die "redis-benchmark printed no result"
  # redis-benchmark sends whole pipelines, so it may add up to 8 x 64 more.
  local len
  len=$(timeout 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" XLEN fjordbench-rb)
  [ "$len" -ge "$n" ] && [ "$len" -le $((n + 512)) ] ||
    die "redis-benchmark left $len entries, expected $n"
  timeout 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" DEL fjordbench-rb > /dev/null
  note "produce, redis-benchmark #$rep: $rps requests/s"
  awk -v rps="$rps" -v n="$len" -v size="$size" -v rep="$rep" -v v="$REDIS_VERSION" \
      -v scpu="$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a - b }')" 'BEGIN {
    printf "{\"system\":\"redis-streams\",\"op\":\"produce\",\"records\":%d,\"record_size\":%d,", n, size
    printf "\"records_per_sec\":%.3f,\"mb_per_sec\":%.3f,\"seconds\":%.3f,", rps, rps * size / 1048576, n / rps
    printf "\"client_cpu_seconds\":-1,\"server_version\":\"%s\",\"connections\":8,\"pipeline\":64,", v
    printf "\"tool\":\"redis-benchmark\",\"scenario\":\"produce, redis-benchmark\",\"rep\":%d,\"server_cpu_seconds\":%s}\n", rep, scpu
  }' >> "$results"
}

# One repetition of each system's scenarios at one record size.
nats_runs() {  # REP RECORDS SIZE
  local rep=$1 common=(--records "$2" --record-size "$3" --timeout "$RUN_TIMEOUT")
  run "produce" "$rep" "$NATS_PID" \
    "$BENCH" nats-produce --port "$NATS_PORT" "${common[@]}" --window 1000
  run "consume" "$rep" "$NATS_PID" \
    "$BENCH" nats-consume --port "$NATS_PORT" "${common[@]}" --batch 1000 --window 2 --ack-policy none
  run "produce, nats-bench style" "$rep" "$NATS_PID" \
    "$BENCH" nats-produce --port "$NATS_PORT" "${common[@]}" --window 100 --wait-for-window
}
redis_runs() {  # REP RECORDS SIZE
  local rep=$1 common=(--records "$2" --record-size "$3" --timeout "$RUN_TIMEOUT")
  run "produce" "$rep" "$REDIS_PID" \
    "$BENCH" redis-produce --port "$REDIS_PORT" "${common[@]}" --connections 8 --pipeline 64
  run "consume" "$rep" "$REDIS_PID" \
    "$BENCH" redis-consume --port "$REDIS_PORT" "${common[@]}" --batch 1000
  run_redis_benchmark "$rep" "$2" "$3"
}

# fjord: one partition, a fresh topic per repetition (deleted after), the
# producer with acks=1 (the durability the peers have: page cache before
# the ack, fsync within a second), and, stronger than either peer, acks=all
# (acknowledged once fsynced, by group commit).
fjord_runs() {  # REP RECORDS SIZE
  local rep=$1 topic="peers-$3-$1"
  local conn=(--brokers "127.0.0.1:$FJORD_PORT" --admin "127.0.0.1:$FJORD_ADMIN_PORT" --timeout "$RUN_TIMEOUT")
  local common=(--records "$2" --record-size "$3" "${conn[@]}")
  run "produce" "$rep" "$FJORD_PID" \
    "$FJORD_PERF" produce --topic "$topic" --partitions 1 --acks 1 "${common[@]}"
  run "consume" "$rep" "$FJORD_PID" \
    "$FJORD_PERF" consume --topic "$topic" "${common[@]}"
  run "produce, acks=all (fsync before ack)" "$rep" "$FJORD_PID" \
    "$FJORD_PERF" produce --topic "$topic-all" --partitions 1 --acks all "${common[@]}"
  for t in "$topic" "$topic-all"; do
    timeout 60 "$FJORD_PERF" delete --topic "$t" --brokers "127.0.0.1:$FJORD_PORT" \
      --admin "127.0.0.1:$FJORD_ADMIN_PORT" || die "deleting fjord topic $t failed"
  done
}

# The systems measured; every repetition runs each of them in turn, so a
# change in the machine's load (it is shared) falls on all of them alike.
systems=(fjord_runs nats_runs redis_runs)

all_runs() {  # RECORDS SIZE
  local rep system
  for rep in $(seq 1 "$REPS"); do
    for system in "${systems[@]}"; do "$system" "$rep" "$1" "$2"; done
  done
}

# --- table -----------------------------------------------------------------

# One row per (record size, system, scenario): medians over the runs, every
# run's records/s, CPU per record of server and client, and the ratio to
# the NATS and Redis medians of the same operation ("produce"/"consume"
# scenarios) and record size. Rows come in the order their first run did.
tabulate() {
  awk '
    function field(line, key,   re, v) {
      re = "\"" key "\":(\"[^\"]*\"|-?[0-9.]+|true|false)"
      if (!match(line, re)) return ""
      v = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
      gsub(/"/, "", v)
      return v
    }
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) {  # insertion sort, numeric
        t = a[i] + 0
        for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
      }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
      size = field($0, "record_size"); sys = field($0, "system")
      sc = field($0, "scenario"); op = field($0, "op")
      k = size SUBSEP sys SUBSEP sc
      if (!(k in rate)) { order[++rows] = k; opof[k] = op; nrec[k] = field($0, "records") }
      rate[k] = rate[k] " " field($0, "records_per_sec")
      mb[k] = mb[k] " " field($0, "mb_per_sec")
      n = field($0, "records")
      scpu[k] = scpu[k] " " (field($0, "server_cpu_seconds") / n * 1e6)
      c = field($0, "client_cpu_seconds")  # -1 or absent: not measured
      ccpu[k] = ccpu[k] " " (c == "" || c < 0 ? -1 : c / n * 1e6)
    }
    END {
      print "| record size | system | scenario | records | records/s (median) | MB/s (median) | every run, records/s | server CPU us/record | client CPU us/record | x NATS | x Redis |"
      print "|---|---|---|---|---|---|---|---|---|---|---|"
      for (r = 1; r <= rows; r++) {
        k = order[r]; split(k, p, SUBSEP)
        base_n = p[1] SUBSEP "nats-jetstream" SUBSEP opof[k]
        base_r = p[1] SUBSEP "redis-streams" SUBSEP opof[k]
        m = median(rate[k])
        xn = (base_n in rate) ? sprintf("%.2f", m / median(rate[base_n])) : "-"
        xr = (base_r in rate) ? sprintf("%.2f", m / median(rate[base_r])) : "-"
        runs = ""; nr = split(rate[k], a, " ")
        for (i = 1; i <= nr; i++) runs = runs (i > 1 ? ", " : "") sprintf("%.0f", a[i])
        cc = median(ccpu[k])
        printf "| %s B | %s | %s | %s | %.0f | %.1f | %s | %.2f | %s | %s | %s |\n",
          p[1], p[2], p[3], nrec[k], m, median(mb[k]), runs, median(scpu[k]),
          cc < 0 ? "-" : sprintf("%.2f", cc), xn, xr
      }
    }' "$results"
}

# --- main ------------------------------------------------------------------

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
start_fjord
start_nats
start_redis
note "fjord-broker on 127.0.0.1:$FJORD_PORT (pid $FJORD_PID), nats-server $NATS_VERSION on 127.0.0.1:$NATS_PORT (pid $NATS_PID), redis-server $REDIS_VERSION on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID), data in $tmp"

all_runs "$RECORDS_100" 100
all_runs "$RECORDS_1K" 1024

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "${PEERS_JSON:-}" ] && cp "$results" "$PEERS_JSON"

cat <<EOF
## Peers on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC')

$(nproc) cores; load average $load_before before, $load_after after; $(( $(date +%s) - started )) s.
Medians of $REPS runs; client and server share the machine (loopback).

Durability compared:
- fjord: one partition, default topic settings (\`flush.ms=1000\`: appends reach the page
  cache before the acknowledgement and are fsynced within a second); "produce" uses
  acks=1, the peers' contract; "produce, acks=all" is acknowledged only once the batch
  is fsynced (group commit), stronger than either peer. build/bin/fjord-perf, one
  producer (batch.size 1000000, linger.ms 5, idempotence on), one consumer.
- NATS JetStream $NATS_VERSION: file storage, one replica. Every message is written to the
  stream's block file before its PubAck; the file store fsyncs in the background
  every 2 minutes (built into nats-server 2.9, seen with strace on this machine;
  \`sync_interval\` only became configurable in 2.10, so it cannot be set to 1 s
  here). Weaker than the other two, which favours NATS.
- Redis Streams $REDIS_VERSION: \`appendonly yes\`, \`appendfsync everysec\` (AOF written
  before replying, fsynced once a second), RDB snapshots off (\`save ""\`).

Scenarios: NATS "produce" publishes asynchronously with a sliding window of 1000
unacknowledged publishes; "produce, nats-bench style" publishes batches of 100 and
waits for all their PubAcks before the next (what \`nats bench --js --pubbatch 100\`
does); "consume" reads through a durable pull consumer with AckNone, 2 pull requests
of 1000 outstanding. Redis "produce" is XADD (one 100 B or 1 KiB field) pipelined
64 deep on each of 8 connections; "produce, redis-benchmark" is the same load from
\`redis-benchmark -c 8 -P 64\`; "consume" is XREAD COUNT 1000 from the start on one
connection. Only acknowledged (produce) or read-back (consume) records count.
MB/s is MiB of record payload per second. "x NATS"/"x Redis": this row's median over
the NATS/Redis median for the same operation and record size.

EOF
tabulate
