#include "fjord/consumer_records.h"

#include "absl/strings/str_format.h"
#include "log/internal/endian.h"
#include "log/internal/varint.h"
#include "log/record_batch.h"

namespace fjord {

namespace L = log::batch_layout;
using log::internal::ReadVarint32;
using log::internal::ReadVarint64;

namespace {

bool ReadBytes(const uint8_t** p, const uint8_t* end,
               std::optional<std::string_view>* out) {
  auto len = ReadVarint32(p, end);
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

// One record's fields, as views. Headers are checked and left encoded.
struct Fields {
  int64_t timestamp_delta;
  int32_t offset_delta;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  const uint8_t* headers;
  const uint8_t* headers_end;
  int32_t header_count;
};

// Decodes the record at *p (bounded by `end`) and advances past it.
bool DecodeRecord(const uint8_t** p, const uint8_t* end, Fields* f) {
  auto length = ReadVarint32(p, end);
  if (!length || *length <= 0 || *length > end - *p) return false;
  const uint8_t* rend = *p + *length;
  const uint8_t* q = *p + 1;  // attributes, unused in v2
  auto ts = ReadVarint64(&q, rend);
  auto off = ReadVarint32(&q, rend);
  if (!ts || !off) return false;
  f->timestamp_delta = *ts;
  f->offset_delta = *off;
  if (!ReadBytes(&q, rend, &f->key) || !ReadBytes(&q, rend, &f->value)) {
    return false;
  }
  auto count = ReadVarint32(&q, rend);
  if (!count || *count < 0 || *count > rend - q) return false;
  f->headers = q;
  f->header_count = *count;
  for (int32_t i = 0; i < *count; i++) {
    std::optional<std::string_view> k, v;
    if (!ReadBytes(&q, rend, &k) || !k || !ReadBytes(&q, rend, &v)) {
      return false;
    }
  }
  if (q != rend) return false;
  f->headers_end = rend;
  *p = rend;
  return true;
}

// The records region of a chunk's batch, decompressing it once.
absl::Status RecordsOf(ConsumerRecords::Chunk& c, const uint8_t** p,
                       const uint8_t** end) {
  const uint8_t* body = c.batch.data() + L::kHeaderSize;
  const uint8_t* body_end = c.batch.data() + c.batch.size();
  auto codec = static_cast<log::Codec>(
      log::internal::LoadBE<int16_t>(c.batch.data() + L::kAttributes) &
      L::kCodecMask);
  if (codec == log::Codec::kNone) {
    *p = body;
    *end = body_end;
    return absl::OkStatus();
  }
  if (!c.decompressed_ready) {
    c.decompressed.clear();
    absl::Status s = log::Decompress(
        codec,
        std::string_view(reinterpret_cast<const char*>(body), body_end - body),
        &c.decompressed);
    if (!s.ok()) return s;
    c.decompressed_ready = true;
  }
  *p = reinterpret_cast<const uint8_t*>(c.decompressed.data());
  *end = *p + c.decompressed.size();
  return absl::OkStatus();
}

absl::Status Malformed(const ConsumerRecords::Chunk& c, int64_t base) {
  return absl::DataLossError(
      absl::StrFormat("malformed record in the batch at offset %d of %s-%d",
                      base, c.topic, c.partition));
}

}  // namespace

// ---------------------------------------------------------- RecordHeaders

RecordHeaders::iterator::iterator(const uint8_t* p, const uint8_t* end,
                                  int32_t left)
    : p_(p), end_(end), left_(left) {
  if (left_ > 0) Decode();
}

void RecordHeaders::iterator::Decode() {
  std::optional<std::string_view> k;
  ReadBytes(&p_, end_, &k);  // validated when the record was decoded
  current_.key = k.value_or(std::string_view());
  ReadBytes(&p_, end_, &current_.value);
}

RecordHeaders::iterator& RecordHeaders::iterator::operator++() {
  if (--left_ > 0) Decode();
  return *this;
}

// -------------------------------------------------------- ConsumerRecords

absl::Status ConsumerRecords::AddChunk(Chunk chunk) {
  auto h = log::ParseBatchHeader(chunk.batch.data(), chunk.batch.size());
  if (!h.ok()) return h.status();
  size_t n = 0;
  if (h->base_offset >= chunk.min_offset) {
    n = static_cast<size_t>(h->record_count);
  } else {
    // The fetch started inside this batch: count the records at or past
    // min_offset (offset deltas may have gaps after compaction).
    const uint8_t* p;
    const uint8_t* end;
    absl::Status s = RecordsOf(chunk, &p, &end);
    if (!s.ok()) return s;
    for (int32_t i = 0; i < h->record_count; i++) {
      Fields f;
      if (!DecodeRecord(&p, end, &f)) return Malformed(chunk, h->base_offset);
      if (h->base_offset + f.offset_delta >= chunk.min_offset) n++;
    }
  }
  if (n == 0) return absl::OkStatus();
  count_ += n;
  chunks_.push_back(std::move(chunk));
  return absl::OkStatus();
}

ConsumerRecords::iterator::iterator(ConsumerRecords* set) : set_(set) {
  done_ = false;
  chunk_ = 0;
  if (!EnterChunk()) {
    done_ = true;
    return;
  }
  Next();
}

bool ConsumerRecords::iterator::EnterChunk() {
  while (chunk_ < set_->chunks_.size()) {
    Chunk& c = set_->chunks_[chunk_];
    absl::Status s = RecordsOf(c, &p_, &end_);
    if (!s.ok()) {
      set_->status_ = s;
      return false;
    }
    left_ = log::internal::LoadBE<int32_t>(c.batch.data() + L::kRecordCount);
    prev_delta_ = -1;
    current_.topic = c.topic;
    current_.partition = c.partition;
    const int16_t attributes =
        log::internal::LoadBE<int16_t>(c.batch.data() + L::kAttributes);
    current_.timestamp_type = (attributes & L::kTimestampTypeBit)
                                  ? TimestampType::kLogAppendTime
                                  : TimestampType::kCreateTime;
    if (left_ > 0) return true;
    chunk_++;
  }
  return false;
}

void ConsumerRecords::iterator::Next() {
  for (;;) {
    if (left_ == 0) {
      chunk_++;
      if (!EnterChunk()) {
        done_ = true;
        return;
      }
    }
    Chunk& c = set_->chunks_[chunk_];
    const uint8_t* b = c.batch.data();
    const int64_t base = log::internal::LoadBE<int64_t>(b + L::kBaseOffset);
    Fields f;
    if (!DecodeRecord(&p_, end_, &f) || f.offset_delta <= prev_delta_) {
      set_->status_ = Malformed(c, base);
      done_ = true;
      return;
    }
    prev_delta_ = f.offset_delta;
    left_--;
    const int64_t offset = base + f.offset_delta;
    if (offset < c.min_offset) continue;
    current_.offset = offset;
    current_.timestamp =
        current_.timestamp_type == TimestampType::kLogAppendTime
            ? log::internal::LoadBE<int64_t>(b + L::kMaxTimestamp)
            : log::internal::LoadBE<int64_t>(b + L::kBaseTimestamp) +
                  f.timestamp_delta;
    current_.key = f.key;
    current_.value = f.value;
    current_.headers.data_ = f.headers;
    current_.headers.end_ = f.headers_end;
    current_.headers.count_ = f.header_count;
    return;
  }
}

}  // namespace fjord
