#include "broker/broker_config.h"

#include <charconv>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata.h"
#include "broker/coordinator/assignor.h"
#include "log/status_macros.h"
#include "log/strings.h"

namespace fjord::broker {

std::string HostPort::ToString() const {
  return absl::StrFormat("%s:%d", host, port);
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view s) {
  std::string_view rest = s;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest = rest.substr(scheme + 3);
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s' is not host:port", s));
  }
  std::string_view port_text = rest.substr(colon + 1);
  int port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s' has an invalid port", s));
  }
  return HostPort{std::string(rest.substr(0, colon)),
                  static_cast<uint16_t>(port)};
}

namespace {

struct DefaultMapping {
  std::string_view broker_key;
  std::string_view topic_key;
};
constexpr DefaultMapping kTopicDefaults[] = {
    {"log.segment.bytes", "segment.bytes"},
    {"log.roll.ms", "segment.ms"},
    {"log.retention.ms", "retention.ms"},
    {"log.retention.bytes", "retention.bytes"},
    {"log.cleanup.policy", "cleanup.policy"},
    {"log.cleaner.delete.retention.ms", "delete.retention.ms"},
    {"log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"},
    {"log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio"},
    {"message.max.bytes", "max.message.bytes"},
    {"log.flush.interval.ms", "flush.ms"},
    {"log.flush.interval.bytes", "flush.bytes"},
    {"log.index.size.max.bytes", "segment.index.bytes"},
    {"log.index.interval.bytes", "index.interval.bytes"},
    {"log.preallocate", "preallocate"},
};

absl::Status Bad(std::string_view key, std::string_view value,
                 std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid value '%s' for %s: %s", value, key, why));
}

template <typename T>
absl::Status ParseInt(std::string_view key, std::string_view value, T min,
                      T max, T* out) {
  int64_t v;
  if (!absl::SimpleAtoi(ToAbsl(value), &v) || std::cmp_less(v, min) ||
      std::cmp_greater(v, max)) {
    return Bad(key, value,
               absl::StrFormat("expected an integer in [%d, %d]", min, max));
  }
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

absl::Status ParseBool(std::string_view key, std::string_view value,
                       bool* out) {
  if (!absl::SimpleAtob(ToAbsl(value), out)) {
    return Bad(key, value, "expected true or false");
  }
  return absl::OkStatus();
}

// The consumer group settings; kNotFound if `key` is not one.
absl::Status SetCoordinatorProperty(std::string_view key,
                                    std::string_view value,
                                    coordinator::CoordinatorOptions* c) {
  constexpr int32_t kMaxInt = INT32_MAX;
  if (key == "offsets.topic.num.partitions") {
    return ParseInt<int32_t>(key, value, 1, 1000, &c->offsets_topic_partitions);
  }
  if (key == "offsets.topic.segment.bytes") {
    return ParseInt<int64_t>(key, value, 1024, kMaxInt,
                             &c->offsets_topic_segment_bytes);
  }
  if (key == "offsets.commit.required.acks") {
    int32_t acks;
    RETURN_IF_ERROR(ParseInt<int32_t>(key, value, -1, 1, &acks));
    if (acks == 0) {
      return Bad(key, value, "expected -1 (appended and flushed) or 1");
    }
    c->commit_required_acks = acks;
    return absl::OkStatus();
  }
  if (key == "offsets.commit.timeout.ms") {
    return ParseInt<int64_t>(key, value, 1, kMaxInt, &c->commit_timeout_ms);
  }
  if (key == "offsets.topic.replication.factor") {
    return ParseInt<int32_t>(key, value, 1, 32767,
                             &c->offsets_topic_replication_factor);
  }
  if (key == "offset.metadata.max.bytes") {
    return ParseInt<int32_t>(key, value, 0, 32767,
                             &c->offset_metadata_max_bytes);
  }
  if (key == "group.min.session.timeout.ms") {
    return ParseInt<int32_t>(key, value, 1, kMaxInt,
                             &c->min_session_timeout_ms);
  }
  if (key == "group.max.session.timeout.ms") {
    return ParseInt<int32_t>(key, value, 1, kMaxInt,
                             &c->max_session_timeout_ms);
  }
  if (key == "group.consumer.session.timeout.ms") {
    return ParseInt<int32_t>(key, value, 1, kMaxInt,
                             &c->default_session_timeout_ms);
  }
  if (key == "group.consumer.heartbeat.interval.ms") {
    return ParseInt<int32_t>(key, value, 1, kMaxInt, &c->heartbeat_interval_ms);
  }
  if (key == "group.coordinator.timer.interval.ms") {
    return ParseInt<int64_t>(key, value, 1, 3'600'000, &c->timer_interval_ms);
  }
  if (key == "group.consumer.assignors") {
    std::vector<std::string> names;
    for (absl::string_view n : absl::StrSplit(ToAbsl(value), ',')) {
      n = absl::StripAsciiWhitespace(n);
      if (coordinator::MakeAssignor(ToStd(n)) == nullptr) {
        return Bad(key, value, "expected a list of uniform, range");
      }
      names.emplace_back(n);
    }
    c->assignors = std::move(names);
    return absl::OkStatus();
  }
  return absl::NotFoundError(ToAbsl(key));
}

// The cluster-mode properties; kNotFound if `key` is not one of them.
absl::Status SetClusterProperty(std::string_view key, std::string_view value,
                                ClusterSettings* c) {
  constexpr int64_t kMax = INT64_MAX;
  if (key == "metadata.etcd.endpoints") {
    if (value.empty()) {
      c->etcd_endpoints.clear();  // back to a single node
      return absl::OkStatus();
    }
    auto endpoints = cluster::ParseEtcdEndpoints(value);
    if (!endpoints.ok()) {
      return Bad(key, value, ToStd(endpoints.status().message()));
    }
    c->etcd_endpoints = *endpoints;
    return absl::OkStatus();
  }
  if (key == "metadata.etcd.connect.timeout.ms") {
    return ParseInt<int64_t>(key, value, 0, kMax, &c->etcd_connect_timeout_ms);
  }
  if (key == "metadata.etcd.request.timeout.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax, &c->etcd_request_timeout_ms);
  }
  if (key == "broker.session.timeout.ms") {
    // etcd leases are whole seconds, at least 2 with etcd's defaults.
    return ParseInt<int64_t>(key, value, 2000, 3'600'000,
                             &c->session_timeout_ms);
  }
  if (key == "default.replication.factor") {
    if (value == "-1") {
      c->default_replication_factor = -1;
      return absl::OkStatus();
    }
    return ParseInt<int32_t>(key, value, 1, 1000,
                             &c->default_replication_factor);
  }
  if (key == "min.insync.replicas") {
    return ParseInt<int32_t>(key, value, 1, 1000, &c->min_insync_replicas);
  }
  if (key == "unclean.leader.election.enable") {
    return ParseBool(key, value, &c->unclean_leader_election);
  }
  if (key == "replica.lag.time.max.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax, &c->replica_lag_time_max_ms);
  }
  return absl::NotFoundError(ToAbsl(key));
}

}  // namespace

std::string_view TopicConfigForBrokerDefault(std::string_view key) {
  for (const auto& m : kTopicDefaults) {
    if (m.broker_key == key) return m.topic_key;
  }
  return {};
}

BrokerConfig::BrokerConfig() { manager.data_dir = data_dir; }

absl::Status BrokerConfig::Set(std::string_view key, std::string_view value) {
  if (std::string_view topic_key = TopicConfigForBrokerDefault(key);
      !topic_key.empty()) {
    absl::Status s = log_defaults.Set(topic_key, value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s", key, s.message()));
    }
    return absl::OkStatus();
  }
  constexpr int64_t kMax = INT64_MAX;
  if (key == "node.id" || key == "broker.id") {
    return ParseInt<int32_t>(key, value, 0, INT32_MAX, &node_id);
  }
  if (key == "log.dirs" || key == "log.dir" || key == "data.dir") {
    if (value.empty()) return Bad(key, value, "empty path");
    data_dir = std::string(value);
    manager.data_dir = data_dir;
    return absl::OkStatus();
  }
  auto address = [&](HostPort* out) -> absl::Status {
    auto hp = ParseHostPort(value);
    if (!hp.ok()) return Bad(key, value, "expected host:port");
    *out = *hp;
    return absl::OkStatus();
  };
  if (key == "listeners") return address(&kafka_address);
  if (key == "advertised.listeners") return address(&advertised_kafka_address);
  if (key == "grpc.address") return address(&grpc_address);
  if (key == "grpc.advertised.address") {
    return address(&advertised_grpc_address);
  }
  if (key == "metrics.address") return address(&metrics_address);
  if (key == "cluster.id") {
    cluster_id = std::string(value);
    return absl::OkStatus();
  }
  if (key == "auto.create.topics.enable") {
    return ParseBool(key, value, &auto_create_topics);
  }
  if (key == "num.partitions") {
    return ParseInt<int32_t>(key, value, 1, 100000, &num_partitions);
  }
  if (key == "socket.request.max.bytes") {
    return ParseInt<int64_t>(key, value, 1024, INT32_MAX,
                             &socket_request_max_bytes);
  }
  if (key == "max.connections") {
    return ParseInt<int32_t>(key, value, 1, INT32_MAX, &max_connections);
  }
  if (key == "num.io.threads") {
    return ParseInt<int32_t>(key, value, 0, 1024, &num_io_threads);
  }
  if (key == "group.commit.threads") {
    return ParseInt<int32_t>(key, value, 1, 64, &group_commit_threads);
  }
  if (key == "producer.id.block.size") {
    return ParseInt<int64_t>(key, value, 1, 1'000'000'000,
                             &producer_id_block_size);
  }
  if (key == "producer.id.expiration.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax,
                             &manager.producer_id_expiration_ms);
  }
  if (key == "producer.id.expiration.check.interval.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax,
                             &manager.producer_id_expiration_check_interval_ms);
  }
  if (key == "max.producer.ids") {
    return ParseInt<int64_t>(key, value, 1, kMax, &manager.max_producer_ids);
  }
  if (key == "log.retention.check.interval.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax,
                             &manager.retention_check_interval_ms);
  }
  if (key == "log.flush.scheduler.interval.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax,
                             &manager.flush_check_interval_ms);
  }
  if (key == "log.flush.offset.checkpoint.interval.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax,
                             &manager.checkpoint_interval_ms);
  }
  if (key == "log.cleaner.enable") {
    return ParseBool(key, value, &manager.cleaner_enable);
  }
  if (key == "log.cleaner.backoff.ms") {
    return ParseInt<int64_t>(key, value, 1, kMax, &manager.cleaner_backoff_ms);
  }
  if (key == "log.cleaner.dedupe.buffer.size") {
    return ParseInt<size_t>(key, value, 1024, size_t{1} << 40,
                            &manager.cleaner.dedupe_buffer_bytes);
  }
  if (key == "log.cleaner.io.max.bytes.per.second") {
    double d;
    if (!absl::SimpleAtod(ToAbsl(value), &d) || d <= 0) {
      return Bad(key, value, "expected a positive number");
    }
    manager.cleaner.io_max_bytes_per_second = d;
    return absl::OkStatus();
  }
  if (absl::Status s = SetCoordinatorProperty(key, value, &coordinator);
      !absl::IsNotFound(s)) {
    return s;
  }
  if (absl::Status s = SetClusterProperty(key, value, &cluster);
      !absl::IsNotFound(s)) {
    return s;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown property '%s'", key));
}

absl::Status BrokerConfig::Validate() const {
  if (cluster.enabled() && !cluster::IsValidClusterName(cluster_id)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invalid value '%s' for cluster.id: in cluster mode it names the "
        "etcd prefix /fjord/<cluster.id>/ and must be 1-200 characters of "
        "[A-Za-z0-9._-]",
        cluster_id));
  }
  return absl::OkStatus();
}

absl::Status BrokerConfig::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrFormat("cannot read config file %s", path));
  }
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#' || l[0] == '!') continue;
    size_t eq = l.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s:%d: expected key=value, got '%s'", path, n, ToStd(l)));
    }
    absl::string_view key = absl::StripAsciiWhitespace(l.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(l.substr(eq + 1));
    absl::Status s = Set(ToStd(key), ToStd(value));
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s:%d: %s", path, n, s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace fjord::broker
