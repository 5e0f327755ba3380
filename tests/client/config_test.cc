#include "client/internal/config.h"

#include <string>

#include "catch2/catch.hpp"

namespace fjord::client::internal {
namespace {

Properties Base() { return {{"bootstrap.servers", "127.0.0.1:9092"}}; }

// The property named in the error, or "" if it parsed.
std::string ProducerError(Properties p) {
  auto c = ParseProducerConfig(p);
  if (c.ok()) return "";
  REQUIRE(absl::IsInvalidArgument(c.status()));
  return std::string(c.status().message());
}

std::string ConsumerError(Properties p) {
  auto c = ParseConsumerConfig(p);
  if (c.ok()) return "";
  REQUIRE(absl::IsInvalidArgument(c.status()));
  return std::string(c.status().message());
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_CASE("Producer defaults are Kafka's, with librdkafka's batch.size",
          "[client][config]") {
  auto c = ParseProducerConfig(Base());
  REQUIRE(c.ok());
  CHECK(c->acks == -1);
  CHECK(c->linger_ms == 5);
  CHECK(c->batch_size == 1000000);
  CHECK(c->buffer_memory == 32 * 1024 * 1024);
  CHECK(c->compression == log::Codec::kNone);
  CHECK(c->max_in_flight == 5);
  CHECK(c->retries == 2147483647);
  CHECK(c->delivery_timeout_ms == 120000);
  CHECK(c->enable_idempotence);
  CHECK(c->max_block_ms == 60000);
  CHECK(c->common.request_timeout_ms == 30000);
  CHECK(c->common.retry_backoff_ms == 100);
  CHECK(c->common.client_id == "fjord");
  REQUIRE(c->common.bootstrap_servers.size() == 1);
  CHECK(c->common.bootstrap_servers[0].port == 9092);
  REQUIRE(c->common.admin_servers.size() == 1);
  CHECK(c->common.admin_servers[0].host == "127.0.0.1");
  CHECK(c->common.admin_servers[0].port == 9093);
}

TEST_CASE("Every producer property is parsed", "[client][config]") {
  Properties p = Base();
  p["acks"] = "1";
  p["linger.ms"] = "0";
  p["batch.size"] = "16384";
  p["buffer.memory"] = "1048576";
  p["compression.type"] = "zstd";
  p["max.in.flight.requests.per.connection"] = "3";
  p["retries"] = "7";
  p["delivery.timeout.ms"] = "40000";
  p["request.timeout.ms"] = "20000";
  p["retry.backoff.ms"] = "50";
  p["enable.idempotence"] = "false";
  p["max.block.ms"] = "250";
  p["client.id"] = "me";
  p["admin.servers"] = "h1:7000,[::1]:7001";
  auto c = ParseProducerConfig(p);
  REQUIRE(c.ok());
  CHECK(c->acks == 1);
  CHECK(c->linger_ms == 0);
  CHECK(c->batch_size == 16384);
  CHECK(c->buffer_memory == 1048576);
  CHECK(c->compression == log::Codec::kZstd);
  CHECK(c->max_in_flight == 3);
  CHECK(c->retries == 7);
  CHECK(c->delivery_timeout_ms == 40000);
  CHECK(c->common.request_timeout_ms == 20000);
  CHECK(c->common.retry_backoff_ms == 50);
  CHECK(!c->enable_idempotence);
  CHECK(c->max_block_ms == 250);
  CHECK(c->common.client_id == "me");
  REQUIRE(c->common.admin_servers.size() == 2);
  CHECK(c->common.admin_servers[1].host == "::1");
  CHECK(c->common.admin_servers[1].ToString() == "[::1]:7001");
  p["acks"] = "all";
  p["compression.type"] = "lz4";
  c = ParseProducerConfig(p);
  REQUIRE(c.ok());
  CHECK(c->acks == -1);
  CHECK(c->compression == log::Codec::kLz4);
}

TEST_CASE("Unknown properties are refused by name", "[client][config]") {
  Properties p = Base();
  p["linger.msec"] = "5";
  CHECK(Contains(ProducerError(p), "unknown property 'linger.msec'"));
  Properties c = Base();
  c["group.idd"] = "x";
  CHECK(Contains(ConsumerError(c), "unknown property 'group.idd'"));
}

TEST_CASE("A property of the other kind of client is refused by name",
          "[client][config]") {
  Properties p = Base();
  p["fetch.min.bytes"] = "1";
  CHECK(Contains(ProducerError(p), "'fetch.min.bytes' is a consumer property"));
  Properties c = Base();
  c["linger.ms"] = "1";
  CHECK(Contains(ConsumerError(c), "'linger.ms' is a producer property"));
  auto admin = ParseAdminConfig({{"admin.servers", "h:1"}, {"acks", "1"}});
  REQUIRE(!admin.ok());
  CHECK(Contains(std::string(admin.status().message()), "'acks'"));
}

TEST_CASE("Invalid values are refused, naming the property",
          "[client][config]") {
  const std::pair<const char*, const char*> bad[] = {
      {"acks", "2"},
      {"linger.ms", "-1"},
      {"linger.ms", "soon"},
      {"batch.size", "0"},
      {"buffer.memory", "10"},
      {"compression.type", "gzip"},
      {"compression.type", "brotli"},
      {"max.in.flight.requests.per.connection", "0"},
      {"retries", "-3"},
      {"delivery.timeout.ms", "0"},
      {"request.timeout.ms", "0"},
      {"retry.backoff.ms", "-1"},
      {"enable.idempotence", "yes"},
      {"max.block.ms", "-5"},
      {"bootstrap.servers", "localhost"},
      {"bootstrap.servers", "h:0"},
      {"bootstrap.servers", "h:99999"},
      {"bootstrap.servers", ""},
      {"admin.servers", "[::1"},
  };
  for (const auto& [name, value] : bad) {
    Properties p = Base();
    p[name] = value;
    INFO(name << "=" << value);
    CHECK(Contains(ProducerError(p), name));
  }
  const std::pair<const char*, const char*> bad_consumer[] = {
      {"fetch.min.bytes", "-1"},
      {"fetch.max.wait.ms", "x"},
      {"max.partition.fetch.bytes", "0"},
      {"auto.offset.reset", "smallest"},
  };
  for (const auto& [name, value] : bad_consumer) {
    Properties p = Base();
    p[name] = value;
    INFO(name << "=" << value);
    CHECK(Contains(ConsumerError(p), name));
  }
}

TEST_CASE("bootstrap.servers is required for producers and consumers",
          "[client][config]") {
  CHECK(Contains(ProducerError({}), "bootstrap.servers is required"));
  CHECK(Contains(ConsumerError({}), "bootstrap.servers is required"));
  CHECK(!ParseAdminConfig({}).ok());
  CHECK(ParseAdminConfig({{"admin.servers", "127.0.0.1:9093"}}).ok());
}

TEST_CASE(
    "Idempotence asked for explicitly must fit acks and in-flight limits; by "
    "default it yields",
    "[client][config]") {
  Properties p = Base();
  p["acks"] = "0";
  auto c = ParseProducerConfig(p);
  REQUIRE(c.ok());
  CHECK(!c->enable_idempotence);
  p["enable.idempotence"] = "true";
  CHECK(Contains(ProducerError(p), "enable.idempotence=true needs"));
  Properties q = Base();
  q["max.in.flight.requests.per.connection"] = "6";
  c = ParseProducerConfig(q);
  REQUIRE(c.ok());
  CHECK(!c->enable_idempotence);
  q["enable.idempotence"] = "true";
  CHECK(Contains(ProducerError(q), "max.in.flight.requests.per.connection"));
  Properties r = Base();
  r["acks"] = "1";
  c = ParseProducerConfig(r);
  REQUIRE(c.ok());
  CHECK(c->enable_idempotence);  // acks=1 keeps sequence checks
}

TEST_CASE("delivery.timeout.ms must cover linger.ms plus request.timeout.ms",
          "[client][config]") {
  Properties p = Base();
  p["delivery.timeout.ms"] = "1000";
  CHECK(Contains(ProducerError(p), "delivery.timeout.ms=1000"));
  p["request.timeout.ms"] = "500";
  p["linger.ms"] = "500";
  CHECK(ProducerError(p).empty());
}

TEST_CASE("Consumer defaults and properties", "[client][config]") {
  auto c = ParseConsumerConfig(Base());
  REQUIRE(c.ok());
  CHECK(c->fetch_min_bytes == 1);
  CHECK(c->fetch_max_wait_ms == 500);
  CHECK(c->max_partition_fetch_bytes == 1048576);
  CHECK(c->auto_offset_reset == ConsumerConfig::OffsetReset::kLatest);
  Properties p = Base();
  p["fetch.min.bytes"] = "1000";
  p["fetch.max.wait.ms"] = "20";
  p["max.partition.fetch.bytes"] = "65536";
  p["auto.offset.reset"] = "EARLIEST";
  c = ParseConsumerConfig(p);
  REQUIRE(c.ok());
  CHECK(c->fetch_min_bytes == 1000);
  CHECK(c->fetch_max_wait_ms == 20);
  CHECK(c->max_partition_fetch_bytes == 65536);
  CHECK(c->auto_offset_reset == ConsumerConfig::OffsetReset::kEarliest);
  p["auto.offset.reset"] = "none";
  c = ParseConsumerConfig(p);
  REQUIRE(c.ok());
  CHECK(c->auto_offset_reset == ConsumerConfig::OffsetReset::kNone);
}

TEST_CASE("Consumer group properties have Kafka's defaults and are parsed",
          "[client][config]") {
  auto c = ParseConsumerConfig(Base());
  REQUIRE(c.ok());
  CHECK(c->group_id.empty());
  CHECK_FALSE(c->enable_auto_commit);  // no group: nothing to commit to
  CHECK(c->session_timeout_ms == 45000);
  CHECK(c->heartbeat_interval_ms == 0);  // the coordinator's
  CHECK(c->max_poll_interval_ms == 300000);
  CHECK(c->auto_commit_interval_ms == 5000);
  CHECK(c->group_remote_assignor.empty());

  Properties p = Base();
  p["group.id"] = "orders";
  c = ParseConsumerConfig(p);
  REQUIRE(c.ok());
  CHECK(c->group_id == "orders");
  CHECK(c->enable_auto_commit);  // the default with a group

  p["group.instance.id"] = "worker-1";
  p["session.timeout.ms"] = "10000";
  p["heartbeat.interval.ms"] = "1000";
  p["max.poll.interval.ms"] = "60000";
  p["enable.auto.commit"] = "false";
  p["auto.commit.interval.ms"] = "100";
  p["group.remote.assignor"] = "Range";
  c = ParseConsumerConfig(p);
  REQUIRE(c.ok());
  CHECK(c->group_instance_id == "worker-1");
  CHECK(c->session_timeout_ms == 10000);
  CHECK(c->heartbeat_interval_ms == 1000);
  CHECK(c->max_poll_interval_ms == 60000);
  CHECK_FALSE(c->enable_auto_commit);
  CHECK(c->auto_commit_interval_ms == 100);
  CHECK(c->group_remote_assignor == "range");
}

TEST_CASE("Invalid consumer group properties are refused, naming them",
          "[client][config]") {
  Properties g = Base();
  g["group.id"] = "g";
  auto with = [&](const char* k, const char* v) {
    Properties p = g;
    p[k] = v;
    return ConsumerError(p);
  };
  CHECK(Contains(with("group.remote.assignor", "sticky"),
                 "group.remote.assignor=sticky: must be uniform or range"));
  CHECK(Contains(with("session.timeout.ms", "soon"), "session.timeout.ms"));
  CHECK(Contains(with("max.poll.interval.ms", "0"), "max.poll.interval.ms"));
  CHECK(Contains(with("enable.auto.commit", "yes"), "enable.auto.commit"));
  CHECK(Contains(with("auto.commit.interval.ms", "-1"),
                 "auto.commit.interval.ms"));
  CHECK(Contains(with("group.id", ""), "group.id"));
  CHECK(Contains(with("group.instance.id", std::string(256, 'i').c_str()),
                 "group.instance.id"));
  CHECK(Contains(with("heartbeat.interval.ms", "45000"),
                 "heartbeat.interval.ms=45000 must be lower than "
                 "session.timeout.ms=45000"));
  // Group properties that need a group.
  Properties p = Base();
  p["enable.auto.commit"] = "true";
  CHECK(Contains(ConsumerError(p), "enable.auto.commit=true: needs group.id"));
  p = Base();
  p["group.instance.id"] = "w";
  CHECK(Contains(ConsumerError(p), "group.instance.id=w: needs group.id"));
  // A producer has no group.
  Properties prod = Base();
  prod["group.id"] = "g";
  CHECK(Contains(ProducerError(prod), "'group.id' is a consumer property"));
}

}  // namespace
}  // namespace fjord::client::internal
