// The network-thread half of Producer::Impl (see producer_impl.h): taking
// ready batches, producer ids and sequence numbers, Produce requests and
// what their answers mean for each batch.
#include "absl/strings/str_format.h"
#include "client/internal/errors.h"
#include "client/internal/producer_impl.h"
#include "client/internal/protocol.h"
#include "client/internal/sender_logic.h"

namespace fjord {

using client::internal::BatchAction;
using client::internal::BatchOutcome;
using client::internal::Connection;
using client::internal::kErrNone;
using client::internal::Response;
using client::internal::SteadyNowMs;
namespace kafka = client::internal::kafka;

namespace {

std::string Describe(const client::internal::ProducerBatch& b) {
  return absl::StrFormat("%d record%s to %s-%d", b.record_count(),
                         b.record_count() == 1 ? "" : "s", b.queue->topic->name,
                         b.queue->partition);
}

}  // namespace

void Producer::Impl::OnNetworkEvent() {
  ApplyMetadata();
  Run();
}

void Producer::Impl::ApplyMetadata() {
  const auto& md = net_.metadata();
  {
    absl::MutexLock l(&topics_mu_);
    network_error_ = net_.last_error();
    if (md.version != applied_metadata_version_) {
      applied_metadata_version_ = md.version;
      for (auto& [name, t] : topics_) {
        auto it = md.topics.find(name);
        if (it == md.topics.end()) continue;
        const auto& tm = it->second;
        t->metadata_error.store(tm.error);
        if (tm.error != kErrNone) continue;
        // Partitions only grow (Kafka never shrinks a topic).
        if (t->partitions.size() >= tm.partitions.size()) continue;
        while (t->partitions.size() < tm.partitions.size()) {
          auto q = std::make_unique<Queue>();
          q->topic = t.get();
          q->partition = static_cast<int32_t>(t->partitions.size());
          queues_.push_back(q.get());
          leaders_.push_back(-1);
          t->partitions.push_back(std::move(q));
        }
        auto array = std::make_unique<client::internal::PartitionArray>();
        for (auto& q : t->partitions) array->queues.push_back(q.get());
        t->current.store(array.get(), std::memory_order_release);
        t->arrays.push_back(std::move(array));
      }
    }
    topics_cv_.SignalAll();
  }
  for (size_t i = 0; i < queues_.size(); i++) {
    Queue* q = queues_[i];
    auto it = md.topics.find(q->topic->name);
    int32_t leader = -1;
    if (it != md.topics.end() &&
        static_cast<size_t>(q->partition) < it->second.partitions.size()) {
      leader = it->second.partitions[q->partition].leader;
    }
    leaders_[i] = leader;
  }
}

void Producer::Impl::ScheduleRun(int64_t at_ms) {
  const int64_t now = SteadyNowMs();
  if (run_timer_at_ms_ > now && run_timer_at_ms_ <= at_ms) return;
  run_timer_at_ms_ = at_ms;
  run_timer_.expires_at(
      std::chrono::steady_clock::time_point(std::chrono::milliseconds(at_ms)));
  run_timer_.async_wait(client::internal::Guarded(
      net_.guard(), [this](const std::error_code& ec) {
        if (ec) return;
        run_timer_at_ms_ = 0;
        Run();
      }));
}

void Producer::Impl::Run() {
  wake_pending_.store(false, std::memory_order_release);
  if (abort_.load()) {
    FailEverything(absl::CancelledError(
        "the producer was closed before this record was delivered"));
    return;
  }
  const int64_t now = SteadyNowMs();
  int64_t next = ExpireBatches(now);
  if (config_.enable_idempotence && pid_state_ != PidState::kReady) {
    MaybeInitProducerId();
    if (pid_state_ == PidState::kResetPending) {
      // Before the sequences restart under a new id, resend under the old
      // one what may already be in the log, to learn whether it is.
      next = std::min(next, SendReady(now, /*in_doubt_only=*/true));
    }
    if (pid_state_ != PidState::kReady) {
      if (pid_retry_at_ms_ > now) next = std::min(next, pid_retry_at_ms_);
      if (next != INT64_MAX) ScheduleRun(next);
      return;
    }
  }
  next = std::min(next, SendReady(now));
  if (next != INT64_MAX) ScheduleRun(next);
}

int64_t Producer::Impl::ExpireBatches(int64_t now) {
  int64_t next = INT64_MAX;
  for (Queue* q : queues_) {
    std::vector<Batch*> expired;
    {
      client::internal::FastMutexLock l(&q->mu);
      // Queued batches are in creation order: only the front ones can be
      // due.
      while (!q->batches.empty() && Expired(q->batches.front(), now)) {
        Batch* b = q->batches.front();
        b->sealed = true;
        q->batches.pop_front();
        expired.push_back(b);
      }
      if (!q->batches.empty()) {
        next = std::min(
            next, q->batches.front()->created_ms + config_.delivery_timeout_ms);
      }
    }
    for (Batch* b : q->in_flight) {
      if (b->done) continue;
      if (Expired(b, now)) {
        expired.push_back(b);
      } else {
        next = std::min(next, b->created_ms + config_.delivery_timeout_ms);
      }
    }
    for (Batch* b : expired) {
      const bool sent = b->attempts > 0;
      absl::Status s = absl::DeadlineExceededError(absl::StrFormat(
          "%s not delivered within delivery.timeout.ms (%d ms) after %d "
          "attempt%s%s%s",
          Describe(*b), config_.delivery_timeout_ms, b->attempts,
          b->attempts == 1 ? "" : "s",
          b->last_error.ok() ? "" : "; last error: ",
          b->last_error.ok() ? std::string()
                             : std::string(b->last_error.message())));
      if (b->attempts == 0 && !net_.last_error().ok()) {
        s = absl::DeadlineExceededError(absl::StrFormat(
            "%s not delivered within delivery.timeout.ms (%d ms): %s",
            Describe(*b), config_.delivery_timeout_ms,
            net_.last_error().message()));
      }
      Complete(b, s, -1, -1);
      // Whether the broker appended it is unknown: its sequence numbers
      // can no longer be vouched for.
      if (config_.enable_idempotence && sent) RequestProducerIdReset(s);
    }
  }
  return next;
}

void Producer::Impl::RequestProducerIdReset(const absl::Status& why) {
  if (pid_state_ == PidState::kReady) pid_state_ = PidState::kResetPending;
}

bool Producer::Impl::AnyPartitionInDoubt() {
  for (Queue* q : queues_) {
    if (acc_.FrontInDoubt(q)) return true;
  }
  return false;
}

void Producer::Impl::MaybeInitProducerId() {
  if (pid_state_ == PidState::kRequesting || pid_state_ == PidState::kReady) {
    return;
  }
  // A new id only once nothing sent under the old one is outstanding, and
  // no partition's next batch may be in the log already: renumbered under
  // the new id, it would be appended a second time.
  if (pid_state_ == PidState::kResetPending &&
      (inflight_requests_ > 0 || AnyPartitionInDoubt())) {
    return;
  }
  if (SteadyNowMs() < pid_retry_at_ms_) return;
  Connection* conn = net_.AnyReady();
  if (conn == nullptr) return;  // the network listener runs us again
  auto version = conn->Version(kafka::kInitProducerId, 0, 1);
  if (!version) {
    absl::Status s = absl::FailedPreconditionError(absl::StrFormat(
        "%s does not support InitProducerId, which enable.idempotence=true "
        "needs (set enable.idempotence=false)",
        conn->Describe()));
    {
      absl::MutexLock l(&topics_mu_);
      fatal_error_ = s;
      topics_cv_.SignalAll();
    }
    FailEverything(s);
    return;
  }
  auto frame = std::make_unique<client::internal::OutFrame>(
      kafka::kInitProducerId, *version, config_.common.client_id);
  client::internal::EncodeInitProducerIdRequest(*frame, -1);
  frame->Finish();
  pid_state_ = PidState::kRequesting;
  const int16_t v = *version;
  conn->Send(
      std::move(frame), true, 0, [this, v](absl::Status s, Response resp) {
        kafka::InitProducerIdResponse r;
        if (s.ok()) {
          kafka::Reader reader(resp.body);
          if (!client::internal::DecodeInitProducerIdResponse(reader, v, &r)) {
            s = absl::UnavailableError("malformed InitProducerId response");
          } else if (r.error != kErrNone) {
            s = client::internal::StatusFromKafkaError(r.error,
                                                       "InitProducerId");
          }
        }
        if (s.ok()) {
          producer_id_ = r.producer_id;
          producer_epoch_ = r.producer_epoch;
          pid_state_ = PidState::kReady;
          pid_attempts_ = 0;
        } else {
          pid_state_ = PidState::kNone;
          pid_attempts_++;
          pid_retry_at_ms_ = SteadyNowMs() + backoff_.DelayMs(pid_attempts_);
        }
        Run();
      });
}

bool Producer::Impl::PrepareBatch(Batch* b) {
  Queue* q = b->queue;
  if (config_.enable_idempotence) {
    if (!b->bytes.empty() && b->producer_id == producer_id_ &&
        b->producer_epoch == producer_epoch_) {
      return true;  // a retry: the same bytes, the same sequence
    }
    if (q->sequence_producer_id != producer_id_) {
      q->sequence_producer_id = producer_id_;
      q->next_sequence = 0;
    }
    b->producer_id = producer_id_;
    b->producer_epoch = producer_epoch_;
    b->base_sequence = q->next_sequence;
    b->in_doubt = false;  // of bytes under another id, now replaced
    q->next_sequence = client::internal::IncrementSequence(q->next_sequence,
                                                           b->record_count());
    b->builder.SetProducer(b->producer_id, b->producer_epoch, b->base_sequence);
  } else if (!b->bytes.empty()) {
    return true;
  }
  auto finished = b->builder.Finish();
  if (!finished.ok()) {
    Complete(b, finished.status(), -1, -1);
    return false;
  }
  b->bytes = *finished;
  return true;
}

int64_t Producer::Impl::SendReady(int64_t now, bool in_doubt_only) {
  int64_t next = INT64_MAX;
  const bool flushing = flushing_.load() > 0 || closed_.load();
  const int per_partition = config_.max_in_flight;
  for (;;) {
    plans_.clear();
    for (size_t i = 0; i < queues_.size(); i++) {
      Queue* q = queues_[i];
      auto r =
          acc_.FrontReadiness(q, now, flushing, per_partition, in_doubt_only);
      if (!r.ready) {
        next = std::min(next, r.next_check_ms);
        continue;
      }
      const int32_t leader = leaders_[i];
      if (leader < 0) {
        // Metadata requests (which may close a connection) are the network
        // thread's: a Send sending inline leaves the batch to its Run.
        if (sending_inline_) {
          run_wanted_ = true;
        } else {
          net_.RequestMetadataUpdate();
        }
        continue;
      }
      Plan* plan = nullptr;
      for (Plan& p : plans_) {
        if (p.node == leader) plan = &p;
      }
      if (plan == nullptr) {
        Connection* conn = net_.Ready(leader);
        if (conn == nullptr || !conn->can_send()) continue;
        plans_.push_back({leader, conn, {}});
        plan = &plans_.back();
      }
      Batch* b = acc_.TakeFront(q);
      if (!PrepareBatch(b)) continue;
      b->attempts++;
      b->in_flight = true;
      q->in_flight.push_back(b);
      plan->batches.push_back(b);
    }
    // A request failed at once (its connection closed) runs Run again from
    // inside SendProduce: plans_ may be refilled meanwhile, so these are
    // sent from a list of their own.
    std::vector<Plan> plans;
    plans.swap(plans_);
    bool sent = false;
    for (Plan& p : plans) {
      if (p.batches.empty()) continue;
      SendProduce(p.conn, std::move(p.batches));
      sent = true;
    }
    if (plans_.empty()) {  // keep the allocation
      plans.clear();
      plans_.swap(plans);
    }
    if (!sent) break;
  }
  return next;
}

void Producer::Impl::SendProduce(Connection* conn,
                                 std::vector<Batch*> batches) {
  auto version = conn->Version(kafka::kProduce, 3, 7);
  if (!version) {
    absl::Status s = absl::UnimplementedError(absl::StrFormat(
        "%s supports no Produce version in [3, 7] (RecordBatch v2)",
        conn->Describe()));
    for (Batch* b : batches) HandleOutcome(b, 0, true, s, -1, -1);
    return;
  }
  std::vector<client::internal::ProduceTopicData> topics;
  for (Batch* b : batches) {
    if (topics.empty() || topics.back().topic != b->queue->topic->name) {
      topics.push_back({b->queue->topic->name, {}});
    }
    topics.back().partitions.push_back({b->queue->partition, b->bytes});
  }
  auto frame = std::make_unique<client::internal::OutFrame>(
      kafka::kProduce, *version, config_.common.client_id);
  client::internal::EncodeProduceRequest(
      *frame, config_.acks, config_.common.request_timeout_ms, topics);
  frame->Finish();
  inflight_requests_++;
  const int16_t v = *version;
  conn->Send(std::move(frame), config_.acks != 0, 0,
             [this, batches = std::move(batches), v](absl::Status s,
                                                     Response resp) mutable {
               OnProduceResponse(std::move(batches), v, std::move(s),
                                 std::move(resp));
             });
}

void Producer::Impl::OnProduceResponse(std::vector<Batch*> batches,
                                       int16_t version, absl::Status status,
                                       Response response) {
  inflight_requests_--;
  if (!status.ok()) {
    for (Batch* b : batches) HandleOutcome(b, 0, true, status, -1, -1);
  } else if (config_.acks == 0) {
    for (Batch* b : batches) HandleOutcome(b, kErrNone, false, status, -1, -1);
  } else {
    kafka::Reader r(response.body);
    kafka::ProduceResponse resp;
    if (!client::internal::DecodeProduceResponse(r, version, &resp)) {
      absl::Status bad = absl::UnavailableError("malformed Produce response");
      for (Batch* b : batches) HandleOutcome(b, 0, true, bad, -1, -1);
    } else {
      std::vector<bool> answered(batches.size(), false);
      for (const auto& t : resp.topics) {
        for (const auto& p : t.partitions) {
          for (size_t i = 0; i < batches.size(); i++) {
            Batch* b = batches[i];
            if (answered[i] || b->queue->partition != p.index ||
                b->queue->topic->name != t.name) {
              continue;
            }
            answered[i] = true;
            HandleOutcome(b, p.error, false, absl::OkStatus(), p.base_offset,
                          p.log_append_time);
            break;
          }
        }
      }
      for (size_t i = 0; i < batches.size(); i++) {
        if (answered[i]) continue;
        HandleOutcome(batches[i], 0, true,
                      absl::UnavailableError(
                          "the Produce response did not answer for it"),
                      -1, -1);
      }
    }
  }
  Run();
}

void Producer::Impl::HandleOutcome(Batch* b, int16_t error, bool network_error,
                                   const absl::Status& network_status,
                                   int64_t base_offset,
                                   int64_t log_append_time) {
  Queue* q = b->queue;
  for (auto it = q->in_flight.begin(); it != q->in_flight.end(); ++it) {
    if (*it == b) {
      q->in_flight.erase(it);
      break;
    }
  }
  b->in_flight = false;
  if (b->done) {  // expired (or failed by Close) while in flight
    acc_.Recycle(b);
    return;
  }
  const int64_t now = SteadyNowMs();
  BatchOutcome o;
  o.error = error;
  o.network_error = network_error;
  o.idempotent = config_.enable_idempotence;
  o.earlier_batch_resending = q->resend_pending;
  o.attempts = b->attempts;
  o.retries = config_.retries;
  o.expired = Expired(b, now);
  if (config_.enable_idempotence) {
    b->in_doubt = client::internal::MayBeAppended(b->in_doubt, o);
  }
  absl::Status why =
      network_error ? network_status
                    : client::internal::StatusFromKafkaError(
                          error, absl::StrFormat("producing %s", Describe(*b)));
  switch (client::internal::DecideBatchAction(o)) {
    case BatchAction::kComplete:
      if (b->attempts > 1) q->resend_pending = false;
      Complete(b, absl::OkStatus(), base_offset, log_append_time);
      break;
    case BatchAction::kRetry:
      q->resend_pending = true;
      if (network_error || client::internal::NeedsMetadataRefresh(error)) {
        net_.RequestMetadataUpdate();
      }
      Retry(b, why);
      break;
    case BatchAction::kResetProducerIdAndRetry:
      q->resend_pending = true;
      RequestProducerIdReset(why);
      Retry(b, why);
      break;
    case BatchAction::kFail: {
      absl::Status s = why;
      if (o.expired) {
        s = absl::DeadlineExceededError(absl::StrFormat(
            "%s not delivered within delivery.timeout.ms (%d ms) after %d "
            "attempts; last error: %s",
            Describe(*b), config_.delivery_timeout_ms, b->attempts,
            why.message()));
      } else if (b->attempts > 1) {
        s = absl::Status(
            why.code(), absl::StrFormat("%s (after %d attempts)", why.message(),
                                        b->attempts));
      }
      const bool sequenced = b->base_sequence >= 0;
      Complete(b, s, -1, -1);
      // Later batches of the partition carry sequences past this one's.
      if (config_.enable_idempotence && sequenced) RequestProducerIdReset(s);
      break;
    }
  }
}

void Producer::Impl::Retry(Batch* b, const absl::Status& why) {
  b->last_error = why;
  b->retry_at_ms = SteadyNowMs() + backoff_.DelayMs(b->attempts);
  acc_.Requeue(b->queue, b);
}

void Producer::Impl::Complete(Batch* b, const absl::Status& status,
                              int64_t base_offset, int64_t log_append_time) {
  if (b->done) return;
  b->done = true;
  RecordMetadata md;
  md.topic = b->queue->topic->name;
  md.partition = b->queue->partition;
  const bool delivered = status.ok();
  for (size_t i = 0; i < b->completions.size(); i++) {
    auto& c = b->completions[i];
    if (!c.callback) continue;
    md.offset = delivered && base_offset >= 0
                    ? base_offset + static_cast<int64_t>(i)
                    : -1;
    md.timestamp = log_append_time >= 0 ? log_append_time : c.timestamp;
    c.callback(status, md);
  }
  memory_.Release(b->reserved_bytes);
  b->reserved_bytes = 0;
  acc_.MarkDone(b);
  if (!b->in_flight) acc_.Recycle(b);
}

void Producer::Impl::FailEverything(const absl::Status& status) {
  for (Queue* q : queues_) {
    auto queued = acc_.RemoveIf(q, [](const Batch&) { return true; });
    for (Batch* b : queued) Complete(b, status, -1, -1);
    std::vector<Batch*> flying(q->in_flight.begin(), q->in_flight.end());
    for (Batch* b : flying) Complete(b, status, -1, -1);
  }
}

}  // namespace fjord
