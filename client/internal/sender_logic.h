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

// Kafka's sequence increment: wraps from INT32_MAX to 0.
inline int32_t IncrementSequence(int32_t sequence, int32_t increment) {
  if (sequence > INT32_MAX - increment) {
    return increment - (INT32_MAX - sequence) - 1;
  }
  return sequence + increment;
}

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_SENDER_LOGIC_H_
