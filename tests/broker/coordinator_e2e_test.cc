// End-to-end: a real fjord-broker process (path in $FJORD_BROKER, set by
// ctest) serving the coordinator over gRPC on 127.0.0.1, port 0. Committed
// offsets and groups survive kill -9. Every broker started is stopped by its
// PID; waits are bounded.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "proto/coordinator.grpc.pb.h"
#include "tests/util/broker_process.h"
#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

namespace cv1 = ::fjord::coordinator::v1;
namespace av1 = ::fjord::admin::v1;

// A real broker (tests/util/broker_process.h) and gRPC stubs on its admin
// and coordinator port; killed (SIGKILL) if still running at the end.
class Broker {
 public:
  explicit Broker(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  // Starts the broker (again, after Kill or Stop, on the same data
  // directory) and connects to its gRPC port.
  void Start() {
    if (process_ == nullptr) {
      testing::BrokerProcess::Options o;
      o.data_dir = data_dir_;
      o.args = {
          "--set", "offsets.topic.num.partitions=5",
          "--set", "group.min.session.timeout.ms=100",
          "--set", "log.preallocate=false",
          "--set", "log.segment.bytes=1048576",
          "--set", "log.index.size.max.bytes=65536",
      };
      process_ = testing::MustStartBroker(std::move(o));
    } else {
      absl::Status s = process_->Restart();
      INFO(s.ToString());
      REQUIRE(s.ok());
    }
    auto channel = grpc::CreateChannel(process_->admin(),
                                       grpc::InsecureChannelCredentials());
    admin_ = av1::Admin::NewStub(channel);
    coordinator_ = cv1::Coordinator::NewStub(channel);
  }
  // kill -9, and reap it.
  void Kill() {
    REQUIRE(process_->running());
    process_->Kill();
  }
  // SIGTERM; waits (at most 30 s) for a clean exit 0.
  void Stop() {
    // Close the channel first: the server's shutdown waits (up to its grace
    // period) for connected clients.
    admin_.reset();
    coordinator_.reset();
    absl::Status s = process_->Stop();
    INFO(s.ToString());
    CHECK(s.ok());
  }

  av1::Admin::Stub& admin() { return *admin_; }
  cv1::Coordinator::Stub& coordinator() { return *coordinator_; }
  std::string log() const { return process_->Log(); }

 private:
  const std::string data_dir_;
  std::unique_ptr<testing::BrokerProcess> process_;
  std::unique_ptr<av1::Admin::Stub> admin_;
  std::unique_ptr<cv1::Coordinator::Stub> coordinator_;
};

template <typename Stub, typename Request, typename Response, typename Method>
grpc::Status Call(Stub& stub, Method method, const Request& request,
                  Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  return (stub.*method)(&context, request, response);
}

std::map<std::string, int64_t> Fetch(Broker& b, const std::string& group) {
  cv1::FetchOffsetsRequest r;
  r.set_group_id(group);
  cv1::FetchOffsetsResponse out;
  grpc::Status s =
      Call(b.coordinator(), &cv1::Coordinator::Stub::FetchOffsets, r, &out);
  INFO(s.error_message());
  REQUIRE(s.ok());
  std::map<std::string, int64_t> m;
  for (const auto& o : out.offsets()) {
    m[absl::StrFormat("%s-%d", o.topic(), o.partition())] = o.offset();
  }
  return m;
}

TEST_CASE(
    "Coordinator e2e: committed offsets and groups survive kill -9 of a real "
    "broker",
    "[e2e]") {
  testing::TempDir dir;
  Broker b(dir.Sub("data"));
  b.Start();
  av1::CreateTopicRequest create;
  create.set_name("events");
  create.set_partitions(3);
  av1::TopicDescription topic;
  REQUIRE(Call(b.admin(), &av1::Admin::Stub::CreateTopic, create, &topic).ok());

  // Two members join and split the topic.
  std::vector<cv1::HeartbeatResponse> members(2);
  for (auto& m : members) {
    cv1::HeartbeatRequest r;
    r.set_group_id("survivors");
    r.add_subscribed_topic_names("events");
    REQUIRE(
        Call(b.coordinator(), &cv1::Coordinator::Stub::Heartbeat, r, &m).ok());
  }
  // The first member's epoch moved on when the second joined; a heartbeat
  // brings it up to date before it commits.
  cv1::HeartbeatRequest again;
  again.set_group_id("survivors");
  again.set_member_id(members[0].member_id());
  again.set_member_epoch(members[0].member_epoch());
  again.add_subscribed_topic_names("events");
  REQUIRE(Call(b.coordinator(), &cv1::Coordinator::Stub::Heartbeat, again,
               &members[0])
              .ok());
  for (int i = 0; i < 2; i++) {
    cv1::CommitOffsetsRequest c;
    c.set_group_id("survivors");
    c.set_member_id(members[i].member_id());
    c.set_member_epoch(members[i].member_epoch());
    cv1::TopicOffsets* t = c.add_topics();
    t->set_topic("events");
    cv1::PartitionOffset* p = t->add_partitions();
    p->set_partition(i);
    p->set_offset(1000 + i);
    p->set_metadata("before the crash");
    cv1::CommitOffsetsResponse ok;
    grpc::Status s =
        Call(b.coordinator(), &cv1::Coordinator::Stub::CommitOffsets, c, &ok);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
  // A second group committing from outside (no members).
  cv1::CommitOffsetsRequest simple;
  simple.set_group_id("simple");
  simple.set_member_epoch(-1);
  cv1::TopicOffsets* t = simple.add_topics();
  t->set_topic("events");
  cv1::PartitionOffset* p = t->add_partitions();
  p->set_partition(2);
  p->set_offset(42);
  cv1::CommitOffsetsResponse ok;
  REQUIRE(
      Call(b.coordinator(), &cv1::Coordinator::Stub::CommitOffsets, simple, &ok)
          .ok());
  const std::map<std::string, int64_t> expected = {{"events-0", 1000},
                                                   {"events-1", 1001}};
  CHECK(Fetch(b, "survivors") == expected);

  b.Kill();  // no clean shutdown: the acknowledged commits were fsynced
  b.Start();
  INFO(b.log());
  CHECK(b.log().find("consumer groups: 2 groups, 3 committed offsets") !=
        std::string::npos);
  CHECK(Fetch(b, "survivors") == expected);
  CHECK(Fetch(b, "simple") == std::map<std::string, int64_t>{{"events-2", 42}});
  cv1::ListGroupsResponse groups;
  REQUIRE(Call(b.coordinator(), &cv1::Coordinator::Stub::ListGroups,
               cv1::ListGroupsRequest(), &groups)
              .ok());
  REQUIRE(groups.groups_size() == 2);
  CHECK(groups.groups(0).group_id() == "simple");
  CHECK(groups.groups(1).group_id() == "survivors");
  CHECK(groups.groups(1).state() == cv1::GROUP_STATE_EMPTY);
  // Membership is soft state: the old members must join again, and can.
  cv1::HeartbeatResponse out;
  grpc::Status s =
      Call(b.coordinator(), &cv1::Coordinator::Stub::Heartbeat, again, &out);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  again.set_member_epoch(0);
  REQUIRE(Call(b.coordinator(), &cv1::Coordinator::Stub::Heartbeat, again, &out)
              .ok());
  CHECK(out.assignment().assigned_size() == 1);  // the whole topic, one entry
  CHECK(out.assignment().assigned(0).partitions_size() == 3);

  // A clean stop, and everything once more.
  b.Stop();
  b.Start();
  CHECK(Fetch(b, "survivors") == expected);
  b.Stop();
}

}  // namespace
}  // namespace fjord::broker
