// Partition: a topic-partition as the broker serves it: its Log, the
// long-poll fetches waiting for data to arrive on it, and its committed
// watermark with the acks=all produces waiting for it. Thread-safe.
//
// The committed watermark is the offset below which every record is
// committed: what an acks=all Produce is acknowledged against. A produce
// appends, then parks on WaitForCommit(end of its batch) until a
// CommitDriver has moved the watermark past it (AdvanceCommitted) or
// failed it (FailCommitWaiters).
//
// Who moves it, and to where, is the driver's policy, not the
// partition's:
//  - single node: the GroupCommitter (broker/group_commit.h)
//    flushes the log and advances the watermark to the flushed offset, so
//    committed means durable on this node's disk;
//  - in a cluster, the partition's leader (broker/replica_manager.h)
//    advances it to the high watermark, the smallest log end offset of
//    the in-sync replicas, so committed means held by every in-sync
//    replica; on a change of leadership it is reset (ResetCommitted).
#ifndef FJORD_BROKER_PARTITION_H_
#define FJORD_BROKER_PARTITION_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
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

// Something parked until the committed watermark reaches its target (an
// acks=all Produce). Done() is called exactly once, from any thread, with
// OK once the target is committed or the reason it will not be.
class CommitWaiter {
 public:
  virtual ~CommitWaiter() = default;
  virtual void Done(const absl::Status& status) = 0;
};

class Partition;

// Moves committed watermarks forward when waiters ask (see above).
// Thread-safe.
class CommitDriver {
 public:
  virtual ~CommitDriver() = default;
  // `partition` has a waiter whose target is past its watermark. Called
  // after each such WaitForCommit; calls for a partition already being
  // worked on may be coalesced.
  virtual void RequestCommit(std::shared_ptr<Partition> partition) = 0;
};

class Partition {
 public:
  // The watermark starts at the log's recovery point: what is already
  // durable.
  Partition(TopicPartition tp, std::shared_ptr<log::Log> log)
      : tp_(std::move(tp)),
        log_(std::move(log)),
        committed_(log_->recovery_point().offset) {}
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

  // ------------------------------------------------- committed watermark

  Offset committed_offset() const {
    absl::MutexLock l(&mu_);
    return committed_;
  }
  // Calls w->Done(OK) now, on this thread, if the watermark is at or past
  // `target` and returns false; otherwise parks `w` and returns true: the
  // caller then asks its CommitDriver to RequestCommit (single node).
  bool WaitForCommit(Offset target, std::shared_ptr<CommitWaiter> w) {
    {
      absl::MutexLock l(&mu_);
      if (target > committed_) {
        commit_waiters_.push_back({target, std::move(w)});
        return true;
      }
    }
    w->Done(absl::OkStatus());
    return false;
  }
  // The watermark is now `offset` (it never moves back: a lower value is
  // ignored). Wakes, with OK, every waiter whose target it reaches.
  void AdvanceCommitted(Offset offset) {
    std::vector<std::shared_ptr<CommitWaiter>> done;
    {
      absl::MutexLock l(&mu_);
      if (offset <= committed_) return;
      committed_ = offset;
      TakeWaitersLocked(offset, &done);
    }
    for (auto& w : done) w->Done(absl::OkStatus());
  }
  // Fails, with `why`, every waiter whose target is at or below `up_to`
  // (what a failed flush was to cover); later ones stay parked. Returns
  // whether any stay parked.
  bool FailCommitWaiters(Offset up_to, const absl::Status& why) {
    std::vector<std::shared_ptr<CommitWaiter>> failed;
    bool remain;
    {
      absl::MutexLock l(&mu_);
      TakeWaitersLocked(up_to, &failed);
      remain = !commit_waiters_.empty();
    }
    for (auto& w : failed) w->Done(why);
    return remain;
  }
  // Fails every parked waiter with `why` (the partition is being deleted,
  // or this broker stopped leading it).
  void FailAllCommitWaiters(const absl::Status& why) {
    std::vector<std::shared_ptr<CommitWaiter>> failed;
    {
      absl::MutexLock l(&mu_);
      for (auto& [target, w] : commit_waiters_) failed.push_back(std::move(w));
      commit_waiters_.clear();
    }
    for (auto& w : failed) w->Done(why);
  }
  // A new term of leadership: fails every parked waiter with `why` and
  // sets the watermark to `offset`, backwards too (a follower that
  // truncated may lead with a lower one).
  void ResetCommitted(Offset offset, const absl::Status& why) {
    FailAllCommitWaiters(why);
    absl::MutexLock l(&mu_);
    committed_ = offset;
  }
  size_t commit_waiter_count() const {
    absl::MutexLock l(&mu_);
    return commit_waiters_.size();
  }

 private:
  struct ParkedCommit {
    Offset target;
    std::shared_ptr<CommitWaiter> waiter;
  };
  void TakeWaitersLocked(Offset up_to,
                         std::vector<std::shared_ptr<CommitWaiter>>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::erase_if(commit_waiters_, [&](ParkedCommit& p) {
      if (p.target > up_to) return false;
      out->push_back(std::move(p.waiter));
      return true;
    });
  }

  const TopicPartition tp_;
  const std::shared_ptr<log::Log> log_;
  mutable absl::Mutex mu_;
  std::vector<std::weak_ptr<FetchWaiter>> waiters_ ABSL_GUARDED_BY(mu_);
  Offset committed_ ABSL_GUARDED_BY(mu_);
  // Few (one per acks=all request in flight on the partition): a scan is
  // cheaper than keeping them ordered.
  std::vector<ParkedCommit> commit_waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_PARTITION_H_
