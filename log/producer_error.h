// ProducerError: why an idempotent producer's batch was refused, carried as
// a typed payload on an absl::Status so that every caller still sees a
// failure while the Kafka edge (broker/kafka/errors.cc) can tell the four
// cases apart. Free functions; thread-safe.
#ifndef FJORD_LOG_PRODUCER_ERROR_H_
#define FJORD_LOG_PRODUCER_ERROR_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace fjord::log {

enum class ProducerError {
  // The batch does not continue the producer's sequence (a gap), or a new
  // epoch does not start at sequence 0. Status code kFailedPrecondition.
  kOutOfOrderSequence,
  // The batch carries an epoch older than the producer's current one (a
  // fenced, zombie producer). kFailedPrecondition.
  kInvalidProducerEpoch,
  // A producer id this partition has never seen (nor forgotten) sends a
  // sequence other than 0. kFailedPrecondition.
  kUnknownProducerId,
  // Every record of the batch was appended before, but the batch is older
  // than the five remembered per producer, so its offsets are unknown. The
  // client may count it as delivered. kAlreadyExists.
  kDuplicateSequence,
};

// A status with the code listed above, `message`, and the payload.
absl::Status ProducerErrorStatus(ProducerError error, std::string_view message);

// The payload of a status made by ProducerErrorStatus; nullopt otherwise.
std::optional<ProducerError> GetProducerError(const absl::Status& status);

}  // namespace fjord::log

#endif  // FJORD_LOG_PRODUCER_ERROR_H_
