#include "fjord/consumer.h"

#include "absl/strings/str_format.h"
#include "client/internal/consumer_impl.h"
#include "log/record_batch.h"

namespace fjord {

using client::internal::ConsumerConfig;
using client::internal::SteadyNowMs;

// ------------------------------------------------------------- Consumer

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(
    const Properties& properties) {
  auto config = client::internal::ParseConsumerConfig(properties);
  if (!config.ok()) return config.status();
  auto impl = std::make_unique<Impl>(*std::move(config));
  impl->Start();
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() { impl_->Close(); }

absl::Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  return impl_->Assign(partitions);
}
std::vector<TopicPartition> Consumer::Assignment() const {
  return impl_->Assignment();
}
absl::Status Consumer::Seek(const TopicPartition& partition, int64_t offset) {
  return impl_->Seek(partition, offset);
}
absl::Status Consumer::SeekToBeginning(
    const std::vector<TopicPartition>& partitions) {
  return impl_->SeekToBeginning(partitions);
}
absl::Status Consumer::SeekToEnd(
    const std::vector<TopicPartition>& partitions) {
  return impl_->SeekToEnd(partitions);
}
absl::Status Consumer::SeekToTimestamp(const TopicPartition& partition,
                                       int64_t timestamp_ms) {
  return impl_->SeekToTimestamp(partition, timestamp_ms);
}
absl::StatusOr<int64_t> Consumer::Position(const TopicPartition& partition,
                                           std::chrono::milliseconds timeout) {
  return impl_->Position(partition, timeout);
}
absl::StatusOr<ConsumerRecords> Consumer::Poll(
    std::chrono::milliseconds timeout) {
  return impl_->Poll(timeout);
}
void Consumer::Pause(const std::vector<TopicPartition>& partitions) {
  impl_->Pause(partitions, true);
}
void Consumer::Resume(const std::vector<TopicPartition>& partitions) {
  impl_->Pause(partitions, false);
}
std::vector<TopicPartition> Consumer::Paused() const { return impl_->Paused(); }
void Consumer::Close() { impl_->Close(); }

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics,
                                 RebalanceListener* listener) {
  return impl_->Subscribe(topics, listener);
}
absl::Status Consumer::Unsubscribe() { return impl_->Unsubscribe(); }
std::vector<std::string> Consumer::Subscription() const {
  return impl_->Subscription();
}
GroupMemberMetadata Consumer::GroupMetadata() const {
  return impl_->GroupMetadata();
}
absl::Status Consumer::Commit() { return impl_->Commit(nullptr); }
absl::Status Consumer::Commit(const OffsetMap& offsets) {
  return impl_->Commit(&offsets);
}
void Consumer::CommitAsync(CommitCallback callback) {
  impl_->CommitAsync(nullptr, std::move(callback));
}
void Consumer::CommitAsync(const OffsetMap& offsets, CommitCallback callback) {
  impl_->CommitAsync(&offsets, std::move(callback));
}
absl::StatusOr<OffsetMap> Consumer::Committed(
    const std::vector<TopicPartition>& partitions,
    std::chrono::milliseconds timeout) {
  return impl_->Committed(partitions, timeout);
}

// ------------------------------------------------------ Consumer::Impl

Consumer::Impl::Impl(ConsumerConfig config)
    : config_(std::move(config)),
      net_(config_.common, /*max_in_flight=*/5,
           /*allow_auto_topic_creation=*/false,
           client::internal::NetworkClient::Mode::kCaller),
      run_timer_(net_.io()),
      backoff_(config_.common.retry_backoff_ms,
               config_.common.retry_backoff_max_ms) {
  net_.SetListener([this] { Run(); });
  if (!config_.group_id.empty()) {
    member_ = std::make_unique<client::internal::GroupMember>(config_, this);
  }
}

Consumer::Impl::~Impl() { Close(); }

void Consumer::Impl::Start() { net_.Start(); }

void Consumer::Impl::Close() {
  if (in_callback_) return;  // documented: not from a rebalance callback
  {
    absl::MutexLock l(&mu_);
    if (closed_) return;
  }
  if (member_ != nullptr) {
    if (subscribed_) {
      // Revoke (callbacks, auto commit), then leave; a static member
      // leaves temporarily so it can come back to the same partitions.
      (void)LeaveGroup(/*temporary=*/!config_.group_instance_id.empty());
    } else if (config_.enable_auto_commit) {
      OffsetMap offsets = ConsumedPositions(nullptr);
      if (!offsets.empty()) {
        (void)CommitSync(std::move(offsets),
                         client::internal::GroupMember::kSimple);
      }
    }
    member_->DrainCommits(config_.common.request_timeout_ms);
    RunCommitCallbacks();
    member_->Stop();
    RunCommitCallbacks();  // those cancelled by Stop
  }
  {
    absl::MutexLock l(&mu_);
    closed_ = true;
    data_cv_.SignalAll();
  }
  net_.Stop();
}

void Consumer::Impl::WaitForNetwork(int64_t ms) {
  mu_.Unlock();
  net_.Drive(std::chrono::milliseconds(ms));
  mu_.Lock();
}

void Consumer::Impl::WakeFetcher() {
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    net_.Post([this] { Run(); });
  }
}

std::shared_ptr<Consumer::Impl::PartitionState> Consumer::Impl::Find(
    const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? nullptr : it->second;
}

void Consumer::Impl::SetInitialPosition(PartitionState* ps) {
  ps->position = -1;
  ps->fetch_offset = -1;
  ps->epoch++;
  ps->buffered = 0;
  ps->caught_up = false;
  ps->error = absl::OkStatus();
  switch (config_.auto_offset_reset) {
    case ConsumerConfig::OffsetReset::kEarliest:
      ps->reset = Reset::kEarliest;
      break;
    case ConsumerConfig::OffsetReset::kLatest:
      ps->reset = Reset::kLatest;
      break;
    case ConsumerConfig::OffsetReset::kNone:
      ps->reset = Reset::kNone;  // no position until Seek
      break;
  }
}

std::shared_ptr<Consumer::Impl::PartitionState> Consumer::Impl::NewPartition(
    const TopicPartition& tp) {
  auto ps = std::make_shared<PartitionState>();
  ps->tp = tp;
  auto name = std::find(topic_names_.begin(), topic_names_.end(), tp.topic);
  if (name == topic_names_.end()) {
    topic_names_.push_back(tp.topic);
    name = std::prev(topic_names_.end());
  }
  ps->topic = *name;
  SetInitialPosition(ps.get());
  return ps;
}

absl::Status Consumer::Impl::Assign(
    const std::vector<TopicPartition>& partitions) {
  if (subscribed_) {
    return absl::FailedPreconditionError(
        "Assign: the consumer is subscribed to a group (Subscribe); "
        "Unsubscribe first");
  }
  std::vector<std::string> topics;
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
    std::map<TopicPartition, std::shared_ptr<PartitionState>> next;
    for (const TopicPartition& tp : partitions) {
      if (tp.partition < 0 || tp.topic.empty()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("cannot assign '%s'", tp.ToString()));
      }
      if (auto old = Find(tp)) {
        next[tp] = old;
        continue;
      }
      next[tp] = NewPartition(tp);
    }
    partitions_ = std::move(next);
    // Fetched data of partitions no longer assigned goes.
    std::erase_if(completed_, [&](const CompletedFetch& c) {
      return Find(c.state->tp) != c.state;
    });
    for (const auto& [tp, ps] : partitions_) {
      if (topics.empty() || topics.back() != tp.topic)
        topics.push_back(tp.topic);
    }
  }
  net_.Post([this, topics = std::move(topics)] {
    for (const auto& t : topics) net_.AddTopic(t);
    Run();
  });
  return absl::OkStatus();
}

std::vector<TopicPartition> Consumer::Impl::Assignment() const {
  absl::MutexLock l(&mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, ps] : partitions_) out.push_back(tp);
  return out;
}

absl::Status Consumer::Impl::Seek(const TopicPartition& tp, int64_t offset) {
  if (offset < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Seek(%s, %d): offsets are >= 0", tp.ToString(), offset));
  }
  {
    absl::MutexLock l(&mu_);
    auto ps = Find(tp);
    if (ps == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrFormat("Seek: %s is not assigned", tp.ToString()));
    }
    ps->position = offset;
    ps->fetch_offset = offset;
    ps->reset = Reset::kNone;
    ps->epoch++;
    ps->buffered = 0;
    ps->caught_up = false;
    ps->error = absl::OkStatus();
    ps->retry_at_ms = 0;
    data_cv_.SignalAll();
  }
  WakeFetcher();
  return absl::OkStatus();
}

absl::Status Consumer::Impl::SetReset(const TopicPartition& tp, Reset reset,
                                      int64_t ts) {
  auto ps = Find(tp);
  if (ps == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("seek: %s is not assigned", tp.ToString()));
  }
  ps->position = -1;
  ps->fetch_offset = -1;
  ps->reset = reset;
  ps->reset_timestamp = ts;
  ps->epoch++;
  ps->buffered = 0;
  ps->caught_up = false;
  ps->error = absl::OkStatus();
  ps->retry_at_ms = 0;
  return absl::OkStatus();
}

absl::Status Consumer::Impl::SeekToBeginning(
    const std::vector<TopicPartition>& partitions) {
  {
    absl::MutexLock l(&mu_);
    std::vector<TopicPartition> all = partitions;
    if (all.empty()) {
      for (const auto& [tp, ps] : partitions_) all.push_back(tp);
    }
    for (const auto& tp : all) {
      absl::Status s = SetReset(tp, Reset::kEarliest, 0);
      if (!s.ok()) return s;
    }
  }
  WakeFetcher();
  return absl::OkStatus();
}

absl::Status Consumer::Impl::SeekToEnd(
    const std::vector<TopicPartition>& partitions) {
  {
    absl::MutexLock l(&mu_);
    std::vector<TopicPartition> all = partitions;
    if (all.empty()) {
      for (const auto& [tp, ps] : partitions_) all.push_back(tp);
    }
    for (const auto& tp : all) {
      absl::Status s = SetReset(tp, Reset::kLatest, 0);
      if (!s.ok()) return s;
    }
  }
  WakeFetcher();
  return absl::OkStatus();
}

absl::Status Consumer::Impl::SeekToTimestamp(const TopicPartition& tp,
                                             int64_t timestamp) {
  if (timestamp < 0) {
    return absl::InvalidArgumentError(
        "SeekToTimestamp: timestamps are milliseconds since the epoch, >= 0");
  }
  {
    absl::MutexLock l(&mu_);
    absl::Status s = SetReset(tp, Reset::kTimestamp, timestamp);
    if (!s.ok()) return s;
  }
  WakeFetcher();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Consumer::Impl::Position(
    const TopicPartition& tp, std::chrono::milliseconds timeout) {
  const int64_t deadline = SteadyNowMs() + timeout.count();
  absl::MutexLock l(&mu_);
  for (;;) {
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
    auto ps = Find(tp);
    if (ps == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrFormat("Position: %s is not assigned", tp.ToString()));
    }
    if (!ps->error.ok()) return ps->error;
    if (ps->position >= 0) return ps->position;
    if (ps->reset == Reset::kNone) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s has no position: auto.offset.reset=none and no Seek",
          tp.ToString()));
    }
    const int64_t left = deadline - SteadyNowMs();
    if (left <= 0) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "the position of %s was not resolved within %d ms%s%s", tp.ToString(),
          timeout.count(), network_error_.ok() ? "" : ": ",
          network_error_.ok() ? "" : network_error_.message()));
    }
    WaitForNetwork(left);
  }
}

void Consumer::Impl::Pause(const std::vector<TopicPartition>& partitions,
                           bool paused) {
  {
    absl::MutexLock l(&mu_);
    for (const auto& tp : partitions) {
      if (auto ps = Find(tp)) ps->paused = paused;
    }
  }
  if (!paused) WakeFetcher();
}

std::vector<TopicPartition> Consumer::Impl::Paused() const {
  absl::MutexLock l(&mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, ps] : partitions_) {
    if (ps->paused) out.push_back(tp);
  }
  return out;
}

absl::Status Consumer::Impl::PollError() const {
  for (const auto& [tp, ps] : partitions_) {
    if (ps->stopped) continue;
    if (!ps->error.ok()) return ps->error;
    if (ps->position < 0 && ps->reset == Reset::kNone) {
      return absl::FailedPreconditionError(absl::StrFormat(
          subscribed_
              ? "%s has no committed offset and auto.offset.reset=none: Seek "
                "in OnPartitionsAssigned, or commit one"
              : "%s has no position: auto.offset.reset=none and no Seek",
          tp.ToString()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ConsumerRecords> Consumer::Impl::Poll(
    std::chrono::milliseconds timeout) {
  if (in_callback_) {
    return absl::FailedPreconditionError(
        "Poll cannot be called from a rebalance callback");
  }
  if (member_ == nullptr) return PollRecords(timeout);
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError("consumer is closed");
  }
  member_->PollStarted();
  absl::StatusOr<ConsumerRecords> out = PollRecords(timeout);
  member_->PollEnded();
  return out;
}

absl::StatusOr<ConsumerRecords> Consumer::Impl::PollRecords(
    std::chrono::milliseconds timeout) {
  const int64_t deadline = SteadyNowMs() + timeout.count();
  std::vector<CompletedFetch> taken;
  for (bool timed_out = false; !timed_out;) {
    if (member_ != nullptr) {
      // Rebalance callbacks, commits of revoked partitions, CommitAsync
      // callbacks and auto commit happen here, on the caller's thread.
      RunGroupWork();
      absl::Status group = member_->status();
      // Out of the group for want of a coordinator: wait (for a rejoin)
      // until the timeout before saying so, rather than fail at once.
      if (!group.ok() && !absl::IsUnavailable(group)) return group;
    }
    // Answers that came in since the last call, and the next fetches out,
    // before looking at what is here.
    net_.DriveReady();
    absl::MutexLock l(&mu_);
    bool woken = false;
    while (!woken && !timed_out) {
      if (closed_) return absl::FailedPreconditionError("consumer is closed");
      if (absl::Status s = PollError(); !s.ok()) return s;
      taken.clear();
      for (auto it = completed_.begin(); it != completed_.end();) {
        const auto& ps = it->state;
        if (Find(ps->tp) != ps || it->epoch != ps->epoch || ps->stopped) {
          it = completed_.erase(it);  // stale: seeked or unassigned since
          continue;
        }
        if (ps->paused) {
          ++it;
          continue;
        }
        taken.push_back(std::move(*it));
        it = completed_.erase(it);
      }
      if (!taken.empty()) {
        auto records = TakeRecords(taken);
        // The fetches the taken answers made room for go out now, to be
        // answered while the application works.
        mu_.Unlock();
        net_.DriveReady();
        mu_.Lock();
        return records;
      }
      const int64_t left = deadline - SteadyNowMs();
      if (left <= 0) {
        timed_out = true;
        continue;
      }
      if (group_wake_) {
        woken = true;  // group work for this thread: do it, then go on
        continue;
      }
      WaitForNetwork(left);
    }
  }
  if (member_ != nullptr) {
    // What came in during the wait (OnPartitionsLost before the error that
    // explains it) runs before Poll returns.
    RunGroupWork();
    if (absl::Status group = member_->status(); !group.ok()) return group;
  }
  return ConsumerRecords();
}

absl::StatusOr<ConsumerRecords> Consumer::Impl::TakeRecords(
    std::vector<CompletedFetch>& taken) {
  // Check and count the batches without the lock (the group's threads may
  // stop partitions meanwhile), then advance the positions if nothing moved
  // them.
  struct Result {
    int64_t next_position = -1;
    absl::Status error;
  };
  std::vector<Result> results(taken.size());
  std::vector<int64_t> starts(taken.size());
  for (size_t i = 0; i < taken.size(); i++)
    starts[i] = taken[i].state->position;
  ConsumerRecords out;
  mu_.Unlock();
  for (size_t i = 0; i < taken.size(); i++) {
    CompletedFetch& c = taken[i];
    std::shared_ptr<const void> keep(c.buffer, c.buffer.get());
    size_t pos = 0;
    int64_t position = starts[i];
    // A second fetch of the same partition starts where the first ended.
    for (size_t j = i; j-- > 0;) {
      if (taken[j].state == c.state) {
        position = std::max(position, results[j].next_position);
        break;
      }
    }
    while (pos < c.records.size()) {
      auto batch = c.records.subspan(pos);
      auto h = log::ParseBatchHeader(batch.data(), batch.size());
      if (h.ok()) batch = batch.first(h->size_bytes());
      auto valid = h.ok() ? log::ValidateBatch(batch) : h.status();
      if (!valid.ok()) {
        results[i].error = absl::DataLossError(
            absl::StrFormat("corrupt batch at offset %d of %s: %s", position,
                            c.state->tp.ToString(), valid.status().message()));
        break;
      }
      pos += batch.size();
      if (valid->last().value() < position) continue;  // all before it
      ConsumerRecords::Chunk chunk;
      chunk.topic = c.state->topic;
      chunk.partition = c.state->tp.partition;
      chunk.batch = batch;
      chunk.min_offset = position;
      chunk.keepalive = keep;
      absl::Status s = out.AddChunk(std::move(chunk));
      if (!s.ok()) {
        results[i].error = absl::DataLossError(
            absl::StrFormat("%s: %s", c.state->tp.ToString(), s.message()));
        break;
      }
      position = valid->last().value() + 1;
    }
    results[i].next_position = position;
  }
  mu_.Lock();
  bool any_error = false;
  bool made_room = false;
  for (size_t i = 0; i < taken.size(); i++) {
    auto& ps = taken[i].state;
    if (Find(ps->tp) != ps || taken[i].epoch != ps->epoch) continue;
    if (ps->buffered >= kMaxBufferedFetches) made_room = true;
    ps->buffered--;
    if (results[i].next_position > ps->position) {
      ps->position = results[i].next_position;
    }
    if (!results[i].error.ok()) {
      ps->error = results[i].error;
      any_error = true;
    }
  }
  // The fetcher needs running only for a partition it held back because its
  // answers filled the buffer (it sends the next Fetch itself otherwise, as
  // an answer is queued); Poll runs it before it returns.
  if (made_room) WakeFetcher();
  if (any_error && out.empty()) {
    for (const auto& [tp, ps] : partitions_) {
      if (!ps->error.ok()) return ps->error;
    }
  }
  return out;
}

}  // namespace fjord
