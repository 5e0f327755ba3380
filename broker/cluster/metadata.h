// The cluster metadata model: what fjord keeps in etcd (brokers, the
// controller, topics with their partitions' replicas, leader, leader epoch
// and in-sync set, producer-id blocks, topic requests), the keys it lives
// under, and the one encoding of each value. broker/cluster/README.md
// documents the layout key by key and the values field by field.
//
// Value types and pure functions; thread-compatible.
#ifndef FJORD_BROKER_CLUSTER_METADATA_H_
#define FJORD_BROKER_CLUSTER_METADATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::cluster {

inline constexpr int32_t kNoLeader = -1;

struct Endpoint {
  std::string host;
  int32_t port = 0;
  std::string ToString() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// A live broker: /fjord/<cluster>/brokers/<node.id>.
struct BrokerInfo {
  int32_t node_id = 0;
  Endpoint kafka;  // advertised Kafka listener
  Endpoint grpc;   // advertised gRPC (control plane) address
  std::string hostname;
  std::string data_dir;
  int32_t pid = 0;
  int64_t registered_at_ms = 0;
  std::string incarnation;  // random per process
  // From etcd, not encoded in the value.
  int64_t lease = 0;
  int64_t create_revision = 0;
  // "node 2 (kafka 127.0.0.3:9092, grpc 127.0.0.3:9093, pid 77 on host h,
  // data dir /d)".
  std::string Describe() const;
};

// /fjord/<cluster>/controller.
struct ControllerInfo {
  int32_t node_id = 0;
  int64_t elected_at_ms = 0;
  // From etcd: the key's create revision is the controller epoch (it only
  // grows: every election creates the key anew).
  int64_t epoch = 0;
  int64_t lease = 0;
};

struct PartitionState {
  int32_t partition = 0;
  std::vector<int32_t> replicas;  // preference order
  int32_t leader = kNoLeader;
  int32_t leader_epoch = 0;
  std::vector<int32_t> isr;
  int64_t controller_epoch = 0;
  friend bool operator==(const PartitionState&,
                         const PartitionState&) = default;
};

// /fjord/<cluster>/topics/<name>.
struct TopicState {
  std::string name;
  std::map<std::string, std::string> configs;
  int32_t replication_factor = 0;
  std::vector<PartitionState> partitions;  // partitions[i].partition == i
  // From etcd: the key's mod revision, the guard of every update.
  int64_t mod_revision = 0;
};

// /fjord/<cluster>/topic_requests/<name>.
struct TopicRequest {
  enum class Operation { kCreate, kDelete };
  enum class Error {
    kNone,
    kInvalidReplicationFactor,
    kTopicAlreadyExists,
    kUnknownTopic,
    kInvalidPartitions
  };
  std::string name;  // from the key
  Operation operation = Operation::kCreate;
  int32_t partitions = 0;
  int32_t replication_factor = -1;  // -1: default.replication.factor
  std::map<std::string, std::string> configs;
  int32_t requested_by = 0;
  Error error = Error::kNone;
  std::string error_message;
  // From etcd.
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// /fjord/<cluster>/producer_ids.
struct ProducerIdsState {
  int64_t next_producer_id = 0;
  int32_t last_block_node = 0;
  int64_t last_block_size = 0;
};

// The keys of one cluster, all under "/fjord/<cluster>/".
class KeyLayout {
 public:
  // REQUIRES: IsValidClusterName(cluster).
  explicit KeyLayout(std::string_view cluster);

  const std::string& root() const { return root_; }  // "/fjord/<cluster>/"
  std::string brokers_prefix() const { return root_ + "brokers/"; }
  std::string broker(int32_t node_id) const;
  std::string controller() const { return root_ + "controller"; }
  std::string topics_prefix() const { return root_ + "topics/"; }
  std::string topic(std::string_view name) const;
  std::string topic_requests_prefix() const {
    return root_ + "topic_requests/";
  }
  std::string topic_request(std::string_view name) const;
  std::string producer_ids() const { return root_ + "producer_ids"; }

  struct Parsed {
    enum class Kind {
      kBroker,
      kController,
      kTopic,
      kTopicRequest,
      kProducerIds,
      kUnknown
    };
    Kind kind = Kind::kUnknown;
    int32_t node_id = 0;  // kBroker
    std::string name;     // kTopic, kTopicRequest
  };
  // What a key under root() is; kUnknown for anything else (ignored, so a
  // newer broker may add keys).
  Parsed Parse(std::string_view key) const;

 private:
  std::string root_;
};

// Non-empty, at most 200 characters of [A-Za-z0-9._-].
bool IsValidClusterName(std::string_view name);

// Each value is the proto3 JSON form of its message in
// proto/cluster/metadata.proto. Decoding checks the record's invariants
// (kDataLoss naming the problem: a value that breaks them was not written
// by fjord, or is corrupt).
std::string EncodeBroker(const BrokerInfo& b);
absl::StatusOr<BrokerInfo> DecodeBroker(std::string_view value);
std::string EncodeController(const ControllerInfo& c);
absl::StatusOr<ControllerInfo> DecodeController(std::string_view value);
std::string EncodeTopic(const TopicState& t);
absl::StatusOr<TopicState> DecodeTopic(std::string_view value);
std::string EncodeTopicRequest(const TopicRequest& r);
absl::StatusOr<TopicRequest> DecodeTopicRequest(std::string_view value);
std::string EncodeProducerIds(const ProducerIdsState& p);
absl::StatusOr<ProducerIdsState> DecodeProducerIds(std::string_view value);

// The invariants of a partition record: replicas non-empty and distinct,
// isr a non-empty subset of replicas, leader -1 or in isr, epochs >= 0.
absl::Status ValidatePartition(const PartitionState& p);

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_METADATA_H_
