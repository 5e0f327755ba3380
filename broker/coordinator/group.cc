#include "broker/coordinator/group.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "broker/coordinator/errors.h"
#include "broker/coordinator/internal/partition_sets.h"
#include "log/status_macros.h"

namespace fjord::coordinator {

using internal::Difference;
using internal::Intersection;
using internal::Intersects;
using internal::IsSubset;

namespace {

constexpr size_t kMaxReplacedRemembered = 64;
constexpr size_t kMaxMemberIdBytes = 255;
const PartitionSet kNoPartitions;

std::vector<std::string> Normalized(std::vector<std::string> topics) {
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  return topics;
}

}  // namespace

std::string_view GroupStateName(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kAssigning:
      return "Assigning";
    case GroupState::kReconciling:
      return "Reconciling";
    case GroupState::kStable:
      return "Stable";
  }
  return "Unknown";
}

GroupState ConsumerGroup::state() const {
  if (members_.empty()) return GroupState::kEmpty;
  if (group_epoch_ > assignment_epoch_) return GroupState::kAssigning;
  for (const auto& [id, m] : members_) {
    if (m.epoch != assignment_epoch_ || m.state != MemberState::kStable) {
      return GroupState::kReconciling;
    }
  }
  return GroupState::kStable;
}

const PartitionSet& ConsumerGroup::TargetOf(
    const std::string& member_id) const {
  auto it = target_.find(member_id);
  return it == target_.end() ? kNoPartitions : it->second;
}

const std::string* ConsumerGroup::OwnerOf(const TopicPartition& tp) const {
  auto it = owners_.find(tp);
  return it == owners_.end() ? nullptr : &it->second;
}

std::vector<std::string> ConsumerGroup::SubscribedTopics() const {
  std::vector<std::string> out;
  for (const auto& [topic, n] : topic_refs_) out.push_back(topic);
  return out;
}

void ConsumerGroup::Subscribe(Member* m, std::vector<std::string> topics) {
  for (const std::string& t : m->subscription) {
    if (--topic_refs_[t] == 0) topic_refs_.erase(t);
  }
  m->subscription = std::move(topics);
  for (const std::string& t : m->subscription) topic_refs_[t]++;
}

absl::Status ConsumerGroup::UnknownMember(std::string_view member_id) const {
  if (std::find(replaced_.begin(), replaced_.end(), member_id) !=
      replaced_.end()) {
    return ReasonError(
        absl::StatusCode::kNotFound, kFencedInstanceId,
        absl::StrFormat("member %s of group %s was replaced by a newer "
                        "process with the same instance id",
                        member_id, id_));
  }
  return ReasonError(
      absl::StatusCode::kNotFound, kUnknownMemberId,
      absl::StrFormat("group %s has no member %s: join again with epoch 0", id_,
                      member_id));
}

absl::Status ConsumerGroup::Validate(const HeartbeatRequest& r,
                                     const GroupConfig& config,
                                     Member* existing) const {
  const int32_t session = r.session_timeout_ms == 0
                              ? config.default_session_timeout_ms
                              : r.session_timeout_ms;
  if (session < config.min_session_timeout_ms ||
      session > config.max_session_timeout_ms) {
    return ReasonError(
        absl::StatusCode::kInvalidArgument, kInvalidSessionTimeout,
        absl::StrFormat("session_timeout_ms %d is outside the broker's "
                        "bounds [%d, %d] (group.min.session.timeout.ms, "
                        "group.max.session.timeout.ms)",
                        session, config.min_session_timeout_ms,
                        config.max_session_timeout_ms));
  }
  if (r.rebalance_timeout_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("rebalance_timeout_ms must not be negative; got %d",
                        r.rebalance_timeout_ms));
  }
  if (!r.assignor.empty()) {
    bool known = false;
    for (const Assignor* a : config.assignors) known |= a->name() == r.assignor;
    if (!known) {
      return ReasonError(
          absl::StatusCode::kInvalidArgument, kUnsupportedAssignor,
          absl::StrFormat("server_assignor '%s' is not one of the broker's "
                          "(group.consumer.assignors)",
                          r.assignor));
    }
  }
  for (const std::string& t : r.subscribed_topics) {
    if (t.empty()) {
      return absl::InvalidArgumentError(
          "subscribed_topic_names: empty topic name");
    }
  }
  if (r.member_id.size() > kMaxMemberIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("member_id: longer than %d bytes", kMaxMemberIdBytes));
  }
  // A member's instance id is set at its join; later requests may repeat
  // it or leave it empty.
  if (existing != nullptr && !r.instance_id.empty() &&
      existing->instance_id.value_or("") != r.instance_id) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "member %s joined with instance_id '%s', not '%s'", existing->id,
        existing->instance_id.value_or(""), r.instance_id));
  }
  return absl::OkStatus();
}

absl::StatusOr<HeartbeatResponse> ConsumerGroup::Heartbeat(
    const HeartbeatRequest& r, int64_t now_ms, const GroupConfig& config,
    const PartitionCounts& counts,
    const std::function<std::string()>& new_member_id) {
  if (r.member_epoch == kLeaveEpoch || r.member_epoch == kTemporaryLeaveEpoch) {
    RETURN_IF_ERROR(
        Leave(r.member_id, r.member_epoch == kTemporaryLeaveEpoch, now_ms));
    HeartbeatResponse out;
    out.member_id = r.member_id;
    out.member_epoch = r.member_epoch;
    return out;
  }
  if (r.member_epoch < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "member_epoch %d: expected 0 (join), -1 (leave), -2 (temporary "
        "leave) or the member's epoch",
        r.member_epoch));
  }

  Member* m = nullptr;
  const int32_t epoch_before = group_epoch_;
  if (r.member_epoch == kJoinEpoch) {
    // A static member's instance may already be held by another member id
    // (the process restarted): Join takes it over, so only a rejoin of the
    // same member id is checked against the existing member here.
    auto it = members_.find(r.member_id);
    Member* same = it == members_.end() ? nullptr : &it->second;
    RETURN_IF_ERROR(Validate(r, config, same));
    ASSIGN_OR_RETURN(m, Join(r, new_member_id));
  } else {
    auto it = members_.find(r.member_id);
    if (it == members_.end()) return UnknownMember(r.member_id);
    m = &it->second;
    RETURN_IF_ERROR(Validate(r, config, m));
    if (r.member_epoch > m->epoch ||
        (r.member_epoch < m->epoch &&
         // The response that raised the epoch may have been lost: accept
         // the previous epoch if the member owns nothing it should not.
         (r.member_epoch != m->previous_epoch ||
          !IsSubset(r.owned, m->assigned)))) {
      return ReasonError(
          absl::StatusCode::kFailedPrecondition, kFencedMemberEpoch,
          absl::StrFormat("member %s of group %s sent epoch %d but is at "
                          "epoch %d: drop every partition and join again "
                          "with epoch 0",
                          m->id, id_, r.member_epoch, m->epoch));
    }
  }

  // The member's settings. A changed subscription or assignor calls for a
  // new target assignment.
  std::vector<std::string> subscription = Normalized(r.subscribed_topics);
  if (m->subscription != subscription || m->assignor != r.assignor) {
    Subscribe(m, std::move(subscription));
    m->assignor = r.assignor;
    if (group_epoch_ == epoch_before) group_epoch_++;  // once per heartbeat
  }
  m->session_timeout_ms = r.session_timeout_ms == 0
                              ? config.default_session_timeout_ms
                              : r.session_timeout_ms;
  m->rebalance_timeout_ms = r.rebalance_timeout_ms == 0
                                ? config.default_rebalance_timeout_ms
                                : r.rebalance_timeout_ms;
  m->client_host = r.client_host;
  m->left_temporarily = false;
  m->session_deadline_ms = now_ms + m->session_timeout_ms;
  NoteDeadline(m->session_deadline_ms);

  RefreshMetadata(counts);
  if (group_epoch_ > assignment_epoch_) ComputeTarget(config);
  // A joining member owns nothing, whatever it sent.
  Reconcile(m, r.member_epoch == kJoinEpoch ? kNoPartitions : r.owned, now_ms);

  HeartbeatResponse out;
  out.member_id = m->id;
  out.member_epoch = m->epoch;
  out.heartbeat_interval_ms = std::max(
      1, std::min(config.heartbeat_interval_ms, m->session_timeout_ms / 3));
  out.assignment = AssignmentOf(*m);
  return out;
}

absl::StatusOr<Member*> ConsumerGroup::Join(
    const HeartbeatRequest& r, const std::function<std::string()>& new_id) {
  if (!r.instance_id.empty()) {
    auto s = static_members_.find(r.instance_id);
    if (s != static_members_.end() && s->second != r.member_id) {
      // The instance restarted (after a temporary leave, or a crash): the
      // new process takes over its epoch and assignment, so nothing moves,
      // and the old member id is fenced.
      std::string id = r.member_id.empty() ? new_id() : r.member_id;
      if (members_.contains(id)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "member_id %s is already in group %s with another instance id", id,
            id_));
      }
      auto old = members_.extract(s->second);
      Member m = std::move(old.mapped());
      const std::string old_id = m.id;
      m.id = id;
      for (const PartitionSet* set : {&m.assigned, &m.revoking}) {
        for (const TopicPartition& tp : *set) owners_[tp] = id;
      }
      if (auto t = target_.extract(old_id); !t.empty()) {
        t.key() = id;
        target_.insert(std::move(t));
      }
      replaced_.push_back(old_id);
      if (replaced_.size() > kMaxReplacedRemembered) replaced_.pop_front();
      s->second = id;
      return &(members_[id] = std::move(m));
    }
  }
  if (auto it = members_.find(r.member_id); it != members_.end()) {
    // A rejoin after a fence, or a retried join: the member gave up all it
    // owned, and reconciliation gives it its target again.
    Member& m = it->second;
    Release(m.id, m.assigned);
    Release(m.id, m.revoking);
    m.assigned.clear();
    m.revoking.clear();
    m.state = MemberState::kStable;
    m.previous_epoch = -1;
    m.epoch = kJoinEpoch;
    return &m;
  }
  Member m;
  m.id = r.member_id.empty() ? new_id() : r.member_id;
  if (!r.instance_id.empty()) {
    m.instance_id = r.instance_id;
    static_members_[r.instance_id] = m.id;
  }
  group_epoch_++;
  std::string id = m.id;
  return &(members_[id] = std::move(m));
}

absl::Status ConsumerGroup::Leave(const std::string& member_id, bool temporary,
                                  int64_t now_ms) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return UnknownMember(member_id);
  Member& m = it->second;
  if (temporary) {
    if (!m.instance_id.has_value()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "member %s has no instance id: only a static member can leave "
          "temporarily",
          member_id));
    }
    // Its partitions stay with its instance id until the session timeout.
    m.left_temporarily = true;
    m.session_deadline_ms = now_ms + m.session_timeout_ms;
    NoteDeadline(m.session_deadline_ms);
    return absl::OkStatus();
  }
  RemoveMember(member_id);
  return absl::OkStatus();
}

void ConsumerGroup::Release(const std::string& member_id,
                            const PartitionSet& partitions) {
  for (const TopicPartition& tp : partitions) {
    auto it = owners_.find(tp);
    if (it != owners_.end() && it->second == member_id) owners_.erase(it);
  }
}

void ConsumerGroup::RemoveMember(const std::string& member_id) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  Release(member_id, it->second.assigned);
  Release(member_id, it->second.revoking);
  Subscribe(&it->second, {});
  if (it->second.instance_id.has_value()) {
    static_members_.erase(*it->second.instance_id);
  }
  target_.erase(member_id);
  members_.erase(it);
  group_epoch_++;
}

std::vector<Expiry> ConsumerGroup::ExpireMembers(int64_t now_ms) {
  std::vector<Expiry> out;
  // next_deadline_ms_ is at most the earliest deadline: nothing is due
  // before it, and scanning is needed only once it has passed.
  if (now_ms < next_deadline_ms_) return out;
  next_deadline_ms_ = INT64_MAX;
  for (const auto& [id, m] : members_) {
    if (now_ms >= m.session_deadline_ms) {
      out.push_back(Expiry{id, false});
    } else if (m.state == MemberState::kRevoking &&
               now_ms >= m.revocation_deadline_ms) {
      out.push_back(Expiry{id, true});
    } else {
      NoteDeadline(m.session_deadline_ms);
      if (m.state == MemberState::kRevoking) {
        NoteDeadline(m.revocation_deadline_ms);
      }
    }
  }
  for (const Expiry& e : out) RemoveMember(e.member_id);
  return out;
}

absl::Status ConsumerGroup::ValidateCommit(std::string_view member_id,
                                           int32_t member_epoch) const {
  if (member_id.empty()) {
    if (!members_.empty()) {
      return ReasonError(
          absl::StatusCode::kFailedPrecondition, kGroupNotEmpty,
          absl::StrFormat("group %s has %d members: commit as one of them "
                          "(member_id and member_epoch)",
                          id_, members_.size()));
    }
    if (member_epoch > 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "member_epoch %d without member_id: expected -1", member_epoch));
    }
    return absl::OkStatus();
  }
  auto it = members_.find(std::string(member_id));
  if (it == members_.end()) return UnknownMember(member_id);
  const Member& m = it->second;
  if (member_epoch > m.epoch) {
    return ReasonError(
        absl::StatusCode::kFailedPrecondition, kFencedMemberEpoch,
        absl::StrFormat("member %s of group %s committed with epoch %d, "
                        "newer than its epoch %d",
                        member_id, id_, member_epoch, m.epoch));
  }
  if (member_epoch < m.epoch) {
    return ReasonError(
        absl::StatusCode::kAborted, kStaleMemberEpoch,
        absl::StrFormat("member %s of group %s committed with epoch %d but "
                        "is at epoch %d: heartbeat, then commit again",
                        member_id, id_, member_epoch, m.epoch));
  }
  return absl::OkStatus();
}

void ConsumerGroup::RefreshMetadata(const PartitionCounts& counts) {
  std::map<std::string, int32_t> now;
  for (const std::string& t : SubscribedTopics()) {
    if (std::optional<int32_t> n = counts(t); n.has_value() && *n > 0) {
      now[t] = *n;
    }
  }
  if (now != topic_partitions_) {
    topic_partitions_ = std::move(now);
    group_epoch_++;
  }
}

void ConsumerGroup::ComputeTarget(const GroupConfig& config) {
  // The assignor most members ask for (ties: the first by name); the
  // broker's default if none asks.
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members_) {
    if (!m.assignor.empty()) votes[m.assignor]++;
  }
  std::string name;
  int best = 0;
  for (const auto& [n, v] : votes) {
    if (v > best) {
      best = v;
      name = n;
    }
  }
  const Assignor* assignor =
      config.assignors.empty() ? nullptr : config.assignors[0];
  for (const Assignor* a : config.assignors) {
    if (a->name() == name) assignor = a;
  }
  AssignmentSpec spec;
  spec.topics = topic_partitions_;
  for (const auto& [id, m] : members_) {
    spec.members[id] =
        AssignmentMember{m.instance_id, m.subscription, TargetOf(id)};
  }
  if (assignor != nullptr) {
    target_ = assignor->Assign(spec);
    assignor_ = std::string(assignor->name());
  } else {
    target_.clear();
  }
  assignment_epoch_ = group_epoch_;
  rebalances_++;
}

// The reconciliation of one member towards its target (KIP-848's
// CurrentAssignmentBuilder): partitions it keeps stay assigned; partitions
// it loses go to `revoking` until a heartbeat shows them no longer owned;
// partitions it gains are assigned once no other member owns them.
void ConsumerGroup::Reconcile(Member* m, const PartitionSet& owned,
                              int64_t now_ms) {
  if (m->state == MemberState::kStable && m->epoch == assignment_epoch_) {
    return;
  }
  if (m->state == MemberState::kRevoking) {
    if (Intersects(owned, m->revoking)) return;  // not revoked yet
    Release(m->id, m->revoking);
    m->revoking.clear();
  }
  const PartitionSet& target = TargetOf(m->id);
  PartitionSet keep = Intersection(m->assigned, target);
  PartitionSet lose = Difference(m->assigned, target);
  if (!lose.empty()) {
    if (Intersects(owned, lose)) {
      // Revoke first; the epoch moves on once they are revoked.
      m->assigned = std::move(keep);
      m->revoking = std::move(lose);
      if (m->state != MemberState::kRevoking) {
        m->revocation_deadline_ms = now_ms + m->rebalance_timeout_ms;
        NoteDeadline(m->revocation_deadline_ms);
      }
      m->state = MemberState::kRevoking;
      return;
    }
    Release(m->id, lose);  // it does not own them: free at once
  }
  bool unreleased = false;
  for (const TopicPartition& tp : Difference(target, keep)) {
    auto it = owners_.find(tp);
    if (it != owners_.end() && it->second != m->id) {
      unreleased = true;
      continue;
    }
    owners_[tp] = m->id;
    keep.insert(tp);
  }
  m->assigned = std::move(keep);
  if (m->epoch != assignment_epoch_) {
    m->previous_epoch = m->epoch;
    m->epoch = assignment_epoch_;
  }
  m->state = unreleased ? MemberState::kAssigning : MemberState::kStable;
}

MemberAssignment ConsumerGroup::AssignmentOf(const Member& m) const {
  MemberAssignment a;
  a.assigned = m.assigned;
  a.revoking = m.revoking;
  a.pending = Difference(TargetOf(m.id), m.assigned);
  return a;
}

}  // namespace fjord::coordinator
