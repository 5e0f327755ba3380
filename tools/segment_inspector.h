// SegmentInspector: reads a segment file and its indexes without changing
// them, for `fjord segment dump` and `fjord segment verify`. Confined to one
// thread.
#ifndef FJORD_TOOLS_SEGMENT_INSPECTOR_H_
#define FJORD_TOOLS_SEGMENT_INSPECTOR_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fjord::tools {

struct SegmentCheck {
  std::string path;
  uint64_t file_bytes = 0;
  uint64_t data_bytes = 0;       // whole, valid batches
  uint64_t zero_tail_bytes = 0;  // preallocated, never written
  uint64_t batches = 0;
  uint64_t records = 0;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  std::vector<std::string> problems;  // empty when the segment is sound
};

// Walks every batch of the `.log` file at `path`, checking framing, CRCs and
// offset order, and its `.index`/`.timeindex` entries against the batches.
// With `dump`, prints one line per batch (and per record with `records`).
absl::StatusOr<SegmentCheck> InspectSegment(const std::string& path,
                                            bool dump, bool records,
                                            std::ostream& out);

// The `.log` files of a partition directory, in offset order; or `path`
// itself if it is a file.
absl::StatusOr<std::vector<std::string>> SegmentFiles(const std::string& path);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_SEGMENT_INSPECTOR_H_
