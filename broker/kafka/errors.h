// Kafka error codes fjord answers with, and the one place an absl::Status
// becomes one. Thread-safe.
#ifndef FJORD_BROKER_KAFKA_ERRORS_H_
#define FJORD_BROKER_KAFKA_ERRORS_H_

#include <cstdint>

#include "absl/status/status.h"

namespace fjord::broker::kafka {

enum ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kMessageTooLarge = 10,
  kInvalidTopic = 17,
  kRecordListTooLarge = 18,
  kNotEnoughReplicas = 19,
  kNotEnoughReplicasAfterAppend = 20,
  kInvalidRequiredAcks = 21,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kPolicyViolation = 44,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidConfig = 40,
  kKafkaStorageError = 56,
  kUnknownProducerId = 59,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
  kInvalidRecord = 87,
};

// A status carrying a log::ProducerError maps by that error:
// kOutOfOrderSequence -> OUT_OF_ORDER_SEQUENCE_NUMBER, kDuplicateSequence ->
// DUPLICATE_SEQUENCE_NUMBER, kInvalidProducerEpoch -> INVALID_PRODUCER_EPOCH,
// kUnknownProducerId -> UNKNOWN_PRODUCER_ID. Otherwise by code:
// OK -> NONE; kDataLoss -> CORRUPT_MESSAGE; kOutOfRange ->
// OFFSET_OUT_OF_RANGE; kNotFound -> UNKNOWN_TOPIC_OR_PARTITION;
// kInvalidArgument -> INVALID_RECORD; kAlreadyExists -> TOPIC_ALREADY_EXISTS;
// kResourceExhausted, kInternal, kUnavailable (disk trouble) ->
// KAFKA_STORAGE_ERROR (retriable); anything else -> UNKNOWN_SERVER_ERROR.
int16_t ErrorFromStatus(const absl::Status& status);

}  // namespace fjord::broker::kafka

#endif  // FJORD_BROKER_KAFKA_ERRORS_H_
