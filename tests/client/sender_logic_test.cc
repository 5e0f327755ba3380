#include "client/internal/sender_logic.h"

#include "catch2/catch.hpp"
#include "client/internal/backoff.h"
#include "client/internal/errors.h"

namespace fjord::client::internal {
namespace {

BatchOutcome Outcome(int16_t error, bool idempotent = true) {
  BatchOutcome o;
  o.error = error;
  o.idempotent = idempotent;
  o.attempts = 1;
  o.retries = 10;
  return o;
}

TEST_CASE("A batch the broker accepted, or already had, is complete",
          "[client][sender]") {
  CHECK(DecideBatchAction(Outcome(kErrNone)) == BatchAction::kComplete);
  CHECK(DecideBatchAction(Outcome(kErrDuplicateSequence)) ==
        BatchAction::kComplete);
  // Even past its delivery timeout: it did arrive.
  BatchOutcome late = Outcome(kErrNone);
  late.expired = true;
  CHECK(DecideBatchAction(late) == BatchAction::kComplete);
}

TEST_CASE("Retriable errors and lost connections retry until retries run out",
          "[client][sender]") {
  for (int16_t e : {kErrNotLeaderOrFollower, kErrLeaderNotAvailable,
                    kErrRequestTimedOut, kErrUnknownTopicOrPartition,
                    kErrKafkaStorageError, kErrNotEnoughReplicas}) {
    INFO("error " << e);
    BatchOutcome o = Outcome(e);
    CHECK(DecideBatchAction(o) == BatchAction::kRetry);
    o.attempts = 11;  // 1 send + 10 retries done
    CHECK(DecideBatchAction(o) == BatchAction::kFail);
  }
  BatchOutcome lost = Outcome(kErrNone);
  lost.network_error = true;
  CHECK(DecideBatchAction(lost) == BatchAction::kRetry);
  lost.retries = 0;
  CHECK(DecideBatchAction(lost) == BatchAction::kFail);
}

TEST_CASE("Nothing is retried past delivery.timeout.ms", "[client][sender]") {
  BatchOutcome o = Outcome(kErrNotLeaderOrFollower);
  o.expired = true;
  CHECK(DecideBatchAction(o) == BatchAction::kFail);
  o.network_error = true;
  CHECK(DecideBatchAction(o) == BatchAction::kFail);
}

TEST_CASE("Records the broker refuses fail at once", "[client][sender]") {
  for (int16_t e : {kErrMessageTooLarge, kErrInvalidRecord, kErrInvalidTopic,
                    kErrUnsupportedVersion, kErrRecordListTooLarge,
                    kErrInvalidRequiredAcks, kErrUnknownServerError}) {
    INFO("error " << e);
    CHECK(DecideBatchAction(Outcome(e)) == BatchAction::kFail);
  }
}

TEST_CASE(
    "Idempotence: an out-of-order sequence behind a resent batch is retried; "
    "an unexplained one, an unknown producer id or an old epoch gets a new "
    "producer id",
    "[client][sender]") {
  BatchOutcome behind = Outcome(kErrOutOfOrderSequence);
  behind.earlier_batch_resending = true;
  CHECK(DecideBatchAction(behind) == BatchAction::kRetry);
  CHECK(DecideBatchAction(Outcome(kErrOutOfOrderSequence)) ==
        BatchAction::kResetProducerIdAndRetry);
  CHECK(DecideBatchAction(Outcome(kErrUnknownProducerId)) ==
        BatchAction::kResetProducerIdAndRetry);
  CHECK(DecideBatchAction(Outcome(kErrInvalidProducerEpoch)) ==
        BatchAction::kResetProducerIdAndRetry);
  // Without idempotence these are plain failures.
  CHECK(DecideBatchAction(Outcome(kErrOutOfOrderSequence, false)) ==
        BatchAction::kFail);
  CHECK(DecideBatchAction(Outcome(kErrDuplicateSequence, false)) ==
        BatchAction::kFail);
}

TEST_CASE(
    "A batch stays possibly appended after a lost answer until a sequence "
    "check says it is not in the log",
    "[client][sender]") {
  BatchOutcome lost = Outcome(kErrNone);
  lost.network_error = true;
  CHECK(MayBeAppended(false, lost));
  // Errors a broker may give after appending.
  for (int16_t e : std::initializer_list<int16_t>{
           kErrRequestTimedOut, kErrNotEnoughReplicasAfterAppend,
           kErrKafkaStorageError, kErrUnknownServerError, kErrNetworkException,
           int16_t{999}}) {
    INFO("error " << e);
    CHECK(MayBeAppended(false, Outcome(e)));
  }
  // Refusals before appending say nothing about an earlier send.
  for (int16_t e : {kErrNotLeaderOrFollower, kErrLeaderNotAvailable,
                    kErrUnknownTopicOrPartition, kErrNotEnoughReplicas,
                    kErrMessageTooLarge, kErrInvalidRecord}) {
    INFO("error " << e);
    CHECK_FALSE(MayBeAppended(false, Outcome(e)));
    CHECK(MayBeAppended(true, Outcome(e)));
  }
  // A gap: an appended batch's resend would be a duplicate instead. And
  // nothing more is to be learnt under an unknown producer id or old epoch.
  for (int16_t e : {kErrOutOfOrderSequence, kErrUnknownProducerId,
                    kErrInvalidProducerEpoch}) {
    INFO("error " << e);
    CHECK_FALSE(MayBeAppended(true, Outcome(e)));
  }
}

TEST_CASE("Sequence numbers wrap from INT32_MAX to 0 as Kafka's do",
          "[client][sender]") {
  CHECK(IncrementSequence(0, 5) == 5);
  CHECK(IncrementSequence(INT32_MAX - 5, 5) == INT32_MAX);
  CHECK(IncrementSequence(INT32_MAX - 4, 5) == 0);
  CHECK(IncrementSequence(INT32_MAX, 1) == 0);
  CHECK(IncrementSequence(INT32_MAX - 1, 10) == 8);
}

TEST_CASE("Backoff grows exponentially to its cap, with bounded jitter",
          "[client][sender]") {
  Backoff b(100, 1000, 0.2, /*seed=*/42);
  for (int round = 0; round < 50; round++) {
    int64_t d1 = b.DelayMs(1), d2 = b.DelayMs(2), d3 = b.DelayMs(3),
            d4 = b.DelayMs(4), d9 = b.DelayMs(9);
    CHECK(d1 >= 80);
    CHECK(d1 <= 120);
    CHECK(d2 >= 160);
    CHECK(d2 <= 240);
    CHECK(d3 >= 320);
    CHECK(d3 <= 480);
    CHECK(d4 >= 640);
    CHECK(d4 <= 960);
    CHECK(d9 >= 800);  // capped at 1000 before jitter
    CHECK(d9 <= 1200);
  }
  // Jitter really varies the delay.
  int64_t first = b.DelayMs(5);
  bool varied = false;
  for (int i = 0; i < 20 && !varied; i++) varied = b.DelayMs(5) != first;
  CHECK(varied);
  Backoff none(0, 1000);
  CHECK(none.DelayMs(3) == 0);
}

TEST_CASE("Kafka error codes become statuses a caller can act on",
          "[client][errors]") {
  CHECK(StatusFromKafkaError(kErrNone, "x").ok());
  auto s = StatusFromKafkaError(kErrMessageTooLarge, "producing to t-0");
  CHECK(absl::IsInvalidArgument(s));
  CHECK(s.message() == "producing to t-0: MESSAGE_TOO_LARGE (10)");
  CHECK(
      absl::IsNotFound(StatusFromKafkaError(kErrUnknownTopicOrPartition, "")));
  CHECK(absl::IsOutOfRange(StatusFromKafkaError(kErrOffsetOutOfRange, "")));
  CHECK(absl::IsUnavailable(StatusFromKafkaError(kErrNotLeaderOrFollower, "")));
  CHECK(absl::IsDataLoss(StatusFromKafkaError(kErrCorruptMessage, "")));
  CHECK(absl::IsFailedPrecondition(
      StatusFromKafkaError(kErrOutOfOrderSequence, "")));
  CHECK(KafkaErrorName(999) == "UNKNOWN_ERROR_999");
  CHECK(absl::IsUnknown(StatusFromKafkaError(999, "")));
}

}  // namespace
}  // namespace fjord::client::internal
