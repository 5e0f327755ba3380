#include "log/index.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "log/internal/endian.h"
#include "log/status_macros.h"

namespace fjord::log {

using internal::LoadBE;
using internal::StoreBE;

absl::StatusOr<std::unique_ptr<IndexFile>> IndexFile::Open(
    FileSystem* fs, const std::string& path, size_t entry_size,
    size_t preallocate_bytes) {
  OpenMode mode =
      preallocate_bytes > 0 ? OpenMode::kCreate : OpenMode::kReadWrite;
  ASSIGN_OR_RETURN(auto file, fs->Open(path, mode));
  std::unique_ptr<IndexFile> index(new IndexFile(std::move(file), entry_size));
  ASSIGN_OR_RETURN(uint64_t size, index->file_->Size());
  if (preallocate_bytes > 0) {
    RETURN_IF_ERROR(index->Reopen(preallocate_bytes));
    index->SetEntries(std::min<size_t>(size / entry_size, index->capacity_));
  } else {
    RETURN_IF_ERROR(index->MapFile(size));
    index->SetEntries(index->capacity_);
  }
  return index;
}

absl::Status IndexFile::MapFile(size_t bytes) {
  capacity_ = bytes / entry_size_;
  map_.reset();
  ASSIGN_OR_RETURN(map_, file_->Map(capacity_ * entry_size_,
                                    /*writable=*/false));
  return absl::OkStatus();
}

absl::Status IndexFile::Reopen(size_t preallocate_bytes) {
  size_t bytes = preallocate_bytes / entry_size_ * entry_size_;
  size_t keep = entries();
  RETURN_IF_ERROR(file_->Allocate(bytes));
  capacity_ = bytes / entry_size_;
  map_.reset();
  ASSIGN_OR_RETURN(map_, file_->Map(bytes, /*writable=*/true));
  SetEntries(std::min(keep, capacity_));
  return absl::OkStatus();
}

void IndexFile::Append(const uint8_t* bytes) {
  size_t n = entries();
  std::memcpy(map_->mutable_data() + n * entry_size_, bytes, entry_size_);
  entries_.store(n + 1, std::memory_order_release);
}

void IndexFile::SetEntries(size_t n) {
  entries_.store(n, std::memory_order_release);
}

absl::Status IndexFile::Trim() {
  RETURN_IF_ERROR(Sync());
  return file_->Truncate(entries() * entry_size_);
}

absl::Status IndexFile::Sync() {
  if (map_ == nullptr || !map_->writable()) return absl::OkStatus();
  return map_->Sync(0, entries() * entry_size_);
}

// ---------------------------------------------------------------- OffsetIndex

absl::StatusOr<std::unique_ptr<OffsetIndex>> OffsetIndex::Open(
    FileSystem* fs, const std::string& path, Offset base,
    size_t preallocate_bytes) {
  ASSIGN_OR_RETURN(auto file,
                   IndexFile::Open(fs, path, kEntrySize, preallocate_bytes));
  return std::unique_ptr<OffsetIndex>(new OffsetIndex(std::move(file), base));
}

OffsetPosition OffsetIndex::Entry(size_t i) const {
  const uint8_t* e = file_->entry(i);
  return {base_ + LoadBE<uint32_t>(e), LoadBE<uint32_t>(e + 4)};
}

OffsetPosition OffsetIndex::Lookup(Offset target) const {
  size_t lo = 0, hi = file_->entries();
  // Binary search for the first entry with offset > target.
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (Entry(mid).offset <= target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return {base_, 0};
  return Entry(lo - 1);
}

bool OffsetIndex::CanHold(Offset offset) const {
  int64_t rel = offset - base_;
  return rel >= 0 && rel <= std::numeric_limits<int32_t>::max();
}

void OffsetIndex::Append(Offset offset, uint32_t position) {
  uint8_t e[kEntrySize];
  StoreBE<uint32_t>(e, static_cast<uint32_t>(offset - base_));
  StoreBE<uint32_t>(e + 4, position);
  file_->Append(e);
}

size_t OffsetIndex::TruncateToValidPrefix(uint64_t position_limit) {
  size_t n = file_->entries();
  size_t valid = 0;
  for (; valid < n; valid++) {
    OffsetPosition cur = Entry(valid);
    // Position 0 is never indexed (lookups default to it), so an entry
    // there is a zero-filled, preallocated slot.
    if (cur.position == 0 || cur.position >= position_limit ||
        !CanHold(cur.offset)) {
      break;
    }
    if (valid > 0) {
      OffsetPosition prev = Entry(valid - 1);
      if (cur.offset <= prev.offset || cur.position <= prev.position) break;
    }
  }
  file_->SetEntries(valid);
  return n - valid;
}

void OffsetIndex::TruncateFromPosition(uint64_t position) {
  size_t n = file_->entries();
  while (n > 0 && Entry(n - 1).position >= position) n--;
  file_->SetEntries(n);
}

// ------------------------------------------------------------------ TimeIndex

absl::StatusOr<std::unique_ptr<TimeIndex>> TimeIndex::Open(
    FileSystem* fs, const std::string& path, Offset base,
    size_t preallocate_bytes) {
  ASSIGN_OR_RETURN(auto file,
                   IndexFile::Open(fs, path, kEntrySize, preallocate_bytes));
  return std::unique_ptr<TimeIndex>(new TimeIndex(std::move(file), base));
}

TimestampOffset TimeIndex::Entry(size_t i) const {
  const uint8_t* e = file_->entry(i);
  return {LoadBE<int64_t>(e), base_ + LoadBE<uint32_t>(e + 8)};
}

std::optional<TimestampOffset> TimeIndex::Last() const {
  size_t n = file_->entries();
  if (n == 0) return std::nullopt;
  return Entry(n - 1);
}

std::optional<TimestampOffset> TimeIndex::LookupBefore(int64_t target) const {
  size_t lo = 0, hi = file_->entries();
  while (lo < hi) {  // first entry with timestamp >= target
    size_t mid = lo + (hi - lo) / 2;
    if (Entry(mid).timestamp < target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return std::nullopt;
  return Entry(lo - 1);
}

bool TimeIndex::MaybeAppend(int64_t timestamp, Offset offset) {
  if (timestamp <= 0) return true;  // see TruncateToValidPrefix
  auto last = Last();
  if (last && timestamp <= last->timestamp) return true;
  if (file_->full()) return false;
  uint8_t e[kEntrySize];
  StoreBE<int64_t>(e, timestamp);
  StoreBE<uint32_t>(e + 8, static_cast<uint32_t>(offset - base_));
  file_->Append(e);
  return true;
}

size_t TimeIndex::TruncateToValidPrefix(Offset offset_limit) {
  size_t n = file_->entries();
  size_t valid = 0;
  for (; valid < n; valid++) {
    TimestampOffset cur = Entry(valid);
    // Timestamps of 0 and below are not indexed (Kafka timestamps are >= 0
    // or -1 for none), so such an entry is a zero-filled slot.
    if (cur.timestamp <= 0 || cur.offset >= offset_limit ||
        cur.offset < base_) {
      break;
    }
    if (valid > 0) {
      TimestampOffset prev = Entry(valid - 1);
      if (cur.timestamp <= prev.timestamp || cur.offset < prev.offset) break;
    }
  }
  file_->SetEntries(valid);
  return n - valid;
}

}  // namespace fjord::log
