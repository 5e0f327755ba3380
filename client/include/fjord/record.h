// The records applications produce and consume, and what a delivery
// reports. ProducerRecord holds views: the bytes are copied into a batch
// before Producer::Send returns, so they need only outlive that call. Value
// types; thread-compatible.
#ifndef FJORD_CLIENT_INCLUDE_FJORD_RECORD_H_
#define FJORD_CLIENT_INCLUDE_FJORD_RECORD_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "log/record_batch.h"
#include "log/types.h"

namespace fjord {

// A record header: a key and a value that may be null.
using Header = log::RecordHeader;

// TopicPartition (log/types.h): topic name and partition index.
using fjord::TopicPartition;

struct ProducerRecord {
  std::string_view topic;
  // nullopt: chosen by the partitioner (murmur2 of the key; sticky for null
  // keys).
  std::optional<int32_t> partition;
  std::optional<std::string_view> key;    // nullopt: a null key
  std::optional<std::string_view> value;  // nullopt: a null value (tombstone)
  std::span<const Header> headers;
  // Milliseconds since the Unix epoch; nullopt: the time of Send.
  std::optional<int64_t> timestamp;
};

// Where a record was written. `topic` points into the producer and stays
// valid as long as the Producer does.
struct RecordMetadata {
  std::string_view topic;
  int32_t partition = -1;
  // -1 when unknown: the record failed, or the broker reported a duplicate
  // without its offset.
  int64_t offset = -1;
  // The record's CreateTime, or the broker's LogAppendTime when the topic
  // uses it.
  int64_t timestamp = -1;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_RECORD_H_
