// SegmentInspector: reads segment files, their indexes and producer-state
// snapshots without changing them, for `fjord segment dump` and `fjord
// segment verify`. Confined to one thread.
#ifndef FJORD_TOOLS_SEGMENT_INSPECTOR_H_
#define FJORD_TOOLS_SEGMENT_INSPECTOR_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "log/producer_state.h"
#include "log/record_batch.h"

namespace fjord::tools {

struct SegmentCheck {
  std::string path;
  uint64_t file_bytes = 0;
  uint64_t data_bytes = 0;       // whole batches (their CRC good or not)
  uint64_t zero_tail_bytes = 0;  // preallocated, never written
  uint64_t batches = 0;
  uint64_t records = 0;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  std::vector<std::string> problems;  // empty when the segment is sound
};

// One whole batch of a segment. `bytes` points into the mapped file and is
// valid during the callback only.
struct InspectedBatch {
  uint64_t position = 0;  // byte offset in the .log file
  log::BatchHeader header;
  bool crc_ok = false;
  uint32_t computed_crc = 0;
  std::span<const uint8_t> bytes;
};

// Walks every batch of the `.log` file at `path`, checking framing, CRCs
// and offset order, then its `.index`/`.timeindex` entries against the
// batches. A batch with a bad CRC is reported (a problem) and the walk goes
// on after it, since its length still frames the next one; a framing error
// (a torn or garbled header) ends the walk. `on_batch` (may be empty) sees
// every framed batch. An error status only when the file cannot be read or
// is not a segment; corruption is in `problems`.
absl::StatusOr<SegmentCheck> InspectSegment(
    const std::string& path,
    const std::function<void(const InspectedBatch&)>& on_batch);

// A producer-state snapshot (log/FORMAT.md, ".snapshot"), decoded.
struct SnapshotInfo {
  std::string path;
  uint64_t file_bytes = 0;
  int64_t end_offset = -1;  // the log end offset it reflects
  int64_t forgotten_id = -1;
  std::vector<log::ProducerInfo> producers;  // least recently used first
  std::string problem;                       // empty when it reads back
};

// Reads and checks (magic, CRC, counts) the snapshot at `path`. An error
// status only when the file cannot be read; a corrupt one is `problem`.
absl::StatusOr<SnapshotInfo> InspectSnapshot(const std::string& path);

// What `path` names: a segment `.log` file, a `.snapshot` file, or (for a
// directory) every `.log` and `.snapshot` file in it, in offset order with
// the snapshots last. kNotFound when `path` does not exist.
absl::StatusOr<std::vector<std::string>> SegmentFiles(const std::string& path);

bool IsSnapshotFile(const std::string& path);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_SEGMENT_INSPECTOR_H_
