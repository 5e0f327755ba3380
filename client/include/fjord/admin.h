// fjord::Admin: administers a fjord cluster over its gRPC control plane
// (proto/admin.proto, served on admin.servers, default the bootstrap hosts
// on port 9093): topics, their configs, and the cluster's brokers. Every
// call is synchronous and bounded by request.timeout.ms. Errors: kNotFound
// (no such topic), kAlreadyExists, kInvalidArgument (the message names the
// bad field or config), kUnavailable (no admin server answered),
// kDeadlineExceeded, kInternal.
//
// Thread-safe: calls may come from any number of threads at once.
#ifndef FJORD_CLIENT_INCLUDE_FJORD_ADMIN_H_
#define FJORD_CLIENT_INCLUDE_FJORD_ADMIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/config.h"

namespace fjord {

struct PartitionDescription {
  int32_t index = 0;
  int64_t log_start_offset = 0;
  int64_t log_end_offset = 0;
  int64_t size_bytes = 0;
  int32_t segments = 0;
};

struct TopicConfigEntry {
  std::string name;
  std::string value;  // effective
  bool is_override = false;
};

struct TopicDescription {
  std::string name;
  std::vector<PartitionDescription> partitions;
  std::vector<TopicConfigEntry> configs;  // every config, sorted by name
};

struct TopicSummary {
  std::string name;
  int32_t partitions = 0;
  bool internal = false;  // run by the broker itself (__consumer_offsets)
};

struct BrokerDescription {
  int32_t node_id = 0;
  std::string kafka_host;
  int32_t kafka_port = 0;
  std::string grpc_host;
  int32_t grpc_port = 0;
};

struct ClusterDescription {
  std::string cluster_id;
  int32_t controller_id = 0;
  std::vector<BrokerDescription> brokers;
};

struct NewTopic {
  std::string name;
  int32_t partitions = 0;  // 0: the broker's num.partitions
  std::map<std::string, std::string> configs;
  bool validate_only = false;
};

class Admin {
 public:
  // Validates `properties` (admin.servers or bootstrap.servers,
  // client.id, request.timeout.ms, retry.backoff.ms). Connects lazily.
  static absl::StatusOr<std::unique_ptr<Admin>> Create(
      const Properties& properties);
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;
  ~Admin();

  absl::StatusOr<TopicDescription> CreateTopic(const NewTopic& topic);
  absl::Status DeleteTopic(const std::string& name);
  // Sorted by name; internal topics only with `include_internal`, as in
  // Kafka's Admin.
  absl::StatusOr<std::vector<TopicSummary>> ListTopics(
      bool include_internal = false);
  absl::StatusOr<TopicDescription> DescribeTopic(const std::string& name);
  // Sets and removes config overrides; nothing changes if any is invalid.
  absl::StatusOr<TopicDescription> AlterTopicConfigs(
      const std::string& name, const std::map<std::string, std::string>& set,
      const std::vector<std::string>& remove);
  absl::StatusOr<ClusterDescription> DescribeCluster();

  class Impl;

 private:
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_ADMIN_H_
