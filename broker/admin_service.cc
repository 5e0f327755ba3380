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
#include "absl/synchronization/notification.h"
#include "broker/cluster/metadata_cache.h"
#include "broker/cluster_member.h"
#include "broker/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "log/file_names.h"
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

// Fills the offsets, size and segments of `d` (its index set) from the
// partition's log here; false if this broker has no log of it.
bool FillFromLog(const TopicManager& topics, const std::string& topic,
                 v1::PartitionDescription* d) {
  std::shared_ptr<Partition> partition = topics.GetPartition(topic, d->index());
  if (partition == nullptr) return false;
  const log::Log& log = partition->log();
  d->set_log_start_offset(log.log_start_offset().value());
  d->set_log_end_offset(log.log_end_offset().value());
  d->set_size_bytes(static_cast<int64_t>(log.size_bytes()));
  d->set_segments(log.segment_count());
  d->set_has_log(true);
  return true;
}

// Every topic config of `config`, marking those in `overrides`.
void FillConfigs(const log::LogConfig& config,
                 const std::map<std::string, std::string>& overrides,
                 v1::TopicDescription* out) {
  for (std::string_view name : kTopicConfigs) {
    v1::ConfigEntry* e = out->add_configs();
    e->set_name(std::string(name));
    e->set_value(RenderTopicConfig(config, name));
    e->set_is_override(overrides.contains(std::string(name)));
  }
}

// Fills `out` from `topic` on a single node (node `node_id` leads every
// partition). With `topics`, reads each partition's log (kNotFound if one
// is gone: the topic was deleted meanwhile); without, the partitions are
// listed with zero offsets and sizes (validate_only).
absl::Status Describe(const TopicInfo& topic, const TopicManager* topics,
                      int32_t node_id, v1::TopicDescription* out) {
  out->Clear();
  out->set_name(topic.name);
  for (int32_t p = 0; p < topic.partitions; p++) {
    v1::PartitionDescription* d = out->add_partitions();
    d->set_index(p);
    d->set_leader(node_id);
    d->add_replicas(node_id);
    d->add_isr(node_id);
    if (topics == nullptr) continue;
    if (!FillFromLog(*topics, topic.name, d)) {
      return absl::NotFoundError(
          absl::StrFormat("no topic %s (deleted meanwhile)", topic.name));
    }
  }
  FillConfigs(topic.config, topic.overrides, out);
  return absl::OkStatus();
}

// Fills `out` from a cluster topic's record: placement from the record,
// figures from the logs this broker holds, configs over `topics`'
// defaults.
absl::Status DescribeClusterTopic(const cluster::TopicState& t,
                                  const TopicManager& topics,
                                  v1::TopicDescription* out) {
  out->Clear();
  out->set_name(t.name);
  for (const cluster::PartitionState& p : t.partitions) {
    v1::PartitionDescription* d = out->add_partitions();
    d->set_index(p.partition);
    d->set_leader(p.leader);
    for (int32_t id : p.replicas) d->add_replicas(id);
    for (int32_t id : p.isr) d->add_isr(id);
    FillFromLog(topics, t.name, d);
  }
  ASSIGN_OR_RETURN(log::LogConfig config, topics.EffectiveConfig(t.configs));
  FillConfigs(config, t.configs, out);
  return absl::OkStatus();
}

// How long a topic change through the controller may take.
constexpr absl::Duration kControllerWait = absl::Seconds(30);

// Runs `start` (which hands its callback to ClusterMember) and waits for
// the callback's status; kDeadlineExceeded if it never comes.
absl::Status AwaitCluster(
    const std::function<void(ClusterMember::Done)>& start) {
  struct Result {
    absl::Notification done;
    absl::Status status;
  };
  auto result = std::make_shared<Result>();
  start([result](absl::Status s) {
    result->status = std::move(s);
    result->done.Notify();
  });
  if (!result->done.WaitForNotificationWithTimeout(kControllerWait +
                                                   absl::Seconds(5))) {
    return absl::DeadlineExceededError(
        "the controller did not answer within 35 s");
  }
  return result->status;
}

absl::Status NotInCluster(std::string_view what) {
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s is not supported in a cluster yet (metadata.etcd.endpoints is "
      "set): the change would reach this broker only",
      what));
}

}  // namespace

class AdminService::Impl final : public v1::Admin::Service {
 public:
  Impl(const BrokerConfig* config, TopicManager* topics,
       const GrpcServer* server, ClusterMember* cluster)
      : config_(config), topics_(topics), server_(server), cluster_(cluster) {}

  grpc::Status CreateTopic(grpc::ServerContext*,
                           const v1::CreateTopicRequest* request,
                           v1::TopicDescription* response) override {
    return ToGrpcStatus(DoCreateTopic(*request, response));
  }
  grpc::Status DeleteTopic(grpc::ServerContext*,
                           const v1::DeleteTopicRequest* request,
                           v1::DeleteTopicResponse*) override {
    absl::Status s = RequireName(request->name());
    if (s.ok() && cluster_ != nullptr) {
      if (IsInternalTopic(request->name())) {
        s = absl::InvalidArgumentError(absl::StrFormat(
            "%s is an internal topic of the broker and cannot be deleted",
            request->name()));
      } else {
        s = AwaitCluster([&](ClusterMember::Done done) {
          cluster_->DeleteTopic(request->name(), kControllerWait,
                                std::move(done));
        });
      }
    } else if (s.ok()) {
      s = topics_->Delete(request->name());
    }
    return ToGrpcStatus(s);
  }
  grpc::Status ListTopics(grpc::ServerContext*,
                          const v1::ListTopicsRequest* request,
                          v1::ListTopicsResponse* response) override {
    auto add = [&](const std::string& name, size_t partitions) {
      const bool internal = IsInternalTopic(name);
      if (internal && !request->include_internal()) return;
      v1::TopicSummary* s = response->add_topics();
      s->set_name(name);
      s->set_partitions(static_cast<int32_t>(partitions));
      s->set_internal(internal);
    };
    if (cluster_ != nullptr) {
      // The cluster's topics (a map: sorted by name).
      for (const auto& [name, t] : cluster_->Snapshot()->topics) {
        add(name, t->partitions.size());
      }
    } else {
      for (const TopicInfo& t : topics_->List()) add(t.name, t.partitions);
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
    if (s.ok() && cluster_ != nullptr) s = NotInCluster("growing a topic");
    if (s.ok()) {
      absl::StatusOr<TopicInfo> topic =
          topics_->CreatePartitions(request->name(), request->partitions());
      s = topic.ok() ? Describe(*topic, topics_, config_->node_id, response)
                     : topic.status();
    }
    return ToGrpcStatus(s);
  }
  grpc::Status DescribeCluster(grpc::ServerContext*,
                               const v1::DescribeClusterRequest*,
                               v1::DescribeClusterResponse* response) override {
    response->set_cluster_id(config_->cluster_id);
    if (cluster_ != nullptr) {
      // The registered (live) brokers and the controller, as etcd has them.
      auto snap = cluster_->Snapshot();
      response->set_controller_id(snap->controller ? snap->controller->node_id
                                                   : -1);
      for (const auto& [id, info] : snap->brokers) {
        v1::BrokerDescription* b = response->add_brokers();
        b->set_node_id(id);
        b->mutable_kafka()->set_host(info.kafka.host);
        b->mutable_kafka()->set_port(info.kafka.port);
        b->mutable_grpc()->set_host(info.grpc.host);
        b->mutable_grpc()->set_port(info.grpc.port);
      }
      return grpc::Status::OK;
    }
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
    if (cluster_ != nullptr)
      return CreateClusterTopic(request, partitions, configs, response);
    ASSIGN_OR_RETURN(TopicInfo topic,
                     topics_->Create(request.name(), partitions, configs,
                                     request.validate_only()));
    return Describe(topic, request.validate_only() ? nullptr : topics_,
                    config_->node_id, response);
  }

  // CreateTopic in a cluster: validated here, placed by the controller.
  absl::Status CreateClusterTopic(
      const v1::CreateTopicRequest& request, int32_t partitions,
      const std::map<std::string, std::string>& configs,
      v1::TopicDescription* response) {
    if (!log::IsValidTopicName(request.name())) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "invalid topic name '%s' (1-249 characters of [a-zA-Z0-9._-])",
          request.name()));
    }
    if (IsInternalTopic(request.name())) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s is an internal topic of the broker", request.name()));
    }
    ASSIGN_OR_RETURN(log::LogConfig config, topics_->EffectiveConfig(configs));
    if (request.validate_only()) {
      response->Clear();
      response->set_name(request.name());
      for (int32_t p = 0; p < partitions; p++) {
        response->add_partitions()->set_index(p);
      }
      FillConfigs(config, configs, response);
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(AwaitCluster([&](ClusterMember::Done done) {
      cluster_->CreateTopic(request.name(), partitions, -1, configs,
                            kControllerWait, std::move(done));
    }));
    // The controller wrote it; this broker's view may trail by a moment.
    auto snap = cluster_->metadata()->WaitFor(
        [&](const cluster::ClusterSnapshot& s) {
          return s.topic(request.name()) != nullptr;
        },
        absl::Seconds(10));
    if (snap == nullptr) {
      return absl::UnavailableError(absl::StrFormat(
          "topic %s was created, but this broker does not see it yet",
          request.name()));
    }
    return DescribeClusterTopic(*snap->topic(request.name()), *topics_,
                                response);
  }

  absl::Status DoDescribeTopic(const std::string& name,
                               v1::TopicDescription* response) {
    RETURN_IF_ERROR(RequireName(name));
    if (cluster_ != nullptr) {
      auto snap = cluster_->Snapshot();
      const cluster::TopicState* t = snap->topic(name);
      if (t == nullptr) {
        return absl::NotFoundError(absl::StrFormat("no topic %s", name));
      }
      return DescribeClusterTopic(*t, *topics_, response);
    }
    std::optional<TopicInfo> topic = topics_->Get(name);
    if (!topic.has_value()) {
      return absl::NotFoundError(absl::StrFormat("no topic %s", name));
    }
    return Describe(*topic, topics_, config_->node_id, response);
  }

  absl::Status DoAlterTopicConfigs(const v1::AlterTopicConfigsRequest& request,
                                   v1::TopicDescription* response) {
    RETURN_IF_ERROR(RequireName(request.name()));
    if (cluster_ != nullptr) return NotInCluster("changing topic configs");
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
    return Describe(topic, topics_, config_->node_id, response);
  }

  const BrokerConfig* const config_;
  TopicManager* const topics_;
  const GrpcServer* const server_;
  ClusterMember* const cluster_;  // null on a single node
};

AdminService::AdminService(const BrokerConfig* config, TopicManager* topics,
                           const GrpcServer* server, ClusterMember* cluster)
    : impl_(std::make_unique<Impl>(config, topics, server, cluster)) {}

AdminService::~AdminService() = default;

grpc::Service* AdminService::service() { return impl_.get(); }

}  // namespace fjord::broker
