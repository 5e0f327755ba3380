// CoordinatorClient: calls to fjord.coordinator.v1.Coordinator
// (proto/coordinator.proto) for a consumer group on the broker that
// coordinates it. The coordinator is looked up with FindCoordinator on the
// admin servers (admin.servers) when it is not known, a NOT_COORDINATOR
// answer redirects the call to the broker its metadata names (or, without
// one, looks the coordinator up again), and a call that cannot reach it
// forgets it, so the next call looks it up again. Channels are cached by
// address. Used by the Consumer's group member and by Admin (whose group
// calls also retry while the coordinator moves: CallGroupRetrying).
//
// Thread-safe: calls may come from any number of threads at once.
#ifndef FJORD_CLIENT_INTERNAL_COORDINATOR_CLIENT_H_
#define FJORD_CLIENT_INTERNAL_COORDINATOR_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "client/internal/backoff.h"
#include "client/internal/config.h"
#include "client/internal/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "proto/coordinator.grpc.pb.h"

namespace fjord::client::internal {

class CoordinatorClient {
 public:
  using Stub = ::fjord::coordinator::v1::Coordinator::Stub;

  explicit CoordinatorClient(CommonConfig config);
  CoordinatorClient(const CoordinatorClient&) = delete;
  CoordinatorClient& operator=(const CoordinatorClient&) = delete;

  // Runs `rpc(stub, context)` (returning a grpc::Status) on `group_id`'s
  // coordinator; each attempt (the lookup included) is bounded by
  // `timeout_ms`. Follows up to three NOT_COORDINATOR redirects. Errors
  // are FromGrpc's (grpc_status.h): a reason such as UNKNOWN_MEMBER_ID is
  // kept for ReasonOf. `called`, if given, receives the coordinator's
  // address last called ("" if none could be looked up).
  template <typename Rpc>
  absl::Status CallGroup(const std::string& group_id, int64_t timeout_ms,
                         Rpc&& rpc, std::string* called = nullptr) {
    absl::Status last;
    if (called != nullptr) called->clear();
    for (int hop = 0; hop < 4; hop++) {
      absl::StatusOr<std::string> address = Coordinator(group_id, timeout_ms);
      if (!address.ok()) return address.status();
      if (called != nullptr) *called = *address;
      grpc::ClientContext ctx;
      Prepare(&ctx, timeout_ms);
      last = FromGrpc(rpc(*StubFor(*address), &ctx),
                      "group coordinator " + *address);
      if (last.ok()) return last;
      if (ReasonOf(last) == "NOT_COORDINATOR") {
        Redirect(group_id, last);
        continue;
      }
      if (absl::IsUnavailable(last) || absl::IsDeadlineExceeded(last)) {
        Forget(group_id, *address);
      }
      return last;
    }
    return last;
  }

  // CallGroup, repeated after a backoff (retry.backoff.ms up to
  // retry.backoff.max.ms) while the coordinator is moving: an answer
  // COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS, or a
  // coordinator that could be looked up but not reached (it died; the next
  // attempt looks it up again). Stops at the first other answer, or when
  // `timeout_ms` in all has passed. Only for calls that may be repeated
  // (Admin's group operations; a group member has its own retries).
  template <typename Rpc>
  absl::Status CallGroupRetrying(const std::string& group_id,
                                 int64_t timeout_ms, Rpc&& rpc) {
    const int64_t deadline = SteadyNowMs() + timeout_ms;
    Backoff backoff(config_.retry_backoff_ms, config_.retry_backoff_max_ms);
    for (int attempt = 1;; attempt++) {
      std::string called;
      absl::Status s =
          CallGroup(group_id, std::max<int64_t>(1, deadline - SteadyNowMs()),
                    rpc, &called);
      const std::optional<std::string> reason = ReasonOf(s);
      const bool moving =
          reason == "COORDINATOR_NOT_AVAILABLE" ||
          reason == "COORDINATOR_LOAD_IN_PROGRESS" ||
          (absl::IsUnavailable(s) && !reason.has_value() && !called.empty());
      if (!moving) return s;
      const int64_t wait = backoff.DelayMs(attempt);
      if (SteadyNowMs() + wait >= deadline) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }

  // Runs `rpc` on each admin server in turn until one answers with
  // something other than UNAVAILABLE (calls that concern no single group,
  // e.g. ListGroups).
  template <typename Rpc>
  absl::Status CallAny(int64_t timeout_ms, Rpc&& rpc) {
    absl::Status last = absl::UnavailableError("no admin.servers");
    for (const HostPort& hp : config_.admin_servers) {
      const std::string address = hp.ToString();
      grpc::ClientContext ctx;
      Prepare(&ctx, timeout_ms);
      last = FromGrpc(rpc(*StubFor(address), &ctx), "admin server " + address);
      if (!absl::IsUnavailable(last)) return last;
    }
    return last;
  }

  // "host:port" of `group_id`'s coordinator as last found; "" if unknown.
  std::string KnownCoordinator(const std::string& group_id) const;

 private:
  static void Prepare(grpc::ClientContext* ctx, int64_t timeout_ms) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(timeout_ms));
    ctx->set_wait_for_ready(false);
  }
  // The known coordinator, or one found with FindCoordinator.
  absl::StatusOr<std::string> Coordinator(const std::string& group_id,
                                          int64_t timeout_ms);
  void Redirect(const std::string& group_id, const absl::Status& s);
  void Forget(const std::string& group_id, const std::string& address);
  Stub* StubFor(const std::string& address);

  const CommonConfig config_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> coordinators_ ABSL_GUARDED_BY(mu_);
  // Never removed: a Stub* stays valid while the client lives.
  std::map<std::string, std::unique_ptr<Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_COORDINATOR_CLIENT_H_
