#include "broker/request_handler.h"

#include <chrono>

#include "absl/strings/str_format.h"
#include "broker/cluster_coordinator.h"
#include "broker/group_commit.h"
#include "broker/kafka/errors.h"
#include "broker/replica_manager.h"
#include "log/file_names.h"
#include "log/producer_error.h"
#include "log/record_batch.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

using kafka::ErrorFromStatus;
using kafka::Reader;
using kafka::RequestHeader;
using kafka::ResponseFrame;

namespace {

// A parked Fetch: woken by an append to any partition it reads, through a
// timer on the connection's executor (so a wake that races with the wait is
// never lost: `woken` is checked before waiting, and the cancel is posted
// to the same executor, which runs one handler at a time).
class TimerWaiter final : public FetchWaiter,
                          public std::enable_shared_from_this<TimerWaiter> {
 public:
  explicit TimerWaiter(asio::any_io_executor ex) : timer_(ex) {}
  void Wake() override {
    woken_ = true;
    asio::post(timer_.get_executor(),
               [self = shared_from_this()] { self->timer_.cancel(); });
  }
  asio::steady_timer& timer() { return timer_; }
  std::atomic<bool>& woken() { return woken_; }

 private:
  asio::steady_timer timer_;
  std::atomic<bool> woken_{false};
};

// An acks=all Produce waiting for its partitions' commits: one
// CommitWaiter per partition reports here; the request's coroutine waits
// on a timer of its own frame, which the last report cancels (posted to
// the request's executor, so a report that races with the wait is never
// lost: the count is checked before waiting).
//
// Lifetime: a waiter may keep this object alive after the request ended
// (a timed-out request's waiter stays parked on its partition; a
// committer thread drops its reference after Done), possibly after the
// io_context is gone. So it holds no asio object the request does not
// own: Finish, which the coroutine always runs before its timer goes,
// drops the timer and the executor, and a report posts only while
// holding mu_, before Finish.
class ProduceCommit final : public std::enable_shared_from_this<ProduceCommit> {
 public:
  ProduceCommit(asio::any_io_executor ex, asio::steady_timer* timer,
                size_t partitions)
      : ex_(std::move(ex)),
        timer_(timer),
        statuses_(partitions),
        remaining_(partitions) {}

  void Done(size_t slot, const absl::Status& s) {
    absl::MutexLock l(&mu_);
    if (finished_) return;  // the request timed out meanwhile
    statuses_[slot] = s;
    if (--remaining_ > 0) return;
    asio::post(ex_, [self = shared_from_this()] {
      absl::MutexLock l(&self->mu_);
      if (self->timer_ != nullptr) self->timer_->cancel();
    });
  }
  bool all_done() {
    absl::MutexLock l(&mu_);
    return remaining_ == 0;
  }
  // Ends the wait: reports arriving later are dropped. The statuses, with
  // nullopt for partitions not committed yet. Idempotent.
  std::vector<std::optional<absl::Status>> Finish() {
    absl::MutexLock l(&mu_);
    finished_ = true;
    timer_ = nullptr;
    ex_ = asio::any_io_executor();
    return statuses_;
  }

 private:
  absl::Mutex mu_;
  asio::any_io_executor ex_ ABSL_GUARDED_BY(mu_);
  asio::steady_timer* timer_ ABSL_GUARDED_BY(mu_);
  std::vector<std::optional<absl::Status>> statuses_ ABSL_GUARDED_BY(mu_);
  size_t remaining_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Calls Finish when the request's coroutine frame goes, even if it is
// destroyed while suspended (an io_context torn down mid-wait).
class FinishOnExit {
 public:
  explicit FinishOnExit(std::shared_ptr<ProduceCommit> c) : c_(std::move(c)) {}
  FinishOnExit(const FinishOnExit&) = delete;
  FinishOnExit& operator=(const FinishOnExit&) = delete;
  ~FinishOnExit() { c_->Finish(); }

 private:
  const std::shared_ptr<ProduceCommit> c_;
};

class PartitionCommitWaiter final : public CommitWaiter {
 public:
  PartitionCommitWaiter(std::shared_ptr<ProduceCommit> request, size_t slot)
      : request_(std::move(request)), slot_(slot) {}
  void Done(const absl::Status& s) override { request_->Done(slot_, s); }

 private:
  const std::shared_ptr<ProduceCommit> request_;
  const size_t slot_;
};

}  // namespace

RequestHandler::RequestHandler(const BrokerConfig* config, TopicManager* topics,
                               ProducerIdAllocator* producer_ids,
                               Metrics* metrics, CommitDriver* commits)
    : config_(config),
      topics_(topics),
      producer_ids_(producer_ids),
      metrics_(metrics),
      own_commits_(commits == nullptr ? std::make_unique<GroupCommitter>(1)
                                      : nullptr),
      commits_(commits != nullptr ? commits : own_commits_.get()) {}

RequestHandler::~RequestHandler() = default;

namespace {
// Records in whole batches, from their headers.
uint64_t CountRecords(std::span<const uint8_t> records) {
  uint64_t n = 0;
  for (size_t pos = 0; pos < records.size();) {
    auto h = log::ParseBatchHeader(records.data() + pos, records.size() - pos);
    if (!h.ok()) break;
    n += static_cast<uint64_t>(h->record_count);
    pos += h->size_bytes();
  }
  return n;
}
}  // namespace

asio::awaitable<absl::StatusOr<HandledRequest>> RequestHandler::Handle(
    std::span<uint8_t> frame) {
  Reader r(frame);
  RequestHeader h;
  HandledRequest out;
  if (!kafka::DecodeRequestHeader(r, &h)) {
    co_return absl::InvalidArgumentError("truncated request header");
  }
  out.api_key = h.api_key;
  out.api_version = h.api_version;
  if (h.api_key == kafka::kApiVersions) {
    // Any version, even a flexible one we do not speak, gets an answer the
    // client can read (v0 layout with UNSUPPORTED_VERSION if need be).
    out.response = std::make_unique<ResponseFrame>(h.correlation_id);
    kafka::EncodeApiVersionsResponse(*out.response, h.api_version);
    co_return out;
  }
  auto range = kafka::SupportedRange(h.api_key);
  if (!range || h.api_version < range->min || h.api_version > range->max) {
    spdlog::warn("unsupported request: api {} ({}) version {}", h.api_key,
                 kafka::ApiName(h.api_key), h.api_version);
    out.response = std::make_unique<ResponseFrame>(h.correlation_id);
    out.response->w().Int16(kafka::kUnsupportedVersion);
    co_return out;
  }
  const auto started = std::chrono::steady_clock::now();
  bool no_response = false;
  switch (h.api_key) {
    case kafka::kProduce:
      out.response = co_await HandleProduce(h, r, &no_response);
      break;
    case kafka::kFetch:
      out.response = co_await HandleFetch(h, r);
      break;
    case kafka::kListOffsets:
      out.response = HandleListOffsets(h, r);
      break;
    case kafka::kMetadata:
      out.response = HandleMetadata(h, r);
      break;
    // (if/else, not ?:: GCC 12 miscompiles co_await in a conditional.)
    case kafka::kCreateTopics:
      if (cluster_ != nullptr) {
        out.response = co_await HandleClusterCreateTopics(h, r);
      } else {
        out.response = HandleCreateTopics(h, r);
      }
      break;
    case kafka::kDeleteTopics:
      if (cluster_ != nullptr) {
        out.response = co_await HandleClusterDeleteTopics(h, r);
      } else {
        out.response = HandleDeleteTopics(h, r);
      }
      break;
    case kafka::kInitProducerId:
      out.response = HandleInitProducerId(h, r);
      break;
    case kafka::kFindCoordinator:
      out.response = HandleFindCoordinator(h, r);
      break;
    case kafka::kOffsetForLeaderEpoch:
      out.response = HandleOffsetForLeaderEpoch(h, r);
      break;
  }
  if (metrics_ != nullptr) {
    metrics_->RecordRequest(h.api_key,
                            std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - started)
                                .count());
  }
  if (out.response == nullptr && !no_response) {
    co_return absl::InvalidArgumentError(absl::StrFormat(
        "malformed %s v%d request", kafka::ApiName(h.api_key), h.api_version));
  }
  co_return out;
}

std::optional<TopicInfo> RequestHandler::FindOrCreateTopic(
    std::string_view name, bool allow_create, int16_t* error) {
  *error = kafka::kNone;
  if (!log::IsValidTopicName(name)) {
    *error = kafka::kInvalidTopic;
    return std::nullopt;
  }
  if (auto t = topics_->Get(name)) return t;
  if (cluster_ != nullptr) {
    *error = ClusterTopicError(name, allow_create);
    return std::nullopt;
  }
  if (!allow_create || !config_->auto_create_topics) {
    *error = kafka::kUnknownTopicOrPartition;
    return std::nullopt;
  }
  auto created = topics_->Create(name, config_->num_partitions, {}, false);
  if (created.ok()) return *created;
  if (absl::IsAlreadyExists(created.status())) return topics_->Get(name);
  spdlog::error("auto-creating topic {}: {}", name, created.status().message());
  *error = ErrorFromStatus(created.status());
  return std::nullopt;
}

// ----------------------------------------------------------------- Produce

asio::awaitable<RequestHandler::Frame> RequestHandler::HandleProduce(
    const RequestHeader& h, Reader& r, bool* no_response) {
  kafka::ProduceRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) co_return nullptr;
  kafka::ProduceResponse resp;
  const bool valid_acks = req.acks == 0 || req.acks == 1 || req.acks == -1;
  // Per partition, in request order: answered as an idempotent retry.
  std::vector<bool> duplicates;
  // acks=all: the appended partitions, each to be committed up to the end
  // of its batches before the answer (single node: flushed; in a cluster:
  // held by its in-sync replicas).
  struct Pending {
    size_t topic, index;  // resp.topics[topic].partitions[index]
    std::shared_ptr<Partition> partition;
    Offset target;
    int32_t min_insync;
  };
  std::vector<Pending> pending;
  for (auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = std::string(t.name);
    int16_t topic_error = kafka::kNone;
    std::optional<TopicInfo> topic;
    if (valid_acks) topic = FindOrCreateTopic(t.name, true, &topic_error);
    for (auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      duplicates.push_back(false);
      if (!valid_acks) {
        rp.error = kafka::kInvalidRequiredAcks;
        continue;
      }
      if (!topic) {
        rp.error = topic_error;
        continue;
      }
      auto partition = topics_->GetPartition(t.name, p.index);
      if (partition == nullptr) {
        rp.error = replicas_ != nullptr
                       ? ClusterPartitionError(t.name, p.index)
                       : int16_t{kafka::kUnknownTopicOrPartition};
        continue;
      }
      if (replicas_ != nullptr) {
        rp.error = replicas_->CheckProduce(partition->tp(), req.acks,
                                           topic->config.min_insync_replicas);
        if (rp.error != kafka::kNone) continue;
      }
      if (!p.records || p.records->empty()) {
        rp.error = kafka::kCorruptMessage;
        continue;
      }
      // Message formats before RecordBatch v2 (magic 0 and 1) are not
      // stored by fjord.
      if (p.records->size() > log::batch_layout::kMagic &&
          (*p.records)[log::batch_layout::kMagic] <
              log::batch_layout::kMagicV2) {
        rp.error = kafka::kUnsupportedForMessageFormat;
        continue;
      }
      // Too-large batches get their own error before anything else.
      bool too_large = false;
      for (size_t pos = 0; pos < p.records->size();) {
        auto bh = log::ParseBatchHeader(p.records->data() + pos,
                                        p.records->size() - pos);
        if (!bh.ok()) break;
        if (static_cast<int64_t>(bh->size_bytes()) >
            topic->config.max_message_bytes) {
          too_large = true;
          break;
        }
        pos += bh->size_bytes();
      }
      if (too_large) {
        rp.error = kafka::kMessageTooLarge;
        continue;
      }
      log::Log& log = partition->log();
      auto appended = log.Append(*p.records);
      if (!appended.ok()) {
        rp.error = ErrorFromStatus(appended.status());
        // Leadership moved between the check and the append.
        if (replicas_ != nullptr &&
            absl::IsFailedPrecondition(appended.status()) &&
            !log::GetProducerError(appended.status())) {
          rp.error = kafka::kNotLeaderOrFollower;
          continue;
        }
        const auto producer_error = log::GetProducerError(appended.status());
        if (producer_error == log::ProducerError::kDuplicateSequence) {
          spdlog::debug("produce to {}: {}", partition->tp().ToString(),
                        appended.status().message());
        } else if (producer_error) {
          spdlog::warn("produce to {}: {}", partition->tp().ToString(),
                       appended.status().message());
        } else if (!absl::IsDataLoss(appended.status())) {
          spdlog::error("produce to {}: {}", partition->tp().ToString(),
                        appended.status().message());
        }
        continue;
      }
      // A retry of batches already in the log: answered with the
      // original's offsets (and, for acks=all, once those are committed:
      // the original may not have been yet).
      duplicates.back() = appended->duplicate;
      if (replicas_ != nullptr) {
        // In a cluster the followers fetch it; acks=all waits below.
        replicas_->Appended(*partition);
      }
      if (!appended->duplicate) partition->NotifyAppend();
      rp.base_offset = appended->first_offset.value();
      rp.log_start_offset = log.log_start_offset().value();
      if (req.acks == -1) {
        pending.push_back({resp.topics.size() - 1, rt.partitions.size() - 1,
                           partition, appended->last_offset + 1,
                           topic->config.min_insync_replicas});
      }
    }
  }
  if (!pending.empty()) {
    // acks=all: park until every partition's committed watermark covers
    // its batches. Single node: the GroupCommitter flushes, one fsync
    // shared by every request waiting on the partition. In a cluster: the
    // ReplicaManager moves the watermark to the high watermark.
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    auto commit = std::make_shared<ProduceCommit>(ex, &timer, pending.size());
    const FinishOnExit finish_on_exit(commit);
    for (size_t i = 0; i < pending.size(); i++) {
      auto waiter = std::make_shared<PartitionCommitWaiter>(commit, i);
      if (pending[i].partition->WaitForCommit(pending[i].target,
                                              std::move(waiter)) &&
          replicas_ == nullptr) {
        commits_->RequestCommit(pending[i].partition);
      }
    }
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(std::max(0, req.timeout_ms));
    while (!commit->all_done() && std::chrono::steady_clock::now() < deadline) {
      timer.expires_at(deadline);
      std::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    auto statuses = commit->Finish();
    for (size_t i = 0; i < pending.size(); i++) {
      const Pending& w = pending[i];
      kafka::ProduceResponse::Partition& rp =
          resp.topics[w.topic].partitions[w.index];
      if (!statuses[i].has_value()) {
        rp.error = kafka::kRequestTimedOut;
      } else if (!statuses[i]->ok()) {
        // Single node: the flush failed. In a cluster: leadership moved
        // (or the broker is stopping), the batch may or may not survive
        // and the client retries.
        rp.error = replicas_ != nullptr
                       ? int16_t{kafka::kNotLeaderOrFollower}
                       : ErrorFromStatus(*statuses[i]);
      } else if (replicas_ == nullptr) {
        continue;
      } else {
        rp.error = replicas_->CheckCommitted(w.partition->tp(), w.min_insync);
        if (rp.error == kafka::kNone) continue;
      }
      // Not acknowledged: the offsets are not the client's to rely on.
      rp.base_offset = -1;
      rp.log_start_offset = -1;
    }
  }
  if (metrics_ != nullptr) {
    size_t k = 0;
    for (size_t ti = 0; ti < req.topics.size(); ti++) {
      for (size_t pi = 0; pi < req.topics[ti].partitions.size(); pi++, k++) {
        const auto& rp = resp.topics[ti].partitions[pi];
        const auto& records = req.topics[ti].partitions[pi].records;
        if (rp.error != kafka::kNone) {
          metrics_->RecordError(kafka::kProduce, rp.error);
        } else if (duplicates[k]) {
          metrics_->DuplicateProduce();
        } else if (records) {
          metrics_->RecordProduce(req.topics[ti].name, records->size(),
                                  CountRecords(*records));
        }
      }
    }
  }
  if (req.acks == 0) {
    *no_response = true;
    co_return nullptr;
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  co_return f;
}

// ------------------------------------------------------------------- Fetch

asio::awaitable<RequestHandler::Frame> RequestHandler::HandleFetch(
    const RequestHeader& h, Reader& r) {
  kafka::FetchRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) co_return nullptr;
  auto waiter =
      std::make_shared<TimerWaiter>(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max(0, req.max_wait_ms));
  kafka::FetchResponse resp;
  for (;;) {
    waiter->woken() = false;
    resp = kafka::FetchResponse{};
    int64_t total = 0;
    bool any_error = false;
    int64_t budget = req.max_bytes > 0 ? req.max_bytes : INT32_MAX;
    for (const auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = std::string(t.name);
      for (const auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.index = p.index;
        auto partition = topics_->GetPartition(t.name, p.index);
        if (partition == nullptr) {
          rp.error = replicas_ != nullptr
                         ? ClusterPartitionError(t.name, p.index)
                         : int16_t{kafka::kUnknownTopicOrPartition};
          any_error = true;
          continue;
        }
        log::Log& log = partition->log();
        // In a cluster: consumers read from the leader only, up to the
        // high watermark; a follower (replica_id >= 0) reads to the log
        // end, and its fetch offset tells the leader how far it has got.
        std::optional<Offset> max_offset;
        if (replicas_ != nullptr) {
          ReplicaManager::ReadAccess access =
              req.replica_id >= 0
                  ? replicas_->FollowerFetch(*partition, req.replica_id,
                                             p.current_leader_epoch,
                                             p.fetch_offset)
                  : replicas_->CheckRead(partition->tp(),
                                         p.current_leader_epoch);
          if (access.error != kafka::kNone &&
              access.error != kafka::kOffsetOutOfRange) {
            rp.error = access.error;
            any_error = true;
            continue;
          }
          if (req.replica_id < 0) max_offset = access.high_watermark;
          rp.high_watermark = access.high_watermark.value();
        }
        partition->AddWaiter(waiter);
        // After the first partition fills the budget the rest get nothing
        // (but their offsets), as Kafka does.
        size_t limit = static_cast<size_t>(
            std::max<int64_t>(0, std::min<int64_t>(p.max_bytes, budget)));
        auto read = log.Read(Offset(p.fetch_offset), std::max<size_t>(limit, 1),
                             max_offset);
        if (replicas_ == nullptr) {
          rp.high_watermark = log.log_end_offset().value();
        }
        rp.log_start_offset = log.log_start_offset().value();
        if (!read.ok()) {
          rp.error = ErrorFromStatus(read.status());
          any_error = true;
          if (absl::IsDataLoss(read.status())) {
            spdlog::error("fetch from {}: {}", partition->tp().ToString(),
                          read.status().message());
          }
          continue;
        }
        if (replicas_ == nullptr) {
          rp.high_watermark = read->log_end_offset.value();
        }
        rp.log_start_offset = read->log_start_offset.value();
        if (limit == 0 && total > 0) continue;  // over the response budget
        rp.records = read->bytes;
        rp.keepalive = read->mapping;
        total += read->bytes.size();
        budget -= static_cast<int64_t>(read->bytes.size());
      }
    }
    if (total >= req.min_bytes || any_error || shutting_down_ ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    if (waiter->woken()) continue;
    waiter->timer().expires_at(deadline);
    std::error_code ec;
    co_await waiter->timer().async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
  }
  if (metrics_ != nullptr) {
    for (const auto& t : resp.topics) {
      for (const auto& p : t.partitions) {
        if (p.error != kafka::kNone) {
          metrics_->RecordError(kafka::kFetch, p.error);
        } else if (!p.records.empty()) {
          metrics_->RecordFetch(t.name, p.records.size(),
                                CountRecords(p.records));
        }
      }
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  co_return f;
}

// ------------------------------------------------------------- ListOffsets

RequestHandler::Frame RequestHandler::HandleListOffsets(const RequestHeader& h,
                                                        Reader& r) {
  kafka::ListOffsetsRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  kafka::ListOffsetsResponse resp;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = std::string(t.name);
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      auto partition = topics_->GetPartition(t.name, p.index);
      if (partition == nullptr) {
        rp.error = replicas_ != nullptr
                       ? ClusterPartitionError(t.name, p.index)
                       : int16_t{kafka::kUnknownTopicOrPartition};
        continue;
      }
      log::Log& log = partition->log();
      // In a cluster only the leader answers, and "latest" is the high
      // watermark: what a consumer can read.
      std::optional<Offset> end;
      if (replicas_ != nullptr) {
        ReplicaManager::ReadAccess access =
            replicas_->CheckRead(partition->tp(), -1);
        if (access.error != kafka::kNone) {
          rp.error = access.error;
          continue;
        }
        end = access.high_watermark;
      }
      if (p.timestamp == -2) {
        rp.offset = log.log_start_offset().value();
      } else if (p.timestamp == -1) {
        rp.offset = end.value_or(log.log_end_offset()).value();
      } else if (p.timestamp < 0) {
        rp.error = kafka::kInvalidRequest;
      } else {
        auto found = log.FindOffsetByTimestamp(p.timestamp);
        if (!found.ok()) {
          rp.error = ErrorFromStatus(found.status());
        } else if (found->has_value() && (!end || (*found)->first < *end)) {
          rp.offset = (*found)->first.value();
          rp.timestamp = (*found)->second;
        }
      }
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  return f;
}

// ---------------------------------------------------------------- Metadata

RequestHandler::Frame RequestHandler::HandleMetadata(const RequestHeader& h,
                                                     Reader& r) {
  kafka::MetadataRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  if (cluster_ != nullptr) return HandleClusterMetadata(h, req);
  kafka::MetadataResponse resp;
  HostPort advertised = config_->advertised();
  resp.brokers.push_back({config_->node_id, advertised.host, advertised.port});
  resp.cluster_id = config_->cluster_id;
  resp.controller_id = config_->node_id;
  auto describe = [&](const TopicInfo& t) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    rt.is_internal = IsInternalTopic(t.name);
    for (int32_t p = 0; p < t.partitions; p++) {
      rt.partitions.push_back({kafka::kNone,
                               p,
                               config_->node_id,
                               {config_->node_id},
                               {config_->node_id}});
    }
  };
  if (!req.topics) {
    for (const auto& t : topics_->List()) describe(t);
  } else {
    for (std::string_view name : *req.topics) {
      int16_t error;
      auto t = FindOrCreateTopic(name, req.allow_auto_topic_creation, &error);
      if (t) {
        describe(*t);
      } else {
        auto& rt = resp.topics.emplace_back();
        rt.name = std::string(name);
        rt.error = error;
      }
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  return f;
}

// ------------------------------------------------------ Create/DeleteTopics

RequestHandler::Frame RequestHandler::HandleCreateTopics(const RequestHeader& h,
                                                         Reader& r) {
  kafka::CreateTopicsRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  std::vector<kafka::TopicResult> results;
  for (const auto& t : req.topics) {
    auto& res = results.emplace_back();
    res.name = std::string(t.name);
    auto fail = [&](int16_t code, std::string message) {
      res.error = code;
      res.message = std::move(message);
    };
    if (!log::IsValidTopicName(t.name)) {
      fail(kafka::kInvalidTopic,
           absl::StrFormat("invalid topic name '%s'", t.name));
      continue;
    }
    if (t.has_assignments) {
      fail(kafka::kInvalidRequest,
           "manual replica assignments are not supported on a single node");
      continue;
    }
    if (t.replication_factor != -1 && t.replication_factor != 1) {
      fail(kafka::kInvalidReplicationFactor,
           absl::StrFormat("replication factor %d is larger than the 1 "
                           "available broker",
                           t.replication_factor));
      continue;
    }
    std::map<std::string, std::string> configs;
    for (const auto& c : t.configs) {
      if (c.value) configs[std::string(c.name)] = std::string(*c.value);
    }
    int32_t partitions =
        t.num_partitions == -1 ? config_->num_partitions : t.num_partitions;
    auto created =
        topics_->Create(t.name, partitions, configs, req.validate_only);
    if (created.ok()) continue;
    const absl::Status& s = created.status();
    if (absl::IsAlreadyExists(s)) {
      fail(kafka::kTopicAlreadyExists, std::string(s.message()));
    } else if (absl::IsOutOfRange(s)) {
      fail(kafka::kInvalidPartitions, std::string(s.message()));
    } else if (absl::IsInvalidArgument(s)) {
      fail(kafka::kInvalidConfig, std::string(s.message()));
    } else {
      fail(ErrorFromStatus(s), std::string(s.message()));
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::EncodeCreateTopicsResponse(*f, h.api_version, results);
  return f;
}

RequestHandler::Frame RequestHandler::HandleDeleteTopics(const RequestHeader& h,
                                                         Reader& r) {
  kafka::DeleteTopicsRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  std::vector<kafka::TopicResult> results;
  for (std::string_view name : req.topics) {
    auto& res = results.emplace_back();
    res.name = std::string(name);
    absl::Status s = topics_->Delete(name);
    res.error = ErrorFromStatus(s);
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::EncodeDeleteTopicsResponse(*f, h.api_version, results);
  return f;
}

// --------------------------------------------------------- FindCoordinator

RequestHandler::Frame RequestHandler::HandleFindCoordinator(
    const RequestHeader& h, Reader& r) {
  kafka::FindCoordinatorRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  kafka::FindCoordinatorResponse resp;
  if (req.key_type != 0) {
    resp.error = kafka::kCoordinatorNotAvailable;
    resp.message = "fjord has no transaction coordinator";
  } else if (group_coordinator_ != nullptr) {
    // In a cluster: the leader of the group's __consumer_offsets partition,
    // as the gRPC FindCoordinator names it.
    absl::StatusOr<CoordinatorLocation> at =
        group_coordinator_->Locate(req.key);
    if (at.ok()) {
      resp.node_id = at->node_id;
      resp.host = at->kafka.host;
      resp.port = at->kafka.port;
    } else {
      resp.error = kafka::kCoordinatorNotAvailable;
      resp.message = std::string(at.status().message());
      resp.node_id = -1;
    }
  } else {
    // On a single node every group's coordinator is this broker.
    HostPort advertised = config_->advertised();
    resp.node_id = config_->node_id;
    resp.host = advertised.host;
    resp.port = advertised.port;
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  return f;
}

// --------------------------------------------------- OffsetForLeaderEpoch

RequestHandler::Frame RequestHandler::HandleOffsetForLeaderEpoch(
    const RequestHeader& h, Reader& r) {
  kafka::OffsetForLeaderEpochRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  kafka::OffsetForLeaderEpochResponse resp;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = std::string(t.name);
    for (const auto& p : t.partitions) {
      auto partition = topics_->GetPartition(t.name, p.index);
      if (partition == nullptr) {
        auto& rp = rt.partitions.emplace_back();
        rp.index = p.index;
        rp.error = replicas_ != nullptr
                       ? ClusterPartitionError(t.name, p.index)
                       : int16_t{kafka::kUnknownTopicOrPartition};
        continue;
      }
      if (replicas_ != nullptr) {
        rt.partitions.push_back(replicas_->EndOffsetForEpoch(
            partition->tp(), p.current_leader_epoch, p.leader_epoch));
        continue;
      }
      // A single node leads everything; its history may well be empty.
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      const log::EpochEndOffset end =
          partition->log().EndOffsetForEpoch(LeaderEpoch(p.leader_epoch));
      rp.leader_epoch = end.epoch.value();
      rp.end_offset = end.end_offset.value();
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  return f;
}

// ---------------------------------------------------------- InitProducerId

RequestHandler::Frame RequestHandler::HandleInitProducerId(
    const RequestHeader& h, Reader& r) {
  kafka::InitProducerIdRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) return nullptr;
  kafka::InitProducerIdResponse resp;
  if (req.transactional_id) {
    // Transactions are not part of fjord.
    resp.error = kafka::kInvalidRequest;
  } else {
    auto id = producer_ids_->Next();
    if (id.ok()) {
      resp.producer_id = *id;
      resp.producer_epoch = 0;
    } else {
      spdlog::error("allocating a producer id: {}", id.status().message());
      resp.error = ErrorFromStatus(id.status());
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  return f;
}

}  // namespace fjord::broker
