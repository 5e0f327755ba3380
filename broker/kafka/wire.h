// Kafka wire primitives (non-flexible versions only): a bounds-checked
// big-endian Reader over a request frame and a Writer that appends to a
// string. A Reader never reads past its end: any short read sets a sticky
// failure that the caller checks once (ok()) after decoding a message.
// Thread-compatible.
#ifndef FJORD_BROKER_KAFKA_WIRE_H_
#define FJORD_BROKER_KAFKA_WIRE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "log/internal/endian.h"

namespace fjord::broker::kafka {

class Reader {
 public:
  explicit Reader(std::span<uint8_t> bytes) : bytes_(bytes) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? bytes_.size() - pos_ : 0; }
  size_t position() const { return pos_; }

  int8_t Int8() { return Fixed<int8_t>(); }
  int16_t Int16() { return Fixed<int16_t>(); }
  int32_t Int32() { return Fixed<int32_t>(); }
  int64_t Int64() { return Fixed<int64_t>(); }
  bool Bool() { return Int8() != 0; }
  // A STRING (int16 length, non-negative).
  std::string_view String() {
    auto s = NullableString();
    if (!s) ok_ = false;
    return s.value_or(std::string_view());
  }
  std::optional<std::string_view> NullableString() {
    int16_t len = Int16();
    if (!ok_ || len < 0) {
      if (len != -1) ok_ = false;
      return std::nullopt;
    }
    auto b = Take(static_cast<size_t>(len));
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  }
  // NULLABLE_BYTES (int32 length, -1 = null): a mutable view into the frame,
  // so record batches can be stamped in place.
  std::optional<std::span<uint8_t>> NullableBytes() {
    int32_t len = Int32();
    if (!ok_ || len < 0) {
      if (len != -1) ok_ = false;
      return std::nullopt;
    }
    return Take(static_cast<size_t>(len));
  }
  // An ARRAY length: -1 (null) gives nullopt; a count that could not fit in
  // the remaining bytes (each element at least `min_element_bytes`) fails.
  std::optional<int32_t> ArrayLength(size_t min_element_bytes = 1) {
    int32_t n = Int32();
    if (!ok_) return std::nullopt;
    if (n < 0) {
      if (n != -1) ok_ = false;
      return std::nullopt;
    }
    if (static_cast<size_t>(n) * std::max<size_t>(min_element_bytes, 1) >
        remaining()) {
      ok_ = false;
      return std::nullopt;
    }
    return n;
  }
  void Fail() { ok_ = false; }

 private:
  template <typename T>
  T Fixed() {
    if (!ok_ || bytes_.size() - pos_ < sizeof(T)) {
      ok_ = false;
      return T{};
    }
    T v = log::internal::LoadBE<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::span<uint8_t> Take(size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  std::span<uint8_t> bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void Int8(int8_t v) { out_->push_back(static_cast<char>(v)); }
  void Int16(int16_t v) { Fixed(v); }
  void Int32(int32_t v) { Fixed(v); }
  void Int64(int64_t v) { Fixed(v); }
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void String(std::string_view s) {
    Int16(static_cast<int16_t>(s.size()));
    out_->append(s);
  }
  void NullableString(std::optional<std::string_view> s) {
    if (!s) {
      Int16(-1);
      return;
    }
    String(*s);
  }
  void ArrayLength(size_t n) { Int32(static_cast<int32_t>(n)); }
  size_t size() const { return out_->size(); }
  // Overwrites a previously written int32 at `at` (a length placeholder).
  void PatchInt32(size_t at, int32_t v) {
    log::internal::StoreBE<int32_t>(out_->data() + at, v);
  }

 private:
  template <typename T>
  void Fixed(T v) {
    char b[sizeof(T)];
    log::internal::StoreBE<T>(b, v);
    out_->append(b, sizeof(T));
  }
  std::string* out_;
};

// The shape most requests and responses share: an array of topics, each a
// name and an array of partitions. `Topic` has `name` and `partitions`.

// Reads such an array into `topics`, calling read(partition) for each
// partition; each partition takes at least `min_partition_bytes` on the
// wire (bounds the count by what is left). False when malformed.
template <typename Topic, typename ReadPartition>
bool ReadTopics(Reader& r, size_t min_partition_bytes,
                std::vector<Topic>* topics, ReadPartition&& read) {
  auto n = r.ArrayLength(6);
  if (!n) return false;
  topics->resize(*n);
  for (auto& t : *topics) {
    t.name = r.String();
    auto parts = r.ArrayLength(min_partition_bytes);
    if (!parts) return false;
    t.partitions.resize(*parts);
    for (auto& p : t.partitions) read(p);
  }
  return r.ok();
}

// Writes `topics`, calling write(partition) for each partition.
template <typename Topic, typename WritePartition>
void WriteTopics(Writer& w, const std::vector<Topic>& topics,
                 WritePartition&& write) {
  w.ArrayLength(topics.size());
  for (const auto& t : topics) {
    w.String(t.name);
    w.ArrayLength(t.partitions.size());
    for (const auto& p : t.partitions) write(p);
  }
}

}  // namespace fjord::broker::kafka

#endif  // FJORD_BROKER_KAFKA_WIRE_H_
