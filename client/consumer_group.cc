// The application-thread half of a Consumer in a consumer group (see
// consumer_impl.h): Subscribe and Unsubscribe, commits, and the rebalance
// events Poll handles. The protocol itself runs in GroupMember.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "client/internal/consumer_impl.h"

namespace fjord {

using client::internal::GroupEvent;
using client::internal::GroupMember;
using client::internal::SteadyNowMs;

namespace {

absl::Status NoGroup(std::string_view call) {
  return absl::FailedPreconditionError(
      absl::StrFormat("%s needs group.id (the consumer group to use)", call));
}

}  // namespace

absl::Status Consumer::Impl::Subscribe(const std::vector<std::string>& topics,
                                       RebalanceListener* listener) {
  if (in_callback_) {
    return absl::FailedPreconditionError(
        "Subscribe cannot be called from a rebalance callback");
  }
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
    if (!subscribed_ && !partitions_.empty() && member_ != nullptr) {
      return absl::FailedPreconditionError(
          "Subscribe: partitions are assigned with Assign; Assign({}) or "
          "Unsubscribe first");
    }
  }
  if (member_ == nullptr) return NoGroup("Subscribe");
  std::vector<std::string> sorted = topics;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (const std::string& t : sorted) {
    if (t.empty()) {
      return absl::InvalidArgumentError("Subscribe: an empty topic name");
    }
  }
  if (sorted.empty()) return Unsubscribe();
  listener_ = listener;
  if (!subscribed_) {
    subscribed_ = true;
    next_auto_commit_ms_ = SteadyNowMs() + config_.auto_commit_interval_ms;
  }
  member_->Subscribe(std::move(sorted));
  return absl::OkStatus();
}

absl::Status Consumer::Impl::Unsubscribe() {
  if (in_callback_) {
    return absl::FailedPreconditionError(
        "Unsubscribe cannot be called from a rebalance callback");
  }
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
  }
  if (subscribed_) return LeaveGroup(/*temporary=*/false);
  absl::MutexLock l(&mu_);
  partitions_.clear();  // as Kafka's: an Assign assignment goes too
  completed_.clear();
  return absl::OkStatus();
}

std::vector<std::string> Consumer::Impl::Subscription() const {
  if (member_ == nullptr) return {};
  return member_->subscription();
}

GroupMemberMetadata Consumer::Impl::GroupMetadata() const {
  if (member_ == nullptr) return {};
  return member_->metadata();
}

absl::Status Consumer::Impl::LeaveGroup(bool temporary) {
  RunGroupWork();  // assignments and revocations already decided first
  const uint64_t generation = member_->generation();
  std::vector<TopicPartition> all;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [tp, ps] : partitions_) all.push_back(tp);
  }
  if (!all.empty()) {
    Callback([&](RebalanceListener& l) { l.OnPartitionsRevoked(all); });
    if (config_.enable_auto_commit) {
      // Not those already being taken away (stopped): they may be lost.
      OffsetMap offsets = ConsumedPositions(nullptr);
      if (!offsets.empty()) {
        // A failure leaves the previous commit: the next owner reads some
        // records again, none is skipped.
        (void)CommitSync(std::move(offsets), generation);
      }
    }
  }
  absl::Status s = member_->Leave(temporary);
  {
    absl::MutexLock l(&mu_);
    partitions_.clear();
    completed_.clear();
    last_committed_.clear();
  }
  subscribed_ = false;
  listener_ = nullptr;
  RunCommitCallbacks();
  return s;
}

// ---------------------------------------------------------- Poll's part

void Consumer::Impl::RunGroupWork() {
  RunCommitCallbacks();
  {
    absl::MutexLock l(&mu_);
    group_wake_ = false;
  }
  while (std::optional<GroupEvent> e = member_->TakeEvent()) {
    HandleGroupEvent(*e);
  }
  MaybeAutoCommit();
}

void Consumer::Impl::HandleGroupEvent(GroupEvent& e) {
  switch (e.kind) {
    case GroupEvent::Kind::kAssigned: {
      std::vector<std::string> topics;
      {
        absl::MutexLock l(&mu_);
        for (const TopicPartition& tp : e.partitions) {
          auto ps = NewPartition(tp);  // replaces a stale, stopped one
          if (auto it = e.committed.find(tp); it != e.committed.end()) {
            ps->position = it->second.offset;
            ps->fetch_offset = it->second.offset;
            ps->reset = Reset::kNone;
            last_committed_[tp] = it->second.offset;
          } else {
            last_committed_.erase(tp);
          }
          partitions_[tp] = std::move(ps);
          if (topics.empty() || topics.back() != tp.topic) {
            topics.push_back(tp.topic);
          }
        }
      }
      net_.Post([this, topics = std::move(topics)] {
        for (const auto& t : topics) net_.AddTopic(t);
        Run();
      });
      Callback(
          [&](RebalanceListener& l) { l.OnPartitionsAssigned(e.partitions); });
      return;
    }
    case GroupEvent::Kind::kRevoke: {
      StopPartitions(e.partitions);  // if assigned since the member stopped
      Callback(
          [&](RebalanceListener& l) { l.OnPartitionsRevoked(e.partitions); });
      if (config_.enable_auto_commit) {
        OffsetMap offsets = ConsumedPositions(&e.partitions);
        if (!offsets.empty()) {
          // Refused if the partitions were lost meanwhile (generation);
          // a failure otherwise leaves the previous commit for the next
          // owner (records read twice, none skipped).
          (void)CommitSync(std::move(offsets), e.generation);
        }
      }
      RemovePartitions(e.partitions);
      member_->Revoked(e.partitions, e.generation);  // heartbeats at once
      return;
    }
    case GroupEvent::Kind::kLost:
      Callback([&](RebalanceListener& l) { l.OnPartitionsLost(e.partitions); });
      RemovePartitions(e.partitions);
      return;
  }
}

void Consumer::Impl::RemovePartitions(
    const std::vector<TopicPartition>& partitions) {
  absl::MutexLock l(&mu_);
  for (const TopicPartition& tp : partitions) {
    partitions_.erase(tp);
    last_committed_.erase(tp);
  }
  std::erase_if(completed_, [&](const CompletedFetch& c) {
    return Find(c.state->tp) != c.state;
  });
}

void Consumer::Impl::StopPartitions(
    const std::vector<TopicPartition>& partitions) {
  absl::MutexLock l(&mu_);
  for (const TopicPartition& tp : partitions) {
    if (auto ps = Find(tp)) ps->stopped = true;
  }
  std::erase_if(completed_,
                [](const CompletedFetch& c) { return c.state->stopped; });
  data_cv_.SignalAll();
  net_.Interrupt();
}

void Consumer::Impl::WakePoll() {
  absl::MutexLock l(&mu_);
  group_wake_ = true;
  data_cv_.SignalAll();
  net_.Interrupt();
}

// ------------------------------------------------------------- commits

OffsetMap Consumer::Impl::ConsumedPositions(
    const std::vector<TopicPartition>* only) {
  OffsetMap out;
  absl::MutexLock l(&mu_);
  if (only != nullptr) {
    for (const TopicPartition& tp : *only) {
      auto ps = Find(tp);
      if (ps != nullptr && ps->position >= 0) out[tp].offset = ps->position;
    }
    return out;
  }
  for (const auto& [tp, ps] : partitions_) {
    if (!ps->stopped && ps->position >= 0) out[tp].offset = ps->position;
  }
  return out;
}

void Consumer::Impl::EnqueueCommit(OffsetMap offsets, uint64_t generation,
                                   CommitCallback callback) {
  OffsetMap copy = offsets;
  member_->EnqueueCommit(
      std::move(offsets), generation,
      [this, callback = std::move(callback),
       copy = std::move(copy)](const absl::Status& s) mutable {
        absl::MutexLock l(&mu_);
        if (s.ok()) {
          for (const auto& [tp, om] : copy) last_committed_[tp] = om.offset;
        }
        if (callback) {
          done_commits_.push_back({std::move(callback), s, std::move(copy)});
          data_cv_.SignalAll();  // a CommitSync may wait for it
          net_.Interrupt();      // or a Poll
        }
      });
}

absl::Status Consumer::Impl::CommitSync(OffsetMap offsets,
                                        uint64_t generation) {
  struct Waiter {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    absl::Status status ABSL_GUARDED_BY(mu);
  };
  auto waiter = std::make_shared<Waiter>();
  EnqueueCommit(std::move(offsets), generation,
                [waiter](const absl::Status& s, const OffsetMap&) {
                  absl::MutexLock l(&waiter->mu);
                  waiter->status = s;
                  waiter->done = true;
                });
  // The callback above is queued for this thread: wait for the commit
  // thread to have queued it, then run the callbacks (ours included).
  const int64_t bound =
      2 * static_cast<int64_t>(config_.common.request_timeout_ms) + 1000;
  const int64_t deadline = SteadyNowMs() + bound;
  for (;;) {
    RunCommitCallbacks();
    {
      absl::MutexLock l(&waiter->mu);
      if (waiter->done) return waiter->status;
    }
    const int64_t left = deadline - SteadyNowMs();
    if (left <= 0) {
      return absl::DeadlineExceededError(
          absl::StrFormat("the commit did not complete within %d ms", bound));
    }
    absl::MutexLock l(&mu_);
    if (done_commits_.empty()) {
      data_cv_.WaitWithTimeout(&mu_,
                               absl::Milliseconds(std::min<int64_t>(left, 50)));
    }
  }
}

void Consumer::Impl::RunCommitCallbacks() {
  std::deque<DoneCommit> done;
  {
    absl::MutexLock l(&mu_);
    done.swap(done_commits_);
  }
  for (DoneCommit& d : done) d.callback(d.status, d.offsets);
}

void Consumer::Impl::MaybeAutoCommit() {
  if (!config_.enable_auto_commit) return;
  const int64_t now = SteadyNowMs();
  if (now < next_auto_commit_ms_) return;
  next_auto_commit_ms_ = now + config_.auto_commit_interval_ms;
  // The generation first: a loss after it makes the commit refused, a loss
  // before it has already stopped the lost partitions.
  const uint64_t generation =
      subscribed_ ? member_->generation() : GroupMember::kSimple;
  OffsetMap offsets = ConsumedPositions(nullptr);
  {
    absl::MutexLock l(&mu_);
    std::erase_if(offsets, [&](const auto& kv) {
      auto it = last_committed_.find(kv.first);
      return it != last_committed_.end() && it->second == kv.second.offset;
    });
  }
  if (!offsets.empty()) EnqueueCommit(std::move(offsets), generation, nullptr);
}

absl::Status Consumer::Impl::Commit(const OffsetMap* offsets) {
  if (member_ == nullptr) return NoGroup("Commit");
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
  }
  const uint64_t generation =
      subscribed_ ? member_->generation() : GroupMember::kSimple;
  OffsetMap o = offsets != nullptr ? *offsets : ConsumedPositions(nullptr);
  for (const auto& [tp, om] : o) {
    if (om.offset < 0 || tp.partition < 0 || tp.topic.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Commit: %s offset %d (offsets are >= 0)", tp.ToString(), om.offset));
    }
  }
  if (o.empty()) {
    RunCommitCallbacks();
    return absl::OkStatus();
  }
  return CommitSync(std::move(o), generation);
}

void Consumer::Impl::CommitAsync(const OffsetMap* offsets,
                                 CommitCallback callback) {
  absl::Status refused;
  bool closed;
  {
    absl::MutexLock l(&mu_);
    closed = closed_;
  }
  if (member_ == nullptr) {
    refused = NoGroup("CommitAsync");
  } else if (closed) {
    refused = absl::FailedPreconditionError("consumer is closed");
  }
  OffsetMap o;
  if (refused.ok()) {
    const uint64_t generation =
        subscribed_ ? member_->generation() : GroupMember::kSimple;
    o = offsets != nullptr ? *offsets : ConsumedPositions(nullptr);
    for (const auto& [tp, om] : o) {
      if (om.offset < 0 || tp.partition < 0 || tp.topic.empty()) {
        refused = absl::InvalidArgumentError(
            absl::StrFormat("CommitAsync: %s offset %d (offsets are >= 0)",
                            tp.ToString(), om.offset));
      }
    }
    if (refused.ok()) {
      EnqueueCommit(std::move(o), generation, std::move(callback));
      return;
    }
  }
  // On this thread, as every commit callback.
  if (callback) callback(refused, offsets != nullptr ? *offsets : o);
}

absl::StatusOr<OffsetMap> Consumer::Impl::Committed(
    const std::vector<TopicPartition>& partitions,
    std::chrono::milliseconds timeout) {
  if (member_ == nullptr) return NoGroup("Committed");
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
  }
  return member_->FetchCommitted(partitions, timeout.count());
}

}  // namespace fjord
