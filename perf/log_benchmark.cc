// Microbenchmarks of the storage engine (log/): CRC-32C, Log::Append,
// Log::Read, offset and timestamp lookups, and LogManager startup recovery.
// See perf/README.md for how to run them and what each one measures.
//
// Every benchmark works in a fresh directory under $TMPDIR (or /tmp) named
// fjord-bench-XXXXXX and removes it when it is done.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "log/cleaner.h"
#include "log/crc32c.h"
#include "log/file_names.h"
#include "log/log.h"
#include "log/log_config.h"
#include "log/log_manager.h"
#include "log/producer_state.h"
#include "log/record_batch.h"
#include "log/status_macros.h"
#include "log/types.h"
#include "spdlog/spdlog.h"

namespace fjord::log {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// Record timestamps start here and grow by 1 ms per offset.
constexpr int64_t kBaseTimestampMs = 1'700'000'000'000;

// ---------------------------------------------------------------------------
// Helpers

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir() {
    const char* env = std::getenv("TMPDIR");
    std::string base = env != nullptr && *env != '\0' ? env : "/tmp";
    std::string tmpl = base + "/fjord-bench-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      std::perror(("mkdtemp " + tmpl).c_str());
      std::abort();
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) {
      std::fprintf(stderr, "cannot remove %s: %s\n", path_.c_str(),
                   ec.message().c_str());
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

 private:
  std::string path_;
};

std::span<uint8_t> Bytes(std::string& s) {
  return std::span(reinterpret_cast<uint8_t*>(s.data()), s.size());
}

// Pseudo-random bytes, the same on every run.
std::string RandomBytes(size_t n, uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// A batch and what is in it.
struct Batch {
  std::string bytes;
  int records = 0;
};

// One uncompressed batch of as many records with `value_bytes`-byte values
// (null keys, no headers) as fit in `max_batch_bytes`, at least one. Record
// i has timestamp first_ts + i.
absl::StatusOr<Batch> MakeBatch(size_t value_bytes, size_t max_batch_bytes,
                                int64_t first_ts) {
  static const std::string* payload = new std::string(RandomBytes(2 * kMiB));
  // Upper bound of the per-record framing: length, attributes, timestamp
  // delta, offset delta, key length, value length, header count varints.
  constexpr size_t kRecordOverhead = 24;
  BatchBuilder builder(BatchOptions{});
  int n = 0;
  while (n == 0 || batch_layout::kHeaderSize + builder.uncompressed_bytes() +
                           value_bytes + kRecordOverhead <=
                       max_batch_bytes) {
    RecordInput r;
    size_t at =
        (static_cast<size_t>(n) * 4099) % (payload->size() - value_bytes);
    r.value = std::string_view(*payload).substr(at, value_bytes);
    r.timestamp = first_ts + n;
    builder.Add(r);
    n++;
  }
  ASSIGN_OR_RETURN(std::string bytes, builder.Build());
  return Batch{std::move(bytes), n};
}

// Settings for benchmark logs: no fsync from the flush policy, 1 GiB
// preallocated segments.
LogConfig BenchConfig() {
  LogConfig config;
  config.segment_bytes = kGiB;
  config.preallocate = true;
  config.flush_ms = -1;
  config.flush_bytes = -1;
  return config;
}

// Appends copies of `batch` (re-stamped by each Append) until the next one
// would take the appended total past `bytes`. Returns the bytes appended.
absl::StatusOr<uint64_t> FillWithCopies(Log& log, std::string& batch,
                                        uint64_t bytes) {
  uint64_t total = 0;
  while (total + batch.size() <= bytes) {
    RETURN_IF_ERROR(log.Append(Bytes(batch)).status());
    total += batch.size();
  }
  return total;
}

void Fail(benchmark::State& state, std::string_view what,
          const absl::Status& s) {
  std::string msg = std::string(what) + ": " + s.ToString();
  state.SkipWithError(msg.c_str());
}

// ---------------------------------------------------------------------------
// 1. CRC-32C

void BM_Crc32c(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = crc32c::Extend(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(data.size()));
  state.SetLabel(crc32c::HardwareAccelerated() ? "sse4.2" : "portable");
}
BENCHMARK(BM_Crc32c)->Arg(4 * kKiB)->Arg(64 * kKiB)->Arg(1 * kMiB);

void BM_Crc32cPortable(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = crc32c::internal::ExtendPortable(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_Crc32cPortable)->Arg(1 * kMiB);

// ---------------------------------------------------------------------------
// 2. Append

// Log::Append of one prebuilt batch over and over (Append re-stamps the base
// offset in place, so the same buffer is valid every time). Includes the
// batch validation (CRC) Append does, the pwrite into the page cache, index
// maintenance, and segment rolls; no fsync. The log is replaced (untimed)
// whenever it passes 1.5 GiB.
void BM_Append(benchmark::State& state) {
  const size_t record_bytes = static_cast<size_t>(state.range(0));
  const size_t batch_bytes = static_cast<size_t>(state.range(1));
  constexpr uint64_t kResetBytes = 3 * kGiB / 2;

  auto batch = MakeBatch(record_bytes, batch_bytes, kBaseTimestampMs);
  if (!batch.ok()) return Fail(state, "MakeBatch", batch.status());
  TempDir tmp;
  int generation = 0;
  auto open = [&]() {
    return Log::Open(tmp.Sub("bench-" + std::to_string(generation++)),
                     BenchConfig(), LogOptions{}, RecoveryPoint{},
                     /*clean_shutdown=*/false);
  };
  auto log = open();
  if (!log.ok()) return Fail(state, "Log::Open", log.status());

  std::span<uint8_t> records = Bytes(batch->bytes);
  uint64_t since_reset = 0;
  for (auto _ : state) {
    auto info = (*log)->Append(records);
    if (!info.ok()) {
      Fail(state, "Append", info.status());
      break;
    }
    since_reset += records.size();
    if (since_reset >= kResetBytes) {
      state.PauseTiming();
      absl::Status s = (*log)->DeleteFiles();
      if (!s.ok()) {
        Fail(state, "DeleteFiles", s);
        break;
      }
      log = open();
      if (!log.ok()) {
        Fail(state, "Log::Open", log.status());
        break;
      }
      since_reset = 0;
      state.ResumeTiming();
    }
  }
  if (log.ok()) (void)(*log)->DeleteFiles();

  const int64_t n = static_cast<int64_t>(state.iterations());
  state.SetBytesProcessed(n * static_cast<int64_t>(records.size()));
  state.SetItemsProcessed(n * batch->records);
  state.counters["batch_bytes"] = static_cast<double>(records.size());
  state.counters["records_per_batch"] = batch->records;
}
BENCHMARK(BM_Append)
    ->ArgNames({"record", "batch"})
    ->Args({100, 16 * kKiB})
    ->Args({100, 1 * kMiB})
    ->Args({1 * kKiB, 16 * kKiB})
    ->Args({1 * kKiB, 1 * kMiB})
    ->UseRealTime();

// The idempotent-producer check Log::Append does per batch, alone:
// BeginCheck / CheckBatch / FinishCheck / CommitCheck on a header whose
// sequence continues its producer's, round-robin over `producers` ids (the
// hash map's size). Compare with BM_Append's time per batch.
void BM_ProducerCheck(benchmark::State& state) {
  const int64_t producers = state.range(0);
  ProducerStateTable table;
  std::vector<int32_t> next_seq(static_cast<size_t>(producers), 0);
  BatchHeader h;
  h.producer_epoch = 0;
  h.last_offset_delta = 99;
  h.record_count = 100;
  int64_t offset = 0;
  int64_t i = 0;
  for (auto _ : state) {
    const int64_t pid = i++ % producers;
    h.producer_id = pid;
    h.base_sequence = next_seq[pid];
    h.base_offset = offset;
    table.BeginCheck();
    absl::Status s = table.CheckBatch(h, Offset(offset));
    auto dup = table.FinishCheck();
    if (!s.ok() || !dup.ok() || dup->has_value()) {
      return Fail(state, "check", s.ok() ? dup.status() : s);
    }
    table.CommitCheck(kBaseTimestampMs);
    next_seq[pid] = IncrementSequence(next_seq[pid], 100);
    offset += 100;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProducerCheck)
    ->ArgName("producers")
    ->Arg(1)
    ->Arg(1000)
    ->Arg(100000);

// ---------------------------------------------------------------------------
// 3 and 4. Reads and lookups over one shared, pre-filled log

// 256 MiB of 1 KiB records in 16 KiB batches (one segment), timestamps
// kBaseTimestampMs + offset. Built on first use, removed at exit.
class ReadFixture {
 public:
  static constexpr uint64_t kBytes = 256 * kMiB;

  static absl::StatusOr<ReadFixture*> Get() {
    if (instance_ == nullptr) {
      auto f = std::unique_ptr<ReadFixture>(new ReadFixture);
      RETURN_IF_ERROR(f->Fill());
      instance_ = std::move(f);
    }
    return instance_.get();
  }
  static void Destroy() {
    if (instance_ != nullptr && instance_->log_ != nullptr) {
      (void)instance_->log_->DeleteFiles();
    }
    instance_.reset();
  }

  Log& log() { return *log_; }
  int64_t records() const { return records_; }

  // Sets verify.crc.on.read for the following reads.
  absl::Status SetVerify(bool verify) {
    LogConfig config = log_->config();
    config.verify_crc_on_read = verify;
    return log_->SetConfig(config);
  }

 private:
  ReadFixture() = default;

  absl::Status Fill() {
    ASSIGN_OR_RETURN(log_, Log::Open(tmp_.Sub("bench-0"), BenchConfig(),
                                     LogOptions{}, RecoveryPoint{},
                                     /*clean_shutdown=*/false));
    uint64_t total = 0;
    while (true) {
      const int64_t next = log_->log_end_offset().value();
      ASSIGN_OR_RETURN(Batch b,
                       MakeBatch(1 * kKiB, 16 * kKiB, kBaseTimestampMs + next));
      if (total + b.bytes.size() > kBytes) break;
      RETURN_IF_ERROR(log_->Append(Bytes(b.bytes)).status());
      total += b.bytes.size();
    }
    records_ = log_->log_end_offset().value();
    return absl::OkStatus();
  }

  static inline std::unique_ptr<ReadFixture> instance_;
  TempDir tmp_;
  std::unique_ptr<Log> log_;
  int64_t records_ = 0;
};

// Sequential Log::Read with max_bytes = 1 MiB from the start of the log to
// its end, then around again. Touches one byte per 4 KiB of what it gets so
// the mapping is paged in.
void BM_Read(benchmark::State& state) {
  const bool verify = state.range(0) != 0;
  auto f = ReadFixture::Get();
  if (!f.ok()) return Fail(state, "filling the log", f.status());
  Log& log = (*f)->log();
  if (absl::Status s = (*f)->SetVerify(verify); !s.ok()) {
    return Fail(state, "SetConfig", s);
  }
  const Offset start = log.log_start_offset();
  const Offset end = log.log_end_offset();
  Offset next = start;
  uint64_t bytes = 0;
  for (auto _ : state) {
    if (next >= end) next = start;
    auto r = log.Read(next, 1 * kMiB);
    if (!r.ok()) {
      Fail(state, "Read", r.status());
      break;
    }
    if (r->bytes.empty()) {
      state.SkipWithError("Read returned no bytes before the log end");
      break;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < r->bytes.size(); i += 4096) sum += r->bytes[i];
    benchmark::DoNotOptimize(sum);
    bytes += r->bytes.size();
    next = r->next_offset;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetLabel(verify ? "crc verified" : "no crc");
}
BENCHMARK(BM_Read)->ArgName("verify")->Arg(1)->Arg(0);

// Precomputed uniformly random values in [lo, hi), fixed seed.
std::vector<int64_t> RandomValues(int64_t lo, int64_t hi) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> dist(lo, hi - 1);
  std::vector<int64_t> out(1 << 16);
  for (auto& v : out) v = dist(rng);
  return out;
}

// Log::Read(random offset, max_bytes = 1): index lookup, the walk to the
// batch holding the offset, and (verify:1) the CRC check of that one 16 KiB
// batch.
void BM_OffsetLookup(benchmark::State& state) {
  const bool verify = state.range(0) != 0;
  auto f = ReadFixture::Get();
  if (!f.ok()) return Fail(state, "filling the log", f.status());
  Log& log = (*f)->log();
  if (absl::Status s = (*f)->SetVerify(verify); !s.ok()) {
    return Fail(state, "SetConfig", s);
  }
  const std::vector<int64_t> offsets = RandomValues(
      log.log_start_offset().value(), log.log_end_offset().value());
  size_t i = 0;
  for (auto _ : state) {
    const Offset want(offsets[i++ & (offsets.size() - 1)]);
    auto r = log.Read(want, 1);
    if (!r.ok()) {
      Fail(state, "Read", r.status());
      break;
    }
    if (r->bytes.empty() || r->next_offset <= want) {
      state.SkipWithError("Read did not return the batch holding the offset");
      break;
    }
    benchmark::DoNotOptimize(r->bytes.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(verify ? "crc verified" : "no crc");
}
BENCHMARK(BM_OffsetLookup)->ArgName("verify")->Arg(1)->Arg(0);

// Log::FindOffsetByTimestamp(random timestamp within the log): time index,
// offset index, then validating and decoding one batch.
void BM_TimestampLookup(benchmark::State& state) {
  auto f = ReadFixture::Get();
  if (!f.ok()) return Fail(state, "filling the log", f.status());
  Log& log = (*f)->log();
  const int64_t first = log.log_start_offset().value();
  const std::vector<int64_t> timestamps = RandomValues(
      kBaseTimestampMs + first, kBaseTimestampMs + (*f)->records());
  size_t i = 0;
  for (auto _ : state) {
    const int64_t ts = timestamps[i++ & (timestamps.size() - 1)];
    auto r = log.FindOffsetByTimestamp(ts);
    if (!r.ok()) {
      Fail(state, "FindOffsetByTimestamp", r.status());
      break;
    }
    // Timestamps are kBaseTimestampMs + offset, so the answer is exact.
    if (!r->has_value() || (*r)->first.value() != ts - kBaseTimestampMs ||
        (*r)->second != ts) {
      std::string msg =
          "FindOffsetByTimestamp(" + std::to_string(ts) + ") returned " +
          (r->has_value() ? std::to_string((*r)->first.value()) + "@" +
                                std::to_string((*r)->second)
                          : std::string("nothing")) +
          ", want offset " + std::to_string(ts - kBaseTimestampMs);
      state.SkipWithError(msg.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TimestampLookup);

// ---------------------------------------------------------------------------
// 5. Startup recovery

enum class Shutdown { kClean, kUnclean };

const TopicPartition& BenchPartition() {
  static const TopicPartition* tp = new TopicPartition{"bench", 0};
  return *tp;
}

LogManagerOptions ManagerOptions(const std::string& data_dir) {
  LogManagerOptions options;
  options.data_dir = data_dir;
  options.default_config = BenchConfig();
  options.start_flusher = false;
  return options;
}

// Reads all of `path`, or bytes [from, to) of it.
absl::StatusOr<std::string> ReadBytes(const std::string& path, uint64_t from,
                                      std::optional<uint64_t> to) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError("cannot open " + path);
  if (!to) {
    in.seekg(0, std::ios::end);
    to = static_cast<uint64_t>(in.tellg());
  }
  in.seekg(static_cast<std::streamoff>(from));
  std::string out(*to - from, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (!in) return absl::InternalError("cannot read " + path);
  return out;
}

// Writes `bytes` at `offset` of the existing file `path` in place (same
// inode and blocks), optionally cutting the file to `size` afterwards.
absl::Status WriteBytesInPlace(const std::string& path, uint64_t offset,
                               std::string_view bytes,
                               std::optional<uint64_t> size) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) {
    return absl::InternalError("open " + path + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                         static_cast<off_t>(offset + done));
    if (n <= 0) {
      ::close(fd);
      return absl::InternalError("pwrite " + path);
    }
    done += static_cast<size_t>(n);
  }
  if (size && ::ftruncate(fd, static_cast<off_t>(*size)) != 0) {
    ::close(fd);
    return absl::InternalError("ftruncate " + path);
  }
  ::close(fd);
  return absl::OkStatus();
}

// syncfs(2) of the file system holding `path`.
absl::Status SyncFileSystemOf(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    return absl::InternalError("open " + path + ": " + std::strerror(errno));
  }
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::InternalError("syncfs " + path + ": " + std::strerror(err));
  }
  return absl::OkStatus();
}

// The state of a data directory right after an unclean stop, kept in
// memory: every file except the segment .log files (the checkpoint, the
// indexes, ...), plus the unflushed tail of the active .log file. Restore
// puts it back: Open rewrites the indexes and the checkpoint and syncs the
// log, but changes no .log bytes when nothing is torn, so this is the whole
// difference. The rewrites go in place and leave the pages dirty, as they
// were when the process stopped.
class CrashSnapshot {
 public:
  // The tail is bytes [tail_from, tail_to) of `log_path`.
  absl::Status Take(const std::string& data_dir, const std::string& log_path,
                    uint64_t tail_from, uint64_t tail_to) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(data_dir, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() != ".log") {
        ASSIGN_OR_RETURN(std::string bytes,
                         ReadBytes(it->path().string(), 0, std::nullopt));
        files_.emplace(it->path().string(), std::move(bytes));
      }
    }
    if (ec)
      return absl::InternalError("listing " + data_dir + ": " + ec.message());
    log_path_ = log_path;
    tail_from_ = tail_from;
    ASSIGN_OR_RETURN(tail_, ReadBytes(log_path, tail_from, tail_to));
    return absl::OkStatus();
  }

  absl::Status Restore() const {
    for (const auto& [path, bytes] : files_) {
      RETURN_IF_ERROR(WriteBytesInPlace(path, 0, bytes, bytes.size()));
    }
    return WriteBytesInPlace(log_path_, tail_from_, tail_, std::nullopt);
  }

  uint64_t tail_bytes() const { return tail_.size(); }

 private:
  std::map<std::string, std::string> files_;
  std::string log_path_;
  uint64_t tail_from_ = 0;
  std::string tail_;
};

// LogManager::Open over a data directory holding 1 GiB in one partition
// (16 KiB batches of 1 KiB records), after a clean Close() or after a stop
// without Close() with the last 64 MiB unflushed (past the checkpointed
// recovery point). The state is put back, untimed, before each iteration.
void BM_Recovery(benchmark::State& state, Shutdown shutdown) {
  constexpr uint64_t kTotal = 1 * kGiB;
  constexpr uint64_t kUnflushed = 64 * kMiB;
  // The read benchmarks' log is no longer needed: free its disk and page
  // cache, and stop it being written back during the timed opens.
  ReadFixture::Destroy();
  TempDir tmp;
  const std::string data_dir = tmp.Sub("data");
  const LogManagerOptions options = ManagerOptions(data_dir);

  auto batch = MakeBatch(1 * kKiB, 16 * kKiB, kBaseTimestampMs);
  if (!batch.ok()) return Fail(state, "MakeBatch", batch.status());

  CrashSnapshot snapshot;
  uint64_t written = 0;
  {
    auto m = LogManager::Open(options);
    if (!m.ok()) return Fail(state, "LogManager::Open", m.status());
    auto log = (*m)->GetOrCreate(BenchPartition());
    if (!log.ok()) return Fail(state, "GetOrCreate", log.status());
    const uint64_t flushed =
        shutdown == Shutdown::kClean ? kTotal : kTotal - kUnflushed;
    auto n = FillWithCopies(**log, batch->bytes, flushed);
    if (!n.ok()) return Fail(state, "Append", n.status());
    written = *n;
    if (absl::Status s = (*log)->Flush(); !s.ok())
      return Fail(state, "Flush", s);
    if (absl::Status s = (*m)->CheckpointRecoveryPoints(); !s.ok()) {
      return Fail(state, "CheckpointRecoveryPoints", s);
    }
    if (shutdown == Shutdown::kClean) {
      if (absl::Status s = (*m)->Close(); !s.ok())
        return Fail(state, "Close", s);
    } else {
      const RecoveryPoint rp = (*log)->recovery_point();
      n = FillWithCopies(**log, batch->bytes, kTotal - written);
      if (!n.ok()) return Fail(state, "Append", n.status());
      written += *n;
      if ((*log)->segment_count() != 1 || (*log)->size_bytes() != written ||
          rp.position + *n != written) {
        return state.SkipWithError(
            "expected one segment, recovery point at the flushed end");
      }
      const std::string log_path =
          SegmentFileName((*log)->dir(), rp.segment_base, kLogSuffix);
      log->reset();
      m->reset();  // no Close(): no clean-shutdown marker
      absl::Status s = snapshot.Take(data_dir, log_path, rp.position, written);
      if (!s.ok()) return Fail(state, "snapshot", s);
    }
  }

  // Write back what the setup (and earlier benchmarks) left dirty, so the
  // timed opens do not queue behind it.
  if (absl::Status s = SyncFileSystemOf(tmp.path()); !s.ok()) {
    return Fail(state, "syncfs", s);
  }

  StartupReport report;
  for (auto _ : state) {
    state.PauseTiming();
    if (shutdown == Shutdown::kUnclean) {
      if (absl::Status s = snapshot.Restore(); !s.ok()) {
        Fail(state, "restore", s);
        break;
      }
    }
    state.ResumeTiming();

    auto m = LogManager::Open(options, &report);

    state.PauseTiming();
    if (!m.ok()) {
      Fail(state, "LogManager::Open", m.status());
      break;
    }
    const bool clean = shutdown == Shutdown::kClean;
    const uint64_t want_scanned = clean ? 0 : snapshot.tail_bytes();
    if (report.clean_shutdown != clean || report.logs != 1 ||
        report.bytes != written || report.bytes_scanned != want_scanned ||
        report.bytes_truncated != 0) {
      std::string msg =
          "unexpected startup: clean=" + std::to_string(report.clean_shutdown) +
          " logs=" + std::to_string(report.logs) +
          " bytes=" + std::to_string(report.bytes) + " (want " +
          std::to_string(written) +
          ") scanned=" + std::to_string(report.bytes_scanned) + " (want " +
          std::to_string(want_scanned) +
          ") truncated=" + std::to_string(report.bytes_truncated);
      state.SkipWithError(msg.c_str());
      break;
    }
    if (clean) {
      // Close() writes the marker again for the next iteration.
      if (absl::Status s = (*m)->Close(); !s.ok()) {
        Fail(state, "Close", s);
        break;
      }
    }
    m->reset();
    state.ResumeTiming();
  }
  state.counters["log_MiB"] = static_cast<double>(written) / kMiB;
  state.counters["scanned_MiB"] =
      static_cast<double>(report.bytes_scanned) / kMiB;
}
BENCHMARK_CAPTURE(BM_Recovery, clean, Shutdown::kClean)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);
BENCHMARK_CAPTURE(BM_Recovery, unclean_64MiB_unflushed, Shutdown::kUnclean)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);

// ---------------------------------------------------------------------------
// 6. Compaction

// Anonymous (heap) resident memory of this process, in bytes: what the
// cleaner allocates, without the file pages it maps.
int64_t RssAnonBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) {
      return std::strtoll(line.c_str() + 8, nullptr, 10) * 1024;
    }
  }
  return -1;
}

// One cleaner pass over 1,000,000 keys updated 10 times each (10 M records,
// 100-byte values, 1000 records a batch, uncompressed): throughput in bytes
// of dirty input per second, and the key map's size against its budget and
// the process's peak anonymous memory during the pass.
void BM_Cleaner(benchmark::State& state) {
  constexpr int kKeys = 1'000'000;
  constexpr int kUpdates = 10;
  constexpr int kPerBatch = 1000;
  ReadFixture::Destroy();
  TempDir tmp;
  LogConfig config = BenchConfig();
  config.segment_bytes = 256 * kMiB;
  config.cleanup_compact = true;
  config.cleanup_delete = false;
  CleanerOptions cleaner_options;  // log.cleaner.dedupe.buffer.size = 128 MiB
  ManualClock clock;
  LogOptions options{PosixFileSystem(), &clock};
  CleanResult result;
  int64_t peak_anon = 0, anon_before = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = tmp.Sub("changelog-0");
    fs::remove_all(dir);
    auto log = Log::Open(dir, config, options, {}, false);
    if (!log.ok()) return Fail(state, "Log::Open", log.status());
    std::string value(100, 'v');
    char key[16];
    for (int u = 0; u < kUpdates; u++) {
      for (int k0 = 0; k0 < kKeys; k0 += kPerBatch) {
        BatchBuilder b(BatchOptions{});
        for (int k = k0; k < k0 + kPerBatch; k++) {
          std::snprintf(key, sizeof(key), "key-%07d", k);
          value[0] = static_cast<char>('0' + u);
          b.Add(RecordInput{std::string_view(key, 11), value, {}, 1000 + u});
        }
        auto batch = b.Build();
        if (!batch.ok()) return Fail(state, "Build", batch.status());
        auto a = (*log)->Append(std::span(
            reinterpret_cast<uint8_t*>(batch->data()), batch->size()));
        if (!a.ok()) return Fail(state, "Append", a.status());
      }
    }
    if (absl::Status s = (*log)->Roll(); !s.ok()) return Fail(state, "Roll", s);
    if (absl::Status s = (*log)->Flush(); !s.ok()) return Fail(state, "Flush", s);
    Cleaner cleaner(cleaner_options, &clock, PosixFileSystem());
    anon_before = RssAnonBytes();
    std::atomic<bool> done{false};
    std::atomic<int64_t> peak{anon_before};
    std::thread sampler([&] {
      while (!done) {
        int64_t now = RssAnonBytes();
        if (now > peak) peak = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    state.ResumeTiming();

    auto r = cleaner.Clean(**log, Offset(0));

    state.PauseTiming();
    done = true;
    sampler.join();
    peak_anon = peak;
    if (!r.ok()) return Fail(state, "Clean", r.status());
    result = *r;
    if (result.records_kept != static_cast<uint64_t>(kKeys) ||
        result.next_first_dirty != Offset(int64_t{kKeys} * kUpdates)) {
      return state.SkipWithError("the pass did not keep exactly one record per key");
    }
    log->reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(result.dirty_bytes) *
                          state.iterations());
  state.counters["dirty_MiB"] = static_cast<double>(result.dirty_bytes) / kMiB;
  state.counters["written_MiB"] =
      static_cast<double>(result.bytes_written) / kMiB;
  state.counters["map_entries"] = static_cast<double>(result.map_entries);
  state.counters["map_MiB"] =
      static_cast<double>(result.map_memory_bytes) / kMiB;
  state.counters["budget_MiB"] =
      static_cast<double>(cleaner_options.dedupe_buffer_bytes) / kMiB;
  state.counters["peak_anon_MiB"] = static_cast<double>(peak_anon) / kMiB;
  state.counters["anon_before_MiB"] = static_cast<double>(anon_before) / kMiB;
}
BENCHMARK(BM_Cleaner)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace fjord::log

int main(int argc, char** argv) {
  // The engine logs every open and recovery at info level.
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext(
      "crc32c",
      fjord::log::crc32c::HardwareAccelerated() ? "sse4.2" : "portable");
  const char* tmp = std::getenv("TMPDIR");
  benchmark::AddCustomContext("tmpdir",
                              tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  benchmark::RunSpecifiedBenchmarks();
  fjord::log::ReadFixture::Destroy();
  benchmark::Shutdown();
  return 0;
}
