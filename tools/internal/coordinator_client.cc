#include "tools/internal/coordinator_client.h"

#include <chrono>
#include <map>

#include "fmt/format.h"
#include "grpcpp/grpcpp.h"
#include "proto/coordinator.grpc.pb.h"
#include "proto/error_details.pb.h"

namespace fjord::tools::internal {

namespace v1 = ::fjord::coordinator::v1;

namespace {

// The reason a failed call carries (proto/error_details.proto), if any.
bool ErrorInfoOf(const grpc::Status& s, ::fjord::v1::ErrorInfo* info) {
  ::fjord::v1::Status details;
  return details.ParseFromString(s.error_details()) &&
         details.details_size() == 1 && details.details(0).UnpackTo(info);
}

// The one place a gRPC status becomes an absl::Status in tools/: the codes
// share their numbering; an unreachable server is said with its address.
absl::Status FromGrpc(const grpc::Status& s, const std::string& address) {
  if (s.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  if (code == absl::StatusCode::kUnavailable ||
      code == absl::StatusCode::kDeadlineExceeded) {
    return absl::Status(
        code, fmt::format("admin server unreachable at {} (--admin): {}",
                          address, s.error_message()));
  }
  return absl::Status(code, s.error_message());
}

std::string StateName(v1::GroupState s) {
  switch (s) {
    case v1::GROUP_STATE_EMPTY:
      return "Empty";
    case v1::GROUP_STATE_ASSIGNING:
      return "Assigning";
    case v1::GROUP_STATE_RECONCILING:
      return "Reconciling";
    case v1::GROUP_STATE_STABLE:
      return "Stable";
    default:
      return "Unknown";
  }
}

std::string MemberStateName(v1::MemberState s) {
  switch (s) {
    case v1::MEMBER_STATE_STABLE:
      return "Stable";
    case v1::MEMBER_STATE_REVOKING:
      return "Revoking";
    case v1::MEMBER_STATE_ASSIGNING:
      return "Assigning";
    case v1::MEMBER_STATE_LEFT_TEMPORARILY:
      return "LeftTemporarily";
    default:
      return "Unknown";
  }
}

std::vector<GroupPartitions> FromProto(
    const google::protobuf::RepeatedPtrField<v1::TopicPartitions>& in) {
  std::vector<GroupPartitions> out;
  for (const auto& t : in) {
    out.push_back({t.topic(), {t.partitions().begin(), t.partitions().end()}});
  }
  return out;
}

}  // namespace

struct CoordinatorClient::Rep {
  std::string address;
  int64_t timeout_ms;
  std::map<std::string, std::unique_ptr<v1::Coordinator::Stub>> stubs;

  v1::Coordinator::Stub* Stub(const std::string& at) {
    auto& stub = stubs[at];
    if (!stub) {
      stub = v1::Coordinator::NewStub(
          grpc::CreateChannel(at, grpc::InsecureChannelCredentials()));
    }
    return stub.get();
  }

  // Calls `rpc(stub, ctx)` on the configured server and, when the answer
  // is NOT_COORDINATOR, once more on the coordinator it names.
  template <typename Rpc>
  absl::Status Call(Rpc&& rpc) {
    std::string at = address;
    for (int attempt = 0;; attempt++) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(timeout_ms));
      grpc::Status s = rpc(*Stub(at), &ctx);
      ::fjord::v1::ErrorInfo info;
      if (!s.ok() && attempt == 0 && ErrorInfoOf(s, &info) &&
          info.reason() == "NOT_COORDINATOR" &&
          info.metadata().count("coordinator") > 0) {
        at = info.metadata().at("coordinator");
        continue;
      }
      return FromGrpc(s, at);
    }
  }
};

CoordinatorClient::CoordinatorClient(std::string address, int64_t timeout_ms)
    : rep_(new Rep{std::move(address), timeout_ms, {}}) {}
CoordinatorClient::~CoordinatorClient() = default;

absl::StatusOr<std::vector<GroupSummary>> CoordinatorClient::ListGroups() {
  v1::ListGroupsRequest req;
  v1::ListGroupsResponse resp;
  absl::Status s =
      rep_->Call([&](v1::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.ListGroups(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  std::vector<GroupSummary> out;
  for (const auto& g : resp.groups()) {
    out.push_back({g.group_id(), StateName(g.state()), g.members()});
  }
  return out;
}

absl::StatusOr<GroupDescription> CoordinatorClient::DescribeGroup(
    const std::string& group_id) {
  v1::DescribeGroupRequest req;
  req.set_group_id(group_id);
  v1::DescribeGroupResponse resp;
  absl::Status s =
      rep_->Call([&](v1::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.DescribeGroup(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  GroupDescription d;
  d.group_id = resp.group_id();
  d.state = StateName(resp.state());
  d.group_epoch = resp.group_epoch();
  d.assignment_epoch = resp.assignment_epoch();
  d.assignor = resp.assignor();
  d.offsets_partition = resp.offsets_partition();
  for (const auto& m : resp.members()) {
    GroupMember gm;
    gm.member_id = m.member_id();
    gm.instance_id = m.instance_id();
    gm.client_host = m.client_host();
    gm.member_epoch = m.member_epoch();
    gm.state = MemberStateName(m.state());
    gm.subscribed_topics.assign(m.subscribed_topic_names().begin(),
                                m.subscribed_topic_names().end());
    gm.assigned = FromProto(m.assigned());
    gm.revoking = FromProto(m.revoking());
    gm.pending = FromProto(m.pending());
    d.members.push_back(std::move(gm));
  }
  for (const auto& p : resp.partitions()) {
    d.partitions.push_back({p.topic(), p.partition(), p.committed_offset(),
                            p.log_end_offset(), p.lag(), p.member_id()});
  }
  return d;
}

absl::StatusOr<std::vector<OffsetChange>> CoordinatorClient::ResetOffsets(
    const ResetSpec& spec) {
  v1::ResetOffsetsRequest req;
  req.set_group_id(spec.group_id);
  auto* tp = req.add_partitions();
  tp->set_topic(spec.topic);
  for (int32_t p : spec.partitions) tp->add_partitions(p);
  switch (spec.strategy) {
    case ResetSpec::Strategy::kEarliest:
      req.set_strategy(v1::ResetOffsetsRequest::EARLIEST);
      break;
    case ResetSpec::Strategy::kLatest:
      req.set_strategy(v1::ResetOffsetsRequest::LATEST);
      break;
    case ResetSpec::Strategy::kOffset:
      req.set_strategy(v1::ResetOffsetsRequest::OFFSET);
      req.set_offset(spec.offset);
      break;
    case ResetSpec::Strategy::kTimestamp:
      req.set_strategy(v1::ResetOffsetsRequest::TIMESTAMP);
      req.set_timestamp_ms(spec.timestamp_ms);
      break;
  }
  req.set_dry_run(spec.dry_run);
  v1::ResetOffsetsResponse resp;
  absl::Status s =
      rep_->Call([&](v1::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.ResetOffsets(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  std::vector<OffsetChange> out;
  for (const auto& c : resp.changes()) {
    out.push_back(
        {c.topic(), c.partition(), c.previous_offset(), c.new_offset()});
  }
  return out;
}

absl::Status CoordinatorClient::DeleteGroup(const std::string& group_id) {
  v1::DeleteGroupRequest req;
  req.set_group_id(group_id);
  v1::DeleteGroupResponse resp;
  return rep_->Call([&](v1::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
    return stub.DeleteGroup(ctx, req, &resp);
  });
}

absl::StatusOr<std::vector<PartitionCommit>> CoordinatorClient::FetchOffsets(
    const std::string& group_id, const std::string& topic,
    const std::vector<int32_t>& partitions) {
  v1::FetchOffsetsRequest req;
  req.set_group_id(group_id);
  auto* tp = req.add_partitions();
  tp->set_topic(topic);
  for (int32_t p : partitions) tp->add_partitions(p);
  v1::FetchOffsetsResponse resp;
  absl::Status s =
      rep_->Call([&](v1::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
        return stub.FetchOffsets(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  std::map<int32_t, int64_t> committed;
  for (const auto& c : resp.offsets()) {
    if (c.topic() == topic) committed[c.partition()] = c.offset();
  }
  std::vector<PartitionCommit> out;
  for (int32_t p : partitions) {
    auto it = committed.find(p);
    out.push_back({p, it == committed.end() ? -1 : it->second});
  }
  return out;
}

absl::Status CoordinatorClient::CommitOffsets(
    const std::string& group_id, const std::string& topic,
    const std::vector<PartitionCommit>& offsets) {
  v1::CommitOffsetsRequest req;
  req.set_group_id(group_id);
  req.set_member_epoch(-1);
  auto* t = req.add_topics();
  t->set_topic(topic);
  for (const PartitionCommit& c : offsets) {
    auto* p = t->add_partitions();
    p->set_partition(c.partition);
    p->set_offset(c.offset);
  }
  v1::CommitOffsetsResponse resp;
  return rep_->Call([&](v1::Coordinator::Stub& stub, grpc::ClientContext* ctx) {
    return stub.CommitOffsets(ctx, req, &resp);
  });
}

}  // namespace fjord::tools::internal
