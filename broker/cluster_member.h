// ClusterMember: this broker's part in a cluster (cluster mode: when
// metadata.etcd.endpoints is set). It owns the etcd connection, the
// MetadataCache, the BrokerSession (registration) and the Controller
// candidate of broker/cluster/, and keeps local logs for the topics that
// have a replica here. The request handler asks it who the brokers and
// leaders are, and through it asks the controller to create or delete
// topics. broker/cluster/README.md describes the whole.
//
// Thread-safe. Topic operations complete on a background thread.
#ifndef FJORD_BROKER_CLUSTER_MEMBER_H_
#define FJORD_BROKER_CLUSTER_MEMBER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/broker_config.h"
#include "broker/cluster/broker_session.h"
#include "broker/cluster/controller.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata_cache.h"
#include "broker/topic_manager.h"
#include "log/types.h"

namespace fjord::broker {

class ClusterMember {
 public:
  // Connects to etcd (kUnavailable, naming the endpoints, if none answers
  // within metadata.etcd.connect.timeout.ms) and reads the cluster's
  // metadata. Nothing is registered yet.
  static absl::StatusOr<std::unique_ptr<ClusterMember>> Connect(
      const BrokerConfig& config);
  ~ClusterMember();
  ClusterMember(const ClusterMember&) = delete;
  ClusterMember& operator=(const ClusterMember&) = delete;

  // Registers this broker with the addresses clients and peers use
  // (kAlreadyExists naming the holder if another broker has the node id),
  // starts the controller candidate and creates local logs for the topics
  // with a replica here, now and as they come. `topics` must outlive the
  // member. `on_fatal` is called (from a background thread) if the broker
  // must stop: its node id was taken while it was cut off from etcd.
  absl::Status Join(const HostPort& kafka, const HostPort& grpc,
                    TopicManager* topics,
                    std::function<void(const absl::Status&)> on_fatal);
  // Deregisters at once (revokes the lease, so the controller moves
  // leadership without waiting for it to expire) and stops. Idempotent.
  void Leave();

  int32_t node_id() const { return node_id_; }
  std::shared_ptr<const cluster::ClusterSnapshot> Snapshot() const {
    return cache_->Snapshot();
  }
  // True while this broker's registration is known to be in etcd and its
  // view (Snapshot()) is at least as new as that registration. When false
  // its view may be stale (it may have been declared dead, and after it
  // registers again its view may still show leaderships the cluster moved
  // while it was away), so it must not tell clients who leads, nor lead.
  bool serving() const;
  // serving(), and the current view names this broker leader of `tp` at
  // `leader_epoch`: what a leader checks before it takes a write or
  // serves a read (its role is applied from an earlier view).
  bool Leads(const TopicPartition& tp, LeaderEpoch leader_epoch) const;
  bool is_controller() const;

  // Asks the controller to create a topic (replication_factor -1: the
  // controller's default.replication.factor). With wait == 0 only submits
  // (a pending or existing topic is not an error). `done` is called once,
  // from a background thread: OK once the topic exists, else the refusal
  // (kInvalidArgument for replication factor or partitions, kAlreadyExists,
  // kFailedPrecondition if a request is pending), kDeadlineExceeded if the
  // controller did not answer in `wait`, or kUnavailable.
  using Done = std::function<void(absl::Status)>;
  void CreateTopic(std::string name, int32_t partitions,
                   int32_t replication_factor,
                   std::map<std::string, std::string> configs,
                   absl::Duration wait, Done done);
  // The same for deletion: OK once the topic is gone; kNotFound.
  void DeleteTopic(std::string name, absl::Duration wait, Done done);

  // A block [first, end) of producer ids no other broker gets.
  absl::StatusOr<std::pair<int64_t, int64_t>> ReserveProducerIds(int64_t size);

  // The leader's isr change (Kafka's AlterPartition, written directly):
  // sets the isr of `tp` in etcd, provided this broker leads it at
  // `leader_epoch` in the current snapshot, guarded by the topic's mod
  // revision and by this broker's registration holding its lease.
  // kFailedPrecondition if it does not lead it (at that epoch), kAborted if
  // the guard failed (the topic changed: retry on a newer snapshot),
  // kUnavailable if etcd cannot be reached or the session is lost.
  // Returns the etcd revision of the write. Blocking (an etcd transaction).
  absl::StatusOr<int64_t> AlterIsr(const TopicPartition& tp,
                                   int32_t leader_epoch,
                                   std::vector<int32_t> isr);

  cluster::MetadataCache* metadata() { return cache_.get(); }

 private:
  ClusterMember(const BrokerConfig& config);
  void RunJobs();
  void RunReplicaSync();
  void SyncLocalTopics(const cluster::ClusterSnapshot& s);

  const int32_t node_id_;
  const std::string data_dir_;
  const cluster::KeyLayout keys_;
  const cluster::ControllerOptions controller_options_;
  const int64_t session_ttl_seconds_;
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::MetadataCache> cache_;
  std::unique_ptr<cluster::BrokerSession> session_;
  std::unique_ptr<cluster::Controller> controller_;
  TopicManager* topics_ = nullptr;
  int listener_ = -1;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool left_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool sync_needed_ ABSL_GUARDED_BY(mu_) = false;
  // Cluster topics this process has seen; only those are deleted locally
  // when they leave the cluster (a local topic etcd never had is left).
  std::set<std::string> seen_topics_;  // replica sync thread only
  std::thread jobs_thread_;
  std::thread sync_thread_;
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_CLUSTER_MEMBER_H_
