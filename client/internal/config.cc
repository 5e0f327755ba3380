#include "client/internal/config.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "log/status_macros.h"
#include "log/strings.h"

namespace fjord::client::internal {

namespace {

enum class Kind { kCommon, kProducer, kConsumer };

struct Known {
  const char* name;
  Kind kind;
};

constexpr Known kKnown[] = {
    {"bootstrap.servers", Kind::kCommon},
    {"admin.servers", Kind::kCommon},
    {"client.id", Kind::kCommon},
    {"request.timeout.ms", Kind::kCommon},
    {"retry.backoff.ms", Kind::kCommon},
    {"acks", Kind::kProducer},
    {"linger.ms", Kind::kProducer},
    {"batch.size", Kind::kProducer},
    {"buffer.memory", Kind::kProducer},
    {"compression.type", Kind::kProducer},
    {"max.in.flight.requests.per.connection", Kind::kProducer},
    {"retries", Kind::kProducer},
    {"delivery.timeout.ms", Kind::kProducer},
    {"enable.idempotence", Kind::kProducer},
    {"max.block.ms", Kind::kProducer},
    {"fetch.min.bytes", Kind::kConsumer},
    {"fetch.max.wait.ms", Kind::kConsumer},
    {"max.partition.fetch.bytes", Kind::kConsumer},
    {"auto.offset.reset", Kind::kConsumer},
    {"group.id", Kind::kConsumer},
    {"group.instance.id", Kind::kConsumer},
    {"session.timeout.ms", Kind::kConsumer},
    {"heartbeat.interval.ms", Kind::kConsumer},
    {"max.poll.interval.ms", Kind::kConsumer},
    {"enable.auto.commit", Kind::kConsumer},
    {"auto.commit.interval.ms", Kind::kConsumer},
    {"group.remote.assignor", Kind::kConsumer},
};

absl::Status Invalid(std::string_view name, std::string_view value,
                     std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s=%s: %s", name, value, why));
}

// Refuses names that are unknown or belong to another kind of client.
absl::Status CheckNames(const Properties& props, Kind kind,
                        const char* client) {
  for (const auto& [name, value] : props) {
    const Known* found = nullptr;
    for (const Known& k : kKnown) {
      if (name == k.name) found = &k;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("unknown property '%s' (client/README.md lists "
                          "every property)",
                          name));
    }
    if (found->kind != Kind::kCommon && found->kind != kind) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "property '%s' is a %s property; a %s does not use it", name,
          found->kind == Kind::kProducer ? "producer" : "consumer", client));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseInt(std::string_view name, std::string_view value,
                                 int64_t min, int64_t max) {
  int64_t v;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ToAbsl(value)), &v)) {
    return Invalid(name, value, "not an integer");
  }
  if (v < min || v > max) {
    return Invalid(name, value,
                   absl::StrFormat("must be in [%d, %d]", min, max));
  }
  return v;
}

absl::StatusOr<bool> ParseBool(std::string_view name, std::string_view value) {
  std::string v =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(value)));
  if (v == "true") return true;
  if (v == "false") return false;
  return Invalid(name, value, "must be true or false");
}

// Applies an integer property if present.
template <typename T>
absl::Status MaybeInt(const Properties& props, const char* name, int64_t min,
                      int64_t max, T* out) {
  auto it = props.find(name);
  if (it == props.end()) return absl::OkStatus();
  ASSIGN_OR_RETURN(int64_t v, ParseInt(name, it->second, min, max));
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

absl::Status ParseCommon(const Properties& props, bool need_bootstrap,
                         CommonConfig* c) {
  auto boot = props.find("bootstrap.servers");
  if (boot != props.end()) {
    ASSIGN_OR_RETURN(c->bootstrap_servers,
                     ParseServers("bootstrap.servers", boot->second));
  } else if (need_bootstrap) {
    return absl::InvalidArgumentError(
        "bootstrap.servers is required (host:port[,host:port...])");
  }
  auto admin = props.find("admin.servers");
  if (admin != props.end()) {
    ASSIGN_OR_RETURN(c->admin_servers,
                     ParseServers("admin.servers", admin->second));
  } else {
    for (const HostPort& hp : c->bootstrap_servers) {
      c->admin_servers.push_back({hp.host, 9093});
    }
  }
  if (auto it = props.find("client.id"); it != props.end()) {
    c->client_id = it->second;
    if (c->client_id.size() > 256) {
      return Invalid("client.id", it->second, "longer than 256 bytes");
    }
  }
  RETURN_IF_ERROR(MaybeInt(props, "request.timeout.ms", 1, kInt32Max,
                           &c->request_timeout_ms));
  RETURN_IF_ERROR(
      MaybeInt(props, "retry.backoff.ms", 0, kInt32Max, &c->retry_backoff_ms));
  c->retry_backoff_max_ms =
      std::max(c->retry_backoff_max_ms, c->retry_backoff_ms);
  return absl::OkStatus();
}

// The consumer group properties of a consumer.
absl::Status ParseGroupConfig(const Properties& props, ConsumerConfig* c) {
  // The coordinator's limits: group ids of 1..255 bytes, instance ids
  // likewise (member ids are bounded the same way).
  constexpr size_t kMaxIdBytes = 255;
  if (auto it = props.find("group.id"); it != props.end()) {
    c->group_id = it->second;
    if (c->group_id.empty() || c->group_id.size() > kMaxIdBytes) {
      return Invalid("group.id", it->second, "must be 1 to 255 bytes");
    }
  }
  const bool grouped = !c->group_id.empty();
  if (auto it = props.find("group.instance.id"); it != props.end()) {
    if (!grouped) {
      return Invalid("group.instance.id", it->second, "needs group.id");
    }
    c->group_instance_id = it->second;
    if (c->group_instance_id.empty() ||
        c->group_instance_id.size() > kMaxIdBytes) {
      return Invalid("group.instance.id", it->second, "must be 1 to 255 bytes");
    }
  }
  RETURN_IF_ERROR(MaybeInt(props, "session.timeout.ms", 1, kInt32Max,
                           &c->session_timeout_ms));
  RETURN_IF_ERROR(MaybeInt(props, "heartbeat.interval.ms", 1, kInt32Max,
                           &c->heartbeat_interval_ms));
  if (c->heartbeat_interval_ms >= c->session_timeout_ms) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "heartbeat.interval.ms=%d must be lower than session.timeout.ms=%d",
        c->heartbeat_interval_ms, c->session_timeout_ms));
  }
  RETURN_IF_ERROR(MaybeInt(props, "max.poll.interval.ms", 1, kInt32Max,
                           &c->max_poll_interval_ms));
  c->enable_auto_commit = grouped;
  if (auto it = props.find("enable.auto.commit"); it != props.end()) {
    ASSIGN_OR_RETURN(c->enable_auto_commit,
                     ParseBool("enable.auto.commit", it->second));
    if (c->enable_auto_commit && !grouped) {
      return Invalid("enable.auto.commit", it->second,
                     "needs group.id (offsets are committed to a group)");
    }
  }
  RETURN_IF_ERROR(MaybeInt(props, "auto.commit.interval.ms", 0, kInt32Max,
                           &c->auto_commit_interval_ms));
  if (auto it = props.find("group.remote.assignor"); it != props.end()) {
    std::string v =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(it->second)));
    if (v != "uniform" && v != "range") {
      return Invalid("group.remote.assignor", it->second,
                     "must be uniform or range");
    }
    c->group_remote_assignor = v;
  }
  return absl::OkStatus();
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::vector<HostPort>> ParseServers(std::string_view property,
                                                   std::string_view value) {
  std::vector<HostPort> out;
  for (absl::string_view piece : absl::StrSplit(ToAbsl(value), ',')) {
    std::string_view entry = ToStd(absl::StripAsciiWhitespace(piece));
    if (entry.empty()) continue;
    std::string_view host, port;
    if (entry.front() == '[') {
      size_t close = entry.find(']');
      if (close == std::string_view::npos || close + 1 >= entry.size() ||
          entry[close + 1] != ':') {
        return Invalid(
            property, value,
            absl::StrCat("'", ToAbsl(entry), "' is not [host]:port"));
      }
      host = entry.substr(1, close - 1);
      port = entry.substr(close + 2);
    } else {
      size_t colon = entry.rfind(':');
      if (colon == std::string_view::npos) {
        return Invalid(
            property, value,
            absl::StrCat("'", ToAbsl(entry), "' has no port (host:port)"));
      }
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
    int p;
    if (host.empty() || !absl::SimpleAtoi(ToAbsl(port), &p) || p < 1 ||
        p > 65535) {
      return Invalid(property, value,
                     absl::StrCat("'", ToAbsl(entry), "' is not host:port"));
    }
    out.push_back({std::string(host), static_cast<uint16_t>(p)});
  }
  if (out.empty()) return Invalid(property, value, "no host:port given");
  return out;
}

absl::StatusOr<ProducerConfig> ParseProducerConfig(const Properties& props) {
  RETURN_IF_ERROR(CheckNames(props, Kind::kProducer, "producer"));
  ProducerConfig c;
  RETURN_IF_ERROR(ParseCommon(props, true, &c.common));
  if (auto it = props.find("acks"); it != props.end()) {
    std::string v =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(it->second)));
    if (v == "all" || v == "-1") {
      c.acks = -1;
    } else if (v == "0") {
      c.acks = 0;
    } else if (v == "1") {
      c.acks = 1;
    } else {
      return Invalid("acks", it->second, "must be all, -1, 0 or 1");
    }
  }
  RETURN_IF_ERROR(MaybeInt(props, "linger.ms", 0, kInt32Max, &c.linger_ms));
  // Bounded so one batch always fits the protocol's int32 lengths.
  RETURN_IF_ERROR(MaybeInt(props, "batch.size", 1, 1 << 30, &c.batch_size));
  RETURN_IF_ERROR(MaybeInt(props, "buffer.memory", 1024,
                           std::numeric_limits<int64_t>::max() / 2,
                           &c.buffer_memory));
  if (auto it = props.find("compression.type"); it != props.end()) {
    std::string v =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(it->second)));
    if (v == "none") {
      c.compression = log::Codec::kNone;
    } else if (v == "lz4") {
      c.compression = log::Codec::kLz4;
    } else if (v == "zstd") {
      c.compression = log::Codec::kZstd;
    } else {
      return Invalid("compression.type", it->second,
                     "must be none, lz4 or zstd");
    }
  }
  RETURN_IF_ERROR(MaybeInt(props, "max.in.flight.requests.per.connection", 1,
                           kInt32Max, &c.max_in_flight));
  RETURN_IF_ERROR(MaybeInt(props, "retries", 0, kInt32Max, &c.retries));
  RETURN_IF_ERROR(MaybeInt(props, "delivery.timeout.ms", 1, kInt32Max,
                           &c.delivery_timeout_ms));
  RETURN_IF_ERROR(MaybeInt(props, "max.block.ms", 0,
                           std::numeric_limits<int64_t>::max() / 2,
                           &c.max_block_ms));
  bool idempotence_explicit = false;
  if (auto it = props.find("enable.idempotence"); it != props.end()) {
    ASSIGN_OR_RETURN(c.enable_idempotence,
                     ParseBool("enable.idempotence", it->second));
    idempotence_explicit = c.enable_idempotence;
  }
  if (c.enable_idempotence) {
    // Sequence numbers need responses (acks >= 1) and at most 5 batches in
    // flight per partition (what a broker caches per producer). Asked for
    // explicitly, a conflict is an error; by default idempotence yields, as
    // in the Java client.
    if (c.acks == 0 || c.max_in_flight > 5) {
      if (idempotence_explicit) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "enable.idempotence=true needs acks=1 or all (got %d) and "
            "max.in.flight.requests.per.connection <= 5 (got %d)",
            c.acks, c.max_in_flight));
      }
      c.enable_idempotence = false;
    }
  }
  if (static_cast<int64_t>(c.delivery_timeout_ms) <
      static_cast<int64_t>(c.linger_ms) + c.common.request_timeout_ms) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "delivery.timeout.ms=%d must be at least linger.ms + "
        "request.timeout.ms (%d + %d)",
        c.delivery_timeout_ms, c.linger_ms, c.common.request_timeout_ms));
  }
  return c;
}

absl::StatusOr<ConsumerConfig> ParseConsumerConfig(const Properties& props) {
  RETURN_IF_ERROR(CheckNames(props, Kind::kConsumer, "consumer"));
  ConsumerConfig c;
  RETURN_IF_ERROR(ParseCommon(props, true, &c.common));
  RETURN_IF_ERROR(
      MaybeInt(props, "fetch.min.bytes", 0, kInt32Max, &c.fetch_min_bytes));
  RETURN_IF_ERROR(
      MaybeInt(props, "fetch.max.wait.ms", 0, kInt32Max, &c.fetch_max_wait_ms));
  RETURN_IF_ERROR(MaybeInt(props, "max.partition.fetch.bytes", 1, kInt32Max,
                           &c.max_partition_fetch_bytes));
  if (auto it = props.find("auto.offset.reset"); it != props.end()) {
    std::string v =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(it->second)));
    if (v == "earliest") {
      c.auto_offset_reset = ConsumerConfig::OffsetReset::kEarliest;
    } else if (v == "latest") {
      c.auto_offset_reset = ConsumerConfig::OffsetReset::kLatest;
    } else if (v == "none") {
      c.auto_offset_reset = ConsumerConfig::OffsetReset::kNone;
    } else {
      return Invalid("auto.offset.reset", it->second,
                     "must be earliest, latest or none");
    }
  }
  RETURN_IF_ERROR(ParseGroupConfig(props, &c));
  return c;
}

absl::StatusOr<AdminConfig> ParseAdminConfig(const Properties& props) {
  // An Admin needs no Kafka connection: bootstrap.servers only provides the
  // default admin.servers.
  for (const auto& [name, value] : props) {
    if (name != "bootstrap.servers" && name != "admin.servers" &&
        name != "client.id" && name != "request.timeout.ms" &&
        name != "retry.backoff.ms") {
      // Unknown, or a producer or consumer property: refused, by name.
      RETURN_IF_ERROR(CheckNames({{name, value}}, Kind::kCommon, "admin"));
    }
  }
  AdminConfig c;
  RETURN_IF_ERROR(ParseCommon(props, false, &c.common));
  if (c.common.admin_servers.empty()) {
    return absl::InvalidArgumentError(
        "admin.servers (or bootstrap.servers, whose hosts it defaults to on "
        "port 9093) is required");
  }
  return c;
}

}  // namespace fjord::client::internal
