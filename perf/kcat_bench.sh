#!/usr/bin/env bash
# Produce and fetch throughput of fjord-broker as seen by kcat (librdkafka),
# and the broker's CPU time per record. Starts a broker on a temporary data
# directory (127.0.0.1, port 0), produces RECORDS records of SIZE bytes with
# kcat -P, consumes them back with kcat -C, and stops the broker by its PID.
# Repeats REPS times (one fresh topic each) and prints every run plus the
# medians.
#
# Usage: perf/kcat_bench.sh [BUILD_DIR]   (default: build)
# Environment: RECORDS (1000000), SIZE (100), REPS (3), ACKS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
records=${RECORDS:-1000000}
size=${SIZE:-100}
reps=${REPS:-3}
acks=${ACKS:-1}
broker_bin="$build/bin/fjord-broker"
[ -x "$broker_bin" ] || { echo "no $broker_bin: build first" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat is not installed" >&2; exit 1; }

. perf/broker_lib.sh
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-kcat-bench-XXXXXX")
trap 'stop_broker; rm -rf "$dir"' EXIT

start_broker "$broker_bin" "$dir"
B="127.0.0.1:$kport"

# One line per record: SIZE bytes of printable payload.
payload=$(head -c "$size" /dev/zero | tr '\0' 'x')
head -n "$records" < <(yes "$payload") >"$dir/input"

clk=$(getconf CLK_TCK)
now() { date +%s.%N; }

results=()
for rep in $(seq 1 "$reps"); do
  topic="bench-$rep"
  kcat -b "$B" -L -t "$topic" >/dev/null 2>&1  # auto-create before timing
  c0=$(broker_cpu_ticks); t0=$(now)
  kcat -b "$B" -P -t "$topic" -p 0 -X acks="$acks" -X linger.ms=5 \
    -X batch.num.messages=10000 -l "$dir/input"
  t1=$(now); c1=$(broker_cpu_ticks)
  got=$(kcat -b "$B" -C -t "$topic" -p 0 -o beginning -e -q -f '%o\n' \
    -X fetch.message.max.bytes=1048576 | wc -l)
  t2=$(now); c2=$(broker_cpu_ticks)
  [ "$got" -eq "$records" ] || { echo "consumed $got of $records records" >&2; exit 1; }
  line=$(awk -v n="$records" -v s="$size" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
    -v c0="$c0" -v c1="$c1" -v c2="$c2" -v hz="$clk" 'BEGIN {
      p = n / (t1 - t0); f = n / (t2 - t1);
      printf "%.0f %.1f %.0f %.1f %.0f %.0f", p, p * s / 1e6, f, f * s / 1e6,
        (c1 - c0) / hz / n * 1e9, (c2 - c1) / hz / n * 1e9 }')
  results+=("$line")
  read -r pr pm fr fm pc fc <<<"$line"
  echo "run $rep: produce $pr rec/s ($pm MB/s), broker CPU $pc ns/rec; fetch $fr rec/s ($fm MB/s), broker CPU $fc ns/rec"
done

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
col() { printf '%s\n' "${results[@]}" | awk -v c="$1" '{print $c}' | median; }
echo "median of $reps: $records x $size B, acks=$acks, one partition:"
echo "  produce $(col 1) rec/s ($(col 2) MB/s), broker CPU $(col 5) ns/record"
echo "  fetch   $(col 3) rec/s ($(col 4) MB/s), broker CPU $(col 6) ns/record"
