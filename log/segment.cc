#include "log/segment.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"
#include "log/file_names.h"
#include "log/status_macros.h"
#include "spdlog/spdlog.h"

namespace fjord::log {
namespace {

// Writes zeros over [from, to) of `file`.
absl::Status WriteZeros(File* file, uint64_t from, uint64_t to) {
  static const std::vector<uint8_t> zeros(64 << 10, 0);
  while (from < to) {
    size_t n = std::min<uint64_t>(zeros.size(), to - from);
    RETURN_IF_ERROR(file->Write(from, std::span(zeros.data(), n)));
    from += n;
  }
  return absl::OkStatus();
}

// preallocate: the active segment's file is reserved (fallocate) ahead of
// its data in steps of this size, up to segment.bytes, rather than all of
// segment.bytes at once: a broker with many quiet partitions must not
// reserve a segment's worth of disk for each (Redpanda reserves in steps
// too; Kafka does not preallocate by default).
constexpr uint64_t kPreallocateStepBytes = 16 << 20;

// What to reserve for `needed` bytes of data: the next step boundary past
// it, capped at segment.bytes (but never below `needed`: one batch may
// exceed segment.bytes).
uint64_t ReserveFor(uint64_t needed, uint64_t segment_bytes) {
  uint64_t step = (needed / kPreallocateStepBytes + 1) * kPreallocateStepBytes;
  return std::max(needed, std::min(step, segment_bytes));
}

// The end of the non-zero bytes that start at `from`: scanning stops after
// 1 MiB of zeros, so a preallocated tail costs little to inspect.
uint64_t NonZeroEnd(const uint8_t* data, uint64_t from, uint64_t limit) {
  static const uint8_t kZeros[4096] = {};
  uint64_t end = from;
  uint64_t zero_run = 0;
  for (uint64_t pos = from; pos < limit && zero_run < (1 << 20);) {
    size_t n = std::min<uint64_t>(sizeof(kZeros), limit - pos);
    if (std::memcmp(data + pos, kZeros, n) == 0) {
      zero_run += n;
    } else {
      zero_run = 0;
      for (size_t i = n; i > 0; i--) {
        if (data[pos + i - 1] != 0) {
          end = pos + i;
          break;
        }
      }
    }
    pos += n;
  }
  return end;
}

bool IsZeroFrom(const uint8_t* data, uint64_t from, uint64_t to) {
  return std::all_of(data + from, data + to, [](uint8_t b) { return b == 0; });
}

absl::Status EnsureWritable(IndexFile& index, size_t bytes) {
  if (index.writable()) return absl::OkStatus();
  return index.Reopen(bytes);
}

}  // namespace

Segment::Segment(FileSystem* fs, std::string dir, Offset base,
                 SegmentConfig config)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      config_(config),
      next_offset_(base) {}

Segment::~Segment() = default;

std::string Segment::Path(std::string_view kind) const {
  return SegmentFileName(dir_, base_, kind) + file_suffix_;
}

absl::Status Segment::MapLog(uint64_t length) {
  ASSIGN_OR_RETURN(auto m, log_file_->Map(length, /*writable=*/false));
  map_ = std::shared_ptr<Mapping>(std::move(m));
  return absl::OkStatus();
}

absl::Status Segment::OpenIndexes(bool active) {
  size_t prealloc = active ? config_.index_bytes : 0;
  auto open_or_create = [&](std::string_view suffix, auto open_fn,
                            auto* out) -> absl::Status {
    std::string path = Path(suffix);
    auto index = open_fn(fs_, path, base_, prealloc);
    if (absl::IsNotFound(index.status())) {
      spdlog::warn("{}: missing, rebuilding it", path);
      index = open_fn(fs_, path, base_, config_.index_bytes);
      if (suffix == kTimeIndexSuffix) time_index_rebuilt_ = true;
    }
    if (!index.ok()) return index.status();
    *out = std::move(*index);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(
      open_or_create(kIndexSuffix, OffsetIndex::Open, &offset_index_));
  return open_or_create(kTimeIndexSuffix, TimeIndex::Open, &time_index_);
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(
    FileSystem* fs, const std::string& dir, Offset base,
    const SegmentConfig& config, int64_t now_ms, std::string_view file_suffix) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base, config));
  seg->file_suffix_ = std::string(file_suffix);
  for (auto kind : {kIndexSuffix, kTimeIndexSuffix}) {
    std::string p = seg->Path(kind);
    if (fs->Exists(p)) RETURN_IF_ERROR(fs->Remove(p));
  }
  ASSIGN_OR_RETURN(seg->log_file_,
                   fs->Open(seg->Path(kLogSuffix), OpenMode::kTruncate));
  absl::Status s = absl::OkStatus();
  if (config.preallocate) {
    s = seg->log_file_->Allocate(ReserveFor(0, config.segment_bytes));
  }
  if (s.ok()) s = seg->MapLog(config.segment_bytes);
  if (s.ok()) s = seg->OpenIndexes(/*active=*/true);
  if (!s.ok()) {
    // Leave nothing behind: a half-made segment must not be loaded later.
    std::string paths[] = {seg->Path(kLogSuffix), seg->Path(kIndexSuffix),
                           seg->Path(kTimeIndexSuffix)};
    seg->log_file_.reset();
    seg->offset_index_.reset();
    seg->time_index_.reset();
    for (const auto& p : paths) (void)fs->Remove(p);
    return s;
  }
  seg->file_size_ =
      config.preallocate ? ReserveFor(0, config.segment_bytes) : 0;
  seg->roll_base_ms_ = now_ms;
  return seg;
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(
    FileSystem* fs, const std::string& dir, Offset base,
    const SegmentConfig& config, uint64_t trusted_end, bool recover,
    bool active, RecoveryStats* stats,
    std::optional<Offset> expect_at_trusted_end) {
  std::unique_ptr<Segment> seg(new Segment(fs, dir, base, config));
  std::string log_path = SegmentFileName(dir, base, kLogSuffix);
  ASSIGN_OR_RETURN(seg->log_file_, fs->Open(log_path, OpenMode::kReadWrite));
  ASSIGN_OR_RETURN(uint64_t file_size, seg->log_file_->Size());
  trusted_end = std::min(trusted_end, file_size);
  if (auto mtime = seg->log_file_->ModifiedTimeMs(); mtime.ok()) {
    seg->last_append_ms_ = *mtime;
  }
  if (active && config.preallocate && file_size < config.segment_bytes) {
    // The data ends at or before file_size (a preallocated tail is zeros).
    absl::Status s =
        seg->log_file_->Allocate(ReserveFor(file_size, config.segment_bytes));
    if (!s.ok()) {
      spdlog::warn(
          "{}: cannot preallocate ({}); appends will report space "
          "errors as they happen",
          log_path, s.message());
    }
    ASSIGN_OR_RETURN(file_size, seg->log_file_->Size());
  }
  seg->file_size_ = file_size;
  RETURN_IF_ERROR(seg->MapLog(
      std::max<uint64_t>(file_size, active ? config.segment_bytes : 0)));
  RETURN_IF_ERROR(seg->OpenIndexes(active));
  if (expect_at_trusted_end && trusted_end > 0 &&
      trusted_end + batch_layout::kHeaderSize <= file_size) {
    const uint8_t* at = seg->map_->data() + trusted_end;
    auto h = ParseBatchHeader(at, file_size - trusted_end);
    bool zeros = std::all_of(at, at + batch_layout::kHeaderSize,
                             [](uint8_t b) { return b == 0; });
    if (!zeros && (!h.ok() || h->base() != *expect_at_trusted_end)) {
      spdlog::warn(
          "{}: recovery point does not match the segment (rewritten "
          "by the cleaner?); scanning all of it",
          log_path);
      trusted_end = 0;
      recover = true;
    }
  }

  std::string error;
  RETURN_IF_ERROR(seg->LoadTrusted(trusted_end, &error));
  if (seg->size_ < trusted_end &&
      IsZeroFrom(seg->map_->data(), seg->size_,
                 std::min<uint64_t>(trusted_end,
                                    seg->size_ + batch_layout::kHeaderSize))) {
    // Zeros after the last batch: the rest of a preallocated file, or bytes
    // a truncation zeroed. The data simply ends here.
    trusted_end = seg->size_;
  }
  if (seg->size_ < trusted_end) {
    spdlog::error(
        "{}: flushed data is unreadable at byte {} ({}); "
        "recovering from there",
        log_path, seg->size_, error);
    recover = true;
  }
  seg->flushed_size_ = seg->size_;
  seg->high_water_ = seg->size_;
  if (recover) {
    RETURN_IF_ERROR(seg->RecoverFrom(seg->size_, stats));
  }
  if (!active) RETURN_IF_ERROR(seg->Seal());
  if (seg->size_ > 0) {
    auto first = ParseBatchHeader(seg->map_->data(), seg->size_);
    if (first.ok()) seg->roll_base_ms_ = first->max_timestamp;
  }
  return seg;
}

absl::Status Segment::LoadTrusted(uint64_t trusted_end, std::string* error) {
  // Keep the index entries that are consistent and lie in the trusted range,
  // check that the last one points at a batch with its offset, and walk the
  // batch headers from there to the end of the trusted range.
  offset_index_->TruncateToValidPrefix(trusted_end);
  while (offset_index_->file().entries() > 0) {
    OffsetPosition last =
        offset_index_->Entry(offset_index_->file().entries() - 1);
    auto h = ParseBatchHeader(map_->data() + last.position,
                              trusted_end - last.position);
    if (h.ok() && h->base() == last.offset &&
        h->size_bytes() <= trusted_end - last.position) {
      break;
    }
    offset_index_->file().SetEntries(offset_index_->file().entries() - 1);
  }
  uint64_t start = 0;
  Offset start_offset = base_;
  if (offset_index_->file().entries() > 0) {
    OffsetPosition last =
        offset_index_->Entry(offset_index_->file().entries() - 1);
    start = last.position;
    start_offset = last.offset;
  }
  // The time index must cover everything before the walk starts. It does
  // unless it was missing or damaged (an entry that breaks its order); then
  // walk from where its valid prefix ends instead. Its last entry alone
  // proves nothing: timestamps that do not increase add no entries, and
  // walking a whole segment on every start for that would make restart time
  // depend on total data.
  const bool time_index_damaged = time_index_->TruncateToValidPrefix(Offset(
                                      std::numeric_limits<int64_t>::max())) > 0;
  time_index_->TruncateToValidPrefix(start_offset);
  if (time_index_rebuilt_ || time_index_damaged) {
    auto last_t = time_index_->Last();
    const Offset covered = last_t ? last_t->offset + 1 : base_;
    if (covered < start_offset) {
      OffsetPosition e = offset_index_->Lookup(covered);
      offset_index_->TruncateFromPosition(e.position + 1);
      if (e.position == 0) offset_index_->file().SetEntries(0);
      start = e.position;
      start_offset = e.position == 0 ? base_ : e.offset;
      time_index_->TruncateToValidPrefix(start_offset);
    }
  }
  auto last_time = time_index_->Last();
  max_timestamp_ = last_time ? last_time->timestamp : -1;
  size_ = start;
  next_offset_ = start_offset;
  bytes_since_index_ = 0;
  size_ = WalkHeaders(start, trusted_end, error);
  return absl::OkStatus();
}

uint64_t Segment::WalkHeaders(uint64_t from, uint64_t to, std::string* error) {
  uint64_t pos = from;
  while (pos < to) {
    auto h = ParseBatchHeader(map_->data() + pos, to - pos);
    if (!h.ok()) {
      *error = std::string(h.status().message());
      break;
    }
    if (h->size_bytes() > to - pos || h->base() < next_offset_ ||
        !offset_index_->CanHold(h->last())) {
      *error = "batch length or offset inconsistent";
      break;
    }
    IndexBatch(*h, pos);
    pos += h->size_bytes();
  }
  return pos;
}

void Segment::IndexBatch(const BatchHeader& h, uint64_t position) {
  size_t entries = offset_index_->file().entries();
  bool after_last = entries == 0
                        ? position > 0
                        : offset_index_->Entry(entries - 1).position < position;
  if (bytes_since_index_ >= config_.index_interval_bytes && after_last) {
    if (EnsureWritable(offset_index_->file(), config_.index_bytes).ok() &&
        !offset_index_->file().full()) {
      offset_index_->Append(h.base(), static_cast<uint32_t>(position));
      // Everything before this batch has timestamps <= max_timestamp_.
      if (max_timestamp_ >= 0 &&
          EnsureWritable(time_index_->file(), config_.index_bytes).ok()) {
        time_index_->MaybeAppend(max_timestamp_, h.base() - 1);
      }
    }
    bytes_since_index_ = 0;
  }
  bytes_since_index_ += h.size_bytes();
  max_timestamp_ = std::max(max_timestamp_, h.max_timestamp);
  next_offset_ = h.last() + 1;
}

absl::Status Segment::RecoverFrom(uint64_t from, RecoveryStats* stats) {
  const uint8_t* data = map_->data();
  const uint64_t limit = std::min<uint64_t>(file_size_, map_->size());
  uint64_t pos = from;
  std::string reason;
  while (pos < limit) {
    auto h = ParseBatchHeader(data + pos, limit - pos);
    if (!h.ok()) {
      reason = std::string(h.status().message());
      break;
    }
    if (h->size_bytes() > limit - pos) {
      reason = absl::StrFormat(
          "batch at byte %d claims %d bytes, past the end "
          "of the file (torn write)",
          pos, h->size_bytes());
      break;
    }
    auto valid = ValidateBatch(std::span(data + pos, h->size_bytes()));
    if (!valid.ok()) {
      reason = std::string(valid.status().message());
      break;
    }
    if (h->base() < next_offset_ || !offset_index_->CanHold(h->last())) {
      reason = absl::StrFormat(
          "batch at byte %d has base offset %d, below "
          "the expected %d",
          pos, h->base_offset, next_offset_.value());
      break;
    }
    IndexBatch(*h, pos);
    pos += h->size_bytes();
    stats->batches_scanned++;
    stats->bytes_scanned += h->size_bytes();
  }
  size_ = pos;
  uint64_t garbage_end = NonZeroEnd(data, pos, limit);
  if (garbage_end > pos) {
    stats->bytes_truncated += garbage_end - pos;
    stats->reason = reason;
    spdlog::warn(
        "{}: discarding {} bytes of torn or corrupt data from byte "
        "{} ({})",
        log_file_->path(), garbage_end - pos, pos, reason);
    // Zeroed and synced so the dropped bytes can never be read back as
    // batches after later appends land next to them.
    RETURN_IF_ERROR(WriteZeros(log_file_.get(), pos, garbage_end));
    RETURN_IF_ERROR(log_file_->Sync());
  }
  return absl::OkStatus();
}

bool Segment::HasRoomFor(uint64_t bytes, Offset last) const {
  if (sealed_) return false;
  if (!offset_index_->CanHold(last)) return false;
  if (offset_index_->file().full() || time_index_->file().full()) return false;
  if (size_ == 0) return true;
  return size_ + bytes <= config_.segment_bytes;
}

absl::Status Segment::Append(std::span<const uint8_t> bytes,
                             int64_t append_time_ms) {
  const uint64_t pos = size_;
  const uint64_t end = pos + bytes.size();
  if (config_.preallocate && end > file_size_) {
    // A failure (ENOSPC) leaves nothing appended and the log appendable.
    const uint64_t reserve = ReserveFor(end, config_.segment_bytes);
    RETURN_IF_ERROR(log_file_->Allocate(reserve));
    file_size_ = reserve;
  }
  if (end > map_->size()) {
    // Only an empty segment takes a batch larger than segment.bytes.
    RETURN_IF_ERROR(MapLog(end));
  }
  absl::Status written = log_file_->Write(pos, bytes);
  if (!written.ok()) {
    // Nothing of a failed append may survive to be found by a later
    // recovery scan: zero what may have been written (best effort; if the
    // machine is going down with it, recovery cuts any torn batch).
    (void)WriteZeros(log_file_.get(), pos, pos + bytes.size());
    if (auto size = log_file_->Size(); size.ok()) file_size_ = *size;
    return written;
  }
  file_size_ = std::max(file_size_, pos + bytes.size());
  uint64_t p = 0;
  while (p < bytes.size()) {
    auto h = ParseBatchHeader(bytes.data() + p, bytes.size() - p);
    if (!h.ok()) return h.status();  // validated by the caller; defensive
    IndexBatch(*h, pos + p);
    p += h->size_bytes();
  }
  size_ = pos + bytes.size();
  high_water_ = std::max(high_water_, size_);
  last_append_ms_ = std::max(last_append_ms_, append_time_ms);
  return absl::OkStatus();
}

absl::StatusOr<SegmentSlice> Segment::Read(Offset start, size_t max_bytes,
                                           Offset max_offset,
                                           bool verify) const {
  SegmentSlice slice;
  slice.mapping = map_;
  slice.first_base = next_offset_;
  slice.next = next_offset_;
  const uint8_t* data = map_->data();
  uint64_t pos = offset_index_->Lookup(start).position;
  auto corrupt = [&](uint64_t at, const absl::Status& s) {
    return absl::DataLossError(
        absl::StrFormat("%s: corrupt batch at byte %d: %s", log_file_->path(),
                        at, s.message()));
  };
  // Skip to the batch that contains `start`.
  while (pos < size_) {
    auto h = ParseBatchHeader(data + pos, size_ - pos);
    if (!h.ok()) return corrupt(pos, h.status());
    if (h->size_bytes() > size_ - pos) {
      return corrupt(pos, absl::DataLossError("batch runs past segment end"));
    }
    if (h->last() >= start) break;
    pos += h->size_bytes();
  }
  const uint64_t first = pos;
  uint64_t total = 0;
  while (pos < size_) {
    auto h = ParseBatchHeader(data + pos, size_ - pos);
    if (!h.ok() || h->size_bytes() > size_ - pos) {
      if (total == 0) {
        return corrupt(pos,
                       h.ok() ? absl::DataLossError("bad length") : h.status());
      }
      break;
    }
    // The base offset lies outside the CRC: check it against its
    // neighbours and the segment's range.
    if (h->base() < (total == 0 ? base_ : slice.next) ||
        h->last() >= next_offset_) {
      absl::Status bad = absl::DataLossError(absl::StrFormat(
          "batch offsets [%d, %d] out of order in segment [%d, %d)",
          h->base_offset, h->last().value(), base_.value(),
          next_offset_.value()));
      if (total == 0) return corrupt(pos, bad);
      break;
    }
    if (h->last() >= max_offset) break;
    if (total > 0 && total + h->size_bytes() > max_bytes) break;
    if (verify) {
      auto v = ValidateBatch(std::span(data + pos, h->size_bytes()));
      if (!v.ok()) {
        if (total == 0) return corrupt(pos, v.status());
        break;
      }
    }
    if (total == 0) slice.first_base = h->base();
    total += h->size_bytes();
    pos += h->size_bytes();
    slice.next = h->last() + 1;
  }
  slice.bytes = std::span(data + first, total);
  return slice;
}

absl::StatusOr<std::optional<std::pair<Offset, int64_t>>>
Segment::FindByTimestamp(int64_t ts) const {
  if (size_ == 0 || max_timestamp_ < ts) return std::nullopt;
  auto before = time_index_->LookupBefore(ts);
  Offset min_offset = before ? before->offset + 1 : base_;
  uint64_t pos = offset_index_->Lookup(min_offset).position;
  const uint8_t* data = map_->data();
  std::string scratch;
  std::vector<Record> records;
  while (pos < size_) {
    auto h = ParseBatchHeader(data + pos, size_ - pos);
    if (!h.ok()) return h.status();
    if (h->size_bytes() > size_ - pos) {
      return absl::DataLossError("batch runs past segment end");
    }
    auto batch = std::span(data + pos, h->size_bytes());
    if (h->max_timestamp >= ts && h->last() >= min_offset) {
      RETURN_IF_ERROR(ValidateBatch(batch).status());
      records.clear();
      RETURN_IF_ERROR(DecodeRecords(batch, &scratch, &records));
      for (const Record& r : records) {
        if (r.offset >= min_offset && r.timestamp >= ts) {
          return std::optional(std::pair(r.offset, r.timestamp));
        }
      }
    }
    pos += h->size_bytes();
  }
  return std::nullopt;
}

absl::Status Segment::Flush() {
  if (flushed_size_ < size_) RETURN_IF_ERROR(log_file_->Sync());
  RETURN_IF_ERROR(offset_index_->file().Sync());
  RETURN_IF_ERROR(time_index_->file().Sync());
  flushed_size_ = size_;
  return absl::OkStatus();
}

Segment::FlushPoint Segment::PrepareFlush() const {
  FlushPoint p;
  p.size = size_;
  if (flushed_size_ < size_) p.log_file = log_file_.get();
  p.offset_index = offset_index_->file().writable_mapping();
  p.offset_index_bytes = offset_index_->file().entry_bytes();
  p.time_index = time_index_->file().writable_mapping();
  p.time_index_bytes = time_index_->file().entry_bytes();
  return p;
}

absl::Status Segment::SyncFlushPoint(const FlushPoint& p) {
  if (p.log_file != nullptr) RETURN_IF_ERROR(p.log_file->Sync());
  if (p.offset_index != nullptr && p.offset_index_bytes > 0) {
    RETURN_IF_ERROR(p.offset_index->Sync(0, p.offset_index_bytes));
  }
  if (p.time_index != nullptr && p.time_index_bytes > 0) {
    RETURN_IF_ERROR(p.time_index->Sync(0, p.time_index_bytes));
  }
  return absl::OkStatus();
}

void Segment::MarkFlushed(const FlushPoint& p) {
  // A truncation below p.size cannot have happened meanwhile (REQUIRES).
  flushed_size_ = std::max(flushed_size_, std::min(p.size, size_));
}

absl::Status Segment::Seal() {
  if (sealed_) return absl::OkStatus();
  if (size_ > 0) {
    auto last = time_index_->Last();
    if (!last || last->timestamp < max_timestamp_) {
      RETURN_IF_ERROR(EnsureWritable(time_index_->file(), config_.index_bytes));
      time_index_->MaybeAppend(max_timestamp_, next_offset_ - 1);
    }
  }
  if (offset_index_->file().writable()) {
    RETURN_IF_ERROR(offset_index_->file().Trim());
  }
  if (time_index_->file().writable()) {
    RETURN_IF_ERROR(time_index_->file().Trim());
  }
  const uint64_t keep = std::max(size_, high_water_);
  if (file_size_ > keep) {
    RETURN_IF_ERROR(log_file_->Truncate(keep));
    file_size_ = keep;
  }
  // The last append time survives restarts as the file's mtime.
  if (last_append_ms_ > 0) {
    auto mtime = log_file_->ModifiedTimeMs();
    if (!mtime.ok() || *mtime != last_append_ms_) {
      RETURN_IF_ERROR(log_file_->SetModifiedTimeMs(last_append_ms_));
    }
  }
  sealed_ = true;
  return absl::OkStatus();
}

absl::Status Segment::Activate() {
  if (!sealed_) return absl::OkStatus();
  if (config_.preallocate) {
    RETURN_IF_ERROR(
        log_file_->Allocate(ReserveFor(size_, config_.segment_bytes)));
  }
  ASSIGN_OR_RETURN(file_size_, log_file_->Size());
  RETURN_IF_ERROR(
      MapLog(std::max<uint64_t>(file_size_, config_.segment_bytes)));
  RETURN_IF_ERROR(offset_index_->file().Reopen(config_.index_bytes));
  RETURN_IF_ERROR(time_index_->file().Reopen(config_.index_bytes));
  sealed_ = false;
  return absl::OkStatus();
}

std::optional<uint64_t> Segment::PositionOfBatch(Offset offset) const {
  uint64_t pos = offset_index_->Lookup(offset).position;
  while (pos < size_) {
    auto h = ParseBatchHeader(map_->data() + pos, size_ - pos);
    if (!h.ok() || h->size_bytes() > size_ - pos) return std::nullopt;
    if (h->base() == offset) return pos;
    if (h->base() > offset) return std::nullopt;
    pos += h->size_bytes();
  }
  return std::nullopt;
}

void Segment::ForEachBatchHeader(
    Offset from, absl::FunctionRef<void(const BatchHeader&)> fn) const {
  uint64_t pos = offset_index_->Lookup(from).position;
  while (pos < size_) {
    auto h = ParseBatchHeader(map_->data() + pos, size_ - pos);
    // [0, size_) holds whole batches that were checked when loaded.
    if (!h.ok() || h->size_bytes() > size_ - pos) return;
    if (h->last() >= from) fn(*h);
    pos += h->size_bytes();
  }
}

absl::Status Segment::TruncateTo(Offset offset) {
  uint64_t cut = offset_index_->Lookup(offset).position;
  while (cut < size_) {
    auto h = ParseBatchHeader(map_->data() + cut, size_ - cut);
    if (!h.ok()) return h.status();
    if (h->last() >= offset) break;
    cut += h->size_bytes();
  }
  if (cut >= size_) return absl::OkStatus();
  RETURN_IF_ERROR(WriteZeros(log_file_.get(), cut, size_));
  RETURN_IF_ERROR(log_file_->Sync());
  offset_index_->TruncateFromPosition(cut);
  std::string error;
  RETURN_IF_ERROR(LoadTrusted(cut, &error));
  flushed_size_ = std::min(flushed_size_, size_);
  RETURN_IF_ERROR(offset_index_->file().Sync());
  return time_index_->file().Sync();
}

absl::Status Segment::MarkDeleted() {
  if (file_suffix_ == kDeletedFileSuffix) return absl::OkStatus();
  const std::string old_suffix = file_suffix_;
  for (auto kind : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
    std::string from = SegmentFileName(dir_, base_, kind) + old_suffix;
    std::string to =
        SegmentFileName(dir_, base_, kind) + std::string(kDeletedFileSuffix);
    absl::Status s = fs_->Rename(from, to);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    // Once the .log is renamed the segment is gone for a restart; the
    // indexes follow (an index left behind is removed at start).
    if (kind == kLogSuffix) file_suffix_ = std::string(kDeletedFileSuffix);
  }
  return absl::OkStatus();
}

absl::Status Segment::Delete() {
  std::string paths[] = {Path(kLogSuffix), Path(kIndexSuffix),
                         Path(kTimeIndexSuffix)};
  log_file_.reset();
  offset_index_.reset();
  time_index_.reset();
  for (const auto& p : paths) {
    absl::Status s = fs_->Remove(p);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

}  // namespace fjord::log
