// The server-side assignors: range and uniform (sticky, balanced).
#include "broker/coordinator/assignor.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"

namespace fjord::coordinator {
namespace {

AssignmentSpec Spec(int members, std::map<std::string, int32_t> topics) {
  AssignmentSpec spec;
  spec.topics = topics;
  std::vector<std::string> names;
  for (const auto& [t, n] : topics) names.push_back(t);
  for (int i = 0; i < members; i++) {
    spec.members[absl::StrFormat("m%02d", i)] =
        AssignmentMember{std::nullopt, names, {}};
  }
  return spec;
}

// Every partition of every topic that has a subscriber is assigned exactly
// once, and only to a member subscribed to its topic.
void CheckComplete(const AssignmentSpec& spec, const GroupAssignment& a) {
  std::map<TopicPartition, int> seen;
  REQUIRE(a.size() == spec.members.size());
  for (const auto& [id, parts] : a) {
    const auto& m = spec.members.at(id);
    for (const TopicPartition& tp : parts) {
      seen[tp]++;
      INFO(id << " got " << tp.ToString());
      CHECK(std::binary_search(m.topics.begin(), m.topics.end(), tp.topic));
    }
  }
  for (const auto& [topic, n] : spec.topics) {
    bool subscribed = false;
    for (const auto& [id, m] : spec.members) {
      subscribed |= std::binary_search(m.topics.begin(), m.topics.end(), topic);
    }
    for (int32_t p = 0; p < n; p++) {
      INFO(topic << "-" << p);
      CHECK(seen[TopicPartition{topic, p}] == (subscribed ? 1 : 0));
    }
  }
}

std::pair<size_t, size_t> MinMax(const GroupAssignment& a) {
  size_t lo = SIZE_MAX, hi = 0;
  for (const auto& [id, parts] : a) {
    lo = std::min(lo, parts.size());
    hi = std::max(hi, parts.size());
  }
  return {lo, hi};
}

// Partitions whose owner differs between `before` and `after` (a partition
// of a member present only in `before` counts as moved).
int Moved(const GroupAssignment& before, const GroupAssignment& after) {
  std::map<TopicPartition, std::string> owner;
  for (const auto& [id, parts] : after) {
    for (const auto& tp : parts) owner[tp] = id;
  }
  int moved = 0;
  for (const auto& [id, parts] : before) {
    for (const auto& tp : parts) moved += owner[tp] != id;
  }
  return moved;
}

void CarryOver(AssignmentSpec* spec, const GroupAssignment& previous) {
  for (auto& [id, m] : spec->members) {
    auto it = previous.find(id);
    m.current = it == previous.end() ? PartitionSet{} : it->second;
  }
}

TEST_CASE("RangeAssignor: contiguous ranges, the first members one more",
          "[coordinator][assignor]") {
  AssignmentSpec spec = Spec(3, {{"t", 8}, {"u", 3}});
  GroupAssignment a = RangeAssignor().Assign(spec);
  CheckComplete(spec, a);
  auto parts = [](std::string topic, std::vector<int32_t> ps) {
    PartitionSet out;
    for (int32_t p : ps) out.insert({topic, p});
    return out;
  };
  PartitionSet m0 = parts("t", {0, 1, 2}), m1 = parts("t", {3, 4, 5}),
               m2 = parts("t", {6, 7});
  m0.insert({"u", 0});
  m1.insert({"u", 1});
  m2.insert({"u", 2});
  CHECK(a["m00"] == m0);
  CHECK(a["m01"] == m1);
  CHECK(a["m02"] == m2);
}

TEST_CASE("RangeAssignor: static members are ordered by instance id",
          "[coordinator][assignor]") {
  AssignmentSpec spec;
  spec.topics = {{"t", 4}};
  spec.members["zzz"] = AssignmentMember{"a-instance", {"t"}, {}};
  spec.members["aaa"] = AssignmentMember{"b-instance", {"t"}, {}};
  GroupAssignment a = RangeAssignor().Assign(spec);
  CHECK(a["zzz"] == PartitionSet{{"t", 0}, {"t", 1}});
  CHECK(a["aaa"] == PartitionSet{{"t", 2}, {"t", 3}});
}

TEST_CASE("RangeAssignor: a topic goes only to its subscribers",
          "[coordinator][assignor]") {
  AssignmentSpec spec;
  spec.topics = {{"t", 4}, {"u", 2}, {"unsubscribed", 3}};
  spec.members["a"] = AssignmentMember{std::nullopt, {"t", "u"}, {}};
  spec.members["b"] = AssignmentMember{std::nullopt, {"t"}, {}};
  spec.members["c"] = AssignmentMember{std::nullopt, {"missing"}, {}};
  GroupAssignment a = RangeAssignor().Assign(spec);
  CheckComplete(spec, a);
  CHECK(a["c"].empty());
  CHECK(a["a"].size() == 4);  // t-0, t-1, u-0, u-1
  CHECK(a["b"].size() == 2);
}

TEST_CASE(
    "UniformAssignor: every partition exactly once, counts within one, "
    "for many group shapes",
    "[coordinator][assignor]") {
  for (int members = 1; members <= 9; members++) {
    for (int partitions : {1, 5, 12, 31, 64}) {
      AssignmentSpec spec = Spec(members, {{"a", partitions}, {"b", 3}});
      GroupAssignment a = UniformAssignor().Assign(spec);
      INFO(members << " members, " << partitions << " partitions");
      CheckComplete(spec, a);
      auto [lo, hi] = MinMax(a);
      CHECK(hi - lo <= 1);
    }
  }
}

TEST_CASE("UniformAssignor: a valid balanced assignment is kept as it is",
          "[coordinator][assignor]") {
  AssignmentSpec spec = Spec(3, {{"t", 12}});
  GroupAssignment first = UniformAssignor().Assign(spec);
  CarryOver(&spec, first);
  GroupAssignment again = UniformAssignor().Assign(spec);
  CHECK(again == first);
  CHECK(Moved(first, again) == 0);
}

TEST_CASE("UniformAssignor: adding a member moves only what the newcomer gets",
          "[coordinator][assignor]") {
  for (int members = 1; members <= 6; members++) {
    AssignmentSpec spec = Spec(members, {{"t", 12}, {"u", 5}});
    GroupAssignment before = UniformAssignor().Assign(spec);
    AssignmentSpec grown = Spec(members + 1, {{"t", 12}, {"u", 5}});
    CarryOver(&grown, before);
    GroupAssignment after = UniformAssignor().Assign(grown);
    CheckComplete(grown, after);
    auto [lo, hi] = MinMax(after);
    CHECK(hi - lo <= 1);
    const std::string newcomer = absl::StrFormat("m%02d", members);
    INFO(members << " -> " << members + 1);
    // The minimum: the newcomer's share, floor(17 / (members + 1)).
    CHECK(Moved(before, after) == static_cast<int>(after[newcomer].size()));
    CHECK(after[newcomer].size() == 17 / static_cast<size_t>(members + 1));
  }
}

TEST_CASE("UniformAssignor: removing a member moves only its partitions",
          "[coordinator][assignor]") {
  for (int members = 2; members <= 7; members++) {
    AssignmentSpec spec = Spec(members, {{"t", 12}, {"u", 5}});
    GroupAssignment before = UniformAssignor().Assign(spec);
    // Remove each member in turn.
    for (const auto& [gone, unused] : spec.members) {
      AssignmentSpec shrunk = spec;
      shrunk.members.erase(gone);
      CarryOver(&shrunk, before);
      GroupAssignment after = UniformAssignor().Assign(shrunk);
      CheckComplete(shrunk, after);
      auto [lo, hi] = MinMax(after);
      CHECK(hi - lo <= 1);
      INFO(members << " members, " << gone << " leaves");
      CHECK(Moved(before, after) == static_cast<int>(before.at(gone).size()));
    }
  }
}

TEST_CASE(
    "UniformAssignor: new partitions of a topic are spread without moving "
    "old ones when the counts allow",
    "[coordinator][assignor]") {
  AssignmentSpec spec = Spec(3, {{"t", 6}});
  GroupAssignment before = UniformAssignor().Assign(spec);
  AssignmentSpec grown = Spec(3, {{"t", 9}});
  CarryOver(&grown, before);
  GroupAssignment after = UniformAssignor().Assign(grown);
  CheckComplete(grown, after);
  CHECK(Moved(before, after) == 0);
  for (const auto& [id, parts] : after) CHECK(parts.size() == 3);
}

TEST_CASE(
    "UniformAssignor: heterogeneous subscriptions are complete, and balanced "
    "where members can share",
    "[coordinator][assignor]") {
  AssignmentSpec spec;
  spec.topics = {{"a", 6}, {"b", 6}, {"c", 2}};
  spec.members["x"] = AssignmentMember{std::nullopt, {"a"}, {}};
  spec.members["y"] = AssignmentMember{std::nullopt, {"a", "b"}, {}};
  spec.members["z"] = AssignmentMember{std::nullopt, {"b", "c"}, {}};
  GroupAssignment a = UniformAssignor().Assign(spec);
  CheckComplete(spec, a);
  // 14 partitions; each member can reach at least 6: 5/5/4 or better.
  auto [lo, hi] = MinMax(a);
  CHECK(hi - lo <= 1);

  // Random shapes: complete, deterministic, and no member holds two more
  // than another member that could take one of its partitions.
  std::mt19937 rng(7);
  for (int round = 0; round < 200; round++) {
    AssignmentSpec s;
    const int topics = 1 + rng() % 4;
    std::vector<std::string> names;
    for (int t = 0; t < topics; t++) {
      names.push_back(absl::StrFormat("t%d", t));
      s.topics[names.back()] = 1 + rng() % 10;
    }
    const int members = 1 + rng() % 6;
    for (int m = 0; m < members; m++) {
      std::vector<std::string> subs;
      for (const auto& n : names) {
        if (rng() % 2) subs.push_back(n);
      }
      s.members[absl::StrFormat("m%d", m)] =
          AssignmentMember{std::nullopt, subs, {}};
    }
    GroupAssignment out = UniformAssignor().Assign(s);
    CheckComplete(s, out);
    CHECK(UniformAssignor().Assign(s) == out);
    for (const auto& [from, fp] : out) {
      for (const auto& [to, tp] : out) {
        if (fp.size() < tp.size() + 2) continue;
        const auto& subs = s.members.at(to).topics;
        for (const auto& p : fp) {
          INFO("round " << round << ": " << from << " -> " << to);
          CHECK_FALSE(std::binary_search(subs.begin(), subs.end(), p.topic));
        }
      }
    }
  }
}

TEST_CASE("MakeAssignor: knows uniform and range only",
          "[coordinator][assignor]") {
  CHECK(MakeAssignor("uniform")->name() == "uniform");
  CHECK(MakeAssignor("range")->name() == "range");
  CHECK(MakeAssignor("roundrobin") == nullptr);
}

}  // namespace
}  // namespace fjord::coordinator
