#include "client/internal/accumulator.h"

#include <algorithm>

#include "client/internal/backoff.h"

namespace fjord::client::internal {

void ProducerBatch::Reset(log::BatchOptions options) {
  builder.Reset(options);
  completions.clear();
  reserved_bytes = 0;
  created_ms = 0;
  id = 0;
  sealed = false;
  bytes = {};
  producer_id = -1;
  producer_epoch = -1;
  base_sequence = -1;
  attempts = 0;
  retry_at_ms = 0;
  last_error = absl::OkStatus();
  in_flight = false;
  done = false;
  in_doubt = false;
}

// ------------------------------------------------------------ MemoryPool

bool MemoryPool::TryReserve(int64_t bytes) {
  int64_t used = used_.load(std::memory_order_relaxed);
  while (used + bytes <= limit_) {
    if (used_.compare_exchange_weak(used, used + bytes,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool MemoryPool::Reserve(int64_t bytes, int64_t deadline_ms, bool may_block) {
  if (TryReserve(bytes)) return true;
  if (!may_block) return false;
  absl::MutexLock l(&mu_);
  waiters_.fetch_add(1);
  bool ok = false;
  for (;;) {
    if (TryReserve(bytes)) {
      ok = true;
      break;
    }
    const int64_t left = deadline_ms - SteadyNowMs();
    if (left <= 0) break;
    room_.WaitWithTimeout(&mu_,
                          absl::Milliseconds(std::min<int64_t>(left, 50)));
  }
  waiters_.fetch_sub(1);
  return ok;
}

void MemoryPool::Release(int64_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_relaxed);
  if (waiters_.load() > 0) {
    absl::MutexLock l(&mu_);
    room_.SignalAll();
  }
}

// ------------------------------------------------------ RecordAccumulator

ProducerBatch* RecordAccumulator::NewBatch(PartitionQueue* q, int64_t now_ms) {
  ProducerBatch* b;
  {
    absl::MutexLock l(&free_mu_);
    if (free_.empty()) {
      all_.push_back(std::make_unique<ProducerBatch>());
      b = all_.back().get();
    } else {
      b = free_.back();
      free_.pop_back();
    }
  }
  log::BatchOptions options;
  options.codec = options_.codec;
  b->Reset(options);
  b->queue = q;
  b->created_ms = now_ms;
  b->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock l(&done_mu_);
  incomplete_.insert(b->id);
  return b;
}

void RecordAccumulator::MarkDone(ProducerBatch* batch) {
  absl::MutexLock l(&done_mu_);
  incomplete_.erase(batch->id);
  done_cv_.SignalAll();
}

bool RecordAccumulator::WaitDoneBefore(uint64_t id, int64_t deadline_ms) {
  absl::MutexLock l(&done_mu_);
  for (;;) {
    if (incomplete_.empty() || *incomplete_.begin() >= id) return true;
    const int64_t left = deadline_ms - SteadyNowMs();
    if (left <= 0) return false;
    done_cv_.WaitWithTimeout(&done_mu_,
                             absl::Milliseconds(std::min<int64_t>(left, 100)));
  }
}

void RecordAccumulator::Recycle(ProducerBatch* batch) {
  batch->completions.clear();  // drop callbacks (and what they captured) now
  absl::MutexLock l(&free_mu_);
  free_.push_back(batch);
}

RecordAccumulator::AppendResult RecordAccumulator::Append(
    PartitionQueue* q, std::optional<std::string_view> key,
    std::optional<std::string_view> value,
    std::span<const log::RecordHeader> headers, int64_t timestamp,
    DeliveryCallback&& callback, int64_t reserved, bool only_if_open,
    int64_t now_ms) {
  const size_t need = log::BatchBuilder::MaxRecordBytes(key, value, headers);
  AppendResult result;
  FastMutexLock l(&q->mu);
  ProducerBatch* b = q->batches.empty() ? nullptr : q->batches.back();
  if (b != nullptr &&
      (b->sealed || (b->record_count() > 0 &&
                     b->builder.uncompressed_bytes() + need >
                         static_cast<size_t>(options_.batch_size)))) {
    if (!b->sealed) {
      b->sealed = true;
      result.batch_full = true;
    }
    b = nullptr;
  }
  if (b == nullptr) {
    if (only_if_open) return result;
    b = NewBatch(q, now_ms >= 0 ? now_ms : SteadyNowMs());
    q->batches.push_back(b);
    result.new_batch = true;
  }
  b->builder.Add(key, value, headers, timestamp);
  b->completions.push_back({std::move(callback), timestamp});
  b->reserved_bytes += reserved;
  result.appended = true;
  if (b->builder.uncompressed_bytes() >=
      static_cast<size_t>(options_.batch_size)) {
    b->sealed = true;
    result.batch_full = true;
  }
  return result;
}

RecordAccumulator::Readiness RecordAccumulator::FrontReadiness(
    PartitionQueue* q, int64_t now_ms, bool flushing,
    int max_in_flight_per_partition, bool in_doubt_only) {
  Readiness r;
  FastMutexLock l(&q->mu);
  if (q->batches.empty()) return r;
  ProducerBatch* b = q->batches.front();
  if (in_doubt_only && !(b->attempts > 0 && b->in_doubt)) return r;
  if (static_cast<int>(q->in_flight.size()) >= max_in_flight_per_partition) {
    return r;  // a response will wake the sender
  }
  if (b->attempts > 0) {
    // A retry goes only after every earlier send of the partition has been
    // answered, so the partition's batches reach the broker in order.
    if (!q->in_flight.empty()) return r;
    if (now_ms < b->retry_at_ms) {
      r.next_check_ms = b->retry_at_ms;
      return r;
    }
    r.ready = true;
    return r;
  }
  if (b->sealed || q->batches.size() > 1 || flushing ||
      now_ms >= b->created_ms + options_.linger_ms) {
    r.ready = true;
    return r;
  }
  r.next_check_ms = b->created_ms + options_.linger_ms;
  return r;
}

bool RecordAccumulator::FrontInDoubt(PartitionQueue* q) {
  FastMutexLock l(&q->mu);
  if (q->batches.empty()) return false;
  const ProducerBatch* b = q->batches.front();
  return b->attempts > 0 && b->in_doubt;
}

ProducerBatch* RecordAccumulator::TakeFront(PartitionQueue* q) {
  FastMutexLock l(&q->mu);
  ProducerBatch* b = q->batches.front();
  q->batches.pop_front();
  b->sealed = true;
  return b;
}

void RecordAccumulator::Requeue(PartitionQueue* q, ProducerBatch* batch) {
  FastMutexLock l(&q->mu);
  auto it = std::find_if(q->batches.begin(), q->batches.end(),
                         [&](ProducerBatch* b) { return b->id > batch->id; });
  q->batches.insert(it, batch);
}

}  // namespace fjord::client::internal
