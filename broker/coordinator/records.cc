#include "broker/coordinator/records.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"

namespace fjord::coordinator {

namespace {

// Big-endian writer and bounds-checked reader of Kafka's non-flexible
// primitive types (INT16/32/64, STRING = INT16 length + bytes).
class Writer {
 public:
  template <typename T>
  void Int(T v) {
    auto u = static_cast<std::make_unsigned_t<T>>(v);
    for (int shift = (sizeof(T) - 1) * 8; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<char>((u >> shift) & 0xff));
    }
  }
  // REQUIRES: s.size() <= INT16_MAX (group ids, topic names and metadata
  // are bounded well below it).
  void String(std::string_view s) {
    Int<int16_t>(static_cast<int16_t>(s.size()));
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Int(T* v) {
    if (in_.size() < sizeof(T)) return false;
    std::make_unsigned_t<T> u = 0;
    for (size_t i = 0; i < sizeof(T); i++) {
      u = static_cast<std::make_unsigned_t<T>>((u << 8) |
                                               static_cast<uint8_t>(in_[i]));
    }
    *v = static_cast<T>(u);
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool String(std::string* s) {
    int16_t n;
    if (!Int(&n) || n < 0 || in_.size() < static_cast<size_t>(n)) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

absl::Status Malformed(std::string_view what) {
  return absl::DataLossError(
      absl::StrFormat("malformed __consumer_offsets %s", what));
}

// Decodes one code point of `s` at `*i`, advancing it; U+FFFD for a byte
// that does not start a valid, shortest-form sequence.
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(*i);
  int len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    (*i)++;
    return b0;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    (*i)++;
    return 0xfffd;
  }
  if (*i + len > s.size()) {
    (*i)++;
    return 0xfffd;
  }
  for (int k = 1; k < len; k++) {
    const uint8_t b = byte(*i + k);
    if ((b & 0xc0) != 0x80) {
      (*i)++;
      return 0xfffd;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    (*i)++;
    return 0xfffd;
  }
  *i += len;
  return cp;
}

}  // namespace

int32_t JavaStringHashCode(std::string_view utf8) {
  // h = 31 * h + c over UTF-16 code units, in 32-bit two's complement.
  uint32_t h = 0;
  size_t i = 0;
  while (i < utf8.size()) {
    const uint32_t cp = NextCodePoint(utf8, &i);
    if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      h = 31 * h + (0xd800 + (v >> 10));
      h = 31 * h + (0xdc00 + (v & 0x3ff));
    } else {
      h = 31 * h + cp;
    }
  }
  return static_cast<int32_t>(h);
}

int32_t OffsetsPartitionFor(std::string_view group_id, int32_t partitions) {
  const int32_t h = JavaStringHashCode(group_id);
  const int32_t abs =
      h == std::numeric_limits<int32_t>::min() ? 0 : (h < 0 ? -h : h);
  return abs % partitions;
}

std::string EncodeOffsetCommitKey(std::string_view group,
                                  const TopicPartition& tp) {
  Writer w;
  w.Int<int16_t>(kOffsetCommitKeyVersion);
  w.String(group);
  w.String(tp.topic);
  w.Int<int32_t>(tp.partition);
  return w.Take();
}

std::string EncodeOffsetCommitValue(const OffsetAndMetadata& offset) {
  Writer w;
  w.Int<int16_t>(kOffsetCommitValueVersion);
  w.Int<int64_t>(offset.offset);
  w.Int<int32_t>(offset.leader_epoch);
  w.String(offset.metadata);
  w.Int<int64_t>(offset.commit_timestamp_ms);
  return w.Take();
}

std::string EncodeGroupMetadataKey(std::string_view group) {
  Writer w;
  w.Int<int16_t>(kGroupMetadataKeyVersion);
  w.String(group);
  return w.Take();
}

std::string EncodeGroupMetadataValue(const GroupMetadataValue& value) {
  Writer w;
  w.Int<int16_t>(kGroupMetadataValueVersion);
  w.String(value.protocol_type);
  w.Int<int64_t>(value.created_ms);
  return w.Take();
}

absl::StatusOr<RecordKey> DecodeRecordKey(std::string_view bytes) {
  Reader r(bytes);
  int16_t version;
  if (!r.Int(&version)) return Malformed("key: shorter than its version");
  if (version == 0 || version == kOffsetCommitKeyVersion) {
    // Kafka's OffsetCommitKey v0 and v1 share one layout.
    OffsetCommitKey k;
    if (!r.String(&k.group) || !r.String(&k.tp.topic) ||
        !r.Int(&k.tp.partition) || !r.done()) {
      return Malformed("offset commit key");
    }
    return k;
  }
  if (version == kGroupMetadataKeyVersion) {
    GroupMetadataKey k;
    if (!r.String(&k.group) || !r.done()) return Malformed("group key");
    return k;
  }
  return absl::UnimplementedError(
      absl::StrFormat("__consumer_offsets key version %d is not known to this "
                      "broker",
                      version));
}

absl::StatusOr<OffsetAndMetadata> DecodeOffsetCommitValue(
    std::string_view bytes) {
  Reader r(bytes);
  int16_t version;
  if (!r.Int(&version)) return Malformed("offset value: no version");
  if (version != kOffsetCommitValueVersion) {
    return absl::UnimplementedError(absl::StrFormat(
        "__consumer_offsets offset value version %d is not known to this "
        "broker",
        version));
  }
  OffsetAndMetadata v;
  if (!r.Int(&v.offset) || !r.Int(&v.leader_epoch) || !r.String(&v.metadata) ||
      !r.Int(&v.commit_timestamp_ms) || !r.done()) {
    return Malformed("offset commit value");
  }
  return v;
}

absl::StatusOr<GroupMetadataValue> DecodeGroupMetadataValue(
    std::string_view bytes) {
  Reader r(bytes);
  int16_t version;
  if (!r.Int(&version)) return Malformed("group value: no version");
  if (version != kGroupMetadataValueVersion) {
    return absl::UnimplementedError(absl::StrFormat(
        "__consumer_offsets group value version %d is not known to this "
        "broker",
        version));
  }
  GroupMetadataValue v;
  if (!r.String(&v.protocol_type) || !r.Int(&v.created_ms) || !r.done()) {
    return Malformed("group metadata value");
  }
  return v;
}

}  // namespace fjord::coordinator
