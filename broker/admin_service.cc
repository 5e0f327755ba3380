#include "broker/admin_service.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "broker/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "log/status_macros.h"
#include "proto/admin.grpc.pb.h"

namespace fjord::broker {

namespace v1 = ::fjord::admin::v1;

namespace {

// The topic configs the admin API accepts and reports, sorted by name (the
// order DescribeTopic lists them in). Each is a log::LogConfig setting.
constexpr std::array<std::string_view, 14> kTopicConfigs = {
    "cleanup.policy",
    "delete.retention.ms",
    "flush.bytes",
    "flush.ms",
    "index.interval.bytes",
    "max.message.bytes",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "preallocate",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.ms",
};

bool IsTopicConfig(std::string_view name) {
  return std::find(kTopicConfigs.begin(), kTopicConfigs.end(), name) !=
         kTopicConfigs.end();
}

// The value of topic config `name` in `c`, in the form LogConfig::Set
// parses. REQUIRES: IsTopicConfig(name).
std::string RenderTopicConfig(const log::LogConfig& c, std::string_view name) {
  if (name == "cleanup.policy") {
    if (c.cleanup_compact && c.cleanup_delete) return "compact,delete";
    return c.cleanup_compact ? "compact" : "delete";
  }
  if (name == "delete.retention.ms") return absl::StrCat(c.delete_retention_ms);
  if (name == "flush.bytes") return absl::StrCat(c.flush_bytes);
  if (name == "flush.ms") return absl::StrCat(c.flush_ms);
  if (name == "index.interval.bytes") {
    return absl::StrCat(c.index_interval_bytes);
  }
  if (name == "max.message.bytes") return absl::StrCat(c.max_message_bytes);
  if (name == "min.cleanable.dirty.ratio") {
    return absl::StrCat(c.min_cleanable_dirty_ratio);
  }
  if (name == "min.compaction.lag.ms") {
    return absl::StrCat(c.min_compaction_lag_ms);
  }
  if (name == "preallocate") return c.preallocate ? "true" : "false";
  if (name == "retention.bytes") return absl::StrCat(c.retention_bytes);
  if (name == "retention.ms") return absl::StrCat(c.retention_ms);
  if (name == "segment.bytes") return absl::StrCat(c.segment_bytes);
  if (name == "segment.index.bytes") return absl::StrCat(c.segment_index_bytes);
  if (name == "segment.ms") return absl::StrCat(c.segment_ms);
  assert(false && "RenderTopicConfig: not a topic config");
  return "";
}

absl::Status RequireName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("name: required");
  return absl::OkStatus();
}

// kInvalidArgument naming `field` and the first name that is not a topic
// config.
template <typename Names>
absl::Status RequireTopicConfigs(std::string_view field, const Names& names) {
  for (const auto& name : names) {
    if (!IsTopicConfig(name)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: unknown topic config '%s'", field, std::string_view(name)));
    }
  }
  return absl::OkStatus();
}

// Fills `out` from `topic`. With `topics`, reads each partition's log
// (kNotFound if one is gone: the topic was deleted meanwhile); without, the
// partitions are listed with zero offsets and sizes (validate_only).
absl::Status Describe(const TopicInfo& topic, const TopicManager* topics,
                      v1::TopicDescription* out) {
  out->Clear();
  out->set_name(topic.name);
  for (int32_t p = 0; p < topic.partitions; p++) {
    v1::PartitionDescription* d = out->add_partitions();
    d->set_index(p);
    if (topics == nullptr) continue;
    std::shared_ptr<Partition> partition = topics->GetPartition(topic.name, p);
    if (partition == nullptr) {
      return absl::NotFoundError(
          absl::StrFormat("no topic %s (deleted meanwhile)", topic.name));
    }
    const log::Log& log = partition->log();
    d->set_log_start_offset(log.log_start_offset().value());
    d->set_log_end_offset(log.log_end_offset().value());
    d->set_size_bytes(static_cast<int64_t>(log.size_bytes()));
    d->set_segments(log.segment_count());
  }
  for (std::string_view name : kTopicConfigs) {
    v1::ConfigEntry* e = out->add_configs();
    e->set_name(std::string(name));
    e->set_value(RenderTopicConfig(topic.config, name));
    e->set_is_override(topic.overrides.contains(std::string(name)));
  }
  return absl::OkStatus();
}

}  // namespace

class AdminService::Impl final : public v1::Admin::Service {
 public:
  Impl(const BrokerConfig* config, TopicManager* topics,
       const GrpcServer* server)
      : config_(config), topics_(topics), server_(server) {}

  grpc::Status CreateTopic(grpc::ServerContext*,
                           const v1::CreateTopicRequest* request,
                           v1::TopicDescription* response) override {
    return ToGrpcStatus(DoCreateTopic(*request, response));
  }
  grpc::Status DeleteTopic(grpc::ServerContext*,
                           const v1::DeleteTopicRequest* request,
                           v1::DeleteTopicResponse*) override {
    absl::Status s = RequireName(request->name());
    if (s.ok()) s = topics_->Delete(request->name());
    return ToGrpcStatus(s);
  }
  grpc::Status ListTopics(grpc::ServerContext*,
                          const v1::ListTopicsRequest* request,
                          v1::ListTopicsResponse* response) override {
    for (const TopicInfo& t : topics_->List()) {  // sorted by name
      const bool internal = IsInternalTopic(t.name);
      if (internal && !request->include_internal()) continue;
      v1::TopicSummary* s = response->add_topics();
      s->set_name(t.name);
      s->set_partitions(t.partitions);
      s->set_internal(internal);
    }
    return grpc::Status::OK;
  }
  grpc::Status DescribeTopic(grpc::ServerContext*,
                             const v1::DescribeTopicRequest* request,
                             v1::TopicDescription* response) override {
    return ToGrpcStatus(DoDescribeTopic(request->name(), response));
  }
  grpc::Status AlterTopicConfigs(grpc::ServerContext*,
                                 const v1::AlterTopicConfigsRequest* request,
                                 v1::TopicDescription* response) override {
    return ToGrpcStatus(DoAlterTopicConfigs(*request, response));
  }
  grpc::Status CreatePartitions(grpc::ServerContext*,
                                const v1::CreatePartitionsRequest* request,
                                v1::TopicDescription* response) override {
    absl::Status s = RequireName(request->name());
    if (s.ok()) {
      absl::StatusOr<TopicInfo> topic =
          topics_->CreatePartitions(request->name(), request->partitions());
      s = topic.ok() ? Describe(*topic, topics_, response) : topic.status();
    }
    return ToGrpcStatus(s);
  }
  grpc::Status DescribeCluster(grpc::ServerContext*,
                               const v1::DescribeClusterRequest*,
                               v1::DescribeClusterResponse* response) override {
    response->set_cluster_id(config_->cluster_id);
    response->set_controller_id(config_->node_id);  // a single node
    v1::BrokerDescription* b = response->add_brokers();
    b->set_node_id(config_->node_id);
    const HostPort kafka = config_->advertised();
    b->mutable_kafka()->set_host(kafka.host);
    b->mutable_kafka()->set_port(kafka.port);
    b->mutable_grpc()->set_host(config_->grpc_address.host);
    b->mutable_grpc()->set_port(server_->port());
    return grpc::Status::OK;
  }

 private:
  absl::Status DoCreateTopic(const v1::CreateTopicRequest& request,
                             v1::TopicDescription* response) {
    RETURN_IF_ERROR(RequireName(request.name()));
    if (request.partitions() < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "partitions: must be positive, or 0 for the broker default; got %d",
          request.partitions()));
    }
    std::map<std::string, std::string> configs(request.configs().begin(),
                                               request.configs().end());
    std::vector<std::string> names;
    for (const auto& [k, v] : configs) names.push_back(k);
    RETURN_IF_ERROR(RequireTopicConfigs("configs", names));
    const int32_t partitions = request.partitions() == 0
                                   ? config_->num_partitions
                                   : request.partitions();
    ASSIGN_OR_RETURN(TopicInfo topic,
                     topics_->Create(request.name(), partitions, configs,
                                     request.validate_only()));
    return Describe(topic, request.validate_only() ? nullptr : topics_,
                    response);
  }

  absl::Status DoDescribeTopic(const std::string& name,
                               v1::TopicDescription* response) {
    RETURN_IF_ERROR(RequireName(name));
    std::optional<TopicInfo> topic = topics_->Get(name);
    if (!topic.has_value()) {
      return absl::NotFoundError(absl::StrFormat("no topic %s", name));
    }
    return Describe(*topic, topics_, response);
  }

  absl::Status DoAlterTopicConfigs(const v1::AlterTopicConfigsRequest& request,
                                   v1::TopicDescription* response) {
    RETURN_IF_ERROR(RequireName(request.name()));
    // TopicManager::AlterConfigs removes an override given an empty value.
    std::map<std::string, std::string> changes;
    for (const auto& [k, v] : request.set()) {
      if (!IsTopicConfig(k)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("set: unknown topic config '%s'", k));
      }
      if (v.empty()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "set: empty value for %s (to remove an override, use delete)", k));
      }
      changes[k] = v;
    }
    RETURN_IF_ERROR(RequireTopicConfigs("delete", request.delete_()));
    for (const std::string& k : request.delete_()) {
      if (request.set().contains(k)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s is in both set and delete", k));
      }
      changes[k] = "";
    }
    ASSIGN_OR_RETURN(TopicInfo topic,
                     topics_->AlterConfigs(request.name(), changes));
    return Describe(topic, topics_, response);
  }

  const BrokerConfig* const config_;
  TopicManager* const topics_;
  const GrpcServer* const server_;
};

AdminService::AdminService(const BrokerConfig* config, TopicManager* topics,
                           const GrpcServer* server)
    : impl_(std::make_unique<Impl>(config, topics, server)) {}

AdminService::~AdminService() = default;

grpc::Service* AdminService::service() { return impl_.get(); }

}  // namespace fjord::broker
