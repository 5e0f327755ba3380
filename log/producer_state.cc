#include "log/producer_state.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"
#include "log/crc32c.h"
#include "log/internal/endian.h"
#include "log/producer_error.h"

namespace fjord::log {

namespace {

constexpr int64_t kSequenceSpace =
    int64_t{std::numeric_limits<int32_t>::max()} + 1;

// Snapshot layout (log/FORMAT.md, "Producer-state snapshot").
constexpr char kSnapshotMagic[4] = {'F', 'J', 'P', 'S'};
constexpr int16_t kSnapshotVersion = 1;
constexpr size_t kSnapshotHeaderBytes = 4 + 2 + 8 + 8 + 4;
constexpr size_t kSnapshotEntryBytes = 8 + 2 + 8 + 1;
constexpr size_t kSnapshotBatchBytes = 4 + 4 + 8 + 8;
constexpr size_t kSnapshotCrcBytes = 4;

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  internal::StoreBE<T>(buf, v);
  out->append(buf, sizeof(T));
}

// Bounds-checked big-endian reads over a snapshot.
class SnapshotReader {
 public:
  explicit SnapshotReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T* v) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    *v = internal::LoadBE<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

absl::Status Corrupt(std::string_view why) {
  return absl::DataLossError(
      absl::StrFormat("corrupt producer-state snapshot: %s", why));
}

}  // namespace

int32_t IncrementSequence(int32_t sequence, int32_t increment) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  if (sequence > kMax - increment) return increment - (kMax - sequence) - 1;
  return sequence + increment;
}

bool IsNextSequence(int32_t last, int32_t next) {
  return int64_t{next} == int64_t{last} + 1 ||
         (next == 0 && last == std::numeric_limits<int32_t>::max());
}

struct ProducerStateTable::Entry {
  ProducerId id;
  ProducerEpoch epoch{0};
  int64_t last_append_ms = 0;
  // ring[(head + i) % 5] for i < count, oldest first.
  std::array<ProducerBatch, kProducerBatchesRemembered> ring;
  uint8_t count = 0;
  uint8_t head = 0;
  Entry* prev = nullptr;  // LRU neighbours
  Entry* next = nullptr;
  uint64_t stamp = 0;  // commit that last touched it

  const ProducerBatch& Batch(int i) const {
    return ring[(head + i) % kProducerBatchesRemembered];
  }
  const ProducerBatch& Last() const { return Batch(count - 1); }
  void Add(const ProducerBatch& b) {
    if (count == kProducerBatchesRemembered) {
      ring[head] = b;
      head = (head + 1) % kProducerBatchesRemembered;
    } else {
      ring[(head + count) % kProducerBatchesRemembered] = b;
      count++;
    }
  }
};

ProducerStateTable::ProducerStateTable(std::shared_ptr<ProducerIdBudget> budget)
    : budget_(std::move(budget)) {}

ProducerStateTable::~ProducerStateTable() { Clear(); }

ProducerStateTable::Entry* ProducerStateTable::Find(ProducerId id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second.get();
}

void ProducerStateTable::Touch(Entry* e) {
  if (e == lru_tail_) return;
  // Unlink (e is not the tail, so e->next is set).
  if (e->prev != nullptr) {
    e->prev->next = e->next;
  } else if (lru_head_ == e) {
    lru_head_ = e->next;
  }
  if (e->next != nullptr) e->next->prev = e->prev;
  // Append at the tail.
  e->prev = lru_tail_;
  e->next = nullptr;
  if (lru_tail_ != nullptr) lru_tail_->next = e;
  lru_tail_ = e;
  if (lru_head_ == nullptr) lru_head_ = e;
}

ProducerStateTable::Entry* ProducerStateTable::Insert(ProducerId id) {
  // Touched entries sit at the MRU end: if the LRU one was touched by this
  // commit, every one was, and none is evicted (the budget overshoots).
  if (budget_ != nullptr && budget_->full() && lru_head_ != nullptr &&
      lru_head_->stamp != commit_stamp_) {
    forgotten_ = std::max(forgotten_, lru_head_->id);
    Erase(lru_head_);
  }
  auto owned = std::make_unique<Entry>();
  Entry* e = owned.get();
  e->id = id;
  entries_.emplace(id, std::move(owned));
  e->prev = lru_tail_;
  if (lru_tail_ != nullptr) lru_tail_->next = e;
  lru_tail_ = e;
  if (lru_head_ == nullptr) lru_head_ = e;
  if (budget_ != nullptr) budget_->Add(1);
  return e;
}

void ProducerStateTable::Erase(Entry* e) {
  if (e->prev != nullptr) e->prev->next = e->next;
  if (e->next != nullptr) e->next->prev = e->prev;
  if (lru_head_ == e) lru_head_ = e->next;
  if (lru_tail_ == e) lru_tail_ = e->prev;
  if (budget_ != nullptr) budget_->Add(-1);
  entries_.erase(e->id);  // destroys *e
}

void ProducerStateTable::Record(Entry* e, ProducerEpoch epoch,
                                const ProducerBatch& b,
                                int64_t append_time_ms) {
  if (e->count == 0 || e->epoch != epoch) {
    e->count = 0;
    e->head = 0;
    e->epoch = epoch;
  }
  e->Add(b);
  e->last_append_ms = append_time_ms;
  e->stamp = commit_stamp_;
  Touch(e);
}

void ProducerStateTable::Clear() {
  if (budget_ != nullptr) budget_->Add(-static_cast<int64_t>(entries_.size()));
  entries_.clear();
  lru_head_ = lru_tail_ = nullptr;
  pending_.clear();
}

// ------------------------------------------------------------ checking

void ProducerStateTable::BeginCheck() {
  pending_.clear();
  plain_batches_ = 0;
  duplicate_batches_ = 0;
  old_duplicates_ = 0;
  duplicate_of_.reset();
}

absl::Status ProducerStateTable::CheckBatch(const BatchHeader& h, Offset base) {
  if (h.producer_id < 0) {
    plain_batches_++;
    return absl::OkStatus();
  }
  const ProducerId id(h.producer_id);
  if (h.producer_epoch < 0 || h.base_sequence < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "batch of producer %d has epoch %d and base sequence %d; an "
        "idempotent batch needs both",
        h.producer_id, h.producer_epoch, h.base_sequence));
  }
  const ProducerEpoch epoch(h.producer_epoch);
  const int32_t first = h.base_sequence;
  const int32_t last = IncrementSequence(first, h.last_offset_delta);
  const ProducerBatch batch{first, last, base, base + h.last_offset_delta};

  // The producer's state before this batch: an earlier batch of this set,
  // else the table.
  const Pending* prev = nullptr;
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->id == id) {
      prev = &*it;
      break;
    }
  }
  Entry* e = prev != nullptr ? prev->entry : Find(id);
  // The common case, the next batch in sequence, skips the retry checks: a
  // remembered batch cannot start right after the last one.
  if (prev == nullptr && e != nullptr && epoch == e->epoch &&
      !IsNextSequence(e->Last().last_sequence, first)) {
    for (int i = 0; i < e->count; i++) {
      const ProducerBatch& b = e->Batch(i);
      if (b.first_sequence == first && b.last_sequence == last) {
        if (!duplicate_of_) {
          duplicate_of_ = DuplicateOf{b.first_offset, b.last_offset};
        } else {
          duplicate_of_->last_offset = b.last_offset;
        }
        duplicate_batches_++;
        return absl::OkStatus();
      }
    }
    // Entirely at or before the last sequence (within half the sequence
    // space): every one of its records is in the log already.
    const int32_t newest = e->Last().last_sequence;
    auto behind = [newest](int32_t s) {
      return ((int64_t{newest} - s) % kSequenceSpace + kSequenceSpace) %
             kSequenceSpace;
    };
    if (behind(first) < kSequenceSpace / 2 && behind(last) <= behind(first)) {
      old_duplicates_++;
      return absl::OkStatus();
    }
  }
  if (prev == nullptr && e == nullptr) {
    if (first != 0 && id > forgotten_) {
      return ProducerErrorStatus(
          ProducerError::kUnknownProducerId,
          absl::StrFormat("producer %d is unknown to this partition and "
                          "starts at sequence %d, not 0",
                          id.value(), first));
    }
  } else {
    const ProducerEpoch current = prev != nullptr ? prev->epoch : e->epoch;
    const int32_t last_seq =
        prev != nullptr ? prev->batch.last_sequence : e->Last().last_sequence;
    if (epoch < current) {
      return ProducerErrorStatus(
          ProducerError::kInvalidProducerEpoch,
          absl::StrFormat("producer %d sent epoch %d, older than its "
                          "current epoch %d",
                          id.value(), epoch.value(), current.value()));
    }
    if (epoch > current && first != 0) {
      return ProducerErrorStatus(
          ProducerError::kOutOfOrderSequence,
          absl::StrFormat("producer %d starts its new epoch %d at sequence "
                          "%d, not 0",
                          id.value(), epoch.value(), first));
    }
    if (epoch == current && !IsNextSequence(last_seq, first)) {
      return ProducerErrorStatus(
          ProducerError::kOutOfOrderSequence,
          absl::StrFormat("producer %d epoch %d: sequence %d does not follow "
                          "the last appended %d",
                          id.value(), epoch.value(), first, last_seq));
    }
  }
  pending_.push_back(Pending{id, epoch, batch, e});
  return absl::OkStatus();
}

absl::StatusOr<std::optional<DuplicateOf>> ProducerStateTable::FinishCheck() {
  const int duplicates = duplicate_batches_ + old_duplicates_;
  if (duplicates == 0) return std::optional<DuplicateOf>();
  if (!pending_.empty() || plain_batches_ > 0) {
    return absl::InvalidArgumentError(
        "the record set mixes retried idempotent batches with new ones; send "
        "retries in a request of their own");
  }
  if (old_duplicates_ > 0) {
    return ProducerErrorStatus(
        ProducerError::kDuplicateSequence,
        "these batches were appended before, but are older than the five "
        "remembered per producer: their offsets are no longer known");
  }
  return duplicate_of_;
}

void ProducerStateTable::CommitCheck(int64_t append_time_ms) {
  commit_stamp_++;
  // Existing entries first: their pointers are valid until an insert
  // evicts.
  for (const Pending& p : pending_) {
    if (p.entry != nullptr) Record(p.entry, p.epoch, p.batch, append_time_ms);
  }
  for (const Pending& p : pending_) {
    if (p.entry != nullptr) continue;
    Entry* e = Find(p.id);
    if (e == nullptr) e = Insert(p.id);
    Record(e, p.epoch, p.batch, append_time_ms);
  }
  pending_.clear();
}

// ----------------------------------------------------------- rebuilding

void ProducerStateTable::Replay(const BatchHeader& h, int64_t append_time_ms) {
  if (h.producer_id < 0 || h.producer_epoch < 0 || h.base_sequence < 0) {
    return;
  }
  commit_stamp_++;
  const ProducerId id(h.producer_id);
  Entry* e = Find(id);
  if (e == nullptr) e = Insert(id);
  const int32_t first = h.base_sequence;
  Record(e, ProducerEpoch(h.producer_epoch),
         ProducerBatch{first, IncrementSequence(first, h.last_offset_delta),
                       h.base(), h.last()},
         append_time_ms);
}

std::string ProducerStateTable::EncodeSnapshot(Offset end_offset) const {
  std::string out;
  out.reserve(kSnapshotHeaderBytes + kSnapshotCrcBytes +
              entries_.size() *
                  (kSnapshotEntryBytes +
                   kProducerBatchesRemembered * kSnapshotBatchBytes));
  out.append(kSnapshotMagic, sizeof(kSnapshotMagic));
  Put<int16_t>(&out, kSnapshotVersion);
  Put<int64_t>(&out, end_offset.value());
  Put<int64_t>(&out, forgotten_.value());
  Put<int32_t>(&out, static_cast<int32_t>(entries_.size()));
  for (const Entry* e = lru_head_; e != nullptr; e = e->next) {
    Put<int64_t>(&out, e->id.value());
    Put<int16_t>(&out, e->epoch.value());
    Put<int64_t>(&out, e->last_append_ms);
    Put<int8_t>(&out, static_cast<int8_t>(e->count));
    for (int i = 0; i < e->count; i++) {
      const ProducerBatch& b = e->Batch(i);
      Put<int32_t>(&out, b.first_sequence);
      Put<int32_t>(&out, b.last_sequence);
      Put<int64_t>(&out, b.first_offset.value());
      Put<int64_t>(&out, b.last_offset.value());
    }
  }
  Put<uint32_t>(&out, crc32c::Value(out));
  return out;
}

absl::StatusOr<Offset> ProducerStateTable::LoadSnapshot(
    std::string_view bytes) {
  if (bytes.size() < kSnapshotHeaderBytes + kSnapshotCrcBytes) {
    return Corrupt(absl::StrFormat("%d bytes is too short", bytes.size()));
  }
  if (std::memcmp(bytes.data(), kSnapshotMagic, sizeof(kSnapshotMagic)) != 0) {
    return Corrupt("bad magic");
  }
  const std::string_view body =
      bytes.substr(0, bytes.size() - kSnapshotCrcBytes);
  const uint32_t stored =
      internal::LoadBE<uint32_t>(bytes.data() + body.size());
  if (stored != crc32c::Value(body)) return Corrupt("CRC mismatch");
  SnapshotReader r(body.substr(sizeof(kSnapshotMagic)));
  int16_t version;
  int64_t end, forgotten;
  int32_t count;
  r.Get(&version);
  r.Get(&end);
  r.Get(&forgotten);
  r.Get(&count);
  if (version != kSnapshotVersion) {
    return Corrupt(absl::StrFormat("unknown version %d", version));
  }
  if (end < 0 || count < 0 || forgotten < -1) {
    return Corrupt("negative end offset or entry count");
  }
  std::vector<ProducerInfo> infos;
  absl::flat_hash_map<ProducerId, bool> seen;
  for (int32_t i = 0; i < count; i++) {
    ProducerInfo info;
    int64_t id;
    int16_t epoch;
    int8_t batches;
    if (!r.Get(&id) || !r.Get(&epoch) || !r.Get(&info.last_append_ms) ||
        !r.Get(&batches)) {
      return Corrupt("truncated entry");
    }
    if (id < 0 || epoch < 0 || batches < 1 ||
        batches > kProducerBatchesRemembered) {
      return Corrupt(
          absl::StrFormat("entry %d: producer %d epoch %d with %d batches", i,
                          id, epoch, batches));
    }
    if (!seen.emplace(ProducerId(id), true).second) {
      return Corrupt(absl::StrFormat("producer %d listed twice", id));
    }
    info.id = ProducerId(id);
    info.epoch = ProducerEpoch(epoch);
    Offset after(0);
    for (int b = 0; b < batches; b++) {
      int32_t fs, ls;
      int64_t fo, lo;
      if (!r.Get(&fs) || !r.Get(&ls) || !r.Get(&fo) || !r.Get(&lo)) {
        return Corrupt("truncated batch");
      }
      if (fs < 0 || ls < 0 || fo < after.value() || lo < fo || lo >= end) {
        return Corrupt(absl::StrFormat(
            "producer %d: batch [%d, %d] at offsets [%d, %d] out of order or "
            "past the end offset %d",
            id, fs, ls, fo, lo, end));
      }
      info.batches.push_back(ProducerBatch{fs, ls, Offset(fo), Offset(lo)});
      after = Offset(lo + 1);
    }
    infos.push_back(std::move(info));
  }
  if (r.remaining() != 0) {
    return Corrupt(
        absl::StrFormat("%d bytes after the last entry", r.remaining()));
  }
  // Valid: replace the state, least recently used first.
  Clear();
  std::stable_sort(infos.begin(), infos.end(),
                   [](const ProducerInfo& a, const ProducerInfo& b) {
                     return a.last_append_ms < b.last_append_ms;
                   });
  commit_stamp_++;
  for (const ProducerInfo& info : infos) {
    auto owned = std::make_unique<Entry>();
    Entry* e = owned.get();
    e->id = info.id;
    entries_.emplace(info.id, std::move(owned));
    e->epoch = info.epoch;
    for (const ProducerBatch& b : info.batches) e->Add(b);
    e->last_append_ms = info.last_append_ms;
    e->prev = lru_tail_;
    if (lru_tail_ != nullptr) lru_tail_->next = e;
    lru_tail_ = e;
    if (lru_head_ == nullptr) lru_head_ = e;
  }
  if (budget_ != nullptr) budget_->Add(static_cast<int64_t>(infos.size()));
  forgotten_ = std::max(forgotten_, ProducerId(forgotten));
  return Offset(end);
}

// ------------------------------------------------------------ bounding

int ProducerStateTable::ExpireIdle(int64_t now_ms, int64_t max_idle_ms) {
  return EvictLeastRecentlyUsed(now_ms - max_idle_ms,
                                std::numeric_limits<int64_t>::max());
}

int ProducerStateTable::EvictLeastRecentlyUsed(int64_t up_to_ms,
                                               int64_t limit) {
  int evicted = 0;
  // The whole list: its order follows append order, which a clock stepping
  // back can make differ from last_append_ms order.
  for (Entry* e = lru_head_; e != nullptr && evicted < limit;) {
    Entry* next = e->next;
    if (e->last_append_ms <= up_to_ms) {
      forgotten_ = std::max(forgotten_, e->id);
      Erase(e);
      evicted++;
    }
    e = next;
  }
  return evicted;
}

void ProducerStateTable::CollectLastAppendTimes(
    std::vector<int64_t>* out) const {
  for (const Entry* e = lru_head_; e != nullptr; e = e->next) {
    out->push_back(e->last_append_ms);
  }
}

namespace {

template <typename E>
ProducerInfo InfoOf(const E& e) {
  ProducerInfo info;
  info.id = e.id;
  info.epoch = e.epoch;
  info.last_append_ms = e.last_append_ms;
  for (int i = 0; i < e.count; i++) info.batches.push_back(e.Batch(i));
  return info;
}

}  // namespace

std::optional<ProducerInfo> ProducerStateTable::Get(ProducerId id) const {
  const Entry* e = Find(id);
  if (e == nullptr) return std::nullopt;
  return InfoOf(*e);
}

std::vector<ProducerInfo> ProducerStateTable::Producers() const {
  std::vector<ProducerInfo> out;
  out.reserve(entries_.size());
  for (const Entry* e = lru_head_; e != nullptr; e = e->next) {
    out.push_back(InfoOf(*e));
  }
  return out;
}

}  // namespace fjord::log
