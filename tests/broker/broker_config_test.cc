// fjord-broker's configuration: Kafka property names, clear refusals.
#include "broker/broker_config.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

TEST_CASE("Config: Kafka property names set broker and topic defaults",
          "[broker][config]") {
  BrokerConfig c;
  REQUIRE(c.Set("log.retention.ms", "3600000").ok());
  REQUIRE(c.Set("log.cleanup.policy", "compact,delete").ok());
  REQUIRE(c.Set("num.partitions", "6").ok());
  REQUIRE(c.Set("listeners", "PLAINTEXT://127.0.0.2:19092").ok());
  REQUIRE(c.Set("log.cleaner.backoff.ms", "50").ok());
  CHECK(c.log_defaults.retention_ms == 3600000);
  CHECK(c.log_defaults.cleanup_compact);
  CHECK(c.log_defaults.cleanup_delete);
  CHECK(c.num_partitions == 6);
  CHECK(c.kafka_address.host == "127.0.0.2");
  CHECK(c.kafka_address.port == 19092);
  CHECK(c.manager.cleaner_backoff_ms == 50);
}

TEST_CASE(
    "Config: idempotent-producer limits are broker properties with Kafka's "
    "defaults",
    "[broker][config]") {
  BrokerConfig c;
  CHECK(c.manager.producer_id_expiration_ms == 86'400'000);
  CHECK(c.manager.producer_id_expiration_check_interval_ms == 600'000);
  REQUIRE(c.Set("producer.id.expiration.ms", "60000").ok());
  REQUIRE(c.Set("producer.id.expiration.check.interval.ms", "1000").ok());
  REQUIRE(c.Set("max.producer.ids", "5000").ok());
  CHECK(c.manager.producer_id_expiration_ms == 60000);
  CHECK(c.manager.producer_id_expiration_check_interval_ms == 1000);
  CHECK(c.manager.max_producer_ids == 5000);
  CHECK(!c.Set("max.producer.ids", "0").ok());
  CHECK(!c.Set("producer.id.expiration.ms", "-1").ok());
  // Not topic configs: no topic default is derived from them.
  CHECK(TopicConfigForBrokerDefault("producer.id.expiration.ms").empty());
}

TEST_CASE("Config: consumer group settings use Kafka's property names",
          "[broker][config]") {
  BrokerConfig c;
  REQUIRE(c.Set("offsets.topic.num.partitions", "7").ok());
  REQUIRE(c.Set("offsets.topic.segment.bytes", "65536").ok());
  REQUIRE(c.Set("offsets.commit.required.acks", "1").ok());
  REQUIRE(c.Set("offset.metadata.max.bytes", "100").ok());
  REQUIRE(c.Set("group.min.session.timeout.ms", "200").ok());
  REQUIRE(c.Set("group.max.session.timeout.ms", "9000").ok());
  REQUIRE(c.Set("group.consumer.session.timeout.ms", "3000").ok());
  REQUIRE(c.Set("group.consumer.heartbeat.interval.ms", "250").ok());
  REQUIRE(c.Set("group.consumer.assignors", "range, uniform").ok());
  REQUIRE(c.Set("group.coordinator.timer.interval.ms", "20").ok());
  const coordinator::CoordinatorOptions& o = c.coordinator;
  CHECK(o.offsets_topic_partitions == 7);
  CHECK(o.offsets_topic_segment_bytes == 65536);
  CHECK(o.commit_required_acks == 1);
  CHECK(o.offset_metadata_max_bytes == 100);
  CHECK(o.min_session_timeout_ms == 200);
  CHECK(o.max_session_timeout_ms == 9000);
  CHECK(o.default_session_timeout_ms == 3000);
  CHECK(o.heartbeat_interval_ms == 250);
  CHECK(o.assignors == std::vector<std::string>{"range", "uniform"});
  CHECK(o.timer_interval_ms == 20);
  CHECK(o.Validate().ok());
  CHECK(!c.Set("offsets.commit.required.acks", "0").ok());
  CHECK(!c.Set("group.consumer.assignors", "uniform,sticky").ok());
  CHECK(!c.Set("offsets.topic.num.partitions", "0").ok());
  // Each value is checked alone; the bounds together by Validate.
  REQUIRE(c.Set("group.consumer.session.timeout.ms", "10000").ok());
  CHECK_THAT(std::string(c.coordinator.Validate().message()),
             Catch::Contains("group.consumer.session.timeout.ms"));
}

TEST_CASE("Config: unknown properties and bad values are refused by name",
          "[broker][config]") {
  BrokerConfig c;
  auto unknown = c.Set("log.retention.hourz", "1");
  CHECK(absl::IsInvalidArgument(unknown));
  CHECK_THAT(std::string(unknown.message()),
             Catch::Contains("log.retention.hourz"));
  auto bad = c.Set("num.partitions", "many");
  CHECK_THAT(std::string(bad.message()), Catch::Contains("num.partitions"));
  CHECK_THAT(std::string(bad.message()), Catch::Contains("many"));
  CHECK(!c.Set("listeners", "nowhere").ok());
  CHECK(!c.Set("log.cleanup.policy", "shred").ok());
  CHECK(!c.Set("auto.create.topics.enable", "perhaps").ok());
}

TEST_CASE(
    "Config: a properties file is read with comments, and errors name the line",
    "[broker][config]") {
  testing::TempDir tmp;
  std::string path = tmp.Sub("broker.properties");
  {
    std::ofstream f(path);
    f << "# comment\n! also a comment\n\nnode.id = 3\nlog.dirs=/tmp/x\n";
  }
  BrokerConfig c;
  REQUIRE(c.LoadFile(path).ok());
  CHECK(c.node_id == 3);
  CHECK(c.data_dir == "/tmp/x");
  {
    std::ofstream f(path, std::ios::app);
    f << "max.connections=zero\n";
  }
  auto s = c.LoadFile(path);
  CHECK(!s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains(path + ":6"));
  CHECK_THAT(std::string(s.message()), Catch::Contains("max.connections"));
  CHECK(absl::IsNotFound(c.LoadFile(tmp.Sub("missing"))));
}

TEST_CASE(
    "Config: cluster properties, off until metadata.etcd.endpoints is set",
    "[broker][config]") {
  BrokerConfig c;
  CHECK_FALSE(c.cluster.enabled());
  CHECK(c.cluster.session_timeout_ms == 3000);
  CHECK(c.cluster.default_replication_factor == -1);
  CHECK(c.cluster.min_insync_replicas == 2);
  CHECK_FALSE(c.cluster.unclean_leader_election);
  CHECK(c.cluster.replica_lag_time_max_ms == 30000);
  REQUIRE(
      c.Set("metadata.etcd.endpoints", "http://127.0.0.1:2379,127.0.0.1:2380")
          .ok());
  CHECK(c.cluster.enabled());
  CHECK(c.cluster.etcd_endpoints ==
        std::vector<std::string>{"http://127.0.0.1:2379",
                                 "http://127.0.0.1:2380"});
  REQUIRE(c.Set("metadata.etcd.connect.timeout.ms", "10000").ok());
  REQUIRE(c.Set("broker.session.timeout.ms", "6000").ok());
  REQUIRE(c.Set("default.replication.factor", "2").ok());
  REQUIRE(c.Set("min.insync.replicas", "1").ok());
  REQUIRE(c.Set("unclean.leader.election.enable", "true").ok());
  REQUIRE(c.Set("replica.lag.time.max.ms", "10000").ok());
  REQUIRE(c.Set("grpc.advertised.address", "broker-1.example:19093").ok());
  CHECK(c.cluster.etcd_connect_timeout_ms == 10000);
  CHECK(c.cluster.session_timeout_ms == 6000);
  CHECK(c.cluster.default_replication_factor == 2);
  CHECK(c.cluster.min_insync_replicas == 1);
  CHECK(c.cluster.unclean_leader_election);
  CHECK(c.cluster.replica_lag_time_max_ms == 10000);
  CHECK(c.advertised_grpc().host == "broker-1.example");
  CHECK(c.advertised_grpc().port == 19093);
  // cluster.id becomes an etcd prefix: checked in cluster mode only.
  REQUIRE(c.Set("cluster.id", "a/b").ok());
  CHECK(absl::IsInvalidArgument(c.Validate()));
  REQUIRE(c.Set("metadata.etcd.endpoints", "").ok());
  CHECK_FALSE(c.cluster.enabled());
  CHECK(c.Validate().ok());

  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"metadata.etcd.endpoints", "https://127.0.0.1:2379"},
           {"metadata.etcd.endpoints", "127.0.0.1"},
           {"broker.session.timeout.ms", "1999"},
           {"default.replication.factor", "0"},
           {"min.insync.replicas", "0"},
           {"unclean.leader.election.enable", "sometimes"},
           {"replica.lag.time.max.ms", "0"},
           {"metadata.etcd.request.timeout.ms", "0"}}) {
    INFO(key << "=" << value);
    auto s = c.Set(key, value);
    CHECK(absl::IsInvalidArgument(s));
    CHECK_THAT(std::string(s.message()), Catch::Contains(key));
  }
}

}  // namespace
}  // namespace fjord::broker
