#!/usr/bin/env bash
# perf/run.sh: fjord's standard performance scenarios (issue 9) on one
# broker started here, each repeated, and a markdown table of medians
# with the bars they are held to.
#
# Starts build/bin/fjord-broker on 127.0.0.1 (port 0: the ports are read
# from its log) with data in a temporary directory, drives it with
# build/bin/fjord-perf, stops it by PID, prints the table on stdout
# (progress on stderr). Every run is bounded (RUN_TIMEOUT); the whole
# script takes about 2-3 minutes with the defaults. See perf/README.md.
#
# Environment (defaults in brackets):
#   BUILD [build]            build tree holding bin/fjord-broker, bin/fjord-perf
#   REPS [3]                 repetitions of every scenario (medians shown)
#   RECORDS_100 [3000000]    records in the 100 B acks=1 runs
#   RECORDS_ALL [2000000]    records in the 100 B acks=all runs
#   RECORDS_1K [600000]      records in the 1 KiB runs
#   E2E_SECONDS [5]          seconds each latency run sends for
#   RUN_TIMEOUT [120]        seconds any one run may take
#   RESULTS_JSON             if set, also write every run's JSON line there
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
PERF=$BUILD/bin/fjord-perf
BROKER=$BUILD/bin/fjord-broker
REPS=${REPS:-3}
RECORDS_100=${RECORDS_100:-3000000}
RECORDS_ALL=${RECORDS_ALL:-2000000}
RECORDS_1K=${RECORDS_1K:-600000}
E2E_SECONDS=${E2E_SECONDS:-5}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

for b in "$PERF" "$BROKER"; do
  [ -x "$b" ] || die "$b not found; build it: cmake --build $BUILD --target fjord-perf fjord-broker"
done

. perf/broker_lib.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fjord-run-XXXXXX")
trap 'stop_broker; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- the broker --------------------------------------------------------------

start_broker "$BROKER" "$tmp"
conn=(--brokers "127.0.0.1:$kport" --admin "127.0.0.1:$gport" --timeout "$RUN_TIMEOUT")

cpu_seconds() {  # PID: CPU seconds (user + system) used so far
  awk -v tck="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / tck }' "/proc/$1/stat"
}

# --- runs ----------------------------------------------------------------------

results=$tmp/results.jsonl
: > "$results"

run() {  # SCENARIO REP fjord-perf ARGS...
  local scenario=$1 rep=$2 before after line
  shift 2
  before=$(cpu_seconds "$broker_pid")
  if ! line=$(timeout $((RUN_TIMEOUT + 30)) "$PERF" "$@" "${conn[@]}" 2> "$tmp/run.err" | tail -1); then
    die "run failed: fjord-perf $* :: $(tail -3 "$tmp/run.err")"
  fi
  after=$(cpu_seconds "$broker_pid")
  case "$line" in
    "{"*"}") ;;
    *) die "no JSON result from: fjord-perf $* :: $(tail -3 "$tmp/run.err")" ;;
  esac
  note "$scenario #$rep: $(tail -1 "$tmp/run.err")"
  echo "${line%\}},\"scenario\":\"$scenario\",\"rep\":$rep,\"server_cpu_seconds\":$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a - b }')}" >> "$results"
}

drop() {  # TOPIC
  timeout 60 "$PERF" delete --topic "$1" --brokers "127.0.0.1:$kport" --admin "127.0.0.1:$gport" ||
    die "deleting topic $1 failed"
}

# One repetition of every scenario, in a fixed order; each produce writes a
# fresh topic, a consume reads back the one just written, and topics are
# deleted once read so the disk holds one scenario's data at a time.
scenarios() {  # REP
  local r=$1 t
  t=p100-1-$r
  run "produce 100 B, 1 partition, acks=1" "$r" produce --topic "$t" --records "$RECORDS_100" --record-size 100 --partitions 1 --acks 1
  run "consume 100 B, 1 partition" "$r" consume --topic "$t" --records "$RECORDS_100" --record-size 100
  drop "$t"
  t=p100-1noidem-$r
  run "produce 100 B, 1 partition, acks=1, idempotence off" "$r" produce --topic "$t" --records "$RECORDS_100" --record-size 100 --partitions 1 --acks 1 --property enable.idempotence=false
  drop "$t"
  t=p100-1all-$r
  run "produce 100 B, 1 partition, acks=all" "$r" produce --topic "$t" --records "$RECORDS_ALL" --record-size 100 --partitions 1 --acks all
  drop "$t"
  t=p100-1all4-$r
  run "produce 100 B, 1 partition, acks=all, 4 producers" "$r" produce --topic "$t" --records "$RECORDS_ALL" --record-size 100 --partitions 1 --acks all --producers 4
  drop "$t"
  t=p100-6-$r
  run "produce 100 B, 6 partitions, acks=1" "$r" produce --topic "$t" --records "$RECORDS_100" --record-size 100 --partitions 6 --acks 1
  run "consume 100 B, 6 partitions" "$r" consume --topic "$t" --records "$RECORDS_100" --record-size 100
  drop "$t"
  t=p100-6all-$r
  run "produce 100 B, 6 partitions, acks=all" "$r" produce --topic "$t" --records "$RECORDS_ALL" --record-size 100 --partitions 6 --acks all
  drop "$t"
  t=p100-lz4-$r
  run "produce 100 B, 1 partition, acks=1, lz4" "$r" produce --topic "$t" --records "$RECORDS_100" --record-size 100 --partitions 1 --acks 1 --compression lz4
  run "consume 100 B, 1 partition, lz4" "$r" consume --topic "$t" --records "$RECORDS_100" --record-size 100
  drop "$t"
  t=p1k-1-$r
  run "produce 1 KiB, 1 partition, acks=1" "$r" produce --topic "$t" --records "$RECORDS_1K" --record-size 1024 --partitions 1 --acks 1
  run "consume 1 KiB, 1 partition" "$r" consume --topic "$t" --records "$RECORDS_1K" --record-size 1024
  drop "$t"
  t=p1k-1all-$r
  run "produce 1 KiB, 1 partition, acks=all" "$r" produce --topic "$t" --records "$RECORDS_1K" --record-size 1024 --partitions 1 --acks all
  drop "$t"
  t=p1k-6-$r
  run "produce 1 KiB, 6 partitions, acks=1" "$r" produce --topic "$t" --records "$RECORDS_1K" --record-size 1024 --partitions 6 --acks 1
  drop "$t"
  t=p1k-lz4-$r
  run "produce 1 KiB, 1 partition, acks=1, lz4" "$r" produce --topic "$t" --records "$RECORDS_1K" --record-size 1024 --partitions 1 --acks 1 --compression lz4
  drop "$t"
  # The latency runs start with no writeback of the earlier scenarios'
  # gigabytes pending, which would otherwise land in their tail.
  sync
  t=e2e10k-$r
  run "e2e latency, 100 B at 10,000 records/s, acks=1" "$r" e2e --topic "$t" --throughput 10000 --records $((10000 * E2E_SECONDS)) --warmup-records 2000 --record-size 100
  drop "$t"
  t=e2e100k-$r
  run "e2e latency, 100 B at 100,000 records/s, acks=1" "$r" e2e --topic "$t" --throughput 100000 --records $((100000 * E2E_SECONDS)) --warmup-records 20000 --record-size 100
  drop "$t"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
note "fjord-broker (pid $broker_pid) on 127.0.0.1:$kport, admin 127.0.0.1:$gport, data in $tmp/data"
for rep in $(seq 1 "$REPS"); do scenarios "$rep"; done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "${RESULTS_JSON:-}" ] && cp "$results" "$RESULTS_JSON"

# --- table ---------------------------------------------------------------------

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
      for (i = 2; i <= n; i++) {
        t = a[i] + 0
        for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
      }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
      sc = field($0, "scenario")
      if (!(sc in rate)) { order[++rows] = sc; nrec[sc] = field($0, "records"); op[sc] = field($0, "op") }
      rate[sc] = rate[sc] " " field($0, "records_per_sec")
      mb[sc] = mb[sc] " " field($0, "mb_per_sec")
      size[sc] = field($0, "record_size")
      n = field($0, "records")
      scpu[sc] = scpu[sc] " " (field($0, "server_cpu_seconds") / n * 1e6)
      ccpu[sc] = ccpu[sc] " " (field($0, "client_cpu_seconds") / n * 1e6)
      if (match($0, /"latency_us":\{[^}]*\}/)) {
        l = substr($0, RSTART, RLENGTH)
        p50[sc] = p50[sc] " " field(l, "p50"); p99[sc] = p99[sc] " " field(l, "p99")
        p999[sc] = p999[sc] " " field(l, "p99.9"); pmax[sc] = pmax[sc] " " field(l, "max")
      }
    }
    # The bar each scenario is held to (issue 9), and whether its median
    # meets it.
    function bar(sc, r, m,   lat) {
      if (sc == "produce 100 B, 1 partition, acks=1") return sprintf(">= 2,000,000 records/s: %s", r >= 2e6 ? "met" : "NOT met")
      if (sc == "consume 100 B, 1 partition") return sprintf(">= 4,000,000 records/s: %s", r >= 4e6 ? "met" : "NOT met")
      if (sc == "produce 1 KiB, 1 partition, acks=1") return sprintf(">= 1 GB/s: %s", m * 1048576 >= 1e9 ? "met" : "NOT met")
      if (sc == "produce 100 B, 1 partition, acks=all") return sprintf(">= 500,000 records/s: %s", r >= 5e5 ? "met" : "NOT met")
      if (sc ~ /^e2e latency, 100 B at 10,000/) {
        return sprintf("p50 <= 200 us, p99 <= 1 ms: %s", (median(p50[sc]) <= 200 && median(p99[sc]) <= 1000) ? "met" : "NOT met")
      }
      if (sc == "produce 100 B, 1 partition, acks=1, idempotence off") {
        idem = median(rate["produce 100 B, 1 partition, acks=1"])
        return sprintf("idempotence costs %.1f%% (target <= 5%%)", r > 0 ? (r - idem) / r * 100 : 0)
      }
      return ""
    }
    END {
      print "| scenario | records | records/s (median) | MiB/s (median) | every run, records/s | latency us p50 / p99 / p99.9 / max (medians) | client CPU us/record | broker CPU us/record | bar |"
      print "|---|---|---|---|---|---|---|---|---|"
      for (r = 1; r <= rows; r++) {
        sc = order[r]
        m = median(rate[sc]); mm = median(mb[sc])
        runs = ""; nr = split(rate[sc], a, " ")
        for (i = 1; i <= nr; i++) runs = runs (i > 1 ? ", " : "") sprintf("%.0f", a[i])
        lat = (sc in p50) ? sprintf("%.0f / %.0f / %.0f / %.0f", median(p50[sc]), median(p99[sc]), median(p999[sc]), median(pmax[sc])) : "-"
        if (op[sc] == "produce") lat = lat " (sampled, Send to ack)"
        printf "| %s | %s | %.0f | %.1f | %s | %s | %.3f | %.3f | %s |\n",
          sc, nrec[sc], m, mm, runs, lat, median(ccpu[sc]), median(scpu[sc]), bar(sc, m, mm)
      }
    }' "$results"
}

cat <<EOF
## fjord on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC')

$(nproc) cores; load average $load_before before, $load_after after; $(( $(date +%s) - started )) s.
Medians of $REPS runs; client (build/bin/fjord-perf) and broker share the machine (loopback).
One broker with its defaults (flush.ms=1000; acks=all is acknowledged once the batch is
fsynced, by group commit). Producers: batch.size 1000000, linger.ms 5, idempotence on (but in the "idempotence off" row);
e2e: linger.ms 0, latency from Send to the record returned by the consumer's Poll.
MiB/s counts record values. Each repetition runs every scenario in turn.

EOF
tabulate
