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

}  // namespace
}  // namespace fjord::broker
