// LogManager: every partition log under one data directory. Open takes the
// directory's lock file (a second process gets a clear error), loads every
// "<topic>-<partition>" directory, trusting all of it after a clean
// shutdown and otherwise recovering from the checkpointed recovery points,
// then removes the clean-shutdown marker. A background flusher applies
// flush.ms, checkpoints recovery points, applies retention and expires idle
// idempotent producers. Close flushes, seals, writes the producer-state
// snapshots, the checkpoint and the marker.
//
// Thread-safe.
#ifndef FJORD_LOG_LOG_MANAGER_H_
#define FJORD_LOG_LOG_MANAGER_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "log/checkpoint.h"
#include "log/cleaner.h"
#include "log/log.h"
#include "log/types.h"

namespace fjord::log {

struct LogManagerOptions {
  std::string data_dir = "./fjord-data";
  LogConfig default_config;
  LogOptions log_options;
  // How often the flusher looks for logs due a flush.ms flush.
  int64_t flush_check_interval_ms = 100;
  // How often recovery points are written to the checkpoint file.
  int64_t checkpoint_interval_ms = 60'000;
  bool start_flusher = true;
  // log.retention.check.interval.ms: how often the flusher thread applies
  // retention to every log.
  int64_t retention_check_interval_ms = 300'000;
  // log.cleaner.enable: run the cleaner thread (compacted topics).
  bool cleaner_enable = true;
  // producer.id.expiration.ms: an idempotent producer is forgotten this
  // long after its last append to a partition (its next batch there is
  // then accepted as a fresh sequence).
  int64_t producer_id_expiration_ms = 24LL * 3600 * 1000;
  // producer.id.expiration.check.interval.ms: how often the flusher thread
  // expires producers and enforces max.producer.ids.
  int64_t producer_id_expiration_check_interval_ms = 600'000;
  // max.producer.ids: producers remembered across all partitions (a
  // producer counts once per partition it writes to; ~200 bytes each).
  // Ignored when log_options.producer_budget is already set.
  int64_t max_producer_ids = 200'000;
  // log.cleaner.backoff.ms: how long an idle cleaner sleeps.
  int64_t cleaner_backoff_ms = 15'000;
  CleanerOptions cleaner;
};

struct StartupReport {
  int logs = 0;
  bool clean_shutdown = false;
  bool checkpoint_found = false;
  uint64_t bytes = 0;
  uint64_t bytes_scanned = 0;
  uint64_t bytes_truncated = 0;
  int64_t elapsed_ms = 0;
};

class LogManager {
 public:
  static absl::StatusOr<std::unique_ptr<LogManager>> Open(
      const LogManagerOptions& options, StartupReport* report = nullptr);
  LogManager(const LogManager&) = delete;
  LogManager& operator=(const LogManager&) = delete;
  // Without Close(): stops the flusher and releases the lock, but writes no
  // clean-shutdown marker, so the next Open recovers as after a crash.
  ~LogManager();

  // The log of `tp`, or nullptr.
  std::shared_ptr<Log> Get(const TopicPartition& tp) const;
  // The log of `tp`, created (with `config`, or the default) if missing.
  // kInvalidArgument for an illegal topic name or negative partition.
  absl::StatusOr<std::shared_ptr<Log>> GetOrCreate(
      const TopicPartition& tp,
      const std::optional<LogConfig>& config = std::nullopt);
  // Removes the log and its directory (renamed to "*.deleted" first, so a
  // crash midway never leaves a half-deleted partition that loads).
  absl::Status Delete(const TopicPartition& tp);
  std::vector<TopicPartition> List() const;

  absl::Status FlushAll();
  absl::Status CheckpointRecoveryPoints();
  // Applies retention to every log now; returns segments deleted.
  absl::StatusOr<int> ApplyRetention();
  // Forgets idle producers (producer.id.expiration.ms) in every log, then,
  // while more than max.producer.ids are remembered, the least recently
  // used ones broker-wide. Returns how many were forgotten.
  int64_t ExpireProducers();
  // Producers remembered across all logs.
  int64_t producer_count() const {
    return options_.log_options.producer_budget->count();
  }
  // Cleans the compacted log with the highest dirty ratio at or above its
  // min.cleanable.dirty.ratio, if any (what the cleaner thread does each
  // round). nullopt when no log needs cleaning.
  absl::StatusOr<std::optional<CleanResult>> CleanOnce();
  // Clean shutdown. The manager must not be used afterwards.
  absl::Status Close();

  const std::string& data_dir() const { return options_.data_dir; }

 private:
  explicit LogManager(const LogManagerOptions& options);
  void FlusherLoop();
  void CleanerLoop();
  // Waits up to `ms` for Close/destruction; true when stopping.
  bool WaitForStop(int64_t ms);
  absl::Status WriteCleanerCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cleaner_mu_);
  std::string PathOf(const TopicPartition& tp) const;

  const LogManagerOptions options_;
  std::unique_ptr<FileLock> lock_;
  mutable absl::Mutex mu_;
  absl::btree_map<TopicPartition, std::shared_ptr<Log>> logs_
      ABSL_GUARDED_BY(mu_);
  absl::Mutex checkpoint_mu_;  // serializes checkpoint writes; after mu_
  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread flusher_;
  std::thread cleaner_thread_;
  // Cleaner state: first dirty offset per compacted log. Taken before mu_.
  absl::Mutex cleaner_mu_;
  std::unique_ptr<Cleaner> cleaner_ ABSL_GUARDED_BY(cleaner_mu_);
  PartitionOffsets first_dirty_ ABSL_GUARDED_BY(cleaner_mu_);
  bool closed_ = false;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_LOG_MANAGER_H_
