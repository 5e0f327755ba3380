// MetadataCache against a real etcd: it follows every change in order,
// skips values it cannot decode, and re-reads after a compaction that
// happened while its watch was cut off.
#include "broker/cluster/metadata_cache.h"

#include <catch2/catch.hpp>

#include "broker/cluster/placement.h"
#include "tests/cluster/test_node.h"
#include "tests/util/test_util.h"

namespace fjord::cluster {
namespace {

using testing::ConnectEtcd;
using testing::EtcdProcess;
using testing::SharedEtcd;
using testing::TcpProxy;
using testing::UniqueClusterName;
using testing::WaitUntil;

BrokerInfo Broker(int32_t id) {
  BrokerInfo b;
  b.node_id = id;
  b.kafka = {"127.0.0.9", 9000 + id};
  b.grpc = {"127.0.0.9", 9500 + id};
  return b;
}

TEST_CASE(
    "MetadataCache: follows brokers, the controller and topics as they "
    "change",
    "[cluster][cache]") {
  KeyLayout keys(UniqueClusterName());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  REQUIRE(etcd->Put(keys.broker(1), EncodeBroker(Broker(1))).ok());
  auto cache = MetadataCache::Start(etcd.get(), keys);
  REQUIRE(cache.ok());
  auto s = (*cache)->Snapshot();
  REQUIRE(s->brokers.size() == 1);
  CHECK(s->broker(1)->kafka == Endpoint{"127.0.0.9", 9001});
  CHECK((*cache)->connected());

  std::atomic<int> notified{0};
  int id = (*cache)->Subscribe([&](const auto&) { notified++; });
  REQUIRE(etcd->Put(keys.broker(2), EncodeBroker(Broker(2))).ok());
  ControllerInfo ci;
  ci.node_id = 2;
  auto crev = etcd->Put(keys.controller(), EncodeController(ci));
  REQUIRE(crev.ok());
  TopicState t = NewTopic("orders", {}, {{1, 2}, {2, 1}}, *crev);
  REQUIRE(etcd->Put(keys.topic("orders"), EncodeTopic(t)).ok());
  REQUIRE(etcd->Delete(keys.broker(1)).ok());
  s = (*cache)->WaitFor(
      [](const ClusterSnapshot& s) {
        return s.brokers.size() == 1 && s.topic("orders") != nullptr;
      },
      absl::Seconds(5));
  REQUIRE(s);
  CHECK(s->broker(2) != nullptr);
  CHECK(s->broker(1) == nullptr);
  REQUIRE(s->controller);
  CHECK(s->controller->node_id == 2);
  CHECK(s->controller->epoch == *crev);
  REQUIRE(s->partition("orders", 1) != nullptr);
  CHECK(s->partition("orders", 1)->leader == 2);
  CHECK(s->partition("orders", 2) == nullptr);
  CHECK(s->topic("orders")->mod_revision > *crev);
  CHECK(s->live_broker_ids() == std::set<int32_t>{2});
  CHECK(notified >= 1);  // etcd may batch several revisions in one response
  (*cache)->Unsubscribe(id);
  REQUIRE(etcd->Delete(keys.topic("orders")).ok());
  CHECK((*cache)->WaitFor(
      [](const ClusterSnapshot& s) { return s.topics.empty(); },
      absl::Seconds(5)));
}

TEST_CASE("MetadataCache: a value that does not decode is skipped and counted",
          "[cluster][cache]") {
  KeyLayout keys(UniqueClusterName());
  auto etcd = ConnectEtcd(SharedEtcd().endpoint());
  REQUIRE(etcd->Put(keys.topic("bad"), "{not json").ok());
  REQUIRE(etcd->Put(keys.root() + "something/new", "x").ok());
  auto cache = MetadataCache::Start(etcd.get(), keys);
  REQUIRE(cache.ok());
  CHECK((*cache)->Snapshot()->topics.empty());
  CHECK((*cache)->decode_errors() == 1);
  // A broker registered under another node's key is refused too.
  REQUIRE(etcd->Put(keys.broker(5), EncodeBroker(Broker(6))).ok());
  REQUIRE(WaitUntil([&] { return (*cache)->decode_errors() == 2; },
                    absl::Seconds(5)));
  CHECK((*cache)->Snapshot()->brokers.empty());
}

TEST_CASE(
    "MetadataCache: after a compaction while it was cut off it re-reads and "
    "matches etcd",
    "[cluster][cache]") {
  testing::TempDir tmp;
  std::string error;
  auto etcd_process = EtcdProcess::Start(tmp.path(), &error);
  INFO(error);
  REQUIRE(etcd_process != nullptr);
  TcpProxy proxy(etcd_process->port());
  KeyLayout keys("c");
  auto direct = ConnectEtcd(etcd_process->endpoint());
  auto through_proxy = ConnectEtcd(proxy.endpoint());
  REQUIRE(direct->Put(keys.broker(1), EncodeBroker(Broker(1))).ok());
  auto cache = MetadataCache::Start(through_proxy.get(), keys);
  REQUIRE(cache.ok());
  proxy.SetBlackhole(true);
  // While it cannot hear: broker 1 leaves, 2 and 3 arrive, a topic is made,
  // and the history is compacted past what the cache has seen.
  REQUIRE(direct->Delete(keys.broker(1)).ok());
  REQUIRE(direct->Put(keys.broker(2), EncodeBroker(Broker(2))).ok());
  REQUIRE(direct->Put(keys.broker(3), EncodeBroker(Broker(3))).ok());
  auto last =
      direct->Put(keys.topic("t"), EncodeTopic(NewTopic("t", {}, {{2, 3}}, 1)));
  REQUIRE(last.ok());
  REQUIRE(etcd_process->Compact(*last));
  CHECK((*cache)->Snapshot()->broker(1) != nullptr);  // stale, as expected
  proxy.SetBlackhole(false);
  auto s = (*cache)->WaitFor(
      [&](const ClusterSnapshot& s) { return s.revision >= *last; },
      absl::Seconds(10));
  REQUIRE(s);
  CHECK(s->live_broker_ids() == std::set<int32_t>{2, 3});
  REQUIRE(s->topic("t") != nullptr);
  CHECK(s->partition("t", 0)->replicas == std::vector<int32_t>{2, 3});
  // And it keeps following changes afterwards.
  REQUIRE(direct->Delete(keys.broker(3)).ok());
  CHECK((*cache)->WaitFor(
      [](const ClusterSnapshot& s) { return s.broker(3) == nullptr; },
      absl::Seconds(5)));
}

}  // namespace
}  // namespace fjord::cluster
