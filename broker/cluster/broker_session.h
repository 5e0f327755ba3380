// BrokerSession: this broker's membership in the cluster. It holds an etcd
// lease (kept alive in the background) and the registration
// /fjord/<cluster>/brokers/<node.id> bound to it, so the registration
// disappears within the lease TTL of the broker dying. Two brokers cannot
// hold the same node id: registration is a create-if-absent transaction.
//
// If the lease is lost (etcd expired it, or no keepalive got through for a
// whole TTL), the session reports alive() == false at once and re-registers
// with a new lease in the background; if meanwhile another broker took the
// node id, `on_fatal` is called (the broker must stop).
//
// Thread-safe.
#ifndef FJORD_BROKER_CLUSTER_BROKER_SESSION_H_
#define FJORD_BROKER_CLUSTER_BROKER_SESSION_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata.h"

namespace fjord::cluster {

struct SessionOptions {
  // What is registered: node id, advertised endpoints, host, data dir, pid.
  // An empty self.incarnation gets a random one.
  BrokerInfo self;
  // The lease TTL (broker.session.timeout.ms, in whole seconds; etcd
  // enforces at least 2).
  int64_t ttl_seconds = 3;
  // How long Register() waits for a registration of the same node id held
  // by another broker to go away (it may be a broker that just died and
  // whose lease has not expired yet) before failing. A holder with the same
  // host and data directory is this broker's own previous incarnation (the
  // data directory lock proves it is gone): its lease is revoked at once.
  absl::Duration takeover_wait = absl::Seconds(4);
};

class BrokerSession {
 public:
  // Grants a lease, starts keeping it alive and registers. kAlreadyExists
  // naming the holder if another broker holds the node id; kUnavailable if
  // etcd cannot be reached. `etcd` must outlive the session.
  static absl::StatusOr<std::unique_ptr<BrokerSession>> Register(
      EtcdClient* etcd, const KeyLayout& keys, SessionOptions options,
      std::function<void(const absl::Status&)> on_fatal = {});
  ~BrokerSession();
  BrokerSession(const BrokerSession&) = delete;
  BrokerSession& operator=(const BrokerSession&) = delete;

  int32_t node_id() const { return options_.self.node_id; }
  const BrokerInfo& self() const { return options_.self; }
  // The current lease; 0 while the session is lost.
  int64_t lease_id() const;
  // True while the registration is known to be in etcd under lease_id().
  bool alive() const;
  // The etcd revision at which the current registration was written (0
  // while the session is lost). A metadata view older than it may predate
  // changes the cluster made while this broker was away: it is stale.
  int64_t registration_revision() const;
  // How many leases this session has used (1 after Register()).
  int64_t generation() const;

  // Revokes the lease, which deletes the registration (and the controller
  // key if this broker holds it) at once: a clean shutdown. Idempotent.
  void Close();

 private:
  BrokerSession(EtcdClient* etcd, const KeyLayout& keys, SessionOptions options,
                std::function<void(const absl::Status&)> on_fatal);
  // One lease + registration; on success the keeper runs.
  absl::Status Establish();
  // Returns the revision of the registration's write.
  absl::StatusOr<int64_t> CreateRegistration(int64_t lease);
  void Run();

  EtcdClient* const etcd_;
  const KeyLayout keys_;
  const SessionOptions options_;
  const std::function<void(const absl::Status&)> on_fatal_;
  mutable absl::Mutex mu_;
  std::unique_ptr<LeaseKeeper> keeper_ ABSL_GUARDED_BY(mu_);
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t registration_revision_ ABSL_GUARDED_BY(mu_) = 0;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_BROKER_SESSION_H_
