// CoordinatorClient: the consumer-group administration calls of the
// broker's fjord.coordinator.v1.Coordinator service (proto/coordinator.proto,
// served on the gRPC admin address), over the generated stub, for `fjord
// group ...`. It exists because fjord::Admin has no group operations yet
// (they are being added on branch `groups`); once it does, `fjord group`
// should call Admin and this file goes. A call answered NOT_COORDINATOR is
// sent once more to the coordinator the answer names. gRPC statuses become
// absl::Status here and nowhere else in tools/. Thread-compatible.
#ifndef FJORD_TOOLS_INTERNAL_COORDINATOR_CLIENT_H_
#define FJORD_TOOLS_INTERNAL_COORDINATOR_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fjord::tools::internal {

struct GroupSummary {
  std::string group_id;
  std::string state;  // "Empty", "Assigning", "Reconciling", "Stable"
  int32_t members = 0;
};

struct GroupPartitions {
  std::string topic;
  std::vector<int32_t> partitions;
};

struct GroupMember {
  std::string member_id;
  std::string instance_id;
  std::string client_host;
  int32_t member_epoch = 0;
  std::string state;  // "Stable", "Revoking", "Assigning", "LeftTemporarily"
  std::vector<std::string> subscribed_topics;
  std::vector<GroupPartitions> assigned;
  std::vector<GroupPartitions> revoking;
  std::vector<GroupPartitions> pending;
};

struct GroupPartitionLag {
  std::string topic;
  int32_t partition = 0;
  int64_t committed_offset = -1;  // -1: nothing committed
  int64_t log_end_offset = -1;    // -1: the partition does not exist
  int64_t lag = -1;               // -1: unknown
  std::string member_id;          // owner, "" if none
};

struct GroupDescription {
  std::string group_id;
  std::string state;
  int32_t group_epoch = 0;
  int32_t assignment_epoch = 0;
  std::string assignor;
  int32_t offsets_partition = 0;
  std::vector<GroupMember> members;
  std::vector<GroupPartitionLag> partitions;
};

struct ResetSpec {
  enum class Strategy { kEarliest, kLatest, kOffset, kTimestamp };
  std::string group_id;
  std::string topic;
  std::vector<int32_t> partitions;  // empty: every partition of the topic
  Strategy strategy = Strategy::kEarliest;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  bool dry_run = false;
};

struct OffsetChange {
  std::string topic;
  int32_t partition = 0;
  int64_t previous_offset = -1;  // -1: nothing was committed
  int64_t new_offset = 0;
};

struct PartitionCommit {
  int32_t partition = 0;
  int64_t offset = -1;  // the next offset to consume; -1: nothing committed
};

class CoordinatorClient {
 public:
  // `address` is host:port of a broker's gRPC server; every call has
  // `timeout_ms`.
  CoordinatorClient(std::string address, int64_t timeout_ms);
  ~CoordinatorClient();
  CoordinatorClient(const CoordinatorClient&) = delete;
  CoordinatorClient& operator=(const CoordinatorClient&) = delete;

  // Sorted by group id.
  absl::StatusOr<std::vector<GroupSummary>> ListGroups();
  // kNotFound for an unknown group.
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group_id);
  // kFailedPrecondition while the group has members.
  absl::StatusOr<std::vector<OffsetChange>> ResetOffsets(const ResetSpec& spec);
  // kNotFound for an unknown group, kFailedPrecondition with members.
  absl::Status DeleteGroup(const std::string& group_id);
  // The group's committed offsets of `partitions` of `topic`, in the order
  // asked; offset -1 where nothing is committed (an unknown group has
  // nothing committed).
  absl::StatusOr<std::vector<PartitionCommit>> FetchOffsets(
      const std::string& group_id, const std::string& topic,
      const std::vector<int32_t>& partitions);
  // Commits `offsets` of `topic` from outside the group (no member id, as
  // Kafka's simple consumers do): kFailedPrecondition while the group has
  // members. Creates the group if it does not exist.
  absl::Status CommitOffsets(const std::string& group_id,
                             const std::string& topic,
                             const std::vector<PartitionCommit>& offsets);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace fjord::tools::internal

#endif  // FJORD_TOOLS_INTERNAL_COORDINATOR_CLIENT_H_
