// BrokerConfig: every setting of fjord-broker, by Kafka property name where
// Kafka has one. Built from defaults, then a properties file, then --set
// overrides; an unknown key or invalid value is an error naming it.
// A value type; thread-compatible.
#ifndef FJORD_BROKER_BROKER_CONFIG_H_
#define FJORD_BROKER_BROKER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/coordinator/group_coordinator.h"
#include "log/log_config.h"
#include "log/log_manager.h"

namespace fjord::broker {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};
// "host:port" or "PLAINTEXT://host:port".
absl::StatusOr<HostPort> ParseHostPort(std::string_view s);

// Cluster mode (broker/cluster/README.md): on when metadata.etcd.endpoints
// is set; otherwise the broker is a single node and needs nothing else.
struct ClusterSettings {
  std::vector<std::string> etcd_endpoints;  // metadata.etcd.endpoints
  int64_t etcd_connect_timeout_ms = 2000;   // metadata.etcd.connect.timeout.ms
  int64_t etcd_request_timeout_ms = 5000;   // metadata.etcd.request.timeout.ms
  // The etcd lease TTL of the broker's registration (and of the controller
  // key): how long a dead broker counts as alive. Whole seconds, >= 2 s.
  int64_t session_timeout_ms = 3000;        // broker.session.timeout.ms
  int32_t default_replication_factor = -1;  // default.replication.factor
  int32_t min_insync_replicas = 2;          // min.insync.replicas
  bool unclean_leader_election = false;     // unclean.leader.election.enable
  int64_t replica_lag_time_max_ms = 30000;  // replica.lag.time.max.ms
  bool enabled() const { return !etcd_endpoints.empty(); }
};

struct BrokerConfig {
  int32_t node_id = 0;                          // node.id (broker.id)
  std::string data_dir = "./fjord-data";        // log.dirs
  HostPort kafka_address{"127.0.0.1", 9092};    // listeners
  HostPort advertised_kafka_address;            // advertised.listeners
  HostPort grpc_address{"127.0.0.1", 9093};     // grpc.address (control plane)
  HostPort advertised_grpc_address;             // grpc.advertised.address
  HostPort metrics_address{"127.0.0.1", 9094};  // metrics.address
  std::string cluster_id = "fjord-single-node";
  bool auto_create_topics = true;                // auto.create.topics.enable
  int32_t num_partitions = 1;                    // num.partitions
  int64_t socket_request_max_bytes = 104857600;  // socket.request.max.bytes
  int32_t max_connections = 10000;               // max.connections
  int32_t num_io_threads = 0;                    // num.io.threads (0: cores)
  // group.commit.threads: the threads flushing partitions for acks=all
  // (broker/group_commit.h); flushes of different partitions run side by
  // side.
  int32_t group_commit_threads = 2;
  int64_t producer_id_block_size = 1000;  // producer.id.block.size
  // Topic defaults (log.segment.bytes, log.retention.ms, ...).
  log::LogConfig log_defaults;
  // Background work (log.retention.check.interval.ms, log.cleaner.*).
  log::LogManagerOptions manager;
  // Consumer groups (offsets.topic.*, offsets.commit.required.acks,
  // offset.metadata.max.bytes, group.*); checked as a whole by
  // coordinator.Validate().
  coordinator::CoordinatorOptions coordinator;
  ClusterSettings cluster;

  BrokerConfig();
  // Sets one property. kInvalidArgument naming the key for an unknown key
  // or a bad value.
  absl::Status Set(std::string_view key, std::string_view value);
  // Reads a Kafka-style properties file: key=value lines, '#' and '!'
  // comments, blank lines. Errors name the file and line.
  absl::Status LoadFile(const std::string& path);
  // Checks what no single property can: in cluster mode, a cluster.id
  // usable in etcd keys. kInvalidArgument naming the property.
  absl::Status Validate() const;
  // The host:port clients are told to connect to.
  HostPort advertised() const {
    return advertised_kafka_address.port != 0 ? advertised_kafka_address
                                              : kafka_address;
  }
  HostPort advertised_grpc() const {
    return advertised_grpc_address.port != 0 ? advertised_grpc_address
                                             : grpc_address;
  }
};

// Maps a broker-level topic default ("log.retention.ms") to the topic
// config it sets ("retention.ms"); empty if it is not one.
std::string_view TopicConfigForBrokerDefault(std::string_view key);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_BROKER_CONFIG_H_
