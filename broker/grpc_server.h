// GrpcServer: the broker's one gRPC server on grpc.address, hosting every
// control-plane service (fjord.admin.v1.Admin, fjord.coordinator.v1
// .Coordinator). Services are registered before Start and must outlive the
// server. Thread-safe: gRPC runs the services on its own threads.
#ifndef FJORD_BROKER_GRPC_SERVER_H_
#define FJORD_BROKER_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "broker/broker_config.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace fjord::broker {

class GrpcServer {
 public:
  explicit GrpcServer(HostPort address);
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;
  // Stops the server if it is running.
  ~GrpcServer();

  // REQUIRES: before Start. `service` must outlive the server.
  void AddService(grpc::Service* service);
  // Binds the address (port 0: the kernel picks one; see port()) and starts
  // serving. kUnavailable if the address cannot be bound (taken, or not a
  // local address); kFailedPrecondition if already started.
  absl::Status Start();
  // The bound port once started, else 0.
  uint16_t port() const;
  const HostPort& address() const { return address_; }
  // Stops accepting calls, gives in-flight ones up to a few seconds to
  // finish, and cancels the rest. Idempotent.
  void Stop();

 private:
  const HostPort address_;
  mutable absl::Mutex mu_;
  std::vector<grpc::Service*> services_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::Server> server_ ABSL_GUARDED_BY(mu_);
  uint16_t port_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_GRPC_SERVER_H_
