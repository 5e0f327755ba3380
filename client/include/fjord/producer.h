// fjord::Producer: publishes records to fjord (or any Kafka-protocol
// broker). Send is asynchronous: the record is encoded into its
// partition's batch before Send returns, and one network thread per
// Producer sends the batches (linger.ms, batch.size, compression,
// max.in.flight.requests.per.connection pipelining), retries them, and
// reports each record's outcome exactly once. With enable.idempotence
// (the default) retries never duplicate or reorder a partition's records.
// Semantics, properties and errors: client/README.md.
//
// Thread-safe: one Producer may be shared by any number of threads.
// Delivery callbacks run on the producer's network thread, in offset order
// within a partition, one at a time; keep them short and do not call Flush
// or Close from one. (When that thread is idle, Send writes a ready
// request itself rather than wake it; a batch that fails right there, its
// request refused before any byte is sent, is reported inside that Send.)
#ifndef FJORD_CLIENT_INCLUDE_FJORD_PRODUCER_H_
#define FJORD_CLIENT_INCLUDE_FJORD_PRODUCER_H_

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/config.h"
#include "fjord/record.h"

namespace fjord {

// Called once per record: OK with the record's partition, offset and
// timestamp, or the reason it was not delivered (with the partition, if one
// was chosen, and offset -1). The status and metadata are valid only during
// the call (metadata.topic: as long as the Producer).
using DeliveryCallback =
    absl::AnyInvocable<void(const absl::Status&, const RecordMetadata&)>;

class Producer {
 public:
  // Validates `properties` (kInvalidArgument naming the first bad one) and
  // starts the network thread. Connecting happens in the background: an
  // unreachable cluster shows in Send's results, not here.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const Properties& properties);

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  // Close() with no timeout.
  ~Producer();

  // Appends `record` to its partition's batch; `callback` (may be null)
  // runs once with the outcome. Send blocks only to wait for the topic's
  // metadata or for room in buffer.memory, each at most max.block.ms; when
  // that runs out the callback gets kDeadlineExceeded (no metadata: the
  // message says why) or kResourceExhausted (buffer full) before Send
  // returns. Other immediate failures, also reported through the callback
  // before Send returns: kFailedPrecondition after Close, kInvalidArgument
  // for a bad partition, a topic name Kafka refuses, or a record larger
  // than buffer.memory. Asynchronous failures (after retries or when
  // delivery.timeout.ms expires): see client/README.md.
  void Send(const ProducerRecord& record, DeliveryCallback callback);

  // The same, returning a future (one allocation per record for its shared
  // state; the callback form has none).
  std::future<absl::StatusOr<RecordMetadata>> Send(
      const ProducerRecord& record);

  // Sends every batch now (ignoring linger.ms) and waits until every record
  // passed to Send before this call has completed, successfully or not.
  // kDeadlineExceeded if `timeout` passes first.
  absl::Status Flush(
      std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // Refuses further Sends, flushes, and stops the network thread. Records
  // still incomplete after `timeout` fail with kCancelled. Idempotent.
  absl::Status Close(
      std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // The topic's partition count, fetching metadata if needed (at most
  // max.block.ms).
  absl::StatusOr<int32_t> PartitionCount(std::string_view topic);

  class Impl;

 private:
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_PRODUCER_H_
