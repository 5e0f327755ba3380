#include "log/cleaner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "log/file_names.h"
#include "log/record_batch.h"
#include "log/segment.h"
#include "log/status_macros.h"
#include "spdlog/spdlog.h"

namespace fjord::log {
namespace {

double MonotonicSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Calls fn(header, bytes) for each batch of a sealed segment view; a batch
// that fails its CRC stops the walk with kDataLoss (the cleaner never
// rewrites what it cannot read).
template <typename Fn>
absl::Status ForEachSegmentBatch(const SegmentView& v, Fn&& fn) {
  const uint8_t* data = v.mapping->data();
  for (uint64_t pos = 0; pos < v.size;) {
    auto h = ParseBatchHeader(data + pos, v.size - pos);
    if (!h.ok()) return h.status();
    if (h->size_bytes() > v.size - pos) {
      return absl::DataLossError("batch runs past the segment end");
    }
    std::span<const uint8_t> batch(data + pos, h->size_bytes());
    RETURN_IF_ERROR(fn(*h, batch));
    pos += h->size_bytes();
  }
  return absl::OkStatus();
}

}  // namespace

Cleaner::Cleaner(const CleanerOptions& options, Clock* clock, FileSystem* fs)
    : options_(options),
      clock_(clock),
      fs_(fs),
      map_(options.dedupe_buffer_bytes) {}

DirtyStats Cleaner::Measure(const Log& log, Offset first_dirty) const {
  DirtyStats stats;
  const LogConfig config = log.config();
  const int64_t now = clock_->NowMs();
  std::vector<SegmentView> views = log.SealedSegments();
  stats.cleanable_end = log.log_end_offset();
  for (const SegmentView& v : views) {
    if (now - v.last_append_ms < config.min_compaction_lag_ms) {
      stats.cleanable_end = v.base;
      break;
    }
    stats.cleanable_end = v.next;
    if (v.next <= first_dirty) {
      stats.clean_bytes += v.size;
    } else {
      stats.dirty_bytes += v.size;
    }
  }
  if (views.empty()) stats.cleanable_end = log.log_start_offset();
  return stats;
}

void Cleaner::Throttle(uint64_t bytes) {
  if (options_.io_max_bytes_per_second <= 0) return;
  double now = MonotonicSeconds();
  if (throttle_bytes_ == 0 || now - throttle_start_s_ > 1.0) {
    throttle_start_s_ = now;
    throttle_bytes_ = 0;
  }
  throttle_bytes_ += bytes;
  double due = throttle_bytes_ / options_.io_max_bytes_per_second;
  double elapsed = now - throttle_start_s_;
  if (due > elapsed) {
    std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed));
  }
}

absl::StatusOr<CleanResult> Cleaner::Clean(Log& log, Offset first_dirty) {
  const double started = MonotonicSeconds();
  CleanResult result;
  const LogConfig config = log.config();
  const int64_t now = clock_->NowMs();
  first_dirty = std::max(first_dirty, log.log_start_offset());
  result.next_first_dirty = first_dirty;
  const DirtyStats stats = Measure(log, first_dirty);
  std::vector<SegmentView> views = log.SealedSegments();
  // Only segments wholly below the cleanable end take part.
  while (!views.empty() && views.back().next > stats.cleanable_end) {
    views.pop_back();
  }
  if (views.empty() || stats.dirty_bytes == 0) return result;

  // 1. The last batch of each producer id must survive (idempotence).
  absl::flat_hash_map<int64_t, int64_t> last_batch_of_producer;
  for (const SegmentView& v : views) {
    RETURN_IF_ERROR(ForEachSegmentBatch(
        v, [&](const BatchHeader& h, std::span<const uint8_t>) {
          if (h.producer_id >= 0) {
            last_batch_of_producer[h.producer_id] = h.last().value();
          }
          return absl::OkStatus();
        }));
  }

  // 2. Map each key of the dirty range to its latest offset, as far as the
  // map's budget goes: records below `map_end` are covered.
  map_.Clear();
  std::string scratch;
  std::vector<Record> records;
  Offset map_end = first_dirty;
  bool full = false;
  for (const SegmentView& v : views) {
    if (full) break;
    if (v.next <= first_dirty) continue;
    absl::Status s = ForEachSegmentBatch(
        v, [&](const BatchHeader& h, std::span<const uint8_t> batch) {
          if (full || h.last() < first_dirty) return absl::OkStatus();
          RETURN_IF_ERROR(ValidateBatch(batch).status());
          Throttle(batch.size());
          result.dirty_bytes += batch.size();
          if (h.is_control()) {
            map_end = h.last() + 1;
            return absl::OkStatus();
          }
          records.clear();
          RETURN_IF_ERROR(DecodeRecords(batch, &scratch, &records));
          for (const Record& r : records) {
            if (r.offset < first_dirty) continue;
            if (r.key && !map_.Put(*r.key, r.offset.value())) {
              full = true;
              map_end = r.offset;
              return absl::OkStatus();
            }
          }
          map_end = h.last() + 1;
          return absl::OkStatus();
        });
    RETURN_IF_ERROR(s);
  }
  if (map_end <= first_dirty) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s: log.cleaner.dedupe.buffer.size (%d bytes) cannot hold a single "
        "key", log.dir(), options_.dedupe_buffer_bytes));
  }
  result.map_entries = map_.size();
  result.map_memory_bytes = map_.memory_bytes();
  result.bytes_read = result.dirty_bytes;

  // 3. Rewrite the segments that hold records below map_end, in groups
  // that fit one segment each.
  std::vector<std::vector<SegmentView>> groups;
  for (const SegmentView& v : views) {
    if (v.base >= map_end) break;
    if (!groups.empty()) {
      const auto& g = groups.back();
      uint64_t bytes = v.size;
      for (const auto& m : g) bytes += m.size;
      if (bytes <= config.segment_bytes &&
          v.next - g.front().base <= std::numeric_limits<int32_t>::max()) {
        groups.back().push_back(v);
        continue;
      }
    }
    groups.push_back({v});
  }

  const std::string dir = log.dir();
  SegmentConfig seg_config = config.segment_config();
  seg_config.preallocate = false;  // output is never larger than the input
  for (const auto& group : groups) {
    const Offset base = group.front().base;
    ASSIGN_OR_RETURN(auto out, Segment::Create(fs_, dir, base, seg_config, now,
                                               kCleanedFileSuffix));
    int64_t last_append = 0;
    std::string batch_out;
    for (size_t gi = 0; gi < group.size(); gi++) {
      const SegmentView& v = group[gi];
      last_append = std::max(last_append, v.last_append_ms);
      const bool last_segment = gi + 1 == group.size();
      absl::Status s = ForEachSegmentBatch(
          v, [&](const BatchHeader& h, std::span<const uint8_t> batch) {
            RETURN_IF_ERROR(ValidateBatch(batch).status());
            Throttle(batch.size());
            result.bytes_read += batch.size();
            const bool last_of_group =
                last_segment && h.last() + 1 == v.next;
            auto copy = [&]() {
              result.bytes_written += batch.size();
              Throttle(batch.size());
              return out->Append(batch, last_append);
            };
            if (h.is_control()) return copy();
            records.clear();
            RETURN_IF_ERROR(DecodeRecords(batch, &scratch, &records));
            result.records_read += records.size();
            const auto horizon = DeleteHorizonMs(h);
            std::vector<Record> kept;
            kept.reserve(records.size());
            bool has_tombstone = false;
            for (Record& r : records) {
              bool keep = true;
              if (r.offset < map_end && r.key) {
                auto latest = map_.Get(*r.key);
                if (latest && *latest > r.offset.value()) keep = false;
              }
              if (keep && !r.value && r.offset < map_end) {
                if (horizon && now >= *horizon) {
                  keep = false;
                  result.tombstones_dropped++;
                } else {
                  has_tombstone = true;
                }
              }
              if (keep) kept.push_back(std::move(r));
            }
            result.records_kept += kept.size();
            const bool needs_horizon = has_tombstone && !horizon;
            if (kept.size() == records.size() && !needs_horizon) return copy();
            const bool producer_last =
                h.producer_id >= 0 &&
                last_batch_of_producer[h.producer_id] == h.last().value();
            if (kept.empty() && !producer_last && !last_of_group) {
              return absl::OkStatus();  // the whole batch goes
            }
            std::optional<int64_t> new_horizon;
            if (needs_horizon) new_horizon = now + config.delete_retention_ms;
            ASSIGN_OR_RETURN(batch_out, RebuildBatch(h, kept, new_horizon));
            result.bytes_written += batch_out.size();
            Throttle(batch_out.size());
            return out->Append(
                std::span(reinterpret_cast<const uint8_t*>(batch_out.data()),
                          batch_out.size()),
                last_append);
          });
      if (!s.ok()) {
        (void)out->Delete();
        return s;
      }
    }
    out->set_last_append_ms(last_append);
    absl::Status s = out->Seal();
    if (s.ok()) s = out->Flush();
    if (!s.ok()) {
      (void)out->Delete();
      return s;
    }
    out.reset();
    RETURN_IF_ERROR(log.ReplaceSegments(group));
    result.segments_in += static_cast<int>(group.size());
    result.segments_out++;
  }
  result.cleaned = true;
  result.next_first_dirty = map_end;
  result.seconds = MonotonicSeconds() - started;
  spdlog::info("{}: cleaned {} segments into {}: read {} bytes, wrote {}, kept "
               "{} of {} records, dropped {} tombstones, in {:.3f} s",
               dir, result.segments_in, result.segments_out, result.bytes_read,
               result.bytes_written, result.records_kept, result.records_read,
               result.tombstones_dropped, result.seconds);
  return result;
}

}  // namespace fjord::log
