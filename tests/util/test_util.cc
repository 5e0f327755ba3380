#include "tests/util/test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fjord::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      absl::StrCat(base != nullptr ? base : "/tmp", "/fjord-test-XXXXXX");
  char* p = mkdtemp(tmpl.data());
  REQUIRE(p != nullptr);
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Sub(std::string_view name) const {
  return absl::StrFormat("%s/%s", path_, name);
}

std::string MakeBatch(int n, std::string_view prefix, size_t value_size,
                      int64_t ts0, log::Codec codec) {
  log::BatchOptions options;
  options.codec = codec;
  log::BatchBuilder builder(options);
  std::vector<std::string> keys, values;
  keys.reserve(n);
  values.reserve(n);
  for (int i = 0; i < n; i++) {
    keys.push_back(absl::StrCat("key-", i));
    std::string v = absl::StrFormat("%s-%d", prefix, i);
    if (v.size() < value_size) v.resize(value_size, 'x');
    values.push_back(std::move(v));
  }
  for (int i = 0; i < n; i++) {
    log::RecordInput r;
    r.key = keys[i];
    r.value = values[i];
    r.timestamp = ts0 + i;
    builder.Add(r);
  }
  auto batch = builder.Build();
  REQUIRE(batch.ok());
  return *std::move(batch);
}

std::string MakeProducerBatch(int n, int64_t pid, int16_t epoch,
                              int32_t sequence, std::string_view prefix) {
  log::BatchOptions options;
  options.producer_id = pid;
  options.producer_epoch = epoch;
  options.base_sequence = sequence;
  log::BatchBuilder builder(options);
  std::vector<std::string> values;
  values.reserve(n);
  for (int i = 0; i < n; i++)
    values.push_back(absl::StrFormat("%s-%d", prefix, i));
  for (int i = 0; i < n; i++) {
    log::RecordInput r;
    r.value = values[i];
    r.timestamp = 1000 + i;
    builder.Add(r);
  }
  auto batch = builder.Build();
  REQUIRE(batch.ok());
  return *std::move(batch);
}

std::vector<DecodedRecord> DecodeAll(std::span<const uint8_t> records) {
  std::vector<DecodedRecord> out;
  std::string scratch;
  absl::Status s = log::ForEachBatch(
      records, [&](const log::BatchHeader&, std::span<const uint8_t> batch) {
        std::vector<log::Record> recs;
        absl::Status d = log::DecodeRecords(batch, &scratch, &recs);
        if (!d.ok()) return d;
        for (const auto& r : recs) {
          out.push_back({r.offset.value(), r.timestamp,
                         std::string(r.key.value_or("")),
                         std::string(r.value.value_or(""))});
        }
        return absl::OkStatus();
      });
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

log::AppendInfo MustAppend(log::Log& log, std::string batch) {
  auto info = log.Append(Bytes(batch));
  INFO(info.status().ToString());
  REQUIRE(info.ok());
  return *info;
}

std::vector<DecodedRecord> ReadAll(const log::Log& log,
                                   std::optional<Offset> from) {
  std::vector<DecodedRecord> out;
  Offset next = from.value_or(log.log_start_offset());
  while (next < log.log_end_offset()) {
    auto r = log.Read(next, 1 << 20);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(!r->bytes.empty());
    for (auto& rec : DecodeAll(r->bytes)) {
      if (rec.offset >= next.value()) out.push_back(rec);
    }
    REQUIRE(r->next_offset > next);
    next = r->next_offset;
  }
  return out;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileBytes(const std::string& path, uint64_t offset,
                    std::string_view bytes) {
  int fd = open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, bytes.data(), bytes.size(), offset) ==
          static_cast<ssize_t>(bytes.size()));
  close(fd);
}

void CopyTree(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  fs::copy(from, to, fs::copy_options::recursive);
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    if (!e.is_regular_file()) continue;
    fs::path target = fs::path(to) / fs::relative(e.path(), from);
    fs::last_write_time(target, fs::last_write_time(e.path()));
  }
}

uint64_t FileSize(const std::string& path) {
  return std::filesystem::file_size(path);
}

}  // namespace fjord::testing
