#include "client/internal/sender_logic.h"

#include "client/internal/errors.h"

namespace fjord::client::internal {

BatchAction DecideBatchAction(const BatchOutcome& o) {
  if (!o.network_error) {
    if (o.error == kErrNone) return BatchAction::kComplete;
    // The broker has this batch already (its first answer was lost).
    if (o.idempotent && o.error == kErrDuplicateSequence) {
      return BatchAction::kComplete;
    }
  }
  if (o.expired) return BatchAction::kFail;
  if (o.idempotent && !o.network_error) {
    if (o.error == kErrOutOfOrderSequence) {
      return o.earlier_batch_resending ? BatchAction::kRetry
                                       : BatchAction::kResetProducerIdAndRetry;
    }
    if (o.error == kErrUnknownProducerId ||
        o.error == kErrInvalidProducerEpoch) {
      return BatchAction::kResetProducerIdAndRetry;
    }
  }
  if (o.network_error || IsRetriable(o.error)) {
    return o.attempts <= o.retries ? BatchAction::kRetry : BatchAction::kFail;
  }
  return BatchAction::kFail;
}

bool MayBeAppended(bool in_doubt, const BatchOutcome& o) {
  if (o.network_error) return true;
  switch (o.error) {
    case kErrOutOfOrderSequence:
    case kErrUnknownProducerId:
    case kErrInvalidProducerEpoch:
      return false;
    // Refused before anything was appended.
    case kErrCorruptMessage:
    case kErrUnknownTopicOrPartition:
    case kErrLeaderNotAvailable:
    case kErrNotLeaderOrFollower:
    case kErrMessageTooLarge:
    case kErrInvalidTopic:
    case kErrRecordListTooLarge:
    case kErrNotEnoughReplicas:
    case kErrInvalidRequiredAcks:
    case kErrUnsupportedVersion:
    case kErrInvalidRecord:
      return in_doubt;
    default:  // appended (kErrNone, duplicate), or perhaps appended
      return true;
  }
}

}  // namespace fjord::client::internal
