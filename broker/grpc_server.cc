#include "broker/grpc_server.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"

namespace fjord::broker {

namespace {
constexpr std::chrono::seconds kShutdownGrace{5};
}

GrpcServer::GrpcServer(HostPort address) : address_(std::move(address)) {}

GrpcServer::~GrpcServer() { Stop(); }

void GrpcServer::AddService(grpc::Service* service) {
  absl::MutexLock l(&mu_);
  services_.push_back(service);
}

absl::Status GrpcServer::Start() {
  absl::MutexLock l(&mu_);
  const std::string address = address_.ToString();
  if (started_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("gRPC server on %s was already started", address));
  }
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which would let a second broker bind
  // a port that is already taken and silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int selected_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                           &selected_port);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(absl::StrFormat(
        "cannot serve gRPC on %s: the address is in use or not local "
        "(grpc.address / --grpc-addr)",
        address));
  }
  started_ = true;
  server_ = std::move(server);
  port_ = static_cast<uint16_t>(selected_port);
  return absl::OkStatus();
}

uint16_t GrpcServer::port() const {
  absl::MutexLock l(&mu_);
  return port_;
}

void GrpcServer::Stop() {
  std::unique_ptr<grpc::Server> server;
  {
    absl::MutexLock l(&mu_);
    server = std::move(server_);
  }
  if (server == nullptr) return;
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server->Wait();
}

}  // namespace fjord::broker
