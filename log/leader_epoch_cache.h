// LeaderEpochCache: a partition's leader-epoch history, the first offset
// written in each leader epoch ("epoch 3 starts at offset 1200"), in the
// manner of Kafka's LeaderEpochFileCache. It answers OffsetForLeaderEpoch
// (where did epoch e end in this log?), from which a follower finds the
// point its log stops agreeing with the leader's and truncates there, not
// merely at its high watermark (KIP-101, KIP-279).
//
// Entries have strictly increasing epochs and strictly increasing start
// offsets. The history is kept in "<partition dir>/leader-epoch-checkpoint"
// (log/FORMAT.md), rewritten atomically whenever it changes; a Log keeps
// it in step with its batches (log.h).
//
// A value type; thread-compatible (Log guards its cache with its mutex).
#ifndef FJORD_LOG_LEADER_EPOCH_CACHE_H_
#define FJORD_LOG_LEADER_EPOCH_CACHE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "log/file_system.h"
#include "log/types.h"

namespace fjord::log {

inline constexpr std::string_view kLeaderEpochFileName =
    "leader-epoch-checkpoint";

struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;
  friend bool operator==(const EpochEntry&, const EpochEntry&) = default;
};

// The answer to "where does `epoch` end?": the largest epoch at or below
// the one asked for that this log knows, and the offset after its last
// record (the next epoch's start, or the log end for the latest epoch).
// {kNoLeaderEpoch, -1} when the log knows no epoch at or below it, or the
// one asked for is newer than all it knows.
struct EpochEndOffset {
  LeaderEpoch epoch = kNoLeaderEpoch;
  Offset end_offset{-1};
  bool known() const { return epoch != kNoLeaderEpoch; }
  friend bool operator==(const EpochEndOffset&,
                         const EpochEndOffset&) = default;
};

class LeaderEpochCache {
 public:
  LeaderEpochCache() = default;
  explicit LeaderEpochCache(std::vector<EpochEntry> entries)
      : entries_(std::move(entries)) {}

  const std::vector<EpochEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  std::optional<LeaderEpoch> latest_epoch() const;
  // The start offset of the latest epoch, if any.
  std::optional<Offset> latest_start() const;

  // Records that `epoch` starts at `start`, as Kafka's assign does: a
  // no-op when `epoch` is the latest epoch and `start` is not before its
  // start; otherwise every entry with an epoch at or above `epoch`, or a
  // start at or after `start`, is dropped and (epoch, start) becomes the
  // latest entry (a new leader that starts where the previous one never
  // wrote replaces it). Returns whether anything changed.
  // REQUIRES: epoch >= 0, start >= 0.
  bool Assign(LeaderEpoch epoch, Offset start);

  // Kafka's endOffsetFor: for the latest epoch, `log_end`; for an epoch
  // this log knows, the start of the next one; for an epoch between two
  // known ones, the floor epoch and the next one's start; for an epoch
  // older than every entry, that epoch and the first entry's start (every
  // record of it, if any, is before); for an epoch newer than all,
  // or kNoLeaderEpoch, unknown.
  //
  // Worked example: entries (0, 0), (2, 100), (5, 250), log end 400.
  //   epoch 5 -> (5, 400); 2 -> (2, 250); 3 or 4 -> (2, 250);
  //   0 or 1 -> (0, 100); 6 -> unknown.
  EpochEndOffset EndOffsetFor(LeaderEpoch epoch, Offset log_end) const;

  // Drops the entries that start at or after `end` (the log was truncated
  // to end there). Returns whether anything changed.
  bool TruncateFromEnd(Offset end);
  // The log now starts at `start` (retention): entries wholly below it go,
  // and the one covering it starts there. Returns whether anything changed.
  bool TruncateFromStart(Offset start);
  void Clear() { entries_.clear(); }

  // The file (log/FORMAT.md) and back; kDataLoss for a file that does not
  // parse, fails its CRC, or breaks the ordering of entries.
  std::string Encode() const;
  static absl::StatusOr<LeaderEpochCache> Decode(std::string_view text);

  // Reads "<dir>/leader-epoch-checkpoint"; kNotFound when missing.
  static absl::StatusOr<LeaderEpochCache> Read(FileSystem* fs,
                                               const std::string& dir);
  // Writes it atomically (tmp, fsync, rename, fsync of the directory).
  absl::Status Write(FileSystem* fs, const std::string& dir) const;

 private:
  std::vector<EpochEntry> entries_;
};

// A follower's next step in finding where its log diverges from its new
// leader's (Kafka's getOffsetTruncationState, KIP-279). The follower asks
// the leader where its own latest epoch ends (OffsetForLeaderEpoch); given
// the answer:
//  - unknown (the leader has no history to compare): truncate to
//    `fallback` (the high watermark the follower knows), done;
//  - an end at or past the follower's log end: nothing to cut, done;
//  - an epoch the follower also has: truncate to the smaller of the two
//    ends of that epoch, done;
//  - an epoch the follower does not have (the leader's history skips
//    some of the follower's epochs): truncate to where the follower's
//    largest epoch below it ends, and ask again about that epoch.
// Worked example: follower (0, 0) (3, 50), end 80; leader (0, 0) (2, 40)
// (4, 60). Ask 3 -> leader answers (2, 60): the follower has no epoch 2;
// its largest epoch at or below 2 is 0, ending at 50: truncate to 50, ask
// 0 -> (0, 40): truncate to 40, done.
struct TruncationStep {
  Offset truncate_to;
  bool done = true;
  LeaderEpoch ask_next = kNoLeaderEpoch;  // when !done
  friend bool operator==(const TruncationStep&,
                         const TruncationStep&) = default;
};
TruncationStep NextTruncationStep(const EpochEndOffset& leader_answer,
                                  const LeaderEpochCache& follower,
                                  Offset follower_end, Offset fallback);

}  // namespace fjord::log

#endif  // FJORD_LOG_LEADER_EPOCH_CACHE_H_
