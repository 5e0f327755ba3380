#include "log/record_batch.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"
#include "log/crc32c.h"
#include "log/internal/endian.h"
#include "log/internal/varint.h"
#include "log/status_macros.h"

namespace fjord::log {

using internal::LoadBE;
using internal::StoreBE;
namespace L = batch_layout;

absl::StatusOr<BatchHeader> ParseBatchHeader(const uint8_t* data,
                                             size_t available) {
  if (available < L::kHeaderSize) {
    return absl::DataLossError(absl::StrFormat(
        "truncated batch header: %d of %d bytes", available, L::kHeaderSize));
  }
  BatchHeader h;
  h.base_offset = LoadBE<int64_t>(data + L::kBaseOffset);
  h.batch_length = LoadBE<int32_t>(data + L::kBatchLength);
  h.partition_leader_epoch = LoadBE<int32_t>(data + L::kPartitionLeaderEpoch);
  h.magic = static_cast<int8_t>(data[L::kMagic]);
  h.crc = LoadBE<uint32_t>(data + L::kCrc);
  h.attributes = LoadBE<int16_t>(data + L::kAttributes);
  h.last_offset_delta = LoadBE<int32_t>(data + L::kLastOffsetDelta);
  h.base_timestamp = LoadBE<int64_t>(data + L::kBaseTimestamp);
  h.max_timestamp = LoadBE<int64_t>(data + L::kMaxTimestamp);
  h.producer_id = LoadBE<int64_t>(data + L::kProducerId);
  h.producer_epoch = LoadBE<int16_t>(data + L::kProducerEpoch);
  h.base_sequence = LoadBE<int32_t>(data + L::kBaseSequence);
  h.record_count = LoadBE<int32_t>(data + L::kRecordCount);

  if (h.magic != L::kMagicV2) {
    return absl::DataLossError(
        absl::StrFormat("unsupported batch magic %d (only 2)", h.magic));
  }
  if (h.batch_length < static_cast<int32_t>(L::kHeaderSize - L::kLogOverhead)) {
    return absl::DataLossError(absl::StrFormat(
        "batch length %d is shorter than the batch header", h.batch_length));
  }
  if ((h.attributes & L::kCodecMask) > 4) {
    return absl::DataLossError(absl::StrFormat("unknown compression codec %d",
                                               h.attributes & L::kCodecMask));
  }
  if (h.last_offset_delta < 0 || h.record_count < 0) {
    return absl::DataLossError(
        absl::StrFormat("negative lastOffsetDelta %d or recordCount %d",
                        h.last_offset_delta, h.record_count));
  }
  if (h.base_offset >
      std::numeric_limits<int64_t>::max() - h.last_offset_delta) {
    return absl::DataLossError("batch offsets overflow int64");
  }
  return h;
}

uint32_t ComputeBatchCrc(std::span<const uint8_t> batch) {
  return crc32c::Value(batch.data() + L::kAttributes,
                       batch.size() - L::kAttributes);
}

absl::StatusOr<BatchHeader> ValidateBatch(std::span<const uint8_t> batch) {
  ASSIGN_OR_RETURN(BatchHeader h, ParseBatchHeader(batch.data(), batch.size()));
  if (h.size_bytes() != batch.size()) {
    return absl::DataLossError(
        absl::StrFormat("batch claims %d bytes but %d are present",
                        h.size_bytes(), batch.size()));
  }
  uint32_t crc = ComputeBatchCrc(batch);
  if (crc != h.crc) {
    return absl::DataLossError(absl::StrFormat(
        "batch CRC mismatch at base offset %d: stored %08x, computed %08x",
        h.base_offset, h.crc, crc));
  }
  return h;
}

void StampBaseOffset(std::span<uint8_t> batch, Offset base) {
  StoreBE<int64_t>(batch.data() + L::kBaseOffset, base.value());
}

void StampPartitionLeaderEpoch(std::span<uint8_t> batch, int32_t epoch) {
  StoreBE<int32_t>(batch.data() + L::kPartitionLeaderEpoch, epoch);
}

namespace {

absl::Status Malformed(const BatchHeader& h, const char* what) {
  return absl::DataLossError(absl::StrFormat(
      "malformed record in batch at base offset %d: %s", h.base_offset, what));
}

// Reads a varint-length-prefixed byte string; length -1 is null.
bool ReadBytes(const uint8_t** p, const uint8_t* end,
               std::optional<std::string_view>* out) {
  auto len = internal::ReadVarint32(p, end);
  if (!len) return false;
  if (*len < 0) {
    if (*len != -1) return false;
    *out = std::nullopt;
    return true;
  }
  if (static_cast<size_t>(*len) > static_cast<size_t>(end - *p)) return false;
  *out = std::string_view(reinterpret_cast<const char*>(*p), *len);
  *p += *len;
  return true;
}

}  // namespace

absl::Status DecodeRecords(std::span<const uint8_t> batch, std::string* scratch,
                           std::vector<Record>* out) {
  ASSIGN_OR_RETURN(BatchHeader h, ParseBatchHeader(batch.data(), batch.size()));
  if (h.size_bytes() != batch.size()) {
    return absl::DataLossError("batch size does not match its header");
  }
  const uint8_t* p = batch.data() + L::kHeaderSize;
  const uint8_t* end = batch.data() + batch.size();
  if (h.codec() != Codec::kNone) {
    scratch->clear();
    RETURN_IF_ERROR(Decompress(
        h.codec(), std::string_view(reinterpret_cast<const char*>(p), end - p),
        scratch));
    p = reinterpret_cast<const uint8_t*>(scratch->data());
    end = p + scratch->size();
  }
  // Each record takes at least 7 bytes, which bounds a hostile recordCount.
  if (static_cast<size_t>(h.record_count) >
      static_cast<size_t>(end - p) / 7 + 1) {
    return Malformed(h, "record count exceeds what the bytes can hold");
  }
  const bool log_append_time = h.attributes & L::kTimestampTypeBit;
  out->reserve(out->size() + h.record_count);
  int64_t prev_delta = -1;
  for (int32_t i = 0; i < h.record_count; i++) {
    auto length = internal::ReadVarint32(&p, end);
    if (!length || *length < 0 || *length > end - p) {
      return Malformed(h, "record length runs past the batch");
    }
    const uint8_t* rend = p + *length;
    if (p >= rend) return Malformed(h, "empty record");
    p++;  // record attributes, unused in v2
    auto ts_delta = internal::ReadVarint64(&p, rend);
    auto off_delta = internal::ReadVarint32(&p, rend);
    if (!ts_delta || !off_delta) return Malformed(h, "truncated record fields");
    if (*off_delta <= prev_delta || *off_delta > h.last_offset_delta) {
      return Malformed(h, "offset delta out of order or past lastOffsetDelta");
    }
    prev_delta = *off_delta;
    Record r;
    r.offset = Offset(h.base_offset + *off_delta);
    if (log_append_time) {
      r.timestamp = h.max_timestamp;
    } else if (__builtin_add_overflow(h.base_timestamp, *ts_delta,
                                      &r.timestamp)) {
      return Malformed(h, "timestamp delta overflows the base timestamp");
    }
    if (!ReadBytes(&p, rend, &r.key) || !ReadBytes(&p, rend, &r.value)) {
      return Malformed(h, "key or value runs past its record");
    }
    auto header_count = internal::ReadVarint32(&p, rend);
    if (!header_count || *header_count < 0 || *header_count > rend - p) {
      return Malformed(h, "bad header count");
    }
    r.headers.reserve(*header_count);
    for (int32_t j = 0; j < *header_count; j++) {
      std::optional<std::string_view> key;
      RecordHeader rh;
      if (!ReadBytes(&p, rend, &key) || !key ||
          !ReadBytes(&p, rend, &rh.value)) {
        return Malformed(h, "header runs past its record");
      }
      rh.key = *key;
      r.headers.push_back(rh);
    }
    if (p != rend) return Malformed(h, "trailing bytes inside a record");
    out->push_back(std::move(r));
  }
  if (p != end) return Malformed(h, "trailing bytes after the last record");
  return absl::OkStatus();
}

namespace {

inline size_t BytesFieldSize(std::optional<std::string_view> v) {
  if (!v) return 1;  // varint(-1)
  return internal::VarintSize32(static_cast<int32_t>(v->size())) + v->size();
}

inline char* WriteBytesField(char* p, std::optional<std::string_view> v) {
  if (!v) return internal::WriteVarint32(p, -1);
  p = internal::WriteVarint32(p, static_cast<int32_t>(v->size()));
  if (!v->empty()) std::memcpy(p, v->data(), v->size());
  return p + v->size();
}

// The bytes of one encoded record, length prefix included; `body_size` is
// the size after the prefix. Computed first, so a record is encoded in
// place and nothing is built twice.
size_t EncodedRecordSize(int64_t timestamp_delta, int32_t offset_delta,
                         std::optional<std::string_view> key,
                         std::optional<std::string_view> value,
                         std::span<const RecordHeader> headers,
                         size_t* body_size) {
  size_t body = 1 + internal::VarintSize64(timestamp_delta) +
                internal::VarintSize32(offset_delta) + BytesFieldSize(key) +
                BytesFieldSize(value) +
                internal::VarintSize32(static_cast<int32_t>(headers.size()));
  for (const auto& hd : headers) {
    body += BytesFieldSize(hd.key) + BytesFieldSize(hd.value);
  }
  *body_size = body;
  return internal::VarintSize32(static_cast<int32_t>(body)) + body;
}

// Writes one record (length-prefixed) at `p`, whose body is `body` bytes
// (EncodedRecordSize); returns the byte after it.
char* WriteRecord(char* p, size_t body, int64_t timestamp_delta,
                  int32_t offset_delta, std::optional<std::string_view> key,
                  std::optional<std::string_view> value,
                  std::span<const RecordHeader> headers) {
  p = internal::WriteVarint32(p, static_cast<int32_t>(body));
  *p++ = 0;  // attributes
  p = internal::WriteVarint64(p, timestamp_delta);
  p = internal::WriteVarint32(p, offset_delta);
  p = WriteBytesField(p, key);
  p = WriteBytesField(p, value);
  p = internal::WriteVarint32(p, static_cast<int32_t>(headers.size()));
  for (const auto& hd : headers) {
    p = WriteBytesField(p, hd.key);
    p = WriteBytesField(p, hd.value);
  }
  return p;
}

// Appends one record (length-prefixed) to `out`.
void EncodeRecord(int64_t timestamp_delta, int32_t offset_delta,
                  std::optional<std::string_view> key,
                  std::optional<std::string_view> value,
                  std::span<const RecordHeader> headers, std::string* out) {
  size_t body;
  const size_t total = EncodedRecordSize(timestamp_delta, offset_delta, key,
                                         value, headers, &body);
  const size_t at = out->size();
  out->resize(at + total);
  WriteRecord(out->data() + at, body, timestamp_delta, offset_delta, key, value,
              headers);
}

// Fills in the 61-byte header of `out` (records already after it) and the
// CRC.
void FinishHeader(const BatchHeader& h, std::string* out) {
  auto* d = reinterpret_cast<uint8_t*>(out->data());
  StoreBE<int64_t>(d + L::kBaseOffset, h.base_offset);
  StoreBE<int32_t>(d + L::kBatchLength,
                   static_cast<int32_t>(out->size() - L::kLogOverhead));
  StoreBE<int32_t>(d + L::kPartitionLeaderEpoch, h.partition_leader_epoch);
  d[L::kMagic] = L::kMagicV2;
  StoreBE<int16_t>(d + L::kAttributes, h.attributes);
  StoreBE<int32_t>(d + L::kLastOffsetDelta, h.last_offset_delta);
  StoreBE<int64_t>(d + L::kBaseTimestamp, h.base_timestamp);
  StoreBE<int64_t>(d + L::kMaxTimestamp, h.max_timestamp);
  StoreBE<int64_t>(d + L::kProducerId, h.producer_id);
  StoreBE<int16_t>(d + L::kProducerEpoch, h.producer_epoch);
  StoreBE<int32_t>(d + L::kBaseSequence, h.base_sequence);
  StoreBE<int32_t>(d + L::kRecordCount, h.record_count);
  StoreBE<uint32_t>(d + L::kCrc,
                    ComputeBatchCrc(std::span<const uint8_t>(d, out->size())));
}

}  // namespace

absl::StatusOr<std::string> RebuildBatch(
    const BatchHeader& original, const std::vector<Record>& records,
    std::optional<int64_t> delete_horizon_ms) {
  BatchHeader h = original;
  h.record_count = static_cast<int32_t>(records.size());
  // A header-only batch has nothing to compress (as Kafka writes them).
  if (records.empty()) h.attributes &= ~L::kCodecMask;
  const bool append_time = h.attributes & L::kTimestampTypeBit;
  if (delete_horizon_ms) {
    h.attributes |= L::kDeleteHorizonBit;
    h.base_timestamp = *delete_horizon_ms;
  } else if (!(h.attributes & L::kDeleteHorizonBit) && !append_time &&
             !records.empty()) {
    h.base_timestamp = records.front().timestamp;
  }
  if (!append_time && !records.empty()) {
    h.max_timestamp = records.front().timestamp;
    for (const Record& r : records) {
      h.max_timestamp = std::max(h.max_timestamp, r.timestamp);
    }
  }
  std::string body;
  for (const Record& r : records) {
    int64_t offset_delta = r.offset.value() - h.base_offset;
    if (offset_delta < 0 || offset_delta > h.last_offset_delta) {
      return absl::InvalidArgumentError("record outside its batch's offsets");
    }
    int64_t ts_delta = append_time ? 0 : r.timestamp - h.base_timestamp;
    EncodeRecord(ts_delta, static_cast<int32_t>(offset_delta), r.key, r.value,
                 r.headers, &body);
  }
  std::string out(L::kHeaderSize, '\0');
  if (h.codec() == Codec::kNone || records.empty()) {
    out.append(body);
  } else {
    RETURN_IF_ERROR(Compress(h.codec(), body, &out));
  }
  FinishHeader(h, &out);
  return out;
}

BatchBuilder::BatchBuilder(BatchOptions options) : options_(options) {
  buffer_.resize(L::kHeaderSize);
  used_ = L::kHeaderSize;
}

char* BatchBuilder::Grow(size_t bytes) {
  if (buffer_.size() < bytes) {
    buffer_.resize(std::max(bytes, buffer_.size() * 2));
  }
  return buffer_.data();
}

void BatchBuilder::Add(const RecordInput& record) {
  Add(record.key, record.value, record.headers, record.timestamp);
}

void BatchBuilder::Add(std::optional<std::string_view> key,
                       std::optional<std::string_view> value,
                       std::span<const RecordHeader> headers,
                       int64_t timestamp) {
  if (count_ == 0) {
    base_timestamp_ = timestamp;
    max_timestamp_ = timestamp;
  }
  max_timestamp_ = std::max(max_timestamp_, timestamp);
  const int64_t ts_delta = timestamp - base_timestamp_;
  size_t body;
  const size_t total =
      EncodedRecordSize(ts_delta, count_, key, value, headers, &body);
  char* p = Grow(used_ + total) + used_;
  WriteRecord(p, body, ts_delta, count_, key, value, headers);
  used_ += total;
  count_++;
}

void BatchBuilder::SetProducer(int64_t producer_id, int16_t producer_epoch,
                               int32_t base_sequence) {
  options_.producer_id = producer_id;
  options_.producer_epoch = producer_epoch;
  options_.base_sequence = base_sequence;
}

void BatchBuilder::Reserve(size_t bytes) { Grow(L::kHeaderSize + bytes); }

void BatchBuilder::Reset(BatchOptions options) {
  options_ = options;
  used_ = L::kHeaderSize;
  compressed_.clear();
  count_ = 0;
  base_timestamp_ = 0;
  max_timestamp_ = 0;
}

absl::StatusOr<std::span<uint8_t>> BatchBuilder::Finish() {
  if (count_ == 0) {
    return absl::InvalidArgumentError("a batch needs at least one record");
  }
  char* data = buffer_.data();
  size_t size = used_;
  if (options_.codec != Codec::kNone) {
    compressed_.assign(L::kHeaderSize, '\0');
    RETURN_IF_ERROR(Compress(options_.codec,
                             std::string_view(buffer_).substr(
                                 L::kHeaderSize, used_ - L::kHeaderSize),
                             &compressed_, options_.compression_level));
    data = compressed_.data();
    size = compressed_.size();
  }
  if (size - L::kLogOverhead >
      static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("batch larger than 2 GiB");
  }
  auto* d = reinterpret_cast<uint8_t*>(data);
  int16_t attributes = static_cast<int16_t>(options_.codec);
  if (options_.log_append_time) attributes |= L::kTimestampTypeBit;
  StoreBE<int64_t>(d + L::kBaseOffset, options_.base_offset);
  StoreBE<int32_t>(d + L::kBatchLength,
                   static_cast<int32_t>(size - L::kLogOverhead));
  StoreBE<int32_t>(d + L::kPartitionLeaderEpoch,
                   options_.partition_leader_epoch);
  d[L::kMagic] = L::kMagicV2;
  StoreBE<int16_t>(d + L::kAttributes, attributes);
  StoreBE<int32_t>(d + L::kLastOffsetDelta, count_ - 1);
  StoreBE<int64_t>(d + L::kBaseTimestamp, base_timestamp_);
  StoreBE<int64_t>(d + L::kMaxTimestamp, max_timestamp_);
  StoreBE<int64_t>(d + L::kProducerId, options_.producer_id);
  StoreBE<int16_t>(d + L::kProducerEpoch, options_.producer_epoch);
  StoreBE<int32_t>(d + L::kBaseSequence, options_.base_sequence);
  StoreBE<int32_t>(d + L::kRecordCount, count_);
  StoreBE<uint32_t>(d + L::kCrc,
                    ComputeBatchCrc(std::span<const uint8_t>(d, size)));
  return std::span<uint8_t>(d, size);
}

absl::StatusOr<std::string> BatchBuilder::Build() {
  ASSIGN_OR_RETURN(std::span<uint8_t> done, Finish());
  (void)done;
  std::string out;
  if (options_.codec == Codec::kNone) {
    buffer_.resize(used_);
    out = std::move(buffer_);
  } else {
    out = std::move(compressed_);
  }
  buffer_ = std::string(L::kHeaderSize, '\0');
  Reset(options_);
  return out;
}

}  // namespace fjord::log
