// AdminService: serves fjord.admin.v1.Admin (proto/admin.proto) over gRPC:
// topic create/delete/list/describe, partition growth, topic config changes
// and the cluster description, answered from the TopicManager and the
// partitions' logs; in a cluster, topics are created and deleted through
// the controller and listed and described from the cluster's metadata. It
// is registered on the broker's GrpcServer; the service implementation
// stays in the .cc.
//
// Thread-safe: gRPC calls the service from its own threads, concurrently.
#ifndef FJORD_BROKER_ADMIN_SERVICE_H_
#define FJORD_BROKER_ADMIN_SERVICE_H_

#include <cstdint>
#include <memory>

#include "broker/broker_config.h"
#include "broker/grpc_server.h"
#include "broker/topic_manager.h"

namespace fjord::broker {

class ClusterMember;

class AdminService {
 public:
  // `config`, `topics`, `server` (the server the service is registered
  // on, asked for its port) and `cluster` (null on a single node) must
  // outlive the service. `config` is only read, also while serving: do not
  // change it while the server runs.
  AdminService(const BrokerConfig* config, TopicManager* topics,
               const GrpcServer* server, ClusterMember* cluster = nullptr);
  AdminService(const AdminService&) = delete;
  AdminService& operator=(const AdminService&) = delete;
  ~AdminService();

  // To register on the GrpcServer.
  grpc::Service* service();

 private:
  class Impl;
  const std::unique_ptr<Impl> impl_;
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_ADMIN_SERVICE_H_
