// End-to-end: consumer groups with the client library against real
// fjord-broker processes (its gRPC coordinator): assignment, incremental
// rebalances when members come, go and crash, commits, coordinator
// restarts, static membership, max.poll.interval.ms, fencing, redirects,
// and the Admin group operations. Every wait is bounded; every process is
// stopped by its PID.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "catch2/catch.hpp"
#include "fjord/admin.h"
#include "grpcpp/grpcpp.h"
#include "proto/coordinator.grpc.pb.h"
#include "proto/error_details.pb.h"
#include "tests/client/group_e2e_util.h"

namespace fjord::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Contains(absl::string_view s, const std::string& part) {
  return s.find(part) != absl::string_view::npos;
}

// The members own every partition of `all`, each exactly once.
bool OwnedExactlyOnce(const std::vector<std::set<TopicPartition>>& owned,
                      const std::set<TopicPartition>& all) {
  std::set<TopicPartition> seen;
  size_t total = 0;
  for (const auto& o : owned) {
    total += o.size();
    seen.insert(o.begin(), o.end());
  }
  return seen == all && total == all.size();
}

void Produce(const TestBroker& broker, const std::string& topic,
             int32_t partition, int n, const std::string& prefix,
             int64_t ts0 = -1) {
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  std::atomic<int> failed{0};
  for (int i = 0; i < n; i++) {
    std::string v = absl::StrFormat("%s-%d", prefix, i);
    ProducerRecord r;
    r.topic = topic;
    r.partition = partition;
    r.value = v;
    if (ts0 >= 0) r.timestamp = ts0 + i;
    (*producer)->Send(r, [&](const absl::Status& s, const RecordMetadata&) {
      if (!s.ok()) failed++;
    });
  }
  REQUIRE((*producer)->Flush(seconds(10)).ok());
  REQUIRE(failed.load() == 0);
}

TEST_CASE(
    "Three consumers on a 12-partition topic each own a share, every "
    "partition exactly one member's",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(12));
  CreateTopic(broker, "shared", 12);
  const auto all = AllPartitions("shared", 12);
  GroupConsumer a(GroupProps(broker, "three"), {"shared"});
  GroupConsumer b(GroupProps(broker, "three"), {"shared"});
  GroupConsumer c(GroupProps(broker, "three"), {"shared"});
  auto owned = [&] {
    return std::vector<std::set<TopicPartition>>{a.owned(), b.owned(),
                                                 c.owned()};
  };
  REQUIRE(WaitFor(
      [&] {
        auto o = owned();
        return OwnedExactlyOnce(o, all) && o[0].size() == 4 &&
               o[1].size() == 4 && o[2].size() == 4;
      },
      seconds(10)));

  // The coordinator agrees: three stable members with those partitions.
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  REQUIRE(WaitFor(
      [&] {
        auto d = (*admin)->DescribeGroup("three");
        return d.ok() && d->state == GroupState::kStable &&
               d->members.size() == 3;
      },
      seconds(5)));
  auto d = (*admin)->DescribeGroup("three");
  REQUIRE(d.ok());
  std::map<std::string, std::set<TopicPartition>> by_member;
  for (const auto& m : d->members) {
    by_member[m.member_id] = {m.assigned.begin(), m.assigned.end()};
    CHECK(m.state == GroupMemberState::kStable);
  }
  for (const GroupConsumer* g : {&a, &b, &c}) {
    INFO(g->metadata().member_id);
    CHECK(by_member[g->metadata().member_id] == g->owned());
    CHECK(g->metadata().member_epoch > 0);
  }

  // A record in each partition is consumed by its owner only.
  for (int p = 0; p < 12; p++) Produce(broker, "shared", p, 1, "one");
  REQUIRE(WaitFor(
      [&] {
        return a.consumed().size() + b.consumed().size() +
                   c.consumed().size() ==
               12;
      },
      seconds(10)));
  for (const GroupConsumer* g : {&a, &b, &c}) {
    for (const auto& r : g->consumed()) CHECK(g->owned().count(r.partition));
  }
  for (const GroupConsumer* g : {&a, &b, &c}) CHECK(g->errors().empty());
}

TEST_CASE(
    "A crashed member's partitions are reassigned within the session "
    "timeout while the other members keep consuming theirs",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(12));
  CreateTopic(broker, "crash", 12);
  const auto all = AllPartitions("crash", 12);
  SteadyProducer producer(broker, "crash", 12, std::chrono::microseconds(3000));
  GroupConsumer a(GroupProps(broker, "crashers"), {"crash"});
  GroupConsumer b(GroupProps(broker, "crashers"), {"crash"});
  ChildMember child(broker, "crashers", "crash", broker.dir.Sub("child.out"),
                    {{"session.timeout.ms", "1000"}});
  REQUIRE(WaitFor(
      [&] {
        auto o = std::vector<std::set<TopicPartition>>{a.owned(), b.owned(),
                                                       child.Owned()};
        return OwnedExactlyOnce(o, all) && !o[0].empty() && !o[1].empty() &&
               !o[2].empty();
      },
      seconds(15)));
  INFO(child.Output().substr(0, 2000));
  const std::set<TopicPartition> a0 = a.owned(), b0 = b.owned(),
                                 c0 = child.Owned();
  const size_t a_events = a.events().size(), b_events = b.events().size();
  // The child is consuming, not only assigned.
  REQUIRE(
      WaitFor([&] { return Contains(child.Output(), "record "); }, seconds(5)));

  const auto killed = GroupClock::now();
  child.Kill();
  REQUIRE(WaitFor(
      [&] {
        return OwnedExactlyOnce({a.owned(), b.owned()}, all);
      },
      seconds(1) + seconds(4)));  // session.timeout.ms + slack
  const auto reassigned = GroupClock::now();
  // ... and consumed there: a record of each of the child's partitions.
  REQUIRE(WaitFor(
      [&] {
        std::set<TopicPartition> got;
        for (const GroupConsumer* g : {&a, &b}) {
          for (const auto& r : g->consumed()) {
            if (r.at > killed && c0.count(r.partition)) got.insert(r.partition);
          }
        }
        return got == c0;
      },
      seconds(5)));
  const int64_t took = MsBetween(killed, reassigned);
  INFO("kill -> every partition owned by the survivors: " << took << " ms");
  CHECK(took >= 500);  // the session (1000 ms) had to run out

  // The survivors were never asked to give anything up: their assignment
  // only grew...
  for (const auto* g : {&a, &b}) {
    const auto events = g->events();
    for (size_t i = (g == &a ? a_events : b_events); i < events.size(); i++) {
      CHECK(events[i].kind == GroupConsumer::Event::kAssigned);
    }
  }
  for (const auto& tp : a0) CHECK(a.owned().count(tp));
  for (const auto& tp : b0) CHECK(b.owned().count(tp));
  // ... and their partitions kept being consumed during the rebalance.
  for (const auto* g : {&a, &b}) {
    const auto& mine = g == &a ? a0 : b0;
    std::set<TopicPartition> during;
    int64_t max_gap = 0;
    GroupClock::time_point last = killed;
    for (const auto& r : g->consumed()) {
      if (!mine.count(r.partition) || r.at <= killed || r.at >= reassigned) {
        continue;
      }
      during.insert(r.partition);
      max_gap = std::max(max_gap, MsBetween(last, r.at));
      last = r.at;
    }
    INFO("longest pause of a survivor's own partitions: " << max_gap << " ms");
    CHECK(during == mine);
  }
  producer.Stop();
  CHECK(producer.failed() == 0);
  CHECK(a.errors().empty());
  CHECK(b.errors().empty());
}

TEST_CASE(
    "Members added and removed one by one under steady production process "
    "every record exactly once (commit on revoke, clean shutdowns)",
    "[client][e2e][group]") {
  // The consumer's own commit on revoke (auto commit), or the
  // application's, from OnPartitionsRevoked, with auto commit off.
  const bool application_commits = GENERATE(false, true);
  INFO((application_commits ? "commits from OnPartitionsRevoked"
                            : "enable.auto.commit"));
  const Properties extra = application_commits
                               ? Properties{{"enable.auto.commit", "false"}}
                               : Properties{};
  TestBroker broker(GroupBrokerArgs(6));
  CreateTopic(broker, "steady", 6);
  const auto all = AllPartitions("steady", 6);
  Ledger ledger;
  SteadyProducer producer(broker, "steady", 6, std::chrono::microseconds(1000));
  std::map<std::string, std::unique_ptr<GroupConsumer>> members;
  auto stable = [&] {
    return WaitFor(
        [&] {
          std::vector<std::set<TopicPartition>> owned;
          for (auto& [name, m] : members) {
            owned.push_back(m->owned());
            if (owned.back().empty()) return false;
          }
          return OwnedExactlyOnce(owned, all);
        },
        seconds(10));
  };
  auto add = [&](const std::string& name) {
    members[name] = std::make_unique<GroupConsumer>(
        GroupProps(broker, "steady-group", extra),
        std::vector<std::string>{"steady"}, &ledger, application_commits);
    INFO("after adding " << name);
    REQUIRE(stable());
    std::this_thread::sleep_for(milliseconds(300));  // consume a while
  };
  auto remove = [&](const std::string& name) {
    members[name]->Stop();  // Close: revoke, commit, leave
    CHECK(members[name]->errors().empty());
    if (application_commits) CHECK(members[name]->commits_on_revoke() > 0);
    members.erase(name);
    INFO("after removing " << name);
    REQUIRE(stable());
    std::this_thread::sleep_for(milliseconds(300));
  };
  add("a");
  add("b");
  add("c");
  remove("a");
  add("d");
  remove("b");
  add("e");
  remove("c");
  remove("d");
  producer.Stop();
  const std::set<std::string> produced = producer.acknowledged();
  REQUIRE(producer.failed() == 0);
  REQUIRE(produced.size() > 1000);
  REQUIRE(WaitFor([&] { return ledger.distinct() >= produced.size(); },
                  seconds(15)));
  members["e"]->Stop();  // the last one
  CHECK(members["e"]->errors().empty());
  std::set<std::string> processed;
  int twice = 0;
  std::string example;
  for (const auto& [value, count] : ledger.counts()) {
    processed.insert(value);
    if (count > 1) {
      twice++;
      example = value;
    }
  }
  INFO(twice << " records processed more than once, e.g. " << example);
  CHECK(twice == 0);
  CHECK(processed == produced);
}

TEST_CASE(
    "After a coordinator restart committed offsets come back and the "
    "consumer resumes from them",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(3));
  CreateTopic(broker, "durable", 3);
  for (int p = 0; p < 3; p++) Produce(broker, "durable", p, 10, "old");
  struct Listener : RebalanceListener {
    std::atomic<int> assigned{0}, lost{0};
    void OnPartitionsAssigned(const std::vector<TopicPartition>&) override {
      assigned++;
    }
    void OnPartitionsLost(const std::vector<TopicPartition>&) override {
      lost++;
    }
  } listener;
  auto consumer = Consumer::Create(
      GroupProps(broker, "restart", {{"enable.auto.commit", "false"}}));
  REQUIRE(consumer.ok());
  Consumer& c = **consumer;
  REQUIRE(c.Subscribe({"durable"}, &listener).ok());
  auto first = PollRecords(c, 30, seconds(10));
  REQUIRE(first.size() == 30);
  // Processed the first 6 of each partition; commit that.
  OffsetMap commit;
  for (int p = 0; p < 3; p++) commit[{"durable", p}] = {6, "six"};
  REQUIRE(c.Commit(commit).ok());
  auto committed =
      c.Committed({{"durable", 0}, {"durable", 1}, {"durable", 2}});
  REQUIRE(committed.ok());
  CHECK(*committed == commit);

  // A second group that its only member left cleanly: nothing but its
  // committed offsets keeps it, and nothing rejoins it after the restart.
  {
    auto idle = Consumer::Create(
        GroupProps(broker, "idle", {{"enable.auto.commit", "false"}}));
    REQUIRE(idle.ok());
    REQUIRE((*idle)->Subscribe({"durable"}).ok());
    REQUIRE(PollRecords(**idle, 30, seconds(10)).size() == 30);
    OffsetMap three;
    for (int p = 0; p < 3; p++) three[{"durable", p}] = {3, "three"};
    REQUIRE((*idle)->Commit(three).ok());
    (*idle)->Close();
  }

  REQUIRE(broker.process->Stop().ok());
  // While the coordinator is away Poll says so, once the session is over.
  const auto stopped = GroupClock::now();
  // Each such Poll first waits its timeout for a rejoin, so that a Poll
  // loop does not spin, and has run OnPartitionsLost before it says so.
  absl::Status seen;
  int64_t failed_poll_ms = 0;
  while (GroupClock::now() - stopped < seconds(6) && seen.ok()) {
    const auto polled_at = GroupClock::now();
    auto polled = c.Poll(milliseconds(100));
    if (!polled.ok()) {
      seen = polled.status();
      failed_poll_ms = MsBetween(polled_at, GroupClock::now());
    }
  }
  INFO(seen.ToString());
  CHECK(absl::IsUnavailable(seen));
  CHECK(failed_poll_ms >= 99);  // the client's clock counts whole ms
  CHECK(Contains(seen.message(), "session.timeout.ms"));
  CHECK(listener.lost.load() == 1);

  REQUIRE(broker.process->Restart().ok());
  // The restarted coordinator rebuilt both groups from __consumer_offsets:
  // the idle one is listed, empty, with its offsets and their metadata.
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  auto groups = (*admin)->ListGroups();
  INFO(groups.status().ToString());
  REQUIRE(groups.ok());
  std::set<std::string> ids;
  for (const auto& g : *groups) ids.insert(g.group_id);
  CHECK(ids.count("idle") == 1);
  CHECK(ids.count("restart") == 1);
  auto idle = (*admin)->DescribeGroup("idle");
  REQUIRE(idle.ok());
  CHECK(idle->state == GroupState::kEmpty);
  CHECK(idle->members.empty());
  REQUIRE(idle->partitions.size() == 3);
  for (const auto& p : idle->partitions) {
    INFO(p.partition.partition);
    CHECK(p.committed_offset == 3);
    CHECK(p.metadata == "three");
    CHECK(p.log_end_offset == 10);
    CHECK(p.lag == 7);
  }
  // Rejoined and started at the committed offsets: records 6..9 of each
  // partition again, nothing older.
  std::vector<OwnedRecord> again;
  const auto deadline = GroupClock::now() + seconds(15);
  while (again.size() < 12 && GroupClock::now() < deadline) {
    auto polled = c.Poll(milliseconds(100));
    if (!polled.ok()) continue;  // unavailable until it has rejoined
    for (const ConsumerRecord& r : *polled) again.push_back(Own(r));
  }
  REQUIRE(again.size() == 12);
  for (const auto& r : again) CHECK(r.offset >= 6);
  CHECK(listener.assigned.load() == 2);
  auto after = c.Committed({{"durable", 0}, {"durable", 1}, {"durable", 2}});
  REQUIRE(after.ok());
  CHECK(*after == commit);
  // Nothing more arrives: no old record is delivered a third time.
  auto more = c.Poll(milliseconds(300));
  REQUIRE(more.ok());
  CHECK(more->empty());
  // CommitAsync's callback runs in a later Poll, on this thread.
  std::atomic<int> called{0};
  absl::Status async_status = absl::UnknownError("not called");
  const auto me = std::this_thread::get_id();
  c.CommitAsync([&](const absl::Status& s, const OffsetMap& o) {
    async_status = s;
    if (std::this_thread::get_id() == me && o.size() == 3 &&
        o.at({"durable", 0}).offset == 10) {
      called++;
    }
  });
  REQUIRE(WaitFor(
      [&] {
        (void)c.Poll(milliseconds(20));
        return called.load() > 0;
      },
      seconds(5)));
  CHECK(async_status.ok());
  c.Close();
}

TEST_CASE(
    "A static member restarted within its session timeout gets the same "
    "partitions back and no other member's assignment changes",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(12));
  CreateTopic(broker, "static", 12);
  const auto all = AllPartitions("static", 12);
  auto props = [&](const std::string& instance) {
    return GroupProps(broker, "statics",
                      {{"group.instance.id", instance},
                       {"session.timeout.ms", "5000"},
                       {"group.remote.assignor", "range"}});
  };
  auto a = std::make_unique<GroupConsumer>(props("i-a"),
                                           std::vector<std::string>{"static"});
  auto b = std::make_unique<GroupConsumer>(props("i-b"),
                                           std::vector<std::string>{"static"});
  auto child = std::make_unique<ChildMember>(
      broker, "statics", "static", broker.dir.Sub("c1.out"),
      Properties{{"group.instance.id", "i-c"},
                 {"session.timeout.ms", "5000"},
                 {"group.remote.assignor", "range"}});
  REQUIRE(WaitFor(
      [&] {
        auto o = std::vector<std::set<TopicPartition>>{a->owned(), b->owned(),
                                                       child->Owned()};
        return OwnedExactlyOnce(o, all) && o[0].size() == 4 &&
               o[1].size() == 4 && o[2].size() == 4;
      },
      seconds(15)));
  const auto a0 = a->owned(), b0 = b->owned(), c0 = child->Owned();
  const size_t a_events = a->events().size();

  // A clean restart: Close leaves temporarily, the new process takes over.
  b->Stop();
  std::this_thread::sleep_for(milliseconds(500));
  CHECK(a->owned() == a0);
  b = std::make_unique<GroupConsumer>(props("i-b"),
                                      std::vector<std::string>{"static"});
  REQUIRE(WaitFor([&] { return b->owned() == b0; }, seconds(5)));

  // A crash: kill -9, and a new process with the same instance id at once.
  child->Kill();
  child = std::make_unique<ChildMember>(
      broker, "statics", "static", broker.dir.Sub("c2.out"),
      Properties{{"group.instance.id", "i-c"},
                 {"session.timeout.ms", "5000"},
                 {"group.remote.assignor", "range"}});
  REQUIRE(WaitFor([&] { return child->Owned() == c0; }, seconds(5)));
  std::this_thread::sleep_for(milliseconds(300));

  // The other members saw nothing happen.
  const auto events = a->events();
  CHECK(events.size() == a_events);
  CHECK(a->owned() == a0);
  CHECK(b->owned() == b0);
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  auto d = (*admin)->DescribeGroup("statics");
  REQUIRE(d.ok());
  CHECK(d->members.size() == 3);
  for (const auto& m : d->members) {
    INFO(m.instance_id);
    const std::set<TopicPartition> target(m.target.begin(), m.target.end());
    if (m.instance_id == "i-a") CHECK(target == a0);
    if (m.instance_id == "i-b") CHECK(target == b0);
    if (m.instance_id == "i-c") CHECK(target == c0);
  }
  CHECK(a->errors().empty());
  CHECK(b->errors().empty());
}

TEST_CASE(
    "A consumer that does not Poll for max.poll.interval.ms leaves the "
    "group, loses its partitions and rejoins at its next Poll",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(4));
  CreateTopic(broker, "slow", 4);
  const auto all = AllPartitions("slow", 4);
  GroupConsumer fast(GroupProps(broker, "pollers"), {"slow"});
  struct Listener : RebalanceListener {
    std::set<TopicPartition> owned;
    int lost = 0;
    void OnPartitionsAssigned(const std::vector<TopicPartition>& ps) override {
      owned.insert(ps.begin(), ps.end());
    }
    void OnPartitionsRevoked(const std::vector<TopicPartition>& ps) override {
      for (const auto& tp : ps) owned.erase(tp);
    }
    void OnPartitionsLost(const std::vector<TopicPartition>& ps) override {
      lost++;
      for (const auto& tp : ps) owned.erase(tp);
    }
  } listener;
  auto slow = Consumer::Create(
      GroupProps(broker, "pollers", {{"max.poll.interval.ms", "400"}}));
  REQUIRE(slow.ok());
  REQUIRE((*slow)->Subscribe({"slow"}, &listener).ok());
  REQUIRE(WaitFor(
      [&] {
        (void)(*slow)->Poll(milliseconds(20));
        return OwnedExactlyOnce({fast.owned(), listener.owned}, all) &&
               listener.owned.size() == 2;
      },
      seconds(10)));
  // Busy elsewhere: no Poll. The heartbeat thread leaves for it.
  REQUIRE(WaitFor([&] { return fast.owned() == all; }, seconds(5)));
  CHECK(listener.lost == 0);  // callbacks wait for the next Poll
  (void)(*slow)->Poll(milliseconds(20));
  CHECK(listener.lost == 1);
  CHECK(listener.owned.empty());
  REQUIRE(WaitFor(
      [&] {
        (void)(*slow)->Poll(milliseconds(20));
        return listener.owned.size() == 2 && fast.owned().size() == 2;
      },
      seconds(10)));
  (*slow)->Close();
}

TEST_CASE(
    "A member whose instance id another process takes is fenced: its "
    "partitions are lost and Poll says why",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(2));
  CreateTopic(broker, "fence", 2);
  struct Listener : RebalanceListener {
    int assigned = 0, lost = 0;
    void OnPartitionsAssigned(const std::vector<TopicPartition>&) override {
      assigned++;
    }
    void OnPartitionsLost(const std::vector<TopicPartition>&) override {
      lost++;
    }
  } listener;
  auto props = GroupProps(broker, "fenced", {{"group.instance.id", "same"}});
  auto first = Consumer::Create(props);
  REQUIRE(first.ok());
  REQUIRE((*first)->Subscribe({"fence"}, &listener).ok());
  REQUIRE(WaitFor(
      [&] {
        (void)(*first)->Poll(milliseconds(20));
        return listener.assigned == 1;
      },
      seconds(10)));
  GroupConsumer second(props, {"fence"});
  REQUIRE(WaitFor([&] { return second.owned().size() == 2; }, seconds(5)));
  absl::Status fenced;
  REQUIRE(WaitFor(
      [&] {
        auto polled = (*first)->Poll(milliseconds(20));
        fenced = polled.status();
        return !fenced.ok();
      },
      seconds(5)));
  INFO(fenced.ToString());
  CHECK(absl::IsFailedPrecondition(fenced));
  CHECK(Contains(fenced.message(), "group.instance.id 'same'"));
  CHECK(listener.lost == 1);
  CHECK((*first)->Assignment().empty());
  // Its commits are refused: the partitions are someone else's.
  CHECK(
      absl::IsFailedPrecondition((*first)->Commit({{{"fence", 0}, {0, ""}}})));
  (*first)->Close();
  CHECK(second.owned().size() == 2);
}

TEST_CASE(
    "Subscribe, Assign and commits refuse what cannot work, with clear "
    "statuses",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(2));
  CreateTopic(broker, "rules", 2);
  auto plain = Consumer::Create(broker.Consumer());
  REQUIRE(plain.ok());
  absl::Status s = (*plain)->Subscribe({"rules"});
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(Contains(s.message(), "group.id"));
  CHECK(absl::IsFailedPrecondition((*plain)->Commit()));
  CHECK(
      absl::IsFailedPrecondition((*plain)->Committed({{"rules", 0}}).status()));

  auto grouped = Consumer::Create(GroupProps(broker, "rules-group"));
  REQUIRE(grouped.ok());
  Consumer& g = **grouped;
  CHECK(absl::IsInvalidArgument(g.Subscribe({"rules", ""})));
  REQUIRE(g.Assign({{"rules", 0}}).ok());
  CHECK(absl::IsFailedPrecondition(g.Subscribe({"rules"})));
  // Assigned by hand, with group.id: commits as a simple consumer.
  REQUIRE(g.Commit({{{"rules", 0}, {3, "by hand"}}}).ok());
  auto got = g.Committed({{"rules", 0}, {"rules", 1}});
  REQUIRE(got.ok());
  CHECK(got->size() == 1);
  CHECK(got->at({"rules", 0}) == OffsetAndMetadata{3, "by hand"});
  CHECK(absl::IsInvalidArgument(g.Commit({{{"rules", 0}, {-5, ""}}})));
  REQUIRE(g.Assign({}).ok());
  REQUIRE(g.Subscribe({"rules"}).ok());
  CHECK(absl::IsFailedPrecondition(g.Assign({{"rules", 0}})));
  CHECK(g.Subscription() == std::vector<std::string>{"rules"});
  REQUIRE(g.Unsubscribe().ok());
  CHECK(g.Subscription().empty());

  // A session timeout the broker does not allow: Poll says so.
  auto short_session = Consumer::Create(
      GroupProps(broker, "rules-group", {{"session.timeout.ms", "50"}}));
  REQUIRE(short_session.ok());
  REQUIRE((*short_session)->Subscribe({"rules"}).ok());
  absl::Status refused;
  REQUIRE(WaitFor(
      [&] {
        refused = (*short_session)->Poll(milliseconds(20)).status();
        return !refused.ok();
      },
      seconds(5)));
  INFO(refused.ToString());
  CHECK(absl::IsInvalidArgument(refused));
  CHECK(Contains(refused.message(), "session_timeout_ms 50"));
}

// A broker that coordinates nothing: every call is NOT_COORDINATOR,
// pointing at `coordinator`.
class RedirectingCoordinator final
    : public ::fjord::coordinator::v1::Coordinator::Service {
 public:
  explicit RedirectingCoordinator(std::string coordinator)
      : coordinator_(std::move(coordinator)) {}
  std::atomic<int> calls{0};

  grpc::Status Redirect() {
    calls++;
    fjord::v1::ErrorInfo info;
    info.set_reason("NOT_COORDINATOR");
    info.set_domain("fjord");
    (*info.mutable_metadata())["coordinator"] = coordinator_;
    fjord::v1::Status details;
    details.set_code(grpc::StatusCode::FAILED_PRECONDITION);
    details.set_message("not the coordinator");
    details.add_details()->PackFrom(info);
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "not the coordinator", details.SerializeAsString());
  }
  grpc::Status FindCoordinator(
      grpc::ServerContext*,
      const ::fjord::coordinator::v1::FindCoordinatorRequest*,
      ::fjord::coordinator::v1::FindCoordinatorResponse*) override {
    return Redirect();
  }
  grpc::Status Heartbeat(
      grpc::ServerContext*, const ::fjord::coordinator::v1::HeartbeatRequest*,
      ::fjord::coordinator::v1::HeartbeatResponse*) override {
    return Redirect();
  }
  grpc::Status DescribeGroup(
      grpc::ServerContext*,
      const ::fjord::coordinator::v1::DescribeGroupRequest*,
      ::fjord::coordinator::v1::DescribeGroupResponse*) override {
    return Redirect();
  }

 private:
  const std::string coordinator_;
};

TEST_CASE(
    "A consumer and Admin sent to a broker that is not the group's "
    "coordinator follow NOT_COORDINATOR to the one that is",
    "[client][e2e][group]") {
  TestBroker broker(GroupBrokerArgs(2));
  CreateTopic(broker, "elsewhere", 2);
  RedirectingCoordinator fake(broker.process->admin());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&fake);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  REQUIRE(port > 0);
  const std::string fake_address = absl::StrFormat("127.0.0.1:%d", port);

  auto props = GroupProps(broker, "redirected");
  props["admin.servers"] = fake_address;
  GroupConsumer member(props, {"elsewhere"});
  REQUIRE(WaitFor([&] { return member.owned().size() == 2; }, seconds(10)));
  CHECK(fake.calls.load() >= 1);
  auto admin = Admin::Create({{"admin.servers", fake_address}});
  REQUIRE(admin.ok());
  auto d = (*admin)->DescribeGroup("redirected");
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  CHECK(d->members.size() == 1);
  CHECK(d->coordinator == broker.process->admin());
  member.Stop();
  server->Shutdown();
}

TEST_CASE(
    "Admin describes a group's lag after a partial consume, resets its "
    "offsets (dry run, earliest, latest, offset, timestamp), and deletes it",
    "[client][e2e][group][admin]") {
  TestBroker broker(GroupBrokerArgs(2));
  CreateTopic(broker, "lagging", 2);
  const int64_t ts0 = 1'700'000'000'000;
  Produce(broker, "lagging", 0, 10, "p0", ts0);
  Produce(broker, "lagging", 1, 10, "p1", ts0);
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  Admin& a = **admin;
  CHECK(absl::IsNotFound(a.DescribeGroup("lag-group").status()));

  auto consumer = Consumer::Create(
      GroupProps(broker, "lag-group", {{"enable.auto.commit", "false"}}));
  REQUIRE(consumer.ok());
  Consumer& c = **consumer;
  REQUIRE(c.Subscribe({"lagging"}).ok());
  REQUIRE(PollRecords(c, 20, seconds(10)).size() == 20);
  // Processed 4 of partition 0 and 7 of partition 1.
  REQUIRE(c.Commit({{{"lagging", 0}, {4, "four"}}, {{"lagging", 1}, {7, ""}}})
              .ok());
  auto d = a.DescribeGroup("lag-group");
  REQUIRE(d.ok());
  CHECK(d->state == GroupState::kStable);
  REQUIRE(d->members.size() == 1);
  CHECK(d->members[0].member_id == c.GroupMetadata().member_id);
  CHECK(d->members[0].assigned ==
        std::vector<TopicPartition>{{"lagging", 0}, {"lagging", 1}});
  CHECK(d->members[0].subscribed_topics == std::vector<std::string>{"lagging"});
  REQUIRE(d->partitions.size() == 2);
  CHECK(d->partitions[0].committed_offset == 4);
  CHECK(d->partitions[0].log_end_offset == 10);
  CHECK(d->partitions[0].lag == 6);
  CHECK(d->partitions[0].metadata == "four");
  CHECK(d->partitions[0].member_id == c.GroupMetadata().member_id);
  CHECK(d->partitions[1].committed_offset == 7);
  CHECK(d->partitions[1].lag == 3);

  auto listed = a.ListGroups();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].group_id == "lag-group");
  CHECK((*listed)[0].state == GroupState::kStable);
  CHECK((*listed)[0].members == 1);
  auto empty_ones = a.ListGroups({GroupState::kEmpty});
  REQUIRE(empty_ones.ok());
  CHECK(empty_ones->empty());

  // Not while it has members.
  OffsetResetSpec earliest;
  earliest.strategy = OffsetResetSpec::Strategy::kEarliest;
  auto busy = a.ResetGroupOffsets("lag-group", earliest);
  CHECK(absl::IsFailedPrecondition(busy.status()));
  CHECK(absl::IsFailedPrecondition(a.DeleteGroup("lag-group")));
  c.Close();  // no auto commit: the offsets stay 4 and 7
  REQUIRE(WaitFor(
      [&] {
        auto g = a.DescribeGroup("lag-group");
        return g.ok() && g->state == GroupState::kEmpty;
      },
      seconds(5)));

  earliest.dry_run = true;
  auto dry = a.ResetGroupOffsets("lag-group", earliest);
  REQUIRE(dry.ok());
  REQUIRE(dry->size() == 2);
  CHECK((*dry)[0].previous_offset == 4);
  CHECK((*dry)[0].new_offset == 0);
  CHECK((*dry)[1].previous_offset == 7);
  auto unchanged = a.DescribeGroup("lag-group");
  REQUIRE(unchanged.ok());
  CHECK(unchanged->partitions[0].committed_offset == 4);

  OffsetResetSpec to_offset;
  to_offset.strategy = OffsetResetSpec::Strategy::kOffset;
  to_offset.offset = 2;
  to_offset.partitions = {{"lagging", {0}}};
  auto set = a.ResetGroupOffsets("lag-group", to_offset);
  REQUIRE(set.ok());
  REQUIRE(set->size() == 1);
  CHECK((*set)[0].new_offset == 2);
  OffsetResetSpec by_time;
  by_time.strategy = OffsetResetSpec::Strategy::kTimestamp;
  by_time.timestamp_ms = ts0 + 8;
  by_time.partitions = {{"lagging", {1}}};
  auto timed = a.ResetGroupOffsets("lag-group", by_time);
  REQUIRE(timed.ok());
  REQUIRE(timed->size() == 1);
  CHECK((*timed)[0].new_offset == 8);

  // A new member resumes where the offsets were set.
  auto next = Consumer::Create(
      GroupProps(broker, "lag-group", {{"enable.auto.commit", "false"}}));
  REQUIRE(next.ok());
  REQUIRE((*next)->Subscribe({"lagging"}).ok());
  auto resumed = PollRecords(**next, 10, seconds(10));
  REQUIRE(resumed.size() == 10);  // 2..9 of partition 0, 8..9 of 1
  std::map<int32_t, int64_t> first;
  for (const auto& r : resumed) {
    if (!first.count(r.partition)) first[r.partition] = r.offset;
  }
  CHECK(first[0] == 2);
  CHECK(first[1] == 8);
  (*next)->Close();

  OffsetResetSpec latest;
  latest.strategy = OffsetResetSpec::Strategy::kLatest;
  REQUIRE(WaitFor([&] { return a.ResetGroupOffsets("lag-group", latest).ok(); },
                  seconds(5)));
  auto at_end = a.DescribeGroup("lag-group");
  REQUIRE(at_end.ok());
  for (const auto& p : at_end->partitions) CHECK(p.lag == 0);

  REQUIRE(a.DeleteGroup("lag-group").ok());
  CHECK(absl::IsNotFound(a.DescribeGroup("lag-group").status()));
  CHECK(absl::IsNotFound(a.DeleteGroup("lag-group")));
  auto none = a.ListGroups();
  REQUIRE(none.ok());
  CHECK(none->empty());
}

}  // namespace
}  // namespace fjord::testing
