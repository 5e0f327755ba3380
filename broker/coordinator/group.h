// ConsumerGroup: one consumer group's state machine, in the manner of
// Kafka's KIP-848 consumer group protocol. It holds the members (soft
// state: rebuilt by members heartbeating), the group epoch, the target
// assignment computed by a server-side assignor, which member owns each
// partition, and the committed offsets (the durable part, which
// GroupCoordinator persists in __consumer_offsets before applying here).
//
// Reconciliation is incremental: a member keeps the partitions that stay
// with it in every response; a partition that moves is first revoked by its
// old owner (it stops listing it as owned), and only then handed to its new
// owner. At no time do two members own the same partition.
//
// No clock, no I/O: callers pass the time and the topics' partition counts.
// Externally synchronized (GroupCoordinator holds its lock).
#ifndef FJORD_BROKER_COORDINATOR_GROUP_H_
#define FJORD_BROKER_COORDINATOR_GROUP_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/coordinator/assignor.h"
#include "log/types.h"

namespace fjord::coordinator {

// Special member epochs in a heartbeat.
inline constexpr int32_t kJoinEpoch = 0;
inline constexpr int32_t kLeaveEpoch = -1;
inline constexpr int32_t kTemporaryLeaveEpoch = -2;

// The group-level settings, from the broker's config.
struct GroupConfig {
  int32_t min_session_timeout_ms = 6'000;
  int32_t max_session_timeout_ms = 1'800'000;
  int32_t default_session_timeout_ms = 45'000;
  int32_t heartbeat_interval_ms = 5'000;
  int32_t default_rebalance_timeout_ms = 300'000;
  // By name; the first is the default. Not owned; must outlive the group.
  std::vector<const Assignor*> assignors;
};

struct HeartbeatRequest {
  std::string group_id;
  std::string member_id;
  int32_t member_epoch = kJoinEpoch;
  std::string instance_id;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::vector<std::string> subscribed_topics;
  PartitionSet owned;
  std::string assignor;
  std::string client_host;  // for DescribeGroup
};

struct MemberAssignment {
  PartitionSet assigned;  // consume now
  PartitionSet revoking;  // stop, commit, drop from owned
  PartitionSet pending;   // target partitions others still own
};

struct HeartbeatResponse {
  std::string member_id;
  int32_t member_epoch = 0;
  int32_t heartbeat_interval_ms = 0;
  // nullopt after a leave.
  std::optional<MemberAssignment> assignment;
};

enum class MemberState {
  kStable,     // has its target assignment
  kRevoking,   // must revoke partitions (Kafka's UNREVOKED_PARTITIONS)
  kAssigning,  // waits for partitions others own (UNRELEASED_PARTITIONS)
};

enum class GroupState { kEmpty, kAssigning, kReconciling, kStable };
std::string_view GroupStateName(GroupState s);

struct Member {
  std::string id;
  std::optional<std::string> instance_id;
  int32_t epoch = 0;
  int32_t previous_epoch = -1;
  MemberState state = MemberState::kStable;
  bool left_temporarily = false;          // a static member's epoch -2 leave
  std::vector<std::string> subscription;  // sorted, unique
  std::string assignor;                   // "": the default
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string client_host;
  PartitionSet assigned;
  PartitionSet revoking;
  int64_t session_deadline_ms = 0;
  int64_t revocation_deadline_ms = 0;  // while kRevoking
};

struct OffsetAndMetadata {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp_ms = 0;
};

// Why ExpireMembers removed a member.
struct Expiry {
  std::string member_id;
  bool rebalance_timeout = false;  // else the session timed out
};

class ConsumerGroup {
 public:
  // The partition count of a topic, nullopt if it does not exist.
  using PartitionCounts =
      std::function<std::optional<int32_t>(std::string_view topic)>;

  explicit ConsumerGroup(std::string id) : id_(std::move(id)) {}
  ConsumerGroup(const ConsumerGroup&) = delete;
  ConsumerGroup& operator=(const ConsumerGroup&) = delete;

  // One heartbeat (join, stay, leave), as proto/coordinator.proto describes.
  // On error the group is unchanged. `new_member_id` makes an id for a
  // member joining without one.
  absl::StatusOr<HeartbeatResponse> Heartbeat(
      const HeartbeatRequest& request, int64_t now_ms,
      const GroupConfig& config, const PartitionCounts& counts,
      const std::function<std::string()>& new_member_id);

  // Removes every member whose session timeout or (while revoking)
  // rebalance timeout has passed at `now_ms`; their partitions are free.
  std::vector<Expiry> ExpireMembers(int64_t now_ms);

  // OK if `member_id` at `member_epoch` may commit now; see CommitOffsets
  // in proto/coordinator.proto.
  absl::Status ValidateCommit(std::string_view member_id,
                              int32_t member_epoch) const;

  void SetOffset(const TopicPartition& tp, OffsetAndMetadata offset) {
    offsets_[tp] = std::move(offset);
  }
  void RemoveOffset(const TopicPartition& tp) { offsets_.erase(tp); }
  void ClearOffsets() { offsets_.clear(); }
  const std::map<TopicPartition, OffsetAndMetadata>& offsets() const {
    return offsets_;
  }

  // Whether the group's metadata record is in __consumer_offsets, and when
  // the group was first written there.
  bool persisted() const { return persisted_; }
  int64_t created_ms() const { return created_ms_; }
  void SetPersisted(int64_t created_ms) {
    persisted_ = true;
    created_ms_ = created_ms;
  }

  const std::string& id() const { return id_; }
  GroupState state() const;
  int32_t group_epoch() const { return group_epoch_; }
  int32_t assignment_epoch() const { return assignment_epoch_; }
  const std::string& assignor() const { return assignor_; }
  const std::map<std::string, Member>& members() const { return members_; }
  // The member's partitions in the target assignment.
  const PartitionSet& TargetOf(const std::string& member_id) const;
  // The member owning `tp` (assigned or revoking), or nullptr.
  const std::string* OwnerOf(const TopicPartition& tp) const;
  // Every topic some member subscribes to.
  std::vector<std::string> SubscribedTopics() const;
  // Target assignments computed so far (a rebalance each).
  int64_t rebalances() const { return rebalances_; }
  // Nothing to keep in memory: no members, no offsets, not persisted.
  bool Disposable() const {
    return members_.empty() && offsets_.empty() && !persisted_;
  }

 private:
  absl::Status Validate(const HeartbeatRequest& r, const GroupConfig& config,
                        Member* existing) const;
  absl::StatusOr<Member*> Join(const HeartbeatRequest& r,
                               const std::function<std::string()>& new_id);
  absl::Status Leave(const std::string& member_id, bool temporary,
                     int64_t now_ms);
  absl::Status UnknownMember(std::string_view member_id) const;
  void RemoveMember(const std::string& member_id);
  // Sets the member's subscription, keeping topic_refs_ in step.
  void Subscribe(Member* m, std::vector<std::string> topics);
  void NoteDeadline(int64_t ms) {
    next_deadline_ms_ = std::min(next_deadline_ms_, ms);
  }
  void Release(const std::string& member_id, const PartitionSet& partitions);
  void RefreshMetadata(const PartitionCounts& counts);
  void ComputeTarget(const GroupConfig& config);
  void Reconcile(Member* m, const PartitionSet& owned, int64_t now_ms);
  MemberAssignment AssignmentOf(const Member& m) const;

  const std::string id_;
  int32_t group_epoch_ = 0;
  int32_t assignment_epoch_ = 0;
  std::string assignor_;
  std::map<std::string, Member> members_;
  std::map<std::string, std::string> static_members_;  // instance -> member
  // Member ids whose instance id another process took over, most recent
  // last; bounded.
  std::deque<std::string> replaced_;
  std::map<std::string, PartitionSet> target_;
  std::map<TopicPartition, std::string> owners_;
  // Subscribed topic -> how many members subscribe to it.
  std::map<std::string, int> topic_refs_;
  // At most the earliest session or revocation deadline of any member.
  int64_t next_deadline_ms_ = INT64_MAX;
  // Partition counts of the subscribed topics the target was computed with.
  std::map<std::string, int32_t> topic_partitions_;
  std::map<TopicPartition, OffsetAndMetadata> offsets_;
  bool persisted_ = false;
  int64_t created_ms_ = 0;
  int64_t rebalances_ = 0;
};

}  // namespace fjord::coordinator

#endif  // FJORD_BROKER_COORDINATOR_GROUP_H_
