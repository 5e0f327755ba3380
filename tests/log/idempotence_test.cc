// Idempotent producers at the Log and LogManager level: duplicates answered
// with their original offsets, the producer state carried across clean
// restarts, crashes (with the fault-injecting file system), corrupt
// snapshots, retention and truncation, and the expiry and broker-wide cap.
#include <catch2/catch.hpp>
#include <filesystem>

#include "log/fault_injection_file_system.h"
#include "log/file_names.h"
#include "log/log.h"
#include "log/log_manager.h"
#include "log/producer_error.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::Bytes;
using testing::MakeBatch;
using testing::MakeProducerBatch;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

constexpr int64_t kPid = 1000;

struct Fixture {
  TempDir tmp;
  ManualClock clock;
  FaultInjectionFileSystem fs{PosixFileSystem()};
  LogOptions options{&fs, &clock};
  LogConfig config;
  std::string dir = tmp.Sub("t-0");

  Fixture() {
    config.segment_bytes = 4 << 10;
    config.segment_index_bytes = 4 << 10;
    config.index_interval_bytes = 256;
    config.flush_ms = -1;
  }
  std::unique_ptr<Log> Open(RecoveryPoint rp = {}, bool clean = false,
                            OpenReport* report = nullptr) {
    auto log = Log::Open(dir, config, options, rp, clean, report);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *std::move(log);
  }
};

// The `i`-th batch of producer kPid: 10 records at sequence 10 * i.
std::string Nth(int i, int16_t epoch = 0) {
  return MakeProducerBatch(10, kPid, epoch, 10 * i,
                           "p" + std::to_string(i) + std::string(60, 'x'));
}

absl::StatusOr<AppendInfo> Append(Log& log, std::string batch) {
  return log.Append(Bytes(batch));
}

// Requires `batch` to be recognised as a duplicate at `first`.
void RequireDuplicate(Log& log, std::string batch, Offset first) {
  const Offset end = log.log_end_offset();
  auto r = Append(log, std::move(batch));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->duplicate);
  CHECK(r->first_offset == first);
  CHECK(log.log_end_offset() == end);
}

// Requires `batch` to be appended as a new batch.
AppendInfo RequireAppended(Log& log, std::string batch) {
  auto r = Append(log, std::move(batch));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(!r->duplicate);
  return *r;
}

TEST_CASE(
    "Idempotence: a retried batch is answered with its original offsets and "
    "stored once",
    "[log][idempotence]") {
  Fixture f;
  auto log = f.Open();
  auto a = RequireAppended(*log, Nth(0));
  MustAppend(*log, MakeBatch(3));
  auto b = RequireAppended(*log, Nth(1));
  CHECK(a.first_offset == Offset(0));
  CHECK(b.first_offset == Offset(13));
  RequireDuplicate(*log, Nth(0), Offset(0));
  RequireDuplicate(*log, Nth(1), Offset(13));
  auto gap = Append(*log, Nth(3));
  CHECK(GetProducerError(gap.status()) == ProducerError::kOutOfOrderSequence);
  CHECK(log->log_end_offset() == Offset(23));
  RequireAppended(*log, Nth(2));
  CHECK(ReadAll(*log).size() == 33);
  auto info = log->producer(ProducerId(kPid));
  REQUIRE(info.has_value());
  CHECK(info->batches.size() == 3);
  CHECK(info->last_append_ms == f.clock.NowMs());
}

TEST_CASE(
    "Idempotence: a record set with several batches of one producer is "
    "appended, and retried, as one",
    "[log][idempotence]") {
  Fixture f;
  auto log = f.Open();
  RequireAppended(*log, Nth(0));
  const std::string set = Nth(1) + Nth(2) + Nth(3);
  auto a = RequireAppended(*log, set);
  CHECK(a.batches == 3);
  CHECK(a.first_offset == Offset(10));
  CHECK(a.last_offset == Offset(39));
  auto r = Append(*log, set);
  REQUIRE(r.ok());
  CHECK(r->duplicate);
  CHECK(r->first_offset == Offset(10));
  CHECK(r->last_offset == Offset(39));
  // Out of order inside the set: none of it is appended.
  auto bad = Append(*log, Nth(4) + Nth(6));
  CHECK(GetProducerError(bad.status()) == ProducerError::kOutOfOrderSequence);
  // A retry glued to a new batch cannot be answered with one offset.
  CHECK(absl::IsInvalidArgument(Append(*log, Nth(3) + Nth(4)).status()));
  CHECK(log->log_end_offset() == Offset(40));
  RequireAppended(*log, Nth(4) + Nth(5));
  CHECK(ReadAll(*log).size() == 60);
}

TEST_CASE(
    "Idempotence: the state survives a clean restart through the Close "
    "snapshot, with nothing replayed",
    "[log][idempotence]") {
  Fixture f;
  {
    auto log = f.Open();
    for (int i = 0; i < 12; i++) RequireAppended(*log, Nth(i));
    REQUIRE(log->segment_count() > 2);
    REQUIRE(log->Close().ok());
  }
  OpenReport report;
  auto log = f.Open({}, /*clean=*/true, &report);
  REQUIRE(report.producer_snapshot.has_value());
  CHECK(*report.producer_snapshot == log->log_end_offset());
  CHECK(report.producer_batches_replayed == 0);
  for (int i = 7; i < 12; i++) RequireDuplicate(*log, Nth(i), Offset(10 * i));
  CHECK(GetProducerError(Append(*log, Nth(6)).status()) ==
        ProducerError::kDuplicateSequence);
  RequireAppended(*log, Nth(12));
}

TEST_CASE(
    "Idempotence: after a crash the state is the roll snapshot plus a "
    "header replay of what follows it",
    "[log][idempotence]") {
  Fixture f;
  RecoveryPoint rp;
  {
    auto log = f.Open();
    for (int i = 0; i < 12; i++) {
      RequireAppended(*log, Nth(i));
      MustAppend(*log, MakeBatch(2));
    }
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
    // Destroyed without Close: no snapshot at the log end.
  }
  OpenReport report;
  auto log = f.Open(rp, false, &report);
  REQUIRE(report.producer_snapshot.has_value());
  CHECK(*report.producer_snapshot < log->log_end_offset());
  CHECK(report.producer_batches_replayed > 0);
  for (int i = 7; i < 12; i++) RequireDuplicate(*log, Nth(i), Offset(12 * i));
  RequireAppended(*log, Nth(12));
}

TEST_CASE(
    "Idempotence: a corrupt snapshot is set aside and the state rebuilt from "
    "an older one or from the log",
    "[log][idempotence]") {
  Fixture f;
  std::vector<Offset> snaps;
  {
    auto log = f.Open();
    for (int i = 0; i < 12; i++) RequireAppended(*log, Nth(i));
    REQUIRE(log->Close().ok());
    snaps = log->SnapshotOffsets();
  }
  REQUIRE(snaps.size() == 3);
  SECTION("the newest one") {
    std::string path = SegmentFileName(f.dir, snaps.back(), kSnapshotSuffix);
    testing::WriteFileBytes(path, 20, "\x7f");
    OpenReport report;
    auto log = f.Open({}, true, &report);
    CHECK(report.corrupt_snapshots == 1);
    REQUIRE(report.producer_snapshot.has_value());
    CHECK(*report.producer_snapshot == snaps[1]);
    CHECK(report.producer_batches_replayed > 0);
    CHECK(!f.fs.Exists(path));
    for (int i = 7; i < 12; i++) RequireDuplicate(*log, Nth(i), Offset(10 * i));
    RequireAppended(*log, Nth(12));
  }
  SECTION("every one, truncated or emptied") {
    for (Offset o : snaps) {
      std::filesystem::resize_file(SegmentFileName(f.dir, o, kSnapshotSuffix),
                                   o == snaps[0] ? 0 : 17);
    }
    OpenReport report;
    auto log = f.Open({}, true, &report);
    CHECK(report.corrupt_snapshots == 3);
    CHECK(!report.producer_snapshot.has_value());
    CHECK(report.producer_batches_replayed == 12);
    for (int i = 7; i < 12; i++) RequireDuplicate(*log, Nth(i), Offset(10 * i));
    RequireAppended(*log, Nth(12));
  }
}

TEST_CASE(
    "Idempotence: retention deleting every segment a producer wrote keeps its "
    "state, and the snapshots below the log start go",
    "[log][idempotence]") {
  Fixture f;
  f.config.retention_bytes = 8 << 10;
  auto log = f.Open();
  for (int i = 0; i < 3; i++) RequireAppended(*log, Nth(i));
  for (int i = 0; i < 60; i++) MustAppend(*log, MakeBatch(10, "filler", 80));
  auto deleted = log->ApplyRetention();
  REQUIRE(deleted.ok());
  REQUIRE(*deleted > 0);
  REQUIRE(log->log_start_offset() > Offset(30));  // the producer's are gone
  for (Offset o : log->SnapshotOffsets()) CHECK(o >= log->log_start_offset());
  RequireDuplicate(*log, Nth(2), Offset(20));
  // Across a crash too: the state lives on in the snapshots.
  REQUIRE(log->Flush().ok());
  const RecoveryPoint rp = log->recovery_point();
  log.reset();
  log = f.Open(rp);
  RequireDuplicate(*log, Nth(2), Offset(20));
  RequireAppended(*log, Nth(3));
}

TEST_CASE(
    "Idempotence: truncation rebuilds the state and removes snapshots past "
    "the cut",
    "[log][idempotence]") {
  Fixture f;
  auto log = f.Open();
  for (int i = 0; i < 12; i++) RequireAppended(*log, Nth(i));
  REQUIRE(log->SnapshotOffsets().back() > Offset(45));
  auto end = log->Truncate(Offset(45));  // inside batch 4: it goes whole
  REQUIRE(end.ok());
  CHECK(*end == Offset(40));
  for (Offset o : log->SnapshotOffsets()) CHECK(o <= Offset(40));
  auto info = log->producer(ProducerId(kPid));
  REQUIRE(info.has_value());
  CHECK(info->batches.back().last_sequence == 39);
  RequireDuplicate(*log, Nth(3), Offset(30));
  // The cut batches are no longer in the log: their retry is appended.
  RequireAppended(*log, Nth(4));
  // Truncating everything forgets the producer.
  REQUIRE(log->Truncate(Offset(0)).ok());
  CHECK(!log->producer(ProducerId(kPid)).has_value());
  CHECK(GetProducerError(Append(*log, Nth(5)).status()) ==
        ProducerError::kUnknownProducerId);
  RequireAppended(*log, Nth(0));
}

TEST_CASE("Idempotence: only the three newest snapshots are kept",
          "[log][idempotence]") {
  Fixture f;
  auto log = f.Open();
  for (int i = 0; i < 40; i++) RequireAppended(*log, Nth(i));
  REQUIRE(log->segment_count() > 6);
  auto snaps = log->SnapshotOffsets();
  REQUIRE(snaps.size() == 3);
  CHECK(snaps.back() == std::prev(log->SealedSegments().end())->next);
}

// --------------------------------------------------------------- crashes

TEST_CASE(
    "Idempotence crash: a batch made durable before a crash, with no "
    "snapshot since, is still a duplicate after recovery",
    "[log][idempotence][crash]") {
  Fixture f;
  f.config.segment_bytes = 1 << 20;  // no roll: no snapshot at all
  RecoveryPoint rp;
  {
    auto log = f.Open();
    for (int i = 0; i < 4; i++) RequireAppended(*log, Nth(i));
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
  }
  REQUIRE(f.fs.DropUnsyncedData().ok());
  OpenReport report;
  auto log = f.Open(rp, false, &report);
  CHECK(!report.producer_snapshot.has_value());
  CHECK(report.producer_batches_replayed == 4);
  for (int i = 0; i < 4; i++) RequireDuplicate(*log, Nth(i), Offset(10 * i));
  RequireAppended(*log, Nth(4));
}

TEST_CASE(
    "Idempotence crash: a batch lost with unsynced data is accepted when "
    "retried; a durable one is a duplicate",
    "[log][idempotence][crash]") {
  Fixture f;
  RecoveryPoint rp;
  {
    auto log = f.Open();
    for (int i = 0; i < 3; i++) RequireAppended(*log, Nth(i));
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
    // Not flushed, enough to roll (and so write a snapshot that claims
    // them) before the power goes.
    for (int i = 3; i < 12; i++) RequireAppended(*log, Nth(i));
    REQUIRE(log->SnapshotOffsets().back() > Offset(30));
  }
  REQUIRE(f.fs.DropUnsyncedData().ok());
  OpenReport report;
  auto log = f.Open(rp, false, &report);
  REQUIRE(log->log_end_offset() == Offset(30));
  // The snapshots that described lost batches are gone.
  for (Offset o : log->SnapshotOffsets()) CHECK(o <= Offset(30));
  RequireDuplicate(*log, Nth(2), Offset(20));
  for (int i = 3; i < 12; i++) {
    auto info = RequireAppended(*log, Nth(i));
    CHECK(info.first_offset == Offset(10 * i));
  }
  CHECK(ReadAll(*log).size() == 120);
}

TEST_CASE(
    "Idempotence crash: a crash at any step of Close, the snapshot write "
    "included, still recovers the state",
    "[log][idempotence][crash]") {
  // Five durable batches, two not yet flushed; then Close.
  struct Run {
    Fixture f;
    RecoveryPoint rp;
    std::unique_ptr<Log> log;
    Run() {
      f.config.segment_bytes = 1 << 20;
      log = f.Open();
      for (int i = 0; i < 5; i++) RequireAppended(*log, Nth(i));
      REQUIRE(log->Flush().ok());
      rp = log->recovery_point();
      for (int i = 5; i < 7; i++) RequireAppended(*log, Nth(i));
    }
  };
  uint64_t close_ops = 0;
  {
    Run r;
    const uint64_t before = r.f.fs.operations();
    REQUIRE(r.log->Close().ok());
    close_ops = r.f.fs.operations() - before;
    REQUIRE(r.log->SnapshotOffsets() == std::vector<Offset>{Offset(70)});
  }
  REQUIRE(close_ops > 5);  // flush, seal, snapshot tmp, write, sync, rename
  for (uint64_t n = 0; n < close_ops; n++) {
    CAPTURE(n);
    Run r;
    r.f.fs.CrashAfterOperations(n);
    const bool closed = r.log->Close().ok();
    // What LogManager::Close does next, the clean-shutdown marker, needs a
    // machine that is still up.
    const bool clean = closed && !r.f.fs.crashed();
    r.log.reset();
    r.f.fs.Reset();
    REQUIRE(r.f.fs.DropUnsyncedData().ok());
    OpenReport report;
    auto log = r.f.Open(r.rp, clean, &report);
    // A half-written snapshot never survives the open.
    auto names = r.f.fs.ListDir(r.f.dir);
    REQUIRE(names.ok());
    for (const auto& name : *names) {
      CHECK(name.find(".tmp") == std::string::npos);
    }
    const int durable = log->log_end_offset() == Offset(70) ? 7 : 5;
    REQUIRE(log->log_end_offset() == Offset(10 * durable));
    for (int i = durable - 5; i < durable; i++) {
      RequireDuplicate(*log, Nth(i), Offset(10 * i));
    }
    for (int i = durable; i < 8; i++) RequireAppended(*log, Nth(i));
    CHECK(ReadAll(*log).size() == 80);
  }
}

// ------------------------------------------------------------ LogManager

struct ManagerFixture {
  TempDir tmp;
  ManualClock clock;
  LogManagerOptions options;
  std::unique_ptr<LogManager> manager;

  explicit ManagerFixture(int64_t max_ids) {
    options.data_dir = tmp.Sub("data");
    options.default_config.flush_ms = -1;
    options.default_config.segment_bytes = 1 << 20;
    options.log_options = LogOptions(PosixFileSystem(), &clock);
    options.start_flusher = false;
    options.cleaner_enable = false;
    options.max_producer_ids = max_ids;
    options.producer_id_expiration_ms = 10'000;
    Open();
  }
  void Open() {
    auto m = LogManager::Open(options);
    INFO(m.status().ToString());
    REQUIRE(m.ok());
    manager = std::move(*m);
  }
  std::shared_ptr<Log> Get(int partition) {
    auto log = manager->GetOrCreate(TopicPartition{"t", partition});
    REQUIRE(log.ok());
    return *log;
  }
  // One batch of producer `pid` at sequence `seq`, at now + `advance_ms`.
  void Produce(int partition, int64_t pid, int32_t seq,
               int64_t advance_ms = 0) {
    clock.AdvanceMs(advance_ms);
    std::string b = MakeProducerBatch(1, pid, 0, seq);
    auto r = Get(partition)->Append(Bytes(b));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
  }
};

TEST_CASE(
    "Idempotence: producer.id.expiration.ms forgets idle producers, which "
    "then resume as a fresh sequence",
    "[log][idempotence]") {
  ManagerFixture m(1000);
  m.Produce(0, 1, 0);
  m.Produce(1, 2, 0, 6'000);
  CHECK(m.manager->ExpireProducers() == 0);
  m.clock.AdvanceMs(4'000);  // producer 1 idle 10 s, producer 2 4 s
  CHECK(m.manager->ExpireProducers() == 1);
  CHECK(!m.Get(0)->producer(ProducerId(1)).has_value());
  CHECK(m.Get(1)->producer(ProducerId(2)).has_value());
  CHECK(m.manager->producer_count() == 1);
  m.Produce(0, 1, 57);  // not UNKNOWN_PRODUCER_ID, not a gap
  CHECK(m.Get(0)->producer(ProducerId(1))->batches[0].first_sequence == 57);
  // What expired stays expirable after a clean restart: the mark persists.
  m.clock.AdvanceMs(20'000);
  CHECK(m.manager->ExpireProducers() == 2);
  REQUIRE(m.manager->Close().ok());
  m.manager.reset();
  m.Open();
  m.Produce(1, 2, 5);
}

TEST_CASE(
    "Idempotence: max.producer.ids caps producers broker-wide, least recently "
    "used first",
    "[log][idempotence]") {
  ManagerFixture m(4);
  m.Produce(0, 1, 0, 1);
  m.Produce(0, 2, 0, 1);
  m.Produce(1, 3, 0, 1);
  m.Produce(2, 4, 0, 1);
  CHECK(m.manager->producer_count() == 4);
  // Partition 2 has only one producer: inserting another evicts it there.
  m.Produce(2, 5, 0, 1);
  CHECK(m.manager->producer_count() == 4);
  CHECK(!m.Get(2)->producer(ProducerId(4)).has_value());
  // A new partition with nothing to evict overshoots until the sweep,
  // which takes the oldest broker-wide: producer 1 on partition 0.
  m.Produce(3, 6, 0, 1);
  m.Produce(4, 7, 0, 1);
  CHECK(m.manager->producer_count() == 6);
  CHECK(m.manager->ExpireProducers() == 2);
  CHECK(m.manager->producer_count() == 4);
  CHECK(!m.Get(0)->producer(ProducerId(1)).has_value());
  CHECK(!m.Get(0)->producer(ProducerId(2)).has_value());
  CHECK(m.Get(1)->producer(ProducerId(3)).has_value());
  CHECK(m.Get(4)->producer(ProducerId(7)).has_value());
  // Evicted producers come back as fresh sequences.
  m.Produce(0, 1, 1, 1);
}

}  // namespace
}  // namespace fjord::log
