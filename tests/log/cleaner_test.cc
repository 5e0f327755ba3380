// Log compaction: latest value per key at its original offset, tombstones
// and their delete horizon, codecs, producer batches, bounded memory,
// concurrency with appends and reads, and crashes at every step of a pass.
#include "log/cleaner.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "log/fault_injection_file_system.h"
#include "log/log_manager.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::Bytes;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

constexpr int64_t kHour = 3600 * 1000;

struct Rec {
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
};

std::string KeyedBatch(const std::vector<Rec>& recs, int64_t ts,
                       Codec codec = Codec::kNone, int64_t producer_id = -1,
                       int32_t base_sequence = -1) {
  BatchOptions o;
  o.codec = codec;
  o.producer_id = producer_id;
  o.producer_epoch = producer_id >= 0 ? 0 : -1;
  o.base_sequence = base_sequence;
  BatchBuilder b(o);
  for (const auto& r : recs) {
    RecordInput in;
    in.key = r.key;
    if (r.value) in.value = *r.value;
    in.timestamp = ts;
    b.Add(in);
  }
  auto batch = b.Build();
  REQUIRE(batch.ok());
  return *batch;
}

// Every record in the log, keys and nullable values, via the read path.
struct Seen {
  int64_t offset;
  std::string key;
  std::optional<std::string> value;
};
std::vector<Seen> ReadKeyed(const Log& log) {
  std::vector<Seen> out;
  Offset next = log.log_start_offset();
  std::string scratch;
  while (next < log.log_end_offset()) {
    auto r = log.Read(next, 1 << 20);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(r->next_offset > next);
    absl::Status s = ForEachBatch(
        r->bytes, [&](const BatchHeader&, std::span<const uint8_t> batch) {
          std::vector<Record> recs;
          absl::Status d = DecodeRecords(batch, &scratch, &recs);
          if (!d.ok()) return d;
          for (const auto& rec : recs) {
            if (rec.offset < next) continue;
            out.push_back({rec.offset.value(), std::string(*rec.key),
                           rec.value ? std::optional<std::string>(*rec.value)
                                     : std::nullopt});
          }
          return absl::OkStatus();
        });
    REQUIRE(s.ok());
    next = r->next_offset;
  }
  return out;
}

struct CleanerFixture {
  TempDir tmp;
  ManualClock clock;
  FaultInjectionFileSystem fs{PosixFileSystem()};
  LogOptions options{&fs, &clock};
  LogConfig config;
  CleanerOptions cleaner_options;
  std::string dir = tmp.Sub("t-0");
  // What was appended at each offset, to check offsets are kept.
  std::map<int64_t, Rec> appended;

  CleanerFixture() {
    config.segment_bytes = 8 << 10;
    config.segment_index_bytes = 4 << 10;
    config.flush_ms = -1;
    config.cleanup_compact = true;
    config.cleanup_delete = false;
    config.delete_retention_ms = 24 * kHour;
  }
  std::unique_ptr<Log> Open(bool clean = false) {
    auto log = Log::Open(dir, config, options, {}, clean);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *std::move(log);
  }
  void Append(Log& log, const std::vector<Rec>& recs, Codec codec = Codec::kNone,
              int64_t producer_id = -1, int32_t seq = -1) {
    auto info = MustAppend(log, KeyedBatch(recs, clock.NowMs(), codec,
                                           producer_id, seq));
    for (size_t i = 0; i < recs.size(); i++) {
      appended[info.first_offset.value() + static_cast<int64_t>(i)] = recs[i];
    }
  }
  // `rounds` updates of keys k0..k<keys-1>, in batches of 10.
  void Updates(Log& log, int keys, int rounds, Codec codec = Codec::kNone,
               int first_key = 0) {
    for (int r = 0; r < rounds; r++) {
      std::vector<Rec> batch;
      for (int k = first_key; k < first_key + keys; k++) {
        batch.push_back({"k" + std::to_string(k),
                         "r" + std::to_string(r) + "-" + std::string(40, 'x')});
        if (batch.size() == 10) {
          Append(log, batch, codec);
          batch.clear();
        }
      }
      if (!batch.empty()) Append(log, batch, codec);
    }
  }
  absl::StatusOr<CleanResult> Clean(Log& log, Offset first_dirty) {
    Cleaner cleaner(cleaner_options, &clock, &fs);
    return cleaner.Clean(log, first_dirty);
  }
};

// Checks the compaction contract over what the log returns: offsets
// strictly increase and hold what was appended there; below `cleaned_end`
// each key appears at most once and only at its latest offset; every key's
// latest record overall is present.
void CheckCompacted(const std::vector<Seen>& seen,
                    const std::map<int64_t, Rec>& appended,
                    int64_t cleaned_end, bool tombstones_gone) {
  std::map<std::string, int64_t> latest;
  for (const auto& [off, r] : appended) latest[r.key] = off;
  std::map<std::string, int> count_below;
  for (size_t i = 0; i < seen.size(); i++) {
    const Seen& s = seen[i];
    if (i > 0) REQUIRE(s.offset > seen[i - 1].offset);
    auto it = appended.find(s.offset);
    REQUIRE(it != appended.end());
    REQUIRE(it->second.key == s.key);
    REQUIRE(it->second.value == s.value);
    if (s.offset < cleaned_end) {
      REQUIRE(latest[s.key] == s.offset);
      REQUIRE(++count_below[s.key] == 1);
      if (tombstones_gone) REQUIRE(s.value.has_value());
    }
  }
  for (const auto& [key, off] : latest) {
    const Rec& r = appended.at(off);
    bool present = std::any_of(seen.begin(), seen.end(),
                               [&](const Seen& s) { return s.offset == off; });
    if (r.value || !tombstones_gone || off >= cleaned_end) {
      INFO("key " << key << " latest at " << off);
      REQUIRE(present);
    }
  }
}

TEST_CASE("Cleaner: a compacted log keeps exactly each key's latest record at its offset",
          "[log][cleaner]") {
  CleanerFixture f;
  auto log = f.Open();
  f.Updates(*log, 100, 10);
  REQUIRE(log->Roll().ok());
  const uint64_t before = log->size_bytes();
  auto r = f.Clean(*log, Offset(0));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->cleaned);
  CHECK(r->next_first_dirty == Offset(1000));
  CHECK(r->records_kept == 100);
  CHECK(log->size_bytes() < before / 5);
  CHECK(log->log_end_offset() == Offset(1000));
  auto seen = ReadKeyed(*log);
  CHECK(seen.size() == 100);
  CheckCompacted(seen, f.appended, 1000, false);
  // Appends go on after the cleaned range, and a restart sees the same.
  f.Updates(*log, 5, 1);
  auto before_restart = ReadKeyed(*log);
  CHECK(before_restart.size() == 105);
  REQUIRE(log->Close().ok());
  log = f.Open(/*clean=*/true);
  auto after_restart = ReadKeyed(*log);
  REQUIRE(after_restart.size() == before_restart.size());
  for (size_t i = 0; i < after_restart.size(); i++) {
    CHECK(after_restart[i].offset == before_restart[i].offset);
    CHECK(after_restart[i].value == before_restart[i].value);
  }
}

TEST_CASE("Cleaner: tombstones delete their key and are dropped after delete.retention.ms",
          "[log][cleaner]") {
  CleanerFixture f;
  auto log = f.Open();
  f.Updates(*log, 20, 3);
  f.Append(*log, {{"k3", std::nullopt}, {"k7", std::nullopt}});
  REQUIRE(log->Roll().ok());
  auto first = f.Clean(*log, Offset(0));
  REQUIRE(first.ok());
  auto seen = ReadKeyed(*log);
  CheckCompacted(seen, f.appended, first->next_first_dirty.value(), false);
  // The tombstones are still there (their horizon is a day away); the
  // values they deleted are gone.
  int tombstones = 0;
  for (const auto& s : seen) {
    if (s.key == "k3" || s.key == "k7") {
      CHECK(!s.value.has_value());
      tombstones++;
    }
  }
  CHECK(tombstones == 2);

  // A day later, another pass (with new dirty data) drops them.
  f.clock.AdvanceMs(25 * kHour);
  f.Updates(*log, 20, 1, Codec::kNone, /*first_key=*/100);
  REQUIRE(log->Roll().ok());
  auto second = f.Clean(*log, first->next_first_dirty);
  REQUIRE(second.ok());
  CHECK(second->tombstones_dropped == 2);
  seen = ReadKeyed(*log);
  for (const auto& s : seen) CHECK((s.key != "k3" && s.key != "k7"));
  CheckCompacted(seen, f.appended, second->next_first_dirty.value(), true);
}

TEST_CASE("Cleaner: compressed batches are rewritten with their own codec",
          "[log][cleaner]") {
  CleanerFixture f;
  auto log = f.Open();
  for (Codec c : {Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    f.Updates(*log, 30, 2, c);
  }
  REQUIRE(log->Roll().ok());
  auto r = f.Clean(*log, Offset(0));
  REQUIRE(r.ok());
  CheckCompacted(ReadKeyed(*log), f.appended, r->next_first_dirty.value(), false);
  // Every surviving batch is compressed (the zstd round's values are the
  // latest; earlier codecs' batches were emptied or dropped).
  auto read = log->Read(log->log_start_offset(), 1 << 20);
  REQUIRE(read.ok());
  int compressed = 0;
  REQUIRE(ForEachBatch(read->bytes, [&](const BatchHeader& h, auto) {
            if (h.record_count > 0 && h.codec() == Codec::kZstd) compressed++;
            return absl::OkStatus();
          }).ok());
  CHECK(compressed > 0);
}

TEST_CASE("Cleaner: each producer's last batch survives, emptied if need be",
          "[log][cleaner]") {
  CleanerFixture f;
  auto log = f.Open();
  f.Append(*log, {{"a", "1"}, {"b", "1"}}, Codec::kNone, /*producer_id=*/7, 0);
  f.Append(*log, {{"a", "2"}, {"b", "2"}}, Codec::kNone, 7, 2);
  f.Updates(*log, 2, 1);  // non-idempotent k0, k1
  f.Append(*log, {{"a", "3"}, {"b", "3"}});  // supersedes producer 7's records
  REQUIRE(log->Roll().ok());
  auto r = f.Clean(*log, Offset(0));
  REQUIRE(r.ok());
  auto read = log->Read(log->log_start_offset(), 1 << 20);
  REQUIRE(read.ok());
  std::vector<BatchHeader> producer_batches;
  REQUIRE(ForEachBatch(read->bytes, [&](const BatchHeader& h, auto) {
            if (h.producer_id == 7) producer_batches.push_back(h);
            return absl::OkStatus();
          }).ok());
  REQUIRE(producer_batches.size() == 1);
  CHECK(producer_batches[0].base_sequence == 2);
  CHECK(producer_batches[0].record_count == 0);
  CHECK(producer_batches[0].last() == Offset(3));
  CheckCompacted(ReadKeyed(*log), f.appended, r->next_first_dirty.value(), false);
}

TEST_CASE("Cleaner: a key map smaller than the dirty range cleans it over several passes",
          "[log][cleaner]") {
  CleanerFixture f;
  f.cleaner_options.dedupe_buffer_bytes = 24 * 64;  // ~57 keys
  auto log = f.Open();
  f.Updates(*log, 300, 4);
  REQUIRE(log->Roll().ok());
  Offset first_dirty(0);
  int passes = 0;
  while (first_dirty < Offset(1200) && passes < 100) {
    auto r = f.Clean(*log, first_dirty);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(r->cleaned);
    CHECK(r->map_memory_bytes <= f.cleaner_options.dedupe_buffer_bytes);
    REQUIRE(r->next_first_dirty > first_dirty);
    first_dirty = r->next_first_dirty;
    passes++;
  }
  CHECK(passes > 3);
  CHECK(first_dirty == Offset(1200));
  auto seen = ReadKeyed(*log);
  CHECK(seen.size() == 300);
  CheckCompacted(seen, f.appended, 1200, false);
}

TEST_CASE("Cleaner: a flood of tombstones with a tiny key map keeps making progress",
          "[log][cleaner]") {
  CleanerFixture f;
  f.cleaner_options.dedupe_buffer_bytes = 24 * 16;
  f.config.delete_retention_ms = 0;
  auto log = f.Open();
  for (int b = 0; b < 200; b++) {
    std::vector<Rec> recs;
    for (int i = 0; i < 10; i++) recs.push_back({"t" + std::to_string(b * 10 + i), std::nullopt});
    f.Append(*log, recs);
  }
  REQUIRE(log->Roll().ok());
  Offset first_dirty(0);
  for (int pass = 0; pass < 1000 && first_dirty < Offset(2000); pass++) {
    auto r = f.Clean(*log, first_dirty);
    REQUIRE(r.ok());
    REQUIRE(r->next_first_dirty > first_dirty);
    first_dirty = r->next_first_dirty;
  }
  CHECK(first_dirty == Offset(2000));
  // A second round over clean data drops the tombstones (horizon 0 passed).
  f.clock.AdvanceMs(1);
  f.Append(*log, {{"x", "1"}});
  REQUIRE(log->Roll().ok());
  for (Offset fd = first_dirty; fd < Offset(2001);) {
    auto r = f.Clean(*log, fd);
    REQUIRE(r.ok());
    fd = r->next_first_dirty;
  }
  auto seen = ReadKeyed(*log);
  CHECK(seen.size() == 1);
}

TEST_CASE("Cleaner: segments younger than min.compaction.lag.ms are left alone",
          "[log][cleaner]") {
  CleanerFixture f;
  f.config.min_compaction_lag_ms = 2 * kHour;
  auto log = f.Open();
  f.Updates(*log, 50, 4);
  REQUIRE(log->Roll().ok());
  auto r = f.Clean(*log, Offset(0));
  REQUIRE(r.ok());
  CHECK(!r->cleaned);
  f.clock.AdvanceMs(3 * kHour);
  r = f.Clean(*log, Offset(0));
  REQUIRE(r.ok());
  CHECK(r->cleaned);
}

TEST_CASE("Cleaner: appends and reads go on while the cleaner runs",
          "[log][cleaner][concurrency]") {
  CleanerFixture f;
  f.fs.Reset();
  LogOptions posix{PosixFileSystem(), &f.clock};
  auto opened = Log::Open(f.dir, f.config, posix, {}, false);
  REQUIRE(opened.ok());
  std::shared_ptr<Log> log(std::move(*opened));
  f.Updates(*log, 200, 3);
  std::atomic<bool> stop{false};
  std::atomic<int> appends{0}, reads{0};
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !stop; i++) {
      std::string b = KeyedBatch({{"w" + std::to_string(i % 50), "v"}}, 1);
      if (!log->Append(Bytes(b)).ok()) failed = true;
      appends++;
    }
  });
  std::thread reader([&] {
    std::string scratch;
    while (!stop) {
      Offset next = log->log_start_offset();
      int64_t prev = -1;
      while (next < log->log_end_offset() && !stop) {
        auto r = log->Read(next, 64 << 10);
        if (absl::IsOutOfRange(r.status())) break;  // start moved: rescan
        if (!r.ok()) {
          failed = true;
          return;
        }
        absl::Status s = ForEachBatch(r->bytes, [&](const BatchHeader& h, auto) {
          if (h.last().value() <= prev) return absl::InternalError("order");
          prev = h.last().value();
          return absl::OkStatus();
        });
        if (!s.ok()) failed = true;
        next = r->next_offset;
      }
      reads++;
    }
  });
  Cleaner cleaner(f.cleaner_options, &f.clock, PosixFileSystem());
  Offset first_dirty(0);
  for (int pass = 0; pass < 20; pass++) {
    REQUIRE(log->Roll().ok());
    auto r = cleaner.Clean(*log, first_dirty);
    if (!r.ok()) {
      CHECK(absl::IsAborted(r.status()));
      continue;
    }
    first_dirty = r->next_first_dirty;
  }
  stop = true;
  writer.join();
  reader.join();
  CHECK(!failed);
  CHECK(appends > 0);
  CHECK(reads > 0);
}

TEST_CASE("Cleaner: a crash at any step of a pass recovers the old or the new segments",
          "[log][cleaner][crash]") {
  CleanerFixture f;
  const std::string pristine = f.tmp.Sub("pristine");
  {
    auto log = f.Open();
    f.Updates(*log, 60, 5, Codec::kLz4);
    f.Append(*log, {{"k1", std::nullopt}});
    REQUIRE(log->Roll().ok());
    REQUIRE(log->Close().ok());
  }
  testing::CopyTree(f.dir, pristine);
  std::vector<Seen> before, after;
  {
    auto log = f.Open(true);
    before = ReadKeyed(*log);
    auto r = f.Clean(*log, Offset(0));
    REQUIRE(r.ok());
    after = ReadKeyed(*log);
  }
  REQUIRE(after.size() < before.size());
  auto same = [](const std::vector<Seen>& a, const std::vector<Seen>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++) {
      if (a[i].offset != b[i].offset || a[i].key != b[i].key ||
          a[i].value != b[i].value) {
        return false;
      }
    }
    return true;
  };
  bool completed = false;
  int old_seen = 0, new_seen = 0;
  for (uint64_t n = 0; n < 400 && !completed; n++) {
    INFO("crash after " << n << " operations");
    REQUIRE(f.fs.DropUnsyncedData().ok());
    f.fs.Reset();
    std::filesystem::remove_all(f.dir);
    testing::CopyTree(pristine, f.dir);
    {
      auto log = f.Open(/*clean=*/true);
      f.fs.CrashAfterOperations(n);
      completed = f.Clean(*log, Offset(0)).ok();
    }
    f.fs.Reset();
    REQUIRE(f.fs.DropUnsyncedData().ok());
    auto log = f.Open(/*clean=*/false);
    auto seen = ReadKeyed(*log);
    const bool is_old = same(seen, before), is_new = same(seen, after);
    REQUIRE((is_old || is_new));
    (is_old ? old_seen : new_seen)++;
    // No leftovers of the protocol remain after recovery.
    for (const auto& e : std::filesystem::directory_iterator(f.dir)) {
      std::string name = e.path().filename().string();
      REQUIRE(name.find(".cleaned") == std::string::npos);
      REQUIRE(name.find(".swap") == std::string::npos);
      REQUIRE(name.find(".deleted") == std::string::npos);
    }
  }
  CHECK(completed);
  CHECK(old_seen > 0);
  CHECK(new_seen > 0);
}

TEST_CASE("LogManager: the cleaner picks the dirtiest compacted log and checkpoints its progress",
          "[log][cleaner][manager]") {
  TempDir tmp;
  ManualClock clock;
  LogManagerOptions o;
  o.data_dir = tmp.Sub("data");
  o.log_options = LogOptions{PosixFileSystem(), &clock};
  o.default_config.segment_bytes = 8 << 10;
  o.default_config.flush_ms = -1;
  o.start_flusher = false;
  o.cleaner_enable = false;
  LogConfig compact = o.default_config;
  compact.cleanup_compact = true;
  compact.cleanup_delete = false;
  {
    auto m = LogManager::Open(o);
    REQUIRE(m.ok());
    auto plain = (*m)->GetOrCreate({"plain", 0});
    auto changelog = (*m)->GetOrCreate({"changelog", 0}, compact);
    REQUIRE(plain.ok());
    REQUIRE(changelog.ok());
    for (int r = 0; r < 10; r++) {
      for (int k = 0; k < 20; k++) {
        std::string b = KeyedBatch({{"k" + std::to_string(k), "v" + std::to_string(r)}}, 1);
        REQUIRE((*changelog)->Append(Bytes(b)).ok());
        std::string p = KeyedBatch({{"k" + std::to_string(k), "v"}}, 1);
        REQUIRE((*plain)->Append(Bytes(p)).ok());
      }
    }
    REQUIRE((*changelog)->Roll().ok());
    REQUIRE((*plain)->Roll().ok());
    auto r = (*m)->CleanOnce();
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->next_first_dirty == Offset(200));
    // Nothing left to clean: the cleaned log is no longer dirty and the
    // plain one is not compacted.
    auto again = (*m)->CleanOnce();
    REQUIRE(again.ok());
    CHECK(!again->has_value());
    CHECK((*plain)->log_end_offset() == Offset(200));
    REQUIRE((*m)->Close().ok());
  }
  CHECK(std::filesystem::exists(tmp.Sub("data/cleaner-offset-checkpoint")));
  // After a restart the cleaner remembers where it was (topic configs are
  // the broker's to restore; here the default is compact too).
  o.default_config = compact;
  auto m = LogManager::Open(o);
  REQUIRE(m.ok());
  auto r = (*m)->CleanOnce();
  REQUIRE(r.ok());
  // Only "plain" (now compact by default) is dirty.
  if (r->has_value()) CHECK((*r)->next_first_dirty == Offset(200));
  CHECK((*m)->Get({"changelog", 0})->log_end_offset() == Offset(200));
}

}  // namespace
}  // namespace fjord::log
