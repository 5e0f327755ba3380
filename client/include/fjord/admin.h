// fjord::Admin: administers a fjord cluster over its gRPC control plane
// (proto/admin.proto and proto/coordinator.proto, served on admin.servers,
// default the bootstrap hosts on port 9093): topics, their configs, the
// cluster's brokers, and consumer groups (asked of the group's coordinator,
// found with FindCoordinator; while it moves to another broker, a group
// call is retried with backoff). Every call is synchronous and bounded by
// request.timeout.ms. Errors: kNotFound (no such topic or group),
// kAlreadyExists, kInvalidArgument (the message names the bad field or
// config), kFailedPrecondition (a group operation that needs a group without
// members), kUnavailable (no admin server answered), kDeadlineExceeded,
// kInternal.
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
#include "fjord/record.h"

namespace fjord {

struct PartitionDescription {
  int32_t index = 0;
  int64_t log_start_offset = 0;
  int64_t log_end_offset = 0;
  int64_t size_bytes = 0;
  int32_t segments = 0;
  // Placement by node id; leader -1 while the partition has none.
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  // False when the broker asked holds no replica of the partition (in a
  // cluster): the offsets, size and segments above are unknown (0).
  bool has_log = false;
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

// ---- consumer groups (proto/coordinator.proto)

enum class GroupState {
  kUnknown,
  kEmpty,        // no members; the group exists for its committed offsets
  kAssigning,    // a new target assignment is due
  kReconciling,  // some member has not reached the target assignment
  kStable,       // every member has its target assignment
};
// "Empty", "Assigning", "Reconciling", "Stable", "Unknown".
std::string_view GroupStateName(GroupState state);

enum class GroupMemberState {
  kUnknown,
  kStable,           // has its target assignment
  kRevoking,         // must revoke partitions
  kAssigning,        // waits for partitions others still own
  kLeftTemporarily,  // a static member that left temporarily
};
std::string_view GroupMemberStateName(GroupMemberState state);

struct GroupListing {
  std::string group_id;
  GroupState state = GroupState::kUnknown;
  int32_t members = 0;
};

struct GroupMemberDescription {
  std::string member_id;
  std::string instance_id;  // "" for a dynamic member
  std::string client_host;  // peer address of its last heartbeat
  int32_t member_epoch = 0;
  GroupMemberState state = GroupMemberState::kUnknown;
  std::vector<std::string> subscribed_topics;
  std::string assignor;  // what the member asked for; "" the default
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  // Sorted by topic, then partition.
  std::vector<TopicPartition> assigned;  // consuming
  std::vector<TopicPartition> revoking;  // giving up
  std::vector<TopicPartition> pending;   // waiting for others to release
  std::vector<TopicPartition> target;    // its share of the target assignment
};

struct GroupPartitionDescription {
  TopicPartition partition;
  int64_t committed_offset = -1;  // -1: nothing committed
  int64_t log_end_offset = -1;    // -1: the partition does not exist
  int64_t lag = -1;               // log end - committed; -1 if either unknown
  std::string member_id;          // the owner, "" if none
  std::string metadata;           // of the committed offset
};

struct GroupDescription {
  std::string group_id;
  GroupState state = GroupState::kUnknown;
  int32_t group_epoch = 0;
  int32_t assignment_epoch = 0;
  std::string assignor;           // of the current target assignment
  int32_t offsets_partition = 0;  // the group's __consumer_offsets partition
  std::string coordinator;        // "host:port" that answered
  std::vector<GroupMemberDescription> members;
  // Every partition of a subscribed topic and every one with a committed
  // offset, sorted by topic and partition.
  std::vector<GroupPartitionDescription> partitions;
};

// Which partitions a group operation applies to: a topic with no
// partitions listed means all of its partitions.
struct TopicPartitions {
  std::string topic;
  std::vector<int32_t> partitions;
};

struct OffsetResetSpec {
  enum class Strategy {
    kEarliest,   // the log start offset
    kLatest,     // the log end offset
    kOffset,     // `offset`, clamped into [log start, log end]
    kTimestamp,  // the first record with timestamp >= `timestamp_ms`, else
                 // the log end
  };
  Strategy strategy = Strategy::kEarliest;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  // Empty: every partition with a committed offset.
  std::vector<TopicPartitions> partitions;
  // Compute and return the changes without making them.
  bool dry_run = false;
};

struct OffsetChange {
  TopicPartition partition;
  int64_t previous_offset = -1;  // -1: nothing was committed
  int64_t new_offset = 0;
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

  // Consumer groups, sorted by id; only those in `states` if not empty.
  // Asks the admin servers (on a single node the one coordinator).
  absl::StatusOr<std::vector<GroupListing>> ListGroups(
      const std::vector<GroupState>& states = {});
  // kNotFound for an unknown group.
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group_id);
  // Moves a group's committed offsets; kFailedPrecondition (GROUP_NOT_EMPTY)
  // while it has members, kNotFound for an unknown topic or partition.
  // Returns the changes (made, or with dry_run what would be), sorted.
  absl::StatusOr<std::vector<OffsetChange>> ResetGroupOffsets(
      const std::string& group_id, const OffsetResetSpec& spec);
  // Deletes a group without members and its committed offsets;
  // kFailedPrecondition while it has members, kNotFound if unknown.
  absl::Status DeleteGroup(const std::string& group_id);

  class Impl;

 private:
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_ADMIN_H_
