#include "broker/cluster/internal/lease_keeper.h"

#include <algorithm>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::cluster::internal {
namespace {

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

}  // namespace

std::unique_ptr<LeaseKeeper> StartLeaseKeeper(EtcdClient* client,
                                              EtcdClient::Lease lease,
                                              std::function<void()> on_lost) {
  return std::make_unique<LeaseKeeperImpl>(
      client, lease, client->options().request_timeout, std::move(on_lost));
}

}  // namespace fjord::cluster::internal
