// MetadataCache: this broker's view of the cluster, kept from etcd. It
// reads everything under /fjord/<cluster>/ once, then watches the prefix
// and applies each change, publishing an immutable ClusterSnapshot per
// change: the live brokers with their addresses, the controller, every
// topic's partitions (replicas, leader, leader epoch, isr) and pending
// topic requests. If etcd compacts the history the watch needs, the cache
// re-reads the prefix and watches again.
//
// Thread-safe. Snapshot() is cheap (a shared_ptr copy under a mutex) and
// may be called from any thread, including the Kafka request path.
// Listeners run on the cache's watch thread, one change at a time, in
// revision order; they must be quick and must not call Stop().
#ifndef FJORD_BROKER_CLUSTER_METADATA_CACHE_H_
#define FJORD_BROKER_CLUSTER_METADATA_CACHE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata.h"

namespace fjord::cluster {

// The cluster as of one etcd revision. Immutable once published.
struct ClusterSnapshot {
  // The etcd revision this snapshot reflects (every change up to it).
  int64_t revision = 0;
  // Registered (live) brokers by node id.
  std::map<int32_t, BrokerInfo> brokers;
  std::optional<ControllerInfo> controller;
  std::map<std::string, std::shared_ptr<const TopicState>, std::less<>> topics;
  std::map<std::string, TopicRequest, std::less<>> topic_requests;

  const BrokerInfo* broker(int32_t node_id) const;
  const TopicState* topic(std::string_view name) const;
  // nullptr if the topic or the partition does not exist.
  const PartitionState* partition(std::string_view topic,
                                  int32_t partition) const;
  std::set<int32_t> live_broker_ids() const;
};

class MetadataCache {
 public:
  using Listener =
      std::function<void(const std::shared_ptr<const ClusterSnapshot>&)>;

  // Reads the cluster's keys and starts watching. `etcd` must outlive the
  // cache. kUnavailable if etcd cannot be read.
  static absl::StatusOr<std::unique_ptr<MetadataCache>> Start(
      EtcdClient* etcd, const KeyLayout& keys);
  ~MetadataCache();
  MetadataCache(const MetadataCache&) = delete;
  MetadataCache& operator=(const MetadataCache&) = delete;

  std::shared_ptr<const ClusterSnapshot> Snapshot() const;

  // Calls `listener` after every published change. Returns an id for
  // Unsubscribe, which waits for a running call to finish.
  int Subscribe(Listener listener);
  void Unsubscribe(int id);

  // Waits until `pred` holds for the current snapshot (checked at once and
  // after each change); returns that snapshot, or nullptr on timeout.
  std::shared_ptr<const ClusterSnapshot> WaitFor(
      const std::function<bool(const ClusterSnapshot&)>& pred,
      absl::Duration timeout) const;

  // True while the watch stream is up (changes arrive as they happen).
  bool connected() const;
  // Values that could not be decoded (skipped, logged), for tests.
  int64_t decode_errors() const;

  void Stop();

 private:
  MetadataCache(EtcdClient* etcd, const KeyLayout& keys);
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);
  void Apply(std::span<const WatchEvent> events, int64_t revision);
  void ApplyOne(ClusterSnapshot& s, const WatchEvent& e);
  void Publish(std::shared_ptr<const ClusterSnapshot> s);
  void Maintain();

  EtcdClient* const etcd_;
  const KeyLayout keys_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const ClusterSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  bool resync_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Watch> watch_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> decode_errors_{0};
  // Serializes publishing (snapshot swap + listener calls, so listeners
  // see changes in order) and guards the list. Lock order: listeners_mu_,
  // then mu_.
  absl::Mutex listeners_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<int, Listener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  std::thread maintainer_;
};

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_METADATA_CACHE_H_
