// Controller: every broker runs one; the one that wins the election acts
// as the cluster's controller. The election is a create-if-absent
// transaction on /fjord/<cluster>/controller bound to the broker's session
// lease, so the controller is replaced within about a lease TTL of its
// death. The key's create revision is the controller epoch, and every
// write of the controller is a transaction guarded by "the controller key
// still has my create revision": a deposed controller cannot write.
//
// What the active controller does, driven by MetadataCache changes and a
// periodic tick (decisions in placement.h):
//  - places the partitions of requested topics (topic_requests/<name>)
//    and writes topics/<name> (leader = first replica, epoch 0, isr = all);
//    refuses with a reason written into the request (replication factor
//    larger than the live brokers, topic exists, ...); deletes topics;
//  - when brokers die or return, elects leaders from the isr (never an
//    out-of-sync replica unless unclean.leader.election.enable), bumps
//    leader epochs, removes dead brokers from isrs; a partition with no
//    eligible leader gets leader -1.
//
// Thread-safe; runs on its own thread between Start() and Stop().
#ifndef FJORD_BROKER_CLUSTER_CONTROLLER_H_
#define FJORD_BROKER_CLUSTER_CONTROLLER_H_

#include <atomic>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "broker/cluster/broker_session.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata.h"
#include "broker/cluster/metadata_cache.h"

namespace fjord::cluster {

struct ControllerOptions {
  // default.replication.factor; -1: min(3, live brokers).
  int32_t default_replication_factor = -1;
  // unclean.leader.election.enable
  bool unclean_leader_election = false;
  // How often the controller re-checks everything even without a change
  // (and how soon a candidate retries an election).
  absl::Duration tick = absl::Milliseconds(500);
};

class Controller {
 public:
  // All pointers must outlive the controller.
  Controller(EtcdClient* etcd, const KeyLayout& keys, MetadataCache* cache,
             BrokerSession* session, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void Start();
  // Stops acting (does not give up the controller key: closing the session
  // does, by revoking its lease). Idempotent.
  void Stop();

  // True while this broker is the controller (as far as it knows: the
  // guard on every write is what makes it safe).
  bool active() const { return active_.load(); }
  // The epoch of this broker's current term as controller, 0 if none.
  int64_t epoch() const { return epoch_.load(); }
  // Elections this controller has won.
  int64_t terms() const { return terms_.load(); }

 private:
  void Run();
  void Step(const ClusterSnapshot& s);
  void Campaign(const ClusterSnapshot& s);
  void Reconcile(const ClusterSnapshot& s);
  void HandleRequest(const ClusterSnapshot& s, const TopicRequest& r);
  void Refuse(const TopicRequest& r, TopicRequest::Error error,
              std::string message);
  // A transaction guarded by this controller's epoch; false if a guard
  // failed (and then, if it was the epoch, the controller resigns).
  bool GuardedTxn(std::vector<Compare> compares, std::vector<Op> ops,
                  std::string_view what);
  void Resign(std::string_view why);
  void WarnThrottled(const std::string& message);

  EtcdClient* const etcd_;
  const KeyLayout keys_;
  MetadataCache* const cache_;
  BrokerSession* const session_;
  const ControllerOptions options_;
  std::atomic<bool> active_{false};
  std::atomic<int64_t> epoch_{0};
  std::atomic<int64_t> terms_{0};
  // The lease the current term is bound to.
  int64_t term_lease_ = 0;                          // controller thread only
  absl::Time last_warning_ = absl::InfinitePast();  // controller thread only
  int64_t suppressed_warnings_ = 0;                 // controller thread only
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  int listener_ = -1;
  std::thread thread_;
};

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_CONTROLLER_H_
