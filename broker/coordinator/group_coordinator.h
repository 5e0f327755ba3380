// GroupCoordinator: every consumer group this broker coordinates, over any
// transport (the gRPC service in broker/coordinator_service.* is one).
// Membership is soft state in memory (ConsumerGroup); committed offsets and
// group metadata are records in the compacted topic __consumer_offsets
// (records.h), appended (and, by default, flushed) before a commit is
// acknowledged, and replayed by Open. On a single node it coordinates
// every group (all partitions are loaded at Open); in a cluster it
// coordinates the groups of the __consumer_offsets partitions this broker
// leads: the broker loads a partition (LoadPartition) when it becomes its
// leader and unloads it when it stops, and a commit is acknowledged once
// the partition's in-sync replicas hold it. Session and rebalance timeouts run
// on an injectable clock, checked at every call on a group and by a timer
// thread (or by Tick()).
//
// Thread-safe. Lock order: append_mu_[p] (one per __consumer_offsets
// partition, serializing its writes), then mu_ (all groups), then whatever
// the TopicSource and the logs take. Heartbeats take only mu_; commits hold
// mu_ only to validate and to apply, not while appending; ResetOffsets and
// DeleteGroup (admin operations) hold it across their append.
#ifndef FJORD_BROKER_COORDINATOR_GROUP_COORDINATOR_H_
#define FJORD_BROKER_COORDINATOR_GROUP_COORDINATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/coordinator/assignor.h"
#include "broker/coordinator/group.h"
#include "broker/coordinator/topic_source.h"
#include "log/clock.h"

namespace fjord::coordinator {

// Broker settings, by Kafka property name (BrokerConfig parses them).
struct CoordinatorOptions {
  // offsets.topic.num.partitions: used when the broker creates
  // __consumer_offsets; an existing topic keeps its count.
  int32_t offsets_topic_partitions = 50;
  // offsets.topic.segment.bytes.
  int64_t offsets_topic_segment_bytes = 100 << 20;
  // offsets.commit.required.acks: -1 acknowledges a commit once its record
  // is appended and fsynced and, in a cluster, held by the partition's
  // in-sync replicas; 1 once appended (the topic's flush.ms makes it
  // durable later).
  int32_t commit_required_acks = -1;
  // offsets.commit.timeout.ms: how long a commit waits for the in-sync
  // replicas (cluster mode) before it fails with COORDINATOR_NOT_AVAILABLE
  // (retriable; the records may still be replicated later).
  int64_t commit_timeout_ms = 5'000;
  // offsets.topic.replication.factor: replicas of __consumer_offsets when
  // a cluster creates it, capped at the live brokers then (Kafka's
  // behaviour before 2.x). Unused on a single node.
  int32_t offsets_topic_replication_factor = 3;
  // offset.metadata.max.bytes.
  int32_t offset_metadata_max_bytes = 4096;
  // group.min.session.timeout.ms, group.max.session.timeout.ms,
  // group.consumer.session.timeout.ms (a member asking for 0 gets it),
  // group.consumer.heartbeat.interval.ms.
  int32_t min_session_timeout_ms = 6'000;
  int32_t max_session_timeout_ms = 1'800'000;
  int32_t default_session_timeout_ms = 45'000;
  int32_t heartbeat_interval_ms = 5'000;
  // A member asking for rebalance timeout 0 gets this (Kafka's
  // max.poll.interval.ms default).
  int32_t default_rebalance_timeout_ms = 300'000;
  // group.consumer.assignors: the first is the default.
  std::vector<std::string> assignors = {"uniform", "range"};
  // group.coordinator.timer.interval.ms (fjord's): how often the timer
  // thread expires members of groups nobody calls on.
  int64_t timer_interval_ms = 100;
  bool start_timer = true;

  // kInvalidArgument naming the first bad setting.
  absl::Status Validate() const;
};

// The coordinator of a group's __consumer_offsets partition, when it is not
// this broker: its "host:port"; "" when no broker leads the partition now
// (COORDINATOR_NOT_AVAILABLE); nullopt when this broker leads it. Must be
// thread-safe and must not call back into the coordinator.
using RemoteCoordinator = std::function<std::optional<std::string>(int32_t)>;

struct LoadReport {
  int partitions = 0;
  int64_t records = 0;
  int64_t skipped = 0;  // records that did not decode (logged)
  int groups = 0;
  int64_t offsets = 0;
  int64_t elapsed_ms = 0;
};

struct OffsetCommit {
  TopicPartition tp;
  int64_t offset = 0;
  std::string metadata;
};

struct CommitRequest {
  std::string group_id;
  std::string member_id;
  int32_t member_epoch = -1;
  std::vector<OffsetCommit> offsets;
};

// A topic and some of its partitions; none listed: all of them.
struct PartitionFilter {
  std::string topic;
  std::vector<int32_t> partitions;
};

struct CommittedOffset {
  TopicPartition tp;
  OffsetAndMetadata value;  // offset -1: nothing committed
};

struct GroupSummary {
  std::string group_id;
  GroupState state = GroupState::kEmpty;
  int members = 0;
};

struct MemberDescription {
  Member member;
  PartitionSet target;
  PartitionSet pending;
};

struct PartitionLag {
  TopicPartition tp;
  int64_t committed_offset = -1;
  int64_t log_end_offset = -1;
  int64_t lag = -1;
  std::string owner;
  std::string metadata;
};

struct GroupDescription {
  std::string group_id;
  GroupState state = GroupState::kEmpty;
  int32_t group_epoch = 0;
  int32_t assignment_epoch = 0;
  std::string assignor;
  int32_t offsets_partition = 0;
  std::vector<MemberDescription> members;
  std::vector<PartitionLag> partitions;  // sorted
};

enum class ResetStrategy { kEarliest, kLatest, kOffset, kTimestamp };

struct ResetRequest {
  std::string group_id;
  std::vector<PartitionFilter> partitions;  // empty: every committed one
  ResetStrategy strategy = ResetStrategy::kEarliest;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  bool dry_run = false;
};

struct OffsetChange {
  TopicPartition tp;
  int64_t previous_offset = -1;
  int64_t new_offset = 0;
};

struct CoordinatorStats {
  int64_t groups = 0;
  int64_t members = 0;
  uint64_t heartbeats = 0;
  uint64_t rebalances = 0;       // target assignments computed
  uint64_t commits = 0;          // CommitOffsets calls acknowledged
  uint64_t members_expired = 0;  // session or rebalance timeouts
};

class GroupCoordinator {
 public:
  // Replays __consumer_offsets (which must exist in `topics`: the broker
  // creates it) into the groups' offsets, then starts the timer thread.
  // `topics` and `clock` must outlive the coordinator. kFailedPrecondition
  // if __consumer_offsets is missing; a log read error fails the open,
  // records that do not decode are skipped and counted.
  static absl::StatusOr<std::unique_ptr<GroupCoordinator>> Open(
      const CoordinatorOptions& options, TopicSource* topics,
      log::Clock* clock = log::SystemClock::Get(),
      RemoteCoordinator remote = nullptr, LoadReport* report = nullptr);
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;
  // Cluster mode: a coordinator of `partitions` partitions of which none is
  // loaded yet (every group call answers COORDINATOR_LOAD_IN_PROGRESS until
  // LoadPartition), and its timer thread. The same lifetimes as Open.
  static absl::StatusOr<std::unique_ptr<GroupCoordinator>> OpenUnloaded(
      const CoordinatorOptions& options, TopicSource* topics,
      int32_t partitions, log::Clock* clock, RemoteCoordinator remote);
  // Stops the timer thread.
  ~GroupCoordinator();

  // Cluster mode. This broker leads partition `p` of __consumer_offsets at
  // `leader_epoch`: drops what it had of the partition's groups, replays
  // the partition's log from its start to its end (calls for its groups
  // meanwhile answer COORDINATOR_LOAD_IN_PROGRESS), then serves them. The
  // log must already take this broker's appends (it leads at that epoch).
  // Called from one thread at a time (with UnloadPartition).
  absl::Status LoadPartition(int32_t p, int32_t leader_epoch,
                             LoadReport* report = nullptr);
  // This broker no longer leads `p`: drops its groups (offsets, members);
  // calls for them answer as CheckCoordinator says. A commit in flight on
  // it is not applied here (COORDINATOR_NOT_AVAILABLE).
  void UnloadPartition(int32_t p);
  // The leader epoch `p` was loaded (or is being loaded) at; nullopt if
  // this broker does not coordinate it.
  std::optional<int32_t> LoadedEpoch(int32_t p) const;

  // Every call below first answers NOT_COORDINATOR (with the coordinator's
  // address) for a group this broker does not coordinate, and
  // kInvalidArgument for an empty or over-long (255 bytes) group id.
  absl::StatusOr<HeartbeatResponse> Heartbeat(const HeartbeatRequest& request);
  absl::Status LeaveGroup(std::string_view group_id, std::string_view member_id,
                          bool temporary);
  absl::Status CommitOffsets(const CommitRequest& request);
  absl::StatusOr<std::vector<CommittedOffset>> FetchOffsets(
      std::string_view group_id,
      const std::vector<PartitionFilter>& partitions);
  std::vector<GroupSummary> ListGroups();
  absl::StatusOr<GroupDescription> DescribeGroup(std::string_view group_id);
  absl::StatusOr<std::vector<OffsetChange>> ResetOffsets(
      const ResetRequest& request);
  absl::Status DeleteGroup(std::string_view group_id);

  // The group's partition of __consumer_offsets.
  int32_t PartitionFor(std::string_view group_id) const;
  // OK if this broker coordinates the group; NOT_COORDINATOR otherwise.
  absl::Status CheckCoordinator(std::string_view group_id) const;
  int32_t offsets_partitions() const { return partitions_; }

  // Expires members of every group now (what the timer thread does).
  void Tick();
  CoordinatorStats Stats() const;

 private:
  using GroupMap =
      std::map<std::string, std::unique_ptr<ConsumerGroup>, std::less<>>;
  enum class Ownership { kNotOwned, kLoading, kOwned };
  struct PartitionOwnership {
    Ownership state = Ownership::kNotOwned;
    int32_t epoch = -1;
    // Grows at every load and unload: a commit that validated under one
    // generation applies its records only under the same.
    uint64_t generation = 0;
  };

  GroupCoordinator(const CoordinatorOptions& options, TopicSource* topics,
                   log::Clock* clock, RemoteCoordinator remote,
                   int32_t partitions);
  absl::Status Load(LoadReport* report);
  // Applies partition `p`'s records, from `log`'s start to its end, to
  // `groups` (which only the caller can reach).
  absl::Status Replay(int32_t p, log::Log& log, GroupMap* groups,
                      LoadReport* report);
  // OK if partition `p` is loaded here; COORDINATOR_LOAD_IN_PROGRESS or
  // COORDINATOR_NOT_AVAILABLE otherwise.
  absl::Status CheckOwnedLocked(int32_t p) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits, per commit_required_acks and commit_timeout_ms, until the
  // in-sync replicas hold partition `p` up to `end`; a failure is
  // COORDINATOR_NOT_AVAILABLE. REQUIRES: mu_ not held.
  absl::Status AwaitReplicated(int32_t p, Offset end);
  absl::Status CheckGroup(std::string_view group_id) const;
  ConsumerGroup* Find(std::string_view group_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ConsumerGroup* FindOrCreate(std::string_view group_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Expire(ConsumerGroup* group, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DisposeIfUnused(ConsumerGroup* group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewMemberId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ValidateOffset(const OffsetCommit& c) const;
  // The partitions `filters` name, each checked to exist.
  absl::StatusOr<std::vector<TopicPartition>> Resolve(
      const std::vector<PartitionFilter>& filters) const;
  struct AppendResult {
    bool appended = false;  // the records are in the log
    absl::Status status;    // of the append, or else of the flush
    Offset end{0};          // when appended: the offset after the batch
  };
  // Appends one batch of (key, value or tombstone) records to partition
  // `p` of __consumer_offsets and flushes it per commit_required_acks. A
  // failed append appends nothing; a failed flush leaves the records
  // appended (the caller applies them and reports the error).
  // REQUIRES: append_mu_[p] held.
  AppendResult Append(
      int32_t p,
      const std::vector<std::pair<std::string, std::optional<std::string>>>&
          records);
  void TimerLoop();

  const CoordinatorOptions options_;
  TopicSource* const topics_;
  log::Clock* const clock_;
  const RemoteCoordinator remote_;
  const int32_t partitions_;
  std::vector<std::unique_ptr<Assignor>> assignors_;
  GroupConfig group_config_;
  std::unique_ptr<absl::Mutex[]> append_mu_;
  // Of __consumer_offsets; logs_[p] is guarded by append_mu_[p] (set when
  // the partition is loaded).
  std::vector<std::shared_ptr<log::Log>> logs_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<ConsumerGroup>, std::less<>> groups_
      ABSL_GUARDED_BY(mu_);
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
  std::vector<PartitionOwnership> owned_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> heartbeats_{0}, rebalances_{0}, commits_{0},
      expired_{0};

  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread timer_;
};

}  // namespace fjord::coordinator

#endif  // FJORD_BROKER_COORDINATOR_GROUP_COORDINATOR_H_
