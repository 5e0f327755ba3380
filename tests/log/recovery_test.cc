// Crash and fault cases: what a Log and a LogManager recover to after torn
// writes, lost unsynced data, bit flips, missing or corrupt indexes, a crash
// during a roll, and a full disk.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <thread>

#include "log/checkpoint.h"
#include "log/fault_injection_file_system.h"
#include "log/file_names.h"
#include "log/log.h"
#include "log/log_manager.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::Bytes;
using testing::DecodeAll;
using testing::MakeBatch;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

struct CrashFixture {
  TempDir tmp;
  ManualClock clock;
  FaultInjectionFileSystem fs{PosixFileSystem()};
  LogOptions options{&fs, &clock};
  LogConfig config;
  std::string dir = tmp.Sub("t-0");

  CrashFixture() {
    config.segment_bytes = 64 << 10;
    config.segment_index_bytes = 16 << 10;
    config.index_interval_bytes = 512;
    config.flush_ms = -1;
  }
  std::unique_ptr<Log> Open(RecoveryPoint rp, bool clean = false,
                            OpenReport* report = nullptr) {
    auto log = Log::Open(dir, config, options, rp, clean, report);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *std::move(log);
  }
  std::string SegPath(Offset base, std::string_view suffix = ".log") {
    return SegmentFileName(dir, base, suffix);
  }
};

TEST_CASE(
    "Recovery: unsynced writes lost in a crash are dropped back to the last "
    "flush",
    "[log][recovery]") {
  CrashFixture f;
  RecoveryPoint rp;
  {
    auto log = f.Open({});
    for (int i = 0; i < 20; i++) MustAppend(*log, MakeBatch(10, "kept", 100));
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
    for (int i = 0; i < 20; i++) MustAppend(*log, MakeBatch(10, "lost", 100));
  }
  REQUIRE(f.fs.DropUnsyncedData().ok());
  OpenReport report;
  auto log = f.Open(rp, false, &report);
  CHECK(report.recovered);
  CHECK(log->log_end_offset() == Offset(200));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 200);
  for (auto& r : recs) CHECK(r.value.substr(0, 4) == "kept");
  // Appends continue at the next offset.
  MustAppend(*log, MakeBatch(1, "after"));
  CHECK(log->log_end_offset() == Offset(201));
}

TEST_CASE(
    "Recovery: a flush covers the appends made before it, not those made "
    "while it waits for the disk",
    "[log][recovery][flush]") {
  CrashFixture f;
  auto log = f.Open({});
  MustAppend(*log, MakeBatch(3, "before"));
  f.fs.BlockSyncs();
  Offset flushed;
  absl::Status flush_status;
  std::thread flusher([&] { flush_status = log->Flush(&flushed); });
  for (int i = 0; i < 2000 && f.fs.blocked_syncs() == 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(f.fs.blocked_syncs() > 0);
  // The flush waits for the disk without the log's lock: appends and
  // reads go on.
  MustAppend(*log, MakeBatch(2, "during"));
  CHECK(ReadAll(*log).size() == 5);
  f.fs.UnblockSyncs();
  flusher.join();
  REQUIRE(flush_status.ok());
  CHECK(flushed == Offset(3));
  CHECK(log->recovery_point().offset == Offset(3));
  CHECK(log->unflushed_bytes() > 0);
  const RecoveryPoint rp = log->recovery_point();
  log.reset();
  REQUIRE(f.fs.DropUnsyncedData().ok());
  log = f.Open(rp);
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 3);
  CHECK(recs.back().value == "before-2");
}

TEST_CASE("Recovery: a torn tail is truncated to the last whole batch",
          "[log][recovery]") {
  CrashFixture f;
  RecoveryPoint rp;
  std::string batch = MakeBatch(10, "v", 100);
  {
    auto log = f.Open({});
    for (int i = 0; i < 5; i++) MustAppend(*log, batch);
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
    MustAppend(*log, batch);
    f.fs.TearWriteAfter(batch.size() / 2);
    std::string b = batch;
    auto torn = log->Append(Bytes(b));
    CHECK(!torn.ok());
    CHECK(f.fs.crashed());
  }
  f.fs.Reset();
  OpenReport report;
  auto log = f.Open(rp, false, &report);
  // The unflushed but whole sixth batch survives (it reached the file); the
  // torn seventh is cut off.
  CHECK(log->log_end_offset() == Offset(60));
  CHECK(report.bytes_truncated == batch.size() / 2);
  CHECK(ReadAll(*log).size() == 60);
  MustAppend(*log, MakeBatch(3, "next"));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 63);
  CHECK(recs[60].value == "next-0");
}

TEST_CASE(
    "Recovery: garbage after a torn write never resurfaces after later appends",
    "[log][recovery]") {
  CrashFixture f;
  std::string big = MakeBatch(20, "big", 200);
  {
    auto log = f.Open({});
    MustAppend(*log, MakeBatch(2));
    f.fs.TearWriteAfter(big.size() - 10);  // almost all of it
    std::string b = big;
    CHECK(!log->Append(Bytes(b)).ok());
  }
  f.fs.Reset();
  {
    auto log = f.Open({});
    CHECK(log->log_end_offset() == Offset(2));
    MustAppend(*log, MakeBatch(1, "small"));  // shorter than the torn batch
  }
  // Crash again and recover everything from scratch: only 3 records.
  auto log = f.Open({});
  CHECK(log->log_end_offset() == Offset(3));
  CHECK(ReadAll(*log).size() == 3);
}

TEST_CASE(
    "Recovery: a bit flip in unflushed data cuts the log at the corrupt batch",
    "[log][recovery]") {
  CrashFixture f;
  std::string batch = MakeBatch(10, "v", 50);
  {
    auto log = f.Open({});
    for (int i = 0; i < 10; i++) MustAppend(*log, batch);
  }
  // Flip one bit inside the sixth batch's records.
  testing::WriteFileBytes(f.SegPath(Offset(0)), 5 * batch.size() + 100,
                          std::string(1, '\x5a'));
  OpenReport report;
  auto log = f.Open({}, false, &report);
  CHECK(log->log_end_offset() == Offset(50));
  // Counted up to the last non-zero byte of the discarded tail.
  CHECK(report.bytes_truncated > 4 * batch.size());
  CHECK(report.bytes_truncated <= 5 * batch.size());
  CHECK(ReadAll(*log).size() == 50);
}

TEST_CASE(
    "Recovery: a bit flip in flushed data is detected on read and never served",
    "[log][recovery]") {
  CrashFixture f;
  std::string batch = MakeBatch(10, "v", 50);
  {
    auto log = f.Open({});
    for (int i = 0; i < 10; i++) MustAppend(*log, batch);
    REQUIRE(log->Close().ok());
  }
  testing::WriteFileBytes(f.SegPath(Offset(0)), 5 * batch.size() + 100,
                          std::string(1, '\x5a'));
  auto log = f.Open({}, /*clean=*/true);
  CHECK(log->log_end_offset() == Offset(100));  // not scanned on a clean start
  auto corrupt = log->Read(Offset(52), 1 << 20);
  CHECK(absl::IsDataLoss(corrupt.status()));
  CHECK_THAT(std::string(corrupt.status().message()), Catch::Contains("CRC"));
  // Reading from before it stops short of the corrupt batch.
  auto before = log->Read(Offset(0), 1 << 20);
  REQUIRE(before.ok());
  CHECK(DecodeAll(before->bytes).size() == 50);
  // Batches after it are still served.
  auto after = log->Read(Offset(60), 1 << 20);
  REQUIRE(after.ok());
  CHECK(DecodeAll(after->bytes).front().offset == 60);
}

TEST_CASE("Recovery: missing index files are rebuilt", "[log][recovery]") {
  CrashFixture f;
  f.config.segment_bytes = 8 << 10;
  {
    auto log = f.Open({});
    for (int i = 0; i < 40; i++)
      MustAppend(*log, MakeBatch(10, "v", 50, 1000 * i));
    REQUIRE(log->Close().ok());
  }
  auto names = PosixFileSystem()->ListDir(f.dir);
  REQUIRE(names.ok());
  int removed = 0;
  for (const auto& n : *names) {
    auto p = ParseSegmentFileName(n);
    if (p && p->suffix != ".log") {
      std::filesystem::remove(f.dir + "/" + n);
      removed++;
    }
  }
  REQUIRE(removed >= 4);
  auto log = f.Open({}, /*clean=*/true);
  CHECK(ReadAll(*log).size() == 400);
  for (int i = 1; i < 40; i += 7) {
    auto found = log->FindOffsetByTimestamp(1000 * i + 4);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->first == Offset(10 * i + 4));
  }
  CHECK(std::filesystem::exists(f.SegPath(Offset(0), ".index")));
  CHECK(std::filesystem::exists(f.SegPath(Offset(0), ".timeindex")));
}

TEST_CASE("Recovery: corrupt index files are detected and rebuilt",
          "[log][recovery]") {
  CrashFixture f;
  f.config.segment_bytes = 16 << 10;
  f.config.index_interval_bytes = 128;
  {
    auto log = f.Open({});
    for (int i = 0; i < 30; i++)
      MustAppend(*log, MakeBatch(10, "v", 50, 1000 * i));
    REQUIRE(log->Close().ok());
  }
  std::string idx = f.SegPath(Offset(0), ".index");
  uint64_t size = testing::FileSize(idx);
  REQUIRE(size >= 32);
  // Entries pointing at wrong positions and going backwards.
  testing::WriteFileBytes(idx, size - 16,
                          std::string("\x00\x00\x00\x07\x00\x00\x00\x03"
                                      "\xff\xff\x00\x00\x7f\xff\xff\xff",
                                      16));
  std::string tidx = f.SegPath(Offset(0), ".timeindex");
  std::filesystem::resize_file(tidx,
                               testing::FileSize(tidx) - 5);  // torn entry
  auto log = f.Open({}, /*clean=*/true);
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 300);
  for (int i = 0; i < 300; i++) REQUIRE(recs[i].offset == i);
  for (int target : {1, 57, 123, 199, 250, 299}) {
    auto r = log->Read(Offset(target), 1);
    REQUIRE(r.ok());
    auto got = DecodeAll(r->bytes);
    CHECK(got.front().offset <= target);
    CHECK(got.back().offset >= target);
  }
  auto found = log->FindOffsetByTimestamp(5005);
  REQUIRE(found.ok());
  CHECK((*found)->first == Offset(55));
}

TEST_CASE("Recovery: a crash in the middle of a roll recovers every record",
          "[log][recovery]") {
  CrashFixture f;
  f.config.segment_bytes = 8 << 10;
  RecoveryPoint rp;
  Offset second_base(0);
  {
    auto log = f.Open({});
    MustAppend(*log, MakeBatch(5));
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
    while (log->segment_count() < 2) MustAppend(*log, MakeBatch(10, "v", 60));
    second_base = log->log_end_offset();
    // The roll happened before the last append; undo what a finished roll
    // does to the old segment: it is left preallocated and untrimmed, as if
    // the crash came between creating the new segment and sealing the old.
  }
  std::string old_log = f.SegPath(Offset(0));
  std::filesystem::resize_file(old_log, f.config.segment_bytes);
  std::filesystem::resize_file(f.SegPath(Offset(0), ".index"),
                               f.config.segment_index_bytes);
  // And the new segment lost its indexes (created after the .log).
  auto names = PosixFileSystem()->ListDir(f.dir);
  for (const auto& n : *names) {
    auto p = ParseSegmentFileName(n);
    if (p && p->base != Offset(0) && p->suffix != ".log") {
      std::filesystem::remove(f.dir + "/" + n);
    }
  }
  auto log = f.Open(rp);
  CHECK(log->segment_count() == 2);
  CHECK(log->log_end_offset() == second_base);
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == static_cast<size_t>(second_base.value()));
  for (size_t i = 0; i < recs.size(); i++)
    REQUIRE(recs[i].offset == static_cast<int64_t>(i));
  // The old segment was sealed (trimmed) during recovery.
  CHECK(testing::FileSize(old_log) < f.config.segment_bytes);
}

TEST_CASE(
    "Recovery: a full disk fails appends clearly and the log resumes when "
    "space returns",
    "[log][recovery][enospc]") {
  CrashFixture f;
  auto log = f.Open({});
  MustAppend(*log, MakeBatch(10));
  f.fs.SetDiskFull(true);
  std::string b = MakeBatch(10);
  auto full = log->Append(Bytes(b));
  CHECK(absl::IsResourceExhausted(full.status()));
  CHECK_THAT(std::string(full.status().message()),
             Catch::Contains("No space left on device"));
  CHECK(log->log_end_offset() == Offset(10));
  CHECK(ReadAll(*log).size() == 10);  // still readable
  f.fs.SetDiskFull(false);
  MustAppend(*log, MakeBatch(10, "again"));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 20);
  CHECK(recs[10].value == "again-0");
  CHECK(recs[10].offset == 10);
}

TEST_CASE(
    "Recovery: a full disk during a roll keeps the active segment and loses "
    "nothing",
    "[log][recovery][enospc]") {
  CrashFixture f;
  f.config.segment_bytes = 4 << 10;
  auto log = f.Open({});
  MustAppend(*log, MakeBatch(20, "v", 100));  // fills the first segment
  f.fs.SetDiskFull(true);
  std::string b = MakeBatch(20, "v", 100);
  CHECK(absl::IsResourceExhausted(log->Append(Bytes(b)).status()));
  CHECK(log->segment_count() == 1);
  f.fs.SetDiskFull(false);
  MustAppend(*log, MakeBatch(20, "w", 100));
  CHECK(log->segment_count() == 2);
  CHECK(ReadAll(*log).size() == 40);
  log.reset();
  auto reopened = f.Open({});
  CHECK(ReadAll(*reopened).size() == 40);
}

TEST_CASE(
    "Recovery: a failed fsync is reported and does not move the recovery point",
    "[log][recovery]") {
  CrashFixture f;
  auto log = f.Open({});
  MustAppend(*log, MakeBatch(10));
  REQUIRE(log->Flush().ok());
  RecoveryPoint before = log->recovery_point();
  MustAppend(*log, MakeBatch(10));
  f.fs.SetSyncFails(true);
  CHECK(!log->Flush().ok());
  CHECK(log->recovery_point() == before);
  f.fs.SetSyncFails(false);
  REQUIRE(log->Flush().ok());
  CHECK(log->recovery_point().offset == Offset(20));
}

TEST_CASE("Recovery: only data after the recovery point is scanned",
          "[log][recovery]") {
  CrashFixture f;
  f.config.segment_bytes = 64 << 10;
  RecoveryPoint rp;
  uint64_t unflushed = 0;
  {
    auto log = f.Open({});
    for (int i = 0; i < 100; i++) MustAppend(*log, MakeBatch(10, "v", 100));
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();
    for (int i = 0; i < 5; i++) {
      std::string b = MakeBatch(10, "u", 100);
      unflushed += b.size();
      MustAppend(*log, b);
    }
  }
  OpenReport report;
  auto log = f.Open(rp, false, &report);
  CHECK(report.bytes_scanned == unflushed);
  CHECK(report.bytes > 10 * unflushed);
  CHECK(log->log_end_offset() == Offset(1050));
  CHECK(ReadAll(*log).size() == 1050);
}

TEST_CASE("Recovery: random crashes never lose flushed records nor invent any",
          "[log][recovery][crash_loop]") {
  CrashFixture f;
  f.config.segment_bytes = 16 << 10;
  f.config.index_interval_bytes = 256;
  std::mt19937 rng(20261123);
  RecoveryPoint rp;
  std::vector<std::string> durable;  // values known flushed, in order
  for (int round = 0; round < 25; round++) {
    {
      auto log = f.Open(rp);
      auto recs = ReadAll(*log);
      // Everything flushed is there, in order, and anything beyond it is a
      // prefix of what was appended later (never garbage, never a hole).
      REQUIRE(recs.size() >= durable.size());
      for (size_t i = 0; i < durable.size(); i++) {
        REQUIRE(recs[i].value == durable[i]);
        REQUIRE(recs[i].offset == static_cast<int64_t>(i));
      }
      for (size_t i = durable.size(); i < recs.size(); i++) {
        REQUIRE(recs[i].offset == static_cast<int64_t>(i));
        REQUIRE(recs[i].value.substr(0, 1) == "r");
      }
      durable.clear();
      for (auto& r : recs) durable.push_back(r.value);  // recovered = flushed
      rp = log->recovery_point();
      int appends = std::uniform_int_distribution<>(1, 30)(rng);
      std::vector<std::string> pending;
      for (int a = 0; a < appends; a++) {
        int n = std::uniform_int_distribution<>(1, 20)(rng);
        std::string prefix =
            "r" + std::to_string(round) + "." + std::to_string(a);
        std::string b =
            MakeBatch(n, prefix, std::uniform_int_distribution<>(0, 300)(rng));
        if (std::uniform_int_distribution<>(0, 9)(rng) == 0) {
          f.fs.TearWriteAfter(
              std::uniform_int_distribution<size_t>(0, b.size())(rng));
        }
        auto r = log->Append(Bytes(b));
        if (!r.ok()) break;  // the torn write "crashed the machine"
        auto recs_now = DecodeAll(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(b.data()), b.size()));
        for (auto& rec : recs_now) pending.push_back(rec.value);
        if (std::uniform_int_distribution<>(0, 3)(rng) == 0) {
          if (log->Flush().ok()) {
            durable.insert(durable.end(), pending.begin(), pending.end());
            pending.clear();
            rp = log->recovery_point();
          }
        }
      }
    }
    f.fs.Reset();
    REQUIRE(f.fs.DropUnsyncedData().ok());
  }
}

// ------------------------------------------------------------- LogManager

LogManagerOptions ManagerOptions(const std::string& dir, FileSystem* fs,
                                 Clock* clock) {
  LogManagerOptions o;
  o.data_dir = dir;
  o.log_options = LogOptions{fs, clock};
  o.default_config.segment_bytes = 64 << 10;
  o.default_config.segment_index_bytes = 16 << 10;
  o.default_config.flush_ms = -1;
  o.start_flusher = false;
  return o;
}

TEST_CASE(
    "LogManager: a clean close reopens without scanning and keeps everything",
    "[log][manager]") {
  TempDir tmp;
  ManualClock clock;
  auto opts = ManagerOptions(tmp.Sub("data"), PosixFileSystem(), &clock);
  {
    auto m = LogManager::Open(opts);
    REQUIRE(m.ok());
    for (int p = 0; p < 3; p++) {
      auto log = (*m)->GetOrCreate({"orders", p});
      REQUIRE(log.ok());
      for (int i = 0; i < 50; i++) MustAppend(**log, MakeBatch(10, "v", 80));
    }
    REQUIRE((*m)->Close().ok());
  }
  CHECK(std::filesystem::exists(tmp.Sub("data/.clean-shutdown")));
  StartupReport report;
  auto m = LogManager::Open(opts, &report);
  REQUIRE(m.ok());
  CHECK(report.clean_shutdown);
  CHECK(report.logs == 3);
  CHECK(report.bytes_scanned == 0);
  // The marker is gone once the manager is open: a crash now is unclean.
  CHECK(!std::filesystem::exists(tmp.Sub("data/.clean-shutdown")));
  for (int p = 0; p < 3; p++) {
    auto log = (*m)->Get({"orders", p});
    REQUIRE(log != nullptr);
    CHECK(log->log_end_offset() == Offset(500));
    CHECK(ReadAll(*log).size() == 500);
  }
}

TEST_CASE(
    "LogManager: after a crash, recovery starts from the checkpointed recovery "
    "points",
    "[log][manager]") {
  TempDir tmp;
  ManualClock clock;
  FaultInjectionFileSystem fs(PosixFileSystem());
  auto opts = ManagerOptions(tmp.Sub("data"), &fs, &clock);
  {
    auto m = LogManager::Open(opts);
    REQUIRE(m.ok());
    auto log = (*m)->GetOrCreate({"events", 0});
    REQUIRE(log.ok());
    for (int i = 0; i < 100; i++) MustAppend(**log, MakeBatch(10, "d", 100));
    REQUIRE((*m)->FlushAll().ok());
    REQUIRE((*m)->CheckpointRecoveryPoints().ok());
    for (int i = 0; i < 10; i++) MustAppend(**log, MakeBatch(10, "u", 100));
    REQUIRE((*log)->segment_count() == 3);  // the crash comes after a roll
    // Destroyed without Close(): no marker, unflushed data lost.
  }
  REQUIRE(fs.DropUnsyncedData().ok());
  StartupReport report;
  auto m = LogManager::Open(opts, &report);
  REQUIRE(m.ok());
  CHECK(!report.clean_shutdown);
  CHECK(report.checkpoint_found);
  auto log = (*m)->Get({"events", 0});
  REQUIRE(log != nullptr);
  CHECK(log->log_end_offset() == Offset(1000));
  CHECK(report.bytes_scanned == 0);  // the unflushed tail was zeros
  CHECK(log->segment_count() == 2);  // the unflushed segment is dropped
  MustAppend(*log, MakeBatch(1, "after"));
  CHECK(log->log_end_offset() == Offset(1001));
  CHECK(ReadAll(*log).size() == 1001);
}

TEST_CASE("LogManager: a corrupt checkpoint falls back to scanning everything",
          "[log][manager]") {
  TempDir tmp;
  ManualClock clock;
  auto opts = ManagerOptions(tmp.Sub("data"), PosixFileSystem(), &clock);
  {
    auto m = LogManager::Open(opts);
    REQUIRE(m.ok());
    auto log = (*m)->GetOrCreate({"t", 0});
    REQUIRE(log.ok());
    for (int i = 0; i < 20; i++) MustAppend(**log, MakeBatch(10));
    REQUIRE((*m)->Close().ok());
  }
  testing::WriteFileBytes(tmp.Sub("data/recovery-point-checkpoint"), 40, "9");
  StartupReport report;
  auto m = LogManager::Open(opts, &report);
  REQUIRE(m.ok());
  CHECK(!report.clean_shutdown);
  CHECK(report.bytes_scanned > 0);
  CHECK((*m)->Get({"t", 0})->log_end_offset() == Offset(200));
}

TEST_CASE("LogManager: a data directory in use is refused with a clear error",
          "[log][manager]") {
  TempDir tmp;
  ManualClock clock;
  auto opts = ManagerOptions(tmp.Sub("data"), PosixFileSystem(), &clock);
  auto first = LogManager::Open(opts);
  REQUIRE(first.ok());
  auto second = LogManager::Open(opts);
  REQUIRE(!second.ok());
  CHECK(absl::IsFailedPrecondition(second.status()));
  CHECK_THAT(std::string(second.status().message()),
             Catch::Contains("in use by another fjord process"));
  CHECK_THAT(std::string(second.status().message()),
             Catch::Contains(std::to_string(getpid())));
  REQUIRE((*first)->Close().ok());
  auto third = LogManager::Open(opts);
  CHECK(third.ok());
}

TEST_CASE(
    "LogManager: partitions persist, deleted ones are gone, bad names are "
    "refused",
    "[log][manager]") {
  TempDir tmp;
  ManualClock clock;
  auto opts = ManagerOptions(tmp.Sub("data"), PosixFileSystem(), &clock);
  {
    auto m = LogManager::Open(opts);
    REQUIRE(m.ok());
    REQUIRE((*m)->GetOrCreate({"keep-me", 0}).ok());
    REQUIRE((*m)->GetOrCreate({"keep-me", 1}).ok());
    REQUIRE((*m)->GetOrCreate({"drop", 0}).ok());
    CHECK(absl::IsInvalidArgument((*m)->GetOrCreate({"bad/name", 0}).status()));
    CHECK(absl::IsInvalidArgument((*m)->GetOrCreate({"ok", -1}).status()));
    REQUIRE((*m)->Delete({"drop", 0}).ok());
    CHECK(absl::IsNotFound((*m)->Delete({"drop", 0})));
    CHECK(!std::filesystem::exists(tmp.Sub("data/drop-0")));
    REQUIRE((*m)->Close().ok());
  }
  // A half-deleted directory left by a crash is cleaned up at start.
  std::filesystem::create_directories(tmp.Sub("data/zombie-0.123.deleted"));
  auto m = LogManager::Open(opts);
  REQUIRE(m.ok());
  auto list = (*m)->List();
  REQUIRE(list.size() == 2);
  CHECK(list[0] == TopicPartition{"keep-me", 0});
  CHECK(list[1] == TopicPartition{"keep-me", 1});
  CHECK(!std::filesystem::exists(tmp.Sub("data/zombie-0.123.deleted")));
}

TEST_CASE("LogManager: the flusher applies flush.ms in the background",
          "[log][manager]") {
  TempDir tmp;
  auto opts =
      ManagerOptions(tmp.Sub("data"), PosixFileSystem(), SystemClock::Get());
  opts.default_config.flush_ms = 50;
  opts.flush_check_interval_ms = 10;
  opts.start_flusher = true;
  auto m = LogManager::Open(opts);
  REQUIRE(m.ok());
  auto log = (*m)->GetOrCreate({"t", 0});
  REQUIRE(log.ok());
  MustAppend(**log, MakeBatch(10));
  // Bounded wait: the flusher runs every 10 ms and flushes after 50 ms.
  for (int i = 0; i < 300 && (*log)->unflushed_bytes() > 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK((*log)->unflushed_bytes() == 0);
  CHECK((*log)->recovery_point().offset == Offset(10));
}

}  // namespace
}  // namespace fjord::log
