#include "client/internal/errors.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fjord::client::internal {

namespace {

struct ErrorInfo {
  int16_t code;
  std::string_view name;
  bool retriable;
  bool refresh_metadata;
};

constexpr ErrorInfo kErrors[] = {
    {-1, "UNKNOWN_SERVER_ERROR", false, false},
    {0, "NONE", false, false},
    {1, "OFFSET_OUT_OF_RANGE", false, false},
    {2, "CORRUPT_MESSAGE", true, false},
    {3, "UNKNOWN_TOPIC_OR_PARTITION", true, true},
    {4, "INVALID_FETCH_SIZE", false, false},
    {5, "LEADER_NOT_AVAILABLE", true, true},
    {6, "NOT_LEADER_OR_FOLLOWER", true, true},
    {7, "REQUEST_TIMED_OUT", true, false},
    {8, "BROKER_NOT_AVAILABLE", false, true},
    {9, "REPLICA_NOT_AVAILABLE", true, true},
    {10, "MESSAGE_TOO_LARGE", false, false},
    {13, "NETWORK_EXCEPTION", true, true},
    {14, "COORDINATOR_LOAD_IN_PROGRESS", true, false},
    {15, "COORDINATOR_NOT_AVAILABLE", true, false},
    {16, "NOT_COORDINATOR", true, false},
    {17, "INVALID_TOPIC_EXCEPTION", false, false},
    {18, "RECORD_LIST_TOO_LARGE", false, false},
    {19, "NOT_ENOUGH_REPLICAS", true, false},
    {20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, false},
    {21, "INVALID_REQUIRED_ACKS", false, false},
    {35, "UNSUPPORTED_VERSION", false, false},
    {42, "INVALID_REQUEST", false, false},
    {43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, false},
    {45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, false},
    {46, "DUPLICATE_SEQUENCE_NUMBER", false, false},
    {47, "INVALID_PRODUCER_EPOCH", false, false},
    {56, "KAFKA_STORAGE_ERROR", true, true},
    {59, "UNKNOWN_PRODUCER_ID", false, false},
    {74, "FENCED_LEADER_EPOCH", true, true},
    {75, "UNKNOWN_LEADER_EPOCH", true, true},
    {87, "INVALID_RECORD", false, false},
};

const ErrorInfo* Find(int16_t code) {
  for (const ErrorInfo& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

std::string_view KafkaErrorName(int16_t code) {
  if (const ErrorInfo* e = Find(code)) return e->name;
  thread_local std::string unknown;
  unknown = absl::StrCat("UNKNOWN_ERROR_", code);
  return unknown;
}

bool IsRetriable(int16_t code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr && e->retriable;
}

bool NeedsMetadataRefresh(int16_t code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr && e->refresh_metadata;
}

absl::Status StatusFromKafkaError(int16_t code, std::string_view context) {
  if (code == kErrNone) return absl::OkStatus();
  std::string message = absl::StrFormat("%s (%d)", KafkaErrorName(code), code);
  if (!context.empty()) message = absl::StrFormat("%s: %s", context, message);
  switch (code) {
    case kErrUnknownTopicOrPartition:
      return absl::NotFoundError(message);
    case kErrOffsetOutOfRange:
      return absl::OutOfRangeError(message);
    case kErrMessageTooLarge:
    case kErrRecordListTooLarge:
    case kErrInvalidRecord:
    case kErrInvalidTopic:
    case kErrInvalidRequiredAcks:
      return absl::InvalidArgumentError(message);
    case kErrCorruptMessage:
      return absl::DataLossError(message);
    case kErrOutOfOrderSequence:
    case kErrDuplicateSequence:
    case kErrInvalidProducerEpoch:
    case kErrUnknownProducerId:
      return absl::FailedPreconditionError(message);
    case kErrUnsupportedVersion:
      return absl::UnimplementedError(message);
    default:
      break;
  }
  if (IsRetriable(code)) return absl::UnavailableError(message);
  return absl::UnknownError(message);
}

}  // namespace fjord::client::internal
