// Regression tests for bugs found in review of the storage engine: each
// case failed before its fix.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "log/cleaner.h"
#include "log/fault_injection_file_system.h"
#include "log/file_names.h"
#include "log/log.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::Bytes;
using testing::MakeBatch;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

LogConfig SmallConfig() {
  LogConfig c;
  c.segment_bytes = 1 << 20;
  c.segment_index_bytes = 4096;
  c.index_interval_bytes = 256;
  c.flush_ms = -1;
  c.segment_ms = -1;
  c.retention_ms = -1;
  return c;
}

std::unique_ptr<Log> MustOpen(const std::string& dir, const LogConfig& c,
                              const LogOptions& o, RecoveryPoint rp,
                              bool clean) {
  auto log = Log::Open(dir, c, o, rp, clean);
  INFO(log.status().ToString());
  REQUIRE(log.ok());
  return *std::move(log);
}

TEST_CASE("Regression: bytes handed to a reader survive a truncation and a roll (no SIGBUS)",
          "[log][regression]") {
  TempDir d;
  auto log = MustOpen(d.path(), SmallConfig(), {}, {}, false);
  for (int i = 0; i < 40; i++) MustAppend(*log, MakeBatch(1, "v", 10000));
  auto r = log->Read(Offset(0), 1 << 30);
  REQUIRE(r.ok());
  REQUIRE(r->bytes.size() > 300000);
  REQUIRE(log->Truncate(Offset(1)).ok());
  REQUIRE(log->Roll().ok());
  pid_t pid = fork();
  if (pid == 0) {
    volatile uint8_t x = r->bytes[r->bytes.size() - 1];
    (void)x;
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(!WIFSIGNALED(st));
  // And the log still reopens cleanly with the one record.
  REQUIRE(log->Close().ok());
  log = MustOpen(d.path(), SmallConfig(), {}, {}, true);
  CHECK(ReadAll(*log).size() == 1);
}

TEST_CASE("Regression: a write that fails partway (disk full) leaves nothing to recover",
          "[log][regression]") {
  TempDir d;
  FaultInjectionFileSystem fs(PosixFileSystem());
  LogOptions o;
  o.fs = &fs;
  for (bool preallocate : {true, false}) {
    INFO("preallocate=" << preallocate);
    std::string dir = d.Sub(preallocate ? "p-0" : "n-0");
    LogConfig c = SmallConfig();
    c.preallocate = preallocate;
    RecoveryPoint rp;
    {
      auto log = MustOpen(dir, c, o, {}, false);
      MustAppend(*log, MakeBatch(1, "a", 100));
      REQUIRE(log->Flush().ok());
      rp = log->recovery_point();
      std::string two = MakeBatch(1, "b", 100) + MakeBatch(1, "c", 100);
      fs.FailWriteAfter(MakeBatch(1, "b", 100).size() + 30);
      auto s = log->Append(Bytes(two));
      REQUIRE(absl::IsResourceExhausted(s.status()));
      CHECK(log->log_end_offset() == Offset(1));
      // Process dies here; the page cache (and so the file) survives.
    }
    auto log = MustOpen(dir, c, o, rp, false);
    CHECK(log->log_end_offset() == Offset(1));
    MustAppend(*log, MakeBatch(1, "d", 100));
    REQUIRE(log->Roll().ok());
    REQUIRE(log->Close().ok());
    auto again = MustOpen(dir, c, o, {}, true);
    auto recs = ReadAll(*again);
    REQUIRE(recs.size() == 2);
    CHECK(recs[1].value.substr(0, 3) == "d-0");
  }
}

TEST_CASE("Regression: a missing time index is rebuilt from the start of the segment",
          "[log][regression]") {
  TempDir d;
  LogConfig c = SmallConfig();
  {
    auto log = MustOpen(d.path(), c, {}, {}, false);
    MustAppend(*log, MakeBatch(1, "big", 100, 900000));
    for (int i = 0; i < 50; i++) MustAppend(*log, MakeBatch(1, "s", 100, 1000 + i));
    REQUIRE(log->Roll().ok());
    MustAppend(*log, MakeBatch(1, "s", 100, 2000));
    REQUIRE(log->Close().ok());
  }
  std::filesystem::remove(SegmentFileName(d.path(), Offset(0), kTimeIndexSuffix));
  auto log = MustOpen(d.path(), c, {}, {}, true);
  auto f = log->FindOffsetByTimestamp(900000);
  REQUIRE(f.ok());
  REQUIRE(f->has_value());
  CHECK((*f)->first == Offset(0));
}

TEST_CASE("Regression: a flushed segment cut by corruption keeps later segments; reads skip the hole",
          "[log][regression]") {
  TempDir d;
  LogConfig c = SmallConfig();
  {
    auto log = MustOpen(d.path(), c, {}, {}, false);
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "a", 100));
    REQUIRE(log->Roll().ok());
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "b", 100));
    REQUIRE(log->Close().ok());
  }
  // A trusted segment is not rescanned at open (restart time must not
  // depend on total data), but the walk from its last index entry to its
  // end is checked: corrupt the last batch, which that walk reads.
  const uint64_t bs = MakeBatch(1, "a", 100).size();
  testing::WriteFileBytes(SegmentFileName(d.path(), Offset(0), kLogSuffix),
                          9 * bs + 16, std::string(1, '\x07'));  // bad magic
  auto log = MustOpen(d.path(), c, {}, {}, true);
  CHECK(log->segment_count() == 2);
  CHECK(log->log_end_offset() == Offset(20));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 19);
  CHECK(recs[8].offset == 8);
  CHECK(recs[9].offset == 10);  // offset 9 was lost to the corruption
}

TEST_CASE("Regression: corruption inside a trusted segment is refused on read",
          "[log][regression]") {
  // Batches with equal timestamps leave the time index with one entry; a
  // clean open must still trust the indexes rather than walk the segment,
  // and a corrupt batch in the middle is then caught by its CRC on read.
  TempDir d;
  LogConfig c = SmallConfig();
  {
    auto log = MustOpen(d.path(), c, {}, {}, false);
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "a", 100));
    REQUIRE(log->Close().ok());
  }
  const uint64_t bs = MakeBatch(1, "a", 100).size();
  testing::WriteFileBytes(SegmentFileName(d.path(), Offset(0), kLogSuffix),
                          5 * bs + 70, std::string(1, '\x01'));  // a record
  auto log = MustOpen(d.path(), c, {}, {}, true);
  CHECK(log->log_end_offset() == Offset(10));
  auto before = log->Read(Offset(4), 1);
  REQUIRE(before.ok());
  CHECK(before->next_offset == Offset(5));
  auto bad = log->Read(Offset(5), 1 << 20);
  CHECK(absl::IsDataLoss(bad.status()));
}

TEST_CASE("Regression: a checkpoint naming a truncated-away segment does not vouch for the one before it",
          "[log][regression]") {
  TempDir d;
  FaultInjectionFileSystem fs(PosixFileSystem());
  LogOptions o;
  o.fs = &fs;
  LogConfig c = SmallConfig();
  RecoveryPoint rp;
  {
    auto log = MustOpen(d.path(), c, o, {}, false);
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "a", 100));
    REQUIRE(log->Roll().ok());
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "b", 100));
    REQUIRE(log->Flush().ok());
    rp = log->recovery_point();  // in segment 10
    REQUIRE(log->Truncate(Offset(5)).ok());
    fs.TearWriteAfter(100);
    std::string b = MakeBatch(1, "x", 500);
    REQUIRE(!log->Append(Bytes(b)).ok());
  }
  fs.Reset();
  auto log = MustOpen(d.path(), c, o, rp, false);
  CHECK(log->log_end_offset() == Offset(5));
  CHECK(ReadAll(*log).size() == 5);
}

// Runs a callback when the cleaner starts writing its output (after it has
// read the segments), then crashes the "machine" at the next directory sync.
struct HookFs : FileSystem {
  FileSystem* b = PosixFileSystem();
  std::function<void()> on_cleaned;
  bool armed = false, crashed = false;
  absl::Status C() {
    return crashed ? absl::UnavailableError("crashed") : absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& p,
                                             OpenMode m) override {
    if (m != OpenMode::kReadOnly && m != OpenMode::kReadWrite && crashed) {
      return C();
    }
    if (p.ends_with(".log.cleaned") && on_cleaned) {
      auto cb = on_cleaned;
      on_cleaned = nullptr;
      cb();
      armed = true;
    }
    return b->Open(p, m);
  }
  absl::Status Rename(const std::string& f, const std::string& t) override {
    if (crashed) return C();
    return b->Rename(f, t);
  }
  absl::Status Remove(const std::string& p) override {
    if (crashed) return C();
    return b->Remove(p);
  }
  absl::Status RemoveAll(const std::string& p) override { return b->RemoveAll(p); }
  absl::Status CreateDir(const std::string& p) override { return b->CreateDir(p); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& d) override {
    return b->ListDir(d);
  }
  bool Exists(const std::string& p) override { return b->Exists(p); }
  bool IsDirectory(const std::string& p) override { return b->IsDirectory(p); }
  absl::Status SyncDir(const std::string& d) override {
    if (crashed) return C();
    auto s = b->SyncDir(d);
    if (armed) crashed = true;
    return s;
  }
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& p) override {
    return b->Lock(p);
  }
};

TEST_CASE("Regression: the cleaner commits only segments still intact under the log lock",
          "[log][regression][cleaner]") {
  TempDir d;
  LogConfig c = SmallConfig();
  c.cleanup_compact = true;
  c.cleanup_delete = false;
  HookFs fs;
  LogOptions o;
  o.fs = &fs;
  RecoveryPoint rp;
  bool hook_ran = false;
  {
    auto log = MustOpen(d.path(), c, o, {}, false);
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "old0", 10));
    REQUIRE(log->Roll().ok());
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(1, "old1", 10));
    REQUIRE(log->Roll().ok());
    MustAppend(*log, MakeBatch(1, "old2", 10));
    // While the cleaner writes its output from what it read, the log is
    // truncated into those segments and refilled, and flushed.
    Log* lp = log.get();
    fs.on_cleaned = [&] {
      hook_ran = true;
      REQUIRE(lp->Truncate(Offset(15)).ok());
      for (int i = 0; i < 3; i++) MustAppend(*lp, MakeBatch(1, "NEW", 10));
      REQUIRE(lp->Flush().ok());
      rp = lp->recovery_point();
    };
    Cleaner cl(CleanerOptions{}, SystemClock::Get(), &fs);
    auto r = cl.Clean(*log, Offset(0));
    REQUIRE(hook_ran);
    CHECK(!r.ok());  // refused (or crashed), never committed
    auto all = ReadAll(*log);
    REQUIRE(all.back().value.rfind("NEW", 0) == 0);
  }
  auto log = MustOpen(d.path(), c, LogOptions{}, rp, false);
  auto all = ReadAll(*log);
  REQUIRE(!all.empty());
  CHECK(all.back().value.rfind("NEW", 0) == 0);
  CHECK(log->log_end_offset() == Offset(18));
}

}  // namespace
}  // namespace fjord::log
