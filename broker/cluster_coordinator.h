// ClusterCoordinator: the consumer-group coordinator in cluster mode. A
// group's coordinator is the broker that leads the group's partition of
// __consumer_offsets (a replicated cluster topic, created through the
// controller on first demand). This class
//  - asks the controller for __consumer_offsets when a group call finds it
//    missing (offsets.topic.num.partitions partitions, replication factor
//    offsets.topic.replication.factor capped at the live brokers);
//  - opens the GroupCoordinator (none of its partitions loaded) once the
//    topic exists, and then, on its own thread, loads each partition this
//    broker comes to lead (once the ReplicaManager has taken the leader's
//    role at the epoch the current view gives) and unloads each it stops
//    leading;
//  - tells anyone (the gRPC service, the Kafka FindCoordinator) where a
//    group's coordinator is, from the current metadata view.
// broker/coordinator/README.md describes the whole.
//
// Thread-safe. Loads run on the object's thread; Locate and coordinator()
// are cheap and may be called from any thread.
#ifndef FJORD_BROKER_CLUSTER_COORDINATOR_H_
#define FJORD_BROKER_CLUSTER_COORDINATOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/broker_config.h"
#include "broker/cluster_member.h"
#include "broker/coordinator/group_coordinator.h"
#include "broker/coordinator/topic_source.h"
#include "broker/internal/view_follower.h"
#include "broker/replica_manager.h"
#include "broker/topic_manager.h"
#include "log/clock.h"

namespace fjord::broker {

// Where a group's coordinator is.
struct CoordinatorLocation {
  int32_t partition = 0;  // of __consumer_offsets
  int32_t node_id = -1;
  int32_t leader_epoch = 0;
  cluster::Endpoint kafka;  // its advertised Kafka listener
  cluster::Endpoint grpc;   // its advertised gRPC address
};

class ClusterCoordinator {
 public:
  // All pointers must outlive the object; `replicas` must be started
  // before Start().
  ClusterCoordinator(const BrokerConfig* config, TopicManager* topics,
                     ClusterMember* cluster, ReplicaManager* replicas,
                     log::Clock* clock = log::SystemClock::Get());
  ~ClusterCoordinator();
  ClusterCoordinator(const ClusterCoordinator&) = delete;
  ClusterCoordinator& operator=(const ClusterCoordinator&) = delete;

  // Starts following leadership of __consumer_offsets (a thread, woken by
  // every new metadata view and every 100 ms). Stop() ends it; idempotent.
  void Start();
  void Stop();

  // nullptr until __consumer_offsets exists in the cluster (then it stays
  // until the object is destroyed).
  coordinator::GroupCoordinator* coordinator() const {
    return coordinator_.load(std::memory_order_acquire);
  }

  // The coordinator of `group_id` in the current view: kUnavailable with
  // reason COORDINATOR_NOT_AVAILABLE if __consumer_offsets does not exist
  // yet (its creation is requested), if the group's partition has no live
  // leader, or if this broker is not serving (its view may be stale).
  absl::StatusOr<CoordinatorLocation> Locate(std::string_view group_id);

  // Asks the controller for __consumer_offsets if the view lacks it and no
  // request of this broker is in flight (at most one a second).
  void RequestOffsetsTopic();

 private:
  struct Creation;  // shared with the ClusterMember's callback
  absl::StatusOr<CoordinatorLocation> LocatePartition(
      const cluster::ClusterSnapshot& s, int32_t p) const;
  // For GroupCoordinator's RemoteCoordinator hook.
  std::optional<std::string> RemoteOf(int32_t p) const;
  void Sync();

  const BrokerConfig* const config_;
  ClusterMember* const cluster_;
  ReplicaManager* const replicas_;
  log::Clock* const clock_;
  const std::shared_ptr<Creation> creation_;
  std::unique_ptr<coordinator::TopicSource> source_;

  // Set once by the thread (Sync); read anywhere.
  std::unique_ptr<coordinator::GroupCoordinator> owned_;
  std::atomic<coordinator::GroupCoordinator*> coordinator_{nullptr};

  // Runs Sync on the object's thread.
  internal::ViewFollower follower_;
};

// The coordinator's view of a broker's topics in a cluster: partition
// counts from the cluster's metadata (a topic need not have a replica
// here), logs from `topics`, appends reported to the ReplicaManager (the
// high watermark of an isr of one moves), and WaitReplicated waiting on the
// partition's committed watermark, which the ReplicaManager moves to the
// high watermark. All pointers must outlive it.
std::unique_ptr<coordinator::TopicSource> MakeClusterTopicSource(
    TopicManager* topics, ClusterMember* cluster, ReplicaManager* replicas);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_CLUSTER_COORDINATOR_H_
