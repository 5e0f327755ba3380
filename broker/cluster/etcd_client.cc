#include "broker/cluster/etcd_client.h"

#include <algorithm>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace fjord::cluster {

namespace pb = ::etcdserverpb;

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

// ------------------------------------------------------------------ Rep

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

namespace {

KeyValue FromPb(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),   kv.create_revision(),
                  kv.mod_revision(), kv.version(), kv.lease()};
}

RangeResult FromPb(const pb::RangeResponse& r) {
  RangeResult out;
  out.revision = r.header().revision();
  out.kvs.reserve(r.kvs_size());
  for (const auto& kv : r.kvs()) out.kvs.push_back(FromPb(kv));
  return out;
}

void ToPb(const Compare& c, pb::Compare* out) {
  out->set_key(c.key);
  switch (c.result) {
    case Compare::Result::kEqual:
      out->set_result(pb::Compare::EQUAL);
      break;
    case Compare::Result::kGreater:
      out->set_result(pb::Compare::GREATER);
      break;
    case Compare::Result::kLess:
      out->set_result(pb::Compare::LESS);
      break;
    case Compare::Result::kNotEqual:
      out->set_result(pb::Compare::NOT_EQUAL);
      break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out->set_target(pb::Compare::VERSION);
      out->set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out->set_target(pb::Compare::CREATE);
      out->set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out->set_target(pb::Compare::MOD);
      out->set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out->set_target(pb::Compare::VALUE);
      out->set_value(c.value);
      break;
    case Compare::Target::kLease:
      out->set_target(pb::Compare::LEASE);
      out->set_lease(c.number);
      break;
  }
}

void ToPb(const Op& op, pb::RequestOp* out) {
  switch (op.kind) {
    case Op::Kind::kGet:
      out->mutable_request_range()->set_key(op.key);
      break;
    case Op::Kind::kGetPrefix: {
      auto* r = out->mutable_request_range();
      r->set_key(op.key);
      r->set_range_end(PrefixRangeEnd(op.key));
      break;
    }
    case Op::Kind::kPut: {
      auto* p = out->mutable_request_put();
      p->set_key(op.key);
      p->set_value(op.value);
      p->set_lease(op.lease);
      break;
    }
    case Op::Kind::kDelete:
      out->mutable_request_delete_range()->set_key(op.key);
      break;
  }
}

// ---------------------------------------------------------- LeaseKeeper

class LeaseKeeperImpl final : public LeaseKeeper {
 public:
  LeaseKeeperImpl(EtcdClient* client, EtcdClient::Lease lease,
                  absl::Duration request_timeout, std::function<void()> on_lost)
      : client_(client),
        lease_(lease),
        request_timeout_(request_timeout),
        on_lost_(std::move(on_lost)),
        expires_at_(lease.granted_at + absl::Seconds(lease.ttl_seconds)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~LeaseKeeperImpl() override { Stop(); }

  int64_t lease_id() const override { return lease_.id; }
  bool alive() const override {
    absl::MutexLock l(&mu_);
    return !lost_ && absl::Now() < expires_at_;
  }
  void Stop() override {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    const absl::Duration interval = std::max(
        absl::Seconds(lease_.ttl_seconds) / 3, absl::Milliseconds(200));
    absl::Duration wait = interval;
    for (;;) {
      {
        absl::MutexLock l(&mu_);
        auto stopped = [this] { return stop_; };
        mu_.AwaitWithTimeout(absl::Condition(&stopped), wait);
        if (stop_) return;
      }
      const absl::Time sent = absl::Now();
      absl::StatusOr<int64_t> ttl = client_->KeepAliveOnce(lease_.id);
      bool lost = false;
      {
        absl::MutexLock l(&mu_);
        if (ttl.ok()) {
          expires_at_ = sent + absl::Seconds(*ttl);
          wait = interval;
        } else if (absl::IsNotFound(ttl.status())) {
          spdlog::warn("etcd lease {:x} expired: {}", lease_.id,
                       ttl.status().message());
          lost = true;
        } else if (absl::Now() >= expires_at_) {
          spdlog::warn(
              "etcd lease {:x}: no keepalive succeeded for its whole TTL "
              "({} s); presuming it expired: {}",
              lease_.id, lease_.ttl_seconds, ttl.status().message());
          lost = true;
        } else {
          // Retry soon: the lease runs out at expires_at_.
          wait = std::min(interval, absl::Milliseconds(250));
        }
        if (lost) lost_ = true;
      }
      if (lost) {
        if (on_lost_) on_lost_();
        return;
      }
    }
  }

  EtcdClient* const client_;
  const EtcdClient::Lease lease_;
  const absl::Duration request_timeout_;
  const std::function<void()> on_lost_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time expires_at_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// ---------------------------------------------------------------- Watch

class WatchImpl final : public Watch {
 public:
  WatchImpl(EtcdClient::Rep* rep, std::string prefix, int64_t start_revision,
            WatchCallbacks callbacks)
      : rep_(rep),
        prefix_(std::move(prefix)),
        callbacks_(std::move(callbacks)),
        next_revision_(start_revision),
        last_revision_(start_revision > 0 ? start_revision - 1 : 0) {}
  ~WatchImpl() override { Stop(); }

  // Starts the thread and waits for etcd to confirm the watch.
  absl::Status Start() {
    thread_ = std::thread([this] { Run(); });
    if (!created_.WaitForNotificationWithTimeout(
            rep_->options().request_timeout)) {
      Stop();
      return absl::UnavailableError(absl::StrFormat(
          "etcd at %s did not confirm a watch of %s within %d ms",
          rep_->endpoint(rep_->current()).url, prefix_,
          absl::ToInt64Milliseconds(rep_->options().request_timeout)));
    }
    absl::MutexLock l(&mu_);
    return start_status_;
  }

  int64_t last_revision() const override { return last_revision_.load(); }
  bool connected() const override { return connected_.load(); }
  int reconnects() const override { return reconnects_.load(); }
  void Stop() override {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    absl::Duration backoff = absl::Milliseconds(100);
    bool first = true;
    for (;;) {
      const size_t ei = rep_->current();
      grpc::ClientContext ctx;
      {
        absl::MutexLock l(&mu_);
        if (stop_) break;
        ctx_ = &ctx;
      }
      auto stream = rep_->endpoint(ei).watch->Watch(&ctx);
      pb::WatchRequest req;
      auto* create = req.mutable_create_request();
      create->set_key(prefix_);
      create->set_range_end(PrefixRangeEnd(prefix_));
      if (next_revision_ > 0) create->set_start_revision(next_revision_);
      bool compacted = false;
      if (stream->Write(req)) {
        pb::WatchResponse resp;
        while (stream->Read(&resp)) {
          if (resp.compact_revision() > 0) {
            spdlog::warn(
                "etcd watch of {} from revision {}: compacted at {}; the "
                "owner re-reads",
                prefix_, next_revision_, resp.compact_revision());
            compacted = true;
            if (first) {
              absl::MutexLock l(&mu_);
              start_status_ = absl::OutOfRangeError(absl::StrFormat(
                  "revision %d of %s is compacted (compact revision %d)",
                  next_revision_, prefix_, resp.compact_revision()));
            }
            if (callbacks_.on_compacted && !first) {
              callbacks_.on_compacted(resp.compact_revision());
            }
            break;
          }
          if (resp.created()) {
            if (next_revision_ == 0) {
              last_revision_ = resp.header().revision();
              next_revision_ = resp.header().revision() + 1;
            }
            connected_ = true;
            backoff = absl::Milliseconds(100);
            if (first) {
              first = false;
              created_.Notify();
            }
          }
          if (resp.canceled()) {
            spdlog::warn("etcd canceled the watch of {}: {}", prefix_,
                         resp.cancel_reason());
            break;
          }
          if (resp.events_size() > 0) {
            std::vector<WatchEvent> events;
            events.reserve(resp.events_size());
            int64_t rev = last_revision_;
            for (const auto& e : resp.events()) {
              WatchEvent we;
              we.type = e.type() == mvccpb::Event::DELETE
                            ? WatchEvent::Type::kDelete
                            : WatchEvent::Type::kPut;
              we.kv = FromPb(e.kv());
              rev = std::max(rev, we.kv.mod_revision);
              events.push_back(std::move(we));
            }
            // etcd sends whole revisions per response (fragment is off),
            // so resuming after `rev` neither loses nor repeats a change.
            last_revision_ = rev;
            next_revision_ = rev + 1;
            if (callbacks_.on_events) callbacks_.on_events(events, rev);
          } else if (!resp.created() &&
                     resp.header().revision() > last_revision_) {
            // A progress notification: nothing up to this revision is
            // pending for us.
            last_revision_ = resp.header().revision();
            next_revision_ = last_revision_ + 1;
          }
        }
      }
      {
        absl::MutexLock l(&mu_);
        ctx_ = nullptr;
      }
      if (!compacted) {
        ctx.TryCancel();
        grpc::Status s = stream->Finish();
        if (first) {
          absl::MutexLock l(&mu_);
          start_status_ = rep_->FromGrpc(
              s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "watch stream closed")
                     : s,
              ei, "Watch");
        }
      } else {
        ctx.TryCancel();
        (void)stream->Finish();
      }
      connected_ = false;
      if (first || compacted) {
        // Start() reports the failure; after a compaction the owner
        // re-reads and starts a new watch.
        if (first) created_.Notify();
        return;
      }
      {
        absl::MutexLock l(&mu_);
        if (stop_) break;
        reconnects_++;
        auto stopped = [this] { return stop_; };
        mu_.AwaitWithTimeout(absl::Condition(&stopped), backoff);
        if (stop_) break;
      }
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
    if (first) created_.Notify();
  }

  EtcdClient::Rep* const rep_;
  const std::string prefix_;
  const WatchCallbacks callbacks_;
  // Only the watch thread touches next_revision_.
  int64_t next_revision_;
  std::atomic<int64_t> last_revision_;
  std::atomic<bool> connected_{false};
  std::atomic<int> reconnects_{0};
  absl::Notification created_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Status start_status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace

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
  return std::make_unique<LeaseKeeperImpl>(
      this, lease, rep_->options().request_timeout, std::move(on_lost));
}

absl::StatusOr<std::unique_ptr<Watch>> EtcdClient::WatchPrefix(
    std::string prefix, int64_t start_revision, WatchCallbacks callbacks) {
  auto w = std::make_unique<WatchImpl>(rep_.get(), std::move(prefix),
                                       start_revision, std::move(callbacks));
  RETURN_IF_ERROR(w->Start());
  return std::unique_ptr<Watch>(std::move(w));
}

}  // namespace fjord::cluster
