#include "client/internal/coordinator_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fjord::client::internal {

namespace v1 = ::fjord::coordinator::v1;

CoordinatorClient::CoordinatorClient(CommonConfig config)
    : config_(std::move(config)) {}

std::string CoordinatorClient::KnownCoordinator(
    const std::string& group_id) const {
  absl::MutexLock l(&mu_);
  auto it = coordinators_.find(group_id);
  return it == coordinators_.end() ? "" : it->second;
}

CoordinatorClient::Stub* CoordinatorClient::StubFor(
    const std::string& address) {
  absl::MutexLock l(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    // Reconnect soon after a broker restart: calls fail fast (not
    // wait_for_ready) while the channel is down, and are retried by the
    // caller's own backoff. gRPC's defaults (reconnects backing off to
    // 120 s, address lookups at most every 30 s) kept a restarted
    // coordinator unreachable for ~9 s in the restart test.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                std::max(config_.retry_backoff_ms, 10));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                std::max(config_.retry_backoff_max_ms, 100));
    args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS,
                std::max(config_.retry_backoff_ms, 10));
    // Connections of its own, not shared through gRPC's process-wide
    // subchannel pool with other clients' (whose reconnect backoff would
    // make this one's calls fail at once).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub = v1::Coordinator::NewStub(grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args));
  }
  return stub.get();
}

absl::StatusOr<std::string> CoordinatorClient::Coordinator(
    const std::string& group_id, int64_t timeout_ms) {
  {
    absl::MutexLock l(&mu_);
    auto it = coordinators_.find(group_id);
    if (it != coordinators_.end()) return it->second;
  }
  absl::Status last = absl::UnavailableError("no admin.servers");
  for (const HostPort& hp : config_.admin_servers) {
    const std::string server = hp.ToString();
    v1::FindCoordinatorRequest req;
    req.set_group_id(group_id);
    v1::FindCoordinatorResponse resp;
    grpc::ClientContext ctx;
    Prepare(&ctx, timeout_ms);
    last = FromGrpc(StubFor(server)->FindCoordinator(&ctx, req, &resp),
                    absl::StrCat("admin server ", server,
                                 " (looking up the coordinator of group '",
                                 group_id, "')"));
    std::string found;
    if (last.ok()) {
      // A broker listening on a wildcard address answers with it: reach it
      // where we reached it.
      std::string host = resp.host();
      if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
        host = hp.host;
      }
      found = HostPort{host, static_cast<uint16_t>(resp.port())}.ToString();
    } else if (ReasonOf(last) == "NOT_COORDINATOR") {
      auto md = ReasonMetadataOf(last);
      if (auto it = md.find("coordinator"); it != md.end()) found = it->second;
    }
    if (!found.empty()) {
      absl::MutexLock l(&mu_);
      coordinators_[group_id] = found;
      return found;
    }
    if (!absl::IsUnavailable(last) && !absl::IsDeadlineExceeded(last)) {
      return last;
    }
  }
  return last;
}

void CoordinatorClient::Redirect(const std::string& group_id,
                                 const absl::Status& s) {
  auto md = ReasonMetadataOf(s);
  absl::MutexLock l(&mu_);
  if (auto it = md.find("coordinator"); it != md.end() && !it->second.empty()) {
    coordinators_[group_id] = it->second;
  } else {
    coordinators_.erase(group_id);
  }
}

void CoordinatorClient::Forget(const std::string& group_id,
                               const std::string& address) {
  absl::MutexLock l(&mu_);
  auto it = coordinators_.find(group_id);
  if (it != coordinators_.end() && it->second == address) {
    coordinators_.erase(it);
  }
}

}  // namespace fjord::client::internal
