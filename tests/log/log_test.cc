// Behaviour of one partition Log: offsets, reads, rolls, lookups, truncation.
#include "log/log.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "log/file_names.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::Bytes;
using testing::DecodeAll;
using testing::MakeBatch;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

struct Fixture {
  TempDir tmp;
  ManualClock clock;
  LogOptions options{PosixFileSystem(), &clock};
  LogConfig config;
  std::string dir = tmp.Sub("t-0");

  Fixture() {
    config.segment_bytes = 1 << 20;
    config.segment_index_bytes = 64 << 10;
    config.flush_ms = -1;
  }
  std::unique_ptr<Log> Open(bool clean = false, RecoveryPoint rp = {}) {
    auto log = Log::Open(dir, config, options, rp, clean);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *std::move(log);
  }
};

TEST_CASE(
    "Log: appended batches get consecutive offsets and read back byte for byte",
    "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  std::vector<std::string> sent;
  for (int b = 0; b < 3; b++) {
    std::string batch = MakeBatch(10, "b" + std::to_string(b));
    sent.push_back(batch);
    AppendInfo info = MustAppend(*log, batch);
    CHECK(info.first_offset == Offset(b * 10));
    CHECK(info.last_offset == Offset(b * 10 + 9));
  }
  CHECK(log->log_start_offset() == Offset(0));
  CHECK(log->log_end_offset() == Offset(30));

  auto r = log->Read(Offset(0), 1 << 20);
  REQUIRE(r.ok());
  // On disk is exactly what was sent, but for the stamped base offset.
  std::string expected;
  for (int b = 0; b < 3; b++) {
    std::string s = sent[b];
    StampBaseOffset(Bytes(s), Offset(b * 10));
    expected += s;
  }
  REQUIRE(r->bytes.size() == expected.size());
  CHECK(std::memcmp(r->bytes.data(), expected.data(), expected.size()) == 0);
  auto recs = DecodeAll(r->bytes);
  REQUIRE(recs.size() == 30);
  for (int i = 0; i < 30; i++) {
    CHECK(recs[i].offset == i);
    CHECK(recs[i].value ==
          "b" + std::to_string(i / 10) + "-" + std::to_string(i % 10));
  }
}

TEST_CASE(
    "Log: a read from inside a batch returns the whole batch containing it",
    "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(10));
  MustAppend(*log, MakeBatch(10));
  auto r = log->Read(Offset(15), 1);
  REQUIRE(r.ok());
  auto recs = DecodeAll(r->bytes);
  REQUIRE(recs.size() == 10);
  CHECK(recs.front().offset == 10);
  CHECK(r->next_offset == Offset(20));
}

TEST_CASE(
    "Log: a read returns at least one whole batch even when it exceeds "
    "max_bytes",
    "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(50, "v", 100));
  MustAppend(*log, MakeBatch(50, "v", 100));
  auto r = log->Read(Offset(0), 10);
  REQUIRE(r.ok());
  CHECK(DecodeAll(r->bytes).size() == 50);
  auto both = log->Read(Offset(0), 1 << 20);
  REQUIRE(both.ok());
  CHECK(DecodeAll(both->bytes).size() == 100);
}

TEST_CASE("Log: a read stops before batches at or past max_offset",
          "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(5));
  MustAppend(*log, MakeBatch(5));
  auto r = log->Read(Offset(0), 1 << 20, Offset(5));
  REQUIRE(r.ok());
  CHECK(DecodeAll(r->bytes).size() == 5);
  auto none = log->Read(Offset(5), 1 << 20, Offset(5));
  REQUIRE(none.ok());
  CHECK(none->bytes.empty());
  // A batch straddling the limit is held back whole.
  auto partial = log->Read(Offset(5), 1 << 20, Offset(7));
  REQUIRE(partial.ok());
  CHECK(partial->bytes.empty());
}

TEST_CASE(
    "Log: reads outside the log are OutOfRange and a read at the end is empty",
    "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(3));
  auto past = log->Read(Offset(4), 100);
  CHECK(absl::IsOutOfRange(past.status()));
  auto neg = log->Read(Offset(-1), 100);
  CHECK(absl::IsOutOfRange(neg.status()));
  auto end = log->Read(Offset(3), 100);
  REQUIRE(end.ok());
  CHECK(end->bytes.empty());
  CHECK(end->log_end_offset == Offset(3));
}

TEST_CASE("Log: invalid record sets are refused and leave the log unchanged",
          "[log][log_basic]") {
  Fixture f;
  f.config.max_message_bytes = 4096;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(2));

  std::string bad_crc = MakeBatch(2);
  bad_crc[bad_crc.size() - 1] ^= 0x01;
  CHECK(absl::IsDataLoss(log->Append(Bytes(bad_crc)).status()));

  std::string truncated = MakeBatch(2);
  truncated.resize(truncated.size() - 3);
  CHECK(!log->Append(Bytes(truncated)).ok());

  std::string big = MakeBatch(10, "v", 1000);
  auto too_big = log->Append(Bytes(big));
  CHECK(absl::IsInvalidArgument(too_big.status()));
  CHECK_THAT(std::string(too_big.status().message()),
             Catch::Contains("max.message.bytes"));

  std::string empty;
  CHECK(absl::IsInvalidArgument(log->Append(Bytes(empty)).status()));

  // A valid batch followed by a corrupt one: all or nothing.
  std::string mixed = MakeBatch(2) + bad_crc;
  CHECK(!log->Append(Bytes(mixed)).ok());

  CHECK(log->log_end_offset() == Offset(2));
  MustAppend(*log, MakeBatch(2));
  CHECK(ReadAll(*log).size() == 4);
}

TEST_CASE("Log: several batches in one append are all assigned offsets",
          "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  std::string set = MakeBatch(3) + MakeBatch(4) + MakeBatch(5);
  AppendInfo info = MustAppend(*log, set);
  CHECK(info.batches == 3);
  CHECK(info.first_offset == Offset(0));
  CHECK(info.last_offset == Offset(11));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 12);
  for (int i = 0; i < 12; i++) CHECK(recs[i].offset == i);
}

TEST_CASE("Log: compressed batches of every codec count offsets by record",
          "[log][log_basic]") {
  Fixture f;
  auto log = f.Open();
  int total = 0;
  for (Codec c : {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4,
                  Codec::kZstd}) {
    MustAppend(*log, MakeBatch(20, std::string(CodecName(c)), 64, 1000, c));
    total += 20;
  }
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == static_cast<size_t>(total));
  CHECK(recs[20].value.substr(0, 7) == "gzip-0x");
  CHECK(recs[99].offset == 99);
}

TEST_CASE(
    "Log: the active segment reserves disk in 16 MiB steps, not a whole "
    "segment",
    "[log][roll]") {
  Fixture f;
  f.config.segment_bytes = 64 << 20;
  f.config.preallocate = true;
  const std::string file = SegmentFileName(f.dir, Offset(0), kLogSuffix);
  constexpr uint64_t kStep = 16 << 20;
  int appended = 0;
  {
    auto log = f.Open();
    CHECK(testing::FileSize(file) == kStep);
    // Batches of a little over 512 KiB: the 32nd crosses the first step.
    std::string big(512 << 10, 'x');
    std::string batch = MakeBatch(1, big, 1000);
    while (testing::FileSize(file) == kStep) {
      MustAppend(*log, batch);
      appended++;
    }
    CHECK(appended == static_cast<int>(kStep / batch.size()) + 1);
    CHECK(testing::FileSize(file) == 2 * kStep);
    CHECK(log->log_end_offset() == Offset(appended));
    REQUIRE(log->Close().ok());
  }
  // Sealed at close: trimmed to its data; reopened active: a step again.
  auto log = f.Open(/*clean=*/true);
  CHECK(testing::FileSize(file) > kStep);
  CHECK(testing::FileSize(file) <= 2 * kStep);
  CHECK(ReadAll(*log).size() == static_cast<size_t>(appended));
}

TEST_CASE("Log: segments roll on segment.bytes and reads continue across them",
          "[log][roll]") {
  Fixture f;
  f.config.segment_bytes = 8 << 10;
  auto log = f.Open();
  for (int i = 0; i < 60; i++) MustAppend(*log, MakeBatch(10, "v", 50));
  CHECK(log->segment_count() >= 5);
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 600);
  for (int i = 0; i < 600; i++) REQUIRE(recs[i].offset == i);
  // Sealed segments are trimmed to their contents; only the active one is
  // preallocated.
  auto names = PosixFileSystem()->ListDir(f.dir);
  REQUIRE(names.ok());
  Offset active_base(0);
  for (const auto& n : *names) {
    auto p = ParseSegmentFileName(n);
    if (p && p->base > active_base) active_base = p->base;
  }
  for (const auto& n : *names) {
    auto p = ParseSegmentFileName(n);
    if (p && p->suffix == ".log" && p->base != active_base) {
      CHECK(testing::FileSize(f.dir + "/" + n) <= (8u << 10));
    }
  }
}

TEST_CASE(
    "Log: a batch larger than segment.bytes goes into a segment of its own",
    "[log][roll]") {
  Fixture f;
  f.config.segment_bytes = 4 << 10;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(2));
  MustAppend(*log, MakeBatch(20, "big", 1000));
  MustAppend(*log, MakeBatch(2));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 24);
  CHECK(recs[2].value.substr(0, 5) == "big-0");
}

TEST_CASE("Log: segments roll on segment.ms", "[log][roll]") {
  Fixture f;
  f.config.segment_ms = 60'000;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(1));
  f.clock.AdvanceMs(30'000);
  MustAppend(*log, MakeBatch(1));
  CHECK(log->segment_count() == 1);
  f.clock.AdvanceMs(30'001);
  MustAppend(*log, MakeBatch(1));
  CHECK(log->segment_count() == 2);
  CHECK(ReadAll(*log).size() == 3);
}

TEST_CASE("Log: segments roll when an index is full", "[log][roll]") {
  Fixture f;
  f.config.segment_index_bytes = 24;  // three offset-index entries
  f.config.index_interval_bytes = 1;
  auto log = f.Open();
  for (int i = 0; i < 20; i++) MustAppend(*log, MakeBatch(1));
  CHECK(log->segment_count() > 3);
  CHECK(ReadAll(*log).size() == 20);
}

TEST_CASE(
    "Log: FindOffsetByTimestamp returns the first record at or after a time",
    "[log][timestamp]") {
  Fixture f;
  f.config.segment_bytes = 4 << 10;
  f.config.index_interval_bytes = 256;
  auto log = f.Open();
  // Batch b holds timestamps 1000*b + 0..9, but batch 5 goes back in time.
  for (int b = 0; b < 40; b++) {
    int64_t ts0 = b == 5 ? 100 : 1000 * b;
    MustAppend(*log, MakeBatch(10, "v", 20, ts0));
  }
  REQUIRE(log->segment_count() > 2);
  for (int b = 1; b < 40; b++) {
    if (b == 5) continue;
    auto found = log->FindOffsetByTimestamp(1000 * b + 3);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->first == Offset(10 * b + 3));
    CHECK((*found)->second == 1000 * b + 3);
  }
  // 4005 falls after batch 4's records; batch 5 is older; batch 6 is first.
  auto gap = log->FindOffsetByTimestamp(4500);
  REQUIRE(gap.ok());
  CHECK((*gap)->first == Offset(60));
  auto earliest = log->FindOffsetByTimestamp(0);
  REQUIRE(earliest.ok());
  CHECK((*earliest)->first == Offset(0));
  auto none = log->FindOffsetByTimestamp(1'000'000);
  REQUIRE(none.ok());
  CHECK(!none->has_value());
}

TEST_CASE("Log: truncation removes batches from an offset on, across segments",
          "[log][truncate]") {
  Fixture f;
  f.config.segment_bytes = 4 << 10;
  auto log = f.Open();
  for (int i = 0; i < 50; i++) MustAppend(*log, MakeBatch(10, "v", 30));
  int segments_before = log->segment_count();
  // 123 is inside the batch [120, 129]: the whole batch goes.
  auto end = log->Truncate(Offset(123));
  REQUIRE(end.ok());
  CHECK(*end == Offset(120));
  CHECK(log->log_end_offset() == Offset(120));
  CHECK(log->segment_count() < segments_before);
  MustAppend(*log, MakeBatch(10, "new"));
  auto recs = ReadAll(*log);
  REQUIRE(recs.size() == 130);
  CHECK(recs[120].value == "new-0");
  CHECK(recs[119].value.substr(0, 4) == "v-9x");
}

TEST_CASE("Log: truncated batches do not come back after a crash",
          "[log][truncate]") {
  Fixture f;
  RecoveryPoint rp;
  {
    auto log = f.Open();
    for (int i = 0; i < 10; i++) MustAppend(*log, MakeBatch(10));
    REQUIRE(log->Flush().ok());
    REQUIRE(log->Truncate(Offset(50)).ok());
    rp = log->recovery_point();
    // Dropped without Close: a crash.
  }
  auto log = f.Open(false, rp);
  CHECK(log->log_end_offset() == Offset(50));
  // Even recovering from scratch the truncated tail stays gone.
  log.reset();
  auto again = f.Open(false, RecoveryPoint{});
  CHECK(again->log_end_offset() == Offset(50));
}

TEST_CASE(
    "Log: bytes handed to a reader stay valid after their segment is deleted",
    "[log][truncate]") {
  Fixture f;
  f.config.segment_bytes = 2 << 10;
  auto log = f.Open();
  for (int i = 0; i < 20; i++) MustAppend(*log, MakeBatch(10, "v", 20));
  auto r = log->Read(Offset(150), 1 << 20);
  REQUIRE(r.ok());
  auto before = DecodeAll(r->bytes);
  REQUIRE(log->Truncate(Offset(10)).ok());
  auto after = DecodeAll(r->bytes);
  CHECK(before.size() == after.size());
  CHECK(after.front().offset <= 150);
}

TEST_CASE("Log: a reader sees every record, in order, while a writer appends",
          "[log][concurrency]") {
  Fixture f;
  f.config.segment_bytes = 64 << 10;
  auto log = f.Open();
  constexpr int kBatches = 400;
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    for (int i = 0; i < kBatches && !failed; i++) {
      std::string b = MakeBatch(5, "w" + std::to_string(i), 40);
      if (!log->Append(Bytes(b)).ok()) failed = true;
    }
  });
  int64_t next = 0;
  std::string scratch;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (next < kBatches * 5 && !failed &&
         std::chrono::steady_clock::now() < deadline) {
    auto r = log->Read(Offset(next), 16 << 10);
    REQUIRE(r.ok());
    if (r->bytes.empty()) {
      std::this_thread::yield();
      continue;
    }
    for (auto& rec : DecodeAll(r->bytes)) {
      if (rec.offset < next) continue;
      REQUIRE(rec.offset == next);
      REQUIRE(rec.value.substr(0, rec.value.find('-')) ==
              "w" + std::to_string(next / 5));
      next++;
    }
  }
  writer.join();
  CHECK(!failed);
  CHECK(next == kBatches * 5);
}

}  // namespace
}  // namespace fjord::log
