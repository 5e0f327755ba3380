// Parsing and validation of client properties (fjord/config.h) into typed
// settings, one struct per client. Each Parse* refuses an unknown name, a
// property of another kind of client, and an invalid value, with a
// kInvalidArgument status that names the property. Thread-compatible.
#ifndef FJORD_CLIENT_INTERNAL_CONFIG_H_
#define FJORD_CLIENT_INTERNAL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/config.h"
#include "log/compression.h"

namespace fjord::client::internal {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};

// "host:port[,host:port...]" (IPv6 hosts in brackets). Every entry needs a
// port in 1-65535.
absl::StatusOr<std::vector<HostPort>> ParseServers(std::string_view property,
                                                   std::string_view value);

// What every client shares.
struct CommonConfig {
  std::vector<HostPort> bootstrap_servers;
  std::vector<HostPort> admin_servers;  // default: bootstrap hosts, port 9093
  std::string client_id = "fjord";
  int32_t request_timeout_ms = 30000;
  int32_t retry_backoff_ms = 100;
  // Upper bound of the exponential backoff (Kafka's retry.backoff.max.ms).
  int32_t retry_backoff_max_ms = 1000;
};

struct ProducerConfig {
  CommonConfig common;
  int16_t acks = -1;  // "all"
  int32_t linger_ms = 5;
  int32_t batch_size = 1000000;
  int64_t buffer_memory = 32 * 1024 * 1024;
  log::Codec compression = log::Codec::kNone;
  int32_t max_in_flight = 5;
  int32_t retries = 2147483647;
  int32_t delivery_timeout_ms = 120000;
  bool enable_idempotence = true;
  int64_t max_block_ms = 60000;
};

struct ConsumerConfig {
  CommonConfig common;
  int32_t fetch_min_bytes = 1;
  int32_t fetch_max_wait_ms = 500;
  int32_t max_partition_fetch_bytes = 1048576;
  enum class OffsetReset { kEarliest, kLatest, kNone };
  OffsetReset auto_offset_reset = OffsetReset::kLatest;

  // Consumer groups (empty group_id: no group; Subscribe and commits are
  // refused).
  std::string group_id;
  std::string group_instance_id;  // static membership; "" for dynamic
  int32_t session_timeout_ms = 45000;
  // 0: the coordinator's interval; else heartbeat at most this far apart.
  int32_t heartbeat_interval_ms = 0;
  int32_t max_poll_interval_ms = 300000;
  bool enable_auto_commit = false;  // true by default when group_id is set
  int32_t auto_commit_interval_ms = 5000;
  std::string group_remote_assignor;  // "": the broker's default
};

struct AdminConfig {
  CommonConfig common;
};

absl::StatusOr<ProducerConfig> ParseProducerConfig(const Properties& props);
absl::StatusOr<ConsumerConfig> ParseConsumerConfig(const Properties& props);
absl::StatusOr<AdminConfig> ParseAdminConfig(const Properties& props);

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_CONFIG_H_
