// The records of the internal compacted topic __consumer_offsets: which of
// its partitions a group's records live in (Kafka's hashing), and the
// versioned byte layout of their keys and values, specified in
// broker/coordinator/README.md ("Record formats"). Committed offsets use
// Kafka's own OffsetCommitKey v1 / OffsetCommitValue v3 layouts byte for
// byte; the group record is fjord's. Free functions; thread-safe.
#ifndef FJORD_BROKER_COORDINATOR_RECORDS_H_
#define FJORD_BROKER_COORDINATOR_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "broker/coordinator/group.h"
#include "log/types.h"

namespace fjord::coordinator {

inline constexpr std::string_view kOffsetsTopic = "__consumer_offsets";

// Key versions (the key's first two bytes) say what a record is.
inline constexpr int16_t kOffsetCommitKeyVersion = 1;
inline constexpr int16_t kGroupMetadataKeyVersion = 3;
// Value versions.
inline constexpr int16_t kOffsetCommitValueVersion = 3;
inline constexpr int16_t kGroupMetadataValueVersion = 0;

// java.lang.String.hashCode of `utf8` decoded to UTF-16 (invalid UTF-8
// bytes count as U+FFFD, as Java's decoder replaces them).
int32_t JavaStringHashCode(std::string_view utf8);
// Kafka's partitionFor: abs(hashCode(group)) % partitions, with
// abs(Integer.MIN_VALUE) = 0 (Kafka's Utils.abs). REQUIRES: partitions > 0.
int32_t OffsetsPartitionFor(std::string_view group_id, int32_t partitions);

struct OffsetCommitKey {
  std::string group;
  TopicPartition tp;
  friend bool operator==(const OffsetCommitKey&,
                         const OffsetCommitKey&) = default;
};
struct GroupMetadataKey {
  std::string group;
  friend bool operator==(const GroupMetadataKey&,
                         const GroupMetadataKey&) = default;
};
using RecordKey = std::variant<OffsetCommitKey, GroupMetadataKey>;

struct GroupMetadataValue {
  std::string protocol_type = "consumer";
  int64_t created_ms = 0;
  friend bool operator==(const GroupMetadataValue&,
                         const GroupMetadataValue&) = default;
};

std::string EncodeOffsetCommitKey(std::string_view group,
                                  const TopicPartition& tp);
std::string EncodeOffsetCommitValue(const OffsetAndMetadata& offset);
std::string EncodeGroupMetadataKey(std::string_view group);
std::string EncodeGroupMetadataValue(const GroupMetadataValue& value);

// kDataLoss for bytes that do not parse exactly; kUnimplemented for a key
// or value version this broker does not know (a newer broker wrote it).
absl::StatusOr<RecordKey> DecodeRecordKey(std::string_view bytes);
absl::StatusOr<OffsetAndMetadata> DecodeOffsetCommitValue(
    std::string_view bytes);
absl::StatusOr<GroupMetadataValue> DecodeGroupMetadataValue(
    std::string_view bytes);

}  // namespace fjord::coordinator

#endif  // FJORD_BROKER_COORDINATOR_RECORDS_H_
