// End-to-end: fjord::Admin against a real broker's gRPC admin service.
#include <string>

#include "catch2/catch.hpp"
#include "fjord/admin.h"
#include "tests/client/e2e_util.h"

namespace fjord::testing {
namespace {

std::string ConfigValue(const TopicDescription& d, const std::string& name,
                        bool* is_override = nullptr) {
  for (const auto& c : d.configs) {
    if (c.name == name) {
      if (is_override) *is_override = c.is_override;
      return c.value;
    }
  }
  return "<absent>";
}

TEST_CASE(
    "Admin creates, lists, describes, alters and deletes topics and "
    "describes the cluster",
    "[client][e2e][admin]") {
  TestBroker broker;
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  Admin& a = **admin;

  NewTopic t;
  t.name = "orders";
  t.partitions = 4;
  t.configs["retention.ms"] = "3600000";
  auto created = a.CreateTopic(t);
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  CHECK(created->name == "orders");
  CHECK(created->partitions.size() == 4);
  bool is_override = false;
  CHECK(ConfigValue(*created, "retention.ms", &is_override) == "3600000");
  CHECK(is_override);

  CHECK(absl::IsAlreadyExists(a.CreateTopic(t).status()));
  NewTopic bad = t;
  bad.name = "bad";
  bad.configs["no.such.config"] = "1";
  auto refused = a.CreateTopic(bad);
  CHECK(absl::IsInvalidArgument(refused.status()));
  CHECK(refused.status().message().find("no.such.config") !=
        absl::string_view::npos);
  NewTopic dry;
  dry.name = "dry";
  dry.partitions = 2;
  dry.validate_only = true;
  REQUIRE(a.CreateTopic(dry).ok());

  // Records produced show in the description's offsets.
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  for (int i = 0; i < 7; i++) {
    ProducerRecord r;
    r.topic = "orders";
    r.partition = 1;
    r.value = "v";
    (*producer)->Send(r, nullptr);
  }
  REQUIRE((*producer)->Flush().ok());

  auto listed = a.ListTopics();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);  // validate_only created nothing
  CHECK((*listed)[0].name == "orders");
  CHECK((*listed)[0].partitions == 4);
  CHECK_FALSE((*listed)[0].internal);
  // The broker's own __consumer_offsets is listed only when asked for.
  auto with_internal = a.ListTopics(/*include_internal=*/true);
  REQUIRE(with_internal.ok());
  REQUIRE(with_internal->size() == 2);
  CHECK((*with_internal)[0].name == "__consumer_offsets");
  CHECK((*with_internal)[0].internal);

  auto described = a.DescribeTopic("orders");
  REQUIRE(described.ok());
  REQUIRE(described->partitions.size() == 4);
  CHECK(described->partitions[1].log_end_offset == 7);
  CHECK(described->partitions[1].size_bytes > 0);
  CHECK(described->partitions[0].log_end_offset == 0);
  CHECK(absl::IsNotFound(a.DescribeTopic("nope").status()));

  auto altered = a.AlterTopicConfigs("orders", {{"cleanup.policy", "compact"}},
                                     {"retention.ms"});
  INFO(altered.status().ToString());
  REQUIRE(altered.ok());
  CHECK(ConfigValue(*altered, "cleanup.policy", &is_override) == "compact");
  CHECK(is_override);
  ConfigValue(*altered, "retention.ms", &is_override);
  CHECK(!is_override);
  CHECK(absl::IsInvalidArgument(
      a.AlterTopicConfigs("orders", {{"retention.ms", "soon"}}, {}).status()));

  auto cluster = a.DescribeCluster();
  REQUIRE(cluster.ok());
  REQUIRE(cluster->brokers.size() == 1);
  CHECK(cluster->brokers[0].kafka_port == broker.process->kafka_port());
  CHECK(cluster->brokers[0].grpc_port == broker.process->grpc_port());
  CHECK(!cluster->cluster_id.empty());

  REQUIRE(a.DeleteTopic("orders").ok());
  CHECK(absl::IsNotFound(a.DeleteTopic("orders")));
  listed = a.ListTopics();
  REQUIRE(listed.ok());
  CHECK(listed->empty());
}

TEST_CASE("Admin against no server is kUnavailable within request.timeout.ms",
          "[client][e2e][admin]") {
  auto admin = Admin::Create(
      {{"admin.servers", "127.0.0.1:1"}, {"request.timeout.ms", "1000"}});
  REQUIRE(admin.ok());
  const auto start = std::chrono::steady_clock::now();
  auto listed = (*admin)->ListTopics();
  CHECK((absl::IsUnavailable(listed.status()) ||
         absl::IsDeadlineExceeded(listed.status())));
  CHECK(listed.status().message().find("127.0.0.1:1") !=
        absl::string_view::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // admin.servers defaults to the bootstrap hosts on port 9093.
  CHECK(Admin::Create({{"bootstrap.servers", "127.0.0.1:9092"}}).ok());
  CHECK(absl::IsInvalidArgument(
      Admin::Create(
          {{"bootstrap.servers", "127.0.0.1:9092"}, {"linger.ms", "1"}})
          .status()));
}

}  // namespace
}  // namespace fjord::testing
