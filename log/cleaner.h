// Cleaner: log compaction for topics with cleanup.policy=compact. One pass
// over a log keeps the newest record per key (and every record's original
// offset), drops tombstones once their delete horizon has passed, keeps the
// last batch of each producer id, and swaps the cleaned segments in
// atomically (.cleaned -> .swap -> live; FORMAT.md "Cleaner swap").
//
// The key map has a fixed byte budget: when the dirty range does not fit, a
// pass cleans what the map covers and leaves the rest for the next pass.
// Reads and appends continue while it runs: it reads sealed segments
// through their mappings and takes the log's lock only to swap.
//
// A Cleaner is confined to one thread (the LogManager's cleaner thread or a
// test); it may clean different logs one after another.
#ifndef FJORD_LOG_CLEANER_H_
#define FJORD_LOG_CLEANER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "log/clock.h"
#include "log/log.h"
#include "log/offset_map.h"

namespace fjord::log {

struct CleanerOptions {
  // log.cleaner.dedupe.buffer.size: the key map's memory budget.
  size_t dedupe_buffer_bytes = 128 << 20;
  // log.cleaner.io.max.bytes.per.second: bytes read plus written per second
  // (<= 0: unthrottled).
  double io_max_bytes_per_second = 0;
};

// How dirty a log is: bytes of sealed segments already cleaned ("clean",
// below first_dirty) and not yet ("dirty", from first_dirty up to the first
// segment younger than min.compaction.lag.ms).
struct DirtyStats {
  uint64_t clean_bytes = 0;
  uint64_t dirty_bytes = 0;
  Offset cleanable_end;  // first offset the cleaner may not touch
  double ratio() const {
    uint64_t total = clean_bytes + dirty_bytes;
    return total == 0 ? 0 : static_cast<double>(dirty_bytes) / total;
  }
};

struct CleanResult {
  bool cleaned = false;    // false: nothing to clean
  Offset next_first_dirty; // where the next pass starts
  uint64_t bytes_read = 0; // dirty input scanned for keys, plus all rewritten
  uint64_t dirty_bytes = 0;
  uint64_t bytes_written = 0;
  uint64_t records_read = 0;
  uint64_t records_kept = 0;
  uint64_t tombstones_dropped = 0;
  int segments_in = 0;
  int segments_out = 0;
  size_t map_entries = 0;
  size_t map_memory_bytes = 0;
  double seconds = 0;
};

class Cleaner {
 public:
  // `clock` and `fs` must outlive the cleaner.
  Cleaner(const CleanerOptions& options, Clock* clock, FileSystem* fs);
  Cleaner(const Cleaner&) = delete;
  Cleaner& operator=(const Cleaner&) = delete;

  DirtyStats Measure(const Log& log, Offset first_dirty) const;

  // One pass over `log` whose records from `first_dirty` on have not been
  // cleaned. kAborted when the log changed under it (retention, truncation):
  // nothing was changed, try again later.
  absl::StatusOr<CleanResult> Clean(Log& log, Offset first_dirty);

 private:
  void Throttle(uint64_t bytes);

  const CleanerOptions options_;
  Clock* const clock_;
  FileSystem* const fs_;
  OffsetMap map_;
  double throttle_start_s_ = 0;
  uint64_t throttle_bytes_ = 0;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_CLEANER_H_
