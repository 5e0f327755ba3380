// The Redis Streams side of fjord-peer-bench: XADD pipelined over several
// connections, and XREAD in batches from the start of the stream. Each run
// is one call, confined to the calling thread.
#ifndef FJORD_PERF_INTERNAL_REDIS_BENCH_H_
#define FJORD_PERF_INTERNAL_REDIS_BENCH_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "perf/internal/bench.h"

namespace fjord::perf::internal {

struct RedisProduceOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // The stream's key, deleted first. Each entry has one field, "f", whose
  // value is the record.
  std::string key = "fjordbench";
  uint64_t records = 0;
  size_t record_size = 100;
  // Connections adding at once, each a contiguous share of the records.
  int connections = 8;
  // XADDs per connection sent and not yet answered.
  int pipeline = 64;
  double timeout_seconds = 120;
};

struct RedisProduceResult {
  RunResult run;
  // The server's CONFIG GET appendonly / appendfsync, "" if refused.
  std::string appendonly;
  std::string appendfsync;
};

// Adds records 0..records-1 (perf/internal/payload.h); a record counts when
// its XADD is answered with an entry id. Afterwards checks that XLEN is
// exactly `records`.
absl::StatusOr<RedisProduceResult> RunRedisProduce(
    const RedisProduceOptions& options);

struct RedisConsumeOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string key = "fjordbench";
  uint64_t records = 0;
  size_t record_size = 100;
  // Entries asked for by one XREAD COUNT.
  int batch = 1000;
  // Check every record's bytes and that each of 0..records-1 is read once.
  bool verify = false;
  double timeout_seconds = 120;
};

// Reads the first `records` entries with XREAD COUNT <batch> from id 0-0,
// one request at a time (each starts after the last id read). Fails at
// once if the stream holds fewer.
absl::StatusOr<RunResult> RunRedisConsume(const RedisConsumeOptions& options);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_REDIS_BENCH_H_
