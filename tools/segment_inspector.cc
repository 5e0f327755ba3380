#include "tools/segment_inspector.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "fmt/format.h"
#include "fmt/ostream.h"
#include "log/file_names.h"
#include "log/file_system.h"
#include "log/index.h"
#include "log/record_batch.h"
#include "log/status_macros.h"

namespace fjord::tools {
namespace {

using log::BatchHeader;

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

struct BatchAt {
  uint64_t position;
  int64_t base;
  int64_t last;
  int64_t max_timestamp;
};

absl::StatusOr<std::unique_ptr<log::Mapping>> MapWhole(const std::string& path,
                                                       uint64_t* size) {
  ASSIGN_OR_RETURN(
      auto file, log::PosixFileSystem()->Open(path, log::OpenMode::kReadOnly));
  ASSIGN_OR_RETURN(*size, file->Size());
  return file->Map(*size, /*writable=*/false);
}

void CheckIndexes(const std::string& log_path, Offset base,
                  const std::vector<BatchAt>& batches, SegmentCheck* check) {
  std::string dir = std::filesystem::path(log_path).parent_path().string();
  std::string index = log::SegmentFileName(dir, base, log::kIndexSuffix);
  std::string time_index =
      log::SegmentFileName(dir, base, log::kTimeIndexSuffix);
  auto find = [&](uint64_t position) {
    return std::lower_bound(
        batches.begin(), batches.end(), position,
        [](const BatchAt& b, uint64_t p) { return b.position < p; });
  };
  if (std::filesystem::exists(index)) {
    auto idx = log::OffsetIndex::Open(log::PosixFileSystem(), index, base, 0);
    if (!idx.ok()) {
      check->problems.push_back(
          fmt::format("{}: {}", index, idx.status().message()));
    } else {
      size_t n = (*idx)->file().entries();
      for (size_t i = 0; i < n; i++) {
        log::OffsetPosition e = (*idx)->Entry(i);
        if (e.offset == base && e.position == 0 && i > 0) {
          // Zeroed, preallocated slots after the last entry of an active
          // segment that was not shut down cleanly.
          break;
        }
        auto it = find(e.position);
        if (it == batches.end() || it->position != e.position ||
            it->base != e.offset.value()) {
          check->problems.push_back(fmt::format(
              "{}: entry {} ({} -> byte {}) does not point at a batch with "
              "that base offset",
              index, i, e.offset.value(), e.position));
          break;
        }
      }
    }
  } else {
    check->problems.push_back(
        fmt::format("{}: missing (rebuilt on start)", index));
  }
  if (std::filesystem::exists(time_index)) {
    auto tidx =
        log::TimeIndex::Open(log::PosixFileSystem(), time_index, base, 0);
    if (!tidx.ok()) {
      check->problems.push_back(
          fmt::format("{}: {}", time_index, tidx.status().message()));
    } else {
      int64_t prev = INT64_MIN;
      size_t n = (*tidx)->file().entries();
      for (size_t i = 0; i < n; i++) {
        log::TimestampOffset e = (*tidx)->Entry(i);
        if (e.timestamp == 0 && e.offset == base && i > 0) break;  // zeroed
        if (e.timestamp <= prev) {
          check->problems.push_back(
              fmt::format("{}: entry {} timestamp {} does not increase",
                          time_index, i, e.timestamp));
          break;
        }
        // Every record up to e.offset must be no newer than e.timestamp.
        for (const BatchAt& b : batches) {
          if (b.base > e.offset.value()) break;
          if (b.last <= e.offset.value() && b.max_timestamp > e.timestamp) {
            check->problems.push_back(fmt::format(
                "{}: entry {} ({} @ {}) is older than batch at offset {}",
                time_index, i, e.timestamp, e.offset.value(), b.base));
            i = n;
            break;
          }
        }
        prev = e.timestamp;
      }
    }
  }
}

}  // namespace

bool IsSnapshotFile(const std::string& path) {
  auto parsed = log::ParseSegmentFileName(
      std::filesystem::path(path).filename().string());
  return parsed && parsed->suffix == log::kSnapshotSuffix;
}

absl::StatusOr<std::vector<std::string>> SegmentFiles(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    if (!std::filesystem::exists(path, ec)) {
      return absl::NotFoundError(
          fmt::format("{}: no such file or directory", path));
    }
    return std::vector<std::string>{path};
  }
  std::vector<std::tuple<int, int64_t, std::string>> found;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    auto parsed = log::ParseSegmentFileName(entry.path().filename().string());
    if (!parsed) continue;
    if (parsed->suffix == log::kLogSuffix) {
      found.emplace_back(0, parsed->base.value(), entry.path().string());
    } else if (parsed->suffix == log::kSnapshotSuffix) {
      found.emplace_back(1, parsed->base.value(), entry.path().string());
    }
  }
  if (ec) return absl::InternalError(fmt::format("{}: {}", path, ec.message()));
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [kind, base, p] : found) out.push_back(std::move(p));
  return out;
}

absl::StatusOr<SegmentCheck> InspectSegment(
    const std::string& path,
    const std::function<void(const InspectedBatch&)>& on_batch) {
  SegmentCheck check;
  check.path = path;
  auto parsed = log::ParseSegmentFileName(
      std::filesystem::path(path).filename().string());
  if (!parsed || parsed->suffix != log::kLogSuffix) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: not a segment or snapshot file (expected <20-digit offset>.log "
        "or .snapshot)",
        path));
  }
  ASSIGN_OR_RETURN(auto map, MapWhole(path, &check.file_bytes));
  const uint8_t* data = map->data();
  const uint64_t size = check.file_bytes;
  std::vector<BatchAt> batches;
  int64_t expected = parsed->base.value();
  uint64_t pos = 0;
  bool framed = true;
  while (pos < size) {
    if (size - pos >= log::batch_layout::kHeaderSize &&
        AllZero(data + pos, log::batch_layout::kHeaderSize) &&
        AllZero(data + pos, size - pos)) {
      check.zero_tail_bytes = size - pos;
      break;
    }
    auto h = log::ParseBatchHeader(data + pos, size - pos);
    absl::Status problem = h.status();
    if (problem.ok() && h->size_bytes() > size - pos) {
      problem = absl::DataLossError(
          fmt::format("batch claims {} bytes, only {} remain (torn write)",
                      h->size_bytes(), size - pos));
    }
    if (problem.ok() && h->base_offset < expected) {
      problem = absl::DataLossError(
          fmt::format("base offset {} goes backwards (expected >= {})",
                      h->base_offset, expected));
    }
    if (!problem.ok()) {
      check.problems.push_back(
          fmt::format("{}: byte {}: {}", path, pos, problem.message()));
      framed = false;
      break;
    }
    InspectedBatch b;
    b.position = pos;
    b.header = *h;
    b.bytes = std::span(data + pos, h->size_bytes());
    b.computed_crc = log::ComputeBatchCrc(b.bytes);
    b.crc_ok = b.computed_crc == h->crc;
    if (!b.crc_ok) {
      check.problems.push_back(fmt::format(
          "{}: byte {}: batch CRC mismatch at base offset {}: stored {:08x}, "
          "computed {:08x}",
          path, pos, h->base_offset, h->crc, b.computed_crc));
    }
    if (on_batch) on_batch(b);
    batches.push_back(
        {pos, h->base_offset, h->last().value(), h->max_timestamp});
    if (check.first_offset < 0) check.first_offset = h->base_offset;
    check.last_offset = h->last().value();
    check.batches++;
    check.records += h->record_count;
    expected = h->last().value() + 1;
    pos += h->size_bytes();
  }
  check.data_bytes = pos;
  if (framed) CheckIndexes(path, parsed->base, batches, &check);
  return check;
}

absl::StatusOr<SnapshotInfo> InspectSnapshot(const std::string& path) {
  SnapshotInfo info;
  info.path = path;
  ASSIGN_OR_RETURN(std::string bytes, log::PosixFileSystem()->ReadFile(path));
  info.file_bytes = bytes.size();
  log::ProducerStateTable table;
  auto end = table.LoadSnapshot(bytes);
  if (!end.ok()) {
    info.problem = fmt::format("{}: {}", path, end.status().message());
    return info;
  }
  info.end_offset = end->value();
  info.forgotten_id = table.forgotten_below().value();
  info.producers = table.Producers();
  auto parsed = log::ParseSegmentFileName(
      std::filesystem::path(path).filename().string());
  if (parsed && parsed->base != *end) {
    info.problem =
        fmt::format("{}: named for offset {} but holds the state at offset {}",
                    path, parsed->base.value(), end->value());
  }
  return info;
}

}  // namespace fjord::tools
