// AdminService over a real gRPC channel on loopback, backed by a LogManager
// and TopicManager in a temporary directory.
#include "broker/admin_service.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "broker/broker_config.h"
#include "broker/coordinator/errors.h"
#include "broker/grpc_server.h"
#include "broker/grpc_status.h"
#include "broker/topic_manager.h"
#include "grpcpp/grpcpp.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "proto/admin.grpc.pb.h"
#include "proto/error_details.pb.h"
#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

namespace v1 = ::fjord::admin::v1;

// A broker without the Kafka side: logs, topics and the admin service on
// 127.0.0.1:<any port>, plus a client stub connected to it.
class AdminFixture {
 public:
  explicit AdminFixture(const std::string& data_dir) {
    config_.data_dir = data_dir;
    config_.num_partitions = 2;
    config_.cluster_id = "test-cluster";
    config_.node_id = 7;
    config_.kafka_address = HostPort{"127.0.0.1", 19092};
    config_.grpc_address = HostPort{"127.0.0.1", 0};
    // Small, unpreallocated segments keep the test fast and its files small.
    REQUIRE(config_.Set("log.segment.bytes", "1048576").ok());
    REQUIRE(config_.Set("log.preallocate", "false").ok());
    Open();
  }
  ~AdminFixture() { Close(); }

  void Open() {
    log::LogManagerOptions options;
    options.data_dir = config_.data_dir;
    options.default_config = config_.log_defaults;
    options.start_flusher = false;
    options.cleaner_enable = false;
    auto logs = log::LogManager::Open(options);
    REQUIRE(logs.ok());
    logs_ = std::move(*logs);
    auto topics =
        TopicManager::Open(logs_.get(), config_.log_defaults, config_.data_dir);
    REQUIRE(topics.ok());
    topics_ = std::move(*topics);
    server_ = std::make_unique<GrpcServer>(config_.grpc_address);
    admin_ =
        std::make_unique<AdminService>(&config_, topics_.get(), server_.get());
    server_->AddService(admin_->service());
    absl::Status s = server_->Start();
    INFO(s.ToString());
    REQUIRE(s.ok());
    REQUIRE(server_->port() != 0);
    stub_ = v1::Admin::NewStub(
        grpc::CreateChannel(absl::StrFormat("127.0.0.1:%d", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  // A clean shutdown, in the order fjord-broker does it.
  void Close() {
    stub_.reset();
    if (server_) server_->Stop();
    server_.reset();
    admin_.reset();
    topics_.reset();
    if (logs_) CHECK(logs_->Close().ok());  // no REQUIRE: runs in ~AdminFixture
    logs_.reset();
  }

  v1::Admin::Stub& stub() { return *stub_; }
  TopicManager& topics() { return *topics_; }
  GrpcServer& server() { return *server_; }
  BrokerConfig& config() { return config_; }

 private:
  BrokerConfig config_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

// Calls one RPC with a deadline; returns its status.
template <typename Request, typename Response, typename Method>
grpc::Status Call(v1::Admin::Stub& stub, Method method, const Request& request,
                  Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  return (stub.*method)(&context, request, response);
}

grpc::Status CreateTopic(v1::Admin::Stub& stub, const std::string& name,
                         int32_t partitions,
                         const std::map<std::string, std::string>& configs = {},
                         v1::TopicDescription* out = nullptr) {
  v1::CreateTopicRequest request;
  request.set_name(name);
  request.set_partitions(partitions);
  request.mutable_configs()->insert(configs.begin(), configs.end());
  v1::TopicDescription ignored;
  return Call(stub, &v1::Admin::Stub::CreateTopic, request,
              out != nullptr ? out : &ignored);
}

grpc::Status DescribeTopic(v1::Admin::Stub& stub, const std::string& name,
                           v1::TopicDescription* out) {
  v1::DescribeTopicRequest request;
  request.set_name(name);
  return Call(stub, &v1::Admin::Stub::DescribeTopic, request, out);
}

// The described configs as name -> (value, is_override).
std::map<std::string, std::pair<std::string, bool>> Configs(
    const v1::TopicDescription& d) {
  std::map<std::string, std::pair<std::string, bool>> out;
  for (const auto& c : d.configs()) {
    out[c.name()] = {c.value(), c.is_override()};
  }
  return out;
}

bool Mentions(const grpc::Status& s, const std::string& what) {
  return s.error_message().find(what) != std::string::npos;
}

TEST_CASE(
    "AdminService: a created topic is described with its partitions "
    "and effective configs",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());

  v1::TopicDescription created;
  grpc::Status s = CreateTopic(broker.stub(), "orders", 3,
                               {{"retention.ms", "3600000"}}, &created);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(created.name() == "orders");
  REQUIRE(created.partitions_size() == 3);

  v1::TopicDescription d;
  REQUIRE(DescribeTopic(broker.stub(), "orders", &d).ok());
  CHECK(d.name() == "orders");
  REQUIRE(d.partitions_size() == 3);
  for (int p = 0; p < 3; p++) {
    CHECK(d.partitions(p).index() == p);
    CHECK(d.partitions(p).log_start_offset() == 0);
    CHECK(d.partitions(p).log_end_offset() == 0);
    CHECK(d.partitions(p).size_bytes() == 0);
    CHECK(d.partitions(p).segments() == 1);
  }
  auto configs = Configs(d);
  CHECK(configs.size() == 14);
  CHECK(configs["retention.ms"] ==
        std::make_pair(std::string("3600000"), true));
  // Broker defaults, including the ones this broker changed.
  CHECK(configs["segment.bytes"] ==
        std::make_pair(std::string("1048576"), false));
  CHECK(configs["preallocate"] == std::make_pair(std::string("false"), false));
  CHECK(configs["cleanup.policy"] ==
        std::make_pair(std::string("delete"), false));
  CHECK(configs["min.cleanable.dirty.ratio"] ==
        std::make_pair(std::string("0.5"), false));
  CHECK(configs["flush.bytes"] == std::make_pair(std::string("-1"), false));
  // The listing is sorted by name.
  for (int i = 1; i < d.configs_size(); i++) {
    CHECK(d.configs(i - 1).name() < d.configs(i).name());
  }
}

TEST_CASE("AdminService: zero partitions means the broker's num.partitions",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  v1::TopicDescription d;
  REQUIRE(CreateTopic(broker.stub(), "defaulted", 0, {}, &d).ok());
  CHECK(d.partitions_size() == 2);
  CHECK(broker.topics().Get("defaulted")->partitions == 2);
}

TEST_CASE("AdminService: validate_only checks a topic but creates nothing",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  v1::CreateTopicRequest request;
  request.set_name("dry-run");
  request.set_partitions(4);
  request.set_validate_only(true);
  (*request.mutable_configs())["cleanup.policy"] = "compact";
  v1::TopicDescription d;
  REQUIRE(Call(broker.stub(), &v1::Admin::Stub::CreateTopic, request, &d).ok());
  CHECK(d.partitions_size() == 4);
  CHECK(Configs(d)["cleanup.policy"] ==
        std::make_pair(std::string("compact"), true));
  CHECK_FALSE(broker.topics().Get("dry-run").has_value());

  (*request.mutable_configs())["cleanup.policy"] = "shred";
  grpc::Status s =
      Call(broker.stub(), &v1::Admin::Stub::CreateTopic, request, &d);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Mentions(s, "cleanup.policy"));
}

TEST_CASE("AdminService: creating an existing topic is ALREADY_EXISTS",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "twice", 1).ok());
  grpc::Status s = CreateTopic(broker.stub(), "twice", 1);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(Mentions(s, "twice"));
}

TEST_CASE(
    "AdminService: bad create arguments are INVALID_ARGUMENT naming "
    "the field or config",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  struct Case {
    std::string name;
    int32_t partitions;
    std::map<std::string, std::string> configs;
    std::string mentions;
  };
  const Case cases[] = {
      {"bad name!", 1, {}, "bad name!"},
      {"", 1, {}, "name"},
      {"ok", -1, {}, "partitions"},
      {"ok", 1, {{"retention.ms", "soon"}}, "retention.ms"},
      {"ok", 1, {{"segment.bytes", "1"}}, "segment.bytes"},
      {"ok", 1, {{"no.such.config", "1"}}, "no.such.config"},
      // A LogConfig setting that is not a Kafka topic config.
      {"ok", 1, {{"verify.crc.on.read", "false"}}, "verify.crc.on.read"},
  };
  for (const Case& c : cases) {
    grpc::Status s =
        CreateTopic(broker.stub(), c.name, c.partitions, c.configs);
    INFO("expected mention of '" << c.mentions << "', got '"
                                 << s.error_message() << "'");
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Mentions(s, c.mentions));
  }
  CHECK(broker.topics().List().empty());
}

TEST_CASE("AdminService: unknown topics are NOT_FOUND", "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  v1::TopicDescription d;
  grpc::Status s = DescribeTopic(broker.stub(), "ghost", &d);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(Mentions(s, "ghost"));

  v1::DeleteTopicRequest del;
  del.set_name("ghost");
  v1::DeleteTopicResponse deleted;
  CHECK(Call(broker.stub(), &v1::Admin::Stub::DeleteTopic, del, &deleted)
            .error_code() == grpc::StatusCode::NOT_FOUND);

  v1::AlterTopicConfigsRequest alter;
  alter.set_name("ghost");
  (*alter.mutable_set())["retention.ms"] = "1000";
  CHECK(Call(broker.stub(), &v1::Admin::Stub::AlterTopicConfigs, alter, &d)
            .error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE(
    "AdminService: topics are listed by name with partition counts, "
    "and deleted ones disappear",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "b-topic", 3).ok());
  REQUIRE(CreateTopic(broker.stub(), "a-topic", 1).ok());

  v1::ListTopicsResponse list;
  REQUIRE(Call(broker.stub(), &v1::Admin::Stub::ListTopics,
               v1::ListTopicsRequest(), &list)
              .ok());
  REQUIRE(list.topics_size() == 2);
  CHECK(list.topics(0).name() == "a-topic");
  CHECK(list.topics(0).partitions() == 1);
  CHECK(list.topics(1).name() == "b-topic");
  CHECK(list.topics(1).partitions() == 3);

  v1::DeleteTopicRequest del;
  del.set_name("b-topic");
  v1::DeleteTopicResponse deleted;
  REQUIRE(
      Call(broker.stub(), &v1::Admin::Stub::DeleteTopic, del, &deleted).ok());
  CHECK(broker.topics().GetPartition("b-topic", 0) == nullptr);
  list.Clear();
  REQUIRE(Call(broker.stub(), &v1::Admin::Stub::ListTopics,
               v1::ListTopicsRequest(), &list)
              .ok());
  REQUIRE(list.topics_size() == 1);
  CHECK(list.topics(0).name() == "a-topic");
  v1::TopicDescription d;
  CHECK(DescribeTopic(broker.stub(), "b-topic", &d).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  // The name is free again.
  CHECK(CreateTopic(broker.stub(), "b-topic", 1).ok());
}

TEST_CASE(
    "AdminService: altering configs sets and removes overrides and "
    "reaches the partitions' logs",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "tuned", 2,
                      {{"retention.ms", "60000"}, {"flush.ms", "5"}})
              .ok());

  v1::AlterTopicConfigsRequest alter;
  alter.set_name("tuned");
  (*alter.mutable_set())["retention.bytes"] = "1000000";
  (*alter.mutable_set())["cleanup.policy"] = "compact,delete";
  alter.add_delete_("retention.ms");
  alter.add_delete_("segment.ms");  // not overridden: ignored
  v1::TopicDescription d;
  grpc::Status s =
      Call(broker.stub(), &v1::Admin::Stub::AlterTopicConfigs, alter, &d);
  INFO(s.error_message());
  REQUIRE(s.ok());
  auto configs = Configs(d);
  CHECK(configs["retention.bytes"] ==
        std::make_pair(std::string("1000000"), true));
  CHECK(configs["cleanup.policy"] ==
        std::make_pair(std::string("compact,delete"), true));
  CHECK(configs["flush.ms"] == std::make_pair(std::string("5"), true));
  CHECK(configs["retention.ms"] ==
        std::make_pair(std::string("604800000"), false));
  CHECK_FALSE(configs["segment.ms"].second);

  for (int p = 0; p < 2; p++) {
    log::LogConfig c = broker.topics().GetPartition("tuned", p)->log().config();
    CHECK(c.retention_bytes == 1000000);
    CHECK(c.cleanup_compact);
    CHECK(c.cleanup_delete);
    CHECK(c.retention_ms == 604800000);
  }
}

TEST_CASE(
    "AdminService: bad config changes are INVALID_ARGUMENT and change "
    "nothing",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "strict", 1, {{"retention.ms", "60000"}})
              .ok());
  struct Case {
    std::map<std::string, std::string> set;
    std::vector<std::string> del;
    std::string mentions;
  };
  const Case cases[] = {
      {{{"retention.ms", "-5"}}, {}, "retention.ms"},
      {{{"retention.ms", "1"}, {"max.message.bytes", "lots"}},
       {},
       "max.message.bytes"},
      {{{"bogus.setting", "1"}}, {}, "bogus.setting"},
      {{{"retention.ms", ""}}, {}, "retention.ms"},
      {{}, {"bogus.setting"}, "bogus.setting"},
      {{{"flush.ms", "10"}}, {"flush.ms"}, "flush.ms"},
  };
  for (const Case& c : cases) {
    v1::AlterTopicConfigsRequest alter;
    alter.set_name("strict");
    alter.mutable_set()->insert(c.set.begin(), c.set.end());
    for (const auto& k : c.del) alter.add_delete_(k);
    v1::TopicDescription d;
    grpc::Status s =
        Call(broker.stub(), &v1::Admin::Stub::AlterTopicConfigs, alter, &d);
    INFO("expected mention of '" << c.mentions << "', got '"
                                 << s.error_message() << "'");
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Mentions(s, c.mentions));
  }
  auto topic = broker.topics().Get("strict");
  REQUIRE(topic.has_value());
  CHECK(topic->overrides ==
        std::map<std::string, std::string>{{"retention.ms", "60000"}});
  CHECK(
      broker.topics().GetPartition("strict", 0)->log().config().retention_ms ==
      60000);
}

TEST_CASE(
    "AdminService: topics and config overrides survive reopening the "
    "broker",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "durable", 2, {{"segment.ms", "600000"}})
              .ok());
  v1::AlterTopicConfigsRequest alter;
  alter.set_name("durable");
  (*alter.mutable_set())["max.message.bytes"] = "2048";
  v1::TopicDescription before;
  REQUIRE(
      Call(broker.stub(), &v1::Admin::Stub::AlterTopicConfigs, alter, &before)
          .ok());

  broker.Close();
  broker.Open();

  v1::TopicDescription after;
  REQUIRE(DescribeTopic(broker.stub(), "durable", &after).ok());
  CHECK(after.partitions_size() == 2);
  auto configs = Configs(after);
  CHECK(configs == Configs(before));
  CHECK(configs["segment.ms"] == std::make_pair(std::string("600000"), true));
  CHECK(configs["max.message.bytes"] ==
        std::make_pair(std::string("2048"), true));
  CHECK(broker.topics()
            .GetPartition("durable", 1)
            ->log()
            .config()
            .max_message_bytes == 2048);
}

TEST_CASE(
    "AdminService: partition offsets, sizes and segments reflect "
    "appended data",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "events", 2).ok());

  auto append = [&](int32_t partition, int records) {
    log::BatchBuilder builder(log::BatchOptions{});
    for (int i = 0; i < records; i++) {
      log::RecordInput r;
      r.value = "payload";
      r.timestamp = 1000 + i;
      builder.Add(r);
    }
    auto batch = builder.Build();
    REQUIRE(batch.ok());
    auto info = broker.topics()
                    .GetPartition("events", partition)
                    ->log()
                    .Append(testing::Bytes(*batch));
    REQUIRE(info.ok());
    return batch->size();
  };
  const size_t bytes = append(1, 5) + append(1, 3);
  {
    // Partition 1 also gets a second segment.
    log::Log& log = broker.topics().GetPartition("events", 1)->log();
    REQUIRE(log.Roll().ok());
  }
  const size_t more = append(1, 2);

  v1::TopicDescription d;
  REQUIRE(DescribeTopic(broker.stub(), "events", &d).ok());
  REQUIRE(d.partitions_size() == 2);
  CHECK(d.partitions(0).log_end_offset() == 0);
  CHECK(d.partitions(0).size_bytes() == 0);
  const auto& p1 = d.partitions(1);
  CHECK(p1.index() == 1);
  CHECK(p1.log_start_offset() == 0);
  CHECK(p1.log_end_offset() == 10);
  CHECK(p1.size_bytes() == static_cast<int64_t>(bytes + more));
  CHECK(p1.segments() == 2);
}

TEST_CASE("AdminService: CreatePartitions grows a topic and never shrinks it",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "grow", 2).ok());
  v1::CreatePartitionsRequest request;
  request.set_name("grow");
  request.set_partitions(5);
  v1::TopicDescription d;
  grpc::Status s =
      Call(broker.stub(), &v1::Admin::Stub::CreatePartitions, request, &d);
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(d.partitions_size() == 5);
  CHECK(broker.topics().GetPartition("grow", 4) != nullptr);
  CHECK(broker.topics().PartitionCount("grow") == 5);

  for (int32_t n : {5, 3}) {
    request.set_partitions(n);
    s = Call(broker.stub(), &v1::Admin::Stub::CreatePartitions, request, &d);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Mentions(s, "has 5 partitions"));
  }
  request.set_name("nope");
  request.set_partitions(9);
  s = Call(broker.stub(), &v1::Admin::Stub::CreatePartitions, request, &d);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);

  // The new count is persisted with the topic.
  broker.Close();
  broker.Open();
  CHECK(broker.topics().PartitionCount("grow") == 5);
}

TEST_CASE(
    "AdminService: the internal topic __consumer_offsets can be neither "
    "deleted nor grown",
    "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  REQUIRE(CreateTopic(broker.stub(), "__consumer_offsets", 2).ok());
  v1::DeleteTopicRequest del;
  del.set_name("__consumer_offsets");
  v1::DeleteTopicResponse ignored;
  grpc::Status s =
      Call(broker.stub(), &v1::Admin::Stub::DeleteTopic, del, &ignored);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Mentions(s, "internal topic"));
  v1::CreatePartitionsRequest grow;
  grow.set_name("__consumer_offsets");
  grow.set_partitions(4);
  v1::TopicDescription d;
  s = Call(broker.stub(), &v1::Admin::Stub::CreatePartitions, grow, &d);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(broker.topics().PartitionCount("__consumer_offsets") == 2);
}

TEST_CASE("AdminService: the cluster is this one broker, its controller",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  v1::DescribeClusterResponse cluster;
  REQUIRE(Call(broker.stub(), &v1::Admin::Stub::DescribeCluster,
               v1::DescribeClusterRequest(), &cluster)
              .ok());
  CHECK(cluster.cluster_id() == "test-cluster");
  CHECK(cluster.controller_id() == 7);
  REQUIRE(cluster.brokers_size() == 1);
  const auto& b = cluster.brokers(0);
  CHECK(b.node_id() == 7);
  CHECK(b.kafka().host() == "127.0.0.1");
  CHECK(b.kafka().port() == 19092);
  CHECK(b.grpc().host() == "127.0.0.1");
  CHECK(b.grpc().port() == broker.server().port());
}

TEST_CASE("GrpcServer: a taken port is a clear startup error",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  GrpcServer second(HostPort{"127.0.0.1", broker.server().port()});
  AdminService admin(&broker.config(), &broker.topics(), &second);
  second.AddService(admin.service());
  absl::Status s = second.Start();
  INFO(s.ToString());
  CHECK(absl::IsUnavailable(s));
  CHECK(s.message().find(
            absl::StrFormat("127.0.0.1:%d", broker.server().port())) !=
        absl::string_view::npos);
  // The first server still answers.
  v1::ListTopicsResponse list;
  CHECK(Call(broker.stub(), &v1::Admin::Stub::ListTopics,
             v1::ListTopicsRequest(), &list)
            .ok());
}

TEST_CASE("GrpcServer: starting twice is FAILED_PRECONDITION",
          "[broker][admin]") {
  testing::TempDir dir;
  AdminFixture broker(dir.path());
  CHECK(absl::IsFailedPrecondition(broker.server().Start()));
}

TEST_CASE("ToGrpcStatus: maps each code and keeps the message",
          "[broker][admin]") {
  const std::pair<absl::Status, grpc::StatusCode> cases[] = {
      {absl::NotFoundError("m1"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("m2"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::InvalidArgumentError("m3"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::OutOfRangeError("m4"), grpc::StatusCode::OUT_OF_RANGE},
      {absl::FailedPreconditionError("m5"),
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::UnavailableError("m6"), grpc::StatusCode::UNAVAILABLE},
      {absl::DataLossError("m7"), grpc::StatusCode::INTERNAL},
      {absl::ResourceExhaustedError("m8"), grpc::StatusCode::INTERNAL},
      {absl::AbortedError("m9"), grpc::StatusCode::ABORTED},
  };
  for (const auto& [in, code] : cases) {
    grpc::Status out = ToGrpcStatus(in);
    CHECK(out.error_code() == code);
    CHECK(out.error_message() == std::string(in.message()));
    CHECK(out.error_details().empty());  // no reason, no details
  }
  CHECK(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST_CASE("ToGrpcStatus: a reason and its metadata become ErrorInfo details",
          "[broker][admin]") {
  grpc::Status out = ToGrpcStatus(coordinator::ReasonError(
      absl::StatusCode::kFailedPrecondition, coordinator::kNotCoordinator,
      "go elsewhere", {{"coordinator", "10.0.0.2:9093"}}));
  CHECK(out.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(out.error_message() == "go elsewhere");
  fjord::v1::Status details;
  REQUIRE(details.ParseFromString(out.error_details()));
  CHECK(details.code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(details.message() == "go elsewhere");
  REQUIRE(details.details_size() == 1);
  fjord::v1::ErrorInfo info;
  REQUIRE(details.details(0).UnpackTo(&info));
  CHECK(info.reason() == "NOT_COORDINATOR");
  CHECK(info.domain() == "fjord");
  CHECK(info.metadata().at("coordinator") == "10.0.0.2:9093");
}

}  // namespace
}  // namespace fjord::broker
