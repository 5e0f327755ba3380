#!/usr/bin/env bash
# End-to-end smoke test of fjord-peer-bench against a real nats-server (with
# JetStream) and redis-server on 127.0.0.1: small runs whose every record
# must be acknowledged and read back byte for byte, checked both by the
# tool and independently (a raw JetStream API request, redis-cli), and the
# failures a benchmark must report instead of hanging. Bounded in time;
# servers are stopped by PID. Exits 77 (skipped) when a server is missing.
# Usage: peer_bench_test.sh PATH_TO_FJORD_PEER_BENCH
set -u
bench=$1
for cmd in nats-server redis-server redis-cli; do
  if ! command -v "$cmd" >/dev/null; then
    echo "SKIP: $cmd is not installed (deploy/install-deps.sh installs it)"
    exit 77
  fi
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-peer-bench-test-XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; wait "$pid" 2>/dev/null; fi
  done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }
B() { timeout 60 "$bench" "$@"; }
N=2000

# The value of JSON member $2 in the line $1.
json() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<< "$1"; }

# Record I of SIZE bytes as perf/internal/payload.h defines it.
record() {  # INDEX SIZE
  awk -v i="$1" -v n="$2" 'BEGIN {
    s = sprintf("%012d:", i)
    for (k = 13; k < n; k++) s = s sprintf("%c", 97 + (i + k) % 26)
    printf "%s", s
  }'
}

step "start nats-server and redis-server"
nats-server -js -a 127.0.0.1 -p -1 -sd "$dir/nats" > "$dir/nats.log" 2>&1 &
pids+=($!)
nport=""
for _ in $(seq 1 100); do
  nport=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/nats.log" | head -1)
  [ -n "$nport" ] && grep -q "Server is ready" "$dir/nats.log" && break
  sleep 0.1
done
[ -n "$nport" ] || fail "nats-server did not come up: $(tail -3 "$dir/nats.log")"
rport=""
for _ in $(seq 1 20); do
  p=$((20000 + RANDOM % 40000))
  : > "$dir/redis.log"
  redis-server --bind 127.0.0.1 --port "$p" --appendonly yes --appendfsync everysec \
    --save '' --dir "$dir" --daemonize no --logfile "$dir/redis.log" &
  rpid=$!
  for _ in $(seq 1 100); do
    grep -q "Ready to accept connections" "$dir/redis.log" && break
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "Ready to accept connections" "$dir/redis.log"; then
    pids+=("$rpid"); rport=$p; break
  fi
  kill -9 "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
done
[ -n "$rport" ] || fail "redis-server did not come up: $(tail -3 "$dir/redis.log")"
R() { timeout 30 redis-cli -h 127.0.0.1 -p "$rport" "$@"; }

step "nats-produce: every record acknowledged, the stream holds exactly them"
out=$(B nats-produce --port "$nport" --records $N --record-size 100 --window 64 --timeout 30) ||
  fail "nats-produce exited $?"
[ "$(json "$out" records)" = $N ] || fail "nats-produce: $out"
[ "$(json "$out" stream_messages)" = $N ] || fail "nats-produce stream count: $out"
[ "$(json "$out" system)" = nats-jetstream ] && [ "$(json "$out" op)" = produce ] ||
  fail "nats-produce JSON: $out"
for key in records_per_sec mb_per_sec seconds record_size; do
  [ -n "$(json "$out" $key)" ] || fail "nats-produce JSON lacks $key: $out"
done

step "the stored messages are the records, read with a raw JetStream API request"
# STREAM.MSG.GET answers with the message base64-encoded. One connection
# published in order, so stream sequence s holds record s-1.
for seq in 1 777 $N; do
  exec 3<>"/dev/tcp/127.0.0.1/$nport" || fail "connect to nats-server"
  req="{\"seq\":$seq}"
  printf 'CONNECT {"verbose":false}\r\nSUB _INBOX.t 1\r\nPUB $JS.API.STREAM.MSG.GET.fjordbench _INBOX.t %d\r\n%s\r\n' \
    "${#req}" "$req" >&3
  reply=""
  while IFS= read -r -t 5 line <&3; do
    case "$line" in MSG*) IFS= read -r -t 5 reply <&3; break ;; esac
  done
  exec 3<&-
  data=$(sed -n 's/.*"data":"\([^"]*\)".*/\1/p' <<< "$reply")
  [ -n "$data" ] || fail "no message $seq in: $reply"
  [ "$(base64 -d <<< "$data")" = "$(record $((seq - 1)) 100)" ] ||
    fail "stream message $seq is not record $((seq - 1))"
done

step "nats-consume (AckNone, uneven batches): every record read once, bytes checked"
out=$(B nats-consume --port "$nport" --records $N --record-size 100 --batch 300 --window 3 --verify --timeout 30) ||
  fail "nats-consume exited $?"
[ "$(json "$out" records)" = $N ] && [ "$(json "$out" verified)" = true ] || fail "nats-consume: $out"

step "nats-consume (AckAll): every record read and acknowledged"
out=$(B nats-consume --port "$nport" --records $N --record-size 100 --ack-policy all --verify --timeout 30) ||
  fail "nats-consume --ack-policy all exited $?"
[ "$(json "$out" records)" = $N ] && [ "$(json "$out" ack_policy)" = all ] || fail "nats-consume all: $out"

step "nats-produce over 3 connections, stop-and-wait windows, 1 KiB records"
out=$(B nats-produce --port "$nport" --records $N --record-size 1024 --connections 3 --window 50 --wait-for-window --timeout 30) ||
  fail "nats-produce 1 KiB exited $?"
[ "$(json "$out" records)" = $N ] && [ "$(json "$out" stream_messages)" = $N ] || fail "nats-produce 1 KiB: $out"
out=$(B nats-consume --port "$nport" --records $N --record-size 1024 --verify --timeout 30) ||
  fail "nats-consume 1 KiB exited $?"
[ "$(json "$out" records)" = $N ] || fail "nats-consume 1 KiB: $out"

step "redis-produce: every XADD answered, XLEN is exactly the records"
out=$(B redis-produce --port "$rport" --records $N --record-size 100 --connections 4 --pipeline 16 --timeout 30) ||
  fail "redis-produce exited $?"
[ "$(json "$out" records)" = $N ] && [ "$(json "$out" stream_entries)" = $N ] || fail "redis-produce: $out"
[ "$(json "$out" appendfsync)" = everysec ] || fail "redis-produce did not report the AOF setting: $out"
[ "$(R XLEN fjordbench)" = $N ] || fail "XLEN says $(R XLEN fjordbench)"

step "the stream's entries are the records, read with redis-cli"
# Four connections interleave, so take each value's index from the value.
R --raw XRANGE fjordbench - + COUNT 5 | awk 'NR % 3 == 0' > "$dir/values"
[ "$(wc -l < "$dir/values")" = 5 ] || fail "XRANGE returned $(cat "$dir/values")"
while IFS= read -r v; do
  i=$((10#${v:0:12}))
  [ "$v" = "$(record "$i" 100)" ] || fail "entry value is not record $i: $v"
done < "$dir/values"

step "redis-consume (uneven batches): every record read once, bytes checked"
out=$(B redis-consume --port "$rport" --records $N --record-size 100 --batch 300 --verify --timeout 30) ||
  fail "redis-consume exited $?"
[ "$(json "$out" records)" = $N ] && [ "$(json "$out" verified)" = true ] || fail "redis-consume: $out"

step "consuming more records than stored fails at once, saying so"
for sys in nats redis; do
  port=$nport; [ $sys = redis ] && port=$rport
  if err=$(B $sys-consume --port "$port" --records $((N + 1)) --timeout 30 2>&1 >/dev/null); then
    fail "$sys-consume of $((N + 1)) records succeeded"
  fi
  grep -q "fewer than the $((N + 1)) to read" <<< "$err" || fail "$sys-consume said: $err"
done

step "a verifying consumer rejects records of another size"
if err=$(B redis-consume --port "$rport" --records 10 --record-size 101 --verify --timeout 30 2>&1 >/dev/null); then
  fail "redis-consume accepted 100-byte records as 101-byte ones"
fi
grep -q "record is 100 bytes, expected 101" <<< "$err" || fail "redis-consume said: $err"

step "a server that stops answering ends the run at --timeout"
R CLIENT PAUSE 10000 WRITE > /dev/null || fail "CLIENT PAUSE"
t0=$(date +%s)
if err=$(B redis-produce --port "$rport" --records 100 --timeout 1 2>&1 >/dev/null); then
  fail "redis-produce succeeded while writes were paused"
fi
t1=$(date +%s)
grep -q "timed out" <<< "$err" || fail "redis-produce said: $err"
[ $((t1 - t0)) -le 5 ] || fail "redis-produce took $((t1 - t0)) s to time out"
R CLIENT UNPAUSE > /dev/null || fail "CLIENT UNPAUSE"

step "speaking NATS to Redis times out waiting for INFO; a closed port is refused"
if err=$(B nats-produce --port "$rport" --records 10 --timeout 1 2>&1 >/dev/null); then
  fail "nats-produce against redis-server succeeded"
fi
grep -q "timed out waiting for the INFO" <<< "$err" || fail "nats-produce said: $err"
if err=$(B redis-produce --port 1 --records 10 --timeout 5 2>&1 >/dev/null); then
  fail "redis-produce to port 1 succeeded"
fi
grep -q "connect to 127.0.0.1:1" <<< "$err" || fail "redis-produce said: $err"

echo "PASS: fjord-peer-bench against nats-server and redis-server"
