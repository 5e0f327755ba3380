// ReplicaManager: this broker's side of replication in a cluster, in the
// manner of Kafka's ReplicaManager. For every partition with a replica
// here it follows what etcd says (through the ClusterMember's metadata
// cache):
//
//  - leader (leader == this node, at leader_epoch): the log stamps that
//    epoch into its batches and records where the epoch starts
//    (log::Log::BecomeLeader); followers' fetches tell it how far each has
//    got (LeaderState); the high watermark, the smallest log end of the
//    in-sync replicas, is what consumers may read and what acks=all waits
//    for (it drives the Partition's committed watermark); a follower not
//    caught up for replica.lag.time.max.ms leaves the isr and one that
//    caught up joins it, written to etcd by this leader
//    (ClusterMember::AlterIsr, guarded by its epoch and registration);
//  - follower of another broker: the log refuses produce; a ReplicaFetcher
//    for that leader truncates it where the histories diverge and fetches;
//  - no leader (-1): the log refuses produce; nothing is fetched.
//
// The request handler asks it, per partition, whether this broker may take
// a produce, serve a consumer's read (and up to where), and records a
// follower's fetch.
//
// Thread-safe. Role changes and isr writes (blocking etcd calls) run on the
// manager's own thread; the request path takes only a reader lock on the
// partition map and the partition's own mutex.
#ifndef FJORD_BROKER_REPLICA_MANAGER_H_
#define FJORD_BROKER_REPLICA_MANAGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "broker/cluster/metadata_cache.h"
#include "broker/internal/view_follower.h"
#include "broker/kafka/messages.h"
#include "broker/leader_state.h"
#include "broker/partition.h"
#include "broker/replica_fetcher.h"
#include "broker/topic_manager.h"
#include "log/types.h"

namespace fjord::broker {

class ClusterMember;

struct ReplicaManagerOptions {
  int32_t node_id = 0;
  // min.insync.replicas (the broker's; a topic's own overrides it).
  int32_t min_insync_replicas = 2;
  // replica.lag.time.max.ms
  int64_t replica_lag_time_max_ms = 30000;
  ReplicaFetcherOptions fetcher;
  // How often isrs are re-checked and roles re-applied without a change.
  absl::Duration tick = absl::Milliseconds(100);
};

class ReplicaManager {
 public:
  // All pointers must outlive the manager; `io` must run until Stop().
  ReplicaManager(asio::io_context& io, TopicManager* topics,
                 ClusterMember* cluster, ReplicaManagerOptions options);
  ~ReplicaManager();
  ReplicaManager(const ReplicaManager&) = delete;
  ReplicaManager& operator=(const ReplicaManager&) = delete;

  // Subscribes to the metadata cache and starts the manager's thread.
  void Start();
  // Stops fetching and the thread, and fails every parked acks=all produce
  // (NOT_LEADER_OR_FOLLOWER). Idempotent.
  void Stop();

  // ---- the request path ----

  // A Kafka error code: kNone if this broker leads `tp` now and may take
  // an append with `acks`; for acks=all (-1) the committed isr must have at
  // least `min_insync` members (-1: the broker's min.insync.replicas), else
  // NOT_ENOUGH_REPLICAS. NOT_LEADER_OR_FOLLOWER elsewhere,
  // LEADER_NOT_AVAILABLE with no leader.
  int16_t CheckProduce(const TopicPartition& tp, int16_t acks,
                       int32_t min_insync) const;
  // The same check once an acks=all append is committed:
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND if the isr shrank below the minimum
  // meanwhile (the batch is in the log but not as replicated as asked).
  int16_t CheckCommitted(const TopicPartition& tp, int32_t min_insync) const;
  // A leader appended to `p`: its high watermark may move (an isr of one).
  void Appended(Partition& p);

  struct ReadAccess {
    int16_t error = 0;
    Offset high_watermark{0};  // what a consumer may read up to
  };
  // Whether a consumer may read `tp` here (only its leader serves it), and
  // up to where. `current_leader_epoch` (-1: unchecked) older than the
  // leader's is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
  ReadAccess CheckRead(const TopicPartition& tp,
                       int32_t current_leader_epoch) const;
  // A follower's fetch of `p` at `fetch_offset`: recorded (high watermark,
  // isr expansion), and the high watermark to report. OFFSET_OUT_OF_RANGE
  // for an offset past the log end (the follower must truncate first).
  ReadAccess FollowerFetch(Partition& p, int32_t replica_id,
                           int32_t current_leader_epoch, int64_t fetch_offset);
  // OffsetForLeaderEpoch on the leader: where `leader_epoch` ends here.
  kafka::OffsetForLeaderEpochResponse::Partition EndOffsetForEpoch(
      const TopicPartition& tp, int32_t current_leader_epoch,
      int32_t leader_epoch) const;

  // For tests and status: this broker's role for `tp`.
  enum class Role { kNone, kLeader, kFollower, kNoLeader };
  Role role(const TopicPartition& tp) const;
  // The epoch at which this broker has taken the leader's role for `tp`
  // (its log takes appends stamped with it); nullopt if it does not lead
  // it. The group coordinator loads a __consumer_offsets partition once
  // this names the epoch the current view gives (ClusterMember::Leads).
  std::optional<LeaderEpoch> LeaderEpochOf(const TopicPartition& tp) const;

 private:
  // One local partition's replication state.
  struct Replica {
    explicit Replica(std::shared_ptr<Partition> p) : partition(std::move(p)) {}
    const std::shared_ptr<Partition> partition;
    mutable absl::Mutex mu;
    Role role ABSL_GUARDED_BY(mu) = Role::kNone;
    LeaderEpoch epoch ABSL_GUARDED_BY(mu) = kNoLeaderEpoch;
    int32_t leader ABSL_GUARDED_BY(mu) = -1;
    // While leading.
    std::optional<LeaderState> leader_state ABSL_GUARDED_BY(mu);
    // What this replica knows: as leader its own, as follower what the
    // leader last said (capped at its log end).
    Offset high_watermark ABSL_GUARDED_BY(mu){0};
    // The etcd revision of this leader's last isr write: a snapshot older
    // than it shows a stale isr.
    int64_t isr_written_revision ABSL_GUARDED_BY(mu) = 0;
    // No isr write before this (a failed one backs off).
    int64_t isr_retry_at_ms ABSL_GUARDED_BY(mu) = 0;
  };

  std::shared_ptr<Replica> Find(const TopicPartition& tp) const;
  int16_t CheckEpochLocked(const Replica& r,
                           int32_t current_leader_epoch) const;
  int32_t MinInsync(int32_t topic_min) const;
  // One turn of the manager's thread: apply a new view (or, every second,
  // the current one again), then propose isr changes.
  void Step(bool changed);
  void Apply(const cluster::ClusterSnapshot& s);
  void ApplyPartition(const std::shared_ptr<Replica>& r,
                      const cluster::PartitionState& p);
  void BecomeLeader(Replica& r, const cluster::PartitionState& p)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu);
  void BecomeFollower(Replica& r, const cluster::PartitionState& p)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu);
  // Stops leading (failing parked acks=all) or following.
  void StepDown(Replica& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu);
  void ProposeIsrChanges();
  // Moves the partition's high watermark; wakes acks=all and consumers.
  void AdvanceHighWatermark(Replica& r, Offset leader_end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(r.mu);
  std::shared_ptr<ReplicaFetcher> FetcherFor(int32_t leader);
  void DropIdleFetchers();
  int64_t NowMs() const;

  asio::io_context& io_;
  TopicManager* const topics_;
  ClusterMember* const cluster_;
  const ReplicaManagerOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<TopicPartition, std::shared_ptr<Replica>> replicas_
      ABSL_GUARDED_BY(mu_);

  // The manager's thread only (and Stop, after joining it).
  std::map<int32_t, std::shared_ptr<ReplicaFetcher>> fetchers_;

  // Runs Step on the manager's thread.
  internal::ViewFollower follower_;
  int64_t last_apply_ms_ = 0;  // the manager's thread only
  bool stopped_ = false;       // the owner's (Stop)
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_REPLICA_MANAGER_H_
