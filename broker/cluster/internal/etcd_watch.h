// The Watch behind EtcdClient::WatchPrefix: one thread reading a Watch
// stream, reopening it after a break from the revision after the last one
// delivered. Private to broker/cluster. Thread-safe.
#ifndef FJORD_BROKER_CLUSTER_INTERNAL_ETCD_WATCH_H_
#define FJORD_BROKER_CLUSTER_INTERNAL_ETCD_WATCH_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "broker/cluster/etcd_client.h"

namespace fjord::cluster::internal {

// Starts the watch and waits for etcd to confirm it. `rep` must outlive
// the watch.
absl::StatusOr<std::unique_ptr<Watch>> StartWatch(EtcdClient::Rep* rep,
                                                  std::string prefix,
                                                  int64_t start_revision,
                                                  WatchCallbacks callbacks);

}  // namespace fjord::cluster::internal

#endif  // FJORD_BROKER_CLUSTER_INTERNAL_ETCD_WATCH_H_
