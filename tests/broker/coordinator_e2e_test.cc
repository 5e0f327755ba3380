// End-to-end: a real fjord-broker process (path in $FJORD_BROKER, set by
// ctest) serving the coordinator over gRPC on 127.0.0.1, port 0. Committed
// offsets and groups survive kill -9. Every broker started is stopped by its
// PID; waits are bounded.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "proto/coordinator.grpc.pb.h"
#include "tests/util/test_util.h"

extern char** environ;

namespace fjord::broker {
namespace {

namespace cv1 = ::fjord::coordinator::v1;
namespace av1 = ::fjord::admin::v1;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One fjord-broker process; killed (SIGKILL) if still running at the end.
class BrokerProcess {
 public:
  BrokerProcess(std::string data_dir, std::string log_path)
      : data_dir_(std::move(data_dir)), log_path_(std::move(log_path)) {}
  ~BrokerProcess() {
    if (pid_ > 0) Kill();
  }

  // Starts the broker and waits (at most 20 s) for its gRPC port.
  void Start() {
    const char* binary = std::getenv("FJORD_BROKER");
    INFO("FJORD_BROKER must name the fjord-broker binary (ctest sets it)");
    REQUIRE(binary != nullptr);
    std::vector<std::string> args = {
        binary,
        "--data-dir",
        data_dir_,
        "--kafka-addr",
        "127.0.0.1:0",
        "--grpc-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--set",
        "offsets.topic.num.partitions=5",
        "--set",
        "group.min.session.timeout.ms=100",
        "--set",
        "log.preallocate=false",
        "--set",
        "log.segment.bytes=1048576",
        "--set",
        "log.index.size.max.bytes=65536",
    };
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc =
        posix_spawn(&pid_, binary, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    const std::string marker =
        "serving gRPC admin and coordinator on 127.0.0.1:";
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      std::string log = ReadText(log_path_);
      if (size_t at = log.find(marker); at != std::string::npos) {
        port_ = std::stoi(log.substr(at + marker.size()));
        break;
      }
      int status;
      INFO(log);
      REQUIRE(waitpid(pid_, &status, WNOHANG) == 0);  // still running
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto channel = grpc::CreateChannel(absl::StrFormat("127.0.0.1:%d", port_),
                                       grpc::InsecureChannelCredentials());
    admin_ = av1::Admin::NewStub(channel);
    coordinator_ = cv1::Coordinator::NewStub(channel);
  }
  // kill -9, and reap it.
  void Kill() {
    REQUIRE(kill(pid_, SIGKILL) == 0);
    int status;
    REQUIRE(waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
  }
  // SIGTERM; waits (at most 30 s) for a clean exit 0.
  void Stop() {
    // Close the channel first: the server's shutdown waits (up to its grace
    // period) for connected clients.
    admin_.reset();
    coordinator_.reset();
    REQUIRE(kill(pid_, SIGTERM) == 0);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL("fjord-broker did not stop on SIGTERM");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  av1::Admin::Stub& admin() { return *admin_; }
  cv1::Coordinator::Stub& coordinator() { return *coordinator_; }
  std::string log() const { return ReadText(log_path_); }

 private:
  const std::string data_dir_;
  const std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
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

std::map<std::string, int64_t> Fetch(BrokerProcess& b,
                                     const std::string& group) {
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
  BrokerProcess b(dir.Sub("data"), dir.Sub("broker.log"));
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
