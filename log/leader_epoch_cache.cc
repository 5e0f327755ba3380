#include "log/leader_epoch_cache.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "log/crc32c.h"
#include "log/status_macros.h"
#include "log/strings.h"

namespace fjord::log {

namespace {
constexpr std::string_view kHeader = "fjord leader-epoch-checkpoint 1";
}  // namespace

std::optional<LeaderEpoch> LeaderEpochCache::latest_epoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

std::optional<Offset> LeaderEpochCache::latest_start() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().start_offset;
}

bool LeaderEpochCache::Assign(LeaderEpoch epoch, Offset start) {
  if (!entries_.empty() && entries_.back().epoch == epoch &&
      start >= entries_.back().start_offset) {
    return false;
  }
  std::erase_if(entries_, [&](const EpochEntry& e) {
    return e.epoch >= epoch || e.start_offset >= start;
  });
  entries_.push_back({epoch, start});
  return true;
}

EpochEndOffset LeaderEpochCache::EndOffsetFor(LeaderEpoch epoch,
                                              Offset log_end) const {
  if (epoch == kNoLeaderEpoch || entries_.empty()) return {};
  if (entries_.back().epoch == epoch) return {epoch, log_end};
  // The first entry with an epoch above the one asked for.
  auto higher = std::upper_bound(
      entries_.begin(), entries_.end(), epoch,
      [](LeaderEpoch e, const EpochEntry& entry) { return e < entry.epoch; });
  if (higher == entries_.end()) return {};  // newer than every epoch known
  if (higher == entries_.begin()) return {epoch, higher->start_offset};
  return {std::prev(higher)->epoch, higher->start_offset};
}

bool LeaderEpochCache::TruncateFromEnd(Offset end) {
  const size_t before = entries_.size();
  std::erase_if(entries_,
                [&](const EpochEntry& e) { return e.start_offset >= end; });
  return entries_.size() != before;
}

bool LeaderEpochCache::TruncateFromStart(Offset start) {
  // The last entry starting at or before `start` covers it.
  auto covering = std::upper_bound(
      entries_.begin(), entries_.end(), start,
      [](Offset o, const EpochEntry& entry) { return o < entry.start_offset; });
  if (covering == entries_.begin()) return false;  // all start after it
  auto keep = std::prev(covering);
  bool changed = keep != entries_.begin() || keep->start_offset != start;
  keep->start_offset = start;
  entries_.erase(entries_.begin(), keep);
  return changed;
}

std::string LeaderEpochCache::Encode() const {
  std::string out = absl::StrFormat("%s\n%d\n", kHeader, entries_.size());
  for (const EpochEntry& e : entries_) {
    absl::StrAppendFormat(&out, "%d %d\n", e.epoch.value(),
                          e.start_offset.value());
  }
  absl::StrAppendFormat(&out, "crc32c %08x\n",
                        crc32c::Value(out.data(), out.size()));
  return out;
}

absl::StatusOr<LeaderEpochCache> LeaderEpochCache::Decode(
    std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  auto bad = [](std::string_view why) {
    return absl::DataLossError(
        absl::StrFormat("corrupt leader-epoch-checkpoint: %s", why));
  };
  const size_t crc_at = text.rfind("crc32c ");
  if (crc_at == absl::string_view::npos) return bad("no crc32c line");
  absl::string_view crc = absl::StripSuffix(text.substr(crc_at + 7), "\n");
  uint32_t stored = 0;
  if (crc.size() != 8 || !absl::SimpleHexAtoi(crc, &stored) ||
      stored != crc32c::Value(text.data(), crc_at)) {
    return bad("CRC mismatch");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, crc_at), '\n', absl::SkipEmpty());
  if (lines.size() < 2 || lines[0] != ToAbsl(kHeader)) return bad("bad header");
  size_t count = 0;
  if (!absl::SimpleAtoi(lines[1], &count) || count != lines.size() - 2) {
    return bad("entry count does not match");
  }
  std::vector<EpochEntry> entries;
  for (size_t i = 2; i < lines.size(); i++) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    int32_t epoch = 0;
    int64_t start = 0;
    if (f.size() != 2 || !absl::SimpleAtoi(f[0], &epoch) ||
        !absl::SimpleAtoi(f[1], &start) || epoch < 0 || start < 0) {
      return bad(absl::StrFormat("bad line '%s'", ToStd(lines[i])));
    }
    if (!entries.empty() && (LeaderEpoch(epoch) <= entries.back().epoch ||
                             Offset(start) <= entries.back().start_offset)) {
      return bad(absl::StrFormat(
          "entry '%s' does not follow epoch %d at offset %d", ToStd(lines[i]),
          entries.back().epoch.value(), entries.back().start_offset.value()));
    }
    entries.push_back({LeaderEpoch(epoch), Offset(start)});
  }
  return LeaderEpochCache(std::move(entries));
}

absl::StatusOr<LeaderEpochCache> LeaderEpochCache::Read(
    FileSystem* fs, const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", ToAbsl(kLeaderEpochFileName));
  if (!fs->Exists(path)) {
    return absl::NotFoundError(absl::StrFormat("no %s", path));
  }
  ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  return Decode(text);
}

absl::Status LeaderEpochCache::Write(FileSystem* fs,
                                     const std::string& dir) const {
  return fs->WriteFileAtomically(
      absl::StrCat(dir, "/", ToAbsl(kLeaderEpochFileName)), Encode());
}

TruncationStep NextTruncationStep(const EpochEndOffset& leader_answer,
                                  const LeaderEpochCache& follower,
                                  Offset follower_end, Offset fallback) {
  if (!leader_answer.known()) {
    return {std::min(fallback, follower_end), true, kNoLeaderEpoch};
  }
  if (leader_answer.end_offset >= follower_end) {
    return {follower_end, true, kNoLeaderEpoch};
  }
  const EpochEndOffset mine =
      follower.EndOffsetFor(leader_answer.epoch, follower_end);
  if (!mine.known()) {
    // Nothing of the follower's is in an epoch the leader knows.
    return {std::min(leader_answer.end_offset, follower_end), true,
            kNoLeaderEpoch};
  }
  if (mine.epoch != leader_answer.epoch) {
    return {std::min(mine.end_offset, follower_end), false, mine.epoch};
  }
  return {std::min(mine.end_offset, leader_answer.end_offset), true,
          kNoLeaderEpoch};
}

}  // namespace fjord::log
