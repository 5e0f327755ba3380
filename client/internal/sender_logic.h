// The producer's decisions about a sent batch, as pure functions so they
// can be tested without a network: what to do with a batch given the
// partition's answer, and Kafka's sequence-number arithmetic.
// Thread-safe (pure functions).
#ifndef FJORD_CLIENT_INTERNAL_SENDER_LOGIC_H_
#define FJORD_CLIENT_INTERNAL_SENDER_LOGIC_H_

#include <cstdint>

namespace fjord::client::internal {

enum class BatchAction {
  kComplete,  // delivered (or a duplicate of a delivered batch)
  kRetry,     // send the same bytes again, after a backoff
  // The producer id's sequence state is lost or unexplainable: get a new
  // producer id, then resend with sequences restarting at 0.
  kResetProducerIdAndRetry,
  kFail,  // give up: the callbacks get the error
};

struct BatchOutcome {
  int16_t error = 0;           // Kafka error code of the partition
  bool network_error = false;  // no answer: connection lost or timed out
  bool idempotent = false;
  // An earlier batch of the same partition failed and will be resent, so an
  // OUT_OF_ORDER_SEQUENCE on this one is expected.
  bool earlier_batch_resending = false;
  int attempts = 1;      // sends of this batch so far
  int retries = 0;       // the retries property
  bool expired = false;  // delivery.timeout.ms has passed
};

BatchAction DecideBatchAction(const BatchOutcome& o);

// Whether a sent batch's bytes may be in the partition's log after the
// answer `o` (idempotent producer), given whether they might have been
// before it (`in_doubt`: an earlier send of the same bytes got no
// conclusive answer). A lost answer, or an error a broker may give after
// appending (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
// KAFKA_STORAGE_ERROR, an unknown error), leaves them possibly appended; a
// refusal before appending (NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE, ...)
// changes nothing; OUT_OF_ORDER_SEQUENCE says they are not there (an
// appended batch's resend is a duplicate, never a gap). UNKNOWN_PRODUCER_ID
// and INVALID_PRODUCER_EPOCH settle it too: the broker keeps nothing under
// this producer id and epoch that a resend could be checked against.
// A batch in doubt must not be renumbered under a new producer id: that
// could append it twice.
bool MayBeAppended(bool in_doubt, const BatchOutcome& o);

// Kafka's sequence increment: wraps from INT32_MAX to 0.
inline int32_t IncrementSequence(int32_t sequence, int32_t increment) {
  if (sequence > INT32_MAX - increment) {
    return increment - (INT32_MAX - sequence) - 1;
  }
  return sequence + increment;
}

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_SENDER_LOGIC_H_
