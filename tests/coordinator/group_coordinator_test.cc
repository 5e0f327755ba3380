// GroupCoordinator over real logs in a temporary directory (through a
// fault-injecting file system): commits fenced by epoch, fetch, describe
// with lag, resets, deletion, replay of __consumer_offsets after a restart
// or a crash, compaction, NOT_COORDINATOR, and the cluster mode's loading
// and unloading of partitions and waiting for the in-sync replicas.
#include "broker/coordinator/group_coordinator.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "broker/coordinator/errors.h"
#include "broker/coordinator/records.h"
#include "log/fault_injection_file_system.h"
#include "log/log_manager.h"
#include "log/record_batch.h"
#include "tests/util/test_util.h"

namespace fjord::coordinator {
namespace {

using testing::MakeBatch;
using testing::MustAppend;

// Topics as plain logs of a LogManager.
class TopicsOverLogs final : public TopicSource {
 public:
  explicit TopicsOverLogs(log::LogManager* logs) : logs_(logs) {}
  void Create(const std::string& name, int32_t n,
              const log::LogConfig& config) {
    for (int32_t p = 0; p < n; p++) {
      auto log = logs_->GetOrCreate({name, p}, config);
      REQUIRE(log.ok());
      REQUIRE((*log)->SetConfig(config).ok());
    }
    absl::MutexLock l(&mu_);
    counts_[name] = n;
  }
  std::optional<int32_t> PartitionCount(std::string_view topic) const override {
    absl::MutexLock l(&mu_);
    auto it = counts_.find(std::string(topic));
    if (it == counts_.end()) return std::nullopt;
    return it->second;
  }
  std::shared_ptr<log::Log> PartitionLog(std::string_view topic,
                                         int32_t partition) const override {
    std::optional<int32_t> n = PartitionCount(topic);
    if (!n.has_value() || partition < 0 || partition >= *n) return nullptr;
    return logs_->Get({std::string(topic), partition});
  }
  void Appended(std::string_view, int32_t) override { appended_++; }
  int appended() const { return appended_; }
  absl::Status WaitReplicated(std::string_view topic, int32_t partition,
                              Offset end, absl::Duration timeout) override {
    if (!replicated) return absl::OkStatus();
    return replicated(topic, partition, end, timeout);
  }
  // Cluster mode's replicas, played by the test (unset: single node).
  std::function<absl::Status(std::string_view, int32_t, Offset, absl::Duration)>
      replicated;

 private:
  log::LogManager* const logs_;
  mutable absl::Mutex mu_;
  std::map<std::string, int32_t> counts_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> appended_{0};
};

class Fixture {
 public:
  // `configure` may change the settings before the first open.
  explicit Fixture(const std::function<void(Fixture*)>& configure = nullptr) {
    options.offsets_topic_partitions = 3;
    options.start_timer = false;
    options.min_session_timeout_ms = 100;
    options.default_session_timeout_ms = 1'000;
    offsets_config.cleanup_compact = true;
    offsets_config.cleanup_delete = false;
    offsets_config.preallocate = false;
    offsets_config.segment_bytes = 1 << 20;
    offsets_config.segment_index_bytes = 64 << 10;
    offsets_config.flush_ms = -1;  // only explicit flushes make data durable
    data_config.preallocate = false;
    data_config.segment_bytes = 1 << 20;
    data_config.segment_index_bytes = 64 << 10;
    if (configure) configure(this);
    Open();
  }
  ~Fixture() {
    coordinator.reset();
    topics.reset();
    if (logs) CHECK(logs->Close().ok());
  }

  // `loaded`: a single node's Open; otherwise cluster mode's OpenUnloaded.
  void Open(RemoteCoordinator remote = nullptr, bool loaded = true) {
    log::LogManagerOptions o;
    o.data_dir = tmp.Sub("data");
    o.log_options.fs = &fs;
    o.log_options.clock = &clock;
    o.start_flusher = false;
    o.cleaner_enable = false;
    o.default_config = data_config;
    auto m = log::LogManager::Open(o);
    INFO(m.status().ToString());
    REQUIRE(m.ok());
    logs = std::move(*m);
    topics = std::make_unique<TopicsOverLogs>(logs.get());
    topics->Create(std::string(kOffsetsTopic), 3, offsets_config);
    topics->Create("orders", 4, data_config);
    auto c = loaded ? GroupCoordinator::Open(options, topics.get(), &clock,
                                             std::move(remote), &report)
                    : GroupCoordinator::OpenUnloaded(options, topics.get(), 3,
                                                     &clock, std::move(remote));
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    coordinator = std::move(*c);
  }
  // A clean stop and start.
  void Restart() {
    coordinator.reset();
    topics.reset();
    REQUIRE(logs->Close().ok());
    logs.reset();
    Open();
  }
  // Power loss: everything not fsynced is gone.
  void Crash() {
    coordinator.reset();
    topics.reset();
    logs.reset();  // no Close: no clean-shutdown marker
    REQUIRE(fs.DropUnsyncedData().ok());
    Open();
  }

  HeartbeatResponse Join(const std::string& group,
                         std::vector<std::string> topics_ = {"orders"}) {
    HeartbeatRequest r;
    r.group_id = group;
    r.subscribed_topics = std::move(topics_);
    auto out = coordinator->Heartbeat(r);
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    return *out;
  }
  absl::Status Commit(const std::string& group, const std::string& member,
                      int32_t epoch, std::vector<OffsetCommit> offsets) {
    return coordinator->CommitOffsets(
        CommitRequest{group, member, epoch, std::move(offsets)});
  }
  // Committed offsets of `group` as "topic-partition" -> offset.
  std::map<std::string, int64_t> Offsets(const std::string& group) {
    auto out = coordinator->FetchOffsets(group, {});
    REQUIRE(out.ok());
    std::map<std::string, int64_t> m;
    for (const auto& c : *out) m[c.tp.ToString()] = c.value.offset;
    return m;
  }
  log::Log& Data(int32_t p) { return *logs->Get({"orders", p}); }
  log::Log& OffsetsLog(const std::string& group) {
    return *logs->Get(
        {std::string(kOffsetsTopic), coordinator->PartitionFor(group)});
  }

  testing::TempDir tmp;
  log::ManualClock clock;
  log::FaultInjectionFileSystem fs{log::PosixFileSystem()};
  CoordinatorOptions options;
  log::LogConfig offsets_config, data_config;
  std::unique_ptr<log::LogManager> logs;
  std::unique_ptr<TopicsOverLogs> topics;
  std::unique_ptr<GroupCoordinator> coordinator;
  LoadReport report;
};

OffsetCommit At(int32_t p, int64_t offset, std::string metadata = "") {
  return OffsetCommit{TopicPartition{"orders", p}, offset, std::move(metadata)};
}

TEST_CASE(
    "GroupCoordinator: a commit is fenced by the member epoch, and fetch "
    "returns what was committed",
    "[coordinator]") {
  Fixture f;
  HeartbeatResponse a = f.Join("g");
  REQUIRE(f.Commit("g", a.member_id, a.member_epoch, {At(0, 5, "m0"), At(2, 7)})
              .ok());
  absl::Status s = f.Commit("g", a.member_id, a.member_epoch - 1, {At(0, 9)});
  CHECK(absl::IsAborted(s));
  CHECK(ReasonOf(s) == std::string(kStaleMemberEpoch));
  s = f.Commit("g", a.member_id, a.member_epoch + 1, {At(0, 9)});
  CHECK(ReasonOf(s) == std::string(kFencedMemberEpoch));
  s = f.Commit("g", "someone-else", a.member_epoch, {At(0, 9)});
  CHECK(absl::IsNotFound(s));
  CHECK(ReasonOf(s) == std::string(kUnknownMemberId));
  s = f.Commit("g", "", -1, {At(0, 9)});
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(ReasonOf(s) == std::string(kGroupNotEmpty));

  auto all = f.coordinator->FetchOffsets("g", {});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].tp == TopicPartition{"orders", 0});
  CHECK((*all)[0].value.offset == 5);
  CHECK((*all)[0].value.metadata == "m0");
  CHECK((*all)[0].value.commit_timestamp_ms == f.clock.NowMs());
  CHECK((*all)[1].value.offset == 7);
  // A whole topic: every partition, -1 where nothing is committed.
  auto topic = f.coordinator->FetchOffsets("g", {{"orders", {}}});
  REQUIRE(topic.ok());
  REQUIRE(topic->size() == 4);
  CHECK((*topic)[1].value.offset == -1);
  CHECK((*topic)[3].value.offset == -1);
  // An unknown group has nothing, which is not an error.
  auto none = f.coordinator->FetchOffsets("nobody", {{"orders", {1}}});
  REQUIRE(none.ok());
  REQUIRE(none->size() == 1);
  CHECK((*none)[0].value.offset == -1);
  CHECK(f.coordinator->Stats().commits == 1);
}

TEST_CASE(
    "GroupCoordinator: bad commits are refused by name and append nothing",
    "[coordinator]") {
  Fixture f;
  const Offset end = f.OffsetsLog("g").log_end_offset();
  absl::Status s = f.Commit("g", "", -1, {At(4, 1)});
  CHECK(absl::IsNotFound(s));
  CHECK(ReasonOf(s) == std::string(kUnknownTopicOrPartition));
  s = f.Commit("g", "", -1,
               {OffsetCommit{TopicPartition{"missing", 0}, 1, ""}});
  CHECK(ReasonOf(s) == std::string(kUnknownTopicOrPartition));
  s = f.Commit("g", "", -1, {At(0, -2)});
  CHECK(absl::IsInvalidArgument(s));
  s = f.Commit("g", "", -1, {At(0, 1, std::string(4097, 'x'))});
  CHECK(ReasonOf(s) == std::string(kOffsetMetadataTooLarge));
  CHECK(f.Commit("g", "", -1, {At(0, 1, std::string(4096, 'x'))}).ok());
  CHECK(absl::IsInvalidArgument(f.Commit("", "", -1, {At(0, 1)})));
  CHECK(absl::IsInvalidArgument(
      f.Commit(std::string(256, 'g'), "", -1, {At(0, 1)})));
  CHECK(f.OffsetsLog("g").log_end_offset() == end + 2);  // group + offset
}

TEST_CASE(
    "GroupCoordinator: describe reports members, assignments, committed "
    "offsets, log end offsets and lag",
    "[coordinator]") {
  Fixture f;
  MustAppend(f.Data(0), MakeBatch(10));
  MustAppend(f.Data(1), MakeBatch(3));
  HeartbeatResponse a = f.Join("g");
  REQUIRE(f.Commit("g", a.member_id, a.member_epoch, {At(0, 4, "half")}).ok());
  auto d = f.coordinator->DescribeGroup("g");
  REQUIRE(d.ok());
  CHECK(d->state == GroupState::kStable);
  CHECK(d->assignor == "uniform");
  CHECK(d->offsets_partition == f.coordinator->PartitionFor("g"));
  REQUIRE(d->members.size() == 1);
  CHECK(d->members[0].member.id == a.member_id);
  CHECK(d->members[0].member.assigned.size() == 4);
  CHECK(d->members[0].target.size() == 4);
  CHECK(d->members[0].pending.empty());
  REQUIRE(d->partitions.size() == 4);
  const PartitionLag& p0 = d->partitions[0];
  CHECK(p0.tp == TopicPartition{"orders", 0});
  CHECK(p0.committed_offset == 4);
  CHECK(p0.log_end_offset == 10);
  CHECK(p0.lag == 6);
  CHECK(p0.metadata == "half");
  CHECK(p0.owner == a.member_id);
  const PartitionLag& p1 = d->partitions[1];
  CHECK(p1.committed_offset == -1);
  CHECK(p1.log_end_offset == 3);
  CHECK(p1.lag == -1);
  CHECK(ReasonOf(f.coordinator->DescribeGroup("nobody").status()) ==
        std::string(kGroupIdNotFound));
  auto groups = f.coordinator->ListGroups();
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].group_id == "g");
  CHECK(groups[0].members == 1);
}

TEST_CASE(
    "GroupCoordinator: ResetOffsets is refused with active members, changes "
    "nothing in a dry run, and applies to an empty group",
    "[coordinator]") {
  Fixture f;
  // Timestamps 1000..1009 on orders-0.
  MustAppend(f.Data(0), MakeBatch(10, "v", 0, 1000));
  MustAppend(f.Data(1), MakeBatch(3));
  HeartbeatResponse a = f.Join("g");
  REQUIRE(
      f.Commit("g", a.member_id, a.member_epoch, {At(0, 4), At(1, 1)}).ok());
  ResetRequest r{"g", {{"orders", {}}}, ResetStrategy::kEarliest};
  absl::Status s = f.coordinator->ResetOffsets(r).status();
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(ReasonOf(s) == std::string(kGroupNotEmpty));
  REQUIRE(f.coordinator->LeaveGroup("g", a.member_id, false).ok());

  r.strategy = ResetStrategy::kLatest;
  r.dry_run = true;
  const Offset end = f.OffsetsLog("g").log_end_offset();
  auto changes = f.coordinator->ResetOffsets(r);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 4);
  CHECK((*changes)[0].previous_offset == 4);
  CHECK((*changes)[0].new_offset == 10);
  CHECK((*changes)[1].previous_offset == 1);
  CHECK((*changes)[1].new_offset == 3);
  CHECK((*changes)[2].previous_offset == -1);
  CHECK((*changes)[2].new_offset == 0);
  CHECK(f.OffsetsLog("g").log_end_offset() == end);
  CHECK(f.Offsets("g") ==
        std::map<std::string, int64_t>{{"orders-0", 4}, {"orders-1", 1}});

  r.dry_run = false;
  REQUIRE(f.coordinator->ResetOffsets(r).ok());
  CHECK(f.Offsets("g") == std::map<std::string, int64_t>{{"orders-0", 10},
                                                         {"orders-1", 3},
                                                         {"orders-2", 0},
                                                         {"orders-3", 0}});
  // An explicit offset is clamped into each partition's log.
  r.strategy = ResetStrategy::kOffset;
  r.offset = 7;
  r.partitions = {{"orders", {0, 1}}};
  REQUIRE(f.coordinator->ResetOffsets(r).ok());
  CHECK(f.Offsets("g")["orders-0"] == 7);
  CHECK(f.Offsets("g")["orders-1"] == 3);
  // By timestamp: the first record at or after it; the end past the last.
  r.strategy = ResetStrategy::kTimestamp;
  r.timestamp_ms = 1005;
  r.partitions = {{"orders", {0}}};
  REQUIRE(f.coordinator->ResetOffsets(r).ok());
  CHECK(f.Offsets("g")["orders-0"] == 5);
  r.timestamp_ms = 99'999;
  REQUIRE(f.coordinator->ResetOffsets(r).ok());
  CHECK(f.Offsets("g")["orders-0"] == 10);
  // With no partitions named: every committed one, here to the earliest.
  r.strategy = ResetStrategy::kEarliest;
  r.partitions = {};
  changes = f.coordinator->ResetOffsets(r);
  REQUIRE(changes.ok());
  CHECK(changes->size() == 4);
  r.partitions = {{"missing", {}}};
  CHECK(ReasonOf(f.coordinator->ResetOffsets(r).status()) ==
        std::string(kUnknownTopicOrPartition));
  r.partitions = {{"orders", {9}}};
  CHECK(ReasonOf(f.coordinator->ResetOffsets(r).status()) ==
        std::string(kUnknownTopicOrPartition));

  // The reset offsets are durable like commits.
  f.Crash();
  CHECK(f.Offsets("g") == std::map<std::string, int64_t>{{"orders-0", 0},
                                                         {"orders-1", 0},
                                                         {"orders-2", 0},
                                                         {"orders-3", 0}});
}

TEST_CASE(
    "GroupCoordinator: DeleteGroup deletes only a group without members, "
    "for good",
    "[coordinator]") {
  Fixture f;
  HeartbeatResponse a = f.Join("g");
  REQUIRE(
      f.Commit("g", a.member_id, a.member_epoch, {At(0, 4), At(3, 2)}).ok());
  absl::Status s = f.coordinator->DeleteGroup("g");
  CHECK(ReasonOf(s) == std::string(kGroupNotEmpty));
  CHECK(ReasonOf(f.coordinator->DeleteGroup("nobody")) ==
        std::string(kGroupIdNotFound));
  REQUIRE(f.coordinator->LeaveGroup("g", a.member_id, false).ok());
  REQUIRE(f.coordinator->DeleteGroup("g").ok());
  CHECK(f.coordinator->ListGroups().empty());
  CHECK(f.Offsets("g").empty());
  f.Restart();
  CHECK(f.coordinator->ListGroups().empty());
  CHECK(f.Offsets("g").empty());
  // A new group of the same name starts from nothing.
  REQUIRE(f.Commit("g", "", -1, {At(1, 9)}).ok());
  f.Restart();
  CHECK(f.Offsets("g") == std::map<std::string, int64_t>{{"orders-1", 9}});
}

TEST_CASE(
    "GroupCoordinator: committed offsets and groups come back after a "
    "restart; membership does not",
    "[coordinator]") {
  Fixture f;
  HeartbeatResponse a = f.Join("with-members");
  REQUIRE(f.Commit("with-members", a.member_id, a.member_epoch,
                   {At(0, 11, "x"), At(1, 12)})
              .ok());
  REQUIRE(f.Commit("simple", "", -1, {At(2, 13)}).ok());
  REQUIRE(f.Commit("simple", "", -1, {At(2, 14)}).ok());  // the latest wins
  f.Restart();
  CHECK(f.report.groups == 2);
  CHECK(f.report.offsets == 3);
  CHECK(f.report.skipped == 0);
  CHECK(f.Offsets("with-members") ==
        std::map<std::string, int64_t>{{"orders-0", 11}, {"orders-1", 12}});
  CHECK(f.Offsets("simple") ==
        std::map<std::string, int64_t>{{"orders-2", 14}});
  auto groups = f.coordinator->ListGroups();
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].group_id == "simple");
  CHECK(groups[1].group_id == "with-members");
  CHECK(groups[1].state == GroupState::kEmpty);
  // The member must join again.
  HeartbeatRequest r;
  r.group_id = "with-members";
  r.member_id = a.member_id;
  r.member_epoch = a.member_epoch;
  r.subscribed_topics = {"orders"};
  CHECK(ReasonOf(f.coordinator->Heartbeat(r).status()) ==
        std::string(kUnknownMemberId));
  auto fetched = f.coordinator->FetchOffsets("with-members", {{"orders", {0}}});
  REQUIRE(fetched.ok());
  CHECK((*fetched)[0].value.metadata == "x");
}

TEST_CASE(
    "GroupCoordinator: an acknowledged commit survives a power loss "
    "(it is fsynced first)",
    "[coordinator]") {
  Fixture f;
  HeartbeatResponse a = f.Join("g");
  const uint64_t syncs = f.fs.syncs();
  REQUIRE(f.Commit("g", a.member_id, a.member_epoch, {At(0, 21)}).ok());
  CHECK(f.fs.syncs() > syncs);
  REQUIRE(f.Commit("g", a.member_id, a.member_epoch, {At(0, 22)}).ok());
  f.Crash();
  CHECK(f.Offsets("g") == std::map<std::string, int64_t>{{"orders-0", 22}});
}

TEST_CASE(
    "GroupCoordinator: a commit that cannot be written fails and changes "
    "nothing; one that cannot be fsynced fails but stays in the log",
    "[coordinator]") {
  Fixture f;
  REQUIRE(f.Commit("g", "", -1, {At(0, 1)}).ok());
  const Offset end = f.OffsetsLog("g").log_end_offset();
  f.fs.SetDiskFull(true);
  absl::Status s = f.Commit("g", "", -1, {At(0, 2)});
  CHECK(absl::IsResourceExhausted(s));
  CHECK(f.OffsetsLog("g").log_end_offset() == end);
  CHECK(f.Offsets("g")["orders-0"] == 1);
  f.fs.SetDiskFull(false);
  REQUIRE(f.Commit("g", "", -1, {At(0, 3)}).ok());
  CHECK(f.Offsets("g")["orders-0"] == 3);

  // The append succeeds but the fsync does not: the caller hears of it, and
  // the offset is what the log now holds.
  f.fs.SetSyncFails(true);
  s = f.Commit("g", "", -1, {At(0, 4)});
  CHECK_FALSE(s.ok());
  CHECK(f.Offsets("g")["orders-0"] == 4);
  f.fs.SetSyncFails(false);
  REQUIRE(f.Commit("g", "", -1, {At(0, 5)}).ok());
  f.Crash();
  CHECK(f.Offsets("g")["orders-0"] == 5);
}

TEST_CASE(
    "GroupCoordinator: with offsets.commit.required.acks=1 a commit does not "
    "wait for an fsync",
    "[coordinator]") {
  Fixture f;
  f.options.commit_required_acks = 1;
  f.Restart();
  REQUIRE(f.Commit("g", "", -1, {At(0, 1)}).ok());
  const uint64_t syncs = f.fs.syncs();
  REQUIRE(f.Commit("g", "", -1, {At(0, 2)}).ok());
  CHECK(f.fs.syncs() == syncs);
  CHECK(f.Offsets("g")["orders-0"] == 2);
  // What was never flushed is lost in a power loss (flush.ms is off here).
  f.Crash();
  CHECK(f.Offsets("g").empty());
}

TEST_CASE(
    "GroupCoordinator: compaction of __consumer_offsets keeps only the "
    "latest offset per key, and replay still finds it",
    "[coordinator]") {
  // (A segment.bytes change reaches only new segments, so set it first.)
  Fixture f([](Fixture* f) {
    f->offsets_config.segment_bytes = 2048;
    f->offsets_config.min_cleanable_dirty_ratio = 0.01;
    f->options.commit_required_acks = 1;
  });
  for (int i = 1; i <= 300; i++) {
    REQUIRE(f.Commit("g", "", -1, {At(i % 2, i)}).ok());
  }
  log::Log& log = f.OffsetsLog("g");
  REQUIRE(log.segment_count() > 3);
  const size_t before = testing::ReadAll(log).size();
  CHECK(before == 301);  // the group record and 300 commits
  int passes = 0;
  for (;;) {
    auto r = f.logs->CleanOnce();
    REQUIRE(r.ok());
    if (!r->has_value()) break;
    passes++;
  }
  CHECK(passes >= 1);
  std::vector<log::SegmentView> sealed = log.SealedSegments();
  REQUIRE(!sealed.empty());
  const int64_t active_base = sealed.back().next.value();
  std::map<std::string, int> sealed_keys;
  size_t after = 0;
  for (const auto& r : testing::ReadAll(log)) {
    after++;
    if (r.offset < active_base) sealed_keys[r.key]++;
  }
  for (const auto& [key, n] : sealed_keys) CHECK(n == 1);
  CHECK(after < before / 4);
  f.Restart();
  CHECK(f.Offsets("g") ==
        std::map<std::string, int64_t>{{"orders-0", 300}, {"orders-1", 299}});
}

TEST_CASE("GroupCoordinator: records that do not decode are skipped at replay",
          "[coordinator]") {
  Fixture f;
  REQUIRE(f.Commit("g", "", -1, {At(0, 3)}).ok());
  log::BatchBuilder b(log::BatchOptions{});
  b.Add(log::RecordInput{std::string_view("not a key"), "value", {}, 1});
  b.Add(log::RecordInput{std::nullopt, "null key", {}, 1});
  b.Add(log::RecordInput{EncodeOffsetCommitKey("g", {"orders", 1}),
                         std::string_view("bad value"),
                         {},
                         1});
  auto batch = b.Build();
  REQUIRE(batch.ok());
  MustAppend(f.OffsetsLog("g"), *batch);
  REQUIRE(f.Commit("g", "", -1, {At(2, 4)}).ok());
  f.Restart();
  CHECK(f.report.skipped == 3);
  CHECK(f.Offsets("g") ==
        std::map<std::string, int64_t>{{"orders-0", 3}, {"orders-2", 4}});
}

TEST_CASE(
    "GroupCoordinator: a broker that does not lead a group's partition "
    "answers NOT_COORDINATOR with the coordinator's address",
    "[coordinator]") {
  Fixture f;
  f.coordinator.reset();
  f.topics.reset();
  REQUIRE(f.logs->Close().ok());
  f.logs.reset();
  f.Open([](int32_t p) -> std::optional<std::string> {
    if (p == 1) return "10.1.2.3:9093";
    return std::nullopt;
  });
  std::string remote_group, local_group;
  for (int i = 0; remote_group.empty() || local_group.empty(); i++) {
    std::string g = absl::StrFormat("group-%d", i);
    (OffsetsPartitionFor(g, 3) == 1 ? remote_group : local_group) = g;
  }
  HeartbeatRequest r;
  r.group_id = remote_group;
  r.subscribed_topics = {"orders"};
  absl::Status s = f.coordinator->Heartbeat(r).status();
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(ReasonOf(s) == std::string(kNotCoordinator));
  CHECK(ReasonMetadataOf(s).at("coordinator") == "10.1.2.3:9093");
  CHECK(ReasonOf(f.Commit(remote_group, "", -1, {At(0, 1)})) ==
        std::string(kNotCoordinator));
  CHECK(ReasonOf(f.coordinator->DescribeGroup(remote_group).status()) ==
        std::string(kNotCoordinator));
  r.group_id = local_group;
  CHECK(f.coordinator->Heartbeat(r).ok());
}

TEST_CASE(
    "GroupCoordinator: members of a group nobody calls on are expired by the "
    "timer",
    "[coordinator]") {
  Fixture f;
  HeartbeatResponse a = f.Join("idle");
  f.Join("idle");
  CHECK(f.coordinator->Stats().members == 2);
  f.clock.AdvanceMs(999);
  f.coordinator->Tick();
  CHECK(f.coordinator->Stats().members == 2);
  f.clock.AdvanceMs(1);
  f.coordinator->Tick();
  CoordinatorStats stats = f.coordinator->Stats();
  CHECK(stats.members == 0);
  CHECK(stats.members_expired == 2);
  CHECK(stats.groups == 0);  // nothing committed: nothing to keep
  CHECK(stats.heartbeats == 2);
  CHECK(stats.rebalances >= 2);

  // The same through the timer thread.
  f.options.start_timer = true;
  f.options.timer_interval_ms = 5;
  f.Restart();
  f.Join("idle");
  f.clock.AdvanceMs(1'000);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (f.coordinator->Stats().members != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(f.coordinator->Stats().members == 0);
  (void)a;
}

TEST_CASE("GroupCoordinator: a heartbeat to an unknown group must join first",
          "[coordinator]") {
  Fixture f;
  HeartbeatRequest r;
  r.group_id = "nobody";
  r.member_id = "m";
  r.member_epoch = 3;
  CHECK(ReasonOf(f.coordinator->Heartbeat(r).status()) ==
        std::string(kUnknownMemberId));
  CHECK(ReasonOf(f.coordinator->LeaveGroup("nobody", "m", false)) ==
        std::string(kUnknownMemberId));
  CHECK(f.coordinator->ListGroups().empty());
}

// A cluster broker's coordinator: `leader` says who leads each partition
// ("" nobody, "here" this broker).
struct ClusterFixture {
  ClusterFixture() {
    f.coordinator.reset();
    f.topics.reset();
    REQUIRE(f.logs->Close().ok());
    f.logs.reset();
    f.Open(
        [this](int32_t p) -> std::optional<std::string> {
          absl::MutexLock l(&mu);
          auto it = leader.find(p);
          if (it == leader.end() || it->second == "here") return std::nullopt;
          return it->second;
        },
        /*loaded=*/false);
  }
  void Lead(int32_t p, std::string who) {
    absl::MutexLock l(&mu);
    leader[p] = std::move(who);
  }
  Fixture f;
  absl::Mutex mu;
  std::map<int32_t, std::string> leader ABSL_GUARDED_BY(mu);
};

TEST_CASE(
    "GroupCoordinator: in a cluster a partition's groups are served only once "
    "it is loaded, and unloading drops them",
    "[coordinator]") {
  ClusterFixture c;
  Fixture& f = c.f;
  const int32_t p = f.coordinator->PartitionFor("g");
  CHECK(!f.coordinator->LoadedEpoch(p).has_value());
  HeartbeatRequest join;
  join.group_id = "g";
  join.subscribed_topics = {"orders"};
  absl::Status s = f.coordinator->Heartbeat(join).status();
  CHECK(absl::IsUnavailable(s));
  CHECK(ReasonOf(s) == std::string(kCoordinatorLoadInProgress));

  REQUIRE(f.coordinator->LoadPartition(p, 4).ok());
  CHECK(f.coordinator->LoadedEpoch(p) == 4);
  HeartbeatResponse m = f.Join("g");
  REQUIRE(
      f.Commit("g", m.member_id, m.member_epoch, {At(0, 7), At(1, 9)}).ok());
  CHECK(f.Offsets("g") ==
        std::map<std::string, int64_t>{{"orders-0", 7}, {"orders-1", 9}});

  // Deposed: nothing of the group stays in memory.
  c.Lead(p, "127.0.0.9:9093");
  f.coordinator->UnloadPartition(p);
  CHECK(!f.coordinator->LoadedEpoch(p).has_value());
  CHECK(f.coordinator->Stats().groups == 0);
  CHECK(f.coordinator->Stats().members == 0);
  CHECK(ReasonOf(f.coordinator->FetchOffsets("g", {}).status()) ==
        std::string(kNotCoordinator));

  // Leading again, at a later epoch: the offsets come back from the log,
  // the member does not (it must join again).
  c.Lead(p, "here");
  LoadReport report;
  REQUIRE(f.coordinator->LoadPartition(p, 6, &report).ok());
  CHECK(report.groups == 1);
  CHECK(report.offsets == 2);
  CHECK(f.Offsets("g")["orders-0"] == 7);
  CHECK(f.Offsets("g")["orders-1"] == 9);
  HeartbeatRequest again = join;
  again.member_id = m.member_id;
  again.member_epoch = m.member_epoch;
  CHECK(ReasonOf(f.coordinator->Heartbeat(again).status()) ==
        std::string(kUnknownMemberId));
}

TEST_CASE(
    "GroupCoordinator: a group whose partition has no leader gets "
    "COORDINATOR_NOT_AVAILABLE",
    "[coordinator]") {
  ClusterFixture c;
  Fixture& f = c.f;
  const int32_t p = f.coordinator->PartitionFor("g");
  c.Lead(p, "");
  absl::Status s = f.coordinator->FetchOffsets("g", {}).status();
  CHECK(absl::IsUnavailable(s));
  CHECK(ReasonOf(s) == std::string(kCoordinatorNotAvailable));
  c.Lead(p, "127.0.0.3:9093");
  s = f.coordinator->FetchOffsets("g", {}).status();
  CHECK(ReasonOf(s) == std::string(kNotCoordinator));
  CHECK(ReasonMetadataOf(s)[std::string(kCoordinatorKey)] == "127.0.0.3:9093");
}

TEST_CASE(
    "GroupCoordinator: a commit is acknowledged and applied only once the "
    "in-sync replicas hold it",
    "[coordinator]") {
  ClusterFixture c;
  Fixture& f = c.f;
  const int32_t p = f.coordinator->PartitionFor("g");
  REQUIRE(f.coordinator->LoadPartition(p, 0).ok());
  std::vector<int64_t> waited_for;
  absl::Status replicas = absl::DeadlineExceededError("not replicated");
  f.topics->replicated = [&](std::string_view topic, int32_t partition,
                             Offset end, absl::Duration timeout) {
    CHECK(topic == kOffsetsTopic);
    CHECK(partition == p);
    CHECK(timeout == absl::Milliseconds(f.options.commit_timeout_ms));
    waited_for.push_back(end.value());
    return replicas;
  };
  absl::Status s = f.Commit("g", "", -1, {At(0, 5)});
  CHECK(absl::IsUnavailable(s));
  CHECK(ReasonOf(s) == std::string(kCoordinatorNotAvailable));
  // In the log, waited for up to its end, but neither acknowledged nor
  // served.
  REQUIRE(waited_for.size() == 1);
  CHECK(waited_for[0] == f.OffsetsLog("g").log_end_offset().value());
  CHECK(f.Offsets("g").empty());

  replicas = absl::OkStatus();
  REQUIRE(f.Commit("g", "", -1, {At(0, 6)}).ok());
  CHECK(f.Offsets("g")["orders-0"] == 6);
  CHECK(waited_for.size() == 2);
  CHECK(waited_for[1] == f.OffsetsLog("g").log_end_offset().value());

  // offsets.commit.required.acks=1 does not wait.
  f.coordinator.reset();
  f.options.commit_required_acks = 1;
  f.coordinator = *GroupCoordinator::OpenUnloaded(f.options, f.topics.get(), 3,
                                                  &f.clock, nullptr);
  REQUIRE(f.coordinator->LoadPartition(p, 1).ok());
  REQUIRE(f.Commit("g", "", -1, {At(0, 8)}).ok());
  CHECK(waited_for.size() == 2);
  CHECK(f.Offsets("g")["orders-0"] == 8);
}

TEST_CASE(
    "GroupCoordinator: a commit whose partition is unloaded while it waits "
    "for the replicas is not applied",
    "[coordinator]") {
  ClusterFixture c;
  Fixture& f = c.f;
  const int32_t p = f.coordinator->PartitionFor("g");
  REQUIRE(f.coordinator->LoadPartition(p, 0).ok());
  REQUIRE(f.Commit("g", "", -1, {At(0, 1)}).ok());
  f.topics->replicated = [&](std::string_view, int32_t, Offset,
                             absl::Duration) {
    // Leadership moved meanwhile (and came back at a new epoch).
    f.coordinator->UnloadPartition(p);
    return absl::OkStatus();
  };
  absl::Status s = f.Commit("g", "", -1, {At(0, 2)});
  CHECK(ReasonOf(s) == std::string(kCoordinatorNotAvailable));
  f.topics->replicated = nullptr;
  CHECK(ReasonOf(f.coordinator->FetchOffsets("g", {}).status()) ==
        std::string(kCoordinatorLoadInProgress));
  REQUIRE(f.coordinator->LoadPartition(p, 1).ok());
  // What the log holds, as a new coordinator would replay it.
  CHECK(f.Offsets("g")["orders-0"] == 2);
}

TEST_CASE("CoordinatorOptions: bad settings are named", "[coordinator]") {
  CoordinatorOptions o;
  CHECK(o.Validate().ok());
  o.assignors = {"uniform", "sticky"};
  CHECK(absl::IsInvalidArgument(o.Validate()));
  o = CoordinatorOptions();
  o.default_session_timeout_ms = 1000;  // below the 6000 minimum
  CHECK(absl::IsInvalidArgument(o.Validate()));
  o = CoordinatorOptions();
  o.commit_required_acks = 0;
  CHECK(absl::IsInvalidArgument(o.Validate()));
  o = CoordinatorOptions();
  o.commit_timeout_ms = 0;
  CHECK(absl::IsInvalidArgument(o.Validate()));
  o = CoordinatorOptions();
  o.offsets_topic_replication_factor = 0;
  CHECK(absl::IsInvalidArgument(o.Validate()));
}

}  // namespace
}  // namespace fjord::coordinator
