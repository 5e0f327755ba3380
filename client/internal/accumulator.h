// RecordAccumulator: the producer's per-partition batches. Send threads
// append records straight into the open (last) batch of their partition's
// queue; the network thread takes batches from the front when they are
// ready (full, lingered long enough, flushing, or a retry whose backoff
// has passed) and puts retried ones back in creation order. It also owns
// the buffer.memory budget and recycles batches, so steady-state
// production allocates nothing per record or per batch.
//
// Thread safety: Append and the memory functions are thread-safe. Each
// PartitionQueue's deque is guarded by its mutex; the fields marked "network
// thread" are touched only by the producer's network thread. Lock order:
// the producer's topic table, then PartitionQueue::mu, then the
// accumulator's own mutexes.
#ifndef FJORD_CLIENT_INTERNAL_ACCUMULATOR_H_
#define FJORD_CLIENT_INTERNAL_ACCUMULATOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "client/internal/fast_mutex.h"
#include "client/internal/partitioner.h"
#include "fjord/producer.h"
#include "log/record_batch.h"

namespace fjord::client::internal {

struct PartitionQueue;
struct TopicEntry;

struct Completion {
  DeliveryCallback callback;
  int64_t timestamp;
};

struct ProducerBatch {
  PartitionQueue* queue = nullptr;
  log::BatchBuilder builder;
  std::vector<Completion> completions;  // one per record, in offset order
  int64_t reserved_bytes = 0;           // from the MemoryPool
  int64_t created_ms = 0;               // steady clock
  uint64_t id = 0;                      // creation order (Flush)
  bool sealed = false;  // no more appends; guarded by queue->mu until set

  // Network thread only.
  std::span<uint8_t> bytes;  // the finished batch, valid until re-finished
  int64_t producer_id = -1;  // as stamped in `bytes`
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int attempts = 0;  // sends so far
  int64_t retry_at_ms = 0;
  absl::Status last_error;
  bool in_flight = false;
  bool done = false;  // callbacks ran (success, failure or expiry)
  // Idempotence: `bytes` (this producer id and sequence) may be in the log
  // although no answer said so (see MayBeAppended in sender_logic.h).
  bool in_doubt = false;

  int32_t record_count() const { return builder.record_count(); }
  void Reset(log::BatchOptions options);
};

struct PartitionQueue {
  TopicEntry* topic = nullptr;
  int32_t partition = 0;
  FastMutex mu;
  std::deque<ProducerBatch*> batches ABSL_GUARDED_BY(mu);

  // Network thread only.
  std::deque<ProducerBatch*> in_flight;  // in send order
  int32_t next_sequence = 0;
  int64_t sequence_producer_id = -1;  // whose sequence next_sequence is
  // A batch of this partition failed and will be resent: later batches
  // failing with OUT_OF_ORDER_SEQUENCE are explained by it.
  bool resend_pending = false;
};

// The queues of a topic's partitions, by index. Immutable once published:
// when partitions are added a new array replaces it, and old arrays live
// as long as the producer, so Send reads them without a lock.
struct PartitionArray {
  std::vector<PartitionQueue*> queues;
};

struct TopicEntry {
  std::string name;  // stable for the producer's life: RecordMetadata::topic
  // nullptr until metadata says how many partitions there are.
  std::atomic<const PartitionArray*> current{nullptr};
  std::atomic<int16_t> metadata_error{0};
  // Owners, written by the network thread under the producer's topic lock.
  std::vector<std::unique_ptr<PartitionQueue>> partitions;
  std::vector<std::unique_ptr<PartitionArray>> arrays;
  StickyPartition sticky;

  int32_t partition_count() const {
    const PartitionArray* a = current.load(std::memory_order_acquire);
    return a == nullptr ? 0 : static_cast<int32_t>(a->queues.size());
  }
};

// buffer.memory: bytes of records in batches not yet completed.
class MemoryPool {
 public:
  explicit MemoryPool(int64_t limit) : limit_(limit) {}
  // Takes `bytes` if there is room now, without waiting.
  bool TryReserve(int64_t bytes);
  // Takes `bytes`, waiting until `deadline_ms` (steady) for room; false if
  // there was none by then (or at once, when `may_block` is false).
  bool Reserve(int64_t bytes, int64_t deadline_ms, bool may_block);
  void Release(int64_t bytes);
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
  std::atomic<int> waiters_{0};
  absl::Mutex mu_;
  absl::CondVar room_;
};

struct AccumulatorOptions {
  int32_t batch_size = 1000000;
  int32_t linger_ms = 5;
  log::Codec codec = log::Codec::kNone;
};

class RecordAccumulator {
 public:
  explicit RecordAccumulator(AccumulatorOptions options) : options_(options) {}
  RecordAccumulator(const RecordAccumulator&) = delete;
  RecordAccumulator& operator=(const RecordAccumulator&) = delete;
  ~RecordAccumulator() = default;

  struct AppendResult {
    bool appended = false;
    bool new_batch = false;   // a batch was started (the sender must learn
                              // its linger deadline)
    bool batch_full = false;  // a batch became ready to send by size
  };
  // Appends one record to `q`'s open batch, or to a new batch when it does
  // not fit (a record larger than batch.size gets a batch of its own).
  // `reserved` bytes were taken from the MemoryPool for it; `callback` is
  // moved from only if the record was appended. A new batch's creation time
  // is `now_ms`, or the steady clock's when -1 (read only then). If
  // `only_if_open` and there is no open batch with room, appends nothing
  // (appended false: sticky partitioning moves on).
  AppendResult Append(PartitionQueue* q, std::optional<std::string_view> key,
                      std::optional<std::string_view> value,
                      std::span<const log::RecordHeader> headers,
                      int64_t timestamp, DeliveryCallback&& callback,
                      int64_t reserved, bool only_if_open, int64_t now_ms = -1);

  // Network thread. Whether `q`'s front batch may be sent at `now_ms`;
  // otherwise, when it will be (or INT64_MAX: not by time). `flushing`
  // makes lingering batches ready.
  struct Readiness {
    bool ready = false;
    int64_t next_check_ms = INT64_MAX;
  };
  // With `in_doubt_only`, only a retry whose earlier send may have been
  // appended (ProducerBatch::in_doubt) is ready.
  Readiness FrontReadiness(PartitionQueue* q, int64_t now_ms, bool flushing,
                           int max_in_flight_per_partition,
                           bool in_doubt_only = false);
  // Network thread. Whether `q`'s oldest unanswered batch is a retry that may
  // already be in the log: the partition's sequence state is then unknown.
  // (Later batches can be in the log only if it is: a broker appends a
  // producer's batches in sequence order.) REQUIRES: nothing of `q` in flight.
  bool FrontInDoubt(PartitionQueue* q);
  // Removes and seals the front batch (REQUIRES: FrontReadiness said ready).
  ProducerBatch* TakeFront(PartitionQueue* q);
  // Puts a batch that will be retried back among the queued ones, in
  // creation order (ahead of newer batches).
  void Requeue(PartitionQueue* q, ProducerBatch* batch);
  // Removes every queued batch for which `pred(batch)` holds, sealing an
  // open one, and returns them in order.
  template <typename Pred>
  std::vector<ProducerBatch*> RemoveIf(PartitionQueue* q, Pred&& pred);

  // Returns a completed batch for reuse.
  void Recycle(ProducerBatch* batch);
  // Marks a batch's records as all completed (Flush waits for this).
  void MarkDone(ProducerBatch* batch);
  // Waits until every batch with an id below `id` is done, or until
  // `deadline_ms` (steady); false on timeout.
  bool WaitDoneBefore(uint64_t id, int64_t deadline_ms);
  // Batches started so far (ids are 0, 1, ...).
  uint64_t batches_created() const {
    return next_id_.load(std::memory_order_relaxed);
  }
  const AccumulatorOptions& options() const { return options_; }

 private:
  ProducerBatch* NewBatch(PartitionQueue* q, int64_t now_ms);

  const AccumulatorOptions options_;
  std::atomic<uint64_t> next_id_{0};
  absl::Mutex free_mu_;
  std::vector<std::unique_ptr<ProducerBatch>> all_ ABSL_GUARDED_BY(free_mu_);
  std::vector<ProducerBatch*> free_ ABSL_GUARDED_BY(free_mu_);
  absl::Mutex done_mu_;
  absl::CondVar done_cv_;
  absl::btree_set<uint64_t> incomplete_ ABSL_GUARDED_BY(done_mu_);
};

template <typename Pred>
std::vector<ProducerBatch*> RecordAccumulator::RemoveIf(PartitionQueue* q,
                                                        Pred&& pred) {
  std::vector<ProducerBatch*> out;
  FastMutexLock l(&q->mu);
  for (auto it = q->batches.begin(); it != q->batches.end();) {
    if (pred(**it)) {
      (*it)->sealed = true;
      out.push_back(*it);
      it = q->batches.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_ACCUMULATOR_H_
