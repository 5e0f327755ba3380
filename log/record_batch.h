// Kafka RecordBatch v2 (magic 2), byte-exact: header parsing and validation,
// record decoding, and a builder. The layout is in shared/KAFKA_PROTOCOL.md
// and log/FORMAT.md; the constants below are shared by reader and writer.
//
// Nothing here trusts a length read from the bytes: a malformed or truncated
// batch is a kDataLoss (or kInvalidArgument) status, never an over-read.
// Free functions are thread-safe; BatchBuilder is thread-compatible.
#ifndef FJORD_LOG_RECORD_BATCH_H_
#define FJORD_LOG_RECORD_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "log/compression.h"
#include "log/types.h"

namespace fjord::log {

namespace batch_layout {
inline constexpr size_t kBaseOffset = 0;             // i64
inline constexpr size_t kBatchLength = 8;            // i32, bytes after it
inline constexpr size_t kPartitionLeaderEpoch = 12;  // i32
inline constexpr size_t kMagic = 16;                 // i8 == 2
inline constexpr size_t kCrc = 17;                   // u32 over [21, end)
inline constexpr size_t kAttributes = 21;            // i16
inline constexpr size_t kLastOffsetDelta = 23;       // i32
inline constexpr size_t kBaseTimestamp = 27;         // i64
inline constexpr size_t kMaxTimestamp = 35;          // i64
inline constexpr size_t kProducerId = 43;            // i64
inline constexpr size_t kProducerEpoch = 51;         // i16
inline constexpr size_t kBaseSequence = 53;          // i32
inline constexpr size_t kRecordCount = 57;           // i32
inline constexpr size_t kHeaderSize = 61;
// batchLength counts the bytes after its own field.
inline constexpr size_t kLogOverhead = 12;
inline constexpr int8_t kMagicV2 = 2;

inline constexpr int16_t kCodecMask = 0x07;
inline constexpr int16_t kTimestampTypeBit = 0x08;  // 1 = LogAppendTime
inline constexpr int16_t kTransactionalBit = 0x10;
inline constexpr int16_t kControlBit = 0x20;
inline constexpr int16_t kDeleteHorizonBit = 0x40;
}  // namespace batch_layout

inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;

// The 61-byte batch header, decoded.
struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = -1;
  int8_t magic = batch_layout::kMagicV2;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  int32_t record_count = 0;

  // Bytes the whole batch occupies, header included.
  size_t size_bytes() const {
    return batch_layout::kLogOverhead + static_cast<uint32_t>(batch_length);
  }
  Offset base() const { return Offset(base_offset); }
  Offset last() const { return Offset(base_offset + last_offset_delta); }
  Codec codec() const {
    return static_cast<Codec>(attributes & batch_layout::kCodecMask);
  }
  bool is_control() const { return attributes & batch_layout::kControlBit; }
  bool is_transactional() const {
    return attributes & batch_layout::kTransactionalBit;
  }
};

// Decodes the header at `data`, checking only what the header alone can
// prove: `available` >= 61, magic 2, a batchLength that covers the header,
// a known codec, non-negative counts. Does not check the CRC or that the
// whole batch is present.
absl::StatusOr<BatchHeader> ParseBatchHeader(const uint8_t* data,
                                             size_t available);

// CRC-32C of bytes [21, end) of a whole batch.
uint32_t ComputeBatchCrc(std::span<const uint8_t> batch);

// Checks one whole batch: header as above, `batch.size()` equal to the size
// its header claims, and the stored CRC equal to the computed one.
absl::StatusOr<BatchHeader> ValidateBatch(std::span<const uint8_t> batch);

// Walks a record set (concatenated batches, as in a Produce request or on
// disk), validating each batch fully. Calls `fn(header, batch_bytes)` for each.
// An empty set is OK; a partial trailing batch is kDataLoss.
template <typename Fn>
absl::Status ForEachBatch(std::span<const uint8_t> records, Fn&& fn);

// Overwrites the fields outside the CRC: base offset and leader epoch.
void StampBaseOffset(std::span<uint8_t> batch, Offset base);
void StampPartitionLeaderEpoch(std::span<uint8_t> batch, int32_t epoch);

struct RecordHeader {
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt: a null header value
};

// One decoded record. The views point into the batch bytes or into the
// decompression scratch buffer passed to DecodeRecords; both must outlive it.
struct Record {
  Offset offset;
  int64_t timestamp = 0;
  std::optional<std::string_view> key;    // nullopt: null key
  std::optional<std::string_view> value;  // nullopt: tombstone
  std::vector<RecordHeader> headers;
};

// Decodes every record of a batch (decompressing into `*scratch` when the
// batch is compressed). The batch must have passed ValidateBatch. Fails with
// kDataLoss when the records do not parse exactly: a field that runs past its
// record, a record count that does not match, trailing bytes, or offset
// deltas that are not increasing within [0, lastOffsetDelta].
absl::Status DecodeRecords(std::span<const uint8_t> batch, std::string* scratch,
                           std::vector<Record>* out);

// Re-encodes a batch keeping only `records` (a subset of its records, in
// order, as decoded by DecodeRecords): same base offset, lastOffsetDelta,
// producer id/epoch/base sequence, leader epoch, codec and attribute bits;
// each record keeps its offset and timestamp. An empty `records` gives a
// header-only batch (recordCount 0), which keeps a producer's sequence
// state and the offset range. With `delete_horizon_ms`, sets attribute bit
// 6 and stores the horizon as the base timestamp (KIP-534); otherwise an
// existing horizon is kept.
absl::StatusOr<std::string> RebuildBatch(
    const BatchHeader& original, const std::vector<Record>& records,
    std::optional<int64_t> delete_horizon_ms);

// The delete horizon of a batch (bit 6 set), if any.
inline std::optional<int64_t> DeleteHorizonMs(const BatchHeader& h) {
  if (h.attributes & batch_layout::kDeleteHorizonBit) return h.base_timestamp;
  return std::nullopt;
}

// What a producer supplies for one record.
struct RecordInput {
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::vector<RecordHeader> headers;
  int64_t timestamp = 0;  // ms since epoch (CreateTime)
};

struct BatchOptions {
  Codec codec = Codec::kNone;
  int compression_level = 0;
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
  bool log_append_time = false;
};

// Builds one RecordBatch v2 from records, offset deltas 0..n-1. Records are
// encoded straight into the builder's buffer, which starts with room for the
// 61-byte header: Add does no allocation beyond that buffer's growth, and a
// builder that is Reset keeps its buffers' capacity, so a producer that
// recycles builders allocates nothing per record or per batch.
class BatchBuilder {
 public:
  explicit BatchBuilder(BatchOptions options = {});
  BatchBuilder(const BatchBuilder&) = delete;
  BatchBuilder& operator=(const BatchBuilder&) = delete;

  void Add(const RecordInput& record);
  // The same, from parts, so callers need not build a RecordInput (whose
  // header vector would allocate).
  void Add(std::optional<std::string_view> key,
           std::optional<std::string_view> value,
           std::span<const RecordHeader> headers, int64_t timestamp);
  // An upper bound on the bytes Add appends for such a record (every
  // varint taken at its widest). Inline: the producer asks once per record.
  static size_t MaxRecordBytes(std::optional<std::string_view> key,
                               std::optional<std::string_view> value,
                               std::span<const RecordHeader> headers) {
    constexpr size_t kVarint32 = 5, kVarint64 = 10;
    auto field = [](const std::optional<std::string_view>& v) {
      return v ? kVarint32 + v->size() : size_t{1};
    };
    // length, attributes, timestamp delta, offset delta, key, value,
    // header count, headers.
    size_t n = kVarint32 + 1 + kVarint64 + kVarint32 + field(key) +
               field(value) + kVarint32;
    for (const auto& hd : headers) n += field(hd.key) + field(hd.value);
    return n;
  }

  int record_count() const { return count_; }
  // Bytes of encoded records so far, before compression.
  size_t uncompressed_bytes() const {
    return used_ - batch_layout::kHeaderSize;
  }
  int64_t base_timestamp() const { return base_timestamp_; }
  int64_t max_timestamp() const { return max_timestamp_; }
  const BatchOptions& options() const { return options_; }
  // Sets the idempotence fields written by the next Finish / Build.
  void SetProducer(int64_t producer_id, int16_t producer_epoch,
                   int32_t base_sequence);
  // Makes room for `bytes` of encoded records without reallocating.
  void Reserve(size_t bytes);

  // Finishes the batch inside the builder (compressing into a second
  // buffer if a codec is set) and returns its bytes, valid until the next
  // Add, Reset or Finish. kInvalidArgument for an empty batch.
  absl::StatusOr<std::span<uint8_t>> Finish();
  // Empties the builder for a new batch, keeping its buffers' capacity.
  void Reset(BatchOptions options);
  // The finished batch as a string; the builder is empty afterwards (with
  // the same options).
  absl::StatusOr<std::string> Build();

 private:
  // Makes buffer_ hold at least `bytes` (it only grows, and keeps its
  // size across Reset, so a recycled builder never zero-fills again).
  char* Grow(size_t bytes);

  BatchOptions options_;
  // [0, used_): header room + encoded records; past used_: spare room.
  std::string buffer_;
  size_t used_ = 0;
  std::string compressed_;  // header + compressed records, after Finish
  int count_ = 0;
  int64_t base_timestamp_ = 0;
  int64_t max_timestamp_ = 0;
};

// ---------------------------------------------------------------------------

template <typename Fn>
absl::Status ForEachBatch(std::span<const uint8_t> records, Fn&& fn) {
  size_t pos = 0;
  while (pos < records.size()) {
    auto header = ParseBatchHeader(records.data() + pos, records.size() - pos);
    if (!header.ok()) return header.status();
    if (header->size_bytes() > records.size() - pos) {
      return absl::DataLossError(
          "record set ends inside a batch: truncated batch");
    }
    auto batch = records.subspan(pos, header->size_bytes());
    auto validated = ValidateBatch(batch);
    if (!validated.ok()) return validated.status();
    absl::Status s = fn(*validated, batch);
    if (!s.ok()) return s;
    pos += header->size_bytes();
  }
  return absl::OkStatus();
}

}  // namespace fjord::log

#endif  // FJORD_LOG_RECORD_BATCH_H_
