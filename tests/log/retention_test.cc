// Time and size retention: whole sealed segments, oldest first, judged by
// broker append time; crash safety of deletion.
#include <catch2/catch.hpp>
#include <filesystem>

#include "log/fault_injection_file_system.h"
#include "log/log.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::MakeBatch;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

constexpr int64_t kHour = 3600 * 1000;

struct RetentionFixture {
  TempDir tmp;
  ManualClock clock;
  FaultInjectionFileSystem fs{PosixFileSystem()};
  LogOptions options{&fs, &clock};
  LogConfig config;
  std::string dir = tmp.Sub("t-0");

  RetentionFixture() {
    config.segment_bytes = 4 << 10;
    config.segment_index_bytes = 4 << 10;
    config.flush_ms = -1;
    config.retention_ms = 10 * kHour;
  }
  std::unique_ptr<Log> Open(bool clean = false, RecoveryPoint rp = {}) {
    auto log = Log::Open(dir, config, options, rp, clean);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *std::move(log);
  }
  // Appends `n` batches of 10 records ~1 KiB each, one hour apart.
  void Fill(Log& log, int n, int64_t record_ts) {
    for (int i = 0; i < n; i++) {
      MustAppend(log, MakeBatch(10, "v", 80, record_ts));
      clock.AdvanceMs(kHour);
    }
  }
};

TEST_CASE("Retention: segments past retention.ms go oldest first, by broker append time",
          "[log][retention]") {
  RetentionFixture f;
  auto log = f.Open();
  // Producer timestamps ten years ahead must not pin the data.
  const int64_t future = f.clock.NowMs() + 10LL * 365 * 24 * kHour;
  f.Fill(*log, 24, future);
  const int segments = log->segment_count();
  REQUIRE(segments >= 6);
  const Offset end = log->log_end_offset();
  auto deleted = log->ApplyRetention();
  REQUIRE(deleted.ok());
  CHECK(*deleted > 0);
  CHECK(log->segment_count() == segments - *deleted);
  // What remains was appended within the last 10 hours (plus the segment
  // straddling the boundary).
  CHECK(log->log_start_offset() > Offset(0));
  CHECK(log->log_start_offset() >= Offset(10 * (24 - 11 - 3)));
  CHECK(log->log_end_offset() == end);
  // Below the start is out of range; the start itself is readable.
  CHECK(absl::IsOutOfRange(log->Read(Offset(0), 100).status()));
  auto recs = ReadAll(*log);
  REQUIRE(!recs.empty());
  CHECK(recs.front().offset == log->log_start_offset().value());
  CHECK(recs.back().offset == end.value() - 1);
  for (size_t i = 1; i < recs.size(); i++) REQUIRE(recs[i].offset == recs[i - 1].offset + 1);
}

TEST_CASE("Retention: an expired active segment is rolled and deleted, appends continue",
          "[log][retention]") {
  RetentionFixture f;
  f.config.segment_bytes = 1 << 20;
  auto log = f.Open();
  f.Fill(*log, 3, f.clock.NowMs());
  REQUIRE(log->segment_count() == 1);
  f.clock.AdvanceMs(11 * kHour);
  auto deleted = log->ApplyRetention();
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  CHECK(log->log_start_offset() == Offset(30));
  CHECK(log->log_end_offset() == Offset(30));
  MustAppend(*log, MakeBatch(1, "after"));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].offset == 30);
}

TEST_CASE("Retention: retention.bytes keeps the newest segments within the limit",
          "[log][retention]") {
  RetentionFixture f;
  f.config.retention_ms = -1;
  f.config.retention_bytes = 10 << 10;
  auto log = f.Open();
  f.Fill(*log, 40, 1000);
  REQUIRE(log->size_bytes() > (20u << 10));
  auto deleted = log->ApplyRetention();
  REQUIRE(deleted.ok());
  CHECK(*deleted > 0);
  CHECK(log->size_bytes() >= (10u << 10));
  // One more deletion would have gone below the limit.
  CHECK(log->size_bytes() < (10u << 10) + (4u << 10) + 1200);
  CHECK(log->log_end_offset() == Offset(400));
}

TEST_CASE("Retention: -1 limits and cleanup.policy=compact never delete",
          "[log][retention]") {
  RetentionFixture f;
  SECTION("both limits off") {
    f.config.retention_ms = -1;
    f.config.retention_bytes = -1;
  }
  SECTION("compact only") {
    f.config.cleanup_delete = false;
    f.config.cleanup_compact = true;
    f.config.retention_bytes = 1;
  }
  auto log = f.Open();
  f.Fill(*log, 20, 1000);
  f.clock.AdvanceMs(1000 * kHour);
  auto deleted = log->ApplyRetention();
  REQUIRE(deleted.ok());
  CHECK(*deleted == 0);
  CHECK(log->log_start_offset() == Offset(0));
}

TEST_CASE("Retention: a segment's append time survives a restart",
          "[log][retention]") {
  RetentionFixture f;
  {
    auto log = f.Open();
    f.Fill(*log, 20, 1000);
    REQUIRE(log->Close().ok());
  }
  // Reopened six hours later (26 h after the first append, 4 batches per
  // segment an hour apart): the segments last written more than 10 h ago,
  // the first four, have expired; the active one (last append at 19 h) not.
  f.clock.AdvanceMs(6 * kHour);
  {
    auto log = f.Open(/*clean=*/true);
    auto deleted = log->ApplyRetention();
    REQUIRE(deleted.ok());
    CHECK(*deleted == 4);
    CHECK(log->log_start_offset() == Offset(160));
    REQUIRE(log->Close().ok());
  }
  f.clock.AdvanceMs(20 * kHour);
  auto log = f.Open(/*clean=*/true);
  auto deleted = log->ApplyRetention();
  REQUIRE(deleted.ok());
  CHECK(log->log_start_offset() == Offset(200));
}

TEST_CASE("Retention: a crash at any step of a deletion leaves a log without holes",
          "[log][retention][crash]") {
  RetentionFixture f;
  const std::string pristine = f.tmp.Sub("pristine");
  {
    auto log = f.Open();
    f.Fill(*log, 30, 1000);
    REQUIRE(log->Close().ok());
  }
  testing::CopyTree(f.dir, pristine);
  const int64_t end = 300;
  bool completed = false;
  for (uint64_t n = 0; n < 200 && !completed; n++) {
    INFO("crash after " << n << " operations");
    REQUIRE(f.fs.DropUnsyncedData().ok());  // forgets the last round's files
    std::filesystem::remove_all(f.dir);
    testing::CopyTree(pristine, f.dir);
    f.fs.Reset();
    {
      auto log = f.Open(/*clean=*/true);
      f.fs.CrashAfterOperations(n);
      auto deleted = log->ApplyRetention();
      completed = deleted.ok();
    }
    f.fs.Reset();
    REQUIRE(f.fs.DropUnsyncedData().ok());
    auto log = f.Open(/*clean=*/false);
    auto recs = ReadAll(*log);
    REQUIRE(log->log_end_offset() == Offset(end));
    REQUIRE(!recs.empty());
    REQUIRE(recs.front().offset == log->log_start_offset().value());
    for (size_t i = 0; i < recs.size(); i++) {
      REQUIRE(recs[i].offset == log->log_start_offset().value() + static_cast<int64_t>(i));
    }
    REQUIRE(recs.back().offset == end - 1);
    if (completed) CHECK(log->log_start_offset() > Offset(0));
  }
  CHECK(completed);
}

}  // namespace
}  // namespace fjord::log
