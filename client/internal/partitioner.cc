#include "client/internal/partitioner.h"

#include <random>

namespace fjord::client::internal {

int32_t Murmur2(std::string_view data) {
  const uint32_t length = static_cast<uint32_t>(data.size());
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t h = seed ^ length;
  const auto* d = reinterpret_cast<const uint8_t*>(data.data());
  const uint32_t blocks = length / 4;
  for (uint32_t i = 0; i < blocks; i++) {
    const uint32_t i4 = i * 4;
    uint32_t k = uint32_t{d[i4]} | (uint32_t{d[i4 + 1]} << 8) |
                 (uint32_t{d[i4 + 2]} << 16) | (uint32_t{d[i4 + 3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3:
      h ^= uint32_t{d[tail + 2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{d[tail + 1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{d[tail]};
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  const uint32_t positive = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu;
  return static_cast<int32_t>(positive % static_cast<uint32_t>(partitions));
}

namespace {
uint32_t RandomU32() {
  thread_local std::minstd_rand rng(std::random_device{}());
  return static_cast<uint32_t>(rng());
}
}  // namespace

StickyPartition::StickyPartition() : value_(RandomU32()) {}

int32_t StickyPartition::Get(int32_t partitions) const {
  return static_cast<int32_t>(value_.load(std::memory_order_relaxed) %
                              static_cast<uint32_t>(partitions));
}

int32_t StickyPartition::NextAfter(int32_t current, int32_t partitions) {
  uint32_t seen = value_.load(std::memory_order_relaxed);
  if (static_cast<int32_t>(seen % static_cast<uint32_t>(partitions)) !=
      current) {
    return Get(partitions);  // someone else already moved it
  }
  if (partitions <= 1) return 0;
  // Another partition, uniformly among the others.
  const uint32_t step = 1 + RandomU32() % static_cast<uint32_t>(partitions - 1);
  const uint32_t next = (static_cast<uint32_t>(current) + step) %
                        static_cast<uint32_t>(partitions);
  value_.compare_exchange_strong(seen, next, std::memory_order_relaxed);
  return Get(partitions);
}

}  // namespace fjord::client::internal
