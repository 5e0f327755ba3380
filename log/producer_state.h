// ProducerStateTable: one partition's memory of its idempotent producers,
// what lets a retried batch be recognised and appended once only. For each
// producer id: its epoch, the broker time of its last append, and its last
// five batches' first/last sequence and first/last offset. The rules (see
// log/README.md, "Idempotent producers"):
//
//  - a batch whose base sequence continues the producer's last one (wrapping
//    from INT32_MAX to 0) in the same epoch is appended;
//  - a batch whose (first, last) sequence equals one of the five remembered
//    ones is a duplicate: not appended, answered with the original offsets;
//  - a batch entirely older than those five is kDuplicateSequence;
//  - a gap is kOutOfOrderSequence; an older epoch kInvalidProducerEpoch; a
//    newer epoch must start at sequence 0 (else kOutOfOrderSequence);
//  - an unknown producer id may start at any sequence when this partition
//    has forgotten (expired or evicted) a producer id at least as large,
//    and must start at 0 otherwise (else kUnknownProducerId).
//
// State is bounded: idle producers expire (ExpireIdle), and a
// ProducerIdBudget shared by every partition caps the total.
//
// Externally synchronized: the owning Log calls it under its mutex, so the
// check and the append it guards are one atomic step. ProducerIdBudget is
// thread-safe.
#ifndef FJORD_LOG_PRODUCER_STATE_H_
#define FJORD_LOG_PRODUCER_STATE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "log/record_batch.h"
#include "log/types.h"

namespace fjord::log {

// Batches remembered per producer (Kafka's NumBatchesToRetain).
inline constexpr int kProducerBatchesRemembered = 5;

// Sequence arithmetic of Kafka's RecordBatch: sequences run 0..INT32_MAX
// and wrap to 0.
int32_t IncrementSequence(int32_t sequence, int32_t increment);
// Whether `next` is the sequence right after `last`.
bool IsNextSequence(int32_t last, int32_t next);

struct ProducerBatch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  Offset first_offset;
  Offset last_offset;
  friend bool operator==(const ProducerBatch&, const ProducerBatch&) = default;
};

// A copy of what the table knows of one producer.
struct ProducerInfo {
  ProducerId id;
  ProducerEpoch epoch;
  int64_t last_append_ms = 0;
  std::vector<ProducerBatch> batches;  // oldest first, 1..5
};

// The offsets of the batches a duplicate record set repeats.
struct DuplicateOf {
  Offset first_offset;
  Offset last_offset;
};

// max.producer.ids: the broker-wide cap on remembered producer ids, shared
// by every partition's table. A table that inserts a producer while the
// budget is full first evicts its own least recently used producer;
// concurrent inserts into different partitions, or a partition with nothing
// else to evict, may overshoot by a few, which the LogManager's periodic
// sweep takes back broker-wide (LogManager::ExpireProducers). Thread-safe.
class ProducerIdBudget {
 public:
  explicit ProducerIdBudget(int64_t max_ids) : max_ids_(max_ids) {}
  ProducerIdBudget(const ProducerIdBudget&) = delete;
  ProducerIdBudget& operator=(const ProducerIdBudget&) = delete;

  int64_t max_ids() const { return max_ids_; }
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  bool full() const { return count() >= max_ids_; }
  void Add(int64_t delta) {
    count_.fetch_add(delta, std::memory_order_relaxed);
  }

 private:
  const int64_t max_ids_;
  std::atomic<int64_t> count_{0};
};

class ProducerStateTable {
 public:
  // `budget` (may be null: unlimited) is shared with other tables.
  explicit ProducerStateTable(
      std::shared_ptr<ProducerIdBudget> budget = nullptr);
  ProducerStateTable(const ProducerStateTable&) = delete;
  ProducerStateTable& operator=(const ProducerStateTable&) = delete;
  ~ProducerStateTable();

  // ---- Checking and recording one record set (Log::Append) ----
  //
  // BeginCheck(); CheckBatch() for each batch in order (each with the base
  // offset it gets if appended); FinishCheck(); then, once the bytes are
  // written, CommitCheck(). Batches of the same producer later in the set
  // are checked against the ones before them.
  void BeginCheck();
  // The refusal of this batch, if any: a ProducerErrorStatus, or
  // kInvalidArgument for a producer batch without an epoch or sequence.
  absl::Status CheckBatch(const BatchHeader& h, Offset base);
  // nullopt: append the set. A DuplicateOf: every producer batch in it is a
  // remembered retry; append nothing and answer with those offsets. Errors:
  // kDuplicateSequence when the retried batches are older than the five
  // remembered, kInvalidArgument for a set that mixes retries with new
  // batches (its single base offset could not describe both).
  absl::StatusOr<std::optional<DuplicateOf>> FinishCheck();
  // Records the checked (new) batches as appended at `append_time_ms`.
  // REQUIRES: FinishCheck() returned nullopt.
  void CommitCheck(int64_t append_time_ms);

  // ---- Rebuilding ----
  //
  // Applies a batch read back from the log (recovery, truncation), without
  // checks: the log is the truth. Ignores batches without a producer.
  void Replay(const BatchHeader& h, int64_t append_time_ms);
  // The state as a ".snapshot" file (log/FORMAT.md) reflecting the log up
  // to `end_offset`.
  std::string EncodeSnapshot(Offset end_offset) const;
  // Replaces the state with a snapshot's and returns its end offset. A
  // corrupt or unreadable snapshot is kDataLoss and changes nothing.
  absl::StatusOr<Offset> LoadSnapshot(std::string_view bytes);
  // Forgets every producer (before a rebuild). Keeps the forgotten-id mark:
  // what was forgotten stays forgotten.
  void Clear();

  // ---- Bounding ----
  //
  // Forgets producers whose last append is `max_idle_ms` or more before
  // `now_ms` (producer.id.expiration.ms). Returns how many went.
  int ExpireIdle(int64_t now_ms, int64_t max_idle_ms);
  // Forgets, least recently used first, at most `limit` producers whose
  // last append is at or before `up_to_ms`. Returns how many went.
  int EvictLeastRecentlyUsed(int64_t up_to_ms, int64_t limit);
  // Appends every producer's last append time to `out`.
  void CollectLastAppendTimes(std::vector<int64_t>* out) const;

  // ---- Inspection ----
  size_t size() const { return entries_.size(); }
  std::optional<ProducerInfo> Get(ProducerId id) const;
  // Every producer, least recently used first (the snapshot's order).
  std::vector<ProducerInfo> Producers() const;
  // The largest producer id this partition expired or evicted (-1: none).
  ProducerId forgotten_below() const { return forgotten_; }

 private:
  struct Entry;
  // One producer batch of the record set being checked.
  struct Pending {
    ProducerId id;
    ProducerEpoch epoch;
    ProducerBatch batch;
    Entry* entry;  // the producer's entry before this set, or null
  };

  Entry* Find(ProducerId id) const;
  // Inserts an empty entry at the MRU end, evicting the LRU one first if
  // the budget is full (never an entry touched in the current commit).
  Entry* Insert(ProducerId id);
  void Erase(Entry* e);
  void Touch(Entry* e);  // move to the MRU end
  void Record(Entry* e, ProducerEpoch epoch, const ProducerBatch& b,
              int64_t append_time_ms);

  const std::shared_ptr<ProducerIdBudget> budget_;
  absl::flat_hash_map<ProducerId, std::unique_ptr<Entry>> entries_;
  // LRU list of entries_ (least recently appended first).
  Entry* lru_head_ = nullptr;
  Entry* lru_tail_ = nullptr;
  ProducerId forgotten_{-1};
  uint64_t commit_stamp_ = 0;

  // The record set being checked (capacity kept between appends).
  std::vector<Pending> pending_;
  int plain_batches_ = 0;      // batches without a producer id
  int duplicate_batches_ = 0;  // remembered retries
  int old_duplicates_ = 0;     // retries older than the remembered five
  std::optional<DuplicateOf> duplicate_of_;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_PRODUCER_STATE_H_
