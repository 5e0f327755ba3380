#include "perf/internal/payload.h"

#include <cassert>
#include <cstring>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace fjord::perf::internal {

PayloadFormat::PayloadFormat(size_t size) : size_(size) {
  assert(size >= kMinRecordSize);
  pattern_.resize(size + 26);
  for (size_t j = 0; j < pattern_.size(); ++j) {
    pattern_[j] = static_cast<char>('a' + j % 26);
  }
}

void PayloadFormat::Fill(uint64_t index, char* dst) const {
  assert(index <= kMaxRecordIndex);
  uint64_t v = index;
  for (size_t d = kIndexDigits; d-- > 0;) {
    dst[d] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  dst[kIndexDigits] = ':';
  // Filler byte k is pattern_[(index % 26) + k].
  std::memcpy(dst + kMinRecordSize,
              pattern_.data() + index % 26 + kMinRecordSize,
              size_ - kMinRecordSize);
}

void PayloadFormat::Next(uint64_t index, char* dst) const {
  assert(index > 0 && index <= kMaxRecordIndex);
  for (size_t d = kIndexDigits; d-- > 0;) {
    if (dst[d] != '9') {
      dst[d]++;
      break;
    }
    dst[d] = '0';
  }
  std::memcpy(dst + kMinRecordSize,
              pattern_.data() + index % 26 + kMinRecordSize,
              size_ - kMinRecordSize);
}

void PayloadFormat::Append(uint64_t index, std::string& out) const {
  size_t at = out.size();
  out.resize(at + size_);
  Fill(index, out.data() + at);
}

absl::StatusOr<uint64_t> PayloadFormat::Check(std::string_view bytes) const {
  if (bytes.size() != size_) {
    return absl::DataLossError(
        fmt::format("record is {} bytes, expected {}", bytes.size(), size_));
  }
  uint64_t index = 0;
  for (size_t d = 0; d < kIndexDigits; ++d) {
    char c = bytes[d];
    if (c < '0' || c > '9') {
      return absl::DataLossError(
          fmt::format("record byte {} is not an index digit", d));
    }
    index = index * 10 + static_cast<uint64_t>(c - '0');
  }
  if (bytes[kIndexDigits] != ':') {
    return absl::DataLossError("record has no ':' after its index");
  }
  const char* expected = pattern_.data() + index % 26 + kMinRecordSize;
  const char* got = bytes.data() + kMinRecordSize;
  size_t n = size_ - kMinRecordSize;
  if (std::memcmp(expected, got, n) != 0) {
    size_t k = 0;
    while (expected[k] == got[k]) ++k;
    return absl::DataLossError(
        fmt::format("record {} differs at byte {}", index, k + kMinRecordSize));
  }
  return index;
}

}  // namespace fjord::perf::internal
