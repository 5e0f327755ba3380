// The consumer group coordinator over a real gRPC channel on loopback, next
// to the Admin service on the same server, backed by a LogManager and
// TopicManager in a temporary directory and a manual clock. Several members
// are played through the generated stubs, following the protocol in
// proto/coordinator.proto.
#include "broker/coordinator_service.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "broker/admin_service.h"
#include "broker/broker_config.h"
#include "broker/grpc_server.h"
#include "broker/metrics.h"
#include "broker/topic_manager.h"
#include "grpcpp/grpcpp.h"
#include "log/clock.h"
#include "log/log_manager.h"
#include "proto/admin.grpc.pb.h"
#include "proto/coordinator.grpc.pb.h"
#include "proto/error_details.pb.h"
#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

namespace cv1 = ::fjord::coordinator::v1;
namespace av1 = ::fjord::admin::v1;
using Partitions = std::set<TopicPartition>;

// A broker without the Kafka side: logs, topics, and one gRPC server with
// the Admin and Coordinator services, plus stubs connected to it.
class Broker {
 public:
  explicit Broker(const std::string& data_dir) {
    config_.data_dir = data_dir;
    config_.grpc_address = HostPort{"127.0.0.1", 0};
    REQUIRE(config_.Set("log.segment.bytes", "1048576").ok());
    REQUIRE(config_.Set("log.preallocate", "false").ok());
    REQUIRE(config_.Set("log.index.size.max.bytes", "65536").ok());
    coordinator::CoordinatorOptions& c = config_.coordinator;
    c.offsets_topic_partitions = 4;
    c.start_timer = false;  // the tests move the clock and call Tick()
    c.min_session_timeout_ms = 100;
    c.default_session_timeout_ms = 1'000;
    c.heartbeat_interval_ms = 100;
    Open();
  }
  ~Broker() { Close(); }

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
    auto service = CoordinatorService::Open(&config_, topics_.get(),
                                            server_.get(), &clock_, &report_);
    INFO(service.status().ToString());
    REQUIRE(service.ok());
    coordinator_ = std::move(*service);
    server_->AddService(admin_->service());
    server_->AddService(coordinator_->service());
    absl::Status s = server_->Start();
    INFO(s.ToString());
    REQUIRE(s.ok());
    auto channel =
        grpc::CreateChannel(absl::StrFormat("127.0.0.1:%d", server_->port()),
                            grpc::InsecureChannelCredentials());
    admin_stub_ = av1::Admin::NewStub(channel);
    stub_ = cv1::Coordinator::NewStub(channel);
  }

  // A clean shutdown, in the order fjord-broker does it.
  void Close() {
    stub_.reset();
    admin_stub_.reset();
    if (server_) server_->Stop();
    server_.reset();
    coordinator_.reset();
    admin_.reset();
    topics_.reset();
    if (logs_) CHECK(logs_->Close().ok());
    logs_.reset();
  }

  void CreateTopic(const std::string& name, int32_t partitions) {
    REQUIRE(topics_->Create(name, partitions, {}, false).ok());
  }
  void Produce(const std::string& topic, int32_t p, int records) {
    auto partition = topics_->GetPartition(topic, p);
    REQUIRE(partition != nullptr);
    testing::MustAppend(partition->log(), testing::MakeBatch(records));
  }
  // Moves the clock and lets the coordinator expire members.
  void Advance(int64_t ms) {
    clock_.AdvanceMs(ms);
    coordinator_->coordinator()->Tick();
  }

  cv1::Coordinator::Stub& stub() { return *stub_; }
  av1::Admin::Stub& admin() { return *admin_stub_; }
  GrpcServer& server() { return *server_; }
  CoordinatorService& service() { return *coordinator_; }
  const coordinator::LoadReport& report() const { return report_; }

 private:
  BrokerConfig config_;
  log::ManualClock clock_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<CoordinatorService> coordinator_;
  std::unique_ptr<av1::Admin::Stub> admin_stub_;
  std::unique_ptr<cv1::Coordinator::Stub> stub_;
  coordinator::LoadReport report_;
};

template <typename Stub, typename Request, typename Response, typename Method>
grpc::Status Call(Stub& stub, Method method, const Request& request,
                  Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  return (stub.*method)(&context, request, response);
}

// The ErrorInfo reason in a failed call's details, "" if none.
std::string Reason(const grpc::Status& s,
                   std::map<std::string, std::string>* metadata = nullptr) {
  fjord::v1::Status details;
  if (!details.ParseFromString(s.error_details()) ||
      details.details_size() != 1) {
    return "";
  }
  fjord::v1::ErrorInfo info;
  if (!details.details(0).UnpackTo(&info)) return "";
  if (metadata != nullptr) {
    metadata->insert(info.metadata().begin(), info.metadata().end());
  }
  return info.reason();
}

Partitions FromProto(
    const google::protobuf::RepeatedPtrField<cv1::TopicPartitions>& in) {
  Partitions out;
  for (const auto& t : in) {
    for (int32_t p : t.partitions()) out.insert({t.topic(), p});
  }
  return out;
}

void ToProto(const Partitions& in,
             google::protobuf::RepeatedPtrField<cv1::TopicPartitions>* out) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& tp : in) by_topic[tp.topic].push_back(tp.partition);
  for (const auto& [t, ps] : by_topic) {
    cv1::TopicPartitions* x = out->Add();
    x->set_topic(t);
    for (int32_t p : ps) x->add_partitions(p);
  }
}

// A consumer following the member state machine: it starts what it is
// assigned, keeps consuming what it must revoke until its next heartbeat
// (it commits first), then reports the rest as owned. It records every
// assignment it was given.
class Member {
 public:
  // `broker` must outlive the member (it may restart meanwhile).
  Member(Broker* broker, std::string group, std::vector<std::string> topics,
         std::string instance_id = "")
      : broker_(broker),
        group_(std::move(group)),
        topics_(std::move(topics)),
        instance_id_(std::move(instance_id)) {}

  grpc::Status Beat() {
    for (const auto& tp : revoking_) owned_.erase(tp);
    revoking_.clear();
    cv1::HeartbeatRequest r;
    r.set_group_id(group_);
    r.set_member_id(id_);
    r.set_member_epoch(epoch_);
    r.set_instance_id(instance_id_);
    for (const auto& t : topics_) r.add_subscribed_topic_names(t);
    ToProto(owned_, r.mutable_owned_partitions());
    cv1::HeartbeatResponse response;
    grpc::Status s =
        Call(broker_->stub(), &cv1::Coordinator::Stub::Heartbeat, r, &response);
    if (!s.ok()) return s;
    id_ = response.member_id();
    epoch_ = response.member_epoch();
    interval_ms_ = response.heartbeat_interval_ms();
    Partitions assigned = FromProto(response.assignment().assigned());
    revoking_ = FromProto(response.assignment().revoking());
    pending_ = FromProto(response.assignment().pending());
    history_.push_back(assigned);
    owned_ = assigned;
    owned_.insert(revoking_.begin(), revoking_.end());
    return s;
  }
  grpc::Status Leave(bool temporary = false) {
    cv1::LeaveGroupRequest r;
    r.set_group_id(group_);
    r.set_member_id(id_);
    r.set_temporary(temporary);
    cv1::LeaveGroupResponse ignored;
    grpc::Status s =
        Call(broker_->stub(), &cv1::Coordinator::Stub::LeaveGroup, r, &ignored);
    if (s.ok()) {
      owned_.clear();
      revoking_.clear();
    }
    return s;
  }
  grpc::Status Commit(int32_t partition, int64_t offset) {
    cv1::CommitOffsetsRequest r;
    r.set_group_id(group_);
    r.set_member_id(id_);
    r.set_member_epoch(epoch_);
    cv1::TopicOffsets* t = r.add_topics();
    t->set_topic(topics_.at(0));
    cv1::PartitionOffset* p = t->add_partitions();
    p->set_partition(partition);
    p->set_offset(offset);
    cv1::CommitOffsetsResponse ignored;
    return Call(broker_->stub(), &cv1::Coordinator::Stub::CommitOffsets, r,
                &ignored);
  }

  bool reconciling() const { return !revoking_.empty() || !pending_.empty(); }
  const std::string& id() const { return id_; }
  int32_t epoch() const { return epoch_; }
  int32_t interval_ms() const { return interval_ms_; }
  const Partitions& owned() const { return owned_; }
  const std::vector<Partitions>& history() const { return history_; }

 private:
  Broker* broker_;
  std::string group_;
  std::vector<std::string> topics_;
  std::string instance_id_;
  std::string id_;
  int32_t epoch_ = 0;
  int32_t interval_ms_ = 0;
  Partitions owned_, revoking_, pending_;
  std::vector<Partitions> history_;
};

void CheckDisjoint(const std::vector<Member*>& members) {
  std::map<TopicPartition, std::string> owner;
  for (const Member* m : members) {
    for (const auto& tp : m->owned()) {
      INFO(tp.ToString() << " owned by both " << owner[tp] << " and "
                         << m->id());
      CHECK(owner[tp].empty());
      owner[tp] = m->id();
    }
  }
}

void Settle(const std::vector<Member*>& members) {
  for (int round = 0; round < 20; round++) {
    bool busy = false;
    for (Member* m : members) {
      const Partitions before = m->owned();
      const int32_t epoch = m->epoch();
      grpc::Status s = m->Beat();
      INFO(s.error_message());
      REQUIRE(s.ok());
      CheckDisjoint(members);
      busy |= before != m->owned() || epoch != m->epoch() || m->reconciling();
    }
    if (!busy) return;
  }
  FAIL("the group did not settle in 20 rounds");
}

size_t Owned(const std::vector<Member*>& members) {
  size_t n = 0;
  for (const Member* m : members) n += m->owned().size();
  return n;
}

bool IsSuperset(const Partitions& a, const Partitions& b) {
  return std::includes(a.begin(), a.end(), b.begin(), b.end());
}

cv1::DescribeGroupResponse Describe(Broker& b, const std::string& group) {
  cv1::DescribeGroupRequest r;
  r.set_group_id(group);
  cv1::DescribeGroupResponse d;
  grpc::Status s =
      Call(b.stub(), &cv1::Coordinator::Stub::DescribeGroup, r, &d);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return d;
}

std::map<std::string, int64_t> Fetch(Broker& b, const std::string& group) {
  cv1::FetchOffsetsRequest r;
  r.set_group_id(group);
  cv1::FetchOffsetsResponse out;
  REQUIRE(Call(b.stub(), &cv1::Coordinator::Stub::FetchOffsets, r, &out).ok());
  std::map<std::string, int64_t> m;
  for (const auto& o : out.offsets()) {
    m[absl::StrFormat("%s-%d", o.topic(), o.partition())] = o.offset();
  }
  return m;
}

TEST_CASE(
    "Coordinator over gRPC: one server hosts Admin and Coordinator, and "
    "FindCoordinator names it",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  av1::ListTopicsResponse topics;
  REQUIRE(Call(b.admin(), &av1::Admin::Stub::ListTopics,
               av1::ListTopicsRequest(), &topics)
              .ok());
  CHECK(topics.topics_size() == 0);  // internal topics only when asked for
  av1::ListTopicsRequest all;
  all.set_include_internal(true);
  REQUIRE(Call(b.admin(), &av1::Admin::Stub::ListTopics, all, &topics).ok());
  // The internal topic is created at start, compacted.
  REQUIRE(topics.topics_size() == 1);
  CHECK(topics.topics(0).name() == "__consumer_offsets");
  CHECK(topics.topics(0).internal());
  CHECK(topics.topics(0).partitions() == 4);
  av1::DescribeTopicRequest dt;
  dt.set_name("__consumer_offsets");
  av1::TopicDescription d;
  REQUIRE(Call(b.admin(), &av1::Admin::Stub::DescribeTopic, dt, &d).ok());
  for (const auto& c : d.configs()) {
    if (c.name() == "cleanup.policy") CHECK(c.value() == "compact");
  }

  cv1::FindCoordinatorRequest r;
  r.set_group_id("analytics");
  cv1::FindCoordinatorResponse found;
  REQUIRE(
      Call(b.stub(), &cv1::Coordinator::Stub::FindCoordinator, r, &found).ok());
  CHECK(found.host() == "127.0.0.1");
  CHECK(found.port() == b.server().port());
  CHECK(found.offsets_partition() == 1693017210 % 4);  // |hashCode| % 4
}

TEST_CASE(
    "Coordinator over gRPC: three members on a 12-partition topic; a member "
    "that stops heartbeating is evicted after the session timeout and the "
    "others' partitions never leave them",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 12);
  Member m1(&b, "g", {"events"}), m2(&b, "g", {"events"}),
      m3(&b, "g", {"events"});
  Settle({&m1, &m2, &m3});
  // Every partition owned by exactly one member.
  CHECK(Owned({&m1, &m2, &m3}) == 12);
  for (Member* m : {&m1, &m2, &m3}) CHECK(m->owned().size() == 4);
  CHECK(m1.interval_ms() == 100);
  cv1::DescribeGroupResponse d = Describe(b, "g");
  CHECK(d.state() == cv1::GROUP_STATE_STABLE);
  CHECK(d.members_size() == 3);

  const Partitions lost = m3.owned();
  const size_t from1 = m1.history().size(), from2 = m2.history().size();
  // m3 falls silent; m1 and m2 keep heartbeating every 300 ms.
  for (int i = 0; i < 3; i++) {
    b.Advance(300);
    REQUIRE(m1.Beat().ok());
    REQUIRE(m2.Beat().ok());
  }
  CHECK(Describe(b, "g").members_size() == 3);  // 900 ms: not yet
  b.Advance(150);                               // 1050 ms since m3's last
  CHECK(Describe(b, "g").members_size() == 2);
  Settle({&m1, &m2});
  CHECK(Owned({&m1, &m2}) == 12);
  for (const auto& tp : lost) {
    CHECK((m1.owned().contains(tp) || m2.owned().contains(tp)));
  }
  for (Member* m : {&m1, &m2}) {
    const size_t from = m == &m1 ? from1 : from2;
    for (size_t i = from; i < m->history().size(); i++) {
      INFO("assignment " << i);
      CHECK(IsSuperset(m->history()[i], m->history()[i - 1]));
    }
  }
  grpc::Status s = m3.Beat();
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(Reason(s) == "UNKNOWN_MEMBER_ID");
}

TEST_CASE(
    "Coordinator over gRPC: members added and removed in sequence never own "
    "a partition at the same time",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 12);
  std::mt19937 rng(2024);
  std::vector<std::unique_ptr<Member>> members;
  auto all = [&] {
    std::vector<Member*> out;
    for (auto& m : members) out.push_back(m.get());
    return out;
  };
  int joins = 0, leaves = 0;
  for (int step = 0; step < 150; step++) {
    const int action = rng() % 8;
    if (members.empty() || (action == 0 && members.size() < 5)) {
      members.push_back(std::make_unique<Member>(
          &b, "g", std::vector<std::string>{"events"}));
      REQUIRE(members.back()->Beat().ok());
      joins++;
    } else if (action == 1 && members.size() > 1) {
      const size_t i = rng() % members.size();
      REQUIRE(members[i]->Leave().ok());
      members.erase(members.begin() + i);
      leaves++;
    } else {
      Member* m = members[rng() % members.size()].get();
      grpc::Status s = m->Beat();
      INFO(s.error_message());
      REQUIRE(s.ok());
    }
    CheckDisjoint(all());
  }
  CHECK(joins > 3);
  CHECK(leaves > 3);
  Settle(all());
  CHECK(Owned(all()) == 12);
}

TEST_CASE(
    "Coordinator over gRPC: commits are fenced by epoch; fetch, describe with "
    "lag, reset and delete",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 2);
  b.Produce("events", 0, 10);
  b.Produce("events", 1, 4);
  Member m(&b, "g", {"events"});
  REQUIRE(m.Beat().ok());
  REQUIRE(m.Commit(0, 6).ok());

  // A stale epoch: a member that missed a rebalance.
  Member stale = m;
  Member other(&b, "g", {"events"});
  REQUIRE(other.Beat().ok());
  REQUIRE(m.Beat().ok());  // revoking one partition
  REQUIRE(m.Beat().ok());  // revoked: a new epoch
  REQUIRE(m.epoch() > stale.epoch());
  grpc::Status s = stale.Commit(0, 7);
  CHECK(s.error_code() == grpc::StatusCode::ABORTED);
  CHECK(Reason(s) == "STALE_MEMBER_EPOCH");
  CHECK(Fetch(b, "g") == std::map<std::string, int64_t>{{"events-0", 6}});

  cv1::DescribeGroupResponse d = Describe(b, "g");
  REQUIRE(d.partitions_size() == 2);
  CHECK(d.partitions(0).committed_offset() == 6);
  CHECK(d.partitions(0).log_end_offset() == 10);
  CHECK(d.partitions(0).lag() == 4);
  CHECK(d.partitions(1).committed_offset() == -1);
  CHECK(d.partitions(1).log_end_offset() == 4);
  CHECK(d.partitions(1).lag() == -1);
  CHECK(d.members_size() == 2);

  cv1::ResetOffsetsRequest reset;
  reset.set_group_id("g");
  reset.set_strategy(cv1::ResetOffsetsRequest::EARLIEST);
  cv1::TopicPartitions* tp = reset.add_partitions();
  tp->set_topic("events");
  cv1::ResetOffsetsResponse changes;
  s = Call(b.stub(), &cv1::Coordinator::Stub::ResetOffsets, reset, &changes);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(Reason(s) == "GROUP_NOT_EMPTY");
  cv1::DeleteGroupRequest del;
  del.set_group_id("g");
  cv1::DeleteGroupResponse deleted;
  s = Call(b.stub(), &cv1::Coordinator::Stub::DeleteGroup, del, &deleted);
  CHECK(Reason(s) == "GROUP_NOT_EMPTY");

  REQUIRE(m.Leave().ok());
  REQUIRE(other.Leave().ok());
  reset.set_dry_run(true);
  changes.Clear();
  REQUIRE(Call(b.stub(), &cv1::Coordinator::Stub::ResetOffsets, reset, &changes)
              .ok());
  REQUIRE(changes.changes_size() == 2);
  CHECK(changes.changes(0).previous_offset() == 6);
  CHECK(changes.changes(0).new_offset() == 0);
  CHECK(Fetch(b, "g") == std::map<std::string, int64_t>{{"events-0", 6}});
  reset.set_dry_run(false);
  reset.set_strategy(cv1::ResetOffsetsRequest::LATEST);
  REQUIRE(Call(b.stub(), &cv1::Coordinator::Stub::ResetOffsets, reset, &changes)
              .ok());
  CHECK(Fetch(b, "g") ==
        std::map<std::string, int64_t>{{"events-0", 10}, {"events-1", 4}});
  cv1::ResetOffsetsRequest no_strategy;
  no_strategy.set_group_id("g");
  s = Call(b.stub(), &cv1::Coordinator::Stub::ResetOffsets, no_strategy,
           &changes);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  cv1::ListGroupsRequest list;
  list.add_states(cv1::GROUP_STATE_EMPTY);
  cv1::ListGroupsResponse groups;
  REQUIRE(
      Call(b.stub(), &cv1::Coordinator::Stub::ListGroups, list, &groups).ok());
  REQUIRE(groups.groups_size() == 1);
  CHECK(groups.groups(0).group_id() == "g");
  REQUIRE(
      Call(b.stub(), &cv1::Coordinator::Stub::DeleteGroup, del, &deleted).ok());
  s = Call(b.stub(), &cv1::Coordinator::Stub::DescribeGroup,
           cv1::DescribeGroupRequest(), &d);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  cv1::DescribeGroupRequest gone;
  gone.set_group_id("g");
  s = Call(b.stub(), &cv1::Coordinator::Stub::DescribeGroup, gone, &d);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(Reason(s) == "GROUP_ID_NOT_FOUND");
}

TEST_CASE(
    "Coordinator over gRPC: a fenced heartbeat names its reason; the member "
    "rejoins and gets its share back",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 4);
  Member m(&b, "g", {"events"});
  REQUIRE(m.Beat().ok());
  cv1::HeartbeatRequest r;
  r.set_group_id("g");
  r.set_member_id(m.id());
  r.set_member_epoch(m.epoch() + 5);
  cv1::HeartbeatResponse out;
  grpc::Status s = Call(b.stub(), &cv1::Coordinator::Stub::Heartbeat, r, &out);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(Reason(s) == "FENCED_MEMBER_EPOCH");
  r.set_member_epoch(0);  // rejoin with the same id, owning nothing
  r.add_subscribed_topic_names("events");
  REQUIRE(Call(b.stub(), &cv1::Coordinator::Stub::Heartbeat, r, &out).ok());
  CHECK(out.member_id() == m.id());
  CHECK(FromProto(out.assignment().assigned()).size() == 4);
  r.set_session_timeout_ms(50);
  s = Call(b.stub(), &cv1::Coordinator::Stub::Heartbeat, r, &out);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Reason(s) == "INVALID_SESSION_TIMEOUT");
}

TEST_CASE(
    "Coordinator over gRPC: a topic that grows is rebalanced onto its new "
    "partitions",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 4);
  Member m1(&b, "g", {"events"}), m2(&b, "g", {"events"});
  Settle({&m1, &m2});
  const Partitions had1 = m1.owned(), had2 = m2.owned();
  av1::CreatePartitionsRequest grow;
  grow.set_name("events");
  grow.set_partitions(10);
  av1::TopicDescription d;
  REQUIRE(Call(b.admin(), &av1::Admin::Stub::CreatePartitions, grow, &d).ok());
  Settle({&m1, &m2});
  CHECK(Owned({&m1, &m2}) == 10);
  CHECK(m1.owned().size() == 5);
  CHECK(IsSuperset(m1.owned(), had1));  // the old ones stay put
  CHECK(IsSuperset(m2.owned(), had2));
}

TEST_CASE(
    "Coordinator over gRPC: a static member restarts within its session "
    "timeout without any partition moving",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 6);
  Member a(&b, "g", {"events"}, "host-a"), c(&b, "g", {"events"}, "host-c");
  Settle({&a, &c});
  const Partitions a_had = a.owned(), c_had = c.owned();
  const int32_t epoch = Describe(b, "g").group_epoch();
  REQUIRE(a.Leave(/*temporary=*/true).ok());
  cv1::DescribeGroupResponse d = Describe(b, "g");
  REQUIRE(d.members_size() == 2);
  b.Advance(700);
  REQUIRE(c.Beat().ok());
  CHECK(c.owned() == c_had);
  Member restarted(&b, "g", {"events"}, "host-a");
  REQUIRE(restarted.Beat().ok());
  CHECK(restarted.owned() == a_had);
  CHECK(Describe(b, "g").group_epoch() == epoch);
  REQUIRE(c.Beat().ok());
  CHECK(c.owned() == c_had);
}

TEST_CASE(
    "Coordinator over gRPC: committed offsets and groups come back after the "
    "broker restarts",
    "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 3);
  Member m(&b, "durable", {"events"});
  REQUIRE(m.Beat().ok());
  REQUIRE(m.Commit(0, 100).ok());
  REQUIRE(m.Commit(2, 7).ok());
  REQUIRE(m.Commit(0, 101).ok());
  b.Close();
  b.Open();
  CHECK(b.report().groups == 1);
  CHECK(b.report().offsets == 2);
  CHECK(Fetch(b, "durable") ==
        std::map<std::string, int64_t>{{"events-0", 101}, {"events-2", 7}});
  cv1::DescribeGroupResponse d = Describe(b, "durable");
  CHECK(d.state() == cv1::GROUP_STATE_EMPTY);
  CHECK(d.members_size() == 0);
  grpc::Status s = m.Beat();
  CHECK(Reason(s) == "UNKNOWN_MEMBER_ID");
}

TEST_CASE("Coordinator metrics: groups, members, heartbeats and rebalances",
          "[broker][coordinator]") {
  testing::TempDir dir;
  Broker b(dir.path());
  b.CreateTopic("events", 2);
  Member m1(&b, "g", {"events"}), m2(&b, "g", {"events"});
  Settle({&m1, &m2});
  std::string out;
  AppendCoordinatorMetrics(b.service().coordinator()->Stats(), &out);
  CHECK_THAT(out, Catch::Contains("fjord_coordinator_groups 1\n"));
  CHECK_THAT(out, Catch::Contains("fjord_coordinator_members 2\n"));
  CHECK_THAT(out, Catch::Contains("# TYPE fjord_coordinator_heartbeats_total "
                                  "counter\n"));
  const auto stats = b.service().coordinator()->Stats();
  CHECK(stats.heartbeats >= 4);
  CHECK(stats.rebalances >= 2);
  CHECK_THAT(out,
             Catch::Contains(absl::StrFormat(
                 "fjord_coordinator_rebalances_total %d\n", stats.rebalances)));
}

}  // namespace
}  // namespace fjord::broker
