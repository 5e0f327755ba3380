#include "broker/internal/view_follower.h"

#include <utility>

namespace fjord::broker::internal {

ViewFollower::~ViewFollower() { Stop(); }

void ViewFollower::Start(cluster::MetadataCache* cache, absl::Duration tick,
                         Step step) {
  cache_ = cache;
  tick_ = tick;
  step_ = std::move(step);
  {
    absl::MutexLock l(&mu_);
    changed_ = true;  // the first step sees the view as new
  }
  listener_ = cache_->Subscribe([this](const auto&) {
    absl::MutexLock l(&mu_);
    changed_ = true;
  });
  thread_ = std::thread([this] { Run(); });
}

void ViewFollower::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (listener_ >= 0) {
    cache_->Unsubscribe(listener_);
    listener_ = -1;
  }
  if (thread_.joinable()) thread_.join();
}

void ViewFollower::Run() {
  for (;;) {
    bool changed;
    {
      absl::MutexLock l(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || changed_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&wake), tick_);
      if (stop_) return;
      changed = changed_;
      changed_ = false;
    }
    step_(changed);
  }
}

}  // namespace fjord::broker::internal
