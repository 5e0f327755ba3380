// The broker's request handler in cluster mode, in process, with its
// ClusterMember talking to a real etcd (through a proxy the test can cut):
// Metadata from the cluster, CreateTopics through the controller, local
// logs for local replicas, producer ids from shared blocks, and no stale
// leaders from a broker cut off from etcd; the group coordinator following
// the leadership of __consumer_offsets.
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "broker/cluster_coordinator.h"
#include "broker/cluster_member.h"
#include "broker/coordinator/errors.h"
#include "broker/coordinator/records.h"
#include "broker/kafka/errors.h"
#include "broker/replica_manager.h"
#include "broker/request_handler.h"
#include "log/internal/endian.h"
#include "tests/cluster/etcd_process.h"
#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

using kafka::Reader;
using kafka::Writer;
using testing::SharedEtcd;
using testing::TcpProxy;
using testing::TempDir;

template <typename Pred>
bool Eventually(Pred pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return pred();
}

// Polls `pred` without sleeping (a moment between two states must not be
// missed) until it holds or `timeout` passes.
template <typename Pred>
bool SpinUntil(Pred pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

// One broker of a cluster: logs, topics, a ClusterMember and the handler.
struct ClusterBroker {
  TempDir tmp;
  BrokerConfig config;
  std::unique_ptr<TcpProxy> proxy;
  std::unique_ptr<log::LogManager> logs;
  std::unique_ptr<TopicManager> topics;
  std::unique_ptr<ClusterMember> member;
  std::unique_ptr<ProducerIdAllocator> ids;
  std::unique_ptr<RequestHandler> handler;

  ClusterBroker(const std::string& cluster, int32_t id) {
    proxy = std::make_unique<TcpProxy>(SharedEtcd().port());
    config.node_id = id;
    config.cluster_id = cluster;
    config.num_partitions = 2;
    config.cluster.etcd_endpoints = {proxy->endpoint()};
    config.cluster.session_timeout_ms = 2000;
    config.cluster.etcd_request_timeout_ms = 1000;
    config.log_defaults.flush_ms = -1;
    config.data_dir = tmp.Sub("data");
    log::LogManagerOptions o;
    o.data_dir = config.data_dir;
    o.default_config = config.log_defaults;
    o.start_flusher = false;
    o.cleaner_enable = false;
    auto m = log::LogManager::Open(o);
    REQUIRE(m.ok());
    logs = std::move(*m);
    auto t = TopicManager::Open(logs.get(), config.log_defaults, o.data_dir);
    REQUIRE(t.ok());
    topics = std::move(*t);
    auto c = ClusterMember::Connect(config);
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    member = std::move(*c);
    const std::string host = "127.0.0." + std::to_string(id + 1);
    REQUIRE(member->Join({host, 9092}, {host, 9093}, topics.get(), {}).ok());
    ids = std::make_unique<ProducerIdAllocator>(
        [m = member.get()](int64_t n) { return m->ReserveProducerIds(n); }, 10);
    handler =
        std::make_unique<RequestHandler>(&config, topics.get(), ids.get());
    handler->SetCluster(member.get());
  }
  // Replication on: a ReplicaManager (its fetchers on `io`, run by a
  // thread of the broker) drives the handler's data path.
  void Replicate(int32_t min_insync) {
    ReplicaManagerOptions o;
    o.node_id = config.node_id;
    o.min_insync_replicas = min_insync;
    replicas =
        std::make_unique<ReplicaManager>(io, topics.get(), member.get(), o);
    handler->SetReplication(replicas.get());
    replicas->Start();
    io_thread = std::thread([this] { io.run(); });
  }
  ReplicaManager::Role Role(const std::string& topic, int32_t p) {
    return replicas->role(TopicPartition{topic, p});
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{
      io.get_executor()};
  std::thread io_thread;
  std::unique_ptr<ReplicaManager> replicas;

  ~ClusterBroker() {
    if (replicas) replicas->Stop();
    work.reset();
    io.stop();
    if (io_thread.joinable()) io_thread.join();
    handler.reset();
    replicas.reset();
    member.reset();
    topics.reset();
    (void)logs->Close();
  }

  std::string Call(std::string frame) {
    asio::io_context io;
    auto fut = asio::co_spawn(
        io,
        handler->Handle(
            std::span(reinterpret_cast<uint8_t*>(frame.data()), frame.size())),
        asio::use_future);
    io.run();
    auto handled = fut.get();
    INFO(handled.status().ToString());
    REQUIRE(handled.ok());
    REQUIRE(handled->response != nullptr);
    std::string out;
    for (auto piece : handled->response->Finish()) {
      out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    }
    REQUIRE(out.size() >= 8);
    return out.substr(8);
  }
};

std::string Header(int16_t api, int16_t version) {
  std::string s;
  Writer w(&s);
  w.Int16(api);
  w.Int16(version);
  w.Int32(42);
  w.String("test");
  return s;
}

// Metadata v1 for `topics` (nullopt: all topics).
std::string MetadataRequest(std::optional<std::vector<std::string>> topics) {
  std::string s = Header(kafka::kMetadata, 1);
  Writer w(&s);
  if (!topics) {
    w.Int32(-1);
  } else {
    w.ArrayLength(topics->size());
    for (const auto& t : *topics) w.String(t);
  }
  return s;
}

struct Meta {
  struct Broker {
    int32_t id;
    std::string host;
    int32_t port;
  };
  struct Partition {
    int16_t error;
    int32_t index, leader;
    std::vector<int32_t> replicas, isr;
  };
  struct Topic {
    int16_t error;
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Broker> brokers;
  int32_t controller = -2;
  std::vector<Topic> topics;
};

Meta ParseMetadata(std::string body) {
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  Meta m;
  for (int n = r.ArrayLength().value_or(0); n > 0; n--) {
    Meta::Broker b;
    b.id = r.Int32();
    b.host = std::string(r.String());
    b.port = r.Int32();
    r.NullableString();
    m.brokers.push_back(b);
  }
  m.controller = r.Int32();
  for (int n = r.ArrayLength().value_or(0); n > 0; n--) {
    Meta::Topic t;
    t.error = r.Int16();
    t.name = std::string(r.String());
    r.Bool();
    for (int k = r.ArrayLength().value_or(0); k > 0; k--) {
      Meta::Partition p;
      p.error = r.Int16();
      p.index = r.Int32();
      p.leader = r.Int32();
      for (int i = r.ArrayLength().value_or(0); i > 0; i--) {
        p.replicas.push_back(r.Int32());
      }
      for (int i = r.ArrayLength().value_or(0); i > 0; i--) {
        p.isr.push_back(r.Int32());
      }
      t.partitions.push_back(p);
    }
    m.topics.push_back(t);
  }
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
  return m;
}

// CreateTopics v1, one topic.
std::string CreateTopicsRequest(
    const std::string& name, int32_t partitions, int16_t rf,
    std::vector<std::pair<std::string, std::string>> configs = {},
    int32_t timeout_ms = 10000) {
  std::string s = Header(kafka::kCreateTopics, 1);
  Writer w(&s);
  w.ArrayLength(1);
  w.String(name);
  w.Int32(partitions);
  w.Int16(rf);
  w.ArrayLength(0);
  w.ArrayLength(configs.size());
  for (const auto& [k, v] : configs) {
    w.String(k);
    w.NullableString(v);
  }
  w.Int32(timeout_ms);
  w.Bool(false);
  return s;
}

std::pair<int16_t, std::string> ParseCreateTopics(std::string body) {
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  REQUIRE(r.ArrayLength() == 1);
  r.String();
  int16_t error = r.Int16();
  auto message = r.NullableString();
  REQUIRE(r.ok());
  return {error, message ? std::string(*message) : ""};
}

int64_t InitProducerId(ClusterBroker& b) {
  std::string s = Header(kafka::kInitProducerId, 0);
  Writer w(&s);
  w.NullableString(std::nullopt);
  w.Int32(60000);
  std::string body = b.Call(s);
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  r.Int32();
  REQUIRE(r.Int16() == 0);
  int64_t id = r.Int64();
  REQUIRE(r.ok());
  return id;
}

TEST_CASE(
    "Broker in cluster mode: Metadata lists every live broker and each "
    "partition's real leader, replicas and isr",
    "[broker][cluster]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1), b(cluster, 2);
  REQUIRE(Eventually(
      [&] {
        return ParseMetadata(b.Call(MetadataRequest({}))).brokers.size() == 2 &&
               a.member->Snapshot()->brokers.size() == 2;
      },
      absl::Seconds(5)));

  auto [error, message] =
      ParseCreateTopics(a.Call(CreateTopicsRequest("orders", 4, 2)));
  INFO(message);
  REQUIRE(error == kafka::kNone);
  // a answered once its own view had the topic; b's follows.
  REQUIRE(Eventually(
      [&] { return b.member->Snapshot()->topic("orders") != nullptr; },
      absl::Seconds(5)));
  Meta m = ParseMetadata(
      b.Call(MetadataRequest(std::vector<std::string>{"orders"})));
  REQUIRE(m.brokers.size() == 2);
  CHECK(m.brokers[0].id == 1);
  CHECK(m.brokers[0].host == "127.0.0.2");
  CHECK(m.brokers[0].port == 9092);
  CHECK(m.brokers[1].host == "127.0.0.3");
  CHECK((m.controller == 1 || m.controller == 2));
  REQUIRE(m.topics.size() == 1);
  REQUIRE(m.topics[0].partitions.size() == 4);
  std::map<int32_t, int> leaders;
  for (const auto& p : m.topics[0].partitions) {
    CHECK(p.error == kafka::kNone);
    CHECK(p.replicas.size() == 2);
    CHECK(p.leader == p.replicas[0]);
    CHECK(p.isr == p.replicas);
    leaders[p.leader]++;
  }
  CHECK(leaders == std::map<int32_t, int>{{1, 2}, {2, 2}});
  // Both brokers hold replicas, so both made local logs.
  CHECK(
      Eventually([&] { return a.topics->GetPartition("orders", 3) != nullptr; },
                 absl::Seconds(5)));
  CHECK(
      Eventually([&] { return b.topics->GetPartition("orders", 3) != nullptr; },
                 absl::Seconds(5)));
  // All topics (a null array) lists it too.
  CHECK(ParseMetadata(a.Call(MetadataRequest(std::nullopt))).topics.size() ==
        1);
}

TEST_CASE(
    "Broker in cluster mode: CreateTopics refuses what the cluster cannot "
    "place, bad configs and duplicates",
    "[broker][cluster]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1), b(cluster, 2);
  REQUIRE(Eventually([&] { return a.member->Snapshot()->brokers.size() == 2; },
                     absl::Seconds(5)));
  auto rf = ParseCreateTopics(a.Call(CreateTopicsRequest("t", 1, 3)));
  CHECK(rf.first == kafka::kInvalidReplicationFactor);
  CHECK(rf.second == "replication factor 3 is larger than the 2 live brokers");
  auto config = ParseCreateTopics(
      a.Call(CreateTopicsRequest("t", 1, -1, {{"retention.ms", "soon"}})));
  CHECK(config.first == kafka::kInvalidConfig);
  CHECK_THAT(config.second, Catch::Contains("retention.ms"));
  CHECK(ParseCreateTopics(a.Call(CreateTopicsRequest("t", 0, 1))).first ==
        kafka::kInvalidPartitions);
  REQUIRE(ParseCreateTopics(a.Call(CreateTopicsRequest("t", 1, -1))).first ==
          kafka::kNone);
  // The default replication factor with two brokers is two.
  CHECK(a.member->Snapshot()->topic("t")->replication_factor == 2);
  CHECK(ParseCreateTopics(b.Call(CreateTopicsRequest("t", 1, -1))).first ==
        kafka::kTopicAlreadyExists);
}

TEST_CASE(
    "Broker in cluster mode: an unknown topic's Metadata starts its creation "
    "and answers LEADER_NOT_AVAILABLE until it has leaders",
    "[broker][cluster]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1);
  Meta first =
      ParseMetadata(a.Call(MetadataRequest(std::vector<std::string>{"auto"})));
  REQUIRE(first.topics.size() == 1);
  CHECK(first.topics[0].error == kafka::kLeaderNotAvailable);
  Meta later;
  REQUIRE(Eventually(
      [&] {
        later = ParseMetadata(
            a.Call(MetadataRequest(std::vector<std::string>{"auto"})));
        return later.topics[0].error == kafka::kNone;
      },
      absl::Seconds(5)));
  REQUIRE(later.topics[0].partitions.size() == 2);  // num.partitions
  CHECK(later.topics[0].partitions[0].leader == 1);
  // With auto-creation off (per request, v4+, or by config) it is unknown.
  a.config.auto_create_topics = false;
  Meta off =
      ParseMetadata(a.Call(MetadataRequest(std::vector<std::string>{"nope"})));
  CHECK(off.topics[0].error == kafka::kUnknownTopicOrPartition);
  CHECK_FALSE(a.member->Snapshot()->topic("nope"));
}

TEST_CASE(
    "Broker in cluster mode: a broker cut off from etcd reports no leaders "
    "rather than stale ones",
    "[broker][cluster]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1), b(cluster, 2);
  // a places with what its own view shows: wait until it sees b.
  REQUIRE(Eventually([&] { return a.member->Snapshot()->brokers.size() == 2; },
                     absl::Seconds(5)));
  REQUIRE(ParseCreateTopics(a.Call(CreateTopicsRequest("t", 2, 2))).first ==
          kafka::kNone);
  REQUIRE(
      Eventually([&] { return b.member->Snapshot()->topic("t") != nullptr; },
                 absl::Seconds(5)));
  b.proxy->SetBlackhole(true);
  // Within the session timeout it stops counting itself as registered.
  REQUIRE(Eventually([&] { return !b.member->serving(); }, absl::Seconds(4)));
  Meta m =
      ParseMetadata(b.Call(MetadataRequest(std::vector<std::string>{"t"})));
  REQUIRE(m.topics.size() == 1);
  REQUIRE(m.topics[0].partitions.size() == 2);
  for (const auto& p : m.topics[0].partitions) {
    CHECK(p.error == kafka::kLeaderNotAvailable);
    CHECK(p.leader == -1);
  }
  // Meanwhile the cluster moved on: a leads both partitions.
  REQUIRE(Eventually(
      [&] {
        Meta am = ParseMetadata(
            a.Call(MetadataRequest(std::vector<std::string>{"t"})));
        return am.brokers.size() == 1 &&
               am.topics[0].partitions[0].leader == 1 &&
               am.topics[0].partitions[1].leader == 1;
      },
      absl::Seconds(6)));
  // Reconnected, b registers again. From the first moment it counts as
  // serving, its view is at least as new as its registration: it never
  // serves the leaderships the cluster moved while it was away.
  b.proxy->SetBlackhole(false);
  REQUIRE(SpinUntil([&] { return b.member->serving(); }, absl::Seconds(8)));
  Meta bm =
      ParseMetadata(b.Call(MetadataRequest(std::vector<std::string>{"t"})));
  REQUIRE(bm.topics.size() == 1);
  CHECK(bm.topics[0].partitions[0].leader == 1);
  CHECK(bm.topics[0].partitions[1].leader == 1);
}

std::string Produce(const std::string& topic, int32_t partition,
                    const std::string& records, int16_t acks) {
  std::string s = Header(kafka::kProduce, 7);
  Writer w(&s);
  w.NullableString(std::nullopt);
  w.Int16(acks);
  w.Int32(1000);
  w.ArrayLength(1);
  w.String(topic);
  w.ArrayLength(1);
  w.Int32(partition);
  w.Int32(static_cast<int32_t>(records.size()));
  s += records;
  return s;
}

int16_t ProduceError(std::string body) {
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  REQUIRE(r.ArrayLength() == 1);
  r.String();
  REQUIRE(r.ArrayLength() == 1);
  r.Int32();
  const int16_t error = r.Int16();
  REQUIRE(r.ok());
  return error;
}

// Fetch v11 of one partition as a consumer (replica_id -1).
std::string ConsumerFetch(const std::string& topic, int32_t partition,
                          int64_t offset) {
  std::string s = Header(kafka::kFetch, 11);
  Writer w(&s);
  w.Int32(-1);  // replica_id
  w.Int32(0);   // max_wait_ms
  w.Int32(0);   // min_bytes
  w.Int32(1 << 20);
  w.Int8(0);    // isolation_level
  w.Int32(0);   // session_id
  w.Int32(-1);  // session_epoch
  w.ArrayLength(1);
  w.String(topic);
  w.ArrayLength(1);
  w.Int32(partition);
  w.Int32(-1);  // current_leader_epoch
  w.Int64(offset);
  w.Int64(-1);  // log_start_offset
  w.Int32(1 << 20);
  w.ArrayLength(0);  // forgotten topics
  w.String("");      // rack_id
  return s;
}

struct FetchResult {
  int16_t error;
  int64_t high_watermark;
  size_t bytes;
};
FetchResult ParseFetch(std::string body) {
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  r.Int32();  // throttle
  REQUIRE(r.Int16() == 0);
  r.Int32();  // session id
  REQUIRE(r.ArrayLength() == 1);
  r.String();
  REQUIRE(r.ArrayLength() == 1);
  r.Int32();
  FetchResult res;
  res.error = r.Int16();
  res.high_watermark = r.Int64();
  r.Int64();        // last stable offset
  r.Int64();        // log start offset
  r.ArrayLength();  // aborted transactions
  r.Int32();        // preferred read replica
  auto bytes = r.NullableBytes();
  res.bytes = bytes ? bytes->size() : 0;
  REQUIRE(r.ok());
  return res;
}

TEST_CASE(
    "Broker in cluster mode with replication: only the leader takes Produce "
    "and serves consumers, up to the high watermark; acks=all needs "
    "min.insync.replicas",
    "[broker][cluster][replication]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1), b(cluster, 2);
  REQUIRE(Eventually([&] { return a.member->Snapshot()->brokers.size() == 2; },
                     absl::Seconds(5)));
  // min.insync.replicas 3: more than the two replicas of any partition.
  a.Replicate(3);
  b.Replicate(3);
  REQUIRE(ParseCreateTopics(a.Call(CreateTopicsRequest("t", 2, 2))).first ==
          kafka::kNone);
  // Placement from an empty cluster: partition 0 led by 1, 1 by 2.
  REQUIRE(Eventually(
      [&] {
        return a.Role("t", 0) == ReplicaManager::Role::kLeader &&
               b.Role("t", 0) == ReplicaManager::Role::kFollower &&
               b.Role("t", 1) == ReplicaManager::Role::kLeader &&
               a.Role("t", 1) == ReplicaManager::Role::kFollower;
      },
      absl::Seconds(10)));

  // The follower refuses Produce and consumers; the leader takes acks=1.
  CHECK(ProduceError(b.Call(Produce("t", 0, testing::MakeBatch(3), 1))) ==
        kafka::kNotLeaderOrFollower);
  CHECK(ParseFetch(b.Call(ConsumerFetch("t", 0, 0))).error ==
        kafka::kNotLeaderOrFollower);
  CHECK(ProduceError(a.Call(Produce("t", 0, testing::MakeBatch(3), 1))) ==
        kafka::kNone);
  // acks=all with an isr of 2 < 3: refused before the append.
  CHECK(ProduceError(a.Call(Produce("t", 0, testing::MakeBatch(3), -1))) ==
        kafka::kNotEnoughReplicas);
  CHECK(a.topics->GetPartition("t", 0)->log().log_end_offset() == Offset(3));
  // The follower (its fetcher dials an address nobody serves here) has
  // not fetched, so nothing is committed: a consumer of the leader reads
  // nothing yet, and the high watermark says 0.
  FetchResult read = ParseFetch(a.Call(ConsumerFetch("t", 0, 0)));
  CHECK(read.error == kafka::kNone);
  CHECK(read.high_watermark == 0);
  CHECK(read.bytes == 0);
}

TEST_CASE(
    "Broker in cluster mode with replication: a leader cut off from etcd "
    "while its partition moved takes no Produce and serves no reads for it "
    "from the moment it registers again",
    "[broker][cluster][replication]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1), b(cluster, 2);
  REQUIRE(Eventually([&] { return a.member->Snapshot()->brokers.size() == 2; },
                     absl::Seconds(5)));
  a.Replicate(1);
  b.Replicate(1);
  REQUIRE(ParseCreateTopics(a.Call(CreateTopicsRequest("t", 2, 2))).first ==
          kafka::kNone);
  REQUIRE(Eventually(
      [&] { return b.Role("t", 1) == ReplicaManager::Role::kLeader; },
      absl::Seconds(10)));
  CHECK(ProduceError(b.Call(Produce("t", 1, testing::MakeBatch(3), 1))) ==
        kafka::kNone);
  // b is cut off; etcd expires its lease and a takes over t-1. b's own
  // view is stuck: it still has itself leading t-1 at epoch 0.
  b.proxy->SetBlackhole(true);
  REQUIRE(Eventually([&] { return !b.member->serving(); }, absl::Seconds(4)));
  REQUIRE(Eventually(
      [&] { return a.Role("t", 1) == ReplicaManager::Role::kLeader; },
      absl::Seconds(8)));
  CHECK(b.Role("t", 1) == ReplicaManager::Role::kLeader);
  b.proxy->SetBlackhole(false);
  REQUIRE(SpinUntil([&] { return b.member->serving(); }, absl::Seconds(8)));
  // At once: whether or not b's replica manager has applied the news yet.
  CHECK(ProduceError(b.Call(Produce("t", 1, testing::MakeBatch(3), 1))) ==
        kafka::kNotLeaderOrFollower);
  CHECK(ParseFetch(b.Call(ConsumerFetch("t", 1, 0))).error ==
        kafka::kNotLeaderOrFollower);
  CHECK(Eventually(
      [&] { return b.Role("t", 1) == ReplicaManager::Role::kFollower; },
      absl::Seconds(5)));
}

TEST_CASE(
    "Broker in cluster mode: producer ids come from blocks shared by the "
    "brokers, never repeated",
    "[broker][cluster]") {
  const std::string cluster = testing::UniqueClusterName();
  ClusterBroker a(cluster, 1), b(cluster, 2);
  std::set<int64_t> ids;
  for (int i = 0; i < 25; i++) {
    ids.insert(InitProducerId(a));
    ids.insert(InitProducerId(b));
  }
  CHECK(ids.size() == 50);
}

// FindCoordinator v1 for group `group`: (error, node id, host, port).
std::tuple<int16_t, int32_t, std::string, int32_t> FindCoordinator(
    ClusterBroker& b, const std::string& group) {
  std::string s = Header(kafka::kFindCoordinator, 1);
  Writer w(&s);
  w.String(group);
  w.Int8(0);
  std::string body = b.Call(s);
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  r.Int32();  // throttle
  const int16_t error = r.Int16();
  r.NullableString();
  const int32_t node = r.Int32();
  std::string host(r.String());
  const int32_t port = r.Int32();
  REQUIRE(r.ok());
  return {error, node, host, port};
}

// Two brokers with replication and the cluster's group coordinator, with
// __consumer_offsets of 4 partitions replicated `rf` times. (No Kafka
// listeners run: followers cannot fetch, so with rf 2 nothing is ever
// replicated.)
struct CoordinatorCluster {
  explicit CoordinatorCluster(int32_t rf) {
    for (ClusterBroker* b : {&b1, &b2}) {
      b->config.coordinator.offsets_topic_partitions = 4;
      b->config.coordinator.offsets_topic_replication_factor = rf;
      b->config.coordinator.commit_timeout_ms = 300;
      b->config.coordinator.start_timer = false;
      b->Replicate(1);
    }
    c1 = std::make_unique<ClusterCoordinator>(
        &b1.config, b1.topics.get(), b1.member.get(), b1.replicas.get());
    c2 = std::make_unique<ClusterCoordinator>(
        &b2.config, b2.topics.get(), b2.member.get(), b2.replicas.get());
    b1.handler->SetGroupCoordinator(c1.get());
    b2.handler->SetGroupCoordinator(c2.get());
    c1->Start();
    c2->Start();
    REQUIRE(Eventually(
        [&] {
          return b1.member->Snapshot()->brokers.size() == 2 &&
                 b2.member->Snapshot()->brokers.size() == 2;
        },
        absl::Seconds(5)));
    auto [error, message] =
        ParseCreateTopics(b1.Call(CreateTopicsRequest("orders", 2, 1)));
    INFO(message);
    REQUIRE(error == kafka::kNone);
  }
  ~CoordinatorCluster() {
    c1.reset();
    c2.reset();
  }
  ClusterCoordinator& of(int32_t id) { return id == 1 ? *c1 : *c2; }
  ClusterBroker& broker(int32_t id) { return id == 1 ? b1 : b2; }

  const std::string name = testing::UniqueClusterName();
  ClusterBroker b1{name, 1}, b2{name, 2};
  std::unique_ptr<ClusterCoordinator> c1, c2;
};

absl::Status CommitOne(coordinator::GroupCoordinator& c, int64_t offset) {
  return c.CommitOffsets(coordinator::CommitRequest{
      "g", "", -1, {{TopicPartition{"orders", 0}, offset, ""}}});
}

TEST_CASE(
    "Broker in cluster mode: a group's coordinator is the leader of its "
    "__consumer_offsets partition; the others redirect to it, and nobody "
    "coordinates once it is gone",
    "[broker][cluster]") {
  CoordinatorCluster c(/*rf=*/1);
  // The first lookup asks the controller for __consumer_offsets.
  absl::StatusOr<CoordinatorLocation> first = c.c1->Locate("g");
  if (!first.ok()) {
    CHECK(absl::IsUnavailable(first.status()));
    CHECK(coordinator::ReasonOf(first.status()) ==
          std::string(coordinator::kCoordinatorNotAvailable));
  }
  REQUIRE(Eventually(
      [&] {
        auto a = c.c1->Locate("g");
        auto b = c.c2->Locate("g");
        return a.ok() && b.ok() && a->node_id == b->node_id;
      },
      absl::Seconds(20)));
  const auto topic = c.b1.member->Snapshot()->topic(coordinator::kOffsetsTopic);
  REQUIRE(topic != nullptr);
  CHECK(topic->partitions.size() == 4);
  CHECK(topic->replication_factor == 1);
  const CoordinatorLocation at = *c.c1->Locate("g");
  CHECK(at.partition == coordinator::OffsetsPartitionFor("g", 4));
  CHECK(at.node_id == topic->partitions[at.partition].leader);
  const int32_t leader = at.node_id, other = 3 - leader;
  const std::string leader_host = "127.0.0." + std::to_string(leader + 1);
  CHECK(at.grpc.ToString() == leader_host + ":9093");

  // The Kafka protocol's FindCoordinator names the same broker, from both.
  for (int32_t id : {1, 2}) {
    auto [error, node, host, port] = FindCoordinator(c.broker(id), "g");
    CHECK(error == kafka::kNone);
    CHECK(node == leader);
    CHECK(host == leader_host);
    CHECK(port == 9092);
  }

  // The leader loads the partition and takes commits (an isr of one).
  REQUIRE(Eventually(
      [&] {
        auto* gc = c.of(leader).coordinator();
        return gc != nullptr && CommitOne(*gc, 7).ok();
      },
      absl::Seconds(10)));
  auto fetched = c.of(leader).coordinator()->FetchOffsets("g", {});
  REQUIRE(fetched.ok());
  REQUIRE(fetched->size() == 1);
  CHECK((*fetched)[0].value.offset == 7);

  // The other broker redirects to it.
  REQUIRE(Eventually([&] { return c.of(other).coordinator() != nullptr; },
                     absl::Seconds(10)));
  absl::Status s = c.of(other).coordinator()->FetchOffsets("g", {}).status();
  CHECK(coordinator::ReasonOf(s) == std::string(coordinator::kNotCoordinator));
  CHECK(coordinator::ReasonMetadataOf(
            s)[std::string(coordinator::kCoordinatorKey)] ==
        leader_host + ":9093");

  // The leader leaves: it drops the group at once; with no other replica
  // the partition has no leader, so nobody coordinates the group.
  c.broker(leader).member->Leave();
  REQUIRE(Eventually(
      [&] { return !c.of(leader).coordinator()->LoadedEpoch(at.partition); },
      absl::Seconds(5)));
  CHECK(c.of(leader).coordinator()->Stats().groups == 0);
  REQUIRE(Eventually(
      [&] {
        absl::Status s =
            c.of(other).coordinator()->FetchOffsets("g", {}).status();
        return coordinator::ReasonOf(s) ==
               std::string(coordinator::kCoordinatorNotAvailable);
      },
      absl::Seconds(10)));
  auto [error, node, host, port] = FindCoordinator(c.broker(other), "g");
  CHECK(error == kafka::kCoordinatorNotAvailable);
}

TEST_CASE(
    "Broker in cluster mode: a commit the in-sync replicas do not take "
    "within offsets.commit.timeout.ms fails, retriable, and is not served",
    "[broker][cluster]") {
  CoordinatorCluster c(/*rf=*/2);
  REQUIRE(
      Eventually([&] { return c.c1->Locate("g").ok(); }, absl::Seconds(20)));
  const CoordinatorLocation at = *c.c1->Locate("g");
  ClusterCoordinator& lc = c.of(at.node_id);
  REQUIRE(Eventually(
      [&] {
        return lc.coordinator() != nullptr &&
               lc.coordinator()->LoadedEpoch(at.partition).has_value();
      },
      absl::Seconds(10)));
  // The follower never fetches (no Kafka listener runs), so the high
  // watermark stays where it is.
  const auto started = std::chrono::steady_clock::now();
  absl::Status s = CommitOne(*lc.coordinator(), 9);
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(absl::IsUnavailable(s));
  CHECK(coordinator::ReasonOf(s) ==
        std::string(coordinator::kCoordinatorNotAvailable));
  CHECK(waited >= std::chrono::milliseconds(300));
  auto fetched = lc.coordinator()->FetchOffsets("g", {});
  REQUIRE(fetched.ok());
  CHECK(fetched->empty());
}

}  // namespace
}  // namespace fjord::broker
