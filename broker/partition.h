// Partition: a topic-partition as the broker serves it: its Log plus the
// long-poll fetches waiting for data to arrive on it. Thread-safe.
#ifndef FJORD_BROKER_PARTITION_H_
#define FJORD_BROKER_PARTITION_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "log/log.h"
#include "log/types.h"

namespace fjord::broker {

// Something parked until data arrives (a long-poll Fetch). Wake() may be
// called from any thread, more than once.
class FetchWaiter {
 public:
  virtual ~FetchWaiter() = default;
  virtual void Wake() = 0;
};

class Partition {
 public:
  Partition(TopicPartition tp, std::shared_ptr<log::Log> log)
      : tp_(std::move(tp)), log_(std::move(log)) {}
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  const TopicPartition& tp() const { return tp_; }
  log::Log& log() const { return *log_; }

  // Registers `w` to be woken by the next append (or deletion).
  void AddWaiter(std::weak_ptr<FetchWaiter> w) {
    absl::MutexLock l(&mu_);
    // Fetches that timed out on an idle partition leave expired entries.
    if (waiters_.size() >= 64) {
      std::erase_if(waiters_, [](const auto& e) { return e.expired(); });
    }
    waiters_.push_back(std::move(w));
  }
  // Wakes every registered waiter once and forgets them.
  void NotifyAppend() {
    std::vector<std::weak_ptr<FetchWaiter>> waiters;
    {
      absl::MutexLock l(&mu_);
      waiters.swap(waiters_);
    }
    for (auto& weak : waiters) {
      if (auto w = weak.lock()) w->Wake();
    }
  }

 private:
  const TopicPartition tp_;
  const std::shared_ptr<log::Log> log_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<FetchWaiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_PARTITION_H_
