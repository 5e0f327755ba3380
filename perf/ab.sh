#!/usr/bin/env bash
# perf/ab.sh: two builds of fjord side by side in one run, so a change is
# judged on a shared, noisy machine by alternating runs rather than by
# figures taken at different times.
#
# Each round starts A's broker, runs the scenarios with A's fjord-perf,
# stops it by PID, then does the same for B. Scenarios: end-to-end latency
# of 100 B records at 10,000 records/s (linger.ms 0), 100 B produce
# (acks=1), and consuming what was produced; plus the broker's CPU per
# record during the latency run. Prints every run and the medians.
#
# Usage: perf/ab.sh BUILD_A BUILD_B   (build trees holding bin/fjord-broker
#                                      and bin/fjord-perf)
# Environment: ROUNDS [3], E2E_RECORDS [50000], RECORDS [3000000],
#              RUN_TIMEOUT [120] seconds per run.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: perf/ab.sh BUILD_A BUILD_B" >&2; exit 2; }
rounds=${ROUNDS:-3}
e2e_records=${E2E_RECORDS:-50000}
records=${RECORDS:-3000000}
run_timeout=${RUN_TIMEOUT:-120}
for b in "$1" "$2"; do
  for f in fjord-broker fjord-perf; do
    [ -x "$b/bin/$f" ] || { echo "ab.sh: no $b/bin/$f" >&2; exit 1; }
  done
done

. "$(dirname "$0")/broker_lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fjord-ab-XXXXXX")
trap 'stop_broker; rm -rf "$tmp"' EXIT

field() { grep -o "\"$1\":[0-9.]*" | head -1 | cut -d: -f2; }

one() {  # LABEL BUILD
  local label=$1 build=$2 c0 c1 e2e produce consume
  start_broker "$build/bin/fjord-broker" "$tmp"
  local perf=("$build/bin/fjord-perf")
  local conn=(--brokers "127.0.0.1:$kport" --admin "127.0.0.1:$gport" --timeout "$run_timeout")
  c0=$(broker_cpu_ticks)
  e2e=$("${perf[@]}" e2e "${conn[@]}" --topic e2e --throughput 10000 \
    --records "$e2e_records" --warmup-records 2000 --record-size 100 2>/dev/null | tail -1)
  c1=$(broker_cpu_ticks)
  produce=$("${perf[@]}" produce "${conn[@]}" --topic tput --records "$records" \
    --record-size 100 2>/dev/null | tail -1)
  consume=$("${perf[@]}" consume "${conn[@]}" --topic tput --records "$records" \
    --record-size 100 2>/dev/null | tail -1)
  stop_broker
  local tick_us=$((1000000 / $(getconf CLK_TCK)))
  printf '%s %s %s %s %s %s\n' "$label" \
    "$(echo "$e2e" | field p50)" "$(echo "$e2e" | field p99)" \
    "$(awk -v t=$((c1 - c0)) -v u="$tick_us" -v n="$((e2e_records + 2000))" 'BEGIN { printf "%.1f", t * u / n }')" \
    "$(echo "$produce" | field records_per_sec)" "$(echo "$consume" | field records_per_sec)" |
    tee -a "$tmp/results"
}

echo "A = $1, B = $2; $rounds rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "label e2e_p50_us e2e_p99_us broker_cpu_us_per_record_at_10k produce_rps consume_rps" >&2
for _ in $(seq 1 "$rounds"); do
  one A "$1"
  one B "$2"
done

echo
echo "| build | e2e p50 us | e2e p99 us | broker CPU us/record at 10k/s | produce 100 B records/s | consume records/s |"
echo "|---|---|---|---|---|---|"
for label in A B; do
  awk -v l="$label" '
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == l { for (k = 2; k <= 6; k++) col[k] = col[k] " " $k }
    END { printf "| %s | %.0f | %.0f | %.1f | %.0f | %.0f |\n", l, median(col[2]), median(col[3]), median(col[4]), median(col[5]), median(col[6]) }
  ' "$tmp/results"
done
