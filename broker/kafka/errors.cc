#include "broker/kafka/errors.h"

#include "log/producer_error.h"

namespace fjord::broker::kafka {

int16_t ErrorFromStatus(const absl::Status& status) {
  if (auto producer = log::GetProducerError(status)) {
    switch (*producer) {
      case log::ProducerError::kOutOfOrderSequence:
        return kOutOfOrderSequenceNumber;
      case log::ProducerError::kDuplicateSequence:
        return kDuplicateSequenceNumber;
      case log::ProducerError::kInvalidProducerEpoch:
        return kInvalidProducerEpoch;
      case log::ProducerError::kUnknownProducerId:
        return kUnknownProducerId;
    }
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kNone;
    case absl::StatusCode::kDataLoss:
      return kCorruptMessage;
    case absl::StatusCode::kOutOfRange:
      return kOffsetOutOfRange;
    case absl::StatusCode::kNotFound:
      return kUnknownTopicOrPartition;
    case absl::StatusCode::kInvalidArgument:
      return kInvalidRecord;
    case absl::StatusCode::kAlreadyExists:
      return kTopicAlreadyExists;
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
      return kKafkaStorageError;
    default:
      return kUnknownServerError;
  }
}

}  // namespace fjord::broker::kafka
