// OffsetMap: the cleaner's key -> latest offset map, in a fixed memory
// budget. Keys are stored as 128-bit hashes (two independent 64-bit hashes),
// as Kafka's SkimpyOffsetMap stores an MD5: a collision would make the
// cleaner treat two keys as one, which at 128 bits is not a practical
// concern. Open addressing with linear probing; never grows. The slots are
// allocated by the first Clear() or Put(), not by the constructor, so an
// idle cleaner (no compacted topic) costs no memory and a broker start does
// not page in the whole budget. Not thread-safe.
#ifndef FJORD_LOG_OFFSET_MAP_H_
#define FJORD_LOG_OFFSET_MAP_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace fjord::log {

class OffsetMap {
 public:
  static constexpr size_t kSlotBytes = 24;
  // Uses at most `budget_bytes` for slots and fills at most `load_factor`
  // of them.
  explicit OffsetMap(size_t budget_bytes, double load_factor = 0.9);
  OffsetMap(const OffsetMap&) = delete;
  OffsetMap& operator=(const OffsetMap&) = delete;

  // Records that `key`'s latest offset is `offset` (offsets are put in
  // increasing order). False, changing nothing, when `key` is new and the
  // map is full.
  bool Put(std::string_view key, int64_t offset);
  std::optional<int64_t> Get(std::string_view key) const;
  void Clear();

  size_t size() const { return size_; }
  size_t max_entries() const { return max_entries_; }
  // Bytes of slots allocated: 0 before first use, then the budget.
  size_t memory_bytes() const { return slots_.size() * kSlotBytes; }

 private:
  struct Slot {
    uint64_t h1 = 0;
    uint64_t h2 = 0;  // h1 == h2 == 0: empty
    int64_t offset = 0;
  };
  static void Hash(std::string_view key, uint64_t* h1, uint64_t* h2);
  // REQUIRES: slots_ allocated.
  size_t Find(uint64_t h1, uint64_t h2) const;

  const size_t slot_count_;
  std::vector<Slot> slots_;  // empty until first use, then slot_count_
  size_t max_entries_;
  size_t size_ = 0;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_OFFSET_MAP_H_
