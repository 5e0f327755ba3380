// BrokerSession against a real etcd: registration bound to a lease, the
// duplicate node id refused, a previous incarnation replaced, a cut-off
// broker losing and regaining its registration; and producer-id blocks.
#include "broker/cluster/broker_session.h"

#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "broker/cluster/producer_id_blocks.h"
#include "tests/cluster/test_node.h"

namespace fjord::cluster {
namespace {

using testing::ConnectEtcd;
using testing::SharedEtcd;
using testing::TestNode;
using testing::TestNodeOptions;
using testing::UniqueClusterName;
using testing::WaitUntil;

TestNodeOptions NoController() {
  TestNodeOptions o;
  o.start_controller = false;
  return o;
}

TEST_CASE(
    "BrokerSession: the registration is bound to the lease and goes away on "
    "close",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  auto node = std::make_unique<TestNode>(SharedEtcd(), keys, 1, NoController());
  REQUIRE(node->status().ok());
  auto kv = etcd->Get(keys.broker(1));
  REQUIRE(kv.ok());
  REQUIRE(kv->has_value());
  CHECK((*kv)->lease == node->session().lease_id());
  auto b = DecodeBroker((*kv)->value);
  REQUIRE(b.ok());
  CHECK(b->kafka == Endpoint{"127.0.0.2", 9092});
  CHECK(b->grpc == Endpoint{"127.0.0.2", 9093});
  CHECK(node->session().alive());
  CHECK(node->session().generation() == 1);
  node->session().Close();
  CHECK_FALSE(node->session().alive());
  CHECK_FALSE(etcd->Get(keys.broker(1))->has_value());
}

TEST_CASE(
    "BrokerSession: a second broker with the same node.id is refused with a "
    "message naming the holder",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  TestNode first(SharedEtcd(), keys, 3, NoController());
  REQUIRE(first.status().ok());
  TestNodeOptions other = NoController();
  other.data_dir = "/elsewhere";
  const absl::Time t0 = absl::Now();
  TestNode second(SharedEtcd(), keys, 3, other);
  const absl::Duration took = absl::Now() - t0;
  REQUIRE(absl::IsAlreadyExists(second.status()));
  const std::string m(second.status().message());
  CHECK_THAT(m, Catch::Contains("node.id 3 is already registered"));
  CHECK_THAT(m, Catch::Contains("kafka 127.0.0.4:9092"));
  CHECK_THAT(m, Catch::Contains("data dir /data/3"));
  CHECK_THAT(m, Catch::Contains("pid " + std::to_string(getpid())));
  // It waited for the holder's lease to expire (it might have been a dead
  // broker), then gave up; the holder is untouched.
  CHECK(took >= absl::Seconds(1));
  CHECK(took < absl::Seconds(5));
  CHECK(first.session().alive());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  CHECK((*etcd->Get(keys.broker(3)))->lease == first.session().lease_id());
}

TEST_CASE(
    "BrokerSession: a restart with the same host and data directory "
    "replaces the previous incarnation at once",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  TestNode old(SharedEtcd(), keys, 2, NoController());
  REQUIRE(old.status().ok());
  const int64_t old_lease = old.session().lease_id();
  old.CutOff();  // as after kill -9: the lease is still there for a while
  const absl::Time t0 = absl::Now();
  TestNode restarted(SharedEtcd(), keys, 2, NoController());
  REQUIRE(restarted.status().ok());
  CHECK(absl::Now() - t0 < absl::Seconds(1));
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  auto kv = etcd->Get(keys.broker(2));
  REQUIRE(kv->has_value());
  CHECK((*kv)->lease == restarted.session().lease_id());
  CHECK((*kv)->lease != old_lease);
}

TEST_CASE(
    "BrokerSession: a broker cut off from etcd loses its registration within "
    "the TTL and registers again once reconnected",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  TestNode node(SharedEtcd(), keys, 5, NoController());
  REQUIRE(node.status().ok());
  node.CutOff();
  auto gone =
      WaitUntil([&] { return !(*etcd->Get(keys.broker(5))).has_value(); },
                absl::Seconds(6));
  REQUIRE(gone);
  CHECK(*gone <= absl::Seconds(testing::kTestTtlSeconds + 2));
  // The broker itself knows: it stops counting as registered no later than
  // the lease could have expired.
  CHECK(WaitUntil([&] { return !node.session().alive(); }, absl::Seconds(3)));
  node.Reconnect();
  REQUIRE(WaitUntil([&] { return node.session().alive(); }, absl::Seconds(8)));
  CHECK(node.session().generation() == 2);
  auto kv = etcd->Get(keys.broker(5));
  REQUIRE(kv->has_value());
  CHECK((*kv)->lease == node.session().lease_id());
  CHECK_FALSE(node.fatal());
}

TEST_CASE(
    "BrokerSession: after losing a lease that etcd kept, the same process "
    "moves its registration to a new lease without ever deleting it",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  TestNode node(SharedEtcd(), keys, 8, NoController());
  REQUIRE(node.status().ok());
  const KeyValue before = **etcd->Get(keys.broker(8));
  std::mutex mu;
  std::vector<WatchEvent> events;
  WatchCallbacks cb;
  cb.on_events = [&](std::span<const WatchEvent> e, int64_t) {
    std::lock_guard<std::mutex> l(mu);
    events.insert(events.end(), e.begin(), e.end());
  };
  auto watch = etcd->WatchPrefix(keys.broker(8), before.mod_revision + 1, cb);
  REQUIRE(watch.ok());
  // The node cannot reach etcd, but its lease is kept alive by someone
  // else: to the node the lease is lost, to etcd it is not.
  node.CutOff();
  // Until the session has given the lease up (lease_id() 0), not merely
  // until alive() turns false: alive() is false as soon as the lease may
  // have expired, and a keepalive that gets through before the keeper
  // declares it lost rightly carries on with the same lease.
  REQUIRE(WaitUntil(
      [&] {
        (void)etcd->KeepAliveOnce(before.lease);
        return node.session().lease_id() == 0;
      },
      absl::Seconds(6)));
  node.Reconnect();
  REQUIRE(WaitUntil(
      [&] {
        (void)etcd->KeepAliveOnce(before.lease);
        return node.session().alive();
      },
      absl::Seconds(8)));
  const KeyValue after = **etcd->Get(keys.broker(8));
  CHECK(after.lease == node.session().lease_id());
  CHECK(after.lease != before.lease);
  CHECK(after.create_revision == before.create_revision);
  CHECK(absl::IsNotFound(etcd->KeepAliveOnce(before.lease).status()));
  absl::SleepFor(absl::Milliseconds(200));
  std::lock_guard<std::mutex> l(mu);
  for (const WatchEvent& e : events) CHECK(e.type == WatchEvent::Type::kPut);
  CHECK_FALSE(events.empty());
}

TEST_CASE(
    "BrokerSession: registration_revision is the etcd revision that wrote "
    "the registration, 0 while the session is lost, newer after it "
    "registers again",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  TestNode node(SharedEtcd(), keys, 9, NoController());
  REQUIRE(node.status().ok());
  const KeyValue before = **etcd->Get(keys.broker(9));
  CHECK(node.session().registration_revision() == before.mod_revision);
  // Cut off until etcd expires the lease: the registration goes away, and
  // the node must register anew, at a later revision.
  node.CutOff();
  REQUIRE(WaitUntil([&] { return !node.session().alive(); }, absl::Seconds(6)));
  CHECK(node.session().registration_revision() == 0);
  REQUIRE(WaitUntil([&] { return !(*etcd->Get(keys.broker(9))).has_value(); },
                    absl::Seconds(6)));
  node.Reconnect();
  REQUIRE(WaitUntil([&] { return node.session().alive(); }, absl::Seconds(8)));
  const KeyValue after = **etcd->Get(keys.broker(9));
  CHECK(after.create_revision > before.mod_revision);
  CHECK(node.session().registration_revision() == after.mod_revision);
  // A metadata cache of the node reaches that revision: the watch delivers
  // the node's own registration.
  CHECK(node.cache().WaitFor(
            [&](const ClusterSnapshot& s) {
              return s.revision >= after.mod_revision;
            },
            absl::Seconds(5)) != nullptr);
  node.session().Close();
  CHECK(node.session().registration_revision() == 0);
}

TEST_CASE(
    "BrokerSession: if another broker took the node id meanwhile, the "
    "returning one is told it must stop",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  TestNode node(SharedEtcd(), keys, 6, NoController());
  REQUIRE(node.status().ok());
  node.CutOff();
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  REQUIRE(WaitUntil([&] { return !(*etcd->Get(keys.broker(6))).has_value(); },
                    absl::Seconds(6)));
  TestNodeOptions other = NoController();
  other.data_dir = "/other";
  TestNode usurper(SharedEtcd(), keys, 6, other);
  REQUIRE(usurper.status().ok());
  node.Reconnect();
  CHECK(WaitUntil([&] { return node.fatal(); }, absl::Seconds(10)));
  CHECK_FALSE(node.session().alive());
  CHECK(usurper.session().alive());
}

TEST_CASE(
    "ProducerIdBlocks: concurrent reservations by several brokers never "
    "overlap",
    "[cluster][session]") {
  KeyLayout keys(UniqueClusterName());
  constexpr int kBrokers = 4, kEach = 20, kSize = 10;
  std::vector<std::vector<ProducerIdBlock>> got(kBrokers);
  std::vector<std::thread> threads;
  for (int b = 0; b < kBrokers; b++) {
    threads.emplace_back([&, b] {
      auto etcd = ConnectEtcd(SharedEtcd().endpoint(), absl::Seconds(5));
      for (int i = 0; i < kEach; i++) {
        auto block = ReserveProducerIdBlock(etcd.get(), keys, b, kSize);
        if (block.ok()) got[b].push_back(*block);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> firsts;
  for (const auto& blocks : got) {
    REQUIRE(blocks.size() == kEach);
    for (const auto& block : blocks) {
      CHECK(block.end - block.first == kSize);
      CHECK(block.first % kSize == 0);
      firsts.insert(block.first);
    }
  }
  // Disjoint and gap-free: exactly the blocks 0, 10, ..., 790.
  CHECK(firsts.size() == kBrokers * kEach);
  CHECK(*firsts.begin() == 0);
  CHECK(*firsts.rbegin() == (kBrokers * kEach - 1) * kSize);
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  auto rec = DecodeProducerIds((*etcd->Get(keys.producer_ids()))->value);
  REQUIRE(rec.ok());
  CHECK(rec->next_producer_id == kBrokers * kEach * kSize);
}

}  // namespace
}  // namespace fjord::cluster
