#include "fjord/producer.h"

#include <thread>

#include "absl/strings/str_format.h"
#include "client/internal/errors.h"
#include "client/internal/producer_impl.h"
#include "log/file_names.h"

namespace fjord {

using client::internal::kErrInvalidTopic;
using client::internal::kErrNone;
using client::internal::kErrUnknownTopicOrPartition;
using client::internal::SteadyNowMs;
using client::internal::WallNowMs;

// ------------------------------------------------------------- Producer

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(
    const Properties& properties) {
  auto config = client::internal::ParseProducerConfig(properties);
  if (!config.ok()) return config.status();
  auto impl = std::make_unique<Impl>(*std::move(config));
  impl->Start();
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Producer::~Producer() { (void)impl_->Close(std::chrono::milliseconds::max()); }

void Producer::Send(const ProducerRecord& record, DeliveryCallback callback) {
  impl_->Send(record, std::move(callback));
}

std::future<absl::StatusOr<RecordMetadata>> Producer::Send(
    const ProducerRecord& record) {
  std::promise<absl::StatusOr<RecordMetadata>> promise;
  auto future = promise.get_future();
  impl_->Send(record,
              [p = std::move(promise)](const absl::Status& s,
                                       const RecordMetadata& md) mutable {
                if (s.ok()) {
                  p.set_value(md);
                } else {
                  p.set_value(s);
                }
              });
  return future;
}

absl::Status Producer::Flush(std::chrono::milliseconds timeout) {
  return impl_->Flush(timeout);
}

absl::Status Producer::Close(std::chrono::milliseconds timeout) {
  return impl_->Close(timeout);
}

absl::StatusOr<int32_t> Producer::PartitionCount(std::string_view topic) {
  return impl_->PartitionCount(topic);
}

// ------------------------------------------------------ Producer::Impl

namespace {

// bookworm's absl::string_view is its own type, not std::string_view.
absl::string_view Key(std::string_view s) { return {s.data(), s.size()}; }

int64_t DeadlineAfter(std::chrono::milliseconds timeout) {
  const int64_t now = SteadyNowMs();
  if (timeout.count() >= INT64_MAX / 2 - now) return INT64_MAX / 2;
  return now + timeout.count();
}

}  // namespace

Producer::Impl::Impl(client::internal::ProducerConfig config)
    : config_(std::move(config)),
      acc_({config_.batch_size, config_.linger_ms, config_.compression}),
      memory_(config_.buffer_memory),
      net_(config_.common, config_.max_in_flight, true),
      run_timer_(net_.io()),
      backoff_(config_.common.retry_backoff_ms,
               config_.common.retry_backoff_max_ms) {
  net_.SetListener([this] { OnNetworkEvent(); });
}

Producer::Impl::~Impl() { (void)Close(std::chrono::milliseconds::max()); }

void Producer::Impl::Start() { net_.Start(); }

int64_t Producer::Impl::BlockDeadline() const {
  if (config_.max_block_ms >= INT64_MAX / 4) return INT64_MAX / 2;
  return SteadyNowMs() + config_.max_block_ms;
}

void Producer::Impl::WakeSender() {
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    net_.Post([this] { Run(); });
  }
}

absl::StatusOr<Producer::Impl::Topic*> Producer::Impl::WaitForTopic(
    std::string_view name, int64_t deadline_ms) {
  absl::MutexLock l(&topics_mu_);
  if (!fatal_error_.ok()) return fatal_error_;
  auto it = topics_.find(Key(name));
  if (it == topics_.end()) {
    if (!log::IsValidTopicName(name)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "invalid topic name '%s' (1-249 characters of [a-zA-Z0-9._-])",
          name));
    }
    auto t = std::make_unique<Topic>();
    t->name = std::string(name);
    it = topics_.emplace(t->name, std::move(t)).first;
    auto snapshot = std::make_unique<TopicSnapshot>();
    for (const auto& [n, entry] : topics_) snapshot->topics[n] = entry.get();
    snapshot_.store(snapshot.get(), std::memory_order_release);
    snapshots_.push_back(std::move(snapshot));
    net_.Post([this, n = std::string(name)] { net_.AddTopic(n); });
  }
  Topic* t = it->second.get();
  for (;;) {
    if (t->partition_count() > 0) return t;
    if (!fatal_error_.ok()) return fatal_error_;
    if (closed_.load()) {
      return absl::FailedPreconditionError(
          "the producer was closed while Send waited for metadata");
    }
    if (t->metadata_error.load() == kErrInvalidTopic) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the broker refuses topic name '%s' (INVALID_TOPIC_EXCEPTION)",
          name));
    }
    const int64_t left = deadline_ms - SteadyNowMs();
    if (left <= 0) break;
    topics_cv_.WaitWithTimeout(&topics_mu_, absl::Milliseconds(left));
  }
  if (t->metadata_error.load() == kErrUnknownTopicOrPartition) {
    return absl::NotFoundError(absl::StrFormat(
        "topic '%s' does not exist (the broker answers "
        "UNKNOWN_TOPIC_OR_PARTITION and does not create it); waited "
        "max.block.ms=%d",
        name, config_.max_block_ms));
  }
  return absl::UnavailableError(absl::StrFormat(
      "no metadata for topic '%s' within max.block.ms=%d: %s", name,
      config_.max_block_ms,
      network_error_.ok() ? "no answer from the cluster"
                          : std::string(network_error_.message())));
}

void Producer::Impl::Send(const ProducerRecord& record,
                          DeliveryCallback callback) {
  auto fail = [&](const absl::Status& s, int32_t partition) {
    if (!callback) return;
    RecordMetadata md;
    md.topic = record.topic;
    md.partition = partition;
    md.timestamp = record.timestamp.value_or(-1);
    callback(s, md);
  };
  // Close waits for Sends in progress, so a record either sees closed_ or
  // is in a batch before Close's final flush (both seq_cst: Dekker).
  sends_in_progress_.fetch_add(1, std::memory_order_seq_cst);
  struct Leave {
    std::atomic<int>* n;
    ~Leave() { n->fetch_sub(1, std::memory_order_release); }
  } leave{&sends_in_progress_};
  if (closed_.load(std::memory_order_seq_cst)) {
    fail(absl::FailedPreconditionError("Send after the producer was closed"),
         record.partition.value_or(-1));
    return;
  }
  const int64_t timestamp = record.timestamp ? *record.timestamp : WallNowMs();
  const int64_t size = static_cast<int64_t>(log::BatchBuilder::MaxRecordBytes(
      record.key, record.value, record.headers));
  if (size > memory_.limit()) {
    fail(absl::InvalidArgumentError(absl::StrFormat(
             "a record of %d bytes does not fit in buffer.memory (%d bytes)",
             size, memory_.limit())),
         record.partition.value_or(-1));
    return;
  }
  // Fast path, without locks: the topic and its partitions are known. The
  // topic of the last Send is tried first (comparing names is cheaper than
  // hashing one); entries are never removed, so the pointer stays valid.
  Topic* t = last_topic_.load(std::memory_order_acquire);
  if (t == nullptr || t->name != record.topic) {
    t = nullptr;
    if (const TopicSnapshot* snap = snapshot_.load(std::memory_order_acquire)) {
      auto it = snap->topics.find(Key(record.topic));
      if (it != snap->topics.end()) {
        t = it->second;
        last_topic_.store(t, std::memory_order_release);
      }
    }
  }
  const client::internal::PartitionArray* partitions =
      t == nullptr ? nullptr : t->current.load(std::memory_order_acquire);
  if (partitions == nullptr) {
    // Metadata first: waiting for it must not hold buffer memory.
    auto found = WaitForTopic(record.topic, BlockDeadline());
    if (!found.ok()) {
      fail(found.status(), record.partition.value_or(-1));
      return;
    }
    t = *found;
    partitions = t->current.load(std::memory_order_acquire);
  }
  if (!memory_.TryReserve(size) &&
      !memory_.Reserve(size, BlockDeadline(), !net_.OnIoThread())) {
    fail(absl::ResourceExhaustedError(absl::StrFormat(
             "buffer.memory (%d bytes) stayed full for max.block.ms (%d ms): "
             "records arrive faster than the cluster takes them",
             memory_.limit(), config_.max_block_ms)),
         record.partition.value_or(-1));
    return;
  }
  const int32_t n = static_cast<int32_t>(partitions->queues.size());
  client::internal::RecordAccumulator::AppendResult result;
  int32_t p;
  if (record.partition) {
    p = *record.partition;
    if (p < 0 || p >= n) {
      memory_.Release(size);
      fail(absl::InvalidArgumentError(absl::StrFormat(
               "partition %d does not exist: topic '%s' has %d partitions", p,
               t->name, n)),
           p);
      return;
    }
  } else if (record.key) {
    p = client::internal::PartitionForKey(*record.key, n);
  } else {
    // Sticky: stay on the partition while its batch has room; when a new
    // batch would start there, move on (Kafka's sticky partitioner).
    p = t->sticky.Get(n);
    result = acc_.Append(partitions->queues[p], record.key, record.value,
                         record.headers, timestamp, std::move(callback), size,
                         /*only_if_open=*/true);
    if (!result.appended) {
      const bool full = result.batch_full;
      p = t->sticky.NextAfter(p, n);
      result = acc_.Append(partitions->queues[p], record.key, record.value,
                           record.headers, timestamp, std::move(callback), size,
                           /*only_if_open=*/false);
      result.batch_full |= full;
    }
  }
  if (!result.appended) {
    result = acc_.Append(partitions->queues[p], record.key, record.value,
                         record.headers, timestamp, std::move(callback), size,
                         /*only_if_open=*/false);
  }
  if (result.new_batch || result.batch_full) {
    const bool ready_now = result.batch_full || config_.linger_ms == 0;
    if (!ready_now || !SendNow()) WakeSender();
  }
}

bool Producer::Impl::SendNow() {
  client::internal::LoopGuard::TryHold hold(net_.guard());
  if (!hold) return false;  // the network thread is at work: it will see
  // Only the steady state; anything else (a producer id to get, metadata
  // to apply, everything to fail) is left to Run on the network thread.
  if (abort_.load() ||
      (config_.enable_idempotence && pid_state_ != PidState::kReady) ||
      net_.metadata().version != applied_metadata_version_) {
    return false;
  }
  sending_inline_ = true;
  run_wanted_ = false;
  const int64_t next = SendReady(SteadyNowMs());
  sending_inline_ = false;
  if (next != INT64_MAX) ScheduleRun(next);
  return !run_wanted_;
}

absl::Status Producer::Impl::Flush(std::chrono::milliseconds timeout) {
  if (net_.OnIoThread()) {
    return absl::FailedPreconditionError(
        "Flush from a delivery callback would wait for itself");
  }
  const int64_t deadline = DeadlineAfter(timeout);
  const uint64_t target = acc_.batches_created();
  flushing_.fetch_add(1);
  WakeSender();
  const bool done = acc_.WaitDoneBefore(target, deadline);
  flushing_.fetch_sub(1);
  if (!done) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "Flush: records still in flight after %d ms", timeout.count()));
  }
  return absl::OkStatus();
}

absl::Status Producer::Impl::Close(std::chrono::milliseconds timeout) {
  if (net_.OnIoThread()) {
    return absl::FailedPreconditionError(
        "Close from a delivery callback would wait for itself");
  }
  if (closed_.exchange(true, std::memory_order_seq_cst)) {
    return absl::OkStatus();
  }
  {
    absl::MutexLock l(&topics_mu_);  // wakes Sends waiting for metadata
    topics_cv_.SignalAll();
  }
  // Sends that passed the closed_ check finish appending first.
  while (sends_in_progress_.load(std::memory_order_acquire) > 0) {
    std::this_thread::yield();
  }
  absl::Status flushed = Flush(timeout);
  if (!flushed.ok()) {
    abort_.store(true);
    WakeSender();
    acc_.WaitDoneBefore(UINT64_MAX, INT64_MAX / 2);
  }
  net_.Stop();
  return flushed.ok() ? absl::OkStatus()
                      : absl::DeadlineExceededError(absl::StrFormat(
                            "Close: records not delivered within %d ms were "
                            "failed with kCancelled",
                            timeout.count()));
}

absl::StatusOr<int32_t> Producer::Impl::PartitionCount(std::string_view topic) {
  const int64_t deadline = SteadyNowMs() + config_.max_block_ms;
  auto t = WaitForTopic(topic, deadline);
  if (!t.ok()) return t.status();
  return (*t)->partition_count();
}

}  // namespace fjord
