// The load fjord-perf puts on a fjord cluster through the client library
// (fjord::Producer, fjord::Consumer, fjord::Admin): a produce run, a
// consume run and an end-to-end latency run, each returning what it
// measured. Every run is bounded by its deadline. Each Run* call is
// synchronous: it starts its own client threads and joins them before it
// returns; the options and results are plain values.
#ifndef FJORD_PERF_INTERNAL_FJORD_LOAD_H_
#define FJORD_PERF_INTERNAL_FJORD_LOAD_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "perf/internal/connection.h"
#include "perf/internal/latency.h"

namespace fjord::perf::internal {

struct LoadOptions {
  std::string brokers = "127.0.0.1:9092";  // bootstrap.servers
  std::string admin;  // gRPC host:port; "": the brokers' hosts, port 9093
  std::string topic = "fjord-perf";
  uint64_t records = 1000000;
  size_t record_size = 100;
  // Records per second, all producers together: a cap for produce, the
  // fixed send rate for e2e. <= 0: no cap (produce only).
  double throughput = -1;
  std::string acks = "1";  // 0, 1, all
  std::string compression = "none";
  // produce/e2e: the topic is created with this many partitions when it
  // does not exist (an existing topic with another count is an error).
  // consume: ignored; every partition of the topic is read.
  int partitions = 1;
  int producers = 1;  // Producer instances, one sending thread each
  int batch_size = 1000000;
  int linger_ms = 5;  // e2e: 0 unless given
  bool linger_set = false;
  // Overrides for any client property (enable.idempotence, fetch.max.wait.ms,
  // ...), applied last.
  std::map<std::string, std::string> properties;
  // Topic configs for a topic this run creates (flush.ms, segment.bytes...).
  std::map<std::string, std::string> topic_configs;
  // Seconds the measured phase may last; the run stops sending (produce,
  // e2e) or reading (consume) when they pass. <= 0: no cap.
  double duration = 0;
  // Consume: check every record's bytes (perf/internal/payload.h) and that
  // each index arrives exactly once.
  bool verify = false;
  // e2e: records sent before measuring starts (connections, page faults).
  uint64_t warmup_records = 0;
};

struct LoadResult {
  // Produce: records acknowledged without error. Consume: records read.
  // e2e: records whose latency was measured.
  uint64_t records = 0;
  uint64_t failed = 0;            // produce/e2e: records whose send failed
  std::string first_error;        // the first failure's message
  uint64_t payload_bytes = 0;     // record values, in bytes
  int partitions = 0;             // of the topic
  double seconds = 0;             // the measured phase, wall clock
  double client_cpu_seconds = 0;  // this process's CPU over that phase
  // Produce: Send -> delivery callback, sampled (1 record in 16).
  // e2e: Send -> the record returned by the consumer's Poll, every record.
  LatencySummary latency;
  bool stopped_by_duration = false;
};

// Creates the topic when missing (LoadOptions::partitions), then sends
// `records` records of `record_size` bytes (record i: payload.h's record
// i) from `producers` producers, each its share on its own thread, and
// waits for every delivery. Fails if any record is not delivered.
absl::StatusOr<LoadResult> RunProduce(const LoadOptions& options,
                                      Deadline deadline);

// Reads the topic's partitions from their start until `records` records
// have arrived.
absl::StatusOr<LoadResult> RunConsume(const LoadOptions& options,
                                      Deadline deadline);

// One producer sends at a fixed rate (`throughput`, records/s); a consumer
// on another thread, positioned at the log end first, records each
// record's Send-to-Poll latency (the send time travels in the value).
// Uses partition 0 only. records >= 8 bytes.
absl::StatusOr<LoadResult> RunEndToEnd(const LoadOptions& options,
                                       Deadline deadline);

// Deletes the topic (kNotFound if it does not exist).
absl::Status DeleteTopic(const LoadOptions& options);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_FJORD_LOAD_H_
