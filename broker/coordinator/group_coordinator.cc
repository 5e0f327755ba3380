#include "broker/coordinator/group_coordinator.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "broker/coordinator/errors.h"
#include "broker/coordinator/records.h"
#include "log/record_batch.h"
#include "log/status_macros.h"
#include "spdlog/spdlog.h"

namespace fjord::coordinator {

namespace {

constexpr size_t kMaxGroupIdBytes = 255;
constexpr size_t kReplayReadBytes = 1 << 20;

absl::Status UnknownTopicOrPartition(const TopicPartition& tp) {
  return ReasonError(
      absl::StatusCode::kNotFound, kUnknownTopicOrPartition,
      absl::StrFormat("no partition %d of topic %s", tp.partition, tp.topic));
}

}  // namespace

absl::Status CoordinatorOptions::Validate() const {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(std::string(what));
  };
  if (offsets_topic_partitions < 1) {
    return bad("offsets.topic.num.partitions must be at least 1");
  }
  if (commit_required_acks != -1 && commit_required_acks != 1) {
    return bad("offsets.commit.required.acks must be -1 or 1");
  }
  if (offset_metadata_max_bytes < 0 || offset_metadata_max_bytes > 32767) {
    return bad("offset.metadata.max.bytes must be in [0, 32767]");
  }
  if (min_session_timeout_ms < 1 ||
      min_session_timeout_ms > max_session_timeout_ms) {
    return bad(
        "group.min.session.timeout.ms must be positive and at most "
        "group.max.session.timeout.ms");
  }
  if (default_session_timeout_ms < min_session_timeout_ms ||
      default_session_timeout_ms > max_session_timeout_ms) {
    return bad(
        "group.consumer.session.timeout.ms must lie within "
        "group.min.session.timeout.ms and group.max.session.timeout.ms");
  }
  if (heartbeat_interval_ms < 1) {
    return bad("group.consumer.heartbeat.interval.ms must be positive");
  }
  if (default_rebalance_timeout_ms < 1) {
    return bad("the default rebalance timeout must be positive");
  }
  if (assignors.empty()) return bad("group.consumer.assignors is empty");
  for (const std::string& a : assignors) {
    if (MakeAssignor(a) == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "group.consumer.assignors: unknown assignor '%s' (known: uniform, "
          "range)",
          a));
    }
  }
  if (commit_timeout_ms < 1) {
    return bad("offsets.commit.timeout.ms must be positive");
  }
  if (offsets_topic_replication_factor < 1) {
    return bad("offsets.topic.replication.factor must be at least 1");
  }
  if (timer_interval_ms < 1) {
    return bad("group.coordinator.timer.interval.ms must be positive");
  }
  return absl::OkStatus();
}

GroupCoordinator::GroupCoordinator(const CoordinatorOptions& options,
                                   TopicSource* topics, log::Clock* clock,
                                   RemoteCoordinator remote, int32_t partitions)
    : options_(options),
      topics_(topics),
      clock_(clock),
      remote_(std::move(remote)),
      partitions_(partitions),
      append_mu_(new absl::Mutex[partitions]),
      logs_(partitions),
      owned_(partitions) {
  for (const std::string& name : options.assignors) {
    assignors_.push_back(MakeAssignor(name));
    group_config_.assignors.push_back(assignors_.back().get());
  }
  group_config_.min_session_timeout_ms = options.min_session_timeout_ms;
  group_config_.max_session_timeout_ms = options.max_session_timeout_ms;
  group_config_.default_session_timeout_ms = options.default_session_timeout_ms;
  group_config_.heartbeat_interval_ms = options.heartbeat_interval_ms;
  group_config_.default_rebalance_timeout_ms =
      options.default_rebalance_timeout_ms;
}

absl::StatusOr<std::unique_ptr<GroupCoordinator>> GroupCoordinator::Open(
    const CoordinatorOptions& options, TopicSource* topics, log::Clock* clock,
    RemoteCoordinator remote, LoadReport* report) {
  RETURN_IF_ERROR(options.Validate());
  std::optional<int32_t> partitions = topics->PartitionCount(kOffsetsTopic);
  if (!partitions.has_value() || *partitions < 1) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the group coordinator needs the topic %s", kOffsetsTopic));
  }
  std::unique_ptr<GroupCoordinator> c(new GroupCoordinator(
      options, topics, clock, std::move(remote), *partitions));
  LoadReport local;
  RETURN_IF_ERROR(c->Load(report != nullptr ? report : &local));
  if (options.start_timer)
    c->timer_ = std::thread([p = c.get()] { p->TimerLoop(); });
  return c;
}

absl::StatusOr<std::unique_ptr<GroupCoordinator>>
GroupCoordinator::OpenUnloaded(const CoordinatorOptions& options,
                               TopicSource* topics, int32_t partitions,
                               log::Clock* clock, RemoteCoordinator remote) {
  RETURN_IF_ERROR(options.Validate());
  if (partitions < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s needs at least one partition", kOffsetsTopic));
  }
  std::unique_ptr<GroupCoordinator> c(new GroupCoordinator(
      options, topics, clock, std::move(remote), partitions));
  if (options.start_timer)
    c->timer_ = std::thread([p = c.get()] { p->TimerLoop(); });
  return c;
}

GroupCoordinator::~GroupCoordinator() {
  {
    absl::MutexLock l(&stop_mu_);
    stop_ = true;
  }
  if (timer_.joinable()) timer_.join();
}

void GroupCoordinator::TimerLoop() {
  for (;;) {
    {
      absl::MutexLock l(&stop_mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(stop_mu_) {
        return stop_;
      };
      stop_mu_.AwaitWithTimeout(absl::Condition(&stopping),
                                absl::Milliseconds(options_.timer_interval_ms));
      if (stop_) return;
    }
    Tick();
  }
}

absl::Status GroupCoordinator::Load(LoadReport* report) {
  *report = LoadReport{};
  const int64_t start_ms = clock_->NowMs();
  for (int32_t p = 0; p < partitions_; p++) {
    std::shared_ptr<log::Log> log = topics_->PartitionLog(kOffsetsTopic, p);
    if (log == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrFormat("partition %d of %s is missing", p, kOffsetsTopic));
    }
    absl::MutexLock a(&append_mu_[p]);  // lock order: before mu_
    logs_[p] = std::move(log);
  }
  absl::MutexLock l(&mu_);
  for (int32_t p = 0; p < partitions_; p++) {
    // Nothing else runs yet (Open): the log is read without append_mu_[p].
    RETURN_IF_ERROR(Replay(p, *logs_[p], &groups_, report));
    owned_[p] = PartitionOwnership{Ownership::kOwned, 0, 1};
  }
  report->partitions = partitions_;
  report->groups = static_cast<int>(groups_.size());
  for (const auto& [id, g] : groups_) report->offsets += g->offsets().size();
  report->elapsed_ms = clock_->NowMs() - start_ms;
  return absl::OkStatus();
}

absl::Status GroupCoordinator::Replay(int32_t p, log::Log& log,
                                      GroupMap* groups, LoadReport* report) {
  std::string scratch;
  std::vector<log::Record> records;
  auto find_or_create = [groups](const std::string& id) {
    std::unique_ptr<ConsumerGroup>& g = (*groups)[id];
    if (g == nullptr) g = std::make_unique<ConsumerGroup>(id);
    return g.get();
  };
  Offset pos = log.log_start_offset();
  const Offset end = log.log_end_offset();
  while (pos < end) {
    ASSIGN_OR_RETURN(log::ReadResult read,
                     log.Read(pos, kReplayReadBytes, end));
    if (read.bytes.empty()) break;
    RETURN_IF_ERROR(log::ForEachBatch(
        read.bytes,
        [&](const log::BatchHeader& header,
            std::span<const uint8_t> batch) -> absl::Status {
          if (header.is_control()) return absl::OkStatus();
          records.clear();
          RETURN_IF_ERROR(log::DecodeRecords(batch, &scratch, &records));
          for (const log::Record& r : records) {
            report->records++;
            auto skip = [&](const absl::Status& why) {
              report->skipped++;
              spdlog::warn("{}-{} offset {}: skipping record: {}",
                           kOffsetsTopic, p, r.offset.value(), why.message());
            };
            if (!r.key.has_value()) {
              skip(absl::DataLossError("null key"));
              continue;
            }
            absl::StatusOr<RecordKey> key = DecodeRecordKey(*r.key);
            if (!key.ok()) {
              skip(key.status());
              continue;
            }
            if (auto* k = std::get_if<OffsetCommitKey>(&*key)) {
              if (!r.value.has_value()) {
                if (auto it = groups->find(k->group); it != groups->end()) {
                  it->second->RemoveOffset(k->tp);
                }
                continue;
              }
              auto v = DecodeOffsetCommitValue(*r.value);
              if (!v.ok()) {
                skip(v.status());
                continue;
              }
              find_or_create(k->group)->SetOffset(k->tp, std::move(*v));
            } else {
              const auto& g = std::get<GroupMetadataKey>(*key);
              if (!r.value.has_value()) {
                groups->erase(g.group);  // deleted, with its offsets
                continue;
              }
              auto v = DecodeGroupMetadataValue(*r.value);
              if (!v.ok()) {
                skip(v.status());
                continue;
              }
              find_or_create(g.group)->SetPersisted(v->created_ms);
            }
          }
          return absl::OkStatus();
        }));
    pos = read.next_offset;
  }
  return absl::OkStatus();
}

absl::Status GroupCoordinator::LoadPartition(int32_t p, int32_t leader_epoch,
                                             LoadReport* report) {
  if (p < 0 || p >= partitions_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("no partition %d of %s", p, kOffsetsTopic));
  }
  LoadReport local;
  if (report == nullptr) report = &local;
  *report = LoadReport{};
  const int64_t start_ms = clock_->NowMs();
  // No commit appends while the partition is read (a commit validated
  // under an earlier generation finishes first; it will not apply).
  absl::MutexLock a(&append_mu_[p]);
  uint64_t generation;
  {
    absl::MutexLock l(&mu_);
    PartitionOwnership& o = owned_[p];
    o.state = Ownership::kLoading;
    o.epoch = leader_epoch;
    generation = ++o.generation;
    std::erase_if(groups_,
                  [&](const auto& e) { return PartitionFor(e.first) == p; });
  }
  std::shared_ptr<log::Log> log = topics_->PartitionLog(kOffsetsTopic, p);
  absl::Status replayed =
      log == nullptr
          ? absl::FailedPreconditionError(absl::StrFormat(
                "partition %d of %s has no log here", p, kOffsetsTopic))
          : absl::OkStatus();
  GroupMap loaded;
  if (replayed.ok()) replayed = Replay(p, *log, &loaded, report);
  absl::MutexLock l(&mu_);
  PartitionOwnership& o = owned_[p];
  if (o.generation != generation) return absl::OkStatus();  // unloaded
  if (!replayed.ok()) {
    o = PartitionOwnership{Ownership::kNotOwned, -1, o.generation + 1};
    return replayed;
  }
  logs_[p] = std::move(log);
  report->partitions = 1;
  report->groups = static_cast<int>(loaded.size());
  for (auto& [id, g] : loaded) {
    report->offsets += g->offsets().size();
    groups_[id] = std::move(g);
  }
  o.state = Ownership::kOwned;
  report->elapsed_ms = clock_->NowMs() - start_ms;
  return absl::OkStatus();
}

void GroupCoordinator::UnloadPartition(int32_t p) {
  if (p < 0 || p >= partitions_) return;
  absl::MutexLock l(&mu_);
  PartitionOwnership& o = owned_[p];
  if (o.state == Ownership::kNotOwned) return;
  o = PartitionOwnership{Ownership::kNotOwned, -1, o.generation + 1};
  std::erase_if(groups_,
                [&](const auto& e) { return PartitionFor(e.first) == p; });
}

std::optional<int32_t> GroupCoordinator::LoadedEpoch(int32_t p) const {
  if (p < 0 || p >= partitions_) return std::nullopt;
  absl::MutexLock l(&mu_);
  if (owned_[p].state == Ownership::kNotOwned) return std::nullopt;
  return owned_[p].epoch;
}

absl::Status GroupCoordinator::CheckOwnedLocked(int32_t p) const {
  switch (owned_[p].state) {
    case Ownership::kOwned:
      return absl::OkStatus();
    case Ownership::kLoading:
      return ReasonError(
          absl::StatusCode::kUnavailable, kCoordinatorLoadInProgress,
          absl::StrFormat("this broker is loading partition %d of %s; retry", p,
                          kOffsetsTopic));
    case Ownership::kNotOwned:
      break;
  }
  return ReasonError(
      absl::StatusCode::kUnavailable, kCoordinatorLoadInProgress,
      absl::StrFormat("this broker leads partition %d of %s but has not "
                      "loaded it yet; retry",
                      p, kOffsetsTopic));
}

absl::Status GroupCoordinator::AwaitReplicated(int32_t p, Offset end) {
  if (options_.commit_required_acks != -1) return absl::OkStatus();
  absl::Status s = topics_->WaitReplicated(
      kOffsetsTopic, p, end, absl::Milliseconds(options_.commit_timeout_ms));
  if (s.ok()) return s;
  return ReasonError(
      absl::StatusCode::kUnavailable, kCoordinatorNotAvailable,
      absl::StrFormat("partition %d of %s: the in-sync replicas do not hold "
                      "the records yet (%s); retry",
                      p, kOffsetsTopic, s.message()));
}

int32_t GroupCoordinator::PartitionFor(std::string_view group_id) const {
  return OffsetsPartitionFor(group_id, partitions_);
}

absl::Status GroupCoordinator::CheckCoordinator(
    std::string_view group_id) const {
  if (remote_ == nullptr) return absl::OkStatus();
  const int32_t p = PartitionFor(group_id);
  std::optional<std::string> leader = remote_(p);
  if (!leader.has_value()) return absl::OkStatus();
  if (leader->empty()) {
    return ReasonError(
        absl::StatusCode::kUnavailable, kCoordinatorNotAvailable,
        absl::StrFormat("no broker coordinates group %s now (partition %d of "
                        "%s has no leader); retry",
                        group_id, p, kOffsetsTopic));
  }
  return ReasonError(
      absl::StatusCode::kFailedPrecondition, kNotCoordinator,
      absl::StrFormat("this broker is not the coordinator of group %s "
                      "(partition %d of %s); the coordinator is %s",
                      group_id, p, kOffsetsTopic, *leader),
      {{std::string(kCoordinatorKey), *leader}});
}

absl::Status GroupCoordinator::CheckGroup(std::string_view group_id) const {
  if (group_id.empty()) {
    return absl::InvalidArgumentError("group_id: required");
  }
  if (group_id.size() > kMaxGroupIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("group_id: longer than %d bytes", kMaxGroupIdBytes));
  }
  return CheckCoordinator(group_id);
}

ConsumerGroup* GroupCoordinator::Find(std::string_view group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

ConsumerGroup* GroupCoordinator::FindOrCreate(std::string_view group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) {
    std::string id(group_id);
    it = groups_.emplace(id, std::make_unique<ConsumerGroup>(id)).first;
  }
  return it->second.get();
}

void GroupCoordinator::Expire(ConsumerGroup* group, int64_t now_ms) {
  for (const Expiry& e : group->ExpireMembers(now_ms)) {
    expired_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("group {}: member {} removed: {} timeout", group->id(),
                 e.member_id, e.rebalance_timeout ? "rebalance" : "session");
  }
}

void GroupCoordinator::DisposeIfUnused(ConsumerGroup* group) {
  if (!group->Disposable()) return;
  const std::string id = group->id();  // not a reference into the group
  groups_.erase(id);
}

std::string GroupCoordinator::NewMemberId() {
  // A random (version 4) UUID.
  uint64_t hi = absl::Uniform<uint64_t>(bitgen_);
  uint64_t lo = absl::Uniform<uint64_t>(bitgen_);
  hi = (hi & ~0xf000ULL) | 0x4000ULL;
  lo = (lo & ~(0xcULL << 60)) | (0x8ULL << 60);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32,
                         (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                         lo & 0xffffffffffffULL);
}

absl::StatusOr<HeartbeatResponse> GroupCoordinator::Heartbeat(
    const HeartbeatRequest& request) {
  RETURN_IF_ERROR(CheckGroup(request.group_id));
  const int64_t now = clock_->NowMs();
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOwnedLocked(PartitionFor(request.group_id)));
  heartbeats_.fetch_add(1, std::memory_order_relaxed);
  ConsumerGroup* g = Find(request.group_id);
  if (g == nullptr) {
    if (request.member_epoch != kJoinEpoch) {
      return ReasonError(absl::StatusCode::kNotFound, kUnknownMemberId,
                         absl::StrFormat("group %s has no member %s: join "
                                         "again with epoch 0",
                                         request.group_id, request.member_id));
    }
    g = FindOrCreate(request.group_id);
  }
  Expire(g, now);
  const int64_t rebalances_before = g->rebalances();
  absl::StatusOr<HeartbeatResponse> out = g->Heartbeat(
      request, now, group_config_,
      [this](std::string_view topic) { return topics_->PartitionCount(topic); },
      [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return NewMemberId(); });
  rebalances_.fetch_add(g->rebalances() - rebalances_before,
                        std::memory_order_relaxed);
  DisposeIfUnused(g);
  return out;
}

absl::Status GroupCoordinator::LeaveGroup(std::string_view group_id,
                                          std::string_view member_id,
                                          bool temporary) {
  HeartbeatRequest r;
  r.group_id = std::string(group_id);
  r.member_id = std::string(member_id);
  r.member_epoch = temporary ? kTemporaryLeaveEpoch : kLeaveEpoch;
  return Heartbeat(r).status();
}

absl::Status GroupCoordinator::ValidateOffset(const OffsetCommit& c) const {
  std::optional<int32_t> n = topics_->PartitionCount(c.tp.topic);
  if (!n.has_value() || c.tp.partition < 0 || c.tp.partition >= *n) {
    return UnknownTopicOrPartition(c.tp);
  }
  if (c.offset < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "offset %d for %s: must not be negative", c.offset, c.tp.ToString()));
  }
  if (c.metadata.size() >
      static_cast<size_t>(options_.offset_metadata_max_bytes)) {
    return ReasonError(absl::StatusCode::kInvalidArgument,
                       kOffsetMetadataTooLarge,
                       absl::StrFormat("metadata for %s is %d bytes, more than "
                                       "offset.metadata.max.bytes (%d)",
                                       c.tp.ToString(), c.metadata.size(),
                                       options_.offset_metadata_max_bytes));
  }
  return absl::OkStatus();
}

GroupCoordinator::AppendResult GroupCoordinator::Append(
    int32_t p,
    const std::vector<std::pair<std::string, std::optional<std::string>>>&
        records) {
  log::BatchBuilder builder(log::BatchOptions{});
  const int64_t now = clock_->NowMs();
  for (const auto& [key, value] : records) {
    log::RecordInput in;
    in.key = key;
    if (value.has_value()) in.value = *value;
    in.timestamp = now;
    builder.Add(in);
  }
  absl::StatusOr<std::string> built = builder.Build();
  if (!built.ok()) return AppendResult{false, built.status()};
  std::string& batch = *built;
  if (logs_[p] == nullptr) {
    return AppendResult{
        false, absl::FailedPreconditionError(absl::StrFormat(
                   "partition %d of %s is not loaded here", p, kOffsetsTopic))};
  }
  log::Log& log = *logs_[p];
  absl::StatusOr<log::AppendInfo> appended = log.Append(
      std::span(reinterpret_cast<uint8_t*>(batch.data()), batch.size()));
  if (!appended.ok()) return AppendResult{false, appended.status()};
  topics_->Appended(kOffsetsTopic, p);
  absl::Status flushed =
      options_.commit_required_acks == -1 ? log.Flush() : absl::OkStatus();
  return AppendResult{true, flushed, appended->last_offset + 1};
}

absl::Status GroupCoordinator::CommitOffsets(const CommitRequest& request) {
  RETURN_IF_ERROR(CheckGroup(request.group_id));
  for (const OffsetCommit& c : request.offsets) {
    RETURN_IF_ERROR(ValidateOffset(c));
  }
  const int32_t p = PartitionFor(request.group_id);
  absl::MutexLock append_lock(&append_mu_[p]);
  bool write_group = false;
  uint64_t generation;
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(CheckOwnedLocked(p));
    generation = owned_[p].generation;
    ConsumerGroup* g = Find(request.group_id);
    if (g != nullptr) {
      Expire(g, clock_->NowMs());
      RETURN_IF_ERROR(
          g->ValidateCommit(request.member_id, request.member_epoch));
    } else {
      ConsumerGroup none(request.group_id);
      RETURN_IF_ERROR(
          none.ValidateCommit(request.member_id, request.member_epoch));
    }
    write_group = g == nullptr || !g->persisted();
  }
  if (request.offsets.empty()) return absl::OkStatus();
  const int64_t now = clock_->NowMs();
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  if (write_group) {
    records.emplace_back(
        EncodeGroupMetadataKey(request.group_id),
        EncodeGroupMetadataValue(GroupMetadataValue{"consumer", now}));
  }
  std::vector<std::pair<TopicPartition, OffsetAndMetadata>> values;
  for (const OffsetCommit& c : request.offsets) {
    OffsetAndMetadata v{c.offset, -1, c.metadata, now};
    records.emplace_back(EncodeOffsetCommitKey(request.group_id, c.tp),
                         EncodeOffsetCommitValue(v));
    values.emplace_back(c.tp, std::move(v));
  }
  AppendResult result = Append(p, records);
  if (!result.appended) return result.status;
  if (result.status.ok()) {
    // Not acknowledged, nor applied, before the in-sync replicas hold it (a
    // new leader would not have it). Kafka drops such a pending commit
    // too; the records, if they are replicated later, apply at the next
    // load.
    RETURN_IF_ERROR(AwaitReplicated(p, result.end));
  }
  // The records are in the log: the state follows them, whatever happened
  // to the member meanwhile, and even if the flush failed (a replay would
  // apply them too, if they survived).
  absl::MutexLock l(&mu_);
  if (owned_[p].generation != generation) {
    return ReasonError(
        absl::StatusCode::kUnavailable, kCoordinatorNotAvailable,
        absl::StrFormat("this broker stopped coordinating group %s during "
                        "the commit; retry",
                        request.group_id));
  }
  ConsumerGroup* g = FindOrCreate(request.group_id);
  if (write_group) g->SetPersisted(now);
  for (auto& [tp, v] : values) g->SetOffset(tp, std::move(v));
  if (result.status.ok()) commits_.fetch_add(1, std::memory_order_relaxed);
  return result.status;
}

absl::StatusOr<std::vector<TopicPartition>> GroupCoordinator::Resolve(
    const std::vector<PartitionFilter>& filters) const {
  std::set<TopicPartition> out;
  for (const PartitionFilter& f : filters) {
    std::optional<int32_t> n = topics_->PartitionCount(f.topic);
    if (!n.has_value()) {
      return ReasonError(absl::StatusCode::kNotFound, kUnknownTopicOrPartition,
                         absl::StrFormat("no topic %s", f.topic));
    }
    if (f.partitions.empty()) {
      for (int32_t i = 0; i < *n; i++) out.insert({f.topic, i});
    }
    for (int32_t i : f.partitions) {
      if (i < 0 || i >= *n) return UnknownTopicOrPartition({f.topic, i});
      out.insert({f.topic, i});
    }
  }
  return std::vector<TopicPartition>(out.begin(), out.end());
}

absl::StatusOr<std::vector<CommittedOffset>> GroupCoordinator::FetchOffsets(
    std::string_view group_id, const std::vector<PartitionFilter>& filters) {
  RETURN_IF_ERROR(CheckGroup(group_id));
  std::set<TopicPartition> wanted;
  for (const PartitionFilter& f : filters) {
    if (f.partitions.empty()) {
      const int32_t n = topics_->PartitionCount(f.topic).value_or(0);
      for (int32_t i = 0; i < n; i++) wanted.insert({f.topic, i});
    }
    for (int32_t i : f.partitions) wanted.insert({f.topic, i});
  }
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOwnedLocked(PartitionFor(group_id)));
  const ConsumerGroup* g = Find(group_id);
  std::vector<CommittedOffset> out;
  if (g != nullptr) {
    for (const auto& entry : g->offsets()) {
      const TopicPartition& tp = entry.first;
      const bool topic_wanted =
          std::any_of(filters.begin(), filters.end(), [&](const auto& f) {
            return f.topic == tp.topic && f.partitions.empty();
          });
      if (filters.empty() || topic_wanted) wanted.insert(tp);
    }
  }
  for (const TopicPartition& tp : wanted) {
    CommittedOffset c{tp, {}};
    if (g != nullptr) {
      auto it = g->offsets().find(tp);
      if (it != g->offsets().end()) c.value = it->second;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<GroupSummary> GroupCoordinator::ListGroups() {
  const int64_t now = clock_->NowMs();
  absl::MutexLock l(&mu_);
  std::vector<GroupSummary> out;
  for (const auto& [id, g] : groups_) {
    Expire(g.get(), now);
    out.push_back(
        GroupSummary{id, g->state(), static_cast<int>(g->members().size())});
  }
  return out;
}

absl::StatusOr<GroupDescription> GroupCoordinator::DescribeGroup(
    std::string_view group_id) {
  RETURN_IF_ERROR(CheckGroup(group_id));
  const int64_t now = clock_->NowMs();
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOwnedLocked(PartitionFor(group_id)));
  ConsumerGroup* g = Find(group_id);
  if (g == nullptr) {
    return ReasonError(absl::StatusCode::kNotFound, kGroupIdNotFound,
                       absl::StrFormat("no group %s", group_id));
  }
  Expire(g, now);
  GroupDescription d;
  d.group_id = g->id();
  d.state = g->state();
  d.group_epoch = g->group_epoch();
  d.assignment_epoch = g->assignment_epoch();
  d.assignor = g->assignor();
  d.offsets_partition = PartitionFor(group_id);
  for (const auto& [id, m] : g->members()) {
    MemberDescription md{m, g->TargetOf(id), {}};
    for (const TopicPartition& tp : md.target) {
      if (!m.assigned.contains(tp)) md.pending.insert(tp);
    }
    d.members.push_back(std::move(md));
  }
  std::set<TopicPartition> partitions;
  for (const std::string& t : g->SubscribedTopics()) {
    const int32_t n = topics_->PartitionCount(t).value_or(0);
    for (int32_t i = 0; i < n; i++) partitions.insert({t, i});
  }
  for (const auto& [tp, v] : g->offsets()) partitions.insert(tp);
  for (const TopicPartition& tp : partitions) {
    PartitionLag lag;
    lag.tp = tp;
    if (auto it = g->offsets().find(tp); it != g->offsets().end()) {
      lag.committed_offset = it->second.offset;
      lag.metadata = it->second.metadata;
    }
    if (auto log = topics_->PartitionLog(tp.topic, tp.partition)) {
      lag.log_end_offset = log->log_end_offset().value();
    }
    if (lag.committed_offset >= 0 && lag.log_end_offset >= 0) {
      lag.lag = std::max<int64_t>(0, lag.log_end_offset - lag.committed_offset);
    }
    if (const std::string* owner = g->OwnerOf(tp)) lag.owner = *owner;
    d.partitions.push_back(std::move(lag));
  }
  return d;
}

absl::StatusOr<std::vector<OffsetChange>> GroupCoordinator::ResetOffsets(
    const ResetRequest& request) {
  RETURN_IF_ERROR(CheckGroup(request.group_id));
  const int32_t p = PartitionFor(request.group_id);
  absl::ReleasableMutexLock append_lock(&append_mu_[p]);
  // Held across the append, so that no member joins between the check and
  // the new offsets (an admin operation; heartbeats wait for it). Not held
  // while the in-sync replicas catch up.
  absl::ReleasableMutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOwnedLocked(p));
  ConsumerGroup* g = Find(request.group_id);
  if (g != nullptr) {
    Expire(g, clock_->NowMs());
    if (!g->members().empty()) {
      return ReasonError(
          absl::StatusCode::kFailedPrecondition, kGroupNotEmpty,
          absl::StrFormat("group %s has %d active members: offsets can only "
                          "be reset while it has none",
                          request.group_id, g->members().size()));
    }
  }
  std::vector<TopicPartition> partitions;
  if (request.partitions.empty()) {
    if (g != nullptr) {
      for (const auto& [tp, v] : g->offsets()) partitions.push_back(tp);
    }
  } else {
    ASSIGN_OR_RETURN(partitions, Resolve(request.partitions));
  }
  std::vector<OffsetChange> changes;
  for (const TopicPartition& tp : partitions) {
    std::shared_ptr<log::Log> log =
        topics_->PartitionLog(tp.topic, tp.partition);
    if (log == nullptr) return UnknownTopicOrPartition(tp);
    const int64_t start = log->log_start_offset().value();
    const int64_t end = log->log_end_offset().value();
    OffsetChange c{tp, -1, 0};
    if (g != nullptr) {
      if (auto it = g->offsets().find(tp); it != g->offsets().end()) {
        c.previous_offset = it->second.offset;
      }
    }
    switch (request.strategy) {
      case ResetStrategy::kEarliest:
        c.new_offset = start;
        break;
      case ResetStrategy::kLatest:
        c.new_offset = end;
        break;
      case ResetStrategy::kOffset:
        c.new_offset = std::clamp(request.offset, start, end);
        break;
      case ResetStrategy::kTimestamp: {
        ASSIGN_OR_RETURN(auto found,
                         log->FindOffsetByTimestamp(request.timestamp_ms));
        c.new_offset = found.has_value() ? found->first.value() : end;
        break;
      }
    }
    changes.push_back(c);
  }
  if (request.dry_run || changes.empty()) return changes;
  const int64_t now = clock_->NowMs();
  const bool write_group = g == nullptr || !g->persisted();
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  if (write_group) {
    records.emplace_back(EncodeGroupMetadataKey(request.group_id),
                         EncodeGroupMetadataValue({"consumer", now}));
  }
  for (const OffsetChange& c : changes) {
    records.emplace_back(
        EncodeOffsetCommitKey(request.group_id, c.tp),
        EncodeOffsetCommitValue(OffsetAndMetadata{c.new_offset, -1, "", now}));
  }
  AppendResult result = Append(p, records);
  if (!result.appended) return result.status;
  g = FindOrCreate(request.group_id);
  if (write_group) g->SetPersisted(now);
  for (const OffsetChange& c : changes) {
    g->SetOffset(c.tp, OffsetAndMetadata{c.new_offset, -1, "", now});
  }
  RETURN_IF_ERROR(result.status);
  l.Release();
  append_lock.Release();
  RETURN_IF_ERROR(AwaitReplicated(p, result.end));
  spdlog::info("group {}: reset {} offsets", request.group_id, changes.size());
  return changes;
}

absl::Status GroupCoordinator::DeleteGroup(std::string_view group_id) {
  RETURN_IF_ERROR(CheckGroup(group_id));
  const int32_t p = PartitionFor(group_id);
  absl::ReleasableMutexLock append_lock(&append_mu_[p]);
  absl::ReleasableMutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOwnedLocked(p));
  ConsumerGroup* g = Find(group_id);
  if (g == nullptr) {
    return ReasonError(absl::StatusCode::kNotFound, kGroupIdNotFound,
                       absl::StrFormat("no group %s", group_id));
  }
  Expire(g, clock_->NowMs());
  if (!g->members().empty()) {
    return ReasonError(
        absl::StatusCode::kFailedPrecondition, kGroupNotEmpty,
        absl::StrFormat("group %s has %d active members: only a group "
                        "without members can be deleted",
                        group_id, g->members().size()));
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  for (const auto& [tp, v] : g->offsets()) {
    records.emplace_back(EncodeOffsetCommitKey(group_id, tp), std::nullopt);
  }
  records.emplace_back(EncodeGroupMetadataKey(group_id), std::nullopt);
  AppendResult result = Append(p, records);
  if (!result.appended) return result.status;
  const std::string id = g->id();
  groups_.erase(id);
  RETURN_IF_ERROR(result.status);
  l.Release();
  append_lock.Release();
  RETURN_IF_ERROR(AwaitReplicated(p, result.end));
  spdlog::info("deleted group {}", group_id);
  return absl::OkStatus();
}

void GroupCoordinator::Tick() {
  const int64_t now = clock_->NowMs();
  absl::MutexLock l(&mu_);
  for (auto it = groups_.begin(); it != groups_.end();) {
    Expire(it->second.get(), now);
    if (it->second->Disposable()) {
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
}

CoordinatorStats GroupCoordinator::Stats() const {
  CoordinatorStats s;
  {
    absl::MutexLock l(&mu_);
    s.groups = static_cast<int64_t>(groups_.size());
    for (const auto& [id, g] : groups_) s.members += g->members().size();
  }
  s.heartbeats = heartbeats_.load(std::memory_order_relaxed);
  s.rebalances = rebalances_.load(std::memory_order_relaxed);
  s.commits = commits_.load(std::memory_order_relaxed);
  s.members_expired = expired_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace fjord::coordinator
