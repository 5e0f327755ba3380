#include "broker/replica_fetcher.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "broker/internal/peer_connection.h"
#include "broker/kafka/errors.h"
#include "broker/kafka/peer_protocol.h"
#include "log/leader_epoch_cache.h"
#include "log/record_batch.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace {

constexpr std::string_view kClientId = "fjord-replica-fetcher";

// The whole batches at the front of `records` (a leader may cut the last
// one short at its byte limit).
std::span<const uint8_t> WholeBatches(std::span<const uint8_t> records) {
  size_t pos = 0;
  while (pos < records.size()) {
    auto h = log::ParseBatchHeader(records.data() + pos, records.size() - pos);
    if (!h.ok() || h->size_bytes() > records.size() - pos) break;
    pos += h->size_bytes();
  }
  return records.subspan(0, pos);
}

// Errors meaning "the leader does not (yet) see itself as the leader at
// this epoch": wait for it, or for our metadata to change.
bool IsLeadershipError(int16_t error) {
  return error == kafka::kNotLeaderOrFollower ||
         error == kafka::kFencedLeaderEpoch ||
         error == kafka::kUnknownLeaderEpoch ||
         error == kafka::kLeaderNotAvailable ||
         error == kafka::kUnknownTopicOrPartition;
}

}  // namespace

ReplicaFetcher::ReplicaFetcher(asio::io_context& io, int32_t leader,
                               ReplicaFetcherOptions options, Resolver resolve)
    : leader_(leader),
      options_(options),
      resolve_(std::move(resolve)),
      strand_(asio::make_strand(io)),
      wake_(strand_),
      connection_(std::make_unique<internal::PeerConnection>(strand_)) {}

ReplicaFetcher::~ReplicaFetcher() = default;

void ReplicaFetcher::Start() {
  asio::co_spawn(
      strand_,
      [self = shared_from_this()]() -> asio::awaitable<void> {
        co_await self->Run();
      },
      asio::detached);
}

void ReplicaFetcher::Stop() {
  if (stopped_.exchange(true)) return;
  asio::post(strand_, [self = shared_from_this()] {
    self->connection_->Close();
    self->wake_.cancel();
  });
}

void ReplicaFetcher::Add(std::shared_ptr<Partition> partition,
                         LeaderEpoch epoch, Offset high_watermark) {
  {
    absl::MutexLock l(&mu_);
    Followed f;
    f.partition = std::move(partition);
    f.epoch = epoch;
    f.high_watermark = high_watermark;
    partitions_[f.partition->tp()] = std::move(f);
  }
  asio::post(strand_, [self = shared_from_this()] { self->wake_.cancel(); });
}

std::optional<Offset> ReplicaFetcher::Remove(const TopicPartition& tp) {
  absl::MutexLock l(&mu_);
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return std::nullopt;
  Offset hw = it->second.high_watermark;
  partitions_.erase(it);
  return hw;
}

bool ReplicaFetcher::empty() const {
  absl::MutexLock l(&mu_);
  return partitions_.empty();
}

std::optional<Offset> ReplicaFetcher::high_watermark(
    const TopicPartition& tp) const {
  absl::MutexLock l(&mu_);
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return std::nullopt;
  return it->second.high_watermark;
}

void ReplicaFetcher::Update(const TopicPartition& tp, LeaderEpoch epoch,
                            const std::function<void(Followed&)>& fn) {
  absl::MutexLock l(&mu_);
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || it->second.epoch != epoch) return;
  fn(it->second);
}

void ReplicaFetcher::Backoff(const TopicPartition& tp, LeaderEpoch epoch) {
  Update(tp, epoch, [&](Followed& f) {
    f.retry_at = std::chrono::steady_clock::now() + options_.backoff;
  });
}

asio::awaitable<void> ReplicaFetcher::Sleep(std::chrono::milliseconds d) {
  if (stopped_) co_return;
  wake_.expires_after(d);
  std::error_code ec;
  co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> ReplicaFetcher::Run() {
  auto last_warning = std::chrono::steady_clock::time_point{};
  auto warn = [&](const std::string& what) {
    // A dead leader fails every round: say so every few seconds only.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_warning < std::chrono::seconds(5)) return;
    last_warning = now;
    spdlog::warn("replica fetcher for leader {}: {}", leader_, what);
  };
  while (!stopped_) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<Work> truncate, fetch;
    auto next = now + std::chrono::seconds(1);
    {
      absl::MutexLock l(&mu_);
      for (const auto& [tp, f] : partitions_) {
        if (f.retry_at > now) {
          next = std::min(next, f.retry_at);
          continue;
        }
        (f.truncating ? truncate : fetch)
            .push_back(
                {tp, f.partition, f.epoch, f.high_watermark, f.ask_epoch});
      }
    }
    if (truncate.empty() && fetch.empty()) {
      co_await Sleep(std::chrono::duration_cast<std::chrono::milliseconds>(
          next - now + std::chrono::milliseconds(1)));
      continue;
    }
    if (!connection_->is_open()) {
      std::optional<HostPort> address = resolve_(leader_);
      if (!address) {
        warn("its address is not known (it is not registered)");
        co_await Sleep(options_.backoff);
        continue;
      }
      absl::Status s = co_await connection_->Connect(
          address->host, address->port, options_.connect_timeout);
      if (!s.ok()) {
        warn(std::string(s.message()));
        co_await Sleep(options_.backoff);
        continue;
      }
    }
    bool ok = true;
    if (!truncate.empty()) ok = co_await Truncate(std::move(truncate));
    if (ok && !fetch.empty()) ok = co_await Fetch(std::move(fetch));
    if (!ok) co_await Sleep(options_.backoff);
  }
  connection_->Close();
}

asio::awaitable<bool> ReplicaFetcher::Truncate(std::vector<Work> work) {
  kafka::OffsetForLeaderEpochRequest req;
  req.replica_id = options_.self;
  std::vector<Work*> asked;
  for (Work& w : work) {
    log::Log& log = w.partition->log();
    const LeaderEpoch ask = w.ask_epoch != kNoLeaderEpoch
                                ? w.ask_epoch
                                : log.latest_epoch().value_or(kNoLeaderEpoch);
    if (ask == kNoLeaderEpoch) {
      // No epoch history to compare (data from before replication): only
      // what the high watermark vouches for is kept.
      const Offset end = log.log_end_offset();
      if (w.high_watermark < end) {
        auto cut = log.TruncateAsFollower(w.high_watermark, w.epoch);
        if (!cut.ok()) {
          if (!absl::IsFailedPrecondition(cut.status())) {
            spdlog::error("{}: truncating to the high watermark {}: {}",
                          w.tp.ToString(), w.high_watermark.value(),
                          cut.status().message());
            Backoff(w.tp, w.epoch);
          }
          continue;
        }
        spdlog::warn(
            "{}: no leader-epoch history; truncated from {} to the "
            "high watermark {}",
            w.tp.ToString(), end.value(), cut->value());
      }
      Update(w.tp, w.epoch, [](Followed& f) { f.truncating = false; });
      continue;
    }
    if (req.topics.empty() || req.topics.back().name != w.tp.topic) {
      req.topics.push_back({w.tp.topic, {}});
    }
    req.topics.back().partitions.push_back(
        {w.tp.partition, w.epoch.value(), ask.value()});
    asked.push_back(&w);
  }
  if (asked.empty()) co_return true;
  const int32_t id = next_correlation_id_++;
  std::vector<uint8_t> body;
  absl::Status s = co_await connection_->Call(
      kafka::EncodeRequest(kafka::kReplicaOffsetForLeaderEpochVersion, id,
                           kClientId, req),
      id, options_.request_timeout, &body);
  if (!s.ok()) {
    spdlog::warn("replica fetcher for leader {}: OffsetForLeaderEpoch: {}",
                 leader_, s.message());
    co_return false;
  }
  kafka::Reader r(body);
  kafka::OffsetForLeaderEpochResponse resp;
  if (!kafka::DecodeResponse(r, kafka::kReplicaOffsetForLeaderEpochVersion,
                             &resp)) {
    spdlog::warn("leader {} sent a malformed OffsetForLeaderEpoch response",
                 leader_);
    connection_->Close();
    co_return false;
  }
  for (const auto& t : resp.topics) {
    for (const auto& p : t.partitions) {
      auto it = std::find_if(asked.begin(), asked.end(), [&](Work* w) {
        return w->tp.topic == t.name && w->tp.partition == p.index;
      });
      if (it == asked.end()) continue;
      Work& w = **it;
      if (p.error != kafka::kNone) {
        if (!IsLeadershipError(p.error)) {
          spdlog::warn("{}: OffsetForLeaderEpoch from leader {}: error {}",
                       w.tp.ToString(), leader_, p.error);
        }
        Backoff(w.tp, w.epoch);
        continue;
      }
      log::Log& log = w.partition->log();
      const Offset end = log.log_end_offset();
      const log::EpochEndOffset answer =
          p.leader_epoch < 0 || p.end_offset < 0
              ? log::EpochEndOffset{}
              : log::EpochEndOffset{LeaderEpoch(p.leader_epoch),
                                    Offset(p.end_offset)};
      const log::TruncationStep step = log::NextTruncationStep(
          answer, log::LeaderEpochCache(log.epoch_entries()), end,
          w.high_watermark);
      if (step.truncate_to < end) {
        auto cut = log.TruncateAsFollower(step.truncate_to, w.epoch);
        if (!cut.ok()) {
          if (!absl::IsFailedPrecondition(cut.status())) {
            spdlog::error("{}: truncating to {}: {}", w.tp.ToString(),
                          step.truncate_to.value(), cut.status().message());
            Backoff(w.tp, w.epoch);
          }
          continue;
        }
        spdlog::warn(
            "{}: truncated from {} to {}, where its leader-epoch history "
            "stops agreeing with leader {}'s (epoch {} ends at {} there)",
            w.tp.ToString(), end.value(), cut->value(), leader_, p.leader_epoch,
            p.end_offset);
      }
      Update(w.tp, w.epoch, [&](Followed& f) {
        f.truncating = !step.done;
        f.ask_epoch = step.done ? kNoLeaderEpoch : step.ask_next;
      });
    }
  }
  co_return true;
}

asio::awaitable<bool> ReplicaFetcher::Fetch(std::vector<Work> work) {
  kafka::FetchRequest req;
  req.replica_id = options_.self;
  req.max_wait_ms = options_.max_wait_ms;
  req.min_bytes = 1;
  req.max_bytes = options_.max_bytes;
  req.session_id = 0;
  req.session_epoch = -1;
  for (Work& w : work) {
    log::Log& log = w.partition->log();
    if (req.topics.empty() || req.topics.back().name != w.tp.topic) {
      req.topics.push_back({w.tp.topic, {}});
    }
    kafka::FetchRequest::Partition p;
    p.index = w.tp.partition;
    p.current_leader_epoch = w.epoch.value();
    p.fetch_offset = log.log_end_offset().value();
    p.log_start_offset = log.log_start_offset().value();
    p.max_bytes = options_.partition_max_bytes;
    req.topics.back().partitions.push_back(p);
  }
  const int32_t id = next_correlation_id_++;
  std::vector<uint8_t> body;
  absl::Status s = co_await connection_->Call(
      kafka::EncodeRequest(kafka::kReplicaFetchVersion, id, kClientId, req), id,
      options_.request_timeout +
          std::chrono::milliseconds(options_.max_wait_ms),
      &body);
  if (!s.ok()) {
    if (!stopped_) {
      spdlog::warn("replica fetcher for leader {}: Fetch: {}", leader_,
                   s.message());
    }
    co_return false;
  }
  kafka::Reader r(body);
  kafka::FetchResponse resp;
  if (!kafka::DecodeResponse(r, kafka::kReplicaFetchVersion, &resp)) {
    spdlog::warn("leader {} sent a malformed Fetch response", leader_);
    connection_->Close();
    co_return false;
  }
  for (const auto& t : resp.topics) {
    for (const auto& p : t.partitions) {
      auto it = std::find_if(work.begin(), work.end(), [&](const Work& w) {
        return w.tp.topic == t.name && w.tp.partition == p.index;
      });
      if (it == work.end()) continue;
      const Work& w = *it;
      log::Log& log = w.partition->log();
      if (p.error == kafka::kOffsetOutOfRange) {
        const Offset end = log.log_end_offset();
        if (p.log_start_offset >= 0 && end < Offset(p.log_start_offset)) {
          absl::Status restarted =
              log.TruncateFullyAndStartAt(Offset(p.log_start_offset), w.epoch);
          if (!restarted.ok() && !absl::IsFailedPrecondition(restarted)) {
            spdlog::error(
                "{}: restarting the log at the leader's log start "
                "{}: {}",
                w.tp.ToString(), p.log_start_offset, restarted.message());
            Backoff(w.tp, w.epoch);
          }
        } else {
          // Ahead of the leader: find the divergence again.
          spdlog::warn(
              "{}: the log end {} is past leader {}'s; truncating "
              "again",
              w.tp.ToString(), end.value(), leader_);
          Update(w.tp, w.epoch, [](Followed& f) { f.truncating = true; });
        }
        continue;
      }
      if (p.error != kafka::kNone) {
        if (!IsLeadershipError(p.error)) {
          spdlog::warn("{}: fetch from leader {}: error {}", w.tp.ToString(),
                       leader_, p.error);
        }
        Backoff(w.tp, w.epoch);
        continue;
      }
      std::span<const uint8_t> records = WholeBatches(p.records);
      if (!records.empty()) {
        auto appended = log.AppendAsFollower(records, w.epoch);
        if (!appended.ok()) {
          if (absl::IsFailedPrecondition(appended.status())) continue;
          spdlog::error("{}: appending what leader {} sent: {}",
                        w.tp.ToString(), leader_, appended.status().message());
          if (absl::IsInvalidArgument(appended.status())) {
            Update(w.tp, w.epoch, [](Followed& f) { f.truncating = true; });
          } else {
            Backoff(w.tp, w.epoch);
          }
          continue;
        }
      }
      const Offset hw = std::min(Offset(std::max<int64_t>(p.high_watermark, 0)),
                                 log.log_end_offset());
      Update(w.tp, w.epoch, [&](Followed& f) { f.high_watermark = hw; });
    }
  }
  co_return true;
}

}  // namespace fjord::broker
