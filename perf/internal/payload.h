// The bytes of benchmark record i, shared by every peer benchmark so that a
// consumer can check each record it reads: which record it is, and that
// every byte is as the producer wrote it. Thread-compatible.
//
// Layout of a record of `size` bytes (size >= kMinRecordSize):
//   [0, 12)      the record's index, 12 decimal digits, zero-padded
//   [12]         ':'
//   [13, size)   filler: byte k is 'a' + (index + k) % 26
// So record 7 of 20 bytes is "000000000007:uvwxyza".
#ifndef FJORD_PERF_INTERNAL_PAYLOAD_H_
#define FJORD_PERF_INTERNAL_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fjord::perf::internal {

inline constexpr size_t kIndexDigits = 12;
inline constexpr size_t kMinRecordSize = kIndexDigits + 1;
inline constexpr uint64_t kMaxRecordIndex = 999'999'999'999;

// Makes and checks records of one size. Holds a filler pattern, so writing
// a record is two small copies and allocates nothing.
class PayloadFormat {
 public:
  // REQUIRES: size >= kMinRecordSize.
  explicit PayloadFormat(size_t size);

  size_t size() const { return size_; }

  // Writes record `index` into dst[0, size()).
  // REQUIRES: index <= kMaxRecordIndex.
  void Fill(uint64_t index, char* dst) const;

  // Turns record `index` - 1 in dst[0, size()) into record `index`: the
  // digits are incremented in place, the filler shifted. Cheaper than Fill
  // (no divisions), for writers that go through indexes in order.
  // REQUIRES: dst holds record index - 1; 0 < index <= kMaxRecordIndex.
  void Next(uint64_t index, char* dst) const;

  // Appends record `index` to `out`.
  void Append(uint64_t index, std::string& out) const;

  // The index of the record in `bytes`, or kDataLoss naming what is wrong
  // (length, index digits, separator, or the first differing filler byte).
  absl::StatusOr<uint64_t> Check(std::string_view bytes) const;

 private:
  size_t size_;
  std::string pattern_;  // 'a'..'z' repeated, size_ + 26 bytes
};

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_PAYLOAD_H_
