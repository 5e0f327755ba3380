// The controller's pure decisions: replica placement (Kafka's rack-unaware
// assignment), the default replication factor, and leader election.
#include "broker/cluster/placement.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

namespace fjord::cluster {
namespace {

using Assignment = std::vector<std::vector<int32_t>>;

TEST_CASE("AssignReplicas: matches Kafka's assignment for the same start",
          "[cluster][placement]") {
  // Kafka's AdminTest.testReplicaAssignment: brokers 0-4, 10 partitions,
  // replication factor 3, fixed start index 0.
  const std::vector<int32_t> brokers{0, 1, 2, 3, 4};
  auto a = AssignReplicas(brokers, 10, 3, 0);
  REQUIRE(a.ok());
  CHECK(*a == Assignment{{0, 1, 2},
                         {1, 2, 3},
                         {2, 3, 4},
                         {3, 4, 0},
                         {4, 0, 1},
                         {0, 2, 3},
                         {1, 3, 4},
                         {2, 4, 0},
                         {3, 0, 1},
                         {4, 1, 2}});
}

TEST_CASE(
    "AssignReplicas: every broker leads and holds an equal share when "
    "partitions are a multiple of the brokers",
    "[cluster][placement]") {
  const std::vector<int32_t> brokers{1, 2, 3};
  for (int start = 0; start < 3; start++) {
    auto a = AssignReplicas(brokers, 6, 3, start);
    REQUIRE(a.ok());
    std::map<int32_t, int> leaders, replicas;
    for (const auto& r : *a) {
      REQUIRE(r.size() == 3);
      CHECK(std::set<int32_t>(r.begin(), r.end()).size() == 3);
      leaders[r[0]]++;
      for (int32_t id : r) replicas[id]++;
    }
    for (int32_t id : brokers) {
      CHECK(leaders[id] == 2);
      CHECK(replicas[id] == 6);
    }
  }
  // With replication factor 2 over 4 brokers the followers spread too.
  auto a = AssignReplicas(std::vector<int32_t>{0, 1, 2, 3}, 8, 2, 0);
  REQUIRE(a.ok());
  std::map<int32_t, int> followers;
  for (const auto& r : *a) followers[r[1]]++;
  for (int32_t id = 0; id < 4; id++) CHECK(followers[id] == 2);
  // The start index picks the first leader.
  CHECK((*AssignReplicas(std::vector<int32_t>{0, 1, 2, 3}, 1, 2, 1))[0][0] ==
        1);
}

TEST_CASE(
    "AssignReplicas: a rotating start balances leaders across one-partition "
    "topics",
    "[cluster][placement]") {
  const std::vector<int32_t> brokers{10, 20, 30};
  std::map<int32_t, int> leaders;
  int placed = 0;
  for (int topic = 0; topic < 9; topic++) {
    auto a = AssignReplicas(brokers, 1, 2, placed);
    REQUIRE(a.ok());
    leaders[(*a)[0][0]]++;
    placed += 1;
  }
  CHECK(leaders == std::map<int32_t, int>{{10, 3}, {20, 3}, {30, 3}});
}

TEST_CASE(
    "AssignReplicas: continued across topics, every ordered pair of brokers "
    "comes up",
    "[cluster][placement]") {
  const std::vector<int32_t> brokers{1, 2, 3};
  std::set<std::vector<int32_t>> seen;
  for (int placed = 0; placed < 6; placed++) {
    seen.insert((*AssignReplicas(brokers, 1, 2, placed))[0]);
  }
  CHECK(seen.size() == 6);
}

TEST_CASE("AssignReplicas: refuses what cannot be placed, saying why",
          "[cluster][placement]") {
  const std::vector<int32_t> two{1, 2};
  auto too_many = AssignReplicas(two, 3, 3, 0);
  REQUIRE(absl::IsFailedPrecondition(too_many.status()));
  CHECK(too_many.status().message() ==
        "replication factor 3 is larger than the 2 live brokers");
  CHECK(absl::IsInvalidArgument(AssignReplicas(two, 3, 0, 0).status()));
  CHECK(absl::IsInvalidArgument(AssignReplicas(two, 0, 1, 0).status()));
  CHECK(absl::IsInvalidArgument(AssignReplicas(two, 1, 1, -1).status()));
  CHECK(absl::IsFailedPrecondition(
      AssignReplicas(std::vector<int32_t>{}, 1, 1, 0).status()));
  auto one = AssignReplicas(std::vector<int32_t>{7}, 3, 1, 5);
  REQUIRE(one.ok());
  CHECK(*one == Assignment{{7}, {7}, {7}});
}

TEST_CASE(
    "DefaultReplicationFactor: 3 with at least 3 brokers, else all of them, "
    "unless configured",
    "[cluster][placement]") {
  CHECK(DefaultReplicationFactor(-1, 5) == 3);
  CHECK(DefaultReplicationFactor(-1, 3) == 3);
  CHECK(DefaultReplicationFactor(-1, 2) == 2);
  CHECK(DefaultReplicationFactor(-1, 1) == 1);
  CHECK(DefaultReplicationFactor(2, 5) == 2);
  CHECK(DefaultReplicationFactor(4, 2) == 4);  // refused at placement
}

TEST_CASE("NewTopic: leader is the first replica, epoch 0, isr all replicas",
          "[cluster][placement]") {
  TopicState t = NewTopic("t", {{"retention.ms", "1000"}},
                          Assignment{{2, 3, 1}, {3, 1, 2}}, 9);
  CHECK(t.replication_factor == 3);
  REQUIRE(t.partitions.size() == 2);
  CHECK(t.partitions[1].partition == 1);
  CHECK(t.partitions[1].leader == 3);
  CHECK(t.partitions[1].leader_epoch == 0);
  CHECK(t.partitions[1].isr == std::vector<int32_t>{3, 1, 2});
  CHECK(t.partitions[1].controller_epoch == 9);
  CHECK(ValidatePartition(t.partitions[0]).ok());
}

PartitionState P(std::vector<int32_t> replicas, int32_t leader,
                 std::vector<int32_t> isr, int32_t epoch = 0) {
  PartitionState p;
  p.replicas = std::move(replicas);
  p.leader = leader;
  p.isr = std::move(isr);
  p.leader_epoch = epoch;
  p.controller_epoch = 1;
  return p;
}

TEST_CASE("ElectLeader: nothing changes while the leader and isr live",
          "[cluster][placement]") {
  CHECK_FALSE(ElectLeader(P({1, 2, 3}, 1, {1, 2, 3}), {1, 2, 3}, false, 5));
  // A live replica outside the isr does not rejoin it here (that is the
  // leader's call once it has caught up).
  CHECK_FALSE(ElectLeader(P({1, 2, 3}, 1, {1, 2}), {1, 2, 3}, false, 5));
}

TEST_CASE(
    "ElectLeader: a dead leader is replaced by the next in-sync replica in "
    "replica order, with a bumped epoch, and leaves the isr",
    "[cluster][placement]") {
  auto p = ElectLeader(P({1, 2, 3}, 1, {3, 1, 2}, 4), {2, 3}, false, 7);
  REQUIRE(p);
  CHECK(p->leader == 2);  // replica order, not isr order
  CHECK(p->leader_epoch == 5);
  CHECK(p->isr == std::vector<int32_t>{3, 2});
  CHECK(p->controller_epoch == 7);
  CHECK(ValidatePartition(*p).ok());
}

TEST_CASE("ElectLeader: a dead follower leaves the isr; the epoch stays",
          "[cluster][placement]") {
  auto p = ElectLeader(P({1, 2, 3}, 1, {1, 2, 3}, 4), {1, 3}, false, 7);
  REQUIRE(p);
  CHECK(p->leader == 1);
  CHECK(p->leader_epoch == 4);
  CHECK(p->isr == std::vector<int32_t>{1, 3});
}

TEST_CASE(
    "ElectLeader: with no live in-sync replica the leader is -1 and the isr "
    "is kept; its return restores a clean leader",
    "[cluster][placement]") {
  // 3 is alive but out of sync: not eligible.
  auto none = ElectLeader(P({1, 2, 3}, 1, {1, 2}, 4), {3}, false, 7);
  REQUIRE(none);
  CHECK(none->leader == kNoLeader);
  CHECK(none->leader_epoch == 5);
  CHECK(none->isr == std::vector<int32_t>{1, 2});
  CHECK(ValidatePartition(*none).ok());
  // Still nobody: no change, no epoch bump.
  CHECK_FALSE(ElectLeader(*none, {3}, false, 7));
  // 2 returns: it was in sync, so it leads.
  auto back = ElectLeader(*none, {2, 3}, false, 8);
  REQUIRE(back);
  CHECK(back->leader == 2);
  CHECK(back->leader_epoch == 6);
  CHECK(back->isr == std::vector<int32_t>{2});
}

TEST_CASE(
    "ElectLeader: unclean.leader.election.enable lets an out-of-sync replica "
    "lead, alone in the isr",
    "[cluster][placement]") {
  auto p = ElectLeader(P({1, 2, 3}, 1, {1, 2}, 4), {3}, true, 7);
  REQUIRE(p);
  CHECK(p->leader == 3);
  CHECK(p->leader_epoch == 5);
  CHECK(p->isr == std::vector<int32_t>{3});
  // Unclean never wins over a clean choice.
  auto clean = ElectLeader(P({1, 2, 3}, 1, {1, 2}, 4), {2, 3}, true, 7);
  REQUIRE(clean);
  CHECK(clean->leader == 2);
}

TEST_CASE("ReconcileTopic: only the partitions that change are touched",
          "[cluster][placement]") {
  TopicState t = NewTopic("t", {}, Assignment{{1, 2}, {2, 3}, {3, 1}}, 1);
  CHECK_FALSE(ReconcileTopic(t, {1, 2, 3}, false, 2));
  auto next = ReconcileTopic(t, {1, 3}, false, 2);
  REQUIRE(next);
  CHECK(next->partitions[0].leader == 1);
  CHECK(next->partitions[0].isr == std::vector<int32_t>{1});
  CHECK(next->partitions[1].leader == 3);
  CHECK(next->partitions[1].leader_epoch == 1);
  CHECK(next->partitions[2] == t.partitions[2]);
}

}  // namespace
}  // namespace fjord::cluster
