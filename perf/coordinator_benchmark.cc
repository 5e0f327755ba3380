// Benchmarks of the consumer group coordinator: heartbeats per second in
// process and over loopback gRPC, offset commits, and how long a member's
// partitions take to reach the others after it leaves. See perf/README.md.
//
// Each benchmark runs a broker's pieces (LogManager, TopicManager,
// CoordinatorService on a GrpcServer at 127.0.0.1:0) in a fresh directory
// under $TMPDIR (or /tmp) named fjord-bench-XXXXXX, removed at the end.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "broker/broker_config.h"
#include "broker/coordinator_service.h"
#include "broker/grpc_server.h"
#include "broker/topic_manager.h"
#include "grpcpp/grpcpp.h"
#include "log/log_manager.h"
#include "proto/coordinator.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {
namespace {

namespace cv1 = ::fjord::coordinator::v1;
namespace co = ::fjord::coordinator;

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string t =
      std::string(base != nullptr ? base : "/tmp") + "/fjord-bench-XXXXXX";
  if (mkdtemp(t.data()) == nullptr) std::abort();
  return t;
}

// The broker's coordinator pieces on loopback, with one topic "events".
class BenchBroker {
 public:
  explicit BenchBroker(int32_t partitions) : dir_(MakeTempDir()) {
    spdlog::set_level(spdlog::level::warn);
    config_.data_dir = dir_;
    config_.grpc_address = HostPort{"127.0.0.1", 0};
    Check(config_.Set("log.preallocate", "false"));
    Check(config_.Set("log.segment.bytes", "67108864"));
    Check(config_.Set("log.index.size.max.bytes", "1048576"));
    config_.coordinator.offsets_topic_partitions = 8;
    log::LogManagerOptions o;
    o.data_dir = dir_;
    o.default_config = config_.log_defaults;
    logs_ = Value(log::LogManager::Open(o));
    topics_ =
        Value(TopicManager::Open(logs_.get(), config_.log_defaults, dir_));
    Value(topics_->Create("events", partitions, {}, false));
    server_ = std::make_unique<GrpcServer>(config_.grpc_address);
    service_ =
        Value(CoordinatorService::Open(&config_, topics_.get(), server_.get()));
    server_->AddService(service_->service());
    Check(server_->Start());
  }
  ~BenchBroker() {
    server_->Stop();
    service_.reset();
    topics_.reset();
    Check(logs_->Close());
    logs_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<cv1::Coordinator::Stub> NewStub() {
    grpc::ChannelArguments args;
    // A channel of its own per caller: separate connections.
    args.SetInt("fjord.bench.channel", next_channel_++);
    return cv1::Coordinator::NewStub(grpc::CreateCustomChannel(
        absl::StrFormat("127.0.0.1:%d", server_->port()),
        grpc::InsecureChannelCredentials(), args));
  }
  co::GroupCoordinator& coordinator() { return *service_->coordinator(); }

 private:
  static void Check(const absl::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "benchmark setup: %s\n", s.ToString().c_str());
      std::abort();
    }
  }
  template <typename T>
  static T Value(absl::StatusOr<T> v) {
    Check(v.status());
    return std::move(*v);
  }

  const std::string dir_;
  BrokerConfig config_;
  std::unique_ptr<log::LogManager> logs_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<CoordinatorService> service_;
  int next_channel_ = 0;
};

// A member over gRPC that follows the protocol (revokes at its next
// heartbeat).
class Member {
 public:
  Member(cv1::Coordinator::Stub* stub, std::string group)
      : stub_(stub), group_(std::move(group)) {}
  bool Beat() {
    for (const auto& p : revoking_) owned_.erase(p);
    revoking_.clear();
    cv1::HeartbeatRequest r;
    r.set_group_id(group_);
    r.set_member_id(id_);
    r.set_member_epoch(epoch_);
    r.add_subscribed_topic_names("events");
    if (!owned_.empty()) {
      cv1::TopicPartitions* t = r.add_owned_partitions();
      t->set_topic("events");
      for (int32_t p : owned_) t->add_partitions(p);
    }
    cv1::HeartbeatResponse out;
    grpc::ClientContext context;
    if (!stub_->Heartbeat(&context, r, &out).ok()) return false;
    id_ = out.member_id();
    epoch_ = out.member_epoch();
    owned_.clear();
    for (const auto& t : out.assignment().assigned()) {
      owned_.insert(t.partitions().begin(), t.partitions().end());
    }
    for (const auto& t : out.assignment().revoking()) {
      revoking_.insert(t.partitions().begin(), t.partitions().end());
      owned_.insert(t.partitions().begin(), t.partitions().end());
    }
    pending_ = out.assignment().pending_size() > 0;
    return true;
  }
  bool Leave() {
    cv1::LeaveGroupRequest r;
    r.set_group_id(group_);
    r.set_member_id(id_);
    cv1::LeaveGroupResponse out;
    grpc::ClientContext context;
    owned_.clear();
    revoking_.clear();
    id_.clear();
    epoch_ = 0;
    return stub_->LeaveGroup(&context, r, &out).ok();
  }
  bool Commit(int32_t partition, int64_t offset) {
    cv1::CommitOffsetsRequest r;
    r.set_group_id(group_);
    r.set_member_id(id_);
    r.set_member_epoch(epoch_);
    cv1::TopicOffsets* t = r.add_topics();
    t->set_topic("events");
    cv1::PartitionOffset* p = t->add_partitions();
    p->set_partition(partition);
    p->set_offset(offset);
    cv1::CommitOffsetsResponse out;
    grpc::ClientContext context;
    return stub_->CommitOffsets(&context, r, &out).ok();
  }
  bool settled() const { return revoking_.empty() && !pending_; }
  const std::set<int32_t>& owned() const { return owned_; }

 private:
  cv1::Coordinator::Stub* stub_;
  std::string group_;
  std::string id_;
  int32_t epoch_ = 0;
  std::set<int32_t> owned_, revoking_;
  bool pending_ = false;
};

void Settle(std::vector<Member*> members) {
  for (int round = 0; round < 50; round++) {
    bool settled = true;
    for (Member* m : members) {
      if (!m->Beat()) std::abort();
      settled &= m->settled();
    }
    if (settled) return;
  }
  std::abort();
}

BenchBroker* shared_broker = nullptr;

// Heartbeats of stable members in process: the coordinator's own cost
// (lookups, checks, the response), without gRPC.
void BM_HeartbeatInProcess(benchmark::State& state) {
  BenchBroker broker(12);
  co::GroupCoordinator& c = broker.coordinator();
  const int members = static_cast<int>(state.range(0));
  std::vector<co::HeartbeatRequest> requests(members);
  for (int settle = 0; settle < 5; settle++) {
    for (auto& r : requests) {
      r.group_id = "bench";
      r.subscribed_topics = {"events"};
      auto out = c.Heartbeat(r);
      if (!out.ok()) std::abort();
      r.member_id = out->member_id;
      r.member_epoch = out->member_epoch;
      r.owned = out->assignment->assigned;
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    auto out = c.Heartbeat(requests[i]);
    benchmark::DoNotOptimize(out);
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HeartbeatInProcess)->Arg(3)->Arg(100);

// Heartbeats over loopback gRPC: each benchmark thread is one member of
// group "bench" (12 partitions) with its own channel, heartbeating back to
// back. The broker is made before the threads start and destroyed after.
void StartSharedBroker(const benchmark::State&) {
  shared_broker = new BenchBroker(12);
}
void StopSharedBroker(const benchmark::State&) {
  delete shared_broker;
  shared_broker = nullptr;
}
void BM_HeartbeatGrpc(benchmark::State& state) {
  auto stub = shared_broker->NewStub();
  Member member(stub.get(), "bench");
  if (!member.Beat()) state.SkipWithError("join failed");
  for (auto _ : state) {
    if (!member.Beat()) state.SkipWithError("heartbeat failed");
  }
  state.SetItemsProcessed(state.iterations());
  member.Leave();
}
BENCHMARK(BM_HeartbeatGrpc)
    ->Setup(StartSharedBroker)
    ->Teardown(StopSharedBroker)
    ->ThreadRange(1, 16)
    ->UseRealTime();

// Offset commits of one partition over gRPC, each appended and fsynced to
// __consumer_offsets before the reply (offsets.commit.required.acks=-1).
void BM_CommitGrpc(benchmark::State& state) {
  BenchBroker broker(12);
  auto stub = broker.NewStub();
  Member m(stub.get(), "committer");
  Settle({&m});
  int64_t offset = 0;
  for (auto _ : state) {
    if (!m.Commit(0, ++offset)) state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CommitGrpc)->UseRealTime();

// From LeaveGroup of one of three members (12 partitions) until the two
// others, heartbeating back to back over gRPC, own all 12: the server-side
// reassignment, plus the heartbeats it takes (a real member heartbeats
// every heartbeat interval, so add up to one interval to this). The leaver
// rejoins, untimed, before the next iteration.
void BM_LeaveToReassigned(benchmark::State& state) {
  BenchBroker broker(12);
  auto s1 = broker.NewStub(), s2 = broker.NewStub(), s3 = broker.NewStub();
  Member a(s1.get(), "g"), b(s2.get(), "g"), c(s3.get(), "g");
  Settle({&a, &b, &c});
  int64_t heartbeats = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (!c.Leave()) std::abort();
    while (a.owned().size() + b.owned().size() < 12 || !a.settled() ||
           !b.settled()) {
      if (!a.Beat() || !b.Beat()) std::abort();
      heartbeats += 2;
    }
    const auto end = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    Settle({&a, &b, &c});  // c rejoins; untimed (manual time)
  }
  state.counters["heartbeats_each"] = benchmark::Counter(
      static_cast<double>(heartbeats) / state.iterations() / 2);
}
BENCHMARK(BM_LeaveToReassigned)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The same without gRPC: from GroupCoordinator::LeaveGroup until the two
// survivors' next heartbeats own all 12 partitions; the coordinator's own
// part of the reassignment.
void BM_LeaveToReassignedInProcess(benchmark::State& state) {
  BenchBroker broker(12);
  co::GroupCoordinator& c = broker.coordinator();
  std::vector<co::HeartbeatRequest> m(3);
  auto beat = [&](co::HeartbeatRequest& r) {
    r.group_id = "g";
    r.subscribed_topics = {"events"};
    auto out = c.Heartbeat(r);
    if (!out.ok()) std::abort();
    r.member_id = out->member_id;
    r.member_epoch = out->member_epoch;
    r.owned = out->assignment->assigned;  // revoking dropped at once
    return out->assignment->revoking.empty() &&
           out->assignment->pending.empty();
  };
  auto settle = [&](size_t n) {
    for (int round = 0; round < 50; round++) {
      bool done = true;
      for (size_t i = 0; i < n; i++) done &= beat(m[i]);
      if (done) return;
    }
    std::abort();
  };
  settle(3);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (!c.LeaveGroup("g", m[2].member_id, false).ok()) std::abort();
    do {
      beat(m[0]);
      beat(m[1]);
    } while (m[0].owned.size() + m[1].owned.size() < 12);
    const auto end = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    m[2] = co::HeartbeatRequest();
    settle(3);  // the leaver rejoins; untimed (manual time)
  }
}
BENCHMARK(BM_LeaveToReassignedInProcess)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace fjord::broker

BENCHMARK_MAIN();
