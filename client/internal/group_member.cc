#include "client/internal/group_member.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/internal/grpc_status.h"

namespace fjord::client::internal {

namespace v1 = ::fjord::coordinator::v1;

namespace {

// Unique per process and consumer: joins carry it, so a join whose answer
// was lost is repeated as the same member, and a leave can always name it.
std::string NewMemberId(const std::string& client_id) {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string hex = absl::StrFormat("%016x%016x", rng(), rng());
  if (client_id.empty() || client_id.size() > 200) return hex;
  return absl::StrCat(client_id, "-", hex);
}

PartitionSet FromProto(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& in) {
  PartitionSet out;
  for (const v1::TopicPartitions& t : in) {
    for (int32_t p : t.partitions()) out.insert(TopicPartition{t.topic(), p});
  }
  return out;
}

template <typename Set>
void ToProto(const Set& in,
             google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out) {
  v1::TopicPartitions* current = nullptr;
  for (const TopicPartition& tp : in) {  // sorted by topic, then partition
    if (current == nullptr || current->topic() != tp.topic) {
      current = out->Add();
      current->set_topic(tp.topic);
    }
    current->add_partitions(tp.partition);
  }
}

bool Transient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsInternal(s) || absl::IsUnknown(s) ||
         absl::IsResourceExhausted(s) || absl::IsCancelled(s);
}

}  // namespace

Reconciliation Reconcile(const PartitionSet& owned,
                         const PartitionSet& unstarted,
                         const PartitionSet& revoke_requested,
                         const PartitionSet& assigned,
                         const PartitionSet& revoking) {
  Reconciliation r;
  for (const TopicPartition& tp : assigned) {
    if (!owned.contains(tp)) r.newly_assigned.push_back(tp);
  }
  for (const TopicPartition& tp : revoking) {
    if (!owned.contains(tp)) continue;  // already released
    if (unstarted.contains(tp)) {
      r.released_unstarted.push_back(tp);
    } else if (!revoke_requested.contains(tp)) {
      r.to_revoke.push_back(tp);
    }
  }
  for (const TopicPartition& tp : owned) {
    if (!assigned.contains(tp) && !revoking.contains(tp)) r.gone.push_back(tp);
  }
  return r;
}

GroupMember::GroupMember(const ConsumerConfig& config, GroupHost* host)
    : config_(config),
      host_(host),
      coordinator_(config.common),
      member_id_(NewMemberId(config.common.client_id)),
      backoff_(config.common.retry_backoff_ms,
               config.common.retry_backoff_max_ms),
      commit_backoff_(config.common.retry_backoff_ms,
                      config.common.retry_backoff_max_ms) {
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  commit_thread_ = std::thread([this] { CommitLoop(); });
}

GroupMember::~GroupMember() { Stop(); }

void GroupMember::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (commit_thread_.joinable()) commit_thread_.join();
}

int32_t GroupMember::HeartbeatTimeoutMs() const {
  // An answer later than half the session is worth nothing: retry sooner.
  return std::max(1, std::min(config_.common.request_timeout_ms,
                              config_.session_timeout_ms / 2));
}

// ------------------------------------------------- application thread

void GroupMember::Subscribe(std::vector<std::string> topics) {
  absl::MutexLock l(&mu_);
  const int64_t now = SteadyNowMs();
  if (!active_) {
    active_ = true;
    generation_++;
    joined_ = false;
    epoch_ = 0;
    failures_ = 0;
    subscribed_ms_ = now;
    last_ok_ms_ = now;
    last_poll_ms_ = now;
    next_heartbeat_ms_ = 0;
    unreachable_ = absl::OkStatus();
  }
  fatal_ = absl::OkStatus();  // a refused join is tried again
  topics_ = std::move(topics);
  subscription_version_++;
  heartbeat_now_ = true;
  cv_.SignalAll();
}

absl::Status GroupMember::Leave(bool temporary) {
  absl::MutexLock l(&mu_);
  if (!active_) return absl::OkStatus();
  active_ = false;  // the heartbeat thread starts nothing new
  cv_.SignalAll();
  while (heartbeat_in_flight_) cv_.Wait(&mu_);
  absl::Status s;
  if (join_sent_) {
    s = SendLeave(temporary && !config_.group_instance_id.empty());
  }
  generation_++;
  owned_.clear();
  unstarted_.clear();
  revoke_requested_.clear();
  events_.clear();
  topics_.clear();
  epoch_ = 0;
  joined_ = false;
  heartbeat_now_ = false;
  left_for_poll_timeout_ = false;
  unreachable_ = absl::OkStatus();
  fatal_ = absl::OkStatus();
  cv_.SignalAll();
  const auto reason = ReasonOf(s);
  if (reason == "UNKNOWN_MEMBER_ID" || reason == "FENCED_INSTANCE_ID") {
    return absl::OkStatus();  // the coordinator had dropped us already
  }
  return s;
}

absl::Status GroupMember::SendLeave(bool temporary) {
  v1::LeaveGroupRequest req;
  req.set_group_id(config_.group_id);
  req.set_member_id(member_id_);
  req.set_temporary(temporary);
  v1::LeaveGroupResponse resp;
  heartbeat_in_flight_ = true;
  mu_.Unlock();
  absl::Status s = coordinator_.CallGroup(
      config_.group_id, config_.common.request_timeout_ms,
      [&](CoordinatorClient::Stub& stub, grpc::ClientContext* ctx) {
        return stub.LeaveGroup(ctx, req, &resp);
      });
  mu_.Lock();
  heartbeat_in_flight_ = false;
  join_sent_ = false;
  cv_.SignalAll();
  return s;
}

bool GroupMember::subscribed() const {
  absl::MutexLock l(&mu_);
  return active_;
}

std::vector<std::string> GroupMember::subscription() const {
  absl::MutexLock l(&mu_);
  return topics_;
}

GroupMemberMetadata GroupMember::metadata() const {
  absl::MutexLock l(&mu_);
  GroupMemberMetadata m;
  m.group_id = config_.group_id;
  m.member_id = join_sent_ || joined_ ? member_id_ : "";
  m.member_epoch = joined_ ? epoch_ : 0;
  m.instance_id = config_.group_instance_id;
  return m;
}

uint64_t GroupMember::generation() const {
  absl::MutexLock l(&mu_);
  return generation_;
}

void GroupMember::PollStarted() {
  absl::MutexLock l(&mu_);
  in_poll_ = true;
  if (left_for_poll_timeout_) {
    left_for_poll_timeout_ = false;
    heartbeat_now_ = true;  // rejoin
    last_ok_ms_ = SteadyNowMs();
    cv_.SignalAll();
  }
}

void GroupMember::PollEnded() {
  absl::MutexLock l(&mu_);
  in_poll_ = false;
  last_poll_ms_ = SteadyNowMs();
}

std::optional<GroupEvent> GroupMember::TakeEvent() {
  absl::MutexLock l(&mu_);
  if (events_.empty()) return std::nullopt;
  GroupEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

absl::Status GroupMember::status() const {
  absl::MutexLock l(&mu_);
  if (!fatal_.ok()) return fatal_;
  return unreachable_;
}

void GroupMember::Revoked(const std::vector<TopicPartition>& partitions,
                          uint64_t generation) {
  absl::MutexLock l(&mu_);
  if (generation != generation_) return;
  for (const TopicPartition& tp : partitions) {
    owned_.erase(tp);
    revoke_requested_.erase(tp);
  }
  heartbeat_now_ = true;
  cv_.SignalAll();
}

void GroupMember::Queue(GroupEvent event) {
  events_.push_back(std::move(event));
  host_->WakePoll();
}

// ---------------------------------------------------- heartbeat thread

void GroupMember::HeartbeatLoop() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    if (!active_ || !fatal_.ok() || left_for_poll_timeout_) {
      cv_.Wait(&mu_);
      continue;
    }
    const int64_t now = SteadyNowMs();
    if (joined_ && !in_poll_ &&
        now - last_poll_ms_ > config_.max_poll_interval_ms) {
      // The application stopped polling: leave, as Kafka's consumers do,
      // so the group does not wait for it; the next Poll rejoins.
      left_for_poll_timeout_ = true;
      LoseAll();
      (void)SendLeave(!config_.group_instance_id.empty());
      continue;
    }
    if (!unstarted_.empty() && now >= offsets_retry_ms_) {
      FetchUnstartedOffsets();
      continue;
    }
    if (heartbeat_now_ || now >= next_heartbeat_ms_) {
      Heartbeat();
      continue;
    }
    int64_t wake = next_heartbeat_ms_;
    if (!unstarted_.empty()) wake = std::min(wake, offsets_retry_ms_);
    if (joined_ && !in_poll_) {
      wake = std::min(wake, last_poll_ms_ + config_.max_poll_interval_ms + 1);
    }
    cv_.WaitWithTimeout(&mu_, absl::Milliseconds(std::max<int64_t>(
                                  1, std::min<int64_t>(wake - now, 1000))));
  }
}

void GroupMember::Heartbeat() {
  v1::HeartbeatRequest req;
  req.set_group_id(config_.group_id);
  req.set_member_id(member_id_);
  req.set_member_epoch(joined_ ? epoch_ : 0);
  req.set_instance_id(config_.group_instance_id);
  req.set_rebalance_timeout_ms(config_.max_poll_interval_ms);
  req.set_session_timeout_ms(config_.session_timeout_ms);
  for (const std::string& t : topics_) req.add_subscribed_topic_names(t);
  if (joined_) ToProto(owned_, req.mutable_owned_partitions());
  req.set_server_assignor(config_.group_remote_assignor);
  heartbeat_now_ = false;
  heartbeat_in_flight_ = true;
  join_sent_ = true;
  const uint64_t generation = generation_;
  const uint64_t version = subscription_version_;
  v1::HeartbeatResponse resp;
  mu_.Unlock();
  absl::Status s = coordinator_.CallGroup(
      config_.group_id, HeartbeatTimeoutMs(),
      [&](CoordinatorClient::Stub& stub, grpc::ClientContext* ctx) {
        return stub.Heartbeat(ctx, req, &resp);
      });
  mu_.Lock();
  heartbeat_in_flight_ = false;
  cv_.SignalAll();
  if (stopping_ || !active_ || generation != generation_) return;  // stale
  if (subscription_version_ != version) heartbeat_now_ = true;
  const int64_t now = SteadyNowMs();
  if (s.ok()) {
    ApplyHeartbeat(resp, now);
  } else {
    HeartbeatFailed(s, now);
  }
}

void GroupMember::ApplyHeartbeat(const v1::HeartbeatResponse& resp,
                                 int64_t now) {
  epoch_ = resp.member_epoch();
  joined_ = true;
  last_ok_ms_ = now;
  failures_ = 0;
  if (!unreachable_.ok()) {
    unreachable_ = absl::OkStatus();
    host_->WakePoll();
  }
  int32_t interval = resp.heartbeat_interval_ms();
  if (interval <= 0) interval = std::max(1, config_.session_timeout_ms / 3);
  if (config_.heartbeat_interval_ms > 0) {
    interval = std::min(interval, config_.heartbeat_interval_ms);
  }
  interval_ms_ = interval;
  next_heartbeat_ms_ = now + interval;

  const PartitionSet assigned = FromProto(resp.assignment().assigned());
  const PartitionSet revoking = FromProto(resp.assignment().revoking());
  Reconciliation r =
      Reconcile(owned_, unstarted_, revoke_requested_, assigned, revoking);
  for (const TopicPartition& tp : r.newly_assigned) {
    owned_.insert(tp);
    unstarted_.insert(tp);
    offsets_retry_ms_ = 0;  // fetch their committed offsets now
  }
  for (const TopicPartition& tp : r.released_unstarted) {
    owned_.erase(tp);
    unstarted_.erase(tp);
    heartbeat_now_ = true;
  }
  if (!r.to_revoke.empty()) {
    host_->StopPartitions(r.to_revoke);
    revoke_requested_.insert(r.to_revoke.begin(), r.to_revoke.end());
    Queue({GroupEvent::Kind::kRevoke, r.to_revoke, {}, generation_});
  }
  if (!r.gone.empty()) {
    // Taken without a revocation (the coordinator fenced us without our
    // hearing of it): lost, and a revocation still queued for them must
    // not commit.
    const PartitionSet gone(r.gone.begin(), r.gone.end());
    std::vector<TopicPartition> lost;
    for (const TopicPartition& tp : r.gone) {
      owned_.erase(tp);
      revoke_requested_.erase(tp);
      if (unstarted_.erase(tp) == 0) lost.push_back(tp);
    }
    for (GroupEvent& e : events_) {
      if (e.kind != GroupEvent::Kind::kRevoke) continue;
      std::erase_if(e.partitions, [&](const TopicPartition& tp) {
        return gone.contains(tp);
      });
    }
    std::erase_if(events_, [](const GroupEvent& e) {
      return e.kind == GroupEvent::Kind::kRevoke && e.partitions.empty();
    });
    if (!lost.empty()) {
      host_->StopPartitions(lost);
      Queue({GroupEvent::Kind::kLost, lost, {}, generation_});
    }
  }
}

void GroupMember::HeartbeatFailed(const absl::Status& s, int64_t now) {
  const std::optional<std::string> reason = ReasonOf(s);
  if (reason == "UNKNOWN_MEMBER_ID" || reason == "FENCED_MEMBER_EPOCH") {
    // Removed from the group (session or rebalance timeout, a coordinator
    // restart) or out of step: everything is lost; join again at once.
    LoseAll();
    heartbeat_now_ = true;
    return;
  }
  if (reason == "FENCED_INSTANCE_ID") {
    LoseAll();
    fatal_ = absl::FailedPreconditionError(absl::StrFormat(
        "group '%s': another consumer joined with group.instance.id '%s', "
        "so this one was fenced and stopped (%s)",
        config_.group_id, config_.group_instance_id, s.message()));
    host_->WakePoll();
    return;
  }
  if (absl::IsInvalidArgument(s)) {
    // INVALID_SESSION_TIMEOUT, UNSUPPORTED_ASSIGNOR, a bad topic name:
    // retrying cannot help.
    LoseAll();
    fatal_ = absl::InvalidArgumentError(absl::StrFormat(
        "group '%s' refused this consumer: %s", config_.group_id, s.message()));
    host_->WakePoll();
    return;
  }
  failures_++;
  next_heartbeat_ms_ = now + backoff_.DelayMs(failures_);
  if (now - last_ok_ms_ >= config_.session_timeout_ms && unreachable_.ok()) {
    const bool had = joined_ || !owned_.empty();
    if (had) LoseAll();
    unreachable_ = absl::UnavailableError(absl::StrFormat(
        "group '%s': the group coordinator did not answer for %d ms "
        "(session.timeout.ms)%s; retrying. Last error: %s",
        config_.group_id, now - last_ok_ms_,
        had ? ", so this consumer's partitions were given up" : "",
        s.message()));
    host_->WakePoll();
  }
}

void GroupMember::LoseAll() {
  generation_++;
  // Partitions whose assignment the application has not seen yet are
  // simply forgotten; revocations not yet done become losses.
  PartitionSet unseen = unstarted_;
  for (const GroupEvent& e : events_) {
    if (e.kind == GroupEvent::Kind::kAssigned) {
      unseen.insert(e.partitions.begin(), e.partitions.end());
    }
  }
  std::erase_if(events_, [](const GroupEvent& e) {
    return e.kind != GroupEvent::Kind::kLost;
  });
  std::vector<TopicPartition> lost;
  for (const TopicPartition& tp : owned_) {
    if (!unseen.contains(tp)) lost.push_back(tp);
  }
  owned_.clear();
  unstarted_.clear();
  revoke_requested_.clear();
  epoch_ = 0;
  joined_ = false;
  if (!lost.empty()) {
    host_->StopPartitions(lost);
    Queue({GroupEvent::Kind::kLost, lost, {}, generation_});
  }
  cv_.SignalAll();
}

void GroupMember::FetchUnstartedOffsets() {
  const std::vector<TopicPartition> parts(unstarted_.begin(), unstarted_.end());
  const uint64_t generation = generation_;
  v1::FetchOffsetsRequest req;
  req.set_group_id(config_.group_id);
  ToProto(parts, req.mutable_partitions());
  v1::FetchOffsetsResponse resp;
  heartbeat_in_flight_ = true;
  mu_.Unlock();
  absl::Status s = coordinator_.CallGroup(
      config_.group_id, HeartbeatTimeoutMs(),
      [&](CoordinatorClient::Stub& stub, grpc::ClientContext* ctx) {
        return stub.FetchOffsets(ctx, req, &resp);
      });
  mu_.Lock();
  heartbeat_in_flight_ = false;
  cv_.SignalAll();
  if (stopping_ || !active_ || generation != generation_) return;
  const int64_t now = SteadyNowMs();
  if (!s.ok()) {
    offsets_retry_ms_ = now + backoff_.DelayMs(std::max(1, failures_));
    return;
  }
  OffsetMap committed;
  for (const v1::CommittedOffset& c : resp.offsets()) {
    if (c.offset() < 0) continue;
    committed[TopicPartition{c.topic(), c.partition()}] =
        OffsetAndMetadata{c.offset(), c.metadata()};
  }
  GroupEvent e{GroupEvent::Kind::kAssigned, {}, {}, generation_};
  for (const TopicPartition& tp : parts) {
    if (unstarted_.erase(tp) == 0) continue;  // released meanwhile
    e.partitions.push_back(tp);
    if (auto it = committed.find(tp); it != committed.end()) {
      e.committed.insert(*it);
    }
  }
  if (!e.partitions.empty()) Queue(std::move(e));
}

// ------------------------------------------------------- commit thread

void GroupMember::EnqueueCommit(OffsetMap offsets, uint64_t generation,
                                std::function<void(const absl::Status&)> done) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      commits_.push_back(CommitJob{
          std::move(offsets), generation,
          SteadyNowMs() + config_.common.request_timeout_ms, std::move(done)});
      cv_.SignalAll();
      return;
    }
  }
  if (done) done(absl::CancelledError("the consumer is closed"));
}

void GroupMember::DrainCommits(int64_t timeout_ms) {
  const int64_t deadline = SteadyNowMs() + timeout_ms;
  absl::MutexLock l(&mu_);
  while (!commits_.empty() || commit_running_) {
    const int64_t left = deadline - SteadyNowMs();
    if (left <= 0) return;
    cv_.WaitWithTimeout(&mu_, absl::Milliseconds(left));
  }
}

void GroupMember::CommitLoop() {
  absl::MutexLock l(&mu_);
  for (;;) {
    while (commits_.empty() && !stopping_) cv_.Wait(&mu_);
    if (commits_.empty()) return;
    CommitJob job = std::move(commits_.front());
    commits_.pop_front();
    commit_running_ = true;
    absl::Status s =
        stopping_ ? absl::CancelledError(
                        "the consumer was closed before the commit was sent")
                  : RunCommit(job);
    mu_.Unlock();
    if (job.done) job.done(s);
    mu_.Lock();
    commit_running_ = false;
    cv_.SignalAll();
  }
}

absl::Status GroupMember::RunCommit(const CommitJob& job) {
  if (job.offsets.empty()) return absl::OkStatus();
  for (int attempt = 1;; attempt++) {
    if (stopping_) {
      return absl::CancelledError(
          "the consumer was closed before the commit was stored");
    }
    const int64_t now = SteadyNowMs();
    std::string member_id;
    int32_t epoch = -1;
    if (job.generation != kSimple) {
      if (!fatal_.ok()) {
        return absl::FailedPreconditionError(
            absl::StrFormat("commit refused: %s", fatal_.message()));
      }
      if (!active_ || generation_ != job.generation) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "group '%s': commit refused, the partitions it covers were lost "
            "or given up after it was made (the member was fenced, dropped "
            "or left)",
            config_.group_id));
      }
      if (!joined_) {
        if (now >= job.deadline_ms) {
          return absl::DeadlineExceededError(absl::StrFormat(
              "group '%s': not joined within request.timeout.ms (%d ms), "
              "nothing committed",
              config_.group_id, config_.common.request_timeout_ms));
        }
        cv_.WaitWithTimeout(&mu_, absl::Milliseconds(job.deadline_ms - now));
        continue;
      }
      member_id = member_id_;
      epoch = epoch_;
    }
    v1::CommitOffsetsRequest req;
    req.set_group_id(config_.group_id);
    req.set_member_id(member_id);
    req.set_member_epoch(epoch);
    v1::TopicOffsets* topic = nullptr;
    for (const auto& [tp, om] : job.offsets) {
      if (topic == nullptr || topic->topic() != tp.topic) {
        topic = req.add_topics();
        topic->set_topic(tp.topic);
      }
      v1::PartitionOffset* p = topic->add_partitions();
      p->set_partition(tp.partition);
      p->set_offset(om.offset);
      p->set_metadata(om.metadata);
    }
    v1::CommitOffsetsResponse resp;
    const int64_t timeout = std::max<int64_t>(1, job.deadline_ms - now);
    mu_.Unlock();
    absl::Status s = coordinator_.CallGroup(
        config_.group_id, timeout,
        [&](CoordinatorClient::Stub& stub, grpc::ClientContext* ctx) {
          return stub.CommitOffsets(ctx, req, &resp);
        });
    mu_.Lock();
    if (s.ok()) {
      commit_backoff_ = Backoff(config_.common.retry_backoff_ms,
                                config_.common.retry_backoff_max_ms);
      return s;
    }
    const std::optional<std::string> reason = ReasonOf(s);
    const int64_t after = SteadyNowMs();
    if (reason == "STALE_MEMBER_EPOCH") {
      // Our epoch moved on in a heartbeat answer not yet seen: heartbeat,
      // then commit again with the new epoch.
      heartbeat_now_ = true;
      cv_.SignalAll();
      const int64_t until = std::min(job.deadline_ms, after + 500);
      while (epoch_ == epoch && generation_ == job.generation && !stopping_ &&
             SteadyNowMs() < until) {
        cv_.WaitWithTimeout(&mu_, absl::Milliseconds(until - SteadyNowMs()));
      }
      if (SteadyNowMs() >= job.deadline_ms) return s;
      continue;
    }
    if (reason == "UNKNOWN_MEMBER_ID" || reason == "FENCED_MEMBER_EPOCH" ||
        reason == "FENCED_INSTANCE_ID") {
      heartbeat_now_ = true;  // learn of the fence on the heartbeat thread
      cv_.SignalAll();
      return absl::FailedPreconditionError(absl::StrFormat(
          "group '%s' refused the commit: this consumer is no longer a "
          "member at epoch %d, so its partitions may be someone else's (%s)",
          config_.group_id, epoch, s.message()));
    }
    if (Transient(s) && after < job.deadline_ms) {
      const int64_t wait =
          std::min(commit_backoff_.DelayMs(attempt), job.deadline_ms - after);
      cv_.WaitWithTimeout(&mu_, absl::Milliseconds(std::max<int64_t>(1, wait)));
      continue;
    }
    return s;
  }
}

absl::StatusOr<OffsetMap> GroupMember::FetchCommitted(
    const std::vector<TopicPartition>& partitions, int64_t timeout_ms) {
  OffsetMap out;
  if (partitions.empty()) return out;
  PartitionSet sorted(partitions.begin(), partitions.end());
  v1::FetchOffsetsRequest req;
  req.set_group_id(config_.group_id);
  ToProto(sorted, req.mutable_partitions());
  const int64_t deadline = SteadyNowMs() + timeout_ms;
  Backoff backoff(config_.common.retry_backoff_ms,
                  config_.common.retry_backoff_max_ms);
  for (int attempt = 1;; attempt++) {
    const int64_t left = deadline - SteadyNowMs();
    v1::FetchOffsetsResponse resp;
    absl::Status s = coordinator_.CallGroup(
        config_.group_id, std::max<int64_t>(1, left),
        [&](CoordinatorClient::Stub& stub, grpc::ClientContext* ctx) {
          return stub.FetchOffsets(ctx, req, &resp);
        });
    if (s.ok()) {
      for (const v1::CommittedOffset& c : resp.offsets()) {
        if (c.offset() < 0) continue;
        out[TopicPartition{c.topic(), c.partition()}] =
            OffsetAndMetadata{c.offset(), c.metadata()};
      }
      return out;
    }
    const int64_t wait = backoff.DelayMs(attempt);
    if (!Transient(s) || SteadyNowMs() + wait >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
}

}  // namespace fjord::client::internal
