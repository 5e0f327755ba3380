#!/usr/bin/env bash
# End to end through build/bin/fjord: the storage demo round-trips records
# across a restart, `segment verify` passes a sound log, and a flipped byte
# is reported by `segment verify` and refused (never served) by a read.
# Usage: segment_test.sh PATH_TO_FJORD
set -u
fjord=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/fjord-tools-test-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$fjord" storage-demo --data-dir "$dir/data" --records 20000 --record-size 64 \
  --batch-records 100 > "$dir/demo.out" 2>&1 || { cat "$dir/demo.out"; fail "storage-demo"; }
grep -q "read back and verified 20000 records" "$dir/demo.out" || fail "demo output: $(cat "$dir/demo.out")"
grep -q "after a clean stop" "$dir/demo.out" || fail "restart was not clean"

"$fjord" segment verify "$dir/data/demo-0" > "$dir/verify.out" 2>&1
[ $? -eq 0 ] || { cat "$dir/verify.out"; fail "verify of a sound log"; }
grep -q "20000 records, offsets 0..19999" "$dir/verify.out" || fail "verify summary: $(cat "$dir/verify.out")"

seg="$dir/data/demo-0/00000000000000000000.log"
[ -f "$seg" ] || fail "no segment file"
# Flip a byte inside the first batch's records (past its 61-byte header),
# where the batch CRC covers it.
pos=100
orig=$(od -An -tu1 -j "$pos" -N1 "$seg" | tr -d ' ')
printf "$(printf '\\%03o' $(( (orig + 1) % 256 )))" | dd of="$seg" bs=1 seek="$pos" conv=notrunc status=none

"$fjord" segment verify "$dir/data/demo-0" > "$dir/verify2.out" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$dir/verify2.out"; fail "verify exit code $rc for a corrupt segment"; }
grep -q "CORRUPT" "$dir/verify2.out" || fail "no CORRUPT in: $(cat "$dir/verify2.out")"
grep -q "CRC mismatch" "$dir/verify2.out" || fail "no CRC mismatch in: $(cat "$dir/verify2.out")"

# Reading the log back must fail loudly rather than return the bad batch.
"$fjord" storage-demo --data-dir "$dir/data" --records 10 > "$dir/demo2.out" 2>&1
rc=$?
[ $rc -ne 0 ] || fail "a read over corrupt data succeeded: $(cat "$dir/demo2.out")"
grep -q "CRC mismatch" "$dir/demo2.out" || fail "read error does not name the CRC: $(cat "$dir/demo2.out")"

# Bad input gets a clear error.
"$fjord" segment verify "$dir/nope" > "$dir/err.out" 2>&1
[ $? -eq 2 ] || fail "missing path exit code"
grep -q "no such file or directory" "$dir/err.out" || fail "missing path message: $(cat "$dir/err.out")"
echo "PASS: tools segment_test"
