// Kafka error codes as the client meets them in responses: their names,
// whether a retry can succeed, and the one place a code becomes an
// absl::Status for the application. Thread-safe (pure functions).
#ifndef FJORD_CLIENT_INTERNAL_ERRORS_H_
#define FJORD_CLIENT_INTERNAL_ERRORS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace fjord::client::internal {

// The codes the client acts on (Kafka's numbering).
enum KafkaError : int16_t {
  kErrUnknownServerError = -1,
  kErrNone = 0,
  kErrOffsetOutOfRange = 1,
  kErrCorruptMessage = 2,
  kErrUnknownTopicOrPartition = 3,
  kErrLeaderNotAvailable = 5,
  kErrNotLeaderOrFollower = 6,
  kErrRequestTimedOut = 7,
  kErrMessageTooLarge = 10,
  kErrNetworkException = 13,
  kErrInvalidTopic = 17,
  kErrRecordListTooLarge = 18,
  kErrNotEnoughReplicas = 19,
  kErrNotEnoughReplicasAfterAppend = 20,
  kErrInvalidRequiredAcks = 21,
  kErrUnsupportedVersion = 35,
  kErrOutOfOrderSequence = 45,
  kErrDuplicateSequence = 46,
  kErrInvalidProducerEpoch = 47,
  kErrKafkaStorageError = 56,
  kErrUnknownProducerId = 59,
  kErrInvalidRecord = 87,
};

// "NOT_LEADER_OR_FOLLOWER", ...; "UNKNOWN_ERROR_<n>" for codes not listed.
std::string_view KafkaErrorName(int16_t code);

// True for errors Kafka marks retriable (a later attempt may succeed).
bool IsRetriable(int16_t code);

// True when the client's metadata (leaders, partitions) may be stale.
bool NeedsMetadataRefresh(int16_t code);

// The status an application sees for `code`: the Kafka name and `context`
// in the message; kUnavailable for retriable codes, kNotFound for an
// unknown topic or partition, kOutOfRange for OFFSET_OUT_OF_RANGE,
// kInvalidArgument for records the broker refuses (too large, invalid),
// kDataLoss for CORRUPT_MESSAGE, kFailedPrecondition for producer id and
// sequence errors, kUnimplemented for UNSUPPORTED_VERSION, kUnknown
// otherwise.
absl::Status StatusFromKafkaError(int16_t code, std::string_view context);

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_ERRORS_H_
