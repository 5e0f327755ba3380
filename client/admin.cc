#include "fjord/admin.h"

#include <chrono>

#include "absl/strings/str_format.h"
#include "client/internal/config.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"

namespace fjord {

namespace pb = ::fjord::admin::v1;

namespace {

// The one place a gRPC status becomes an absl::Status for the client: the
// codes share their numbering, the message is kept and says where.
absl::Status FromGrpc(const grpc::Status& s, const std::string& server) {
  if (s.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(s.error_code());
  std::string message = s.error_message();
  if (code == absl::StatusCode::kUnavailable ||
      code == absl::StatusCode::kDeadlineExceeded) {
    message = absl::StrFormat("admin server %s: %s", server, message);
  }
  return absl::Status(code, message);
}

TopicDescription FromProto(const pb::TopicDescription& d) {
  TopicDescription out;
  out.name = d.name();
  for (const auto& p : d.partitions()) {
    out.partitions.push_back({p.index(), p.log_start_offset(),
                              p.log_end_offset(), p.size_bytes(),
                              p.segments()});
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
      : config_(std::move(config)) {
    for (const auto& hp : config_.common.admin_servers) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                  std::max(config_.common.retry_backoff_max_ms, 100));
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
      last = FromGrpc(status, s.address);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
    }
    return last;
  }

 private:
  struct Server {
    std::string address;
    std::unique_ptr<pb::Admin::Stub> stub;
  };
  const client::internal::AdminConfig config_;
  std::vector<Server> servers_;
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

}  // namespace fjord
