#include "tools/storage_demo.h"

#include <chrono>

#include "fmt/format.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "log/strings.h"

namespace fjord::tools {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Record i's value: its index in decimal, padded to `size` with a pattern
// derived from it, so any misplaced or altered record is caught.
void FillValue(int64_t i, int size, std::string* out) {
  out->assign(fmt::format("{:012d}", i));
  while (static_cast<int>(out->size()) < size) {
    out->push_back(static_cast<char>('a' + (i + out->size()) % 26));
  }
  out->resize(size);
}

int Fail(absl::string_view what) {
  fmt::print(stderr, "storage-demo: FAILED: {}\n", what);
  return 1;
}

}  // namespace

int RunStorageDemo(const StorageDemoOptions& o) {
  auto codec = log::ParseCodec(o.compression);
  if (!codec.ok()) return Fail(codec.status().message());
  if (o.records <= 0 || o.record_size < 12 || o.batch_records <= 0) {
    return Fail(
        absl::string_view("--records and --batch-records must be positive and "
                          "--record-size at least 12"));
  }
  log::LogManagerOptions mo;
  mo.data_dir = o.data_dir;
  TopicPartition tp{o.topic, 0};

  // 1. Append.
  Offset first_offset(0);
  double append_s = 0, close_s = 0;
  uint64_t bytes = 0;
  {
    log::StartupReport report;
    auto manager = log::LogManager::Open(mo, &report);
    if (!manager.ok()) return Fail(manager.status().message());
    auto log = (*manager)->GetOrCreate(tp);
    if (!log.ok()) return Fail(log.status().message());
    first_offset = (*log)->log_end_offset();
    fmt::print("data dir {}: {} logs, {} stop, opened in {} ms\n", o.data_dir,
               report.logs,
               report.clean_shutdown ? "clean" : "first or unclean",
               report.elapsed_ms);
    std::string value;
    auto start = Clock::now();
    for (int64_t i = 0; i < o.records;) {
      log::BatchOptions bo;
      bo.codec = *codec;
      log::BatchBuilder builder(bo);
      std::vector<std::string> values;
      int64_t n = std::min<int64_t>(o.batch_records, o.records - i);
      values.reserve(n);
      for (int64_t j = 0; j < n; j++) {
        FillValue(i + j, o.record_size, &value);
        values.push_back(value);
      }
      for (int64_t j = 0; j < n; j++) {
        builder.Add(log::RecordInput{
            std::nullopt, values[j], {}, 1'700'000'000'000 + i + j});
      }
      auto batch = builder.Build();
      if (!batch.ok()) return Fail(batch.status().message());
      auto appended = (*log)->Append(
          std::span(reinterpret_cast<uint8_t*>(batch->data()), batch->size()));
      if (!appended.ok()) return Fail(appended.status().message());
      bytes += batch->size();
      i += n;
    }
    if (absl::Status s = (*log)->Flush(); !s.ok()) return Fail(s.message());
    append_s = Seconds(start);
    auto close_start = Clock::now();
    if (absl::Status s = (*manager)->Close(); !s.ok()) return Fail(s.message());
    close_s = Seconds(close_start);
  }
  fmt::print(
      "appended {} records ({} MiB on disk) in {:.3f} s: {:.0f} "
      "records/s, {:.1f} MiB/s, flushed; clean close in {:.1f} ms\n",
      o.records, bytes >> 20, append_s, o.records / append_s,
      bytes / append_s / (1 << 20), close_s * 1000);

  // 2. Reopen after the clean stop and read everything back.
  log::StartupReport report;
  auto reopen_start = Clock::now();
  auto manager = log::LogManager::Open(mo, &report);
  if (!manager.ok()) return Fail(manager.status().message());
  double reopen_ms = Seconds(reopen_start) * 1000;
  auto log = (*manager)->Get(tp);
  if (log == nullptr)
    return Fail(
        absl::string_view("the partition did not come back after a restart"));
  fmt::print(
      "reopened {} logs ({} MiB) after a {} stop in {:.1f} ms, "
      "recovery scanned {} bytes\n",
      report.logs, report.bytes >> 20,
      report.clean_shutdown ? "clean" : "UNCLEAN", reopen_ms,
      report.bytes_scanned);
  // Every batch in the log goes through the read path (which checks CRCs),
  // including those of earlier runs; this run's records are also compared
  // value by value.
  auto read_start = Clock::now();
  Offset next = log->log_start_offset();
  int64_t seen = 0, older = 0;
  std::string expected, scratch;
  std::vector<log::Record> recs;
  while (next < log->log_end_offset()) {
    auto r = log->Read(next, 1 << 20);
    if (!r.ok()) return Fail(r.status().message());
    absl::Status s = log::ForEachBatch(
        r->bytes, [&](const log::BatchHeader&, std::span<const uint8_t> batch) {
          recs.clear();
          if (absl::Status d = log::DecodeRecords(batch, &scratch, &recs);
              !d.ok()) {
            return d;
          }
          for (const auto& rec : recs) {
            if (rec.offset < next) continue;
            if (rec.offset < first_offset) {
              older++;
              continue;
            }
            FillValue(rec.offset - first_offset, o.record_size, &expected);
            if (!rec.value || *rec.value != expected) {
              return absl::DataLossError(
                  fmt::format("record at offset {} is not the one appended",
                              rec.offset.value()));
            }
            seen++;
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return Fail(s.message());
    next = r->next_offset;
  }
  double read_s = Seconds(read_start);
  if (seen != o.records) {
    return Fail(
        fmt::format("read back {} records, appended {}", seen, o.records));
  }
  fmt::print(
      "read back and verified {} records in {:.3f} s: {:.0f} records/s "
      "(and {} records of earlier runs, CRC-checked)\n",
      seen, read_s, (seen + older) / read_s, older);
  if (absl::Status s = (*manager)->Close(); !s.ok()) return Fail(s.message());
  fmt::print(
      "OK: every record appended was read back exactly once, in order\n");
  return 0;
}

}  // namespace fjord::tools
