#include "broker/cluster/internal/etcd_watch.h"

#include <algorithm>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "broker/cluster/internal/etcd_rep.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::cluster::internal {
namespace {

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

absl::StatusOr<std::unique_ptr<Watch>> StartWatch(EtcdClient::Rep* rep,
                                                  std::string prefix,
                                                  int64_t start_revision,
                                                  WatchCallbacks callbacks) {
  auto w = std::make_unique<WatchImpl>(rep, std::move(prefix), start_revision,
                                       std::move(callbacks));
  RETURN_IF_ERROR(w->Start());
  return std::unique_ptr<Watch>(std::move(w));
}

}  // namespace fjord::cluster::internal
