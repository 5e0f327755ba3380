#include "fjord/admin.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_format.h"
#include "client/internal/config.h"
#include "client/internal/coordinator_client.h"
#include "client/internal/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "proto/coordinator.grpc.pb.h"

namespace fjord {

namespace pb = ::fjord::admin::v1;
namespace cpb = ::fjord::coordinator::v1;
using client::internal::FromGrpc;

namespace {

GroupState FromProto(cpb::GroupState s) {
  switch (s) {
    case cpb::GROUP_STATE_EMPTY:
      return GroupState::kEmpty;
    case cpb::GROUP_STATE_ASSIGNING:
      return GroupState::kAssigning;
    case cpb::GROUP_STATE_RECONCILING:
      return GroupState::kReconciling;
    case cpb::GROUP_STATE_STABLE:
      return GroupState::kStable;
    default:
      return GroupState::kUnknown;
  }
}

cpb::GroupState ToProto(GroupState s) {
  switch (s) {
    case GroupState::kEmpty:
      return cpb::GROUP_STATE_EMPTY;
    case GroupState::kAssigning:
      return cpb::GROUP_STATE_ASSIGNING;
    case GroupState::kReconciling:
      return cpb::GROUP_STATE_RECONCILING;
    case GroupState::kStable:
      return cpb::GROUP_STATE_STABLE;
    case GroupState::kUnknown:
      break;
  }
  return cpb::GROUP_STATE_UNSPECIFIED;
}

GroupMemberState FromProto(cpb::MemberState s) {
  switch (s) {
    case cpb::MEMBER_STATE_STABLE:
      return GroupMemberState::kStable;
    case cpb::MEMBER_STATE_REVOKING:
      return GroupMemberState::kRevoking;
    case cpb::MEMBER_STATE_ASSIGNING:
      return GroupMemberState::kAssigning;
    case cpb::MEMBER_STATE_LEFT_TEMPORARILY:
      return GroupMemberState::kLeftTemporarily;
    default:
      return GroupMemberState::kUnknown;
  }
}

std::vector<TopicPartition> FromProto(
    const google::protobuf::RepeatedPtrField<cpb::TopicPartitions>& in) {
  std::vector<TopicPartition> out;
  for (const cpb::TopicPartitions& t : in) {
    for (int32_t p : t.partitions()) out.push_back({t.topic(), p});
  }
  std::sort(out.begin(), out.end());
  return out;
}

TopicDescription FromProto(const pb::TopicDescription& d) {
  TopicDescription out;
  out.name = d.name();
  for (const auto& p : d.partitions()) {
    out.partitions.push_back(
        {p.index(), p.log_start_offset(), p.log_end_offset(), p.size_bytes(),
         p.segments(), p.leader(),
         std::vector<int32_t>(p.replicas().begin(), p.replicas().end()),
         std::vector<int32_t>(p.isr().begin(), p.isr().end()), p.has_log()});
  }
  for (const auto& c : d.configs()) {
    out.configs.push_back({c.name(), c.value(), c.is_override()});
  }
  return out;
}

}  // namespace

class Admin::Impl {
 public:
  explicit Impl(client::internal::AdminConfig config)
      : config_(std::move(config)), groups_(config_.common) {
    for (const auto& hp : config_.common.admin_servers) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                  std::max(config_.common.retry_backoff_ms, 10));
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                  std::max(config_.common.retry_backoff_max_ms, 100));
      // After a broker restart: look the address up again soon, not after
      // gRPC's 30 s default.
      args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS,
                  std::max(config_.common.retry_backoff_ms, 10));
      // Connections of its own: gRPC's process-wide subchannel pool would
      // otherwise give a new Admin the connection of another client of the
      // same address (a consumer's, say) in its reconnect backoff after a
      // broker restart, and its calls would fail at once.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      Server s;
      s.address = hp.ToString();
      s.stub = pb::Admin::NewStub(grpc::CreateCustomChannel(
          s.address, grpc::InsecureChannelCredentials(), args));
      servers_.push_back(std::move(s));
    }
  }

  // Calls `rpc` on each admin server in turn until one answers with
  // something other than UNAVAILABLE.
  template <typename Rpc>
  absl::Status Call(Rpc&& rpc) {
    absl::Status last;
    for (auto& s : servers_) {
      grpc::ClientContext ctx;
      ctx.set_deadline(
          std::chrono::system_clock::now() +
          std::chrono::milliseconds(config_.common.request_timeout_ms));
      ctx.set_wait_for_ready(false);
      grpc::Status status = rpc(*s.stub, &ctx);
      last = FromGrpc(status, "admin server " + s.address);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
    }
    return last;
  }

  client::internal::CoordinatorClient& groups() { return groups_; }
  int64_t timeout_ms() const { return config_.common.request_timeout_ms; }

 private:
  struct Server {
    std::string address;
    std::unique_ptr<pb::Admin::Stub> stub;
  };
  const client::internal::AdminConfig config_;
  std::vector<Server> servers_;
  client::internal::CoordinatorClient groups_;
};

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(
    const Properties& properties) {
  auto config = client::internal::ParseAdminConfig(properties);
  if (!config.ok()) return config.status();
  return std::unique_ptr<Admin>(
      new Admin(std::make_unique<Impl>(*std::move(config))));
}

Admin::Admin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Admin::~Admin() = default;

absl::StatusOr<TopicDescription> Admin::CreateTopic(const NewTopic& topic) {
  pb::CreateTopicRequest req;
  req.set_name(topic.name);
  req.set_partitions(topic.partitions);
  for (const auto& [k, v] : topic.configs) (*req.mutable_configs())[k] = v;
  req.set_validate_only(topic.validate_only);
  pb::TopicDescription resp;
  absl::Status s =
      impl_->Call([&](pb::Admin::Stub& stub, grpc::ClientContext* ctx) {
        return stub.CreateTopic(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  return FromProto(resp);
}

absl::Status Admin::DeleteTopic(const std::string& name) {
  pb::DeleteTopicRequest req;
  req.set_name(name);
  pb::DeleteTopicResponse resp;
  return impl_->Call([&](pb::Admin::Stub& stub, grpc::ClientContext* ctx) {
    return stub.DeleteTopic(ctx, req, &resp);
  });
}

absl::StatusOr<std::vector<TopicSummary>> Admin::ListTopics(
    bool include_internal) {
  pb::ListTopicsRequest req;
  req.set_include_internal(include_internal);
  pb::ListTopicsResponse resp;
  absl::Status s =
      impl_->Call([&](pb::Admin::Stub& stub, grpc::ClientContext* ctx) {
        return stub.ListTopics(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  std::vector<TopicSummary> out;
  for (const auto& t : resp.topics()) {
    out.push_back({t.name(), t.partitions(), t.internal()});
  }
  return out;
}

absl::StatusOr<TopicDescription> Admin::DescribeTopic(const std::string& name) {
  pb::DescribeTopicRequest req;
  req.set_name(name);
  pb::TopicDescription resp;
  absl::Status s =
      impl_->Call([&](pb::Admin::Stub& stub, grpc::ClientContext* ctx) {
        return stub.DescribeTopic(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  return FromProto(resp);
}

absl::StatusOr<TopicDescription> Admin::AlterTopicConfigs(
    const std::string& name, const std::map<std::string, std::string>& set,
    const std::vector<std::string>& remove) {
  pb::AlterTopicConfigsRequest req;
  req.set_name(name);
  for (const auto& [k, v] : set) (*req.mutable_set())[k] = v;
  for (const auto& k : remove) req.add_delete_(k);
  pb::TopicDescription resp;
  absl::Status s =
      impl_->Call([&](pb::Admin::Stub& stub, grpc::ClientContext* ctx) {
        return stub.AlterTopicConfigs(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  return FromProto(resp);
}

absl::StatusOr<ClusterDescription> Admin::DescribeCluster() {
  pb::DescribeClusterRequest req;
  pb::DescribeClusterResponse resp;
  absl::Status s =
      impl_->Call([&](pb::Admin::Stub& stub, grpc::ClientContext* ctx) {
        return stub.DescribeCluster(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  ClusterDescription out;
  out.cluster_id = resp.cluster_id();
  out.controller_id = resp.controller_id();
  for (const auto& b : resp.brokers()) {
    out.brokers.push_back({b.node_id(), b.kafka().host(), b.kafka().port(),
                           b.grpc().host(), b.grpc().port()});
  }
  return out;
}

// ------------------------------------------------------ consumer groups

std::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty:
      return "Empty";
    case GroupState::kAssigning:
      return "Assigning";
    case GroupState::kReconciling:
      return "Reconciling";
    case GroupState::kStable:
      return "Stable";
    case GroupState::kUnknown:
      break;
  }
  return "Unknown";
}

std::string_view GroupMemberStateName(GroupMemberState state) {
  switch (state) {
    case GroupMemberState::kStable:
      return "Stable";
    case GroupMemberState::kRevoking:
      return "Revoking";
    case GroupMemberState::kAssigning:
      return "Assigning";
    case GroupMemberState::kLeftTemporarily:
      return "LeftTemporarily";
    case GroupMemberState::kUnknown:
      break;
  }
  return "Unknown";
}

absl::StatusOr<std::vector<GroupListing>> Admin::ListGroups(
    const std::vector<GroupState>& states) {
  cpb::ListGroupsRequest req;
  for (GroupState s : states) {
    if (s == GroupState::kUnknown) {
      return absl::InvalidArgumentError("ListGroups: kUnknown is no state");
    }
    req.add_states(ToProto(s));
  }
  cpb::ListGroupsResponse resp;
  absl::Status s = impl_->groups().CallAny(
      impl_->timeout_ms(),
      [&](cpb::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.ListGroups(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  std::vector<GroupListing> out;
  for (const cpb::GroupSummary& g : resp.groups()) {
    out.push_back({g.group_id(), FromProto(g.state()), g.members()});
  }
  return out;
}

absl::StatusOr<GroupDescription> Admin::DescribeGroup(
    const std::string& group_id) {
  if (group_id.empty()) {
    return absl::InvalidArgumentError("DescribeGroup: empty group id");
  }
  cpb::DescribeGroupRequest req;
  req.set_group_id(group_id);
  cpb::DescribeGroupResponse resp;
  absl::Status s = impl_->groups().CallGroupRetrying(
      group_id, impl_->timeout_ms(),
      [&](cpb::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.DescribeGroup(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  GroupDescription d;
  d.group_id = resp.group_id();
  d.state = FromProto(resp.state());
  d.group_epoch = resp.group_epoch();
  d.assignment_epoch = resp.assignment_epoch();
  d.assignor = resp.assignor();
  d.offsets_partition = resp.offsets_partition();
  d.coordinator = impl_->groups().KnownCoordinator(group_id);
  for (const cpb::MemberDescription& m : resp.members()) {
    GroupMemberDescription md;
    md.member_id = m.member_id();
    md.instance_id = m.instance_id();
    md.client_host = m.client_host();
    md.member_epoch = m.member_epoch();
    md.state = FromProto(m.state());
    md.subscribed_topics.assign(m.subscribed_topic_names().begin(),
                                m.subscribed_topic_names().end());
    md.assignor = m.server_assignor();
    md.session_timeout_ms = m.session_timeout_ms();
    md.rebalance_timeout_ms = m.rebalance_timeout_ms();
    md.assigned = FromProto(m.assigned());
    md.revoking = FromProto(m.revoking());
    md.pending = FromProto(m.pending());
    md.target = FromProto(m.target());
    d.members.push_back(std::move(md));
  }
  for (const cpb::PartitionLag& p : resp.partitions()) {
    d.partitions.push_back({{p.topic(), p.partition()},
                            p.committed_offset(),
                            p.log_end_offset(),
                            p.lag(),
                            p.member_id(),
                            p.metadata()});
  }
  return d;
}

absl::StatusOr<std::vector<OffsetChange>> Admin::ResetGroupOffsets(
    const std::string& group_id, const OffsetResetSpec& spec) {
  if (group_id.empty()) {
    return absl::InvalidArgumentError("ResetGroupOffsets: empty group id");
  }
  cpb::ResetOffsetsRequest req;
  req.set_group_id(group_id);
  for (const TopicPartitions& t : spec.partitions) {
    cpb::TopicPartitions* tp = req.add_partitions();
    tp->set_topic(t.topic);
    for (int32_t p : t.partitions) tp->add_partitions(p);
  }
  switch (spec.strategy) {
    case OffsetResetSpec::Strategy::kEarliest:
      req.set_strategy(cpb::ResetOffsetsRequest::EARLIEST);
      break;
    case OffsetResetSpec::Strategy::kLatest:
      req.set_strategy(cpb::ResetOffsetsRequest::LATEST);
      break;
    case OffsetResetSpec::Strategy::kOffset:
      req.set_strategy(cpb::ResetOffsetsRequest::OFFSET);
      break;
    case OffsetResetSpec::Strategy::kTimestamp:
      req.set_strategy(cpb::ResetOffsetsRequest::TIMESTAMP);
      break;
  }
  req.set_offset(spec.offset);
  req.set_timestamp_ms(spec.timestamp_ms);
  req.set_dry_run(spec.dry_run);
  cpb::ResetOffsetsResponse resp;
  absl::Status s = impl_->groups().CallGroupRetrying(
      group_id, impl_->timeout_ms(),
      [&](cpb::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.ResetOffsets(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  std::vector<OffsetChange> out;
  for (const cpb::OffsetChange& c : resp.changes()) {
    out.push_back(
        {{c.topic(), c.partition()}, c.previous_offset(), c.new_offset()});
  }
  return out;
}

absl::Status Admin::DeleteGroup(const std::string& group_id) {
  if (group_id.empty()) {
    return absl::InvalidArgumentError("DeleteGroup: empty group id");
  }
  cpb::DeleteGroupRequest req;
  req.set_group_id(group_id);
  cpb::DeleteGroupResponse resp;
  return impl_->groups().CallGroupRetrying(
      group_id, impl_->timeout_ms(),
      [&](cpb::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.DeleteGroup(ctx, req, &resp);
      });
}

}  // namespace fjord
