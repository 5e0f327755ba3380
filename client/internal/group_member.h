// GroupMember: a subscribed Consumer's membership in its consumer group,
// the client half of the protocol in proto/coordinator.proto. It owns two
// threads of its own:
//
//  - the heartbeat thread joins (epoch 0, a member id made here so a
//    retried join is idempotent), heartbeats every interval the
//    coordinator returns (sooner after the owned set changed), reconciles
//    each answer (Reconcile below), fetches the committed offsets of newly
//    assigned partitions, leaves the group when the application has not
//    polled for max.poll.interval.ms, and rejoins after a fence;
//  - the commit thread sends commits one at a time, in the order they were
//    queued, retrying what can be retried until their deadline.
//
// What the application thread must do (rebalance callbacks, commits of
// revoked partitions) is handed to the Consumer as GroupEvents, which Poll
// takes in order. The member stops a partition's fetching through
// GroupHost at once when it learns the partition goes away, and lists a
// revoked partition as owned until the consumer reports it Revoked (after
// its callback and commit), so the coordinator hands it on only then.
//
// Generations: every time the member loses its partitions (fence, session
// loss, leave) its generation grows. A commit carries the generation it was
// made in and is refused once that generation is over, so a commit of a
// partition lost meanwhile cannot overwrite its new owner's.
//
// Thread-safe. Lock order: GroupMember::mu_, then whatever GroupHost takes
// (the Consumer's mu_); the Consumer never calls the member while holding
// its own lock. No lock is held during a gRPC call.
#ifndef FJORD_CLIENT_INTERNAL_GROUP_MEMBER_H_
#define FJORD_CLIENT_INTERNAL_GROUP_MEMBER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/internal/backoff.h"
#include "client/internal/config.h"
#include "client/internal/coordinator_client.h"
#include "fjord/consumer.h"

namespace fjord::client::internal {

using PartitionSet = std::set<TopicPartition>;

// What one heartbeat answer means for a member that owns `owned`, of which
// `unstarted` are still waiting for their committed offsets (the
// application has not seen them) and `revoke_requested` were already
// handed to the application to revoke.
struct Reconciliation {
  // In `assigned` and not owned: start them (owned from now on).
  std::vector<TopicPartition> newly_assigned;
  // In `revoking`, owned, started, not yet requested: the application must
  // revoke them.
  std::vector<TopicPartition> to_revoke;
  // In `revoking` but never started: released at once.
  std::vector<TopicPartition> released_unstarted;
  // Owned but in neither list (only after a fence): lost.
  std::vector<TopicPartition> gone;
};
Reconciliation Reconcile(const PartitionSet& owned,
                         const PartitionSet& unstarted,
                         const PartitionSet& revoke_requested,
                         const PartitionSet& assigned,
                         const PartitionSet& revoking);

// For the application thread, in order.
struct GroupEvent {
  enum class Kind { kAssigned, kRevoke, kLost };
  Kind kind = Kind::kAssigned;
  std::vector<TopicPartition> partitions;  // sorted
  OffsetMap committed;  // kAssigned: the committed offsets (absent: none)
  uint64_t generation = 0;
};

// The Consumer's side, called from the member's threads with the member's
// lock held (so it must not call the member).
class GroupHost {
 public:
  virtual ~GroupHost() = default;
  // Stop fetching `partitions` and drop what was prefetched for them: they
  // are being revoked or are lost. Poll returns nothing more of them.
  virtual void StopPartitions(
      const std::vector<TopicPartition>& partitions) = 0;
  // An event was queued or status() changed: wake a waiting Poll.
  virtual void WakePoll() = 0;
};

class GroupMember {
 public:
  // A generation no subscription has: commits of a consumer using Assign
  // (a "simple" consumer: member id "", epoch -1).
  static constexpr uint64_t kSimple = 0;

  // Starts the threads. `host` must outlive the member.
  GroupMember(const ConsumerConfig& config, GroupHost* host);
  GroupMember(const GroupMember&) = delete;
  GroupMember& operator=(const GroupMember&) = delete;
  ~GroupMember();

  // Joins with `topics` (sorted, unique, not empty), or changes the
  // subscription of a member already in the group (heartbeat at once).
  void Subscribe(std::vector<std::string> topics);
  // Leaves the group (LeaveGroup; `temporary` for a static member that
  // comes back), bounded by request.timeout.ms, and forgets the
  // subscription, the owned partitions and the queued events. OK when not
  // subscribed; the coordinator's error otherwise (the member is gone
  // locally all the same).
  absl::Status Leave(bool temporary);
  bool subscribed() const;
  std::vector<std::string> subscription() const;
  GroupMemberMetadata metadata() const;
  uint64_t generation() const;

  // Poll brackets: time outside them counts towards max.poll.interval.ms.
  // A Poll after the member left for that reason rejoins.
  void PollStarted();
  void PollEnded();

  std::optional<GroupEvent> TakeEvent();
  // The error Poll reports: the coordinator unreachable for the session
  // timeout (kUnavailable, while the member keeps rejoining), or a join the
  // coordinator refuses for good (another process took the instance id, a
  // session timeout or assignor the broker refuses). OK otherwise.
  absl::Status status() const;
  // The application revoked `partitions` (callback and commit done): stop
  // listing them as owned and heartbeat at once. Ignored if `generation`
  // is over (they were lost meanwhile).
  void Revoked(const std::vector<TopicPartition>& partitions,
               uint64_t generation);

  // Queues a commit of `offsets` made in `generation` (kSimple when not
  // subscribed). `done` runs once on the commit thread (or in Stop, with
  // kCancelled), with no lock held: OK once the coordinator stored the
  // offsets; kFailedPrecondition if the generation is over or the
  // coordinator fenced the member; the coordinator's error (kUnavailable,
  // kDeadlineExceeded once request.timeout.ms passed, kInvalidArgument,
  // kNotFound, ...) otherwise.
  void EnqueueCommit(OffsetMap offsets, uint64_t generation,
                     std::function<void(const absl::Status&)> done);
  // Waits until every queued commit is done, up to `timeout_ms`.
  void DrainCommits(int64_t timeout_ms);
  // The group's committed offsets of `partitions` (absent: none), retried
  // until `timeout_ms` passes.
  absl::StatusOr<OffsetMap> FetchCommitted(
      const std::vector<TopicPartition>& partitions, int64_t timeout_ms);

  // Stops the threads; queued commits fail with kCancelled. Does not leave
  // the group (Leave does). Idempotent.
  void Stop();

 private:
  struct CommitJob {
    OffsetMap offsets;
    uint64_t generation = kSimple;
    int64_t deadline_ms = 0;
    std::function<void(const absl::Status&)> done;
  };

  void HeartbeatLoop();
  void CommitLoop();
  void Heartbeat() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FetchUnstartedOffsets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyHeartbeat(const ::fjord::coordinator::v1::HeartbeatResponse& resp,
                      int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HeartbeatFailed(const absl::Status& s, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives up every partition (they are lost), ends the generation and
  // makes the next heartbeat a join.
  void LoseAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // LeaveGroup, with mu_ released during the call.
  absl::Status SendLeave(bool temporary) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RunCommit(const CommitJob& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Queue(GroupEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int32_t HeartbeatTimeoutMs() const;

  const ConsumerConfig config_;
  GroupHost* const host_;
  CoordinatorClient coordinator_;

  mutable absl::Mutex mu_;
  // Signalled on every change the threads (or Leave, DrainCommits) wait
  // for.
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Membership.
  bool active_ ABSL_GUARDED_BY(mu_) = false;  // subscribed
  std::vector<std::string> topics_ ABSL_GUARDED_BY(mu_);
  const std::string member_id_;  // made here, kept for the consumer's life
  int32_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;     // epoch_ > 0 is current
  bool join_sent_ ABSL_GUARDED_BY(mu_) = false;  // the coordinator may know us
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  PartitionSet owned_ ABSL_GUARDED_BY(mu_);
  PartitionSet unstarted_ ABSL_GUARDED_BY(mu_);  // owned, offsets not fetched
  PartitionSet revoke_requested_ ABSL_GUARDED_BY(mu_);  // owned, revoking
  std::deque<GroupEvent> events_ ABSL_GUARDED_BY(mu_);

  // Heartbeat timing.
  bool heartbeat_now_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeat_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_heartbeat_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t offsets_retry_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int32_t interval_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_ok_ms_ ABSL_GUARDED_BY(mu_) = 0;  // last answered heartbeat
  int64_t subscribed_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  uint64_t subscription_version_ ABSL_GUARDED_BY(mu_) = 0;

  // max.poll.interval.ms.
  bool in_poll_ ABSL_GUARDED_BY(mu_) = false;
  int64_t last_poll_ms_ ABSL_GUARDED_BY(mu_) = 0;
  bool left_for_poll_timeout_ ABSL_GUARDED_BY(mu_) = false;

  // What Poll reports.
  absl::Status unreachable_ ABSL_GUARDED_BY(mu_);
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);

  // Commits.
  std::deque<CommitJob> commits_ ABSL_GUARDED_BY(mu_);
  bool commit_running_ ABSL_GUARDED_BY(mu_) = false;
  Backoff commit_backoff_ ABSL_GUARDED_BY(mu_);

  std::thread heartbeat_thread_;
  std::thread commit_thread_;
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_GROUP_MEMBER_H_
