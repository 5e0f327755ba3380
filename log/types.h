// The strong value types shared by every module: offsets, epochs, ids.
// Value types; thread-compatible.
#ifndef FJORD_LOG_TYPES_H_
#define FJORD_LOG_TYPES_H_

#include <cstdint>
#include <string>

#include "fmt/format.h"
#include "log/named_type.h"
#include "log/strings.h"

namespace fjord {

struct OffsetTag {};
struct PartitionIdTag {};
struct ProducerIdTag {};
struct EpochTag {};
struct LeaderEpochTag {};

// A record's position in its partition's log: 0, 1, 2, ... never reused.
using Offset = NamedType<int64_t, OffsetTag>;
using PartitionId = NamedType<int32_t, PartitionIdTag>;
using ProducerId = NamedType<int64_t, ProducerIdTag>;
using ProducerEpoch = NamedType<int16_t, EpochTag>;
// A partition's leader epoch: bumped by the controller at every change of
// leader; stamped into each batch the leader appends (partitionLeaderEpoch).
using LeaderEpoch = NamedType<int32_t, LeaderEpochTag>;
inline constexpr LeaderEpoch kNoLeaderEpoch{-1};

// A topic-partition; its directory in the data dir is "<topic>-<partition>".
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  friend bool operator==(const TopicPartition&,
                         const TopicPartition&) = default;
  friend auto operator<=>(const TopicPartition&,
                          const TopicPartition&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
  std::string ToString() const {
    return fmt::format("{}-{}", topic, partition);
  }
};

}  // namespace fjord

template <typename T, typename Tag>
struct fmt::formatter<fjord::NamedType<T, Tag>> : fmt::formatter<T> {
  auto format(const fjord::NamedType<T, Tag>& v, format_context& ctx) const {
    return fmt::formatter<T>::format(v.value(), ctx);
  }
};

#endif  // FJORD_LOG_TYPES_H_
