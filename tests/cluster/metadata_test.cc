// The cluster's keys and records: layout, exact encoding, and the
// invariants a decoder refuses to accept.
#include "broker/cluster/metadata.h"

#include <catch2/catch.hpp>

namespace fjord::cluster {
namespace {

TEST_CASE("KeyLayout: every key lives under /fjord/<cluster>/",
          "[cluster][metadata]") {
  KeyLayout k("prod-1");
  CHECK(k.root() == "/fjord/prod-1/");
  CHECK(k.broker(7) == "/fjord/prod-1/brokers/7");
  CHECK(k.controller() == "/fjord/prod-1/controller");
  CHECK(k.topic("orders") == "/fjord/prod-1/topics/orders");
  CHECK(k.topic_request("orders") == "/fjord/prod-1/topic_requests/orders");
  CHECK(k.producer_ids() == "/fjord/prod-1/producer_ids");

  using Kind = KeyLayout::Parsed::Kind;
  CHECK(k.Parse("/fjord/prod-1/brokers/7").kind == Kind::kBroker);
  CHECK(k.Parse("/fjord/prod-1/brokers/7").node_id == 7);
  CHECK(k.Parse("/fjord/prod-1/brokers/07").kind == Kind::kUnknown);
  CHECK(k.Parse("/fjord/prod-1/brokers/-1").kind == Kind::kUnknown);
  CHECK(k.Parse("/fjord/prod-1/topics/a.b").name == "a.b");
  CHECK(k.Parse("/fjord/prod-1/topics/a/b").kind == Kind::kUnknown);
  CHECK(k.Parse("/fjord/prod-1/topic_requests/x").kind == Kind::kTopicRequest);
  CHECK(k.Parse("/fjord/prod-1/controller").kind == Kind::kController);
  CHECK(k.Parse("/fjord/prod-12/controller").kind == Kind::kUnknown);
  CHECK(k.Parse("/fjord/prod-1/future_thing").kind == Kind::kUnknown);

  CHECK(IsValidClusterName("fjord-local_1.x"));
  CHECK_FALSE(IsValidClusterName(""));
  CHECK_FALSE(IsValidClusterName("a/b"));
  CHECK_FALSE(IsValidClusterName(std::string(201, 'a')));
}

TEST_CASE("Records: the stored bytes are the documented JSON",
          "[cluster][metadata]") {
  // broker/cluster/README.md shows these exact values.
  BrokerInfo b;
  b.node_id = 2;
  b.kafka = {"127.0.0.3", 9092};
  b.grpc = {"127.0.0.3", 9093};
  b.hostname = "h";
  b.data_dir = "/d/2";
  b.pid = 77;
  b.registered_at_ms = 1700000000000;
  b.incarnation = "00c0ffee00c0ffee";
  CHECK(EncodeBroker(b) ==
        R"({"node_id":2,"kafka":{"host":"127.0.0.3","port":9092},)"
        R"("grpc":{"host":"127.0.0.3","port":9093},"hostname":"h",)"
        R"("data_dir":"/d/2","pid":77,"registered_at_ms":"1700000000000",)"
        R"("incarnation":"00c0ffee00c0ffee"})");

  TopicState t;
  t.name = "orders";
  t.configs = {{"retention.ms", "60000"}};
  t.replication_factor = 2;
  PartitionState p;
  p.partition = 0;
  p.replicas = {1, 2};
  p.leader = 1;
  p.leader_epoch = 0;
  p.isr = {1, 2};
  p.controller_epoch = 5;
  t.partitions = {p};
  CHECK(EncodeTopic(t) ==
        R"({"name":"orders","configs":{"retention.ms":"60000"},)"
        R"("partitions":[{"partition":0,"replicas":[1,2],"leader":1,)"
        R"("leader_epoch":0,"isr":[1,2],"controller_epoch":"5"}],)"
        R"("replication_factor":2})");

  CHECK(EncodeController({3, 1700000000000, 0, 0}) ==
        R"({"node_id":3,"elected_at_ms":"1700000000000"})");
  CHECK(EncodeProducerIds({2000, 1, 1000}) ==
        R"({"next_producer_id":"2000","last_block_node":1,)"
        R"("last_block_size":"1000"})");
  TopicRequest r;
  r.partitions = 3;
  r.requested_by = 1;
  CHECK(EncodeTopicRequest(r) ==
        R"({"operation":"CREATE","partitions":3,"replication_factor":-1,)"
        R"("configs":{},"requested_by":1,"error":"NONE","error_message":""})");
}

TEST_CASE("Records: decoding gives back what was encoded",
          "[cluster][metadata]") {
  BrokerInfo b;
  b.node_id = 4;
  b.kafka = {"h", 1};
  b.grpc = {"h", 2};
  b.pid = 3;
  auto db = DecodeBroker(EncodeBroker(b));
  REQUIRE(db.ok());
  CHECK(db->kafka == b.kafka);
  CHECK(db->grpc == b.grpc);
  CHECK(db->pid == 3);

  TopicState t;
  t.name = "x";
  t.replication_factor = 1;
  PartitionState p0;
  p0.replicas = {9};
  p0.leader = kNoLeader;
  p0.leader_epoch = 3;
  p0.isr = {9};
  PartitionState p1 = p0;
  p1.partition = 1;
  p1.leader = 9;
  t.partitions = {p0, p1};
  auto dt = DecodeTopic(EncodeTopic(t));
  REQUIRE(dt.ok());
  CHECK(dt->partitions == t.partitions);

  TopicRequest r;
  r.operation = TopicRequest::Operation::kDelete;
  r.error = TopicRequest::Error::kInvalidReplicationFactor;
  r.error_message = "no";
  r.configs = {{"a", "b"}};
  auto dr = DecodeTopicRequest(EncodeTopicRequest(r));
  REQUIRE(dr.ok());
  CHECK(dr->operation == r.operation);
  CHECK(dr->error == r.error);
  CHECK(dr->configs == r.configs);

  // Fields a newer broker added are ignored.
  auto future = DecodeController(R"({"node_id":1,"new_field":true})");
  REQUIRE(future.ok());
  CHECK(future->node_id == 1);
}

TEST_CASE("Records: values that break the invariants are kDataLoss",
          "[cluster][metadata]") {
  CHECK(absl::IsDataLoss(DecodeBroker("not json").status()));
  CHECK(absl::IsDataLoss(DecodeBroker(R"({"node_id":1})").status()));
  CHECK(absl::IsDataLoss(
      DecodeBroker(R"({"node_id":-1,"kafka":{"host":"h","port":1}})")
          .status()));
  CHECK(absl::IsDataLoss(DecodeTopic(R"({"name":"t"})").status()));
  auto topic = [](std::string partition) {
    return DecodeTopic(R"({"name":"t","partitions":[)" + partition + "]}");
  };
  CHECK(topic(R"({"partition":0,"replicas":[1],"leader":1,"isr":[1]})").ok());
  CHECK(absl::IsDataLoss(
      topic(R"({"partition":1,"replicas":[1],"leader":1,"isr":[1]})")
          .status()));
  CHECK(absl::IsDataLoss(
      topic(R"({"partition":0,"replicas":[1,1],"leader":1,"isr":[1]})")
          .status()));
  CHECK(absl::IsDataLoss(
      topic(R"({"partition":0,"replicas":[1,2],"leader":2,"isr":[1]})")
          .status()));
  CHECK(absl::IsDataLoss(
      topic(R"({"partition":0,"replicas":[1],"leader":1,"isr":[1,3]})")
          .status()));
  CHECK(absl::IsDataLoss(
      topic(R"({"partition":0,"replicas":[1],"leader":-1,"isr":[]})")
          .status()));
  CHECK(absl::IsDataLoss(
      DecodeProducerIds(R"({"next_producer_id":"-5"})").status()));
  // An error number this broker does not know.
  CHECK(absl::IsDataLoss(DecodeTopicRequest(R"({"error":99})").status()));
}

}  // namespace
}  // namespace fjord::cluster
