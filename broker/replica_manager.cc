#include "broker/replica_manager.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "absl/strings/str_join.h"
#include "broker/cluster_member.h"
#include "broker/kafka/errors.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace {

bool Contains(const std::vector<int32_t>& v, int32_t id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

absl::Status NotLeader(const TopicPartition& tp) {
  return absl::FailedPreconditionError(
      absl::StrFormat("this broker no longer leads %s", tp.ToString()));
}

}  // namespace

ReplicaManager::ReplicaManager(asio::io_context& io, TopicManager* topics,
                               ClusterMember* cluster,
                               ReplicaManagerOptions options)
    : io_(io), topics_(topics), cluster_(cluster), options_(options) {}

ReplicaManager::~ReplicaManager() { Stop(); }

int64_t ReplicaManager::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ReplicaManager::Start() {
  follower_.Start(cluster_->metadata(), options_.tick,
                  [this](bool changed) { Step(changed); });
}

void ReplicaManager::Step(bool changed) {
  const int64_t now = NowMs();
  // Also re-applied every second: a partition whose log was not there yet
  // (the member creates logs on its own thread) is picked up.
  if (changed || now - last_apply_ms_ >= 1000) {
    Apply(*cluster_->Snapshot());
    last_apply_ms_ = now;
  }
  ProposeIsrChanges();
}

void ReplicaManager::Stop() {
  if (stopped_) return;
  stopped_ = true;
  follower_.Stop();
  for (auto& [id, f] : fetchers_) f->Stop();
  fetchers_.clear();
  std::vector<std::shared_ptr<Replica>> all;
  {
    absl::MutexLock l(&mu_);
    for (auto& [tp, r] : replicas_) all.push_back(r);
  }
  for (auto& r : all) {
    r->partition->FailAllCommitWaiters(
        absl::UnavailableError("the broker is shutting down"));
  }
}

std::shared_ptr<ReplicaManager::Replica> ReplicaManager::Find(
    const TopicPartition& tp) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = replicas_.find(tp);
  return it == replicas_.end() ? nullptr : it->second;
}

int32_t ReplicaManager::MinInsync(int32_t topic_min) const {
  return topic_min >= 1 ? topic_min : options_.min_insync_replicas;
}

int16_t ReplicaManager::CheckEpochLocked(const Replica& r,
                                         int32_t current_leader_epoch) const {
  if (current_leader_epoch < 0) return kafka::kNone;
  if (LeaderEpoch(current_leader_epoch) < r.epoch) {
    return kafka::kFencedLeaderEpoch;
  }
  if (LeaderEpoch(current_leader_epoch) > r.epoch) {
    return kafka::kUnknownLeaderEpoch;
  }
  return kafka::kNone;
}

// ------------------------------------------------------------ request path

int16_t ReplicaManager::CheckProduce(const TopicPartition& tp, int16_t acks,
                                     int32_t min_insync) const {
  if (!cluster_->serving()) return kafka::kNotLeaderOrFollower;
  std::shared_ptr<Replica> r = Find(tp);
  if (r == nullptr) return kafka::kNotLeaderOrFollower;
  absl::MutexLock l(&r->mu);
  switch (r->role) {
    case Role::kLeader:
      // The role was taken from an earlier view; the current one must
      // still name this broker at this epoch.
      if (!cluster_->Leads(tp, r->epoch)) return kafka::kNotLeaderOrFollower;
      if (acks == -1 && static_cast<int32_t>(r->leader_state->isr().size()) <
                            MinInsync(min_insync)) {
        return kafka::kNotEnoughReplicas;
      }
      return kafka::kNone;
    case Role::kNoLeader:
      return kafka::kLeaderNotAvailable;
    default:
      return kafka::kNotLeaderOrFollower;
  }
}

int16_t ReplicaManager::CheckCommitted(const TopicPartition& tp,
                                       int32_t min_insync) const {
  std::shared_ptr<Replica> r = Find(tp);
  if (r == nullptr) return kafka::kNotLeaderOrFollower;
  absl::MutexLock l(&r->mu);
  if (r->role != Role::kLeader) return kafka::kNotLeaderOrFollower;
  if (static_cast<int32_t>(r->leader_state->isr().size()) <
      MinInsync(min_insync)) {
    return kafka::kNotEnoughReplicasAfterAppend;
  }
  return kafka::kNone;
}

void ReplicaManager::Appended(Partition& p) {
  std::shared_ptr<Replica> r = Find(p.tp());
  if (r == nullptr || r->partition.get() != &p) return;
  absl::MutexLock l(&r->mu);
  if (r->role != Role::kLeader) return;
  AdvanceHighWatermark(*r, p.log().log_end_offset());
}

ReplicaManager::ReadAccess ReplicaManager::CheckRead(
    const TopicPartition& tp, int32_t current_leader_epoch) const {
  if (!cluster_->serving()) return {kafka::kNotLeaderOrFollower};
  std::shared_ptr<Replica> r = Find(tp);
  if (r == nullptr) return {kafka::kNotLeaderOrFollower};
  absl::MutexLock l(&r->mu);
  switch (r->role) {
    case Role::kLeader:
      if (!cluster_->Leads(tp, r->epoch)) return {kafka::kNotLeaderOrFollower};
      if (int16_t e = CheckEpochLocked(*r, current_leader_epoch)) return {e};
      return {kafka::kNone, r->high_watermark};
    case Role::kNoLeader:
      return {kafka::kLeaderNotAvailable};
    default:
      return {kafka::kNotLeaderOrFollower};
  }
}

ReplicaManager::ReadAccess ReplicaManager::FollowerFetch(
    Partition& p, int32_t replica_id, int32_t current_leader_epoch,
    int64_t fetch_offset) {
  std::shared_ptr<Replica> r = Find(p.tp());
  if (r == nullptr || r->partition.get() != &p) {
    return {kafka::kNotLeaderOrFollower};
  }
  absl::MutexLock l(&r->mu);
  if (r->role != Role::kLeader) return {kafka::kNotLeaderOrFollower};
  // A deposed leader that has not applied the news yet, or one whose view
  // may be stale, must not move its high watermark: a fetch it takes may
  // be a follower's old request, delivered late after a network cut.
  if (!cluster_->Leads(p.tp(), r->epoch)) return {kafka::kNotLeaderOrFollower};
  if (int16_t e = CheckEpochLocked(*r, current_leader_epoch)) return {e};
  LeaderState& state = *r->leader_state;
  if (replica_id == options_.node_id || !state.is_replica(replica_id)) {
    return {kafka::kNotLeaderOrFollower};
  }
  const Offset end = p.log().log_end_offset();
  if (Offset(fetch_offset) > end ||
      Offset(fetch_offset) < p.log().log_start_offset()) {
    // Past the end: the follower diverged and must truncate first; before
    // the start: it restarts its log there.
    return {kafka::kOffsetOutOfRange, r->high_watermark};
  }
  state.RecordFetch(replica_id, Offset(fetch_offset), end, NowMs());
  AdvanceHighWatermark(*r, end);
  return {kafka::kNone, r->high_watermark};
}

kafka::OffsetForLeaderEpochResponse::Partition
ReplicaManager::EndOffsetForEpoch(const TopicPartition& tp,
                                  int32_t current_leader_epoch,
                                  int32_t leader_epoch) const {
  kafka::OffsetForLeaderEpochResponse::Partition out;
  out.index = tp.partition;
  std::shared_ptr<Replica> r = cluster_->serving() ? Find(tp) : nullptr;
  if (r == nullptr) {
    out.error = kafka::kNotLeaderOrFollower;
    return out;
  }
  absl::MutexLock l(&r->mu);
  if (r->role != Role::kLeader) {
    out.error = r->role == Role::kNoLeader ? kafka::kLeaderNotAvailable
                                           : kafka::kNotLeaderOrFollower;
    return out;
  }
  if (!cluster_->Leads(tp, r->epoch)) {
    out.error = kafka::kNotLeaderOrFollower;
    return out;
  }
  if (int16_t e = CheckEpochLocked(*r, current_leader_epoch)) {
    out.error = e;
    return out;
  }
  const log::EpochEndOffset end =
      r->partition->log().EndOffsetForEpoch(LeaderEpoch(leader_epoch));
  out.leader_epoch = end.epoch.value();
  out.end_offset = end.end_offset.value();
  return out;
}

ReplicaManager::Role ReplicaManager::role(const TopicPartition& tp) const {
  std::shared_ptr<Replica> r = Find(tp);
  if (r == nullptr) return Role::kNone;
  absl::MutexLock l(&r->mu);
  return r->role;
}

std::optional<LeaderEpoch> ReplicaManager::LeaderEpochOf(
    const TopicPartition& tp) const {
  std::shared_ptr<Replica> r = Find(tp);
  if (r == nullptr) return std::nullopt;
  absl::MutexLock l(&r->mu);
  if (r->role != Role::kLeader) return std::nullopt;
  return r->epoch;
}

void ReplicaManager::AdvanceHighWatermark(Replica& r, Offset leader_end) {
  std::optional<Offset> moved = r.leader_state->UpdateHighWatermark(leader_end);
  if (!moved) return;
  r.high_watermark = *moved;
  r.partition->AdvanceCommitted(*moved);
  // Consumers parked at the old high watermark may read on.
  r.partition->NotifyAppend();
}

// ------------------------------------------------------------ role changes

void ReplicaManager::Apply(const cluster::ClusterSnapshot& s) {
  std::set<TopicPartition> present;
  std::vector<std::shared_ptr<Replica>> gone;
  for (const auto& [name, t] : s.topics) {
    for (const cluster::PartitionState& p : t->partitions) {
      if (!Contains(p.replicas, options_.node_id)) continue;
      TopicPartition tp{name, p.partition};
      std::shared_ptr<Partition> partition =
          topics_->GetPartition(name, p.partition);
      if (partition == nullptr) continue;  // its log is on the way
      present.insert(tp);
      std::shared_ptr<Replica> r;
      {
        absl::MutexLock l(&mu_);
        std::shared_ptr<Replica>& slot = replicas_[tp];
        if (slot != nullptr && slot->partition != partition) {
          gone.push_back(slot);  // the topic was deleted and created again
          slot = nullptr;
        }
        if (slot == nullptr) slot = std::make_shared<Replica>(partition);
        r = slot;
      }
      {
        absl::MutexLock l(&r->mu);
        if (r->isr_written_revision > s.revision && r->role == Role::kLeader &&
            r->epoch == LeaderEpoch(p.leader_epoch)) {
          // This snapshot predates this leader's own isr write: its isr is
          // stale.
          continue;
        }
      }
      ApplyPartition(r, p);
    }
  }
  {
    absl::MutexLock l(&mu_);
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (present.contains(it->first)) {
        ++it;
        continue;
      }
      gone.push_back(it->second);
      replicas_.erase(it++);
    }
  }
  for (auto& r : gone) {
    absl::MutexLock l(&r->mu);
    StepDown(*r);
  }
  DropIdleFetchers();
}

void ReplicaManager::ApplyPartition(const std::shared_ptr<Replica>& rp,
                                    const cluster::PartitionState& p) {
  Replica& r = *rp;
  absl::MutexLock l(&r.mu);
  const LeaderEpoch epoch(p.leader_epoch);
  if (p.leader == options_.node_id) {
    if (r.role != Role::kLeader || r.epoch != epoch) {
      BecomeLeader(r, p);
      return;
    }
    // The same term: the controller may have removed a dead follower
    // from the isr, or this leader's own change arrived.
    LeaderState& state = *r.leader_state;
    if (NormalizeIsr(p.isr) != state.isr()) {
      spdlog::info("{}: isr is now [{}]", r.partition->tp().ToString(),
                   absl::StrJoin(NormalizeIsr(p.isr), ","));
    }
    state.SetCommittedIsr(p.isr, NowMs());
    AdvanceHighWatermark(r, r.partition->log().log_end_offset());
    return;
  }
  if (p.leader == cluster::kNoLeader) {
    if (r.role == Role::kNoLeader && r.epoch == epoch) return;
    StepDown(r);
    r.partition->log().BecomeFollower(epoch);
    r.role = Role::kNoLeader;
    r.epoch = epoch;
    r.leader = cluster::kNoLeader;
    spdlog::info("{}: no leader (epoch {})", r.partition->tp().ToString(),
                 epoch.value());
    return;
  }
  if (r.role == Role::kFollower && r.epoch == epoch && r.leader == p.leader) {
    return;
  }
  BecomeFollower(r, p);
}

void ReplicaManager::BecomeLeader(Replica& r,
                                  const cluster::PartitionState& p) {
  StepDown(r);
  const LeaderEpoch epoch(p.leader_epoch);
  log::Log& log = r.partition->log();
  if (absl::Status s = log.BecomeLeader(epoch); !s.ok()) {
    // Retried at the next apply (the role is not leader).
    spdlog::error("{}: cannot become leader at epoch {}: {}",
                  r.partition->tp().ToString(), epoch.value(), s.message());
    return;
  }
  const Offset end = log.log_end_offset();
  // A high watermark learned as a follower never exceeds the log end.
  const Offset hw = std::min(r.high_watermark, end);
  r.leader_state.emplace(options_.node_id, epoch, end, p.replicas, p.isr, hw,
                         NowMs());
  r.role = Role::kLeader;
  r.epoch = epoch;
  r.leader = options_.node_id;
  r.high_watermark = hw;
  r.isr_written_revision = 0;
  r.isr_retry_at_ms = 0;
  r.partition->ResetCommitted(hw, NotLeader(r.partition->tp()));
  AdvanceHighWatermark(r, end);
  spdlog::info(
      "{}: leading at epoch {} from offset {} (isr [{}], high watermark {})",
      r.partition->tp().ToString(), epoch.value(), end.value(),
      absl::StrJoin(r.leader_state->isr(), ","), r.high_watermark.value());
}

void ReplicaManager::BecomeFollower(Replica& r,
                                    const cluster::PartitionState& p) {
  StepDown(r);
  const LeaderEpoch epoch(p.leader_epoch);
  r.partition->log().BecomeFollower(epoch);
  r.role = Role::kFollower;
  r.epoch = epoch;
  r.leader = p.leader;
  FetcherFor(p.leader)->Add(r.partition, epoch, r.high_watermark);
  spdlog::info(
      "{}: following {} at epoch {} from offset {} (high watermark {})",
      r.partition->tp().ToString(), p.leader, epoch.value(),
      r.partition->log().log_end_offset().value(), r.high_watermark.value());
}

void ReplicaManager::StepDown(Replica& r) {
  if (r.role == Role::kLeader) {
    r.high_watermark = r.leader_state->high_watermark();
    r.leader_state.reset();
    r.partition->FailAllCommitWaiters(NotLeader(r.partition->tp()));
  } else if (r.role == Role::kFollower) {
    auto it = fetchers_.find(r.leader);
    if (it != fetchers_.end()) {
      if (auto hw = it->second->Remove(r.partition->tp())) {
        r.high_watermark = *hw;
      }
    }
  }
  r.role = Role::kNone;
}

std::shared_ptr<ReplicaFetcher> ReplicaManager::FetcherFor(int32_t leader) {
  auto it = fetchers_.find(leader);
  if (it != fetchers_.end()) return it->second;
  ReplicaFetcherOptions o = options_.fetcher;
  o.self = options_.node_id;
  auto f = std::make_shared<ReplicaFetcher>(
      io_, leader, o,
      [cluster = cluster_](int32_t id) -> std::optional<HostPort> {
        auto snap = cluster->Snapshot();
        const cluster::BrokerInfo* b = snap->broker(id);
        if (b == nullptr) return std::nullopt;
        return HostPort{b->kafka.host, static_cast<uint16_t>(b->kafka.port)};
      });
  f->Start();
  fetchers_[leader] = f;
  return f;
}

void ReplicaManager::DropIdleFetchers() {
  for (auto it = fetchers_.begin(); it != fetchers_.end();) {
    if (!it->second->empty()) {
      ++it;
      continue;
    }
    it->second->Stop();
    it = fetchers_.erase(it);
  }
}

// -------------------------------------------------------------- isr changes

void ReplicaManager::ProposeIsrChanges() {
  struct Proposal {
    std::shared_ptr<Replica> replica;
    TopicPartition tp;
    LeaderEpoch epoch;
    std::vector<int32_t> before;
    std::vector<int32_t> isr;
  };
  std::vector<Proposal> proposals;
  const int64_t now = NowMs();
  // Only registered brokers may join an isr: the controller would remove
  // any other at once (a broker cut off from etcd may still fetch).
  const std::shared_ptr<const cluster::ClusterSnapshot> snap =
      cluster_->Snapshot();
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [tp, r] : replicas_) {
      absl::MutexLock rl(&r->mu);
      if (r->role != Role::kLeader || now < r->isr_retry_at_ms) continue;
      auto change =
          r->leader_state->IsrChange(now, options_.replica_lag_time_max_ms);
      if (!change) continue;
      const std::vector<int32_t>& isr = r->leader_state->isr();
      std::erase_if(*change, [&](int32_t id) {
        return !Contains(isr, id) && snap->broker(id) == nullptr;
      });
      if (NormalizeIsr(*change) == isr) continue;
      r->leader_state->SetPending(*change);
      proposals.push_back(
          {r, tp, r->epoch, r->leader_state->isr(), *std::move(change)});
    }
  }
  for (Proposal& p : proposals) {
    auto written = cluster_->AlterIsr(p.tp, p.epoch.value(), p.isr);
    Replica& r = *p.replica;
    absl::MutexLock l(&r.mu);
    if (r.role != Role::kLeader || r.epoch != p.epoch) continue;
    LeaderState& state = *r.leader_state;
    if (written.ok()) {
      spdlog::info("{}: isr [{}] -> [{}] (leader epoch {})", p.tp.ToString(),
                   absl::StrJoin(p.before, ","), absl::StrJoin(p.isr, ","),
                   p.epoch.value());
      // etcd holds it now: snapshots older than the write are stale.
      r.isr_written_revision = *written;
      state.SetCommittedIsr(p.isr, now);
      state.ClearPending();
      AdvanceHighWatermark(r, r.partition->log().log_end_offset());
      continue;
    }
    state.ClearPending();
    const absl::Status& s = written.status();
    if (absl::IsAborted(s)) continue;  // retried on a newer snapshot
    spdlog::warn("{}: writing isr [{}]: {}", p.tp.ToString(),
                 absl::StrJoin(p.isr, ","), s.message());
    r.isr_retry_at_ms = now + 1000;
  }
}

}  // namespace fjord::broker
