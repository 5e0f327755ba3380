#include "log/offset_map.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace fjord::log {

OffsetMap::OffsetMap(size_t budget_bytes, double load_factor)
    : slot_count_(std::max<size_t>(budget_bytes / kSlotBytes, 2)),
      max_entries_(std::max<size_t>(
          1, static_cast<size_t>(static_cast<double>(slot_count_) *
                                 load_factor))) {
  max_entries_ = std::min(max_entries_, slot_count_ - 1);
}

void OffsetMap::Hash(std::string_view key, uint64_t* h1, uint64_t* h2) {
  absl::string_view k(key.data(), key.size());
  *h1 = absl::Hash<absl::string_view>{}(k);
  *h2 = absl::Hash<std::pair<uint64_t, absl::string_view>>{}(
      std::pair<uint64_t, absl::string_view>(0x9e3779b97f4a7c15ULL, k));
  if (*h1 == 0 && *h2 == 0) *h1 = 1;  // 0/0 marks an empty slot
}

size_t OffsetMap::Find(uint64_t h1, uint64_t h2) const {
  size_t i = h1 % slots_.size();
  while (true) {
    const Slot& s = slots_[i];
    if ((s.h1 == h1 && s.h2 == h2) || (s.h1 == 0 && s.h2 == 0)) return i;
    i = i + 1 == slots_.size() ? 0 : i + 1;
  }
}

bool OffsetMap::Put(std::string_view key, int64_t offset) {
  if (slots_.empty()) slots_.resize(slot_count_);
  uint64_t h1, h2;
  Hash(key, &h1, &h2);
  Slot& s = slots_[Find(h1, h2)];
  if (s.h1 == 0 && s.h2 == 0) {
    if (size_ >= max_entries_) return false;
    s.h1 = h1;
    s.h2 = h2;
    size_++;
  }
  s.offset = offset;
  return true;
}

std::optional<int64_t> OffsetMap::Get(std::string_view key) const {
  if (size_ == 0) return std::nullopt;
  uint64_t h1, h2;
  Hash(key, &h1, &h2);
  const Slot& s = slots_[Find(h1, h2)];
  if (s.h1 == 0 && s.h2 == 0) return std::nullopt;
  return s.offset;
}

void OffsetMap::Clear() {
  if (slots_.empty()) {
    slots_.resize(slot_count_);  // value-initialized: all empty
  } else {
    std::fill(slots_.begin(), slots_.end(), Slot{});
  }
  size_ = 0;
}

}  // namespace fjord::log
