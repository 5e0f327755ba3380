// Segment: one file of concatenated record batches (<base>.log) plus its
// sparse offset and time indexes. The active segment is preallocated to
// segment.bytes and mapped once; appends are positional writes through the
// FileSystem, reads are zero-copy views into the shared mapping.
//
// Externally synchronized: the owning Log serializes appends, loads,
// truncation and sealing against each other and against reads.
#ifndef FJORD_LOG_SEGMENT_H_
#define FJORD_LOG_SEGMENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "log/file_system.h"
#include "log/index.h"
#include "log/record_batch.h"
#include "log/types.h"

namespace fjord::log {

struct SegmentConfig {
  uint64_t segment_bytes = uint64_t{1} << 30;
  size_t index_bytes = 10 << 20;
  uint32_t index_interval_bytes = 4096;
  bool preallocate = true;
};

// What a recovery scan found.
struct RecoveryStats {
  uint64_t batches_scanned = 0;
  uint64_t bytes_scanned = 0;    // bytes whose CRC was checked
  uint64_t bytes_truncated = 0;  // non-zero bytes dropped past the valid end
  std::string reason;            // why the scan stopped early, if it did
};

// Whole batches in a segment's mapping; `mapping` keeps the bytes alive
// after the segment is rolled, truncated or deleted.
struct SegmentSlice {
  std::shared_ptr<const Mapping> mapping;
  std::span<const uint8_t> bytes;
  Offset first_base;  // base offset of the first batch (if any)
  Offset next;        // last offset of the last batch + 1 (if any)
};

class Segment {
 public:
  // Creates the files of a new, empty, active segment, replacing stale ones.
  // `file_suffix` is appended to each file name (".cleaned" for the
  // cleaner's output, which is renamed into place later).
  static absl::StatusOr<std::unique_ptr<Segment>> Create(
      FileSystem* fs, const std::string& dir, Offset base,
      const SegmentConfig& config, int64_t now_ms,
      std::string_view file_suffix = "");

  // Opens an existing segment and establishes its size, next offset, max
  // timestamp and indexes:
  //  - bytes [0, trusted_end) are trusted (flushed before a clean stop or
  //    below the recovery point): the indexes are sanity-checked, kept where
  //    valid and completed by walking batch headers;
  //  - if `recover` is set, bytes from trusted_end on are scanned batch by
  //    batch with CRC checks; the first torn or corrupt batch and all that
  //    follows is cut off (counted in `stats`);
  //  - otherwise the segment ends at trusted_end.
  // `active` preallocates the files again for appends. When
  // `expect_at_trusted_end` is given and the batch at trusted_end does not
  // start with that offset (the segment was rewritten by the cleaner since
  // the recovery point was taken), nothing is trusted and the whole segment
  // is scanned.
  static absl::StatusOr<std::unique_ptr<Segment>> Open(
      FileSystem* fs, const std::string& dir, Offset base,
      const SegmentConfig& config, uint64_t trusted_end, bool recover,
      bool active, RecoveryStats* stats,
      std::optional<Offset> expect_at_trusted_end = std::nullopt);

  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  Offset base() const { return base_; }
  // Offset after the last batch; base() when empty.
  Offset next_offset() const { return next_offset_; }
  // Bytes of whole batches.
  uint64_t size() const { return size_; }
  uint64_t flushed_size() const { return flushed_size_; }
  bool empty() const { return size_ == 0; }
  // Largest batch maxTimestamp; -1 when empty.
  int64_t max_timestamp() const { return max_timestamp_; }
  // Broker time the segment was created, or its first batch's timestamp
  // when reopened: the start of its segment.ms clock.
  int64_t roll_base_ms() const { return roll_base_ms_; }
  // Broker time of the last append (persisted as the .log file's mtime when
  // sealed); 0 when unknown.
  int64_t last_append_ms() const { return last_append_ms_; }
  void set_last_append_ms(int64_t ms) { last_append_ms_ = ms; }
  // What retention judges the segment's age by: the last append time, or
  // the largest record timestamp when that is unknown.
  int64_t retention_time_ms() const {
    return last_append_ms_ > 0 ? last_append_ms_ : max_timestamp_;
  }
  // The mapping of the .log file (valid for [0, size())).
  std::shared_ptr<const Mapping> mapping() const { return map_; }
  const std::string& log_path() const { return log_file_->path(); }

  // Whether `bytes` more ending at `last` fit without rolling: within
  // segment.bytes (an empty segment takes any batch), indexes not full,
  // relative offsets representable.
  bool HasRoomFor(uint64_t bytes, Offset last) const;

  // Appends validated, stamped batches occupying `bytes`, whose headers are
  // walked again here only to index them. REQUIRES: HasRoomFor, first batch
  // base == next_offset(). On failure nothing is visible and a torn tail
  // past size() may remain in the file, to be overwritten or cut on
  // recovery.
  absl::Status Append(std::span<const uint8_t> bytes, int64_t append_time_ms);

  // Whole batches from the one containing `start` (or the first after it),
  // at least one batch if any exists unless it reaches `max_offset`
  // (exclusive; batches ending at or past it are not returned), then more
  // while the total stays within `max_bytes`. CRCs are checked when
  // `verify`: a corrupt first batch is kDataLoss, a later one ends the slice.
  absl::StatusOr<SegmentSlice> Read(Offset start, size_t max_bytes,
                                    Offset max_offset, bool verify) const;

  // The first record with timestamp >= `ts`: (offset, timestamp).
  absl::StatusOr<std::optional<std::pair<Offset, int64_t>>> FindByTimestamp(
      int64_t ts) const;

  // Makes everything appended durable: data, then indexes.
  absl::Status Flush();

  // A flush in three steps, so that the slow middle one runs without the
  // owning log's lock while appends go on (Log::Flush): PrepareFlush
  // captures what has been appended so far (under the lock), SyncFlushPoint
  // makes it durable (without the lock), MarkFlushed records that (under
  // the lock). REQUIRES: the segment is not deleted, truncated or
  // reactivated between PrepareFlush and MarkFlushed (Log's flush_mu_).
  struct FlushPoint {
    uint64_t size = 0;         // bytes of batches covered
    File* log_file = nullptr;  // null: nothing new in the .log
    std::shared_ptr<const Mapping> offset_index, time_index;  // may be null
    size_t offset_index_bytes = 0, time_index_bytes = 0;
  };
  FlushPoint PrepareFlush() const;
  static absl::Status SyncFlushPoint(const FlushPoint& point);
  void MarkFlushed(const FlushPoint& point);
  // Seals: a final time index entry, files trimmed to their contents.
  absl::Status Seal();
  // Removes batches from the one containing `offset` on (if any). The cut
  // bytes are overwritten with zeros and synced so a crash cannot bring
  // them back.
  absl::Status TruncateTo(Offset offset);
  // Renames the files to "<name>.deleted", the .log first: from then on the
  // segment is no longer part of the log after a restart.
  absl::Status MarkDeleted();
  // Closes and unlinks the files; readers' mappings stay valid.
  absl::Status Delete();

  // Makes a sealed segment appendable again (after a truncation into it).
  absl::Status Activate();
  // The byte position of the batch whose base is `offset`, if one is.
  std::optional<uint64_t> PositionOfBatch(Offset offset) const;
  // Calls `fn` with the header of every batch whose last offset is at or
  // after `from`, in order: headers only, through the mapping (no CRC
  // check, no record decoding). What rebuilding producer state replays.
  void ForEachBatchHeader(Offset from,
                          absl::FunctionRef<void(const BatchHeader&)> fn) const;
  void set_roll_base_ms(int64_t ms) { roll_base_ms_ = ms; }

 private:
  Segment(FileSystem* fs, std::string dir, Offset base, SegmentConfig config);
  absl::Status MapLog(uint64_t length);
  absl::Status OpenIndexes(bool active);
  // Walks headers over [from, to) indexing each batch; returns where the
  // walk stopped (== to unless a header is broken).
  uint64_t WalkHeaders(uint64_t from, uint64_t to, std::string* error);
  // Re-derives size, next offset, max timestamp and index contents for the
  // trusted byte range [0, trusted_end); see Open.
  absl::Status LoadTrusted(uint64_t trusted_end, std::string* error);
  void IndexBatch(const BatchHeader& h, uint64_t position);
  absl::Status RecoverFrom(uint64_t from, RecoveryStats* stats);

  std::string Path(std::string_view kind) const;

  FileSystem* const fs_;
  const std::string dir_;
  const Offset base_;
  std::string file_suffix_;  // "", ".cleaned" or ".deleted"
  SegmentConfig config_;
  std::unique_ptr<File> log_file_;
  std::shared_ptr<Mapping> map_;  // shared with readers' slices
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;
  // The .timeindex was missing at open and starts empty: it covers nothing.
  bool time_index_rebuilt_ = false;

  uint64_t size_ = 0;
  uint64_t flushed_size_ = 0;
  uint64_t file_size_ = 0;  // bytes in the .log file (preallocation included)
  // The largest size() ever: readers may hold views up to here, so the file
  // is never cut below it while open (a cut would turn reads into SIGBUS).
  uint64_t high_water_ = 0;
  Offset next_offset_;
  int64_t max_timestamp_ = -1;
  int64_t roll_base_ms_ = 0;
  int64_t last_append_ms_ = 0;
  uint64_t bytes_since_index_ = 0;
  bool sealed_ = false;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_SEGMENT_H_
