#include "broker/coordinator_service.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "broker/coordinator/errors.h"
#include "broker/coordinator/records.h"
#include "broker/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "log/status_macros.h"
#include "proto/coordinator.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace v1 = ::fjord::coordinator::v1;
namespace co = ::fjord::coordinator;

namespace {

class TopicManagerSource final : public co::TopicSource {
 public:
  explicit TopicManagerSource(TopicManager* topics) : topics_(topics) {}
  std::optional<int32_t> PartitionCount(std::string_view topic) const override {
    return topics_->PartitionCount(topic);
  }
  std::shared_ptr<log::Log> PartitionLog(std::string_view topic,
                                         int32_t partition) const override {
    std::shared_ptr<Partition> p = topics_->GetPartition(topic, partition);
    if (p == nullptr) return nullptr;
    return std::shared_ptr<log::Log>(p, &p->log());  // keeps p alive
  }
  void Appended(std::string_view topic, int32_t partition) override {
    if (auto p = topics_->GetPartition(topic, partition)) p->NotifyAppend();
  }

 private:
  TopicManager* const topics_;
};

co::PartitionSet FromProto(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& in) {
  co::PartitionSet out;
  for (const v1::TopicPartitions& t : in) {
    for (int32_t p : t.partitions()) out.insert(TopicPartition{t.topic(), p});
  }
  return out;
}

void ToProto(const co::PartitionSet& in,
             google::protobuf::RepeatedPtrField<v1::TopicPartitions>* out) {
  v1::TopicPartitions* current = nullptr;
  for (const TopicPartition& tp : in) {  // sorted by topic, then partition
    if (current == nullptr || current->topic() != tp.topic) {
      current = out->Add();
      current->set_topic(tp.topic);
    }
    current->add_partitions(tp.partition);
  }
}

std::vector<co::PartitionFilter> FiltersFromProto(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& in) {
  std::vector<co::PartitionFilter> out;
  for (const v1::TopicPartitions& t : in) {
    out.push_back(co::PartitionFilter{
        t.topic(), {t.partitions().begin(), t.partitions().end()}});
  }
  return out;
}

v1::GroupState ToProto(co::GroupState s) {
  switch (s) {
    case co::GroupState::kEmpty:
      return v1::GROUP_STATE_EMPTY;
    case co::GroupState::kAssigning:
      return v1::GROUP_STATE_ASSIGNING;
    case co::GroupState::kReconciling:
      return v1::GROUP_STATE_RECONCILING;
    case co::GroupState::kStable:
      return v1::GROUP_STATE_STABLE;
  }
  return v1::GROUP_STATE_UNSPECIFIED;
}

v1::MemberState ToProto(const co::Member& m) {
  if (m.left_temporarily) return v1::MEMBER_STATE_LEFT_TEMPORARILY;
  switch (m.state) {
    case co::MemberState::kStable:
      return v1::MEMBER_STATE_STABLE;
    case co::MemberState::kRevoking:
      return v1::MEMBER_STATE_REVOKING;
    case co::MemberState::kAssigning:
      return v1::MEMBER_STATE_ASSIGNING;
  }
  return v1::MEMBER_STATE_UNSPECIFIED;
}

absl::StatusOr<co::ResetStrategy> FromProto(
    v1::ResetOffsetsRequest::Strategy s) {
  switch (s) {
    case v1::ResetOffsetsRequest::EARLIEST:
      return co::ResetStrategy::kEarliest;
    case v1::ResetOffsetsRequest::LATEST:
      return co::ResetStrategy::kLatest;
    case v1::ResetOffsetsRequest::OFFSET:
      return co::ResetStrategy::kOffset;
    case v1::ResetOffsetsRequest::TIMESTAMP:
      return co::ResetStrategy::kTimestamp;
    default:
      return absl::InvalidArgumentError(
          "strategy: one of EARLIEST, LATEST, OFFSET, TIMESTAMP is required");
  }
}

}  // namespace

std::unique_ptr<co::TopicSource> MakeTopicSource(TopicManager* topics) {
  return std::make_unique<TopicManagerSource>(topics);
}

std::map<std::string, std::string> OffsetsTopicConfigs(
    const co::CoordinatorOptions& options) {
  // Indexes are preallocated on disk: size them for one segment (an entry
  // per index.interval.bytes, 4096, of at most 12 bytes) rather than the
  // 10 MiB default, which would cost 20 MiB of disk per partition.
  const int64_t index_bytes = std::clamp<int64_t>(
      options.offsets_topic_segment_bytes / 4096 * 12 + 4096, 4096, 10 << 20);
  return {
      {"cleanup.policy", "compact"},
      {"segment.bytes", absl::StrCat(options.offsets_topic_segment_bytes)},
      {"segment.index.bytes", absl::StrCat(index_bytes)},
      {"preallocate", "false"},
  };
}

absl::StatusOr<int32_t> EnsureOffsetsTopic(
    TopicManager* topics, const co::CoordinatorOptions& options) {
  const std::string name(co::kOffsetsTopic);
  if (std::optional<TopicInfo> t = topics->Get(name)) {
    if (t->partitions != options.offsets_topic_partitions) {
      spdlog::warn(
          "{} has {} partitions; offsets.topic.num.partitions={} applies only "
          "when it is created, so {} it stays (groups hash to its partitions)",
          name, t->partitions, options.offsets_topic_partitions, t->partitions);
    }
    if (!t->config.cleanup_compact) {
      spdlog::warn("{} is not compacted (cleanup.policy); it will grow", name);
    }
    return t->partitions;
  }
  const std::map<std::string, std::string> configs =
      OffsetsTopicConfigs(options);
  ASSIGN_OR_RETURN(TopicInfo t,
                   topics->Create(name, options.offsets_topic_partitions,
                                  configs, /*validate_only=*/false));
  return t.partitions;
}

class CoordinatorService::Impl final : public v1::Coordinator::Service {
 public:
  Impl(const BrokerConfig* config, const GrpcServer* server,
       std::unique_ptr<co::TopicSource> source, ClusterCoordinator* cluster)
      : config_(config),
        server_(server),
        source_(std::move(source)),
        cluster_(cluster) {}

  absl::Status Open(log::Clock* clock, co::LoadReport* report) {
    // A single node leads every partition of __consumer_offsets, so no
    // group is ever coordinated elsewhere (RemoteCoordinator nullptr).
    ASSIGN_OR_RETURN(
        coordinator_,
        co::GroupCoordinator::Open(config_->coordinator, source_.get(), clock,
                                   /*remote=*/nullptr, report));
    return absl::OkStatus();
  }

  // This broker's coordinator; nullptr in a cluster until
  // __consumer_offsets exists.
  co::GroupCoordinator* coordinator() const {
    return cluster_ != nullptr ? cluster_->coordinator() : coordinator_.get();
  }

  grpc::Status FindCoordinator(grpc::ServerContext*,
                               const v1::FindCoordinatorRequest* request,
                               v1::FindCoordinatorResponse* response) override {
    if (request->group_id().empty()) {
      return ToGrpcStatus(absl::InvalidArgumentError("group_id: required"));
    }
    if (cluster_ != nullptr) {
      // The leader of the group's partition, from the current view.
      absl::StatusOr<CoordinatorLocation> at =
          cluster_->Locate(request->group_id());
      if (!at.ok()) return ToGrpcStatus(at.status());
      response->set_node_id(at->node_id);
      response->set_host(at->grpc.host);
      response->set_port(at->grpc.port);
      response->set_offsets_partition(at->partition);
      return grpc::Status::OK;
    }
    absl::Status s = coordinator_->CheckCoordinator(request->group_id());
    if (!s.ok()) return ToGrpcStatus(s);
    response->set_node_id(config_->node_id);
    response->set_host(config_->grpc_address.host);
    response->set_port(server_->port());
    response->set_offsets_partition(
        coordinator_->PartitionFor(request->group_id()));
    return grpc::Status::OK;
  }

  // No coordinator yet (a cluster without __consumer_offsets): ask for it.
  absl::Status NotYet() const {
    if (cluster_ != nullptr) cluster_->RequestOffsetsTopic();
    return co::ReasonError(
        absl::StatusCode::kUnavailable, co::kCoordinatorNotAvailable,
        absl::StrFormat("%s is being created; retry", co::kOffsetsTopic));
  }

  grpc::Status Heartbeat(grpc::ServerContext* context,
                         const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    co::HeartbeatRequest r;
    r.group_id = request->group_id();
    r.member_id = request->member_id();
    r.member_epoch = request->member_epoch();
    r.instance_id = request->instance_id();
    r.rebalance_timeout_ms = request->rebalance_timeout_ms();
    r.session_timeout_ms = request->session_timeout_ms();
    r.subscribed_topics.assign(request->subscribed_topic_names().begin(),
                               request->subscribed_topic_names().end());
    r.owned = FromProto(request->owned_partitions());
    r.assignor = request->server_assignor();
    r.client_host = context->peer();
    absl::StatusOr<co::HeartbeatResponse> out = c->Heartbeat(r);
    if (!out.ok()) return ToGrpcStatus(out.status());
    response->set_member_id(out->member_id);
    response->set_member_epoch(out->member_epoch);
    response->set_heartbeat_interval_ms(out->heartbeat_interval_ms);
    if (out->assignment.has_value()) {
      v1::Assignment* a = response->mutable_assignment();
      ToProto(out->assignment->assigned, a->mutable_assigned());
      ToProto(out->assignment->revoking, a->mutable_revoking());
      ToProto(out->assignment->pending, a->mutable_pending());
    }
    return grpc::Status::OK;
  }

  grpc::Status LeaveGroup(grpc::ServerContext*,
                          const v1::LeaveGroupRequest* request,
                          v1::LeaveGroupResponse*) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    return ToGrpcStatus(c->LeaveGroup(request->group_id(), request->member_id(),
                                      request->temporary()));
  }

  grpc::Status CommitOffsets(grpc::ServerContext*,
                             const v1::CommitOffsetsRequest* request,
                             v1::CommitOffsetsResponse*) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    co::CommitRequest r;
    r.group_id = request->group_id();
    r.member_id = request->member_id();
    r.member_epoch = request->member_epoch();
    for (const v1::TopicOffsets& t : request->topics()) {
      for (const v1::PartitionOffset& p : t.partitions()) {
        r.offsets.push_back(
            co::OffsetCommit{TopicPartition{t.topic(), p.partition()},
                             p.offset(), p.metadata()});
      }
    }
    return ToGrpcStatus(c->CommitOffsets(r));
  }

  grpc::Status FetchOffsets(grpc::ServerContext*,
                            const v1::FetchOffsetsRequest* request,
                            v1::FetchOffsetsResponse* response) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    auto out = c->FetchOffsets(request->group_id(),
                               FiltersFromProto(request->partitions()));
    if (!out.ok()) return ToGrpcStatus(out.status());
    for (const co::CommittedOffset& c : *out) {
      v1::CommittedOffset* o = response->add_offsets();
      o->set_topic(c.tp.topic);
      o->set_partition(c.tp.partition);
      o->set_offset(c.value.offset);
      o->set_metadata(c.value.metadata);
      o->set_commit_timestamp_ms(c.value.commit_timestamp_ms);
    }
    return grpc::Status::OK;
  }

  grpc::Status ListGroups(grpc::ServerContext*,
                          const v1::ListGroupsRequest* request,
                          v1::ListGroupsResponse* response) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return grpc::Status::OK;  // no groups yet
    for (const co::GroupSummary& g : c->ListGroups()) {
      const v1::GroupState state = ToProto(g.state);
      if (!request->states().empty() &&
          std::find(request->states().begin(), request->states().end(),
                    state) == request->states().end()) {
        continue;
      }
      v1::GroupSummary* s = response->add_groups();
      s->set_group_id(g.group_id);
      s->set_state(state);
      s->set_members(g.members);
    }
    return grpc::Status::OK;
  }

  grpc::Status DescribeGroup(grpc::ServerContext*,
                             const v1::DescribeGroupRequest* request,
                             v1::DescribeGroupResponse* response) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    absl::StatusOr<co::GroupDescription> d =
        c->DescribeGroup(request->group_id());
    if (!d.ok()) return ToGrpcStatus(d.status());
    response->set_group_id(d->group_id);
    response->set_state(ToProto(d->state));
    response->set_group_epoch(d->group_epoch);
    response->set_assignment_epoch(d->assignment_epoch);
    response->set_assignor(d->assignor);
    response->set_offsets_partition(d->offsets_partition);
    for (const co::MemberDescription& md : d->members) {
      const co::Member& m = md.member;
      v1::MemberDescription* out = response->add_members();
      out->set_member_id(m.id);
      out->set_instance_id(m.instance_id.value_or(""));
      out->set_client_host(m.client_host);
      out->set_member_epoch(m.epoch);
      out->set_state(ToProto(m));
      for (const std::string& t : m.subscription) {
        out->add_subscribed_topic_names(t);
      }
      out->set_server_assignor(m.assignor);
      out->set_session_timeout_ms(m.session_timeout_ms);
      out->set_rebalance_timeout_ms(m.rebalance_timeout_ms);
      ToProto(m.assigned, out->mutable_assigned());
      ToProto(m.revoking, out->mutable_revoking());
      ToProto(md.pending, out->mutable_pending());
      ToProto(md.target, out->mutable_target());
    }
    for (const co::PartitionLag& l : d->partitions) {
      v1::PartitionLag* out = response->add_partitions();
      out->set_topic(l.tp.topic);
      out->set_partition(l.tp.partition);
      out->set_committed_offset(l.committed_offset);
      out->set_log_end_offset(l.log_end_offset);
      out->set_lag(l.lag);
      out->set_member_id(l.owner);
      out->set_metadata(l.metadata);
    }
    return grpc::Status::OK;
  }

  grpc::Status ResetOffsets(grpc::ServerContext*,
                            const v1::ResetOffsetsRequest* request,
                            v1::ResetOffsetsResponse* response) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    absl::StatusOr<co::ResetStrategy> strategy = FromProto(request->strategy());
    if (!strategy.ok()) return ToGrpcStatus(strategy.status());
    co::ResetRequest r;
    r.group_id = request->group_id();
    r.partitions = FiltersFromProto(request->partitions());
    r.strategy = *strategy;
    r.offset = request->offset();
    r.timestamp_ms = request->timestamp_ms();
    r.dry_run = request->dry_run();
    auto out = c->ResetOffsets(r);
    if (!out.ok()) return ToGrpcStatus(out.status());
    for (const co::OffsetChange& c : *out) {
      v1::OffsetChange* o = response->add_changes();
      o->set_topic(c.tp.topic);
      o->set_partition(c.tp.partition);
      o->set_previous_offset(c.previous_offset);
      o->set_new_offset(c.new_offset);
    }
    return grpc::Status::OK;
  }

  grpc::Status DeleteGroup(grpc::ServerContext*,
                           const v1::DeleteGroupRequest* request,
                           v1::DeleteGroupResponse*) override {
    co::GroupCoordinator* c = coordinator();
    if (c == nullptr) return ToGrpcStatus(NotYet());
    return ToGrpcStatus(c->DeleteGroup(request->group_id()));
  }

 private:
  const BrokerConfig* const config_;
  const GrpcServer* const server_;
  const std::unique_ptr<co::TopicSource> source_;
  ClusterCoordinator* const cluster_;                  // cluster mode only
  std::unique_ptr<co::GroupCoordinator> coordinator_;  // single node only
};

absl::StatusOr<std::unique_ptr<CoordinatorService>> CoordinatorService::Open(
    const BrokerConfig* config, TopicManager* topics, const GrpcServer* server,
    log::Clock* clock, co::LoadReport* report) {
  RETURN_IF_ERROR(EnsureOffsetsTopic(topics, config->coordinator).status());
  auto impl = std::make_unique<Impl>(config, server, MakeTopicSource(topics),
                                     /*cluster=*/nullptr);
  RETURN_IF_ERROR(impl->Open(clock, report));
  return std::unique_ptr<CoordinatorService>(
      new CoordinatorService(std::move(impl)));
}

std::unique_ptr<CoordinatorService> CoordinatorService::OpenCluster(
    const BrokerConfig* config, const GrpcServer* server,
    ClusterCoordinator* cluster) {
  return std::unique_ptr<CoordinatorService>(new CoordinatorService(
      std::make_unique<Impl>(config, server, nullptr, cluster)));
}

CoordinatorService::CoordinatorService(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

CoordinatorService::~CoordinatorService() = default;

grpc::Service* CoordinatorService::service() { return impl_.get(); }

co::GroupCoordinator* CoordinatorService::coordinator() {
  return impl_->coordinator();
}

co::CoordinatorStats CoordinatorService::Stats() const {
  co::GroupCoordinator* c = impl_->coordinator();
  return c != nullptr ? c->Stats() : co::CoordinatorStats{};
}

}  // namespace fjord::broker
