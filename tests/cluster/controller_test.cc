// The controller against a real etcd, with in-process brokers that the
// tests cut off from etcd (to etcd that is a dead broker): election and
// failover, topic placement from requests, leader election from the isr,
// leader -1 without an eligible replica, unclean election, and a deposed
// controller that writes nothing.
#include "broker/cluster/controller.h"

#include <catch2/catch.hpp>
#include <map>

#include "broker/cluster/topic_requests.h"
#include "tests/cluster/test_node.h"

namespace fjord::cluster {
namespace {

using testing::ConnectEtcd;
using testing::SharedEtcd;
using testing::TestNode;
using testing::TestNodeOptions;
using testing::UniqueClusterName;
using testing::WaitUntil;

// A cluster of in-process nodes 1..n sharing one etcd.
struct Cluster {
  KeyLayout keys{UniqueClusterName()};
  std::unique_ptr<EtcdClient> etcd = ConnectEtcd(SharedEtcd().endpoint());
  std::map<int32_t, std::unique_ptr<TestNode>> nodes;

  explicit Cluster(int n, TestNodeOptions options = {}) {
    for (int32_t id = 1; id <= n; id++) Add(id, options);
    // Everyone sees everyone.
    for (auto& [id, node] : nodes) {
      REQUIRE(node->cache().WaitFor(
          [n](const ClusterSnapshot& s) {
            return static_cast<int>(s.brokers.size()) == n;
          },
          absl::Seconds(5)));
    }
  }
  TestNode& Add(int32_t id, TestNodeOptions options = {}) {
    auto node = std::make_unique<TestNode>(SharedEtcd(), keys, id, options);
    INFO(node->status().ToString());
    REQUIRE(node->status().ok());
    return *(nodes[id] = std::move(node));
  }
  // The node the controller key names, as etcd has it now.
  std::optional<ControllerInfo> Controller() {
    auto kv = etcd->Get(keys.controller());
    if (!kv.ok() || !kv->has_value()) return std::nullopt;
    auto c = DecodeController((*kv)->value);
    if (!c.ok()) return std::nullopt;
    c->epoch = (*kv)->create_revision;
    return *c;
  }
  std::optional<TopicState> Topic(const std::string& name) {
    auto kv = etcd->Get(keys.topic(name));
    if (!kv.ok() || !kv->has_value()) return std::nullopt;
    auto t = DecodeTopic((*kv)->value);
    if (!t.ok()) return std::nullopt;
    return *t;
  }
  absl::Status CreateTopic(TestNode& via, const std::string& name,
                           int32_t partitions, int32_t rf = -1) {
    TopicRequest r;
    r.name = name;
    r.partitions = partitions;
    r.replication_factor = rf;
    r.requested_by = via.id();
    absl::Status s =
        SubmitTopicRequest(&via.etcd(), keys, r, via.session().lease_id());
    if (!s.ok()) return s;
    return AwaitTopicRequest(&via.etcd(), keys, &via.cache(), name,
                             TopicRequest::Operation::kCreate,
                             absl::Seconds(10));
  }
  int ActiveControllers() {
    int n = 0;
    for (auto& [id, node] : nodes) n += node->controller().active();
    return n;
  }
};

TEST_CASE(
    "Controller: one of three brokers is elected; when it dies another "
    "takes over within seconds",
    "[cluster][controller]") {
  Cluster c(3);
  REQUIRE(
      WaitUntil([&] { return c.ActiveControllers() == 1; }, absl::Seconds(5)));
  auto first = c.Controller();
  REQUIRE(first);
  TestNode& old = *c.nodes[first->node_id];
  CHECK(old.controller().active());
  CHECK(old.controller().epoch() == first->epoch);

  const absl::Time died = absl::Now();
  old.CutOff();
  auto took = WaitUntil(
      [&] {
        auto now = c.Controller();
        return now && now->node_id != first->node_id;
      },
      absl::Seconds(10));
  REQUIRE(took);
  auto second = c.Controller();
  CHECK(second->epoch > first->epoch);
  // Within the lease TTL plus etcd's expiry check and one reaction.
  CHECK(*took < absl::Seconds(testing::kTestTtlSeconds + 3));
  WARN("controller failover (lease TTL "
       << testing::kTestTtlSeconds << " s): " << absl::FormatDuration(*took));
  REQUIRE(
      WaitUntil([&] { return c.nodes[second->node_id]->controller().active(); },
                absl::Seconds(3)));
  // The old one knows it lost (its session is gone).
  CHECK(
      WaitUntil([&] { return !old.controller().active(); }, absl::Seconds(3)));
  (void)died;
}

TEST_CASE(
    "Controller: places requested topics across the live brokers with "
    "balanced leaders, and refuses what it cannot place",
    "[cluster][controller]") {
  Cluster c(3);
  TestNode& n1 = *c.nodes[1];
  REQUIRE(c.CreateTopic(n1, "six", 6).ok());
  auto t = c.Topic("six");
  REQUIRE(t);
  CHECK(t->replication_factor == 3);  // the default with 3 brokers
  std::map<int32_t, int> leaders;
  for (const PartitionState& p : t->partitions) {
    CHECK(p.replicas.size() == 3);
    CHECK(p.leader == p.replicas[0]);
    CHECK(p.leader_epoch == 0);
    CHECK(p.isr == p.replicas);
    leaders[p.leader]++;
  }
  CHECK(leaders == std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}});

  // One-partition topics take turns leading.
  leaders.clear();
  for (int i = 0; i < 3; i++) {
    const std::string name = "one-" + std::to_string(i);
    REQUIRE(c.CreateTopic(n1, name, 1, 2).ok());
    leaders[c.Topic(name)->partitions[0].leader]++;
  }
  CHECK(leaders.size() == 3);

  auto too_big = c.CreateTopic(n1, "big", 1, 4);
  CHECK(absl::IsInvalidArgument(too_big));
  CHECK(too_big.message() ==
        "replication factor 4 is larger than the 3 live brokers");
  CHECK_FALSE(c.Topic("big"));
  CHECK_FALSE(c.etcd->Get(c.keys.topic_request("big"))->has_value());
  CHECK(absl::IsAlreadyExists(c.CreateTopic(n1, "six", 1)));

  // Deletion goes through the controller too.
  TopicRequest del;
  del.name = "six";
  del.operation = TopicRequest::Operation::kDelete;
  REQUIRE(SubmitTopicRequest(&n1.etcd(), c.keys, del, n1.session().lease_id())
              .ok());
  REQUIRE(AwaitTopicRequest(&n1.etcd(), c.keys, &n1.cache(), "six",
                            TopicRequest::Operation::kDelete, absl::Seconds(5))
              .ok());
  CHECK_FALSE(c.Topic("six"));
}

TEST_CASE(
    "Controller: the partitions a dead broker led get new leaders from the "
    "isr with bumped epochs, and it leaves every isr",
    "[cluster][controller]") {
  Cluster c(3);
  REQUIRE(c.CreateTopic(*c.nodes[1], "t", 3).ok());
  const TopicState before = *c.Topic("t");
  // Kill a broker that is not the controller (the other case is below).
  REQUIRE(
      WaitUntil([&] { return c.Controller().has_value(); }, absl::Seconds(5)));
  const int32_t controller = c.Controller()->node_id;
  const int32_t victim = controller == 1 ? 2 : 1;
  c.nodes[victim]->CutOff();
  auto took = WaitUntil(
      [&] {
        auto t = c.Topic("t");
        for (const PartitionState& p : t->partitions) {
          if (p.leader == victim) return false;
        }
        return true;
      },
      absl::Seconds(10));
  REQUIRE(took);
  WARN("leader failover to a new leader in etcd (lease TTL "
       << testing::kTestTtlSeconds << " s): " << absl::FormatDuration(*took));
  const TopicState after = *c.Topic("t");
  for (size_t i = 0; i < after.partitions.size(); i++) {
    const PartitionState& b = before.partitions[i];
    const PartitionState& a = after.partitions[i];
    CHECK(std::find(a.isr.begin(), a.isr.end(), victim) == a.isr.end());
    CHECK(a.replicas == b.replicas);
    if (b.leader == victim) {
      CHECK(a.leader != kNoLeader);
      CHECK(a.leader_epoch == b.leader_epoch + 1);
      // The next replica in preference order.
      CHECK(a.leader == b.replicas[1]);
    } else {
      CHECK(a.leader == b.leader);
      CHECK(a.leader_epoch == b.leader_epoch);
    }
  }

  SECTION("and when the controller dies as well, the last broker leads all") {
    c.nodes[controller]->CutOff();
    const int32_t last = 6 - victim - controller;
    REQUIRE(WaitUntil(
        [&] {
          auto t = c.Topic("t");
          for (const PartitionState& p : t->partitions) {
            if (p.leader != last || p.isr != std::vector<int32_t>{last}) {
              return false;
            }
          }
          return true;
        },
        absl::Seconds(12)));
    CHECK(c.Controller()->node_id == last);
  }
}

TEST_CASE(
    "Controller: a partition with no live in-sync replica has leader -1 "
    "until one returns",
    "[cluster][controller]") {
  Cluster c(3);
  REQUIRE(c.CreateTopic(*c.nodes[1], "single", 3, 1).ok());
  TopicState t = *c.Topic("single");
  // The broker that holds partition 0's only replica, not the controller.
  REQUIRE(
      WaitUntil([&] { return c.Controller().has_value(); }, absl::Seconds(5)));
  int32_t partition = -1, holder = -1;
  for (const PartitionState& p : t.partitions) {
    if (p.leader != c.Controller()->node_id) {
      partition = p.partition;
      holder = p.leader;
      break;
    }
  }
  REQUIRE(partition >= 0);
  c.nodes[holder]->CutOff();
  REQUIRE(WaitUntil(
      [&] {
        return c.Topic("single")->partitions[partition].leader == kNoLeader;
      },
      absl::Seconds(10)));
  const PartitionState offline = c.Topic("single")->partitions[partition];
  CHECK(offline.isr == std::vector<int32_t>{holder});
  CHECK(offline.leader_epoch == 1);
  // The broker comes back (a restart: same host and data directory).
  c.nodes.erase(holder);
  c.Add(holder, {});
  REQUIRE(WaitUntil(
      [&] { return c.Topic("single")->partitions[partition].leader == holder; },
      absl::Seconds(10)));
  CHECK(c.Topic("single")->partitions[partition].leader_epoch == 2);
}

TEST_CASE(
    "Controller: with unclean.leader.election.enable an out-of-sync replica "
    "may lead",
    "[cluster][controller]") {
  for (bool unclean : {false, true}) {
    INFO("unclean " << unclean);
    TestNodeOptions o;
    o.controller.unclean_leader_election = unclean;
    Cluster c(3, o);
    REQUIRE(WaitUntil([&] { return c.Controller().has_value(); },
                      absl::Seconds(5)));
    const int32_t controller = c.Controller()->node_id;
    std::vector<int32_t> others;
    for (int32_t id = 1; id <= 3; id++) {
      if (id != controller) others.push_back(id);
    }
    // A two-replica topic on the two non-controllers: create with RF 2
    // and retry names until its partition lands there.
    std::string name;
    for (int i = 0; i < 6 && name.empty(); i++) {
      std::string n = "u" + std::to_string(i);
      REQUIRE(c.CreateTopic(*c.nodes[controller], n, 1, 2).ok());
      auto r = c.Topic(n)->partitions[0].replicas;
      std::sort(r.begin(), r.end());
      if (r == others) name = n;
    }
    REQUIRE_FALSE(name.empty());
    const int32_t a = c.Topic(name)->partitions[0].leader;
    const int32_t b = a == others[0] ? others[1] : others[0];
    // b dies and leaves the isr; it returns (out of sync); then a dies.
    c.nodes[b]->CutOff();
    REQUIRE(WaitUntil(
        [&] {
          return c.Topic(name)->partitions[0].isr == std::vector<int32_t>{a};
        },
        absl::Seconds(10)));
    c.nodes.erase(b);
    c.Add(b, o);
    c.nodes[a]->CutOff();
    const int32_t expected = unclean ? b : kNoLeader;
    REQUIRE(WaitUntil(
        [&] {
          return c.Topic(name)->partitions[0].leader == expected &&
                 !c.nodes[controller]->cache().Snapshot()->broker(a);
        },
        absl::Seconds(10)));
    absl::SleepFor(absl::Milliseconds(700));  // and it stays so
    const PartitionState p = c.Topic(name)->partitions[0];
    CHECK(p.leader == expected);
    CHECK(p.isr == std::vector<int32_t>{unclean ? b : a});
  }
}

TEST_CASE(
    "Controller: a deposed controller writes nothing; leadership moves only "
    "once a real controller is elected",
    "[cluster][controller]") {
  Cluster c(3);
  REQUIRE(c.CreateTopic(*c.nodes[1], "t", 3).ok());
  REQUIRE(
      WaitUntil([&] { return c.Controller().has_value(); }, absl::Seconds(5)));
  const ControllerInfo real = *c.Controller();
  // Someone overwrites the controller key (without a lease: it never
  // expires). The real controller must notice and stop.
  ControllerInfo fake;
  fake.node_id = 99;
  REQUIRE(c.etcd->Put(c.keys.controller(), EncodeController(fake)).ok());
  REQUIRE(
      WaitUntil([&] { return c.ActiveControllers() == 0; }, absl::Seconds(5)));
  // A leader dies: nobody may act on it.
  const TopicState before = *c.Topic("t");
  const int32_t victim = before.partitions[0].leader;
  c.nodes[victim]->CutOff();
  REQUIRE(WaitUntil(
      [&] { return !c.etcd->Get(c.keys.broker(victim))->has_value(); },
      absl::Seconds(6)));
  absl::SleepFor(absl::Seconds(1));
  auto kv = c.etcd->Get(c.keys.topic("t"));
  REQUIRE(kv->has_value());
  CHECK(DecodeTopic((*kv)->value)->partitions == before.partitions);
  CHECK(c.ActiveControllers() == 0);
  // The usurper goes away: a real controller is elected and acts.
  REQUIRE(c.etcd->Delete(c.keys.controller()).ok());
  REQUIRE(
      WaitUntil([&] { return c.Topic("t")->partitions[0].leader != victim; },
                absl::Seconds(6)));
  CHECK(c.ActiveControllers() == 1);
  CHECK(c.Controller()->epoch > real.epoch);
}

}  // namespace
}  // namespace fjord::cluster
