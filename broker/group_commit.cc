#include "broker/group_commit.h"

#include <limits>

#include "spdlog/spdlog.h"

namespace fjord::broker {

GroupCommitter::GroupCommitter(int threads) {
  for (int i = 0; i < std::max(1, threads); i++) {
    threads_.emplace_back([this] { Loop(); });
  }
}

GroupCommitter::~GroupCommitter() { Stop(); }

void GroupCommitter::RequestCommit(std::shared_ptr<Partition> partition) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      if (queued_.insert(partition.get()).second) {
        queue_.push_back(std::move(partition));
      }
      return;
    }
  }
  partition->FailAllCommitWaiters(
      absl::UnavailableError("the broker is shutting down"));
}

void GroupCommitter::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

uint64_t GroupCommitter::flushes() const {
  absl::MutexLock l(const_cast<absl::Mutex*>(&mu_));
  return flushes_;
}

void GroupCommitter::Loop() {
  for (;;) {
    std::shared_ptr<Partition> p;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitter* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return c->stopping_ || !c->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left to flush
      p = std::move(queue_.front());
      queue_.pop_front();
      // Before the flush starts: a waiter that parks from now on may not
      // be covered by it, and must queue the partition again.
      queued_.erase(p.get());
    }
    // Unless Flush says otherwise (a deleted log), a failure covers every
    // waiter.
    Offset target(std::numeric_limits<int64_t>::max());
    absl::Status s = p->log().Flush(&target);
    {
      absl::MutexLock l(&mu_);
      flushes_++;
    }
    if (s.ok()) {
      p->AdvanceCommitted(target);
      continue;
    }
    spdlog::error("flush of {} for acks=all failed: {}", p->tp().ToString(),
                  s.message());
    p->FailCommitWaiters(target, s);
    // Waiters past `target` parked during the failed flush asked for
    // another one themselves.
  }
}

}  // namespace fjord::broker
