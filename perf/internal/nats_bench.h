// The NATS JetStream side of fjord-peer-bench: asynchronous publishing to a
// file-store stream with a bounded window of unacknowledged publishes, and
// reading it back through a pull consumer in batches. Each run is one call,
// confined to the calling thread.
#ifndef FJORD_PERF_INTERNAL_NATS_BENCH_H_
#define FJORD_PERF_INTERNAL_NATS_BENCH_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "perf/internal/bench.h"

namespace fjord::perf::internal {

struct NatsProduceOptions {
  std::string host = "127.0.0.1";
  int port = 4222;
  // The stream, deleted and created afresh (file storage, limits retention,
  // one replica) with the one subject "<stream>.in".
  std::string stream = "fjordbench";
  uint64_t records = 0;
  size_t record_size = 100;
  // Connections publishing at once, each a contiguous share of the records.
  int connections = 1;
  // Publishes per connection awaiting their PubAck.
  int window = 1000;
  // false: a sliding window, a new publish as each PubAck arrives. true:
  // publish `window` records, wait until every one is acknowledged, then
  // the next `window`, as `nats bench --js --pubbatch <window>` does.
  bool wait_for_window = false;
  double timeout_seconds = 120;
};

// Publishes records 0..records-1 (perf/internal/payload.h). Counts a record
// only when its PubAck arrives: a stream sequence in 1..records that no
// other record got. Afterwards checks that the stream holds exactly
// `records` messages.
absl::StatusOr<RunResult> RunNatsProduce(const NatsProduceOptions& options);

enum class AckPolicy {
  kNone,  // the consumer acknowledges nothing
  kAll,   // one ack per batch acknowledges it and everything before
};

struct NatsConsumeOptions {
  std::string host = "127.0.0.1";
  int port = 4222;
  std::string stream = "fjordbench";
  // A durable pull consumer, deleted and created afresh, delivering from
  // the stream's first message.
  std::string consumer = "fjordbench-pull";
  uint64_t records = 0;
  size_t record_size = 100;
  // Messages asked for by one pull request ($JS.API.CONSUMER.MSG.NEXT).
  int batch = 1000;
  // Pull requests outstanding at once.
  int pulls = 2;
  AckPolicy ack_policy = AckPolicy::kNone;
  // Check every record's bytes and that each of 0..records-1 is read once.
  bool verify = false;
  double timeout_seconds = 120;
};

// Reads the first `records` messages of the stream. Fails at once if the
// stream holds fewer. With kAll, afterwards waits until the server reports
// no acknowledgement pending.
absl::StatusOr<RunResult> RunNatsConsume(const NatsConsumeOptions& options);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_NATS_BENCH_H_
