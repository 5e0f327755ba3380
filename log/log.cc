#include "log/log.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_format.h"
#include "log/file_names.h"
#include "log/producer_error.h"
#include "log/record_batch.h"
#include "log/status_macros.h"
#include "spdlog/spdlog.h"

namespace fjord::log {

namespace {

// Producer-state snapshots kept after each write: the newest few, so that a
// corrupt newest one still leaves a recent one to start from.
constexpr int kSnapshotsKept = 3;

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

// The offset after the last batch of the segment file at `path`, walking
// headers only; `base` if it holds none.
absl::StatusOr<Offset> NextOffsetOfFile(FileSystem* fs, const std::string& path,
                                        Offset base) {
  ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenMode::kReadOnly));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  ASSIGN_OR_RETURN(auto map, file->Map(size, /*writable=*/false));
  Offset next = base;
  for (uint64_t pos = 0; pos < size;) {
    auto h = ParseBatchHeader(map->data() + pos, size - pos);
    if (!h.ok() || h->size_bytes() > size - pos) break;
    next = h->last() + 1;
    pos += h->size_bytes();
  }
  return next;
}

}  // namespace

// Finishes or undoes what a crash interrupted (FORMAT.md, "Cleaner swap"):
// removes "*.deleted" and "*.cleaned" files; for each "<B>.log.swap"
// (committed cleaner output) removes the old segments it replaces, those
// with bases in [B, end of the swap segment), and renames the swap files
// into place; removes index ".swap" files whose .log.swap is missing.
// Returns the number of swaps completed.
absl::StatusOr<int> Log::CompleteInterruptedFileOps(FileSystem* fs,
                                                    const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::vector<std::pair<Offset, std::string>> swaps;
  for (const auto& name : names) {
    if (HasSuffix(name, kDeletedFileSuffix) ||
        HasSuffix(name, kCleanedFileSuffix) || HasSuffix(name, ".tmp")) {
      RETURN_IF_ERROR(fs->Remove(dir + "/" + name));
      continue;
    }
    auto parsed = ParseSegmentFileName(name);
    if (parsed && parsed->suffix ==
                      std::string(kLogSuffix) + std::string(kSwapFileSuffix)) {
      swaps.emplace_back(parsed->base, name);
    }
  }
  for (const auto& [base, name] : swaps) {
    ASSIGN_OR_RETURN(Offset end, NextOffsetOfFile(fs, dir + "/" + name, base));
    ASSIGN_OR_RETURN(std::vector<std::string> current, fs->ListDir(dir));
    for (const auto& other : current) {
      auto p = ParseSegmentFileName(other);
      if (!p || HasSuffix(other, kSwapFileSuffix) ||
          p->suffix == kSnapshotSuffix) {
        continue;
      }
      if (p->base >= base && (p->base < end || p->base == base)) {
        RETURN_IF_ERROR(fs->Remove(dir + "/" + other));
      }
    }
    for (auto kind : {kIndexSuffix, kTimeIndexSuffix, kLogSuffix}) {
      std::string live = SegmentFileName(dir, base, kind);
      std::string swap = live + std::string(kSwapFileSuffix);
      if (fs->Exists(swap)) RETURN_IF_ERROR(fs->Rename(swap, live));
    }
    spdlog::warn("{}: completed an interrupted cleaner swap of [{}, {})", dir,
                 base.value(), end.value());
  }
  // Index .swap files without their .log.swap were never committed.
  ASSIGN_OR_RETURN(names, fs->ListDir(dir));
  for (const auto& name : names) {
    if (HasSuffix(name, kSwapFileSuffix)) {
      RETURN_IF_ERROR(fs->Remove(dir + "/" + name));
    }
  }
  if (!swaps.empty()) RETURN_IF_ERROR(fs->SyncDir(dir));
  return static_cast<int>(swaps.size());
}

Log::Log(std::string dir, const LogConfig& config, const LogOptions& options)
    : dir_(std::move(dir)),
      options_(options),
      config_(config),
      producers_(options.producer_budget) {}

Log::~Log() = default;

absl::StatusOr<std::unique_ptr<Log>> Log::Open(
    const std::string& dir, const LogConfig& config, const LogOptions& options,
    const RecoveryPoint& rp_in, bool clean_shutdown, OpenReport* report) {
  RETURN_IF_ERROR(config.Validate());
  OpenReport local_report;
  if (report == nullptr) report = &local_report;
  *report = OpenReport{};
  auto started = std::chrono::steady_clock::now();
  FileSystem* fs = options.fs;
  RETURN_IF_ERROR(fs->CreateDir(dir));
  std::unique_ptr<Log> log(new Log(dir, config, options));

  ASSIGN_OR_RETURN(int swaps, CompleteInterruptedFileOps(fs, dir));
  report->swaps_completed = swaps;
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::vector<Offset> bases;
  for (const auto& name : names) {
    auto parsed = ParseSegmentFileName(name);
    if (parsed && parsed->suffix == kLogSuffix) bases.push_back(parsed->base);
  }
  // Index files whose .log is gone (a crash during segment deletion) are
  // removed so a later segment at the same base starts clean.
  for (const auto& name : names) {
    auto parsed = ParseSegmentFileName(name);
    if (parsed && parsed->suffix != kLogSuffix &&
        parsed->suffix != kSnapshotSuffix &&
        std::find(bases.begin(), bases.end(), parsed->base) == bases.end()) {
      RETURN_IF_ERROR(fs->Remove(dir + "/" + name));
    }
  }
  std::sort(bases.begin(), bases.end());

  // A recovery point naming a segment that no longer exists (deleted by a
  // truncation or replaced by the cleaner after the checkpoint was written)
  // vouches only for segments below the one now in its place.
  RecoveryPoint rp = rp_in;
  if (!clean_shutdown && !bases.empty() &&
      std::find(bases.begin(), bases.end(), rp.segment_base) == bases.end()) {
    auto floor = std::lower_bound(bases.begin(), bases.end(), rp.segment_base);
    Offset trust_below =
        floor == bases.begin() ? bases.front() : *std::prev(floor);
    rp = RecoveryPoint{trust_below, trust_below, 0};
  }

  absl::MutexLock lock(&log->mu_);
  const SegmentConfig seg_config = config.segment_config();
  const int64_t now = options.clock->NowMs();
  bool gap = false;
  for (size_t i = 0; i < bases.size(); i++) {
    const Offset base = bases[i];
    const bool last = i + 1 == bases.size();
    if (gap) {
      // Keeping them would leave a hole in the offsets.
      spdlog::error(
          "{}: dropping unflushed segment {} that follows a "
          "segment cut short by recovery",
          dir, base.value());
      std::string p = SegmentFileName(dir, base, kLogSuffix);
      RETURN_IF_ERROR(fs->Remove(p));
      for (auto sfx : {kIndexSuffix, kTimeIndexSuffix}) {
        std::string ip = SegmentFileName(dir, base, sfx);
        if (fs->Exists(ip)) RETURN_IF_ERROR(fs->Remove(ip));
      }
      report->segments_dropped++;
      continue;
    }
    uint64_t trusted_end = std::numeric_limits<uint64_t>::max();
    bool recover = false;
    if (!clean_shutdown) {
      if (base == rp.segment_base) {
        trusted_end = rp.position;
        recover = true;
      } else if (base > rp.segment_base) {
        trusted_end = 0;
        recover = true;
      }
    }
    RecoveryStats stats;
    std::optional<Offset> expect;
    if (!clean_shutdown && base == rp.segment_base) expect = rp.offset;
    ASSIGN_OR_RETURN(
        auto seg, Segment::Open(fs, dir, base, seg_config, trusted_end, recover,
                                last, &stats, expect));
    if (!log->segments_.empty()) {
      const Segment& prev = *log->segments_.rbegin()->second;
      if (base < prev.next_offset()) {
        if (!recover) {
          return absl::DataLossError(absl::StrFormat(
              "%s: segment %d overlaps the previous segment, which ends at "
              "offset %d",
              dir, base.value(), prev.next_offset().value()));
        }
        // Unflushed, and contradicting what came before it (a file whose
        // deletion was lost in a crash): it and what follows go.
        spdlog::error(
            "{}: dropping unflushed segment {} that overlaps the "
            "previous one",
            dir, base.value());
        RETURN_IF_ERROR(seg->Delete());
        report->segments_dropped++;
        gap = true;
        continue;
      }
    }
    report->recovered |= recover;
    report->bytes_scanned += stats.bytes_scanned;
    report->bytes_truncated += stats.bytes_truncated;
    report->bytes += seg->size();
    // A recovered segment that now ends before the next one begins lost its
    // tail (torn, corrupt, or never synced before a crash): the later
    // segments hold only data written after that loss, never flushed.
    if (recover && !last && bases[i + 1] != seg->next_offset()) gap = true;
    if (last && seg->empty()) seg->set_roll_base_ms(now);
    log->segments_.emplace(base, std::move(seg));
  }
  if (log->segments_.empty()) {
    Offset base = clean_shutdown ? Offset(0) : rp.offset;
    if (base < Offset(0)) base = Offset(0);
    ASSIGN_OR_RETURN(auto seg, Segment::Create(fs, dir, base, seg_config, now));
    log->segments_.emplace(base, std::move(seg));
  } else if (gap) {
    // The cut segment is now the last one: make it appendable.
    RETURN_IF_ERROR(log->active().Activate());
  }
  report->segments = static_cast<int>(log->segments_.size());
  if (clean_shutdown) {
    log->recovery_point_ =
        RecoveryPoint{log->active().next_offset(), log->active().base(),
                      log->active().size()};
  } else {
    // What recovery kept is now the log: make it durable and move the
    // recovery point past it so the next crash does not scan it again.
    RETURN_IF_ERROR(log->FlushLocked());
  }
  RETURN_IF_ERROR(log->RebuildProducerStateLocked(report));
  RETURN_IF_ERROR(log->LoadEpochsLocked());
  if (report->recovered) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    spdlog::info(
        "{}: recovered {} segments ({} bytes) in {} ms: scanned {} "
        "unflushed bytes, discarded {} torn/corrupt bytes",
        dir, report->segments, report->bytes, ms, report->bytes_scanned,
        report->bytes_truncated);
  }
  return log;
}

bool Log::ShouldTimeRoll() const {
  const Segment& a = active_const();
  return config_.segment_ms > 0 && !a.empty() &&
         options_.clock->NowMs() - a.roll_base_ms() >= config_.segment_ms;
}

absl::StatusOr<AppendInfo> Log::Append(std::span<uint8_t> records) {
  bool flush_due = false;
  absl::StatusOr<AppendInfo> info;
  {
    absl::MutexLock lock(&mu_);
    info = AppendLocked(records, &flush_due);
  }
  if (flush_due) {
    // The append itself succeeded; a failed flush is reported but the
    // data stays appended (and is retried by the next flush).
    absl::Status s = Flush();
    if (!s.ok()) spdlog::error("{}: flush failed: {}", dir_, s.message());
  }
  return info;
}

absl::StatusOr<AppendInfo> Log::AppendLocked(std::span<uint8_t> records,
                                             bool* flush_due) {
  if (records.empty()) {
    return absl::InvalidArgumentError("empty record set: nothing to append");
  }
  if (closed_) return absl::FailedPreconditionError("log is closed: " + dir_);
  if (role_ == Role::kFollower) {
    return absl::FailedPreconditionError(
        "this replica is a follower: only the leader appends: " + dir_);
  }

  AppendInfo info;
  info.append_time_ms = options_.clock->NowMs();
  Offset next = active().next_offset();
  info.first_offset = next;
  producers_.BeginCheck();
  RETURN_IF_ERROR(ForEachBatch(
      records, [&](const BatchHeader& h, std::span<const uint8_t> batch) {
        if (static_cast<int64_t>(batch.size()) > config_.max_message_bytes) {
          return absl::InvalidArgumentError(
              absl::StrFormat("batch of %d bytes exceeds max.message.bytes %d",
                              batch.size(), config_.max_message_bytes));
        }
        if (h.record_count == 0) {
          return absl::InvalidArgumentError("batch with no records");
        }
        RETURN_IF_ERROR(producers_.CheckBatch(h, next));
        info.batches++;
        info.max_timestamp = std::max(info.max_timestamp, h.max_timestamp);
        next = next + (static_cast<int64_t>(h.last_offset_delta) + 1);
        return absl::OkStatus();
      }));
  info.last_offset = next - 1;
  info.bytes = records.size();
  ASSIGN_OR_RETURN(std::optional<DuplicateOf> duplicate,
                   producers_.FinishCheck());
  if (duplicate) {
    info.duplicate = true;
    info.first_offset = duplicate->first_offset;
    info.last_offset = duplicate->last_offset;
    info.bytes = 0;
    return info;
  }

  if (!active().HasRoomFor(records.size(), info.last_offset) ||
      ShouldTimeRoll()) {
    RETURN_IF_ERROR(RollLocked());
  }
  // Stamp offsets only now that the append will be attempted; a retry
  // restamps them.
  Offset base = info.first_offset;
  for (size_t pos = 0; pos < records.size();) {
    auto h = ParseBatchHeader(records.data() + pos, records.size() - pos);
    StampBaseOffset(records.subspan(pos), base);
    if (role_ == Role::kLeader) {
      StampPartitionLeaderEpoch(records.subspan(pos), role_epoch_.value());
    }
    base = base + (static_cast<int64_t>(h->last_offset_delta) + 1);
    pos += h->size_bytes();
  }
  RETURN_IF_ERROR(active().Append(records, info.append_time_ms));
  producers_.CommitCheck(info.append_time_ms);

  if (unflushed_bytes_ == 0) first_unflushed_ms_ = info.append_time_ms;
  unflushed_bytes_ += records.size();
  // flush.ms is the LogManager's flusher's (MaybeFlush); flush.bytes is
  // applied here, by the appender, once the lock is released.
  *flush_due = config_.flush_bytes > 0 &&
               unflushed_bytes_ >= static_cast<uint64_t>(config_.flush_bytes);
  return info;
}

absl::Status Log::RollLocked() {
  Segment& old = active();
  if (old.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      auto seg,
      Segment::Create(options_.fs, dir_, old.next_offset(),
                      config_.segment_config(), options_.clock->NowMs()));
  absl::Status sealed = old.Seal();
  if (!sealed.ok()) {
    // The data is intact; an untrimmed file is handled on recovery.
    spdlog::error("{}: sealing segment {} failed: {}", dir_, old.base().value(),
                  sealed.message());
  }
  Offset base = seg->base();
  segments_.emplace(base, std::move(seg));
  // The new file's name must be durable before a checkpoint can name it.
  RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
  // The state as of the new segment's base. Failing to write it costs only
  // a longer replay after a crash, never correctness.
  absl::Status snap = WriteSnapshotLocked();
  if (!snap.ok()) {
    spdlog::error("{}: writing the producer-state snapshot at {} failed: {}",
                  dir_, base.value(), snap.message());
  }
  return absl::OkStatus();
}

absl::Status Log::Roll() {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError("log is closed: " + dir_);
  return RollLocked();
}

absl::Status Log::DeleteSegmentLocked(Offset base) {
  auto it = segments_.find(base);
  if (it == segments_.end()) return absl::OkStatus();
  std::unique_ptr<Segment> seg = std::move(it->second);
  segments_.erase(it);
  RETURN_IF_ERROR(seg->MarkDeleted());
  return seg->Delete();
}

absl::StatusOr<int> Log::ApplyRetention() {
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  if (closed_ || !config_.cleanup_delete) return 0;
  const int64_t now = options_.clock->NowMs();
  const int64_t retention_ms = config_.retention_ms;
  auto expired = [&](const Segment& seg) {
    return retention_ms >= 0 && !seg.empty() &&
           now - seg.retention_time_ms() > retention_ms;
  };
  // When everything sealed is gone and the active segment alone is
  // expired, roll it so it can go too.
  if (segments_.size() == 1 && expired(active())) RETURN_IF_ERROR(RollLocked());
  int deleted = 0;
  // Time: oldest first, stopping at the first segment still retained, so
  // the retained range never has a hole.
  while (segments_.size() > 1 && expired(*segments_.begin()->second)) {
    RETURN_IF_ERROR(DeleteSegmentLocked(segments_.begin()->first));
    deleted++;
  }
  // Size: drop the oldest while what remains is still at least the limit.
  if (config_.retention_bytes >= 0) {
    uint64_t total = 0;
    for (const auto& [base, seg] : segments_) total += seg->size();
    while (segments_.size() > 1) {
      uint64_t oldest = segments_.begin()->second->size();
      if (total < oldest ||
          total - oldest < static_cast<uint64_t>(config_.retention_bytes) ||
          total <= static_cast<uint64_t>(config_.retention_bytes)) {
        break;
      }
      RETURN_IF_ERROR(DeleteSegmentLocked(segments_.begin()->first));
      total -= oldest;
      deleted++;
    }
  }
  if (deleted > 0) {
    RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
    spdlog::info("{}: retention deleted {} segments; log start is now {}", dir_,
                 deleted, segments_.begin()->first.value());
    // Snapshots below the new log start are of no more use, except the
    // newest: the producer state lives on in it (it is never below the
    // log start when each roll wrote one).
    ASSIGN_OR_RETURN(std::vector<Offset> snaps, ListSnapshotsLocked());
    const Offset start = segments_.begin()->first;
    if (epochs_.TruncateFromStart(start)) {
      absl::Status written = WriteEpochsLocked();
      if (!written.ok()) {
        // Stale entries below the log start answer no question wrongly.
        spdlog::error("{}: writing the leader-epoch checkpoint: {}", dir_,
                      written.message());
      }
    }
    if (!snaps.empty()) {
      const Offset newest = snaps.back();
      ASSIGN_OR_RETURN(int removed, RemoveSnapshotsLocked([&](Offset o) {
                         return o < start && o != newest;
                       }));
      (void)removed;
    }
  }
  return deleted;
}

std::vector<SegmentView> Log::SealedSegments() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<SegmentView> out;
  for (auto it = segments_.begin(); std::next(it) != segments_.end(); ++it) {
    const Segment& seg = *it->second;
    out.push_back(SegmentView{seg.base(), seg.next_offset(), seg.size(),
                              seg.last_append_ms(), seg.max_timestamp(),
                              seg.mapping()});
  }
  return out;
}

absl::Status Log::ReplaceSegments(const std::vector<SegmentView>& group) {
  if (group.empty()) return absl::InvalidArgumentError("empty group");
  FileSystem* fs = options_.fs;
  const Offset base = group.front().base;
  auto cleaned = [&](std::string_view kind) {
    return SegmentFileName(dir_, base, kind) + std::string(kCleanedFileSuffix);
  };
  auto swap = [&](std::string_view kind) {
    return SegmentFileName(dir_, base, kind) + std::string(kSwapFileSuffix);
  };
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  // The group must be exactly the segments the cleaner read (same mapping:
  // a truncation into a segment and a refill would keep size and offsets),
  // and still sealed.
  bool intact = !closed_;
  for (const SegmentView& v : group) {
    auto it = segments_.find(v.base);
    intact = intact && it != segments_.end() &&
             std::next(it) != segments_.end() && it->second->size() == v.size &&
             it->second->next_offset() == v.next &&
             it->second->mapping() == v.mapping;
  }
  if (!intact) {
    for (auto kind : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
      (void)fs->Remove(cleaned(kind));
    }
    return absl::AbortedError(
        "segments changed while being cleaned; output discarded");
  }
  // Commit: only now, under the lock and with the group verified, do the
  // cleaned files become .swap (the .log last).
  for (auto kind : {kIndexSuffix, kTimeIndexSuffix, kLogSuffix}) {
    RETURN_IF_ERROR(fs->Rename(cleaned(kind), swap(kind)));
  }
  RETURN_IF_ERROR(fs->SyncDir(dir_));
  // Past the commit point a failure leaves memory and disk apart: stop
  // using the log (a restart completes the swap from the files).
  absl::Status s = [&]() -> absl::Status {
    for (const SegmentView& v : group) {
      RETURN_IF_ERROR(segments_.find(v.base)->second->MarkDeleted());
    }
    RETURN_IF_ERROR(fs->SyncDir(dir_));
    for (auto kind : {kIndexSuffix, kTimeIndexSuffix, kLogSuffix}) {
      RETURN_IF_ERROR(
          fs->Rename(swap(kind), SegmentFileName(dir_, base, kind)));
    }
    RETURN_IF_ERROR(fs->SyncDir(dir_));
    RecoveryStats stats;
    ASSIGN_OR_RETURN(
        auto fresh, Segment::Open(fs, dir_, base, config_.segment_config(),
                                  std::numeric_limits<uint64_t>::max(),
                                  /*recover=*/false, /*active=*/false, &stats));
    for (const SegmentView& v : group) {
      auto it = segments_.find(v.base);
      std::unique_ptr<Segment> old = std::move(it->second);
      segments_.erase(it);
      RETURN_IF_ERROR(old->Delete());
    }
    segments_.emplace(base, std::move(fresh));
    // A recovery point inside the replaced range no longer matches the
    // files.
    if (recovery_point_.segment_base >= base &&
        recovery_point_.segment_base < group.back().next) {
      RETURN_IF_ERROR(FlushLocked());
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    closed_ = true;
    spdlog::error(
        "{}: replacing cleaned segments failed after the commit "
        "point ({}); the log is closed until a restart completes "
        "the swap",
        dir_, s.message());
  }
  return s;
}

absl::Status Log::FlushLocked() {
  for (auto it = segments_.lower_bound(recovery_point_.segment_base);
       it != segments_.end(); ++it) {
    RETURN_IF_ERROR(it->second->Flush());
  }
  recovery_point_ =
      RecoveryPoint{active().next_offset(), active().base(), active().size()};
  unflushed_bytes_ = 0;
  return absl::OkStatus();
}

absl::Status Log::Flush(Offset* flushed) {
  absl::MutexLock flush_lock(&flush_mu_);
  // What has been appended so far, and where it lies.
  std::vector<std::pair<Segment*, Segment::FlushPoint>> points;
  RecoveryPoint target;
  uint64_t covered_bytes;
  int64_t started_ms;
  {
    absl::MutexLock lock(&mu_);
    if (segments_.empty()) {
      return absl::NotFoundError("log was deleted: " + dir_);
    }
    target =
        RecoveryPoint{active().next_offset(), active().base(), active().size()};
    if (flushed != nullptr) *flushed = target.offset;
    for (auto it = segments_.lower_bound(recovery_point_.segment_base);
         it != segments_.end(); ++it) {
      points.emplace_back(it->second.get(), it->second->PrepareFlush());
    }
    covered_bytes = unflushed_bytes_;
    started_ms = options_.clock->NowMs();
  }
  // Without mu_: appends go on; flush_mu_ keeps these segments alive and
  // their files and mappings in place.
  for (const auto& [seg, point] : points) {
    RETURN_IF_ERROR(Segment::SyncFlushPoint(point));
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [seg, point] : points) seg->MarkFlushed(point);
  if (target.offset > recovery_point_.offset) recovery_point_ = target;
  // Appends made during the sync stay unflushed; the oldest of them is no
  // older than the flush's start.
  unflushed_bytes_ -= std::min(unflushed_bytes_, covered_bytes);
  if (unflushed_bytes_ > 0) first_unflushed_ms_ = started_ms;
  return absl::OkStatus();
}

absl::Status Log::MaybeFlush() {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (unflushed_bytes_ == 0 || config_.flush_ms < 0) {
      return absl::OkStatus();
    }
    if (options_.clock->NowMs() - first_unflushed_ms_ < config_.flush_ms) {
      return absl::OkStatus();
    }
  }
  return Flush();
}

absl::StatusOr<ReadResult> Log::Read(Offset start, size_t max_bytes,
                                     std::optional<Offset> max_offset) const {
  absl::ReaderMutexLock lock(&mu_);
  const Offset log_start = segments_.begin()->second->base();
  const Offset log_end = active_const().next_offset();
  if (start < log_start || start > log_end) {
    return absl::OutOfRangeError(
        absl::StrFormat("offset %d is outside the log's range [%d, %d]",
                        start.value(), log_start.value(), log_end.value()));
  }
  const Offset limit = max_offset ? std::min(*max_offset, log_end) : log_end;
  ReadResult result;
  result.log_start_offset = log_start;
  result.log_end_offset = log_end;
  result.next_offset = start;
  if (start >= limit) return result;
  auto it = std::prev(segments_.upper_bound(start));
  for (; it != segments_.end(); ++it) {
    const Segment& seg = *it->second;
    ASSIGN_OR_RETURN(SegmentSlice slice,
                     seg.Read(std::max(start, seg.base()), max_bytes, limit,
                              config_.verify_crc_on_read));
    // Stop here if this segment holds a batch at or after `start` (even one
    // held back by `limit`); move on only past segments that end before it.
    if (!slice.bytes.empty() || seg.next_offset() > start) {
      result.mapping = std::move(slice.mapping);
      result.bytes = slice.bytes;
      result.next_offset = slice.bytes.empty() ? start : slice.next;
      return result;
    }
  }
  return result;
}

absl::StatusOr<std::optional<std::pair<Offset, int64_t>>>
Log::FindOffsetByTimestamp(int64_t ts) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [base, seg] : segments_) {
    if (seg->max_timestamp() < ts) continue;
    ASSIGN_OR_RETURN(auto found, seg->FindByTimestamp(ts));
    if (found) return found;
  }
  return std::nullopt;
}

Offset Log::log_start_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return segments_.begin()->second->base();
}

Offset Log::log_end_offset() const {
  absl::ReaderMutexLock lock(&mu_);
  return active_const().next_offset();
}

uint64_t Log::size_bytes() const {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [base, seg] : segments_) total += seg->size();
  return total;
}

int Log::segment_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<int>(segments_.size());
}

RecoveryPoint Log::recovery_point() const {
  absl::ReaderMutexLock lock(&mu_);
  return recovery_point_;
}

uint64_t Log::unflushed_bytes() const {
  absl::ReaderMutexLock lock(&mu_);
  return unflushed_bytes_;
}

absl::StatusOr<Offset> Log::Truncate(Offset offset) {
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  return TruncateLocked(offset);
}

absl::StatusOr<Offset> Log::TruncateLocked(Offset offset) {
  if (closed_) return absl::FailedPreconditionError("log is closed: " + dir_);
  if (offset >= active().next_offset()) return active().next_offset();
  // Snapshots past the cut describe batches about to go; they must be gone
  // (durably) before anything is appended in their place.
  ASSIGN_OR_RETURN(int dropped_snapshots,
                   RemoveSnapshotsLocked([&](Offset o) { return o > offset; }));
  (void)dropped_snapshots;
  // Drop whole segments at or after `offset`, newest first, keeping at least
  // the first one.
  bool deleted = false;
  while (segments_.size() > 1 && segments_.rbegin()->first >= offset) {
    RETURN_IF_ERROR(DeleteSegmentLocked(segments_.rbegin()->first));
    deleted = true;
  }
  if (deleted) RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
  Segment& seg = active();
  RETURN_IF_ERROR(seg.Activate());
  RETURN_IF_ERROR(seg.TruncateTo(offset));
  if (seg.empty()) seg.set_roll_base_ms(options_.clock->NowMs());
  if (recovery_point_.offset > seg.next_offset() ||
      recovery_point_.segment_base > seg.base()) {
    recovery_point_ = RecoveryPoint{seg.base(), seg.base(), 0};
  }
  RETURN_IF_ERROR(FlushLocked());
  // A batch straddling `offset` went whole: drop what lies past the new end
  // too, then rebuild the producer state from what remains.
  const Offset end = seg.next_offset();
  ASSIGN_OR_RETURN(dropped_snapshots,
                   RemoveSnapshotsLocked([&](Offset o) { return o > end; }));
  RETURN_IF_ERROR(RebuildProducerStateLocked(nullptr));
  if (epochs_.TruncateFromEnd(end)) RETURN_IF_ERROR(WriteEpochsLocked());
  return end;
}

absl::Status Log::SetConfig(const LogConfig& config) {
  RETURN_IF_ERROR(config.Validate());
  absl::MutexLock lock(&mu_);
  config_ = config;
  return absl::OkStatus();
}

LogConfig Log::config() const {
  absl::ReaderMutexLock lock(&mu_);
  return config_;
}

absl::Status Log::Close() {
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::OkStatus();
  RETURN_IF_ERROR(FlushLocked());
  RETURN_IF_ERROR(active().Seal());
  // After the flush: the snapshot never describes data that is not durable.
  // Without it the next open replays from an older one: slower, not wrong,
  // so a failure (a full disk) does not fail the shutdown.
  absl::Status snap = WriteSnapshotLocked();
  if (!snap.ok()) {
    spdlog::error(
        "{}: writing the producer-state snapshot at close failed: "
        "{}",
        dir_, snap.message());
  }
  closed_ = true;
  return absl::OkStatus();
}

void Log::Abandon() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

absl::Status Log::DeleteFiles() {
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  closed_ = true;
  producers_.Clear();
  for (auto& [base, seg] : segments_) RETURN_IF_ERROR(seg->Delete());
  segments_.clear();
  return options_.fs->RemoveAll(dir_);
}

// ------------------------------------------------------ producer state

absl::StatusOr<std::vector<Offset>> Log::ListSnapshotsLocked() const {
  ASSIGN_OR_RETURN(std::vector<std::string> names, options_.fs->ListDir(dir_));
  std::vector<Offset> out;
  for (const auto& name : names) {
    auto parsed = ParseSegmentFileName(name);
    if (parsed && parsed->suffix == kSnapshotSuffix)
      out.push_back(parsed->base);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Offset> Log::SnapshotOffsets() const {
  absl::ReaderMutexLock lock(&mu_);
  auto snaps = ListSnapshotsLocked();
  return snaps.ok() ? *std::move(snaps) : std::vector<Offset>{};
}

absl::StatusOr<int> Log::RemoveSnapshotsLocked(
    absl::FunctionRef<bool(Offset)> drop) {
  ASSIGN_OR_RETURN(std::vector<Offset> snaps, ListSnapshotsLocked());
  int removed = 0;
  for (Offset o : snaps) {
    if (!drop(o)) continue;
    absl::Status s =
        options_.fs->Remove(SegmentFileName(dir_, o, kSnapshotSuffix));
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    removed++;
  }
  if (removed > 0) RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
  return removed;
}

absl::Status Log::WriteSnapshotLocked() {
  const Offset end = active().next_offset();
  RETURN_IF_ERROR(options_.fs->WriteFileAtomically(
      SegmentFileName(dir_, end, kSnapshotSuffix),
      producers_.EncodeSnapshot(end)));
  ASSIGN_OR_RETURN(std::vector<Offset> snaps, ListSnapshotsLocked());
  if (snaps.size() > kSnapshotsKept) {
    const Offset oldest_kept = snaps[snaps.size() - kSnapshotsKept];
    ASSIGN_OR_RETURN(int removed, RemoveSnapshotsLocked([&](Offset o) {
                       return o < oldest_kept;
                     }));
    (void)removed;
  }
  return absl::OkStatus();
}

absl::Status Log::RebuildProducerStateLocked(OpenReport* report) {
  const Offset log_start = segments_.begin()->first;
  const Offset log_end = active().next_offset();
  // Snapshots past the end describe batches that are gone (lost in a crash
  // or truncated): remove them before anything is appended in their place.
  ASSIGN_OR_RETURN(
      int beyond, RemoveSnapshotsLocked([&](Offset o) { return o > log_end; }));
  if (beyond > 0) {
    spdlog::warn("{}: removed {} producer-state snapshots past the log end {}",
                 dir_, beyond, log_end.value());
  }
  ASSIGN_OR_RETURN(std::vector<Offset> snaps, ListSnapshotsLocked());
  std::optional<Offset> loaded;
  for (auto it = snaps.rbegin(); it != snaps.rend() && !loaded; ++it) {
    const std::string path = SegmentFileName(dir_, *it, kSnapshotSuffix);
    absl::StatusOr<Offset> end = absl::DataLossError("unreadable");
    auto bytes = options_.fs->ReadFile(path);
    if (bytes.ok()) end = producers_.LoadSnapshot(*bytes);
    if (bytes.ok() && end.ok() && *end != *it) {
      end = absl::DataLossError(
          absl::StrFormat("it says it reflects offset %d, its name %d",
                          end->value(), it->value()));
    }
    if (end.ok()) {
      loaded = *it;
      break;
    }
    const absl::Status& why = bytes.ok() ? end.status() : bytes.status();
    spdlog::error(
        "{}: producer-state snapshot {} is unusable ({}); "
        "removing it and rebuilding from an older one or the log",
        dir_, path, why.message());
    RETURN_IF_ERROR(options_.fs->Remove(path));
    RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
    if (report != nullptr) report->corrupt_snapshots++;
  }
  if (!loaded) producers_.Clear();
  Offset from = loaded ? std::max(*loaded, log_start) : log_start;
  if (loaded && *loaded < log_start) {
    spdlog::warn(
        "{}: the newest producer-state snapshot ({}) is below the "
        "log start {}; producers seen only in between are lost",
        dir_, loaded->value(), log_start.value());
  }
  uint64_t replayed = 0;
  const int64_t now = options_.clock->NowMs();
  for (auto it = std::prev(segments_.upper_bound(from)); it != segments_.end();
       ++it) {
    const Segment& seg = *it->second;
    // Per-batch append times are not stored: the segment's last append
    // time bounds them from above, so nothing expires too early.
    const int64_t t = seg.last_append_ms() > 0 ? seg.last_append_ms() : now;
    seg.ForEachBatchHeader(from, [&](const BatchHeader& h) {
      producers_.Replay(h, t);
      replayed++;
    });
  }
  if (report != nullptr) {
    report->producer_snapshot = loaded;
    report->producer_batches_replayed = replayed;
  }
  return absl::OkStatus();
}

int Log::ExpireProducers(int64_t max_idle_ms) {
  absl::MutexLock lock(&mu_);
  return producers_.ExpireIdle(options_.clock->NowMs(), max_idle_ms);
}

int Log::EvictProducers(int64_t up_to_ms, int64_t limit) {
  absl::MutexLock lock(&mu_);
  return producers_.EvictLeastRecentlyUsed(up_to_ms, limit);
}

void Log::CollectProducerAppendTimes(std::vector<int64_t>* out) const {
  absl::ReaderMutexLock lock(&mu_);
  producers_.CollectLastAppendTimes(out);
}

size_t Log::producer_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return producers_.size();
}

std::optional<ProducerInfo> Log::producer(ProducerId id) const {
  absl::ReaderMutexLock lock(&mu_);
  return producers_.Get(id);
}

// ------------------------------------------------------------ replication

absl::Status Log::BecomeLeader(LeaderEpoch epoch) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError("log is closed: " + dir_);
  if (epoch < LeaderEpoch(0)) {
    return absl::InvalidArgumentError("a leader epoch is >= 0");
  }
  // Written before any batch of the epoch, so the history on disk never
  // lacks an epoch that a batch carries.
  LeaderEpochCache before = epochs_;
  if (epochs_.Assign(epoch, active().next_offset())) {
    absl::Status s = WriteEpochsLocked();
    if (!s.ok()) {
      epochs_ = std::move(before);
      return s;
    }
  }
  role_ = Role::kLeader;
  role_epoch_ = epoch;
  return absl::OkStatus();
}

void Log::BecomeFollower(LeaderEpoch epoch) {
  absl::MutexLock lock(&mu_);
  role_ = Role::kFollower;
  role_epoch_ = epoch;
}

void Log::BecomeStandalone() {
  absl::MutexLock lock(&mu_);
  role_ = Role::kStandalone;
  role_epoch_ = kNoLeaderEpoch;
}

bool Log::is_leader() const {
  absl::ReaderMutexLock lock(&mu_);
  return role_ == Role::kLeader;
}

LeaderEpoch Log::role_epoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return role_epoch_;
}

absl::Status Log::CheckFollowerLocked(LeaderEpoch epoch) const {
  if (closed_) return absl::FailedPreconditionError("log is closed: " + dir_);
  if (role_ != Role::kFollower || role_epoch_ != epoch) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: not a follower under leader epoch %d (role changed)", dir_,
        epoch.value()));
  }
  return absl::OkStatus();
}

absl::StatusOr<AppendInfo> Log::AppendAsFollower(
    std::span<const uint8_t> records, LeaderEpoch epoch) {
  if (records.empty()) {
    return absl::InvalidArgumentError("empty record set: nothing to append");
  }
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckFollowerLocked(epoch));
  AppendInfo info;
  info.append_time_ms = options_.clock->NowMs();
  const Offset log_end = active().next_offset();
  // Gaps between batches are legitimate only where the leader's cleaner
  // removed whole batches.
  const bool gaps_allowed = config_.cleanup_compact;
  Offset expect = log_end;
  LeaderEpochCache epochs = epochs_;
  RETURN_IF_ERROR(ForEachBatch(
      records, [&](const BatchHeader& h, std::span<const uint8_t>) {
        if (h.base() < expect || (!gaps_allowed && h.base() != expect)) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s: a replicated batch at offset %d does not follow offset %d",
              dir_, h.base_offset, expect.value() - 1));
        }
        if (info.batches == 0) info.first_offset = h.base();
        info.batches++;
        info.last_offset = h.last();
        info.max_timestamp = std::max(info.max_timestamp, h.max_timestamp);
        if (h.partition_leader_epoch >= 0) {
          const LeaderEpoch e(h.partition_leader_epoch);
          if (!epochs.latest_epoch() || e > *epochs.latest_epoch()) {
            epochs.Assign(e, h.base());
          }
        }
        expect = h.last() + 1;
        return absl::OkStatus();
      }));
  info.bytes = records.size();
  // The history first: it must never lack an epoch that a batch carries.
  if (epochs.entries() != epochs_.entries()) {
    LeaderEpochCache before = std::move(epochs_);
    epochs_ = std::move(epochs);
    absl::Status s = WriteEpochsLocked();
    if (!s.ok()) {
      epochs_ = std::move(before);
      return s;
    }
  }
  // Runs of batches that fit the active segment, rolling in between.
  size_t run_start = 0;
  Offset run_last;
  for (size_t pos = 0; pos < records.size();) {
    auto h = ParseBatchHeader(records.data() + pos, records.size() - pos);
    const uint64_t run_bytes = pos + h->size_bytes() - run_start;
    if (pos > run_start && !active().HasRoomFor(run_bytes, h->last())) {
      RETURN_IF_ERROR(
          AppendRunLocked(records.subspan(run_start, pos - run_start), run_last,
                          info.append_time_ms));
      run_start = pos;
    }
    run_last = h->last();
    pos += h->size_bytes();
  }
  RETURN_IF_ERROR(AppendRunLocked(records.subspan(run_start), run_last,
                                  info.append_time_ms));
  return info;
}

absl::Status Log::AppendRunLocked(std::span<const uint8_t> run, Offset last,
                                  int64_t now_ms) {
  if (!active().HasRoomFor(run.size(), last) || ShouldTimeRoll()) {
    RETURN_IF_ERROR(RollLocked());
  }
  RETURN_IF_ERROR(active().Append(run, now_ms));
  for (size_t pos = 0; pos < run.size();) {
    auto h = ParseBatchHeader(run.data() + pos, run.size() - pos);
    producers_.Replay(*h, now_ms);
    pos += h->size_bytes();
  }
  NoteAppendedLocked(run.size(), now_ms);
  return absl::OkStatus();
}

void Log::NoteAppendedLocked(uint64_t bytes, int64_t now_ms) {
  if (unflushed_bytes_ == 0) first_unflushed_ms_ = now_ms;
  unflushed_bytes_ += bytes;
  const bool by_bytes =
      config_.flush_bytes > 0 &&
      unflushed_bytes_ >= static_cast<uint64_t>(config_.flush_bytes);
  const bool by_time =
      config_.flush_ms >= 0 && now_ms - first_unflushed_ms_ >= config_.flush_ms;
  if (by_bytes || by_time) {
    absl::Status s = FlushLocked();
    if (!s.ok()) spdlog::error("{}: flush failed: {}", dir_, s.message());
  }
}

absl::StatusOr<Offset> Log::TruncateAsFollower(Offset offset,
                                               LeaderEpoch epoch) {
  // flush_mu_ first: a flush syncing outside mu_ must not see segments
  // deleted or truncated under it.
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckFollowerLocked(epoch));
  return TruncateLocked(offset);
}

absl::Status Log::TruncateFullyAndStartAt(Offset start, LeaderEpoch epoch) {
  // flush_mu_ first: a flush syncing outside mu_ must not see segments
  // deleted or truncated under it.
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckFollowerLocked(epoch));
  if (start < Offset(0)) return absl::InvalidArgumentError("negative offset");
  // Snapshots describe batches about to go.
  ASSIGN_OR_RETURN(int dropped,
                   RemoveSnapshotsLocked([](Offset) { return true; }));
  (void)dropped;
  while (segments_.size() > 1) {
    RETURN_IF_ERROR(DeleteSegmentLocked(segments_.rbegin()->first));
  }
  const Offset old_base = segments_.begin()->first;
  if (old_base == start) {
    Segment& seg = active();
    RETURN_IF_ERROR(seg.Activate());
    RETURN_IF_ERROR(seg.TruncateTo(start));
    seg.set_roll_base_ms(options_.clock->NowMs());
  } else {
    // The new segment first, so the log always has one.
    ASSIGN_OR_RETURN(auto seg, Segment::Create(options_.fs, dir_, start,
                                               config_.segment_config(),
                                               options_.clock->NowMs()));
    std::unique_ptr<Segment> old = std::move(segments_.begin()->second);
    segments_.clear();
    segments_.emplace(start, std::move(seg));
    RETURN_IF_ERROR(old->MarkDeleted());
    RETURN_IF_ERROR(old->Delete());
  }
  RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
  recovery_point_ = RecoveryPoint{start, start, 0};
  RETURN_IF_ERROR(FlushLocked());
  producers_.Clear();
  epochs_.Clear();
  RETURN_IF_ERROR(WriteEpochsLocked());
  spdlog::warn(
      "{}: emptied and restarted at offset {} (the leader's log "
      "starts there)",
      dir_, start.value());
  return absl::OkStatus();
}

EpochEndOffset Log::EndOffsetForEpoch(LeaderEpoch epoch) const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_.EndOffsetFor(epoch, active_const().next_offset());
}

std::optional<LeaderEpoch> Log::latest_epoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_.latest_epoch();
}

std::vector<EpochEntry> Log::epoch_entries() const {
  absl::ReaderMutexLock lock(&mu_);
  return epochs_.entries();
}

absl::Status Log::WriteEpochsLocked() {
  return epochs_.Write(options_.fs, dir_);
}

absl::Status Log::LoadEpochsLocked() {
  const Offset log_start = segments_.begin()->first;
  const Offset log_end = active().next_offset();
  auto read = LeaderEpochCache::Read(options_.fs, dir_);
  bool changed = false;
  if (read.ok()) {
    epochs_ = *std::move(read);
  } else {
    // Missing (a log from before replication, or a crash before the first
    // write) or corrupt: the batches carry their epochs; rebuild from
    // their headers.
    if (!absl::IsNotFound(read.status())) {
      spdlog::error("{}: {}; rebuilding it from the batches", dir_,
                    read.status().message());
    }
    epochs_.Clear();
    // An empty log needs no file yet; any other gets one, so the walk
    // happens once.
    changed = log_start != log_end;
    for (const auto& [base, seg] : segments_) {
      seg->ForEachBatchHeader(base, [&](const BatchHeader& h) {
        if (h.partition_leader_epoch < 0) return;
        const LeaderEpoch e(h.partition_leader_epoch);
        if (!epochs_.latest_epoch() || e > *epochs_.latest_epoch()) {
          epochs_.Assign(e, h.base());
        }
      });
    }
  }
  // Entries past the end describe batches lost in a crash (or an epoch
  // that began at an end since cut); those below the start, retention.
  changed |= epochs_.TruncateFromEnd(log_end + 1);
  changed |= epochs_.TruncateFromStart(log_start);
  if (changed) RETURN_IF_ERROR(WriteEpochsLocked());
  return absl::OkStatus();
}

}  // namespace fjord::log
