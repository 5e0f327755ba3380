// Kafka's default partitioning, so a key lands on the partition the Java
// client (and librdkafka's murmur2_random) would choose: murmur2 of the key
// bytes, made positive by clearing the sign bit, modulo the partition
// count. Null keys use a sticky partition (StickyPartition) that changes
// only when its batch is full or sent. Thread-safe.
#ifndef FJORD_CLIENT_INTERNAL_PARTITIONER_H_
#define FJORD_CLIENT_INTERNAL_PARTITIONER_H_

#include <atomic>
#include <cstdint>
#include <string_view>

namespace fjord::client::internal {

// Kafka's Utils.murmur2 (MurmurHash2, seed 0x9747b28c), as a signed int.
int32_t Murmur2(std::string_view data);

// Utils.toPositive(murmur2(key)) % partitions. REQUIRES: partitions > 0.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

// The partition a topic's null-key records go to until NextAfter moves it.
// Starts at a random partition.
class StickyPartition {
 public:
  StickyPartition();
  // The current sticky partition, in [0, partitions).
  int32_t Get(int32_t partitions) const;
  // Called when `current`'s batch is full or was sent: picks another
  // partition at random (if there is another) unless a concurrent caller
  // already moved away from `current`. Returns the new sticky partition.
  int32_t NextAfter(int32_t current, int32_t partitions);

 private:
  std::atomic<uint32_t> value_;
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_PARTITIONER_H_
