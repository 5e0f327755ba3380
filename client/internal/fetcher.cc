// The network-thread half of Consumer::Impl (see consumer_impl.h): one
// Fetch in flight per broker for the partitions it leads, sent again as
// soon as the previous answer is queued (while the application works on
// it), and ListOffsets for seeks to an end or a timestamp and for
// auto.offset.reset.
#include <set>

#include "absl/strings/str_format.h"
#include "broker/kafka/peer_protocol.h"
#include "client/internal/consumer_impl.h"
#include "client/internal/errors.h"
#include "client/internal/protocol.h"
#include "log/record_batch.h"

namespace fjord {

using client::internal::Connection;
using client::internal::ConsumerConfig;
using client::internal::kErrNone;
using client::internal::kErrOffsetOutOfRange;
using client::internal::kErrUnknownTopicOrPartition;
using client::internal::Response;
using client::internal::SteadyNowMs;
namespace kafka = client::internal::kafka;

namespace {
// Kafka's fetch.max.bytes default: the whole response's bound.
constexpr int32_t kFetchMaxBytes = 52428800;
}  // namespace

void Consumer::Impl::ScheduleRun(int64_t at_ms) {
  const int64_t now = SteadyNowMs();
  if (run_timer_at_ms_ > now && run_timer_at_ms_ <= at_ms) return;
  run_timer_at_ms_ = at_ms;
  run_timer_.expires_at(
      std::chrono::steady_clock::time_point(std::chrono::milliseconds(at_ms)));
  run_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    run_timer_at_ms_ = 0;
    Run();
  });
}

int32_t Consumer::Impl::LeaderOf(const PartitionState& ps,
                                 absl::Status* error) {
  const auto& md = net_.metadata();
  auto it = md.topics.find(ps.tp.topic);
  if (it == md.topics.end()) return -1;
  if (it->second.error == kErrUnknownTopicOrPartition) {
    *error = absl::NotFoundError(absl::StrFormat(
        "topic '%s' does not exist (UNKNOWN_TOPIC_OR_PARTITION)", ps.tp.topic));
    return -1;
  }
  if (it->second.error != kErrNone) {
    *error = client::internal::StatusFromKafkaError(
        it->second.error, absl::StrFormat("topic '%s'", ps.tp.topic));
    return -1;
  }
  if (static_cast<size_t>(ps.tp.partition) >= it->second.partitions.size()) {
    *error = absl::NotFoundError(absl::StrFormat(
        "partition %d of topic '%s' does not exist (it has %d)",
        ps.tp.partition, ps.tp.topic, it->second.partitions.size()));
    return -1;
  }
  return it->second.partitions[ps.tp.partition].leader;
}

void Consumer::Impl::Run() {
  wake_pending_.store(false, std::memory_order_release);
  const int64_t now = SteadyNowMs();
  int64_t next = INT64_MAX;
  std::map<int32_t, std::vector<std::shared_ptr<PartitionState>>> fetches,
      resets;
  // Nodes with a partition held back only because its answers wait for
  // Poll, and nodes with a partition that may have data now.
  std::set<int32_t> held_back, has_data;
  {
    absl::MutexLock l(&mu_);
    if (closed_) return;
    network_error_ = net_.last_error();
    bool want_metadata = false;
    for (const auto& [tp, ps] : partitions_) {
      absl::Status topic_error;
      const int32_t leader = LeaderOf(*ps, &topic_error);
      if (!topic_error.ok()) {
        if (ps->error.ok()) {
          ps->error = topic_error;
          data_cv_.SignalAll();
        }
        want_metadata = true;  // it may be created meanwhile
        continue;
      }
      if (absl::IsNotFound(ps->error)) ps->error = absl::OkStatus();
      if (leader < 0) {
        want_metadata = true;
        continue;
      }
      if (!ps->error.ok() || ps->stopped) continue;
      if (now < ps->retry_at_ms) {
        next = std::min(next, ps->retry_at_ms);
        continue;
      }
      if (ps->reset != Reset::kNone) {
        if (!ps->reset_in_flight) resets[leader].push_back(ps);
        continue;
      }
      if (ps->fetch_offset < 0 || ps->paused || ps->fetch_in_flight) continue;
      if (ps->buffered >= kMaxBufferedFetches) {
        held_back.insert(leader);
        continue;
      }
      if (!ps->caught_up) has_data.insert(leader);
      fetches[leader].push_back(ps);
    }
    if (want_metadata) net_.RequestMetadataUpdate();
  }
  for (auto& [node, parts] : resets) SendListOffsets(node, std::move(parts));
  for (auto& [node, parts] : fetches) {
    if (fetching_[node]) continue;  // one Fetch per broker at a time
    // A Fetch of caught-up partitions alone would park at the broker while
    // the held-back ones (answered in order on the same connection) wait:
    // send it after Poll has made room instead.
    if (held_back.count(node) && !has_data.count(node)) continue;
    SendFetch(node, std::move(parts));
  }
  if (next != INT64_MAX) ScheduleRun(next);
}

void Consumer::Impl::SendListOffsets(
    int32_t node, std::vector<std::shared_ptr<PartitionState>> parts) {
  Connection* conn = net_.Ready(node);
  if (conn == nullptr) return;  // connecting: the listener runs us again
  auto version = conn->Version(kafka::kListOffsets, 1, 3);
  if (!version) {
    absl::MutexLock l(&mu_);
    for (auto& ps : parts) {
      ps->error = absl::UnimplementedError(absl::StrFormat(
          "%s supports no ListOffsets version in [1, 3]", conn->Describe()));
    }
    data_cv_.SignalAll();
    return;
  }
  std::vector<client::internal::ListOffsetsTopicData> topics;
  std::vector<uint64_t> epochs;
  {
    absl::MutexLock l(&mu_);
    for (auto& ps : parts) {
      int64_t ts = ps->reset == Reset::kEarliest ? -2
                   : ps->reset == Reset::kLatest ? -1
                                                 : ps->reset_timestamp;
      if (topics.empty() || topics.back().topic != ps->topic) {
        topics.push_back({ps->topic, {}});
      }
      topics.back().partitions.push_back({ps->tp.partition, ts});
      ps->reset_in_flight = true;
      epochs.push_back(ps->epoch);
    }
  }
  auto frame = std::make_unique<client::internal::OutFrame>(
      kafka::kListOffsets, *version, config_.common.client_id);
  client::internal::EncodeListOffsetsRequest(*frame, topics);
  frame->Finish();
  const int16_t v = *version;
  conn->Send(std::move(frame), true, 0,
             [this, parts = std::move(parts), epochs = std::move(epochs), v](
                 absl::Status s, Response resp) mutable {
               OnListOffsets(std::move(parts), std::move(epochs), v,
                             std::move(s), std::move(resp));
             });
}

void Consumer::Impl::OnListOffsets(
    std::vector<std::shared_ptr<PartitionState>> parts,
    std::vector<uint64_t> epochs, int16_t version, absl::Status status,
    Response resp) {
  kafka::ListOffsetsResponse r;
  if (status.ok()) {
    kafka::Reader reader(resp.body);
    if (!client::internal::DecodeListOffsetsResponse(reader, version, &r)) {
      status = absl::UnavailableError("malformed ListOffsets response");
    }
  }
  const int64_t now = SteadyNowMs();
  {
    absl::MutexLock l(&mu_);
    for (size_t i = 0; i < parts.size(); i++) {
      auto& ps = parts[i];
      ps->reset_in_flight = false;
      if (ps->epoch != epochs[i]) continue;  // seeked again meanwhile
      const kafka::ListOffsetsResponse::Partition* answer = nullptr;
      for (const auto& t : r.topics) {
        if (t.name != ps->tp.topic) continue;
        for (const auto& p : t.partitions) {
          if (p.index == ps->tp.partition) answer = &p;
        }
      }
      if (!status.ok() || answer == nullptr ||
          client::internal::IsRetriable(answer->error)) {
        ps->retry_at_ms = now + backoff_.DelayMs(1);
        if (answer != nullptr) net_.RequestMetadataUpdate();
        continue;
      }
      if (answer->error != kErrNone) {
        ps->error = client::internal::StatusFromKafkaError(
            answer->error,
            absl::StrFormat("looking up an offset of %s", ps->tp.ToString()));
        continue;
      }
      if (answer->offset < 0) {
        // No record at or after the timestamp: the log end.
        ps->reset = Reset::kLatest;
        continue;
      }
      ps->position = answer->offset;
      ps->fetch_offset = answer->offset;
      ps->reset = Reset::kNone;
    }
    data_cv_.SignalAll();
  }
  Run();
}

void Consumer::Impl::SendFetch(
    int32_t node, std::vector<std::shared_ptr<PartitionState>> parts) {
  Connection* conn = net_.Ready(node);
  if (conn == nullptr) return;
  auto version = conn->Version(kafka::kFetch, 4, 11);
  if (!version) {
    absl::MutexLock l(&mu_);
    for (auto& ps : parts) {
      ps->error = absl::UnimplementedError(absl::StrFormat(
          "%s supports no Fetch version in [4, 11]", conn->Describe()));
    }
    data_cv_.SignalAll();
    return;
  }
  std::vector<client::internal::FetchTopicData> topics;
  std::vector<uint64_t> epochs;
  {
    absl::MutexLock l(&mu_);
    for (auto& ps : parts) {
      if (topics.empty() || topics.back().topic != ps->topic) {
        topics.push_back({ps->topic, {}});
      }
      topics.back().partitions.push_back({ps->tp.partition, ps->fetch_offset,
                                          config_.max_partition_fetch_bytes});
      ps->fetch_in_flight = true;
      epochs.push_back(ps->epoch);
    }
  }
  auto frame = std::make_unique<client::internal::OutFrame>(
      kafka::kFetch, *version, config_.common.client_id);
  client::internal::EncodeFetchRequest(*frame, config_.fetch_max_wait_ms,
                                       config_.fetch_min_bytes, kFetchMaxBytes,
                                       topics);
  frame->Finish();
  fetching_[node] = true;
  const int16_t v = *version;
  conn->Send(std::move(frame), true, config_.fetch_max_wait_ms,
             [this, node, parts = std::move(parts), epochs = std::move(epochs),
              v](absl::Status s, Response resp) mutable {
               OnFetch(node, std::move(parts), std::move(epochs), v,
                       std::move(s), std::move(resp));
             });
}

void Consumer::Impl::OnFetch(int32_t node,
                             std::vector<std::shared_ptr<PartitionState>> parts,
                             std::vector<uint64_t> epochs, int16_t version,
                             absl::Status status, Response resp) {
  fetching_[node] = false;
  kafka::FetchResponse r;
  if (status.ok()) {
    kafka::Reader reader(resp.body);
    if (!kafka::DecodeResponse(reader, version, &r)) {
      status = absl::UnavailableError("malformed Fetch response");
    } else if (r.error != kErrNone) {
      status = client::internal::StatusFromKafkaError(r.error, "Fetch");
    }
  }
  const int64_t now = SteadyNowMs();
  if (!status.ok()) {
    fetch_failures_++;
  } else {
    fetch_failures_ = 0;
  }
  bool refresh = !status.ok();
  {
    absl::MutexLock l(&mu_);
    for (size_t i = 0; i < parts.size(); i++) {
      auto& ps = parts[i];
      ps->fetch_in_flight = false;
      if (ps->epoch != epochs[i] || Find(ps->tp) != ps || ps->stopped) {
        continue;
      }
      if (!status.ok()) {
        ps->retry_at_ms = now + backoff_.DelayMs(fetch_failures_);
        continue;
      }
      const kafka::FetchResponse::Partition* answer = nullptr;
      for (const auto& t : r.topics) {
        if (t.name != ps->tp.topic) continue;
        for (const auto& p : t.partitions) {
          if (p.index == ps->tp.partition) answer = &p;
        }
      }
      if (answer == nullptr) continue;  // fetched again next turn
      if (answer->error == kErrOffsetOutOfRange) {
        switch (config_.auto_offset_reset) {
          case ConsumerConfig::OffsetReset::kEarliest:
          case ConsumerConfig::OffsetReset::kLatest:
            ps->reset = config_.auto_offset_reset ==
                                ConsumerConfig::OffsetReset::kEarliest
                            ? Reset::kEarliest
                            : Reset::kLatest;
            ps->position = -1;
            ps->fetch_offset = -1;
            ps->epoch++;
            ps->buffered = 0;
            ps->caught_up = false;
            break;
          case ConsumerConfig::OffsetReset::kNone:
            ps->error = absl::OutOfRangeError(absl::StrFormat(
                "offset %d is out of range for %s (log start %d, log end "
                "%d) and auto.offset.reset=none: Seek to a valid offset",
                ps->fetch_offset, ps->tp.ToString(), answer->log_start_offset,
                answer->high_watermark));
            break;
        }
        continue;
      }
      if (answer->error != kErrNone) {
        if (client::internal::IsRetriable(answer->error)) {
          refresh |= client::internal::NeedsMetadataRefresh(answer->error);
          ps->retry_at_ms = now + backoff_.DelayMs(1);
        } else {
          ps->error = client::internal::StatusFromKafkaError(
              answer->error, absl::StrFormat("fetching %s", ps->tp.ToString()));
        }
        continue;
      }
      ps->caught_up =
          answer->records.empty() && answer->high_watermark <= ps->fetch_offset;
      // Whole batches only (a broker may cut the last one short).
      size_t whole = 0;
      int64_t next = ps->fetch_offset;
      while (whole < answer->records.size()) {
        auto h = log::ParseBatchHeader(answer->records.data() + whole,
                                       answer->records.size() - whole);
        if (!h.ok() || h->size_bytes() > answer->records.size() - whole) break;
        whole += h->size_bytes();
        next = std::max(next, h->last().value() + 1);
      }
      if (whole == 0) {
        if (!answer->records.empty()) {
          ps->error = absl::FailedPreconditionError(absl::StrFormat(
              "the batch at offset %d of %s is larger than "
              "max.partition.fetch.bytes (%d) allowed the broker to send",
              ps->fetch_offset, ps->tp.ToString(),
              config_.max_partition_fetch_bytes));
        }
        continue;
      }
      completed_.push_back(
          {ps, ps->epoch, answer->records.first(whole), resp.buffer});
      ps->buffered++;
      ps->fetch_offset = next;
    }
    data_cv_.SignalAll();
  }
  if (refresh) net_.RequestMetadataUpdate();
  Run();
}

}  // namespace fjord
