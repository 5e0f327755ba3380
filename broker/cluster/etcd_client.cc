#include "broker/cluster/etcd_client.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "broker/cluster/internal/etcd_rep.h"
#include "broker/cluster/internal/etcd_watch.h"
#include "broker/cluster/internal/lease_keeper.h"
#include "grpcpp/grpcpp.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "proto/etcd/rpc.grpc.pb.h"

namespace fjord::cluster {

namespace pb = ::etcdserverpb;
using internal::FromPb;
using internal::ToPb;

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  for (size_t i = end.size(); i > 0; i--) {
    auto c = static_cast<unsigned char>(end[i - 1]);
    if (c < 0xff) {
      end[i - 1] = static_cast<char>(c + 1);
      end.resize(i);
      return end;
    }
  }
  return std::string(1, '\0');
}

absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(
    std::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(list.data(), list.size()), ',')) {
    absl::string_view e = absl::StripAsciiWhitespace(part);
    if (e.empty()) continue;
    absl::string_view hostport = e;
    if (absl::ConsumePrefix(&hostport, "http://")) {
    } else if (hostport.find("://") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "etcd endpoint '%s': only http:// (plain text) is supported", e));
    }
    absl::ConsumeSuffix(&hostport, "/");
    size_t colon = hostport.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(hostport.substr(colon + 1), &port) || port <= 0 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrFormat("etcd endpoint '%s' is not http://host:port", e));
    }
    out.push_back(absl::StrCat("http://", hostport));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("no etcd endpoint given");
  }
  return out;
}

// ------------------------------------------------------------ EtcdClient

EtcdClient::EtcdClient(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
EtcdClient::~EtcdClient() = default;

const EtcdOptions& EtcdClient::options() const { return rep_->options(); }

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(
    EtcdOptions options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("no etcd endpoint given");
  }
  if (options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd request timeout must be positive");
  }
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  auto rep = std::make_unique<Rep>(std::move(options));
  absl::Status last;
  for (size_t attempt = 0;; attempt++) {
    const size_t i = attempt % rep->endpoint_count();
    Rep::Endpoint& e = rep->endpoint(i);
    // Bounded by what is left of the connect timeout (but at least a short
    // try, so a zero timeout still makes one attempt).
    const absl::Time try_until =
        std::max(deadline, absl::Now() + absl::Milliseconds(200));
    if (e.channel->WaitForConnected(absl::ToChronoTime(
            std::min(try_until, absl::Now() + absl::Seconds(1))))) {
      pb::RangeRequest probe;
      probe.set_key("/fjord-connect-probe");
      probe.set_limit(1);
      pb::RangeResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(
          std::max(deadline, absl::Now() + absl::Milliseconds(500))));
      grpc::Status s = e.kv->Range(&ctx, probe, &resp);
      if (s.ok()) {
        rep->set_current(i);
        return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(rep)));
      }
      last = rep->FromGrpc(s, i, "Range");
    } else {
      last = absl::UnavailableError(absl::StrFormat(
          "etcd at %s: connection refused or timed out", e.url));
    }
    if (absl::Now() >= deadline && (attempt + 1) >= rep->endpoint_count()) {
      break;
    }
    if ((attempt + 1) % rep->endpoint_count() == 0) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  std::vector<std::string> urls;
  for (size_t i = 0; i < rep->endpoint_count(); i++) {
    urls.push_back(rep->endpoint(i).url);
  }
  return absl::UnavailableError(
      absl::StrFormat("cannot reach etcd at %s within %d ms "
                      "(metadata.etcd.connect.timeout.ms): %s",
                      absl::StrJoin(urls, ","),
                      absl::ToInt64Milliseconds(rep->options().connect_timeout),
                      last.message()));
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(std::string_view key) {
  pb::RangeRequest req;
  req.set_key(std::string(key));
  ASSIGN_OR_RETURN(pb::RangeResponse resp, rep_->Range(req));
  if (resp.kvs_size() == 0) return std::optional<KeyValue>();
  return std::optional<KeyValue>(FromPb(resp.kvs(0)));
}

absl::StatusOr<RangeResult> EtcdClient::GetPrefix(std::string_view prefix) {
  pb::RangeRequest req;
  req.set_key(std::string(prefix));
  req.set_range_end(PrefixRangeEnd(prefix));
  ASSIGN_OR_RETURN(pb::RangeResponse resp, rep_->Range(req));
  return FromPb(resp);
}

absl::StatusOr<int64_t> EtcdClient::Put(std::string_view key,
                                        std::string_view value, int64_t lease) {
  pb::PutRequest req;
  req.set_key(std::string(key));
  req.set_value(std::string(value));
  req.set_lease(lease);
  pb::PutResponse resp;
  RETURN_IF_ERROR(rep_->Unary(
      "Put",
      [](Rep::Endpoint& e, grpc::ClientContext* c, const pb::PutRequest& r,
         pb::PutResponse* out) { return e.kv->Put(c, r, out); },
      req, &resp));
  return resp.header().revision();
}

absl::StatusOr<int64_t> EtcdClient::Delete(std::string_view key) {
  pb::DeleteRangeRequest req;
  req.set_key(std::string(key));
  pb::DeleteRangeResponse resp;
  RETURN_IF_ERROR(rep_->Unary(
      "DeleteRange",
      [](Rep::Endpoint& e, grpc::ClientContext* c,
         const pb::DeleteRangeRequest& r,
         pb::DeleteRangeResponse* out) { return e.kv->DeleteRange(c, r, out); },
      req, &resp));
  return resp.deleted();
}

absl::StatusOr<TxnResult> EtcdClient::Txn(const std::vector<Compare>& compares,
                                          const std::vector<Op>& success,
                                          const std::vector<Op>& failure) {
  pb::TxnRequest req;
  for (const Compare& c : compares) ToPb(c, req.add_compare());
  for (const Op& op : success) ToPb(op, req.add_success());
  for (const Op& op : failure) ToPb(op, req.add_failure());
  pb::TxnResponse resp;
  RETURN_IF_ERROR(rep_->Unary(
      "Txn",
      [](Rep::Endpoint& e, grpc::ClientContext* c, const pb::TxnRequest& r,
         pb::TxnResponse* out) { return e.kv->Txn(c, r, out); },
      req, &resp));
  TxnResult out;
  out.succeeded = resp.succeeded();
  out.revision = resp.header().revision();
  for (const auto& r : resp.responses()) {
    if (r.has_response_range()) out.reads.push_back(FromPb(r.response_range()));
  }
  return out;
}

absl::StatusOr<EtcdClient::Lease> EtcdClient::GrantLease(int64_t ttl_seconds) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  pb::LeaseGrantResponse resp;
  const absl::Time sent = absl::Now();
  RETURN_IF_ERROR(rep_->Unary(
      "LeaseGrant",
      [](Rep::Endpoint& e, grpc::ClientContext* c,
         const pb::LeaseGrantRequest& r, pb::LeaseGrantResponse* out) {
        return e.lease->LeaseGrant(c, r, out);
      },
      req, &resp));
  if (!resp.error().empty()) {
    return absl::InternalError(
        absl::StrFormat("etcd refused a lease: %s", resp.error()));
  }
  return Lease{resp.id(), resp.ttl(), sent};
}

absl::Status EtcdClient::RevokeLease(int64_t id) {
  pb::LeaseRevokeRequest req;
  req.set_id(id);
  pb::LeaseRevokeResponse resp;
  return rep_->Unary(
      "LeaseRevoke",
      [](Rep::Endpoint& e, grpc::ClientContext* c,
         const pb::LeaseRevokeRequest& r, pb::LeaseRevokeResponse* out) {
        return e.lease->LeaseRevoke(c, r, out);
      },
      req, &resp);
}

absl::StatusOr<int64_t> EtcdClient::KeepAliveOnce(int64_t id) {
  // One short stream per keepalive, so the exchange has a deadline like
  // any unary call.
  const size_t i = rep_->current();
  grpc::ClientContext ctx;
  rep_->SetDeadline(&ctx);
  auto stream = rep_->endpoint(i).lease->LeaseKeepAlive(&ctx);
  pb::LeaseKeepAliveRequest req;
  req.set_id(id);
  pb::LeaseKeepAliveResponse resp;
  bool got = stream->Write(req) && stream->Read(&resp);
  stream->WritesDone();
  if (!got) ctx.TryCancel();
  grpc::Status s = stream->Finish();
  if (!got) {
    if (s.ok()) s = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no response");
    return rep_->FromGrpc(s, i, "LeaseKeepAlive");
  }
  if (resp.ttl() <= 0) {
    return absl::NotFoundError(
        absl::StrFormat("etcd lease %x no longer exists", id));
  }
  return resp.ttl();
}

std::unique_ptr<LeaseKeeper> EtcdClient::KeepAlive(
    Lease lease, std::function<void()> on_lost) {
  return internal::StartLeaseKeeper(this, lease, std::move(on_lost));
}

absl::StatusOr<std::unique_ptr<Watch>> EtcdClient::WatchPrefix(
    std::string prefix, int64_t start_revision, WatchCallbacks callbacks) {
  return internal::StartWatch(rep_.get(), std::move(prefix), start_revision,
                              std::move(callbacks));
}

}  // namespace fjord::cluster