// EtcdClient::Rep: the channels and stubs behind an EtcdClient (one per
// endpoint, the current one chosen by the last failure), the deadline of
// every call and the one place a gRPC status from etcd becomes an
// absl::Status; plus the conversions between etcd's messages and
// etcd_client.h's types. Private to broker/cluster. Thread-safe.
#ifndef FJORD_BROKER_CLUSTER_INTERNAL_ETCD_REP_H_
#define FJORD_BROKER_CLUSTER_INTERNAL_ETCD_REP_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "broker/cluster/etcd_client.h"
#include "grpcpp/grpcpp.h"
#include "log/status_macros.h"
#include "proto/etcd/rpc.grpc.pb.h"

namespace fjord::cluster {

namespace pb = ::etcdserverpb;

class EtcdClient::Rep {
 public:
  struct Endpoint {
    std::string url;  // http://host:port, for messages
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Watch::Stub> watch;
    std::unique_ptr<pb::Lease::Stub> lease;
  };

  explicit Rep(EtcdOptions options) : options_(std::move(options)) {
    grpc::ChannelArguments args;
    // Reconnect quickly once etcd is back, so that a restarted etcd is
    // noticed within about a second.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Detect a silently dead connection under a watch. etcd refuses pings
    // more often than every 5 s (--grpc-keepalive-min-time) and pings
    // without an active call.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetMaxReceiveMessageSize(64 << 20);
    for (const std::string& url : options_.endpoints) {
      Endpoint e;
      e.url = url;
      std::string target(absl::StripPrefix(url, "http://"));
      e.channel = grpc::CreateCustomChannel(
          target, grpc::InsecureChannelCredentials(), args);
      e.kv = pb::KV::NewStub(e.channel);
      e.watch = pb::Watch::NewStub(e.channel);
      e.lease = pb::Lease::NewStub(e.channel);
      endpoints_.push_back(std::move(e));
    }
  }

  const EtcdOptions& options() const { return options_; }
  size_t current() const { return current_.load(); }
  Endpoint& endpoint(size_t i) { return endpoints_[i % endpoints_.size()]; }
  size_t endpoint_count() const { return endpoints_.size(); }
  void set_current(size_t i) { current_ = i % endpoints_.size(); }

  void SetDeadline(grpc::ClientContext* ctx) const {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoMilliseconds(options_.request_timeout));
  }

  // The one place a gRPC status from etcd becomes an absl::Status: an
  // unreachable etcd (or a deadline passing) is kUnavailable, the rest
  // keeps its code; the message names the endpoint and the call.
  absl::Status FromGrpc(const grpc::Status& s, size_t endpoint_index,
                        std::string_view call) {
    if (s.ok()) return absl::OkStatus();
    const std::string& url = endpoint(endpoint_index).url;
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      // The next call tries the next endpoint.
      size_t expected = endpoint_index % endpoints_.size();
      current_.compare_exchange_strong(expected,
                                       (expected + 1) % endpoints_.size());
      return absl::UnavailableError(absl::StrFormat(
          "etcd at %s is unreachable (%s): %s", url, call, s.error_message()));
    }
    return absl::Status(
        static_cast<absl::StatusCode>(s.error_code()),
        absl::StrFormat("etcd at %s: %s: %s", url, call, s.error_message()));
  }

  template <typename Req, typename Resp, typename Method>
  absl::Status Unary(std::string_view name, Method method, const Req& req,
                     Resp* resp) {
    const size_t i = current();
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = method(endpoint(i), &ctx, req, resp);
    return FromGrpc(s, i, name);
  }

  absl::StatusOr<pb::RangeResponse> Range(const pb::RangeRequest& req) {
    pb::RangeResponse resp;
    RETURN_IF_ERROR(Unary(
        "Range",
        [](Endpoint& e, grpc::ClientContext* c, const pb::RangeRequest& r,
           pb::RangeResponse* out) { return e.kv->Range(c, r, out); },
        req, &resp));
    return resp;
  }

 private:
  const EtcdOptions options_;
  std::vector<Endpoint> endpoints_;
  std::atomic<size_t> current_{0};
};

namespace internal {

KeyValue FromPb(const mvccpb::KeyValue& kv);
RangeResult FromPb(const etcdserverpb::RangeResponse& r);
void ToPb(const Compare& c, etcdserverpb::Compare* out);
void ToPb(const Op& op, etcdserverpb::RequestOp* out);

}  // namespace internal
}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_INTERNAL_ETCD_REP_H_
