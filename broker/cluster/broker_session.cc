#include "broker/cluster/broker_session.h"

#include <random>

#include "absl/strings/str_format.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::cluster {

namespace {

SessionOptions WithIncarnation(SessionOptions o) {
  if (o.self.incarnation.empty()) {
    std::random_device rd;
    const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    o.self.incarnation = absl::StrFormat("%016x", r);
  }
  return o;
}

}  // namespace

BrokerSession::BrokerSession(EtcdClient* etcd, const KeyLayout& keys,
                             SessionOptions options,
                             std::function<void(const absl::Status&)> on_fatal)
    : etcd_(etcd),
      keys_(keys),
      options_(WithIncarnation(std::move(options))),
      on_fatal_(std::move(on_fatal)) {}

BrokerSession::~BrokerSession() { Close(); }

absl::StatusOr<std::unique_ptr<BrokerSession>> BrokerSession::Register(
    EtcdClient* etcd, const KeyLayout& keys, SessionOptions options,
    std::function<void(const absl::Status&)> on_fatal) {
  std::unique_ptr<BrokerSession> s(
      new BrokerSession(etcd, keys, std::move(options), std::move(on_fatal)));
  RETURN_IF_ERROR(s->Establish());
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

int64_t BrokerSession::lease_id() const {
  absl::MutexLock l(&mu_);
  return lost_ ? 0 : lease_;
}

bool BrokerSession::alive() const {
  absl::MutexLock l(&mu_);
  return !closed_ && !lost_ && keeper_ != nullptr && keeper_->alive();
}

int64_t BrokerSession::registration_revision() const {
  absl::MutexLock l(&mu_);
  const bool alive =
      !closed_ && !lost_ && keeper_ != nullptr && keeper_->alive();
  return alive ? registration_revision_ : 0;
}

int64_t BrokerSession::generation() const {
  absl::MutexLock l(&mu_);
  return generation_;
}

absl::StatusOr<int64_t> BrokerSession::CreateRegistration(int64_t lease) {
  const std::string key = keys_.broker(options_.self.node_id);
  BrokerInfo self = options_.self;
  self.registered_at_ms = absl::ToUnixMillis(absl::Now());
  const std::string value = EncodeBroker(self);
  const absl::Time deadline = absl::Now() + options_.takeover_wait;
  bool waited = false;
  for (;;) {
    ASSIGN_OR_RETURN(TxnResult txn,
                     etcd_->Txn({Compare::Absent(key)},
                                {Op::Put(key, value, lease)}, {Op::Get(key)}));
    if (txn.succeeded) return txn.revision;
    if (txn.reads.empty() || txn.reads[0].kvs.empty()) continue;  // just gone
    const KeyValue& kv = txn.reads[0].kvs[0];
    if (kv.lease == lease) return kv.mod_revision;
    absl::StatusOr<BrokerInfo> holder = DecodeBroker(kv.value);
    if (holder.ok() && !self.incarnation.empty() &&
        holder->incarnation == self.incarnation && kv.lease != 0) {
      // This very process, which lost its lease locally while etcd kept it
      // (a keepalive hiccup, an etcd restart): move the registration to the
      // new lease in place, so the controller sees no broker death.
      ASSIGN_OR_RETURN(TxnResult moved,
                       etcd_->Txn({{key,
                                    Compare::Target::kLease,
                                    Compare::Result::kEqual,
                                    kv.lease,
                                    {}}},
                                  {Op::Put(key, value, lease)}));
      if (!moved.succeeded) continue;
      const int64_t revision = moved.revision;
      absl::Status r = etcd_->RevokeLease(kv.lease);
      if (!r.ok() && !absl::IsNotFound(r)) {
        spdlog::warn("node {}: revoking the old lease {:x}: {}", self.node_id,
                     kv.lease, r.message());
      }
      return revision;
    }
    if (holder.ok() && holder->hostname == self.hostname &&
        holder->data_dir == self.data_dir) {
      // This broker's previous incarnation: this process holds the data
      // directory's lock, so that one is gone; do not wait for its lease.
      // Its registration is deleted (the controller sees it die: it may
      // have lost unflushed data) before this one is created.
      spdlog::info(
          "node {}: replacing the registration of this broker's previous "
          "incarnation (pid {}, lease {:x})",
          self.node_id, holder->pid, kv.lease);
      absl::Status r = kv.lease != 0 ? etcd_->RevokeLease(kv.lease)
                                     : etcd_->Delete(key).status();
      if (!r.ok() && !absl::IsNotFound(r)) return r;
      continue;
    }
    if (absl::Now() >= deadline) {
      std::string who = holder.ok() ? holder->Describe()
                                    : absl::StrFormat(
                                          "a broker whose record does not "
                                          "decode (%s)",
                                          holder.status().message());
      return absl::AlreadyExistsError(absl::StrFormat(
          "node.id %d is already registered under %s by %s, lease %x "
          "(key %s); every broker needs its own node.id",
          self.node_id, keys_.root(), who, kv.lease, key));
    }
    if (!waited) {
      spdlog::warn(
          "node {}: node id is registered by {}; waiting up to {} ms for "
          "its lease to expire",
          self.node_id, holder.ok() ? holder->Describe() : "another broker",
          absl::ToInt64Milliseconds(options_.takeover_wait));
      waited = true;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

absl::Status BrokerSession::Establish() {
  ASSIGN_OR_RETURN(EtcdClient::Lease lease,
                   etcd_->GrantLease(options_.ttl_seconds));
  absl::StatusOr<int64_t> revision = CreateRegistration(lease.id);
  if (!revision.ok()) {
    (void)etcd_->RevokeLease(lease.id);
    return revision.status();
  }
  absl::MutexLock l(&mu_);
  if (closed_) {
    (void)etcd_->RevokeLease(lease.id);
    return absl::CancelledError("session closed");
  }
  lease_ = lease.id;
  registration_revision_ = *revision;
  lost_ = false;
  generation_++;
  const int64_t id = lease.id;
  // Started under mu_: an immediate on_lost waits for the fields above.
  keeper_ = etcd_->KeepAlive(lease, [this, id] {
    absl::MutexLock l(&mu_);
    if (lease_ == id) lost_ = true;
  });
  spdlog::info("node {}: registered in etcd as {} (lease {:x}, ttl {} s)",
               options_.self.node_id, keys_.broker(options_.self.node_id), id,
               lease.ttl_seconds);
  return absl::OkStatus();
}

void BrokerSession::Run() {
  for (;;) {
    std::unique_ptr<LeaseKeeper> old;
    {
      absl::MutexLock l(&mu_);
      auto wake = [this] { return closed_ || lost_; };
      mu_.Await(absl::Condition(&wake));
      if (closed_) return;
      old = std::move(keeper_);
      spdlog::error(
          "node {}: lost the etcd lease {:x}; this broker no longer counts "
          "as registered and re-registers",
          options_.self.node_id, lease_);
    }
    old.reset();  // its thread has ended: it reported the loss
    absl::Duration backoff = absl::Milliseconds(200);
    for (;;) {
      absl::Status s = Establish();
      if (s.ok()) break;
      if (absl::IsAlreadyExists(s)) {
        spdlog::error("node {}: {}", options_.self.node_id, s.message());
        if (on_fatal_) on_fatal_(s);
        return;
      }
      if (absl::IsCancelled(s)) return;
      spdlog::warn("node {}: re-registering: {}", options_.self.node_id,
                   s.message());
      absl::MutexLock l(&mu_);
      auto closed = [this] { return closed_; };
      mu_.AwaitWithTimeout(absl::Condition(&closed), backoff);
      if (closed_) return;
      backoff = std::min(backoff * 2, absl::Seconds(2));
    }
  }
}

void BrokerSession::Close() {
  std::unique_ptr<LeaseKeeper> keeper;
  int64_t lease = 0;
  {
    absl::MutexLock l(&mu_);
    if (closed_) return;
    closed_ = true;
    keeper = std::move(keeper_);
    lease = lease_;  // even if presumed lost: it may still exist
  }
  if (thread_.joinable()) thread_.join();
  if (keeper) keeper->Stop();
  if (lease != 0) {
    absl::Status s = etcd_->RevokeLease(lease);
    if (!s.ok() && !absl::IsNotFound(s)) {
      spdlog::warn(
          "node {}: could not revoke lease {:x} ({}); the registration "
          "expires with it",
          options_.self.node_id, lease, s.message());
    } else {
      spdlog::info("node {}: deregistered from etcd", options_.self.node_id);
    }
  }
}

}  // namespace fjord::cluster
