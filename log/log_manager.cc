#include "log/log_manager.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "log/checkpoint.h"
#include "log/file_names.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::log {

namespace {

LogManagerOptions WithProducerBudget(LogManagerOptions options) {
  if (options.log_options.producer_budget == nullptr) {
    options.log_options.producer_budget =
        std::make_shared<ProducerIdBudget>(options.max_producer_ids);
  }
  return options;
}

}  // namespace

LogManager::LogManager(const LogManagerOptions& options)
    : options_(WithProducerBudget(options)) {}

std::string LogManager::PathOf(const TopicPartition& tp) const {
  return absl::StrCat(options_.data_dir, "/", PartitionDirName(tp));
}

absl::StatusOr<std::unique_ptr<LogManager>> LogManager::Open(
    const LogManagerOptions& options, StartupReport* report) {
  RETURN_IF_ERROR(options.default_config.Validate());
  StartupReport local;
  if (report == nullptr) report = &local;
  *report = StartupReport{};
  auto started = std::chrono::steady_clock::now();
  FileSystem* fs = options.log_options.fs;
  const std::string& dir = options.data_dir;
  RETURN_IF_ERROR(fs->CreateDir(dir));
  std::unique_ptr<LogManager> m(new LogManager(options));
  ASSIGN_OR_RETURN(m->lock_,
                   fs->Lock(absl::StrCat(dir, "/", ToAbsl(kLockFileName))));

  const std::string marker = absl::StrCat(dir, "/", ToAbsl(kCleanShutdownFileName));
  const std::string checkpoint = absl::StrCat(dir, "/", ToAbsl(kRecoveryPointFileName));
  report->clean_shutdown = fs->Exists(marker);
  RecoveryPoints points;
  auto read = ReadRecoveryPoints(fs, checkpoint);
  if (read.ok()) {
    points = std::move(*read);
    report->checkpoint_found = true;
  } else if (!absl::IsNotFound(read.status())) {
    // Without trustworthy recovery points every segment is scanned: slower,
    // never wrong.
    spdlog::warn("{}: {}; recovering every segment", dir,
                 read.status().message());
    report->clean_shutdown = false;
  }

  ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  for (const auto& name : names) {
    std::string path = absl::StrCat(dir, "/", name);
    if (absl::EndsWith(name, ToAbsl(kDeletedDirSuffix))) {
      RETURN_IF_ERROR(fs->RemoveAll(path));
      continue;
    }
    if (!fs->IsDirectory(path)) continue;
    auto tp = ParsePartitionDirName(name);
    if (!tp) {
      spdlog::warn("{}: ignoring directory that is not a partition", path);
      continue;
    }
    RecoveryPoint rp;
    if (auto it = points.find(*tp); it != points.end()) rp = it->second;
    OpenReport r;
    auto log = Log::Open(path, options.default_config, m->options_.log_options,
                         rp, report->clean_shutdown, &r);
    if (!log.ok()) {
      return absl::Status(log.status().code(),
                          absl::StrCat("opening ", path, ": ",
                                       log.status().message()));
    }
    report->bytes += r.bytes;
    report->bytes_scanned += r.bytes_scanned;
    report->bytes_truncated += r.bytes_truncated;
    m->logs_.emplace(*tp, std::shared_ptr<Log>(std::move(*log)));
  }
  report->logs = static_cast<int>(m->logs_.size());
  {
    absl::MutexLock l(&m->cleaner_mu_);
    m->cleaner_ = std::make_unique<Cleaner>(options.cleaner,
                                            options.log_options.clock, fs);
    auto text = fs->ReadFile(absl::StrCat(dir, "/", ToAbsl(kCleanerOffsetFileName)));
    if (text.ok()) {
      auto offsets = DecodeOffsets(kCleanerOffsetFileName, *text);
      if (offsets.ok()) {
        m->first_dirty_ = std::move(*offsets);
      } else {
        // Losing it only means the next passes re-clean clean data.
        spdlog::warn("{}: {}", dir, offsets.status().message());
      }
    }
  }

  // From here on the state on disk is no longer that of a clean stop.
  if (fs->Exists(marker)) {
    RETURN_IF_ERROR(fs->Remove(marker));
    RETURN_IF_ERROR(fs->SyncDir(dir));
  }
  RETURN_IF_ERROR(m->CheckpointRecoveryPoints());
  if (options.start_flusher) {
    m->flusher_ = std::thread([p = m.get()] { p->FlusherLoop(); });
  }
  if (options.cleaner_enable) {
    m->cleaner_thread_ = std::thread([p = m.get()] { p->CleanerLoop(); });
  }
  report->elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  spdlog::info("{}: opened {} logs ({} bytes) in {} ms after a {} stop; "
               "recovery scanned {} bytes and discarded {}",
               dir, report->logs, report->bytes, report->elapsed_ms,
               report->clean_shutdown ? "clean" : "unclean",
               report->bytes_scanned, report->bytes_truncated);
  return m;
}

LogManager::~LogManager() {
  {
    absl::MutexLock l(&stop_mu_);
    stop_ = true;
  }
  if (flusher_.joinable()) flusher_.join();
  if (cleaner_thread_.joinable()) cleaner_thread_.join();
}

bool LogManager::WaitForStop(int64_t ms) {
  absl::MutexLock l(&stop_mu_);
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(stop_mu_) {
    return stop_;
  };
  return stop_mu_.AwaitWithTimeout(absl::Condition(&stopped),
                                   absl::Milliseconds(ms));
}

void LogManager::CleanerLoop() {
  while (!WaitForStop(0)) {
    auto r = CleanOnce();
    if (!r.ok()) {
      spdlog::error("{}: cleaner: {}", options_.data_dir, r.status().message());
    }
    // Go straight on while there is work; otherwise back off.
    if ((!r.ok() || !r->has_value()) && WaitForStop(options_.cleaner_backoff_ms)) {
      return;
    }
  }
}

absl::StatusOr<std::optional<CleanResult>> LogManager::CleanOnce() {
  absl::MutexLock cl(&cleaner_mu_);
  std::vector<std::pair<TopicPartition, std::shared_ptr<Log>>> logs;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [tp, log] : logs_) logs.emplace_back(tp, log);
  }
  std::shared_ptr<Log> best;
  TopicPartition best_tp;
  double best_ratio = -1;
  for (const auto& [tp, log] : logs) {
    const LogConfig config = log->config();
    if (!config.cleanup_compact) continue;
    auto it = first_dirty_.find(tp);
    Offset first_dirty = it == first_dirty_.end() ? log->log_start_offset()
                                                  : it->second;
    DirtyStats stats = cleaner_->Measure(*log, first_dirty);
    if (stats.dirty_bytes == 0 ||
        stats.ratio() < config.min_cleanable_dirty_ratio) {
      continue;
    }
    if (stats.ratio() > best_ratio) {
      best_ratio = stats.ratio();
      best = log;
      best_tp = tp;
    }
  }
  if (best == nullptr) return std::optional<CleanResult>();
  auto it = first_dirty_.find(best_tp);
  Offset first_dirty =
      it == first_dirty_.end() ? best->log_start_offset() : it->second;
  auto result = cleaner_->Clean(*best, first_dirty);
  if (!result.ok()) {
    if (absl::IsAborted(result.status())) return std::optional<CleanResult>();
    return absl::Status(result.status().code(),
                        absl::StrCat(best_tp.ToString(), ": ",
                                     result.status().message()));
  }
  if (!result->cleaned) return std::optional<CleanResult>();
  first_dirty_[best_tp] = result->next_first_dirty;
  RETURN_IF_ERROR(WriteCleanerCheckpoint());
  RETURN_IF_ERROR(CheckpointRecoveryPoints());
  return std::optional<CleanResult>(*result);
}

absl::Status LogManager::WriteCleanerCheckpoint() {
  return options_.log_options.fs->WriteFileAtomically(
      absl::StrCat(options_.data_dir, "/", ToAbsl(kCleanerOffsetFileName)),
      EncodeOffsets(kCleanerOffsetFileName, first_dirty_));
}

absl::StatusOr<int> LogManager::ApplyRetention() {
  std::vector<std::shared_ptr<Log>> logs;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [tp, log] : logs_) logs.push_back(log);
  }
  int deleted = 0;
  for (const auto& log : logs) {
    ASSIGN_OR_RETURN(int n, log->ApplyRetention());
    deleted += n;
  }
  if (deleted > 0) RETURN_IF_ERROR(CheckpointRecoveryPoints());
  return deleted;
}

int64_t LogManager::ExpireProducers() {
  std::vector<std::shared_ptr<Log>> logs;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [tp, log] : logs_) logs.push_back(log);
  }
  int64_t forgotten = 0;
  for (const auto& log : logs) {
    forgotten += log->ExpireProducers(options_.producer_id_expiration_ms);
  }
  const ProducerIdBudget& budget = *options_.log_options.producer_budget;
  int64_t excess = budget.count() - budget.max_ids();
  if (excess <= 0) return forgotten;
  // Broker-wide least recently used: the excess-th oldest last append time
  // is the threshold; strictly older producers go everywhere, then ties at
  // the threshold until the count is back at the cap.
  std::vector<int64_t> times;
  for (const auto& log : logs) log->CollectProducerAppendTimes(&times);
  if (times.empty()) return forgotten;
  excess = std::min<int64_t>(excess, static_cast<int64_t>(times.size()));
  std::nth_element(times.begin(), times.begin() + (excess - 1), times.end());
  const int64_t threshold = times[excess - 1];
  for (const auto& log : logs) {
    forgotten += log->EvictProducers(threshold - 1, INT64_MAX);
  }
  for (const auto& log : logs) {
    int64_t left = budget.count() - budget.max_ids();
    if (left <= 0) break;
    forgotten += log->EvictProducers(threshold, left);
  }
  return forgotten;
}

void LogManager::FlusherLoop() {
  auto last_checkpoint = std::chrono::steady_clock::now();
  auto last_retention = last_checkpoint;
  auto last_producer_check = last_checkpoint;
  for (;;) {
    if (WaitForStop(options_.flush_check_interval_ms)) return;
    std::vector<std::shared_ptr<Log>> logs;
    {
      absl::ReaderMutexLock l(&mu_);
      for (const auto& [tp, log] : logs_) logs.push_back(log);
    }
    for (const auto& log : logs) {
      absl::Status s = log->MaybeFlush();
      if (!s.ok()) spdlog::error("{}: flush failed: {}", log->dir(), s.message());
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_retention >=
        std::chrono::milliseconds(options_.retention_check_interval_ms)) {
      auto r = ApplyRetention();
      if (!r.ok()) spdlog::error("retention failed: {}", r.status().message());
      last_retention = now;
    }
    if (now - last_producer_check >=
        std::chrono::milliseconds(
            options_.producer_id_expiration_check_interval_ms)) {
      int64_t n = ExpireProducers();
      if (n > 0) {
        spdlog::info(
            "{}: forgot {} idle or least recently used producers; "
            "{} remembered",
            options_.data_dir, n, producer_count());
      }
      last_producer_check = now;
    }
    if (now - last_checkpoint >=
        std::chrono::milliseconds(options_.checkpoint_interval_ms)) {
      absl::Status s = CheckpointRecoveryPoints();
      if (!s.ok()) spdlog::error("checkpoint failed: {}", s.message());
      last_checkpoint = now;
    }
  }
}

std::shared_ptr<Log> LogManager::Get(const TopicPartition& tp) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = logs_.find(tp);
  return it == logs_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<Log>> LogManager::GetOrCreate(
    const TopicPartition& tp, const std::optional<LogConfig>& config) {
  if (!IsValidTopicName(tp.topic)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid topic name '", tp.topic,
        "': use 1-249 characters of [a-zA-Z0-9._-]"));
  }
  if (tp.partition < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid partition ", tp.partition));
  }
  absl::MutexLock l(&mu_);
  if (auto it = logs_.find(tp); it != logs_.end()) return it->second;
  ASSIGN_OR_RETURN(auto log,
                   Log::Open(PathOf(tp), config.value_or(options_.default_config),
                             options_.log_options, RecoveryPoint{},
                             /*clean_shutdown=*/false));
  RETURN_IF_ERROR(options_.log_options.fs->SyncDir(options_.data_dir));
  std::shared_ptr<Log> shared(std::move(log));
  logs_.emplace(tp, shared);
  return shared;
}

absl::Status LogManager::Delete(const TopicPartition& tp) {
  FileSystem* fs = options_.log_options.fs;
  std::string deleted = absl::StrFormat(
      "%s.%d%s", PathOf(tp), options_.log_options.clock->NowMs(),
      kDeletedDirSuffix);
  {
    // Under the lock, so a GetOrCreate of the same partition cannot open
    // the directory while it is being moved away.
    absl::MutexLock l(&mu_);
    auto it = logs_.find(tp);
    if (it == logs_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no log for partition ", tp.ToString()));
    }
    // Holders of the old Log (the flusher, the cleaner) must not act on
    // paths a new log of the same name may reuse.
    it->second->Abandon();
    logs_.erase(it);
    RETURN_IF_ERROR(fs->Rename(PathOf(tp), deleted));
    RETURN_IF_ERROR(fs->SyncDir(options_.data_dir));
  }
  {
    absl::MutexLock cl(&cleaner_mu_);
    first_dirty_.erase(tp);
  }
  return fs->RemoveAll(deleted);
}

std::vector<TopicPartition> LogManager::List() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, log] : logs_) out.push_back(tp);
  return out;
}

absl::Status LogManager::FlushAll() {
  absl::ReaderMutexLock l(&mu_);
  for (const auto& [tp, log] : logs_) RETURN_IF_ERROR(log->Flush());
  return absl::OkStatus();
}

absl::Status LogManager::CheckpointRecoveryPoints() {
  absl::MutexLock cl(&checkpoint_mu_);
  RecoveryPoints points;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [tp, log] : logs_) points[tp] = log->recovery_point();
  }
  return WriteRecoveryPoints(
      options_.log_options.fs,
      absl::StrCat(options_.data_dir, "/", ToAbsl(kRecoveryPointFileName)), points);
}

absl::Status LogManager::Close() {
  if (closed_) return absl::OkStatus();
  {
    absl::MutexLock l(&stop_mu_);
    stop_ = true;
  }
  if (flusher_.joinable()) flusher_.join();
  if (cleaner_thread_.joinable()) cleaner_thread_.join();
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [tp, log] : logs_) RETURN_IF_ERROR(log->Close());
  }
  RETURN_IF_ERROR(CheckpointRecoveryPoints());
  RETURN_IF_ERROR(options_.log_options.fs->WriteFileAtomically(
      absl::StrCat(options_.data_dir, "/", ToAbsl(kCleanShutdownFileName)),
      "clean\n"));
  closed_ = true;
  lock_.reset();
  return absl::OkStatus();
}

}  // namespace fjord::log
