// ProducerStateTable on its own: every sequence rule, the five-batch window,
// wrap-around at INT32_MAX, expiry, eviction, and the snapshot codec with
// corruption detected.
#include "log/producer_state.h"

#include <catch2/catch.hpp>
#include <limits>

#include "log/producer_error.h"

namespace fjord::log {
namespace {

constexpr int32_t kMaxSeq = std::numeric_limits<int32_t>::max();

BatchHeader Header(int64_t pid, int16_t epoch, int32_t seq, int records) {
  BatchHeader h;
  h.producer_id = pid;
  h.producer_epoch = epoch;
  h.base_sequence = seq;
  h.last_offset_delta = records - 1;
  h.record_count = records;
  return h;
}

// Drives the check protocol the way Log::Append does, for one record set
// that would start at offset `*next`; advances `*next` when appended.
struct Appender {
  ProducerStateTable& table;
  int64_t next = 0;
  int64_t now_ms = 1000;

  absl::StatusOr<std::optional<DuplicateOf>> Append(
      std::initializer_list<BatchHeader> batches) {
    table.BeginCheck();
    int64_t base = next;
    for (BatchHeader h : batches) {
      h.base_offset = base;
      absl::Status s = table.CheckBatch(h, Offset(base));
      if (!s.ok()) return s;
      base += h.last_offset_delta + 1;
    }
    auto result = table.FinishCheck();
    if (result.ok() && !result->has_value()) {
      table.CommitCheck(now_ms);
      next = base;
    }
    return result;
  }
  // Appends and requires it to be appended (not a duplicate).
  void MustAppend(std::initializer_list<BatchHeader> batches) {
    auto r = Append(batches);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(!r->has_value());
  }
};

std::optional<ProducerError> ErrorOf(
    const absl::StatusOr<std::optional<DuplicateOf>>& r) {
  return GetProducerError(r.status());
}

TEST_CASE("ProducerState: sequence arithmetic wraps from INT32_MAX to 0",
          "[log][producer]") {
  CHECK(IncrementSequence(0, 0) == 0);
  CHECK(IncrementSequence(5, 4) == 9);
  CHECK(IncrementSequence(kMaxSeq, 0) == kMaxSeq);
  CHECK(IncrementSequence(kMaxSeq, 1) == 0);
  CHECK(IncrementSequence(kMaxSeq - 2, 4) == 1);
  CHECK(IsNextSequence(4, 5));
  CHECK(IsNextSequence(kMaxSeq, 0));
  CHECK_FALSE(IsNextSequence(4, 6));
  CHECK_FALSE(IsNextSequence(4, 4));
  CHECK_FALSE(IsNextSequence(kMaxSeq - 1, 0));
}

TEST_CASE("ProducerState: in-sequence batches are appended and remembered",
          "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(7, 0, 0, 10)});
  a.MustAppend({Header(7, 0, 10, 5)});
  auto info = t.Get(ProducerId(7));
  REQUIRE(info.has_value());
  CHECK(info->epoch == ProducerEpoch(0));
  CHECK(info->last_append_ms == 1000);
  REQUIRE(info->batches.size() == 2);
  CHECK(info->batches[0] == ProducerBatch{0, 9, Offset(0), Offset(9)});
  CHECK(info->batches[1] == ProducerBatch{10, 14, Offset(10), Offset(14)});
  // Batches without a producer id are never checked.
  a.MustAppend({Header(-1, -1, -1, 3)});
  CHECK(t.size() == 1);
}

TEST_CASE(
    "ProducerState: a retry of any of the last five batches is a duplicate "
    "answered with the original offsets",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  for (int i = 0; i < 7; i++) {
    a.MustAppend({Header(1, 0, i * 10, 10)});
    a.MustAppend({Header(2, 0, i, 1)});  // interleaved: offsets differ
  }
  // Batches 2..6 (sequences 20..69) are remembered.
  for (int i = 2; i < 7; i++) {
    auto r = a.Append({Header(1, 0, i * 10, 10)});
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->first_offset == Offset(i * 11));
    CHECK((*r)->last_offset == Offset(i * 11 + 9));
  }
  CHECK(a.next == 77);  // nothing appended
  // Older than the window: every record is in the log, offsets unknown.
  for (int i = 0; i < 2; i++) {
    auto r = a.Append({Header(1, 0, i * 10, 10)});
    CHECK(ErrorOf(r) == ProducerError::kDuplicateSequence);
    CHECK(absl::IsAlreadyExists(r.status()));
  }
  // A different split of already-appended sequences is also in the past.
  CHECK(ErrorOf(a.Append({Header(1, 0, 25, 10)})) ==
        ProducerError::kDuplicateSequence);
  // A duplicate in another epoch is not one.
  CHECK(ErrorOf(a.Append({Header(1, 1, 60, 10)})) ==
        ProducerError::kOutOfOrderSequence);
  // Overlapping the end is a sequence error, not a duplicate.
  CHECK(ErrorOf(a.Append({Header(1, 0, 65, 10)})) ==
        ProducerError::kOutOfOrderSequence);
  a.MustAppend({Header(1, 0, 70, 10)});
}

TEST_CASE("ProducerState: a gap in the sequence is OUT_OF_ORDER_SEQUENCE",
          "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(3, 0, 0, 5)});
  auto r = a.Append({Header(3, 0, 6, 5)});
  CHECK(ErrorOf(r) == ProducerError::kOutOfOrderSequence);
  CHECK(absl::IsFailedPrecondition(r.status()));
  CHECK(a.next == 5);
  a.MustAppend({Header(3, 0, 5, 5)});
}

TEST_CASE(
    "ProducerState: an older epoch is INVALID_PRODUCER_EPOCH and a newer one "
    "must start at sequence 0",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(4, 2, 0, 5)});
  CHECK(ErrorOf(a.Append({Header(4, 1, 5, 5)})) ==
        ProducerError::kInvalidProducerEpoch);
  CHECK(ErrorOf(a.Append({Header(4, 3, 5, 5)})) ==
        ProducerError::kOutOfOrderSequence);
  a.MustAppend({Header(4, 3, 0, 5)});
  auto info = t.Get(ProducerId(4));
  CHECK(info->epoch == ProducerEpoch(3));
  CHECK(info->batches.size() == 1);  // the old epoch's batches are gone
  CHECK(ErrorOf(a.Append({Header(4, 2, 5, 5)})) ==
        ProducerError::kInvalidProducerEpoch);
}

TEST_CASE("ProducerState: sequences continue across the wrap at INT32_MAX",
          "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  // An expired producer may resume anywhere; start near the top.
  a.MustAppend({Header(5, 0, 0, 1)});
  REQUIRE(t.ExpireIdle(a.now_ms + 10, 10) == 1);
  a.MustAppend({Header(5, 0, kMaxSeq - 9, 5)});   // kMax-9 .. kMax-5
  a.MustAppend({Header(5, 0, kMaxSeq - 4, 10)});  // kMax-4 .. 4, wraps
  auto info = t.Get(ProducerId(5));
  REQUIRE(info.has_value());
  CHECK(info->batches.back().last_sequence == 4);
  a.MustAppend({Header(5, 0, 5, 3)});
  // The batch across the wrap is still recognised as a duplicate.
  auto r = a.Append({Header(5, 0, kMaxSeq - 4, 10)});
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK((*r)->first_offset == Offset(6));
  // And a batch before the wrap is in the past, not a gap.
  CHECK(ErrorOf(a.Append({Header(5, 0, kMaxSeq - 20, 3)})) ==
        ProducerError::kDuplicateSequence);
  // A jump ahead is a gap.
  CHECK(ErrorOf(a.Append({Header(5, 0, 100, 3)})) ==
        ProducerError::kOutOfOrderSequence);
}

TEST_CASE(
    "ProducerState: an unknown producer must start at sequence 0 unless this "
    "partition may have forgotten it",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  auto r = a.Append({Header(10, 0, 42, 1)});
  CHECK(ErrorOf(r) == ProducerError::kUnknownProducerId);
  CHECK(t.forgotten_below() == ProducerId(-1));
  a.MustAppend({Header(10, 0, 0, 1)});
  a.MustAppend({Header(20, 0, 0, 1)});
  // Producer 20 expires: ids up to 20 may have been forgotten here.
  a.now_ms = 5000;
  a.MustAppend({Header(10, 0, 1, 1)});
  CHECK(t.ExpireIdle(5000, 1000) == 1);
  CHECK(t.forgotten_below() == ProducerId(20));
  // It resumes mid-sequence: accepted as a fresh sequence.
  a.MustAppend({Header(20, 0, 77, 1)});
  CHECK(t.Get(ProducerId(20))->batches.front().first_sequence == 77);
  a.MustAppend({Header(15, 0, 9, 1)});  // below the mark: may be forgotten
  // A larger id was never forgotten: it must start at 0.
  CHECK(ErrorOf(a.Append({Header(21, 0, 9, 1)})) ==
        ProducerError::kUnknownProducerId);
}

TEST_CASE(
    "ProducerState: several batches of one producer in a record set are "
    "checked against each other",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(1, 0, 0, 5), Header(1, 0, 5, 5), Header(2, 0, 0, 2),
                Header(1, 0, 10, 5)});
  auto info = t.Get(ProducerId(1));
  REQUIRE(info->batches.size() == 3);
  CHECK(info->batches[2] == ProducerBatch{10, 14, Offset(12), Offset(16)});
  // A gap inside the set refuses all of it.
  CHECK(ErrorOf(a.Append({Header(1, 0, 15, 5), Header(1, 0, 21, 5)})) ==
        ProducerError::kOutOfOrderSequence);
  CHECK(t.Get(ProducerId(1))->batches.back().last_sequence == 14);
  // The whole set retried: a duplicate starting at its first batch.
  auto r = a.Append({Header(1, 0, 0, 5), Header(1, 0, 5, 5)});
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  CHECK((*r)->first_offset == Offset(0));
  CHECK((*r)->last_offset == Offset(9));
}

TEST_CASE(
    "ProducerState: a record set mixing retries with new batches is refused",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(1, 0, 0, 5)});
  auto r = a.Append({Header(1, 0, 0, 5), Header(1, 0, 5, 5)});
  CHECK(absl::IsInvalidArgument(r.status()));
  r = a.Append({Header(1, 0, 0, 5), Header(-1, -1, -1, 1)});
  CHECK(absl::IsInvalidArgument(r.status()));
  CHECK(t.Get(ProducerId(1))->batches.size() == 1);
  a.MustAppend({Header(1, 0, 5, 5)});
}

TEST_CASE(
    "ProducerState: a producer batch without epoch or sequence is invalid",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  CHECK(absl::IsInvalidArgument(a.Append({Header(1, 0, -1, 5)}).status()));
  CHECK(absl::IsInvalidArgument(a.Append({Header(1, -1, 0, 5)}).status()));
  CHECK(t.size() == 0);
}

TEST_CASE(
    "ProducerState: idle producers expire and their next batch is a fresh "
    "sequence",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.now_ms = 1000;
  a.MustAppend({Header(1, 0, 0, 5)});
  a.now_ms = 2000;
  a.MustAppend({Header(2, 0, 0, 5)});
  CHECK(t.ExpireIdle(2999, 2000) == 0);
  CHECK(t.ExpireIdle(3000, 2000) == 1);  // idle exactly 2000 ms
  CHECK(!t.Get(ProducerId(1)).has_value());
  CHECK(t.Get(ProducerId(2)).has_value());
  a.MustAppend({Header(1, 0, 500, 5)});
  CHECK(t.Get(ProducerId(1))->batches.front().first_sequence == 500);
}

TEST_CASE(
    "ProducerState: a full budget evicts the least recently used producer, "
    "shared across tables",
    "[log][producer]") {
  auto budget = std::make_shared<ProducerIdBudget>(3);
  {
    ProducerStateTable t1(budget), t2(budget);
    Appender a1{t1}, a2{t2};
    a1.MustAppend({Header(1, 0, 0, 1)});
    a1.MustAppend({Header(2, 0, 0, 1)});
    a2.MustAppend({Header(3, 0, 0, 1)});
    CHECK(budget->count() == 3);
    a1.MustAppend({Header(1, 0, 1, 1)});  // 1 is now more recent than 2
    a1.MustAppend({Header(4, 0, 0, 1)});  // full: t1 evicts its LRU, 2
    CHECK(budget->count() == 3);
    CHECK(t1.Get(ProducerId(1)).has_value());
    CHECK(!t1.Get(ProducerId(2)).has_value());
    CHECK(t1.Get(ProducerId(4)).has_value());
    CHECK(t1.forgotten_below() == ProducerId(2));
    // The evicted producer resumes as a fresh sequence.
    a1.MustAppend({Header(2, 0, 1, 1)});
    CHECK(budget->count() == 3);
    CHECK(!t1.Get(ProducerId(1)).has_value());
    // A table with nothing to evict overshoots (the sweep's job).
    ProducerStateTable t3(budget);
    Appender a3{t3};
    a3.MustAppend({Header(5, 0, 0, 1)});
    CHECK(budget->count() == 4);
    CHECK(t1.EvictLeastRecentlyUsed(1000, 1) == 1);
    CHECK(budget->count() == 3);
    // New producers of one record set never evict each other.
    ProducerStateTable t4(budget);
    Appender a4{t4};
    a4.MustAppend({Header(7, 0, 0, 1), Header(8, 0, 0, 1)});
    CHECK(t4.size() == 2);
    CHECK(budget->count() == 5);
  }
  CHECK(budget->count() == 0);  // released on destruction
}

TEST_CASE("ProducerState: a snapshot round-trips the whole state",
          "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  for (int i = 0; i < 8; i++) {
    a.now_ms = 1000 + i;
    a.MustAppend({Header(1, 3, i * 2, 2)});
    if (i % 3 == 0) a.MustAppend({Header(100 + i, 0, 0, 1)});
  }
  a.MustAppend({Header(9, 0, 0, 1)});
  REQUIRE(t.ExpireIdle(1000 + 10000, 10000) == 1);  // 100 expires
  const std::string snap = t.EncodeSnapshot(Offset(a.next));
  ProducerStateTable u;
  auto end = u.LoadSnapshot(snap);
  REQUIRE(end.ok());
  CHECK(*end == Offset(a.next));
  CHECK(u.size() == t.size());
  CHECK(u.forgotten_below() == ProducerId(100));
  for (int64_t id : {1, 103, 106, 9}) {
    auto x = t.Get(ProducerId(id)), y = u.Get(ProducerId(id));
    REQUIRE(x.has_value());
    REQUIRE(y.has_value());
    CHECK(x->epoch == y->epoch);
    CHECK(x->last_append_ms == y->last_append_ms);
    CHECK(x->batches == y->batches);
  }
  CHECK(u.Get(ProducerId(1))->batches.size() == 5);
  // Deterministic: the loaded state encodes to the same bytes.
  CHECK(u.EncodeSnapshot(Offset(a.next)) == snap);
  // And it continues: a duplicate and the next sequence.
  Appender b{u, a.next};
  auto r = b.Append({Header(1, 3, 14, 2)});
  REQUIRE(r.ok());
  CHECK(r->has_value());
  b.MustAppend({Header(1, 3, 16, 2)});
  // An empty table's snapshot is valid too.
  ProducerStateTable empty, loaded;
  CHECK(loaded.LoadSnapshot(empty.EncodeSnapshot(Offset(0))).ok());
}

TEST_CASE(
    "ProducerState: any corrupt or truncated snapshot is kDataLoss and "
    "leaves the state as it was",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(1, 0, 0, 3)});
  a.MustAppend({Header(2, 0, 0, 3)});
  const std::string snap = t.EncodeSnapshot(Offset(a.next));
  ProducerStateTable u;
  Appender b{u};
  b.MustAppend({Header(50, 0, 0, 1)});
  for (size_t i = 0; i < snap.size(); i++) {
    std::string bad = snap;
    bad[i] ^= 0x20;
    auto r = u.LoadSnapshot(bad);
    INFO("byte " << i);
    CHECK(absl::IsDataLoss(r.status()));
  }
  for (size_t n = 0; n < snap.size(); n++) {
    CHECK(absl::IsDataLoss(u.LoadSnapshot(snap.substr(0, n)).status()));
  }
  CHECK(absl::IsDataLoss(u.LoadSnapshot(snap + "x").status()));
  CHECK(u.size() == 1);
  CHECK(u.Get(ProducerId(50)).has_value());
  CHECK(u.LoadSnapshot(snap).ok());
  CHECK(u.size() == 2);
}

TEST_CASE(
    "ProducerState: Producers lists every producer least recently used "
    "first, as a loaded snapshot has them",
    "[log][producer]") {
  ProducerStateTable t;
  Appender a{t};
  a.MustAppend({Header(7, 0, 0, 2)});
  a.now_ms = 2000;
  a.MustAppend({Header(3, 1, 0, 1)});
  a.now_ms = 3000;
  a.MustAppend({Header(7, 0, 2, 1)});  // 7 becomes the most recent
  auto listed = t.Producers();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].id == ProducerId(3));
  CHECK(listed[0].epoch == ProducerEpoch(1));
  CHECK(listed[0].last_append_ms == 2000);
  CHECK(listed[1].id == ProducerId(7));
  REQUIRE(listed[1].batches.size() == 2);
  CHECK(listed[1].batches[1].first_sequence == 2);
  CHECK(listed[1].batches[1].first_offset == Offset(3));

  ProducerStateTable loaded;
  REQUIRE(loaded.LoadSnapshot(t.EncodeSnapshot(Offset(a.next))).ok());
  auto again = loaded.Producers();
  REQUIRE(again.size() == 2);
  CHECK(again[0].id == ProducerId(3));
  CHECK(again[1].id == ProducerId(7));
  CHECK(again[1].batches == listed[1].batches);
  CHECK(ProducerStateTable().Producers().empty());
}

}  // namespace
}  // namespace fjord::log
