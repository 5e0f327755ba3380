#include "broker/cluster/metadata.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "proto/cluster/metadata.pb.h"

namespace fjord::cluster {

namespace pb = ::fjord::cluster::v1;

std::string Endpoint::ToString() const {
  return absl::StrFormat("%s:%d", host, port);
}

std::string BrokerInfo::Describe() const {
  return absl::StrFormat(
      "node %d (kafka %s, grpc %s, pid %d on host %s, data dir %s)", node_id,
      kafka.ToString(), grpc.ToString(), pid, hostname, data_dir);
}

bool IsValidClusterName(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

KeyLayout::KeyLayout(std::string_view cluster)
    : root_(absl::StrCat(
          "/fjord/", absl::string_view(cluster.data(), cluster.size()), "/")) {}

std::string KeyLayout::broker(int32_t node_id) const {
  return absl::StrCat(brokers_prefix(), node_id);
}

std::string KeyLayout::topic(std::string_view name) const {
  return absl::StrCat(topics_prefix(),
                      absl::string_view(name.data(), name.size()));
}

std::string KeyLayout::topic_request(std::string_view name) const {
  return absl::StrCat(topic_requests_prefix(),
                      absl::string_view(name.data(), name.size()));
}

KeyLayout::Parsed KeyLayout::Parse(std::string_view key) const {
  Parsed out;
  absl::string_view k(key.data(), key.size());
  if (!absl::ConsumePrefix(&k, root_)) return out;
  if (k == "controller") {
    out.kind = Parsed::Kind::kController;
  } else if (k == "producer_ids") {
    out.kind = Parsed::Kind::kProducerIds;
  } else if (absl::ConsumePrefix(&k, "brokers/")) {
    int32_t id;
    if (absl::SimpleAtoi(k, &id) && id >= 0 && absl::StrCat(id) == k) {
      out.kind = Parsed::Kind::kBroker;
      out.node_id = id;
    }
  } else if (absl::ConsumePrefix(&k, "topics/")) {
    if (!k.empty() && k.find('/') == absl::string_view::npos) {
      out.kind = Parsed::Kind::kTopic;
      out.name = std::string(k);
    }
  } else if (absl::ConsumePrefix(&k, "topic_requests/")) {
    if (!k.empty() && k.find('/') == absl::string_view::npos) {
      out.kind = Parsed::Kind::kTopicRequest;
      out.name = std::string(k);
    }
  }
  return out;
}

namespace {

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = false;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string out;
  // Only fails for messages with Any fields of unknown types; none here.
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

absl::Status FromJson(std::string_view value, std::string_view what,
                      google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions o;
  // A newer broker may add fields; this one ignores what it does not know.
  o.ignore_unknown_fields = true;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(value.data(), value.size()), m, o);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrFormat("%s record is not valid JSON of its schema: %s", what,
                        std::string(s.message())));
  }
  return absl::OkStatus();
}

void ToPb(const Endpoint& e, pb::Endpoint* out) {
  out->set_host(e.host);
  out->set_port(e.port);
}
Endpoint FromPb(const pb::Endpoint& e) { return {e.host(), e.port()}; }

absl::Status ValidateEndpoint(const Endpoint& e, std::string_view what) {
  if (e.host.empty() || e.port <= 0 || e.port > 65535) {
    return absl::DataLossError(
        absl::StrFormat("broker record: %s endpoint '%s' is not host:port",
                        what, e.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePartition(const PartitionState& p) {
  auto bad = [&](std::string_view why) {
    return absl::DataLossError(
        absl::StrFormat("partition %d: %s (replicas [%s], leader %d, isr [%s])",
                        p.partition, why, absl::StrJoin(p.replicas, ","),
                        p.leader, absl::StrJoin(p.isr, ",")));
  };
  if (p.replicas.empty()) return bad("no replicas");
  std::set<int32_t> replicas(p.replicas.begin(), p.replicas.end());
  if (replicas.size() != p.replicas.size()) return bad("duplicate replica");
  if (*replicas.begin() < 0) return bad("negative replica id");
  if (p.isr.empty()) return bad("empty isr");
  std::set<int32_t> isr(p.isr.begin(), p.isr.end());
  if (isr.size() != p.isr.size()) return bad("duplicate isr member");
  for (int32_t r : p.isr) {
    if (!replicas.count(r)) return bad("isr member that is not a replica");
  }
  if (p.leader != kNoLeader && !isr.count(p.leader)) {
    return bad("leader not in isr");
  }
  if (p.leader_epoch < 0 || p.controller_epoch < 0)
    return bad("negative epoch");
  return absl::OkStatus();
}

// ---------------------------------------------------------------- broker

std::string EncodeBroker(const BrokerInfo& b) {
  pb::BrokerRegistration m;
  m.set_node_id(b.node_id);
  ToPb(b.kafka, m.mutable_kafka());
  ToPb(b.grpc, m.mutable_grpc());
  m.set_hostname(b.hostname);
  m.set_data_dir(b.data_dir);
  m.set_pid(b.pid);
  m.set_registered_at_ms(b.registered_at_ms);
  m.set_incarnation(b.incarnation);
  return ToJson(m);
}

absl::StatusOr<BrokerInfo> DecodeBroker(std::string_view value) {
  pb::BrokerRegistration m;
  if (absl::Status s = FromJson(value, "broker", &m); !s.ok()) return s;
  BrokerInfo b;
  b.node_id = m.node_id();
  b.kafka = FromPb(m.kafka());
  b.grpc = FromPb(m.grpc());
  b.hostname = m.hostname();
  b.data_dir = m.data_dir();
  b.pid = m.pid();
  b.registered_at_ms = m.registered_at_ms();
  b.incarnation = m.incarnation();
  if (b.node_id < 0) {
    return absl::DataLossError(
        absl::StrFormat("broker record: negative node_id %d", b.node_id));
  }
  if (absl::Status s = ValidateEndpoint(b.kafka, "kafka"); !s.ok()) return s;
  return b;
}

// ------------------------------------------------------------ controller

std::string EncodeController(const ControllerInfo& c) {
  pb::ControllerRecord m;
  m.set_node_id(c.node_id);
  m.set_elected_at_ms(c.elected_at_ms);
  return ToJson(m);
}

absl::StatusOr<ControllerInfo> DecodeController(std::string_view value) {
  pb::ControllerRecord m;
  if (absl::Status s = FromJson(value, "controller", &m); !s.ok()) return s;
  if (m.node_id() < 0) {
    return absl::DataLossError(
        absl::StrFormat("controller record: negative node_id %d", m.node_id()));
  }
  ControllerInfo c;
  c.node_id = m.node_id();
  c.elected_at_ms = m.elected_at_ms();
  return c;
}

// ----------------------------------------------------------------- topic

std::string EncodeTopic(const TopicState& t) {
  pb::TopicRecord m;
  m.set_name(t.name);
  for (const auto& [k, v] : t.configs) (*m.mutable_configs())[k] = v;
  m.set_replication_factor(t.replication_factor);
  for (const PartitionState& p : t.partitions) {
    pb::PartitionRecord* r = m.add_partitions();
    r->set_partition(p.partition);
    for (int32_t id : p.replicas) r->add_replicas(id);
    r->set_leader(p.leader);
    r->set_leader_epoch(p.leader_epoch);
    for (int32_t id : p.isr) r->add_isr(id);
    r->set_controller_epoch(p.controller_epoch);
  }
  return ToJson(m);
}

absl::StatusOr<TopicState> DecodeTopic(std::string_view value) {
  pb::TopicRecord m;
  if (absl::Status s = FromJson(value, "topic", &m); !s.ok()) return s;
  TopicState t;
  t.name = m.name();
  t.configs.insert(m.configs().begin(), m.configs().end());
  t.replication_factor = m.replication_factor();
  if (m.partitions_size() == 0) {
    return absl::DataLossError(
        absl::StrFormat("topic record %s: no partitions", t.name));
  }
  for (int i = 0; i < m.partitions_size(); i++) {
    const pb::PartitionRecord& r = m.partitions(i);
    PartitionState p;
    p.partition = r.partition();
    p.replicas.assign(r.replicas().begin(), r.replicas().end());
    p.leader = r.leader();
    p.leader_epoch = r.leader_epoch();
    p.isr.assign(r.isr().begin(), r.isr().end());
    p.controller_epoch = r.controller_epoch();
    if (p.partition != i) {
      return absl::DataLossError(absl::StrFormat(
          "topic record %s: entry %d is partition %d", t.name, i, p.partition));
    }
    if (absl::Status s = ValidatePartition(p); !s.ok()) {
      return absl::DataLossError(
          absl::StrFormat("topic record %s: %s", t.name, s.message()));
    }
    t.partitions.push_back(std::move(p));
  }
  return t;
}

// --------------------------------------------------------- topic request

std::string EncodeTopicRequest(const TopicRequest& r) {
  pb::TopicRequest m;
  m.set_operation(r.operation == TopicRequest::Operation::kDelete
                      ? pb::TopicRequest::DELETE
                      : pb::TopicRequest::CREATE);
  m.set_partitions(r.partitions);
  m.set_replication_factor(r.replication_factor);
  for (const auto& [k, v] : r.configs) (*m.mutable_configs())[k] = v;
  m.set_requested_by(r.requested_by);
  m.set_error(static_cast<pb::TopicRequest::Error>(r.error));
  m.set_error_message(r.error_message);
  return ToJson(m);
}

absl::StatusOr<TopicRequest> DecodeTopicRequest(std::string_view value) {
  pb::TopicRequest m;
  if (absl::Status s = FromJson(value, "topic request", &m); !s.ok()) return s;
  TopicRequest r;
  r.operation = m.operation() == pb::TopicRequest::DELETE
                    ? TopicRequest::Operation::kDelete
                    : TopicRequest::Operation::kCreate;
  r.partitions = m.partitions();
  r.replication_factor = m.replication_factor();
  r.configs.insert(m.configs().begin(), m.configs().end());
  r.requested_by = m.requested_by();
  if (m.error() < 0 || m.error() > pb::TopicRequest::INVALID_PARTITIONS) {
    return absl::DataLossError(
        absl::StrFormat("topic request: unknown error %d", m.error()));
  }
  r.error = static_cast<TopicRequest::Error>(m.error());
  r.error_message = m.error_message();
  return r;
}

// ---------------------------------------------------------- producer ids

std::string EncodeProducerIds(const ProducerIdsState& p) {
  pb::ProducerIdsRecord m;
  m.set_next_producer_id(p.next_producer_id);
  m.set_last_block_node(p.last_block_node);
  m.set_last_block_size(p.last_block_size);
  return ToJson(m);
}

absl::StatusOr<ProducerIdsState> DecodeProducerIds(std::string_view value) {
  pb::ProducerIdsRecord m;
  if (absl::Status s = FromJson(value, "producer ids", &m); !s.ok()) return s;
  if (m.next_producer_id() < 0) {
    return absl::DataLossError(
        absl::StrFormat("producer ids record: negative next_producer_id %d",
                        m.next_producer_id()));
  }
  return ProducerIdsState{m.next_producer_id(), m.last_block_node(),
                          m.last_block_size()};
}

}  // namespace fjord::cluster
