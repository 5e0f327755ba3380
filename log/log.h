// Log: one topic-partition's append-only log, a directory of segments.
// Appends assign offsets and stamp them into the batches (the CRC stays
// valid: the base offset is outside it), roll segments on size, age or full
// indexes, and flush per the flush policy. Reads return whole batches as
// zero-copy views. Open recovers after an unclean stop by scanning only what
// was not flushed.
//
// Idempotent producers: each append checks the batches' producer ids and
// sequence numbers against the partition's ProducerStateTable in the same
// critical section as the write, so a retried batch is appended once only;
// the table is snapshotted at each roll and at Close, and rebuilt on Open
// (and after Truncate) from the newest usable snapshot plus the batch
// headers after it.
//
// Replication (broker/replica_manager.h): a log is standalone (a single
// node: Append as above), a leader's (Append also stamps the leader epoch
// into every batch) or a follower's (Append is refused; AppendAsFollower
// takes the leader's batches as they are). The leader-epoch history
// (leader_epoch_cache.h) is kept in step with the batches and on disk.
//
// Thread-safe: appends and truncation take the log's lock exclusively (it
// also guards the producer state); reads and lookups take it shared; a
// flush holds it only to note what to sync and what it synced, not while
// it waits for the disk.
#ifndef FJORD_LOG_LOG_H_
#define FJORD_LOG_LOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "log/clock.h"
#include "log/file_system.h"
#include "log/leader_epoch_cache.h"
#include "log/log_config.h"
#include "log/producer_state.h"
#include "log/segment.h"
#include "log/types.h"

namespace fjord::log {

// Everything at offsets below `offset` is durable. It lies in the segment
// with base `segment_base` at byte `position` (where the batch with base
// `offset` starts, or will). Recovery trusts segments before it and scans
// from `position` on. {0, 0, 0} trusts nothing.
struct RecoveryPoint {
  Offset offset{0};
  Offset segment_base{0};
  uint64_t position = 0;
  friend bool operator==(const RecoveryPoint&, const RecoveryPoint&) = default;
};

struct LogOptions {
  // Not explicit, so `{}` and `{fs, clock}` read as they did before the
  // budget was added.
  LogOptions(FileSystem* fs = PosixFileSystem(),
             Clock* clock = SystemClock::Get(),
             std::shared_ptr<ProducerIdBudget> producer_budget = nullptr)
      : fs(fs), clock(clock), producer_budget(std::move(producer_budget)) {}

  FileSystem* fs;  // must outlive the log
  Clock* clock;    // must outlive the log
  // max.producer.ids, shared by every log of a LogManager; null: no cap.
  std::shared_ptr<ProducerIdBudget> producer_budget;
};

struct AppendInfo {
  // Where the records went; for a duplicate, where the originals are.
  Offset first_offset;
  Offset last_offset;
  int64_t max_timestamp = -1;
  int64_t append_time_ms = 0;  // broker time of the append
  uint64_t bytes = 0;          // 0 for a duplicate
  int batches = 0;
  // Every batch was an idempotent producer's retry of one of its last five
  // batches: nothing was appended.
  bool duplicate = false;
};

// Whole batches from one segment. `mapping` keeps `bytes` valid for as long
// as the result lives, across rolls, truncation and deletion.
struct ReadResult {
  std::shared_ptr<const Mapping> mapping;
  std::span<const uint8_t> bytes;
  Offset next_offset;  // the offset after the last returned batch
  Offset log_start_offset;
  Offset log_end_offset;
};

// A sealed segment as the cleaner sees it: its mapping stays valid even if
// the segment is deleted meanwhile.
struct SegmentView {
  Offset base;
  Offset next;  // offset after its last batch
  uint64_t size = 0;
  int64_t last_append_ms = 0;
  int64_t max_timestamp = -1;
  std::shared_ptr<const Mapping> mapping;
};

// What opening found and did.
struct OpenReport {
  int segments = 0;
  uint64_t bytes = 0;
  bool recovered = false;        // any segment was scanned
  uint64_t bytes_scanned = 0;    // bytes CRC-checked by recovery
  uint64_t bytes_truncated = 0;  // torn/corrupt bytes dropped
  int segments_dropped = 0;      // later segments dropped after a gap
  int swaps_completed = 0;       // cleaner swaps finished after a crash
  // Producer state: the snapshot it started from (nullopt: none usable,
  // rebuilt from the log start), corrupt snapshots set aside, and batch
  // headers replayed after the snapshot.
  std::optional<Offset> producer_snapshot;
  int corrupt_snapshots = 0;
  uint64_t producer_batches_replayed = 0;
};

class Log {
 public:
  // Opens (creating if empty or missing) the log in `dir`. With
  // `clean_shutdown` every segment is trusted as-is; otherwise segments from
  // `recovery_point` on are scanned and cut at the first bad batch.
  static absl::StatusOr<std::unique_ptr<Log>> Open(
      const std::string& dir, const LogConfig& config,
      const LogOptions& options, const RecoveryPoint& recovery_point,
      bool clean_shutdown, OpenReport* report = nullptr);

  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log();

  // Validates `records` (one or more whole RecordBatch v2 with good CRCs,
  // each within max.message.bytes), checks the batches of idempotent
  // producers (producer_state.h), assigns them the next offsets by
  // stamping their base offsets in place, and appends them. On failure
  // nothing is appended: the log stays readable and appendable, and a
  // retry after the cause (a full disk, say) is gone succeeds.
  //
  // A record set whose producer batches all repeat remembered ones is not
  // appended: the result has `duplicate` set and the originals' offsets.
  // Refused producer batches fail with a ProducerErrorStatus
  // (producer_error.h); a set mixing retries and new batches is
  // kInvalidArgument.
  //
  // A leader's log stamps its leader epoch into each batch; a follower's
  // refuses with kFailedPrecondition (only AppendAsFollower writes there).
  absl::StatusOr<AppendInfo> Append(std::span<uint8_t> records);

  // ---- Replication ----
  //
  // Makes this the leader's log at `epoch`: later Appends stamp it, and the
  // epoch history records that `epoch` starts at the log end (durably,
  // before this returns). On failure the role is unchanged.
  absl::Status BecomeLeader(LeaderEpoch epoch);
  // Makes this a follower's log under leader epoch `epoch`: Append is
  // refused; AppendAsFollower and TruncateAsFollower accept only `epoch`.
  void BecomeFollower(LeaderEpoch epoch);
  // The log goes back to standalone (a single node): appends not stamped.
  void BecomeStandalone();
  bool is_leader() const;
  // The epoch of the current role (kNoLeaderEpoch when standalone).
  LeaderEpoch role_epoch() const;

  // Appends batches fetched from the leader as they are: offsets, leader
  // epochs and producer fields kept, every CRC checked. The first batch
  // must start at the log end and each batch right after the previous one
  // (on a compacted topic, where the leader's cleaner removed whole
  // batches, at or after it); anything else is kInvalidArgument, nothing
  // appended. A batch with a newer leader epoch than the history's latest
  // is recorded there (durably) before the data is written. Producer state
  // is rebuilt from the batches (replayed, not checked), so idempotence
  // survives a change of leader. kFailedPrecondition unless this is a
  // follower's log under `epoch` (a fetch that raced a change of role).
  absl::StatusOr<AppendInfo> AppendAsFollower(std::span<const uint8_t> records,
                                              LeaderEpoch epoch);
  // Truncate, for a follower's log under `epoch` only (else
  // kFailedPrecondition): a leader's log is never cut.
  absl::StatusOr<Offset> TruncateAsFollower(Offset offset, LeaderEpoch epoch);
  // Removes every batch and restarts the log, empty, at `start` (a
  // follower whose log ends before the leader's log start: retention there
  // removed what it would fetch next). Producer state and epoch history are
  // cleared. For a follower's log under `epoch` only.
  absl::Status TruncateFullyAndStartAt(Offset start, LeaderEpoch epoch);

  // The epoch history: where `epoch` ends in this log (OffsetForLeaderEpoch,
  // leader_epoch_cache.h).
  EpochEndOffset EndOffsetForEpoch(LeaderEpoch epoch) const;
  std::optional<LeaderEpoch> latest_epoch() const;
  std::vector<EpochEntry> epoch_entries() const;

  // Bytes a later truncation removes read as zeros (the file is never cut
  // below what was handed out while it is open).
  //
  // Whole batches starting with the one that contains `start`: at least one
  // batch (even if larger than `max_bytes`) when any lies below
  // `max_offset` (default: the log end), then more while within
  // `max_bytes`. Stays within one segment. `start` == end (or at/after
  // max_offset) gives an empty result; outside [log start, log end] is
  // kOutOfRange; a corrupt first batch is kDataLoss.
  absl::StatusOr<ReadResult> Read(
      Offset start, size_t max_bytes,
      std::optional<Offset> max_offset = std::nullopt) const;

  // The first record whose timestamp is >= `ts`: its offset and timestamp,
  // or nullopt when every record is older.
  absl::StatusOr<std::optional<std::pair<Offset, int64_t>>>
  FindOffsetByTimestamp(int64_t ts) const;

  Offset log_start_offset() const;
  Offset log_end_offset() const;
  uint64_t size_bytes() const;
  int segment_count() const;
  RecoveryPoint recovery_point() const;
  uint64_t unflushed_bytes() const;
  const std::string& dir() const { return dir_; }

  // Deletes whole sealed segments, oldest first, while they breach
  // retention.ms (judged by their last append time) or retention.bytes, when
  // cleanup.policy includes delete; rolls the active segment first when it
  // alone breaches retention.ms. Returns how many segments went. Deletion
  // renames files to "*.deleted" before removing them, so a crash at any
  // point leaves a log whose start moved forward with no hole.
  absl::StatusOr<int> ApplyRetention();

  // The sealed segments (never the active one), oldest first.
  std::vector<SegmentView> SealedSegments() const;

  // The cleaner's commit: replaces the sealed segments whose bases are
  // `group` (consecutive, oldest first) with the cleaned segment whose
  // files "<group[0]>.{log,index,timeindex}.cleaned" are already durable;
  // they are renamed to .swap (the commit point) only after the group is
  // verified under the lock.
  // kAborted, with nothing changed, when the group is no longer what it was
  // (retention or truncation got there first): the caller discards its
  // output.
  absl::Status ReplaceSegments(const std::vector<SegmentView>& group);

  // Makes every append made before the call durable and advances the
  // recovery point; with `flushed`, sets it to the offset below which
  // everything is now durable (on failure: the offset the flush tried to
  // reach). The fsyncs run without the log's lock, so appends (and reads)
  // go on meanwhile; flushes are serialized with each other and with
  // retention, truncation, cleaning swaps and Close (flush_mu_). Concurrent
  // callers share nothing: each waits for its own fsyncs (a caller that
  // wants its flushes shared batches them itself, as the broker's
  // GroupCommitter does).
  absl::Status Flush(Offset* flushed = nullptr);
  // Flushes when flush.ms has passed since the oldest unflushed append.
  // flush.ms is applied here only (the LogManager's flusher thread calls
  // it every flush_check_interval_ms): an append never waits for a flush
  // by time.
  absl::Status MaybeFlush();
  // Starts a new segment now (if the active one is not empty).
  absl::Status Roll();
  // Removes every batch at or after `offset` (a batch that straddles it
  // goes whole); returns the new log end offset. Durable on return.
  absl::StatusOr<Offset> Truncate(Offset offset);
  // Applies new settings; size and time limits apply from the next append.
  absl::Status SetConfig(const LogConfig& config);
  LogConfig config() const;
  // Flushes, seals the active segment (trimming its files) and refuses
  // further appends: what a clean shutdown leaves behind.
  absl::Status Close();
  // Closes and removes every file of the log, and the directory.
  absl::Status DeleteFiles();
  // Refuses every later append, roll, retention and swap, without touching
  // the files (the log is about to be deleted).
  void Abandon();

  // Idempotent-producer state. Forgets producers whose last append is
  // `max_idle_ms` or more ago (producer.id.expiration.ms); returns how many.
  int ExpireProducers(int64_t max_idle_ms);
  // Forgets, least recently used first, at most `limit` producers whose
  // last append is at or before `up_to_ms` (max.producer.ids).
  int EvictProducers(int64_t up_to_ms, int64_t limit);
  void CollectProducerAppendTimes(std::vector<int64_t>* out) const;
  size_t producer_count() const;
  std::optional<ProducerInfo> producer(ProducerId id) const;
  // Offsets of the .snapshot files on disk, oldest first.
  std::vector<Offset> SnapshotOffsets() const;

 private:
  Log(std::string dir, const LogConfig& config, const LogOptions& options);
  // Append without the flush.bytes flush; sets `flush_due` when one is.
  absl::StatusOr<AppendInfo> AppendLocked(std::span<uint8_t> records,
                                          bool* flush_due)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static absl::StatusOr<int> CompleteInterruptedFileOps(FileSystem* fs,
                                                        const std::string& dir);
  Segment& active() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return *segments_.rbegin()->second;
  }
  const Segment& active_const() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return *segments_.rbegin()->second;
  }
  absl::Status RollLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ShouldTimeRoll() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Renames a segment's files to *.deleted, drops it from the log, and
  // removes the files. REQUIRES: not the active segment.
  absl::Status DeleteSegmentLocked(Offset base)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Producer-state snapshots (FORMAT.md). Writes one at the log end and
  // keeps the kSnapshotsKept newest.
  absl::Status WriteSnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<Offset>> ListSnapshotsLocked() const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Removes the snapshots for which `drop(offset)` holds, durably; returns
  // how many went.
  absl::StatusOr<int> RemoveSnapshotsLocked(
      absl::FunctionRef<bool(Offset)> drop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Offset> TruncateLocked(Offset offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckFollowerLocked(LeaderEpoch epoch) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Appends validated batches with their own offsets (AppendAsFollower),
  // rolling as needed; producer state replayed after the write.
  absl::Status AppendRunLocked(std::span<const uint8_t> run, Offset last,
                               int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The flush.bytes / flush.ms check after an append of `bytes`.
  void NoteAppendedLocked(uint64_t bytes, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads the epoch history (rebuilding it from the batch headers when the
  // file is missing or corrupt) and fits it to the log's offsets.
  absl::Status LoadEpochsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteEpochsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the producer state: removes snapshots past the log end, loads
  // the newest readable one (setting corrupt ones aside), and replays the
  // batch headers from it (or from the log start) to the log end.
  absl::Status RebuildProducerStateLocked(OpenReport* report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const LogOptions options_;
  // Held by Flush for its whole length (the fsyncs run without mu_), and by
  // everything that deletes, truncates, reactivates or replaces segments
  // (retention, Truncate, ReplaceSegments, Close, DeleteFiles), so a flush
  // never syncs a segment that is going away. Taken before mu_.
  absl::Mutex flush_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  LogConfig config_ ABSL_GUARDED_BY(mu_);
  // base offset -> segment; never empty once opened. The last is active.
  std::map<Offset, std::unique_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  RecoveryPoint recovery_point_ ABSL_GUARDED_BY(mu_);
  uint64_t unflushed_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t first_unflushed_ms_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  ProducerStateTable producers_ ABSL_GUARDED_BY(mu_);
  enum class Role { kStandalone, kLeader, kFollower };
  Role role_ ABSL_GUARDED_BY(mu_) = Role::kStandalone;
  LeaderEpoch role_epoch_ ABSL_GUARDED_BY(mu_) = kNoLeaderEpoch;
  LeaderEpochCache epochs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fjord::log

#endif  // FJORD_LOG_LOG_H_
