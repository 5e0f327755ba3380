#!/usr/bin/env bash
# End to end: build/bin/fjord driven against a real fjord-broker (Kafka,
# gRPC and metrics on 127.0.0.1 port 0, ports read from its log): topics,
# produce and consume back byte for byte, replay by offset, by time and to
# another topic (checked with kcat too), groups (two `consume --group`
# members sharing a topic, lag, reset), segment verify of a
# corrupted copy, and the error paths with their exit codes (1 operational,
# 2 usage). Bounded in time; the broker is stopped by its PID.
# Usage: commands_test.sh PATH_TO_FJORD PATH_TO_FJORD_BROKER
set -u
fjord=$1
broker=$2
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (deploy/install-deps.sh installs it)"; exit 1; }
command -v jq >/dev/null || { echo "FAIL: jq is not installed (deploy/install-deps.sh installs it)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-commands-test-XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; wait "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- broker log (tail)"; tail -20 "$dir/broker.log" 2>/dev/null; exit 1; }
step() { echo "== $*"; }

# Heartbeats every 500 ms (default 5 s): a group of `consume --group`
# members settles its assignment in about a second.
"$broker" --data-dir "$dir/data" --kafka-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
  --metrics-addr 127.0.0.1:0 --set group.consumer.heartbeat.interval.ms=500 > "$dir/broker.log" 2>&1 &
pid=$!
kport=""; gport=""
for _ in $(seq 1 150); do
  kport=$(sed -n 's/.*serving Kafka on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
  gport=$(sed -n 's/.*serving gRPC admin and coordinator on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/broker.log" | head -1)
  if [ -n "$kport" ] && [ -n "$gport" ]; then break; fi
  kill -0 "$pid" 2>/dev/null || fail "broker exited at start"
  sleep 0.1
done
[ -n "$kport" ] && [ -n "$gport" ] || fail "broker did not come up"
B="127.0.0.1:$kport"
A="127.0.0.1:$gport"
F() { timeout 60 "$fjord" --brokers "$B" --admin "$A" --timeout-ms 5000 "$@"; }
K() { timeout 60 kcat -b "$B" -X api.version.request.timeout.ms=5000 "$@"; }
# expect RC OUTFILE CMD...: runs CMD, stdout+stderr to OUTFILE, checks the exit code.
expect() {
  local want=$1 out=$2; shift 2
  "$@" > "$out" 2>&1
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc (want $want) from: $* -> $(cat "$out")"
}

# one_line FILE: an error is one line.
one_line() { [ "$(wc -l < "$1")" -eq 1 ] || fail "not one line: $(cat "$1")"; }

step "topic create, list, describe, alter-config, cluster describe"
expect 0 "$dir/o" F topic create lines --partitions 1
grep -q "created topic lines with 1 partition" "$dir/o" || fail "create: $(cat "$dir/o")"
expect 0 "$dir/o" F topic create keyed --partitions 3 --config retention.ms=86400000
expect 0 "$dir/o" F topic list --format json
[ "$(jq -c '[.[] | [.name, .partitions]]' "$dir/o")" = '[["keyed",3],["lines",1]]' ] || fail "list json: $(cat "$dir/o")"
expect 0 "$dir/o" F topic describe keyed --format json
[ "$(jq -r '.configs[] | select(.name == "retention.ms") | .value + " " + .source' "$dir/o")" = "86400000 override" ] \
  || fail "describe configs: $(cat "$dir/o")"
expect 0 "$dir/o" F topic alter-config keyed --set segment.ms=600000 --delete retention.ms
grep -q "segment.ms=600000 (override)" "$dir/o" || fail "alter set: $(cat "$dir/o")"
grep -q "retention.ms=604800000 (default)" "$dir/o" || fail "alter delete: $(cat "$dir/o")"
expect 0 "$dir/o" F cluster describe --format json
[ "$(jq -r '.brokers[0].kafka' "$dir/o")" = "$B" ] || fail "cluster brokers: $(cat "$dir/o")"
[ "$(jq -r '.topics[] | select(.name == "keyed") | .partitions' "$dir/o")" = 3 ] || fail "cluster topics: $(cat "$dir/o")"

step "produce 10,000 lines and consume them back byte for byte"
# Tabs, backslashes, quotes, UTF-8, a trailing space, an empty line.
awk 'BEGIN { for (i = 0; i < 10000; i++) {
  if (i == 77) { print ""; continue }
  printf "line-%05d\t\\\"q\" caf\xc3\xa9 %s \n", i, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26) } }' > "$dir/lines.in"
expect 0 "$dir/produce.err" F produce lines < "$dir/lines.in"
grep -q "produced 10000 records to lines: partition 0 offsets 0..9999" "$dir/produce.err" || fail "produce summary: $(cat "$dir/produce.err")"
F consume lines --exit-at-end > "$dir/lines.out" 2> "$dir/consume.err" || fail "consume: $(cat "$dir/consume.err")"
cmp -s "$dir/lines.in" "$dir/lines.out" || fail "consumed lines differ: $(cmp "$dir/lines.in" "$dir/lines.out")"
[ ! -s "$dir/consume.err" ] || fail "consume wrote to stderr: $(cat "$dir/consume.err")"
# JSON: one object per line, the same bytes.
F consume lines --exit-at-end --format json > "$dir/lines.json" || fail "consume json"
[ "$(wc -l < "$dir/lines.json")" -eq 10000 ] || fail "json line count"
jq -r '.value' "$dir/lines.json" | cmp -s - "$dir/lines.in" || fail "json values differ"
[ "$(sed -n 5p "$dir/lines.json" | jq -c '[.topic, .partition, .offset, .key, .headers, .timestamp_type]')" = '["lines",0,4,null,[],"CreateTime"]' ] \
  || fail "json fields: $(sed -n 5p "$dir/lines.json")"
step "consume: template, -N, --count, --print-offsets, --from-time"
[ "$(F consume lines -o -3 -e -f '%o:%K' | tr '\n' ' ')" = "9997:-1 9998:-1 9999:-1 " ] || fail "consume -3"
F consume lines -o 500 -c 2 --print-offsets -f '%t/%p/%o' > "$dir/o" 2> "$dir/e" || fail "consume --count"
[ "$(cat "$dir/o" | tr '\n' ' ')" = "lines/0/500 lines/0/501 " ] || fail "count output: $(cat "$dir/o")"
grep -q "lines partition 0: starting at offset 500 (log start 0, log end 10000)" "$dir/e" || fail "print-offsets start: $(cat "$dir/e")"
grep -q "lines partition 0: next offset 502" "$dir/e" || fail "print-offsets end: $(cat "$dir/e")"
[ -z "$(F consume lines -o end -e)" ] || fail "consume from end printed records"

step "binary-safe JSON: bytes that are not UTF-8 are base64"
printf 'k\t\xff\xfe-raw\n' | F produce bin --key-delimiter $'\t' 2> "$dir/e" || fail "produce bin: $(cat "$dir/e")"
F consume bin -e -f json > "$dir/o" || fail "consume bin"
[ "$(jq -r '.key' "$dir/o")" = "k" ] || fail "bin key: $(cat "$dir/o")"
[ "$(jq -r '.value_base64' "$dir/o" | base64 -d | od -An -tx1 | tr -d ' ')" = "fffe2d726177" ] || fail "bin value: $(cat "$dir/o")"
F consume bin -e -f json --base64 > "$dir/o" || fail "consume bin --base64"
[ "$(jq -r '.key_base64' "$dir/o")" = "aw==" ] || fail "--base64 key: $(cat "$dir/o")"

step "replay from offset 5,000: exactly records 5,000 onward, in order"
F replay lines --from-offset 5000 > "$dir/replay.out" 2> "$dir/replay.err" || fail "replay: $(cat "$dir/replay.err")"
tail -n +5001 "$dir/lines.in" | cmp -s - "$dir/replay.out" || fail "replay 5000.. differs"
grep -q "replayed 5000 records of lines (partition 0: offsets 5000..9999)" "$dir/replay.err" || fail "replay summary: $(cat "$dir/replay.err")"
# stderr is not a terminal: the summary line only, no progress.
[ "$(wc -l < "$dir/replay.err")" -eq 1 ] || fail "replay stderr: $(cat "$dir/replay.err")"
# On a terminal (script(1) gives it one): progress with records, rate, ETA.
script -qec "timeout 60 '$fjord' --brokers $B --admin $A replay lines --from-offset 0 > /dev/null" /dev/null > "$dir/tty" \
  || fail "replay on a terminal: $(cat "$dir/tty")"
grep -Eq "replayed [0-9]+/10000 records \([0-9]+%\), [0-9.]+ [kMG]?B/s, ETA [0-9?]" "$dir/tty" || fail "no progress on a terminal: $(cat -v "$dir/tty")"
grep -q "replayed 10000 records of lines (partition 0: offsets 0..9999)" "$dir/tty" || fail "terminal summary: $(cat -v "$dir/tty")"
F replay lines --from-offset 5000 --to-offset 5002 -f '%o' 2>/dev/null | tr '\n' ' ' > "$dir/o"
[ "$(cat "$dir/o")" = "5000 5001 5002 " ] || fail "replay --to-offset: $(cat "$dir/o")"
F replay lines --from-offset 9998 --count 5 -f '%o' 2>/dev/null | tr '\n' ' ' > "$dir/o"
[ "$(cat "$dir/o")" = "9998 9999 " ] || fail "replay --count at the end: $(cat "$dir/o")"

step "replay by time"
seq 1 300 | sed 's/^/before-/' | F produce timed 2>/dev/null || fail "produce before"
sleep 1.1
mid=$(date +%s%3N)
sleep 0.1
seq 1 300 | sed 's/^/after-/' | F produce timed 2>/dev/null || fail "produce after"
F replay timed --from-time "$mid" > "$dir/o" 2>/dev/null || fail "replay by time (ms)"
seq 1 300 | sed 's/^/after-/' | cmp -s - "$dir/o" || fail "replay by time: $(head -3 "$dir/o")"
rfc=$(date -u -d "@$(( mid / 1000 )).$(printf %03d $(( mid % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ)
F replay timed --from-time "$rfc" > "$dir/o" 2>/dev/null || fail "replay by time (RFC 3339 $rfc)"
seq 1 300 | sed 's/^/after-/' | cmp -s - "$dir/o" || fail "replay by RFC 3339 time: $(head -3 "$dir/o")"
[ "$(F consume timed --from-time "$rfc" -c 1)" = "after-1" ] || fail "consume --from-time"

step "replay to another topic keeps keys, headers and timestamps (checked with kcat)"
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "key-%04d\tvalue-%04d\n", i, i }' > "$dir/keyed.in"
F produce keyed --key-delimiter $'\t' --header app=fjord --header "trace=a b" < "$dir/keyed.in" 2> "$dir/e" || fail "produce keyed: $(cat "$dir/e")"
grep -q "produced 3000 records to keyed: partition" "$dir/e" || fail "keyed summary: $(cat "$dir/e")"
expect 0 "$dir/o" F topic create keyed-copy --partitions 3
F replay keyed --from-offset 0 --to-topic keyed-copy --format json > "$dir/o" 2> "$dir/e" || fail "replay --to-topic: $(cat "$dir/e")"
[ "$(jq '.records' "$dir/o")" -eq 3000 ] && [ "$(jq '.failed' "$dir/o")" -eq 0 ] || fail "replay json summary: $(cat "$dir/o")"
grep -q "replayed 3000 records of keyed to keyed-copy" "$dir/e" || fail "replay to-topic summary: $(cat "$dir/e")"
for p in 0 1 2; do
  K -C -t keyed -p "$p" -o beginning -e -q -f '%o %k %s %h %T\n' > "$dir/src.$p" || fail "kcat source $p"
  K -C -t keyed-copy -p "$p" -o beginning -e -q -f '%o %k %s %h %T\n' > "$dir/dst.$p" || fail "kcat copy $p"
  [ -s "$dir/src.$p" ] || fail "partition $p of keyed is empty"
  cmp -s "$dir/src.$p" "$dir/dst.$p" || fail "partition $p copy differs: $(diff "$dir/src.$p" "$dir/dst.$p" | head -3)"
done
# --partition: that partition only, in offset order.
F replay keyed --partition 1 --from-offset 0 -f '%o %k %v' 2>/dev/null > "$dir/o" || fail "replay --partition 1"
cut -d' ' -f1-3 "$dir/src.1" | cmp -s - "$dir/o" || fail "replay --partition 1 differs: $(diff <(cut -d' ' -f1-3 "$dir/src.1") "$dir/o" | head -3)"
head -1 "$dir/src.0" | grep -q " app=fjord,trace=a b " || fail "headers: $(head -1 "$dir/src.0")"
F consume keyed-copy -e -f '%k\t%v' | sort | cmp -s - "$dir/keyed.in" || fail "keyed copy content"

step "groups: reset-offsets, describe shows the lag, delete"
expect 0 "$dir/o" F group reset-offsets billing --topic lines --to-offset 4000 --dry-run
grep -q "would reset" "$dir/o" || fail "dry run: $(cat "$dir/o")"
expect 1 "$dir/o" F group describe billing
grep -q "group 'billing' not found" "$dir/o" || fail "dry run changed something: $(cat "$dir/o")"
expect 0 "$dir/o" F group reset-offsets billing --topic lines --to-offset 4000
expect 0 "$dir/o" F group describe billing --format json
[ "$(jq -c '[.partitions[0].committed_offset, .partitions[0].log_end_offset, .partitions[0].lag, .total_lag]' "$dir/o")" = "[4000,10000,6000,6000]" ] \
  || fail "group lag: $(cat "$dir/o")"
expect 0 "$dir/o" F group describe billing
grep -q "total lag 6000" "$dir/o" || fail "group describe text: $(cat "$dir/o")"
# reset-offsets, then a consume in the group resumes where it was set.
F consume lines --group billing -c 2 -f '%o' > "$dir/o" 2> "$dir/e" || fail "consume after reset: $(cat "$dir/e")"
[ "$(tr '\n' ' ' < "$dir/o")" = "4000 4001 " ] || fail "consume after reset-offsets 4000: $(cat "$dir/o")"
expect 0 "$dir/o" F group describe billing --format json
[ "$(jq -c '[.partitions[0].committed_offset, .total_lag]' "$dir/o")" = "[4002,5998]" ] || fail "lag after resume: $(cat "$dir/o")"
expect 0 "$dir/o" F group reset-offsets billing --topic lines --to-time "$(date -u +%Y-%m-%dT%H:%M:%SZ -d '+1 hour')"
grep -Eq "lines +0 +4002 +10000" "$dir/o" || fail "reset to a future time: $(cat "$dir/o")"
expect 0 "$dir/o" F group list --format json
[ "$(jq -c '[.[] | select(.group == "billing") | .members]' "$dir/o")" = "[0]" ] || fail "group list: $(cat "$dir/o")"
expect 0 "$dir/o" F group delete billing
expect 1 "$dir/o" F group delete billing

step "groups: describe after a partial consume shows the lag; consume resumes; reset-offsets moves it"
# A new group has nothing committed: --offset decides where it starts.
F consume lines --group readers -c 3000 > "$dir/o" 2> "$dir/e" || fail "partial consume: $(cat "$dir/e")"
head -n 3000 "$dir/lines.in" | cmp -s - "$dir/o" || fail "partial consume differs"
expect 0 "$dir/o" F group describe readers --format json
[ "$(jq -c '[.state, (.members | length), .partitions[0].committed_offset, .partitions[0].log_end_offset, .partitions[0].lag, .total_lag]' "$dir/o")" = '["Empty",0,3000,10000,7000,7000]' ] \
  || fail "lag after a partial consume: $(cat "$dir/o")"
expect 0 "$dir/o" F group describe readers
grep -Eq "lines +0 +3000 +10000 +7000" "$dir/o" || fail "describe text after a partial consume: $(cat "$dir/o")"
# The committed offset wins over --offset; the next consume resumes there.
F consume lines --group readers -o end -c 2 -f '%o' --print-offsets > "$dir/o" 2> "$dir/e" || fail "resume: $(cat "$dir/e")"
[ "$(tr '\n' ' ' < "$dir/o")" = "3000 3001 " ] || fail "group resume: $(cat "$dir/o")"
grep -q "starting at offset 3000 (log start 0, log end 10000, group readers committed 3000)" "$dir/e" || fail "print-offsets group: $(cat "$dir/e")"
grep -q "next offset 3002 (committed to group readers)" "$dir/e" || fail "print-offsets commit: $(cat "$dir/e")"
expect 0 "$dir/o" F group reset-offsets readers --topic lines --to-offset 8000
F consume lines --group readers -e -f '%o' > "$dir/o" 2> "$dir/e" || fail "consume after reset: $(cat "$dir/e")"
[ "$(head -1 "$dir/o") $(tail -1 "$dir/o") $(wc -l < "$dir/o")" = "8000 9999 2000" ] || fail "resume after reset to 8000: $(head -2 "$dir/o")"
expect 0 "$dir/o" F group describe readers --format json
[ "$(jq -c '[.partitions[0].committed_offset, .total_lag]' "$dir/o")" = "[10000,0]" ] || fail "lag after reading to the end: $(cat "$dir/o")"
[ -z "$(F consume lines --group readers -e)" ] || fail "a caught-up group printed records"
# Stopped by a signal (SIGTERM, as Ctrl-C's SIGINT: background jobs of a
# script ignore SIGINT): what was printed is committed. timeout passes the
# signal on to fjord.
timeout 60 "$fjord" --brokers "$B" --admin "$A" consume keyed --group interrupted -f '%o' > "$dir/o" 2> "$dir/e" &
cpid=$!
for _ in $(seq 1 100); do [ -s "$dir/o" ] && break; sleep 0.1; done
sleep 0.5
kill -TERM "$cpid"
wait "$cpid" || fail "consume stopped by SIGTERM: exit $? $(cat "$dir/e")"
printed=$(wc -l < "$dir/o")
[ "$printed" -eq 3000 ] || fail "interrupted consume printed $printed of 3000"
expect 0 "$dir/o" F group describe interrupted --format json
[ "$(jq '[.partitions[].committed_offset] | add' "$dir/o")" -eq 3000 ] || fail "interrupted commit: $(cat "$dir/o")"

step "groups: two consume --group at once split a 6-partition topic, each record printed once"
expect 0 "$dir/o" F topic create split --partitions 6
# Both members run until SIGTERM (sent to timeout, which passes it on;
# timeout would send it itself after 90 s).
timeout 90 "$fjord" --brokers "$B" --admin "$A" consume split --group pair -f '%p %o' > "$dir/m1" 2> "$dir/m1.err" &
m1=$!
timeout 90 "$fjord" --brokers "$B" --admin "$A" consume split --group pair -f '%p %o' > "$dir/m2" 2> "$dir/m2.err" &
m2=$!
# group describe while they run: 2 members, the 6 partitions split between
# them (each has some), nothing in flight.
settled=""
for _ in $(seq 1 150); do
  if F group describe pair --format json > "$dir/d" 2>/dev/null &&
     [ "$(jq -c '[(.members | length), ([.members[].assigned[].partitions[]] | sort),
                  ([.members[] | select((.assigned | length) == 0)] | length),
                  ([.members[] | (.revoking + .pending)[].partitions[]] | length)]' "$dir/d")" = "[2,[0,1,2,3,4,5],0,0]" ]; then
    settled=1; break
  fi
  sleep 0.2
done
[ -n "$settled" ] || fail "two members did not settle on 3+3 partitions: $(cat "$dir/d") $(cat "$dir/m1.err" "$dir/m2.err")"
expect 0 "$dir/o" F group describe pair
grep -q "group pair: Stable, 2 members" "$dir/o" || fail "describe text with 2 members: $(cat "$dir/o")"
# 10,000 keyed records spread over the 6 partitions while both run.
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "k%05d\tv%05d\n", i, i }' \
  | F produce split --key-delimiter $'\t' 2> "$dir/e" || fail "produce split: $(cat "$dir/e")"
for _ in $(seq 1 300); do
  [ $(( $(wc -l < "$dir/m1") + $(wc -l < "$dir/m2") )) -ge 10000 ] && break
  sleep 0.1
done
kill -TERM "$m1" "$m2"
wait "$m1" || fail "member 1 exit $?: $(cat "$dir/m1.err")"
wait "$m2" || fail "member 2 exit $?: $(cat "$dir/m2.err")"
# Exactly once in all: the printed (partition, offset) pairs are every
# offset below each partition's log end, none twice.
expect 0 "$dir/o" F topic describe split --format json
jq -r '.partitions[] | "\(.partition) \(.log_end_offset)"' "$dir/o" \
  | while read -r p end; do [ "$end" -gt 0 ] && seq 0 $(( end - 1 )) | sed "s/^/$p /"; done | sort > "$dir/want"
[ "$(wc -l < "$dir/want")" -eq 10000 ] || fail "split holds $(wc -l < "$dir/want") records"
sort "$dir/m1" "$dir/m2" | cmp -s - "$dir/want" || fail "the two members did not print every record once: $(sort "$dir/m1" "$dir/m2" | uniq -d | head -3) ($(wc -l < "$dir/m1") + $(wc -l < "$dir/m2"))"
# Split: each printed some, neither all, and no partition was read by both.
n1=$(wc -l < "$dir/m1"); n2=$(wc -l < "$dir/m2")
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ "$n1" -lt 10000 ] && [ "$n2" -lt 10000 ] || fail "not split: $n1 and $n2 records"
[ -z "$(comm -12 <(cut -d' ' -f1 "$dir/m1" | sort -u) <(cut -d' ' -f1 "$dir/m2" | sort -u))" ] || fail "a partition read by both members"
# After they exit: no members, every committed offset at its log end.
expect 0 "$dir/o" F group describe pair --format json
[ "$(jq -c '[.state, (.members | length), ([.partitions[] | select(.committed_offset != .log_end_offset)] | length), (.partitions | length), .total_lag]' "$dir/o")" = '["Empty",0,0,6,0]' ] \
  || fail "committed offsets after the members exit: $(cat "$dir/o")"
# A lone member with --exit-at-end reads all 6 partitions to their ends and exits.
F consume split --group lone -e -f '%p %o' > "$dir/o" 2> "$dir/e" || fail "lone member: $(cat "$dir/e")"
sort "$dir/o" | cmp -s - "$dir/want" || fail "lone member with --exit-at-end: $(wc -l < "$dir/o") records"
expect 2 "$dir/o" F consume split --group lone --partition 1

step "segment verify detects a flipped byte in a copied segment file"
mkdir -p "$dir/copy"
cp "$dir"/data/lines-0/00000000000000000000.* "$dir/copy/"
expect 0 "$dir/o" "$fjord" segment verify "$dir/copy/00000000000000000000.log"
grep -q "10000 records, offsets 0..9999" "$dir/o" || fail "verify of the copy: $(cat "$dir/o")"
"$fjord" segment dump --records "$dir/copy/00000000000000000000.log" > "$dir/o" 2>&1 || fail "dump --records: $(tail -3 "$dir/o")"
[ "$(grep -c '^  offset=' "$dir/o")" -eq 10000 ] || fail "dump --records record count"
grep -q '^  offset=5000 timestamp=[0-9]* key=null value="line-05000' "$dir/o" || fail "dump record 5000: $(grep -m1 'offset=5000 ' "$dir/o")"
grep -m1 '^batch ' "$dir/o" | grep -Eq "base_offset=0 .*count=[0-9]+ .*producer_id=[0-9]+ .*crc_status=ok" || fail "dump batch line: $(grep -m1 '^batch ' "$dir/o")"
pos=200
orig=$(od -An -tu1 -j "$pos" -N1 "$dir/copy/00000000000000000000.log" | tr -d ' ')
printf "$(printf '\\%03o' $(( (orig + 1) % 256 )))" | dd of="$dir/copy/00000000000000000000.log" bs=1 seek="$pos" conv=notrunc status=none
expect 1 "$dir/o" "$fjord" segment verify "$dir/copy/00000000000000000000.log"
grep -q "CRC mismatch" "$dir/o" || fail "no CRC mismatch: $(cat "$dir/o")"
expect 1 "$dir/o" "$fjord" segment verify --format json "$dir/copy/00000000000000000000.log"
[ "$(jq '.ok' "$dir/o")" = false ] || fail "verify json: $(cat "$dir/o")"
expect 1 "$dir/o" "$fjord" segment dump "$dir/copy/00000000000000000000.log"
grep -q "crc_status=MISMATCH" "$dir/o" || fail "dump crc status: $(cat "$dir/o")"

step "topic delete; produce to a chosen partition, compressed, with acks=1"
expect 0 "$dir/o" F topic create parts --partitions 2
printf 'a\nb\nc\n' | F produce parts --partition 1 --compression zstd --acks 1 2> "$dir/e" || fail "produce -p 1: $(cat "$dir/e")"
grep -q "produced 3 records to parts: partition 1 offsets 0..2" "$dir/e" || fail "produce -p summary: $(cat "$dir/e")"
printf 'd\n' | F produce parts --partition 0 --compression lz4 --acks 0 2> "$dir/e" || fail "produce acks=0: $(cat "$dir/e")"
[ "$(F consume parts -p 1 -e -f '%p:%o:%v' | tr '\n' ' ')" = "1:0:a 1:1:b 1:2:c " ] || fail "partition 1 content"
[ "$(K -C -t parts -p 0 -o beginning -e -q -f '%s')" = "d" ] || fail "partition 0 content (kcat)"
expect 1 "$dir/o" F produce parts --partition 2 < /dev/null
expect 0 "$dir/o" F topic delete parts
expect 1 "$dir/o" F topic describe parts
grep -q "^fjord: topic describe: topic 'parts' not found$" "$dir/o" || fail "deleted topic: $(cat "$dir/o")"

step "errors: unknown topic, offsets out of range (with the valid range), a failed record"
expect 1 "$dir/o" F consume nope -e
grep -q "^fjord: consume: topic 'nope' not found$" "$dir/o" || fail "unknown topic: $(cat "$dir/o")"
one_line "$dir/o"
expect 1 "$dir/o" F topic describe nope
grep -q "topic 'nope' not found" "$dir/o" || fail "describe unknown: $(cat "$dir/o")"
expect 1 "$dir/o" F replay nope --from-offset 0
expect 1 "$dir/o" F consume lines -o 20000
grep -q "offset 20000 is out of range for partition 0 of topic 'lines': valid start offsets are 0..10000" "$dir/o" || fail "consume range: $(cat "$dir/o")"
one_line "$dir/o"
expect 1 "$dir/o" F replay lines --from-offset 20000
grep -q "the valid range is 0..9999" "$dir/o" || fail "replay range: $(cat "$dir/o")"
one_line "$dir/o"
expect 1 "$dir/o" F replay lines --from-offset 10 --to-offset 10000
grep -q "to-offset 10000 is beyond the last offset of partition 0 of topic 'lines': the valid range is 0..9999" "$dir/o" || fail "to-offset range: $(cat "$dir/o")"
expect 1 "$dir/o" F consume lines -p 3
grep -q "partition 3 of topic 'lines' does not exist (it has 1)" "$dir/o" || fail "partition: $(cat "$dir/o")"
expect 0 "$dir/o" F topic create small --config max.message.bytes=200
head -c 1000 /dev/zero | tr '\0' x | F produce small > "$dir/o" 2>&1
[ $? -eq 1 ] || fail "produce of a too large record succeeded: $(cat "$dir/o")"
grep -q "fjord: produce: 1 of 1 records failed: " "$dir/o" || fail "produce failure: $(cat "$dir/o")"
expect 1 "$dir/o" F replay lines --from-offset 0 --to-topic nope
grep -q "topic 'nope' not found" "$dir/o" || fail "replay to a missing topic: $(cat "$dir/o")"

step "usage errors exit 2"
expect 2 "$dir/o" F consume
expect 2 "$dir/o" F consume lines --bogus
grep -q "see 'fjord consume --help'" "$dir/o" || fail "usage hint: $(cat "$dir/o")"
expect 2 "$dir/o" F consume lines -f '%x'
expect 2 "$dir/o" F consume lines -o sideways
expect 2 "$dir/o" F consume lines --offset 3 --from-time 0
expect 2 "$dir/o" F replay lines
expect 2 "$dir/o" F replay lines --from-offset 1 --to-offset 5 --count 2
expect 2 "$dir/o" F replay lines --from-offset 9 --to-offset 5
expect 2 "$dir/o" F replay lines --from-time yesterday
expect 2 "$dir/o" F topic alter-config lines
expect 2 "$dir/o" F group reset-offsets g --topic lines
expect 2 "$dir/o" F topic list --format yaml
expect 2 "$dir/o" F produce lines --acks 2
expect 2 "$dir/o" timeout 30 "$fjord" --brokers nohostport --admin "$A" consume lines
grep -q "^fjord: consume: --brokers: nohostport: expected host:port" "$dir/o" || fail "malformed --brokers: $(cat "$dir/o")"
expect 2 "$dir/o" timeout 30 "$fjord" --admin :x topic list
grep -q "^fjord: topic list: --admin: :x: expected host:port" "$dir/o" || fail "malformed --admin: $(cat "$dir/o")"
expect 2 "$dir/o" timeout 30 "$fjord" --admin nohostport group list
expect 2 "$dir/o" timeout 30 "$fjord" --brokers "$B" --admin "$A" --brokers 127.0.0.1:x produce lines
expect 0 "$dir/o" F replay --help
grep -q "log end offset as of" "$dir/o" || fail "replay help: $(cat "$dir/o")"
for c in "topic create" "topic list" "topic describe" "topic delete" "topic alter-config" "cluster describe" \
    produce consume replay "group list" "group describe" "group reset-offsets" "group delete" \
    "segment dump" "segment verify"; do
  # shellcheck disable=SC2086
  expect 0 "$dir/o" "$fjord" $c --help
  grep -A1 "^Example" "$dir/o" | grep -q "fjord ${c%% *}" || fail "no example in '$c --help': $(cat "$dir/o")"
done

step "stop the broker; then the broker and admin server are unreachable"
kill -TERM "$pid"
timeout 30 tail --pid="$pid" -f /dev/null || fail "broker did not stop on SIGTERM"
wait "$pid"
rc=$?
pid=""
[ "$rc" -eq 0 ] || fail "broker exited $rc"
expect 1 "$dir/o" F consume lines
grep -q "^fjord: consume: broker unreachable at $B: Connection refused$" "$dir/o" || fail "unreachable broker: $(cat "$dir/o")"
one_line "$dir/o"
echo x | F produce lines > "$dir/o" 2>&1
[ $? -eq 1 ] || fail "produce to a stopped broker: $(cat "$dir/o")"
grep -q "broker unreachable at $B" "$dir/o" || fail "produce unreachable: $(cat "$dir/o")"
one_line "$dir/o"
expect 1 "$dir/o" F topic list
grep -q "admin server unreachable at $A (--admin)" "$dir/o" || fail "unreachable admin: $(cat "$dir/o")"
one_line "$dir/o"
expect 1 "$dir/o" F group list
grep -q "admin server unreachable at $A (--admin)" "$dir/o" || fail "unreachable coordinator: $(cat "$dir/o")"
one_line "$dir/o"
expect 1 "$dir/o" F consume lines --group readers -e
one_line "$dir/o"

# The stopped broker's files: verify passes, snapshots included.
expect 0 "$dir/o" "$fjord" segment verify "$dir/data/keyed-0"
grep -q "producer-state snapshot at log end" "$dir/o" || fail "no snapshot verified: $(cat "$dir/o")"
expect 0 "$dir/o" "$fjord" segment dump --format json "$dir/data/keyed-0"
[ "$(jq -s '[.[] | select(.type == "snapshot")] | .[0].producer_count' "$dir/o")" -ge 1 ] || fail "snapshot dump: $(cat "$dir/o")"
echo "PASS: tools commands_test"
