// The LeaseKeeper behind EtcdClient::KeepAlive: one thread sending a
// keepalive every ttl/3 through EtcdClient::KeepAliveOnce. Private to
// broker/cluster. Thread-safe.
#ifndef FJORD_BROKER_CLUSTER_INTERNAL_LEASE_KEEPER_H_
#define FJORD_BROKER_CLUSTER_INTERNAL_LEASE_KEEPER_H_

#include <functional>
#include <memory>

#include "broker/cluster/etcd_client.h"

namespace fjord::cluster::internal {

// `client` must outlive the keeper.
std::unique_ptr<LeaseKeeper> StartLeaseKeeper(EtcdClient* client,
                                              EtcdClient::Lease lease,
                                              std::function<void()> on_lost);

}  // namespace fjord::cluster::internal

#endif  // FJORD_BROKER_CLUSTER_INTERNAL_LEASE_KEEPER_H_
