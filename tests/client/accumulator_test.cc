#include "client/internal/accumulator.h"

#include <string>
#include <thread>

#include "catch2/catch.hpp"
#include "client/internal/backoff.h"
#include "client/internal/fast_mutex.h"
#include "tests/util/test_util.h"

namespace fjord::client::internal {
namespace {

struct Fixture {
  explicit Fixture(AccumulatorOptions o) : acc(o) {
    topic.name = "t";
    q.topic = &topic;
    q.partition = 0;
  }
  RecordAccumulator::AppendResult Add(std::string_view value, int64_t now,
                                      int* delivered = nullptr) {
    DeliveryCallback cb;
    if (delivered) {
      cb = [delivered](const absl::Status& s, const RecordMetadata&) {
        if (s.ok()) (*delivered)++;
      };
    }
    return acc.Append(&q, std::nullopt, value, {}, 1000, std::move(cb), 1,
                      false, now);
  }
  size_t Queued() {
    FastMutexLock l(&q.mu);
    return q.batches.size();
  }
  RecordAccumulator acc;
  TopicEntry topic;
  PartitionQueue q;
};

TEST_CASE("Records share a batch until batch.size, then a new one starts",
          "[client][accumulator]") {
  Fixture f({/*batch_size=*/1000, /*linger_ms=*/50, log::Codec::kNone});
  const std::string value(90, 'v');  // ~100 bytes encoded
  auto r = f.Add(value, 0);
  CHECK(r.appended);
  CHECK(r.new_batch);
  CHECK(!r.batch_full);
  int records = 1;
  bool full = false;
  while (!full) {
    r = f.Add(value, 0);
    CHECK(r.appended);
    full = r.batch_full;
    records++;
    REQUIRE(records < 20);
  }
  CHECK(f.Queued() == 2);  // the full one and the one just started
  CHECK(records >= 9);
  ProducerBatch* first = f.acc.TakeFront(&f.q);
  CHECK(first->builder.uncompressed_bytes() <= 1000);
  CHECK(first->record_count() == records - 1);
  CHECK(first->completions.size() == first->completions.size());
}

TEST_CASE("A record larger than batch.size gets a batch of its own",
          "[client][accumulator]") {
  Fixture f({100, 0, log::Codec::kNone});
  CHECK(f.Add("small", 0).new_batch);
  auto r = f.Add(std::string(500, 'x'), 0);
  CHECK(r.appended);
  CHECK(r.new_batch);
  CHECK(r.batch_full);
  CHECK(f.Queued() == 2);
  CHECK(f.Add("next", 0).new_batch);
}

TEST_CASE(
    "A batch is ready when full, when linger.ms has passed, when another "
    "batch follows it, or when flushing",
    "[client][accumulator]") {
  Fixture f({1 << 20, /*linger_ms=*/10, log::Codec::kNone});
  f.Add("a", /*now=*/100);
  auto r = f.acc.FrontReadiness(&f.q, 105, false, 5);
  CHECK(!r.ready);
  CHECK(r.next_check_ms == 110);
  CHECK(f.acc.FrontReadiness(&f.q, 105, /*flushing=*/true, 5).ready);
  CHECK(f.acc.FrontReadiness(&f.q, 110, false, 5).ready);
  // The per-partition in-flight limit holds it back.
  ProducerBatch in_flight;
  f.q.in_flight.push_back(&in_flight);
  CHECK(!f.acc.FrontReadiness(&f.q, 200, false, 1).ready);
  f.q.in_flight.clear();
  ProducerBatch* b = f.acc.TakeFront(&f.q);
  CHECK(b->sealed);
  CHECK(f.Queued() == 0);
  CHECK(!f.acc.FrontReadiness(&f.q, 200, true, 5).ready);  // nothing queued
  // A sealed batch no longer takes records.
  CHECK(f.Add("b", 300).new_batch);
}

TEST_CASE(
    "A retried batch goes back ahead of newer ones and waits for its backoff "
    "and for the partition's earlier sends",
    "[client][accumulator]") {
  Fixture f({10, 0, log::Codec::kNone});
  f.Add("first-record", 0);   // batch 0 (full at once)
  f.Add("second-record", 0);  // batch 1
  f.Add("third-record", 0);   // batch 2
  ProducerBatch* b0 = f.acc.TakeFront(&f.q);
  ProducerBatch* b1 = f.acc.TakeFront(&f.q);
  CHECK(b0->id < b1->id);
  b0->attempts = 1;
  b0->retry_at_ms = 500;
  b1->attempts = 1;
  b1->retry_at_ms = 500;
  f.acc.Requeue(&f.q, b1);
  f.acc.Requeue(&f.q, b0);
  {
    FastMutexLock l(&f.q.mu);
    REQUIRE(f.q.batches.size() == 3);
    CHECK(f.q.batches[0] == b0);
    CHECK(f.q.batches[1] == b1);
  }
  auto r = f.acc.FrontReadiness(&f.q, 400, true, 5);
  CHECK(!r.ready);
  CHECK(r.next_check_ms == 500);
  ProducerBatch other;
  f.q.in_flight.push_back(&other);
  CHECK(!f.acc.FrontReadiness(&f.q, 600, true, 5).ready);
  f.q.in_flight.clear();
  CHECK(f.acc.FrontReadiness(&f.q, 600, false, 5).ready);
  CHECK(f.acc.TakeFront(&f.q) == b0);
}

TEST_CASE("Sticky appends only go to an open batch with room",
          "[client][accumulator]") {
  Fixture f({1000, 0, log::Codec::kNone});
  DeliveryCallback cb = [](const absl::Status&, const RecordMetadata&) {};
  auto r = f.acc.Append(&f.q, std::nullopt, "v", {}, 1, std::move(cb), 1,
                        /*only_if_open=*/true, 0);
  CHECK(!r.appended);
  CHECK(cb);  // not consumed
  f.Add("v", 0);
  r = f.acc.Append(&f.q, std::nullopt, "v", {}, 1, std::move(cb), 1, true, 0);
  CHECK(r.appended);
  CHECK(!cb);
}

TEST_CASE("Batches are recycled with their buffers, and Flush waits for them",
          "[client][accumulator]") {
  Fixture f({1 << 16, 0, log::Codec::kNone});
  f.Add(std::string(1000, 'a'), 0);
  ProducerBatch* b = f.acc.TakeFront(&f.q);
  const uint64_t next = f.acc.batches_created();
  CHECK(!f.acc.WaitDoneBefore(next, SteadyNowMs() + 20));
  std::thread done([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    f.acc.MarkDone(b);
  });
  CHECK(f.acc.WaitDoneBefore(next, SteadyNowMs() + 5000));
  done.join();
  f.acc.Recycle(b);
  f.Add("b", 0);
  ProducerBatch* again = f.acc.TakeFront(&f.q);
  CHECK(again == b);  // the same object, buffers and all
  CHECK(again->record_count() == 1);
  CHECK(again->attempts == 0);
}

TEST_CASE("The memory pool blocks until room is released, or times out",
          "[client][accumulator]") {
  MemoryPool pool(1000);
  CHECK(pool.Reserve(600, 0, true));
  CHECK(!pool.Reserve(600, SteadyNowMs() + 30, true));  // times out
  CHECK(!pool.Reserve(600, INT64_MAX / 2, /*may_block=*/false));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    pool.Release(600);
  });
  const int64_t start = SteadyNowMs();
  CHECK(pool.Reserve(600, start + 5000, true));
  CHECK(SteadyNowMs() - start >= 20);
  release.join();
  CHECK(pool.used() == 600);
}

}  // namespace
}  // namespace fjord::client::internal
