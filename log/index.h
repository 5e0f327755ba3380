// The sparse per-segment indexes, memory-mapped and preallocated while the
// segment is active, trimmed to their entries when it is sealed:
//
//   OffsetIndex (.index):     8-byte entries  [relative offset u32][position
//   u32] TimeIndex   (.timeindex): 12-byte entries [timestamp i64][relative
//   offset u32]
//
// Big-endian; layout in log/FORMAT.md. Appends are externally synchronized
// (the owning Log's lock); lookups may run concurrently with one appender
// because the entry count is published with release/acquire ordering.
#ifndef FJORD_LOG_INDEX_H_
#define FJORD_LOG_INDEX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "log/file_system.h"
#include "log/types.h"

namespace fjord::log {

// A file of fixed-size entries, mapped shared. Shared by both indexes.
class IndexFile {
 public:
  // Opens or creates `path`. When `preallocate_bytes` > 0 the file is grown
  // to that size (rounded down to whole entries) and mapped writable; the
  // caller then decides how many leading entries are valid. Otherwise the
  // file is mapped as it is, with size / entry_size entries.
  static absl::StatusOr<std::unique_ptr<IndexFile>> Open(
      FileSystem* fs, const std::string& path, size_t entry_size,
      size_t preallocate_bytes);

  size_t entries() const { return entries_.load(std::memory_order_acquire); }
  size_t capacity() const { return capacity_; }
  bool full() const { return entries() >= capacity_; }
  size_t entry_size() const { return entry_size_; }
  bool writable() const { return map_ != nullptr && map_->writable(); }
  const uint8_t* entry(size_t i) const {
    return map_->data() + i * entry_size_;
  }
  // REQUIRES: !full(). Writes the next entry and publishes it.
  void Append(const uint8_t* bytes);
  // Keeps the first `n` entries. REQUIRES: n <= capacity().
  void SetEntries(size_t n);
  // Cuts the file to its entries (the mapping stays valid for them).
  absl::Status Trim();
  // Grows a trimmed file back to `preallocate_bytes` for appends.
  absl::Status Reopen(size_t preallocate_bytes);
  absl::Status Sync();
  // The writable mapping and the bytes of its entries, for a sync without
  // the owner's lock (Segment::PrepareFlush); null when not writable. The
  // mapping stays valid for its holder even if the file is remapped.
  std::shared_ptr<const Mapping> writable_mapping() const {
    return writable() ? map_ : nullptr;
  }
  size_t entry_bytes() const { return entries() * entry_size_; }
  const std::string& path() const { return file_->path(); }

 private:
  IndexFile(std::unique_ptr<File> file, size_t entry_size)
      : file_(std::move(file)), entry_size_(entry_size) {}
  absl::Status MapFile(size_t bytes);

  std::unique_ptr<File> file_;
  // Shared with flushes in progress (writable_mapping()).
  std::shared_ptr<Mapping> map_;
  const size_t entry_size_;
  size_t capacity_ = 0;
  std::atomic<size_t> entries_{0};
};

struct OffsetPosition {
  Offset offset;
  uint32_t position = 0;
};

class OffsetIndex {
 public:
  static constexpr size_t kEntrySize = 8;
  // See IndexFile::Open. `base` is the segment's base offset.
  static absl::StatusOr<std::unique_ptr<OffsetIndex>> Open(
      FileSystem* fs, const std::string& path, Offset base,
      size_t preallocate_bytes);

  // The entry with the largest offset <= target, or {base, 0} when none.
  OffsetPosition Lookup(Offset target) const;
  OffsetPosition Entry(size_t i) const;
  // REQUIRES: !full(), offset and position above the last entry's.
  void Append(Offset offset, uint32_t position);
  // Keeps the longest prefix of entries that increase strictly in both offset
  // and position with position < `position_limit` and offset >= base;
  // returns how many were dropped.
  size_t TruncateToValidPrefix(uint64_t position_limit);
  // Drops entries whose position is >= `position`.
  void TruncateFromPosition(uint64_t position);
  // Whether `offset` can be stored relative to this index's base.
  bool CanHold(Offset offset) const;

  IndexFile& file() { return *file_; }
  const IndexFile& file() const { return *file_; }
  Offset base() const { return base_; }

 private:
  OffsetIndex(std::unique_ptr<IndexFile> file, Offset base)
      : file_(std::move(file)), base_(base) {}
  std::unique_ptr<IndexFile> file_;
  const Offset base_;
};

struct TimestampOffset {
  int64_t timestamp = 0;
  Offset offset;
};

// Entry (t, o) promises: every record with offset <= o has timestamp <= t.
class TimeIndex {
 public:
  static constexpr size_t kEntrySize = 12;
  static absl::StatusOr<std::unique_ptr<TimeIndex>> Open(
      FileSystem* fs, const std::string& path, Offset base,
      size_t preallocate_bytes);

  // The entry with the largest timestamp strictly below `target`, if any.
  std::optional<TimestampOffset> LookupBefore(int64_t target) const;
  std::optional<TimestampOffset> Last() const;
  TimestampOffset Entry(size_t i) const;
  // Appends when `timestamp` exceeds the last entry's; otherwise does
  // nothing. Returns false when full.
  bool MaybeAppend(int64_t timestamp, Offset offset);
  // Keeps the longest prefix with strictly increasing timestamps and
  // non-decreasing offsets in [base, offset_limit).
  size_t TruncateToValidPrefix(Offset offset_limit);

  IndexFile& file() { return *file_; }
  const IndexFile& file() const { return *file_; }

 private:
  TimeIndex(std::unique_ptr<IndexFile> file, Offset base)
      : file_(std::move(file)), base_(base) {}
  std::unique_ptr<IndexFile> file_;
  const Offset base_;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_INDEX_H_
