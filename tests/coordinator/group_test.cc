// ConsumerGroup: the KIP-848-style membership and reconciliation state
// machine, driven by simulated members that follow the protocol of
// proto/coordinator.proto, with time passed in explicitly.
#include "broker/coordinator/group.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "broker/coordinator/errors.h"

namespace fjord::coordinator {
namespace {

PartitionSet Partitions(const std::string& topic, std::vector<int32_t> ps) {
  PartitionSet out;
  for (int32_t p : ps) out.insert({topic, p});
  return out;
}

bool IsSuperset(const PartitionSet& a, const PartitionSet& b) {
  return std::includes(a.begin(), a.end(), b.begin(), b.end());
}

// One group, its topics and a clock.
class Harness {
 public:
  Harness() {
    config.assignors = {&uniform, &range};
    config.min_session_timeout_ms = 100;
    config.max_session_timeout_ms = 60'000;
    config.default_session_timeout_ms = 1'000;
    config.heartbeat_interval_ms = 200;
    config.default_rebalance_timeout_ms = 5'000;
    topics["t"] = 12;
  }
  absl::StatusOr<HeartbeatResponse> Beat(const HeartbeatRequest& r) {
    return group.Heartbeat(
        r, now, config,
        [this](std::string_view t) -> std::optional<int32_t> {
          auto it = topics.find(std::string(t));
          if (it == topics.end()) return std::nullopt;
          return it->second;
        },
        [this] { return absl::StrFormat("generated-%d", next_id++); });
  }
  std::vector<Expiry> Advance(int64_t ms) {
    now += ms;
    return group.ExpireMembers(now);
  }

  ConsumerGroup group{"g"};
  GroupConfig config;
  UniformAssignor uniform;
  RangeAssignor range;
  std::map<std::string, int32_t> topics;
  int64_t now = 1'000'000;
  int next_id = 0;
};

// A member that follows the protocol: it starts what it is assigned, keeps
// consuming what it must revoke until its next heartbeat (it is committing),
// then drops it and reports the rest as owned; it remembers every
// assignment it received.
class SimMember {
 public:
  SimMember(Harness* h, std::vector<std::string> topics,
            std::string instance_id = "")
      : h_(h),
        topics_(std::move(topics)),
        instance_id_(std::move(instance_id)) {}

  HeartbeatRequest Request() const {
    HeartbeatRequest r;
    r.group_id = "g";
    r.member_id = id_;
    r.member_epoch = epoch_;
    r.instance_id = instance_id_;
    r.subscribed_topics = topics_;
    for (const TopicPartition& tp : owned_) {
      if (!revoking_.contains(tp)) r.owned.insert(tp);
    }
    return r;
  }
  // Finishes revoking, heartbeats and applies the response; returns its
  // status.
  absl::Status Beat() {
    HeartbeatRequest request = Request();
    owned_ = request.owned;
    revoking_.clear();
    absl::StatusOr<HeartbeatResponse> r = h_->Beat(request);
    if (!r.ok()) return r.status();
    Apply(*r);
    return absl::OkStatus();
  }
  void Apply(const HeartbeatResponse& r) {
    id_ = r.member_id;
    epoch_ = r.member_epoch;
    REQUIRE(r.assignment.has_value());
    const MemberAssignment& a = *r.assignment;
    history_.push_back(a.assigned);
    // Start the assigned, keep the revoking until the next heartbeat, drop
    // anything else.
    owned_ = a.assigned;
    owned_.insert(a.revoking.begin(), a.revoking.end());
    revoking_ = a.revoking;
    pending_ = a.pending;
  }
  // Mid-rebalance: partitions to revoke or to receive.
  bool reconciling() const { return !revoking_.empty() || !pending_.empty(); }
  absl::Status Leave() {
    HeartbeatRequest r = Request();
    r.member_epoch = kLeaveEpoch;
    absl::StatusOr<HeartbeatResponse> out = h_->Beat(r);
    if (out.ok()) Crash();
    return out.status();
  }
  void Crash() {  // a new process has nothing
    owned_.clear();
    revoking_.clear();
  }
  void Restart() {
    Crash();
    id_.clear();
    epoch_ = kJoinEpoch;
  }

  const std::string& id() const { return id_; }
  int32_t epoch() const { return epoch_; }
  const PartitionSet& owned() const { return owned_; }
  const std::vector<PartitionSet>& history() const { return history_; }
  void set_topics(std::vector<std::string> t) { topics_ = std::move(t); }
  void set_epoch(int32_t e) { epoch_ = e; }

 private:
  Harness* h_;
  std::vector<std::string> topics_;
  std::string instance_id_;
  std::string id_;
  int32_t epoch_ = kJoinEpoch;
  PartitionSet owned_;  // consuming, the revoking included
  PartitionSet revoking_;
  PartitionSet pending_;
  std::vector<PartitionSet> history_;
};

// No partition owned by two members at once.
void CheckDisjoint(const std::vector<SimMember*>& members) {
  std::map<TopicPartition, std::string> owner;
  for (const SimMember* m : members) {
    for (const TopicPartition& tp : m->owned()) {
      INFO(tp.ToString() << " owned by " << owner[tp] << " and " << m->id());
      CHECK(owner[tp].empty());
      owner[tp] = m->id();
    }
  }
}

// Heartbeats every member until none of them changes any more.
void Settle(const std::vector<SimMember*>& members) {
  for (int round = 0; round < 20; round++) {
    bool changed = false;
    for (SimMember* m : members) {
      PartitionSet before = m->owned();
      const int32_t epoch = m->epoch();
      REQUIRE(m->Beat().ok());
      CheckDisjoint(members);
      changed |=
          before != m->owned() || epoch != m->epoch() || m->reconciling();
    }
    if (!changed) return;
  }
  FAIL("the group did not settle in 20 rounds");
}

size_t TotalOwned(const std::vector<SimMember*>& members) {
  size_t n = 0;
  for (const SimMember* m : members) n += m->owned().size();
  return n;
}

TEST_CASE("ConsumerGroup: a joining member gets an id, an epoch and the topic",
          "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"});
  REQUIRE(a.Beat().ok());
  CHECK(a.id() == "generated-0");
  CHECK(a.epoch() >= 1);
  CHECK(a.owned().size() == 12);
  CHECK(h.group.state() == GroupState::kStable);
  auto r = h.Beat(a.Request());
  REQUIRE(r.ok());
  CHECK(r->heartbeat_interval_ms == 200);
  CHECK(r->member_epoch == a.epoch());
  // The interval is capped at a third of the session timeout.
  HeartbeatRequest req = a.Request();
  req.session_timeout_ms = 300;
  r = h.Beat(req);
  REQUIRE(r.ok());
  CHECK(r->heartbeat_interval_ms == 100);
}

TEST_CASE(
    "ConsumerGroup: three members on a 12-partition topic own four each, "
    "every partition exactly once",
    "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"}), b(&h, {"t"}), c(&h, {"t"});
  std::vector<SimMember*> all = {&a, &b, &c};
  Settle(all);
  CHECK(TotalOwned(all) == 12);
  for (SimMember* m : all) CHECK(m->owned().size() == 4);
  CHECK(h.group.state() == GroupState::kStable);
  for (SimMember* m : all) CHECK(m->epoch() == h.group.assignment_epoch());
}

TEST_CASE(
    "ConsumerGroup: a partition reaches its new owner only after the old "
    "owner stopped listing it",
    "[coordinator][group]") {
  Harness h;
  h.topics["t"] = 2;
  SimMember a(&h, {"t"});
  REQUIRE(a.Beat().ok());
  REQUIRE(a.owned() == Partitions("t", {0, 1}));

  // b joins: its target partition is still a's, so it is only pending.
  auto rb = h.Beat(SimMember(&h, {"t"}).Request());
  REQUIRE(rb.ok());
  const std::string b = rb->member_id;
  CHECK(rb->assignment->assigned.empty());
  REQUIRE(rb->assignment->pending.size() == 1);
  const TopicPartition moving = *rb->assignment->pending.begin();

  // a still owns both: it is told to revoke one and keeps the other.
  HeartbeatRequest ra = a.Request();
  auto r = h.Beat(ra);
  REQUIRE(r.ok());
  CHECK(r->assignment->revoking == PartitionSet{moving});
  CHECK(r->assignment->assigned.size() == 1);
  const int32_t a_epoch = r->member_epoch;
  CHECK(a_epoch == a.epoch());  // no new epoch until it revoked

  // a heartbeats again, still owning it (it is committing): nothing moves.
  r = h.Beat(ra);
  REQUIRE(r.ok());
  CHECK(r->assignment->revoking == PartitionSet{moving});
  HeartbeatRequest rbq;
  rbq.group_id = "g";
  rbq.member_id = b;
  rbq.member_epoch = rb->member_epoch;
  rbq.subscribed_topics = {"t"};
  auto again = h.Beat(rbq);
  REQUIRE(again.ok());
  CHECK(again->assignment->assigned.empty());
  CHECK(*h.group.OwnerOf(moving) == a.id());

  // a acknowledges by no longer listing it; its epoch moves on.
  ra.owned.erase(moving);
  r = h.Beat(ra);
  REQUIRE(r.ok());
  CHECK(r->assignment->revoking.empty());
  CHECK(r->member_epoch > a_epoch);
  CHECK(h.group.OwnerOf(moving) == nullptr);

  // Only now does b get it.
  rbq.member_epoch = again->member_epoch;
  again = h.Beat(rbq);
  REQUIRE(again.ok());
  CHECK(again->assignment->assigned == PartitionSet{moving});
  CHECK(*h.group.OwnerOf(moving) == b);
  CHECK(h.group.state() == GroupState::kStable);
}

TEST_CASE(
    "ConsumerGroup: a silent member is evicted after its session timeout and "
    "the others only ever gain partitions",
    "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"}), b(&h, {"t"}), c(&h, {"t"});
  Settle({&a, &b, &c});
  const PartitionSet c_had = c.owned();
  const size_t a_seen = a.history().size(), b_seen = b.history().size();

  // c stops; a and b keep heartbeating within the session timeout.
  for (int i = 0; i < 4; i++) {
    CHECK(h.Advance(200).empty());
    REQUIRE(a.Beat().ok());
    REQUIRE(b.Beat().ok());
  }
  CHECK(h.group.members().size() == 3);
  std::vector<Expiry> gone = h.Advance(250);  // 1050 ms since c's last beat
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].member_id == c.id());
  CHECK_FALSE(gone[0].rebalance_timeout);
  Settle({&a, &b});
  CHECK(TotalOwned({&a, &b}) == 12);
  for (const TopicPartition& tp : c_had) {
    CHECK((a.owned().contains(tp) || b.owned().contains(tp)));
  }
  // Every assignment a and b received is a superset of the one before.
  for (SimMember* m : {&a, &b}) {
    const size_t from = m == &a ? a_seen : b_seen;
    for (size_t i = from; i < m->history().size(); i++) {
      CHECK(IsSuperset(m->history()[i], m->history()[i - 1]));
    }
  }
  // c's late heartbeat is refused: it must rejoin.
  absl::Status s = c.Beat();
  CHECK(absl::IsNotFound(s));
  CHECK(ReasonOf(s) == std::string(kUnknownMemberId));
}

TEST_CASE(
    "ConsumerGroup: members joining and leaving in sequence never own a "
    "partition twice",
    "[coordinator][group]") {
  Harness h;
  h.topics["u"] = 5;
  std::mt19937 rng(42);
  std::vector<std::unique_ptr<SimMember>> members;
  auto live = [&] {
    std::vector<SimMember*> out;
    for (auto& m : members) out.push_back(m.get());
    return out;
  };
  for (int step = 0; step < 300; step++) {
    const int action = rng() % 10;
    if ((action == 0 && members.size() < 6) || members.empty()) {
      members.push_back(
          std::make_unique<SimMember>(&h, std::vector<std::string>{"t", "u"}));
      REQUIRE(members.back()->Beat().ok());
    } else if (action == 1 && members.size() > 1) {
      size_t i = rng() % members.size();
      REQUIRE(members[i]->Leave().ok());
      members.erase(members.begin() + i);
    } else {
      // Heartbeats in random order, partially: reconciliation is spread
      // over many interleavings.
      SimMember* m = members[rng() % members.size()].get();
      absl::Status s = m->Beat();
      INFO(s.ToString());
      REQUIRE(s.ok());
    }
    CheckDisjoint(live());
  }
  Settle(live());
  CHECK(TotalOwned(live()) == 17);
  CHECK(h.group.state() == GroupState::kStable);
}

TEST_CASE(
    "ConsumerGroup: a member that never revokes is fenced after its "
    "rebalance timeout, and its partitions move",
    "[coordinator][group]") {
  Harness h;
  h.topics["t"] = 4;
  SimMember a(&h, {"t"});
  REQUIRE(a.Beat().ok());
  HeartbeatRequest stuck = a.Request();  // keeps claiming all four
  stuck.rebalance_timeout_ms = 1'000;
  REQUIRE(h.Beat(stuck).ok());
  SimMember b(&h, {"t"});
  REQUIRE(b.Beat().ok());
  auto r = h.Beat(stuck);
  REQUIRE(r.ok());
  REQUIRE(r->assignment->revoking.size() == 2);
  CHECK(h.Advance(500).empty());
  REQUIRE(h.Beat(stuck).ok());  // alive, but still not revoking
  REQUIRE(b.Beat().ok());
  CHECK(b.owned().empty());
  std::vector<Expiry> gone = h.Advance(600);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].member_id == a.id());
  CHECK(gone[0].rebalance_timeout);
  REQUIRE(b.Beat().ok());
  CHECK(b.owned().size() == 4);
  CHECK(ReasonOf(h.Beat(stuck).status()) == std::string(kUnknownMemberId));
}

TEST_CASE(
    "ConsumerGroup: a static member leaving temporarily and rejoining within "
    "its session timeout gets the same partitions, nothing moves",
    "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"}, "instance-a"), b(&h, {"t"}, "instance-b");
  Settle({&a, &b});
  const PartitionSet a_had = a.owned(), b_had = b.owned();
  const int32_t epoch = h.group.group_epoch();

  HeartbeatRequest leave = a.Request();
  leave.member_epoch = kTemporaryLeaveEpoch;
  auto r = h.Beat(leave);
  REQUIRE(r.ok());
  CHECK(r->member_epoch == kTemporaryLeaveEpoch);
  CHECK(h.group.members().at(a.id()).left_temporarily);
  const std::string old_id = a.id();
  a.Restart();
  CHECK(h.Advance(800).empty());
  REQUIRE(b.Beat().ok());
  CHECK(b.owned() == b_had);  // b gained nothing meanwhile
  REQUIRE(a.Beat().ok());
  CHECK(a.id() != old_id);
  CHECK(a.owned() == a_had);
  CHECK(h.group.group_epoch() == epoch);  // no rebalance at all
  REQUIRE(b.Beat().ok());
  CHECK(b.owned() == b_had);
}

TEST_CASE(
    "ConsumerGroup: a static member restarted after a crash takes over its "
    "instance at once; the old incarnation is fenced",
    "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"}, "instance-a"), b(&h, {"t"});
  Settle({&a, &b});
  const PartitionSet a_had = a.owned();
  SimMember old = a;  // the crashed process, should it ever come back
  a.Restart();
  REQUIRE(a.Beat().ok());
  CHECK(a.owned() == a_had);
  absl::Status s = old.Beat();
  CHECK(absl::IsNotFound(s));
  CHECK(ReasonOf(s) == std::string(kFencedInstanceId));
  CHECK(h.group.members().size() == 2);
}

TEST_CASE(
    "ConsumerGroup: a static member that left temporarily and did not return "
    "within its session timeout loses its partitions",
    "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"}, "instance-a"), b(&h, {"t"});
  Settle({&a, &b});
  HeartbeatRequest leave = a.Request();
  leave.member_epoch = kTemporaryLeaveEpoch;
  REQUIRE(h.Beat(leave).ok());
  h.now += 600;
  REQUIRE(b.Beat().ok());
  std::vector<Expiry> gone = h.Advance(500);
  REQUIRE(gone.size() == 1);
  Settle({&b});
  CHECK(b.owned().size() == 12);
}

TEST_CASE(
    "ConsumerGroup: a heartbeat with the wrong epoch is fenced; the previous "
    "epoch is accepted when a response was lost",
    "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"});
  REQUIRE(a.Beat().ok());
  HeartbeatRequest r = a.Request();
  r.member_epoch = a.epoch() + 1;
  absl::Status s = h.Beat(r).status();
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(ReasonOf(s) == std::string(kFencedMemberEpoch));

  // b joins; a revokes half (epoch moves on), but the response is lost.
  SimMember b(&h, {"t"});
  REQUIRE(b.Beat().ok());
  REQUIRE(a.Beat().ok());  // revoking 6; a drops them
  const int32_t before = a.epoch();
  HeartbeatRequest ack = a.Request();
  auto lost = h.Beat(ack);
  REQUIRE(lost.ok());
  REQUIRE(lost->member_epoch > before);
  // a retries with the old epoch and a subset of its assignment: accepted.
  auto retry = h.Beat(ack);
  REQUIRE(retry.ok());
  CHECK(retry->member_epoch == lost->member_epoch);
  // The old epoch while claiming partitions it no longer has: fenced.
  ack.owned = Partitions("t", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(ReasonOf(h.Beat(ack).status()) == std::string(kFencedMemberEpoch));

  // A fenced member rejoins with epoch 0 (same id) and gets its share back.
  a.set_epoch(kJoinEpoch);
  a.Crash();
  REQUIRE(a.Beat().ok());
  Settle({&a, &b});
  CHECK(a.owned().size() == 6);
  CHECK(b.owned().size() == 6);
}

TEST_CASE(
    "ConsumerGroup: subscription changes, new partitions and deleted topics "
    "trigger reassignment",
    "[coordinator][group]") {
  Harness h;
  h.topics["u"] = 4;
  SimMember a(&h, {"t"}), b(&h, {"t"});
  Settle({&a, &b});
  CHECK(TotalOwned({&a, &b}) == 12);
  int32_t epoch = h.group.group_epoch();

  b.set_topics({"t", "u"});
  Settle({&a, &b});
  CHECK(h.group.group_epoch() > epoch);
  CHECK(TotalOwned({&a, &b}) == 16);
  for (const TopicPartition& tp : a.owned()) CHECK(tp.topic == "t");

  epoch = h.group.group_epoch();
  h.topics["t"] = 18;  // the topic grew
  Settle({&a, &b});
  CHECK(h.group.group_epoch() > epoch);
  CHECK(TotalOwned({&a, &b}) == 22);

  h.topics.erase("u");  // deleted
  Settle({&a, &b});
  CHECK(TotalOwned({&a, &b}) == 18);
  for (SimMember* m : {&a, &b}) {
    CHECK(m->owned().size() == 9);
    for (const TopicPartition& tp : m->owned()) CHECK(tp.topic == "t");
  }

  // A subscription to a topic that does not exist yet waits for it.
  SimMember c(&h, {"later"});
  Settle({&a, &b, &c});
  CHECK(c.owned().empty());
  h.topics["later"] = 2;
  Settle({&a, &b, &c});
  CHECK(c.owned() == Partitions("later", {0, 1}));
}

TEST_CASE("ConsumerGroup: bad heartbeats are refused and change nothing",
          "[coordinator][group]") {
  Harness h;
  SimMember a(&h, {"t"});
  REQUIRE(a.Beat().ok());
  const int32_t epoch = h.group.group_epoch();
  HeartbeatRequest r = a.Request();
  r.session_timeout_ms = 99;
  absl::Status s = h.Beat(r).status();
  CHECK(absl::IsInvalidArgument(s));
  CHECK(ReasonOf(s) == std::string(kInvalidSessionTimeout));
  CHECK(std::string(s.message()).find("[100, 60000]") != std::string::npos);
  r = a.Request();
  r.session_timeout_ms = 60'001;
  CHECK(ReasonOf(h.Beat(r).status()) == std::string(kInvalidSessionTimeout));
  r = a.Request();
  r.assignor = "sticky";
  r.subscribed_topics = {"other"};
  CHECK(ReasonOf(h.Beat(r).status()) == std::string(kUnsupportedAssignor));
  r = a.Request();
  r.member_epoch = -3;
  CHECK(absl::IsInvalidArgument(h.Beat(r).status()));
  r = a.Request();
  r.instance_id = "not-mine";
  CHECK(absl::IsInvalidArgument(h.Beat(r).status()));
  r = a.Request();
  r.subscribed_topics = {""};
  CHECK(absl::IsInvalidArgument(h.Beat(r).status()));
  CHECK(h.group.group_epoch() == epoch);
  CHECK(h.group.members().at(a.id()).subscription ==
        std::vector<std::string>{"t"});
  // A join that is refused leaves no member behind.
  HeartbeatRequest join;
  join.group_id = "g";
  join.session_timeout_ms = 5;
  CHECK_FALSE(h.Beat(join).ok());
  CHECK(h.group.members().size() == 1);
}

TEST_CASE("ConsumerGroup: the assignor most members ask for is used",
          "[coordinator][group]") {
  Harness h;
  h.topics["t"] = 4;
  HeartbeatRequest r;
  r.group_id = "g";
  r.subscribed_topics = {"t"};
  REQUIRE(h.Beat(r).ok());
  CHECK(h.group.assignor() == "uniform");  // the broker's default
  r.assignor = "range";
  REQUIRE(h.Beat(r).ok());
  REQUIRE(h.Beat(r).ok());
  CHECK(h.group.assignor() == "range");
}

TEST_CASE(
    "ConsumerGroup: a commit must come from a member at its current epoch, "
    "or from outside while the group is empty",
    "[coordinator][group]") {
  Harness h;
  CHECK(h.group.ValidateCommit("", -1).ok());
  SimMember a(&h, {"t"});
  REQUIRE(a.Beat().ok());
  CHECK(h.group.ValidateCommit(a.id(), a.epoch()).ok());
  absl::Status s = h.group.ValidateCommit(a.id(), a.epoch() - 1);
  CHECK(absl::IsAborted(s));
  CHECK(ReasonOf(s) == std::string(kStaleMemberEpoch));
  s = h.group.ValidateCommit(a.id(), a.epoch() + 1);
  CHECK(ReasonOf(s) == std::string(kFencedMemberEpoch));
  s = h.group.ValidateCommit("stranger", 1);
  CHECK(ReasonOf(s) == std::string(kUnknownMemberId));
  s = h.group.ValidateCommit("", -1);
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(ReasonOf(s) == std::string(kGroupNotEmpty));
  REQUIRE(a.Leave().ok());
  CHECK(h.group.ValidateCommit("", -1).ok());
  CHECK(h.group.state() == GroupState::kEmpty);
}

}  // namespace
}  // namespace fjord::coordinator
