// AdminService: serves fjord.admin.v1.Admin (proto/admin.proto) over gRPC:
// topic create/delete/list/describe, topic config changes and the cluster
// description, answered from the TopicManager and the partitions' logs.
// The gRPC server and the service implementation stay in the .cc; this
// header only pulls in grpc::Status for ToGrpcStatus.
//
// Thread-safe: gRPC calls the service from its own threads, concurrently.
#ifndef FJORD_BROKER_ADMIN_SERVICE_H_
#define FJORD_BROKER_ADMIN_SERVICE_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "broker/broker_config.h"
#include "broker/topic_manager.h"
#include "grpcpp/support/status.h"

namespace fjord::broker {

class AdminService {
 public:
  // `config` and `topics` must outlive the service. `config` is only read,
  // also while serving: do not change it between Start() and Stop().
  AdminService(const BrokerConfig* config, TopicManager* topics);
  AdminService(const AdminService&) = delete;
  AdminService& operator=(const AdminService&) = delete;
  // Stops the server if it is running.
  ~AdminService();

  // Binds config->grpc_address (port 0: the kernel picks one; see port())
  // and starts serving. kUnavailable if the address cannot be bound (taken,
  // or not a local address); kFailedPrecondition if already started.
  absl::Status Start();
  // The bound port, once started.
  uint16_t port() const;
  // Stops accepting calls, gives in-flight ones up to a few seconds to
  // finish, and cancels the rest. Idempotent.
  void Stop();

 private:
  class Impl;
  const std::unique_ptr<Impl> impl_;
};

// The one mapping from absl::Status to grpc::Status, message preserved:
// kNotFound, kAlreadyExists, kInvalidArgument, kOutOfRange,
// kFailedPrecondition and kUnavailable map to the gRPC code of the same
// name, kOk to OK, everything else to INTERNAL.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_ADMIN_SERVICE_H_
