#include "broker/coordinator/assignor.h"

#include <algorithm>
#include <utility>

namespace fjord::coordinator {

namespace {

bool Subscribes(const AssignmentMember& m, std::string_view topic) {
  return std::binary_search(m.topics.begin(), m.topics.end(), topic);
}

// Topic -> the ids of the members subscribed to it, for every subscribed
// topic that exists; ids in map (member id) order.
std::map<std::string, std::vector<std::string>> Subscribers(
    const AssignmentSpec& spec) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [id, m] : spec.members) {
    for (const std::string& t : m.topics) {
      if (spec.topics.contains(t)) out[t].push_back(id);
    }
  }
  return out;
}

GroupAssignment EmptyAssignment(const AssignmentSpec& spec) {
  GroupAssignment out;
  for (const auto& [id, m] : spec.members) out[id];
  return out;
}

}  // namespace

GroupAssignment RangeAssignor::Assign(const AssignmentSpec& spec) const {
  GroupAssignment out = EmptyAssignment(spec);
  for (auto& [topic, ids] : Subscribers(spec)) {
    // Static members sort by instance id, so a restarted instance (a new
    // member id) gets the same range back.
    auto key = [&](const std::string& id) {
      const AssignmentMember& m = spec.members.at(id);
      return std::make_pair(m.instance_id.value_or(id), id);
    };
    std::sort(ids.begin(), ids.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    const int32_t n = spec.topics.at(topic);
    const int32_t members = static_cast<int32_t>(ids.size());
    const int32_t per = n / members;
    const int32_t extra = n % members;
    int32_t next = 0;
    for (int32_t i = 0; i < members; i++) {
      const int32_t len = per + (i < extra ? 1 : 0);
      for (int32_t p = next; p < next + len; p++) {
        out[ids[i]].insert(TopicPartition{topic, p});
      }
      next += len;
    }
  }
  return out;
}

GroupAssignment UniformAssignor::Assign(const AssignmentSpec& spec) const {
  GroupAssignment out = EmptyAssignment(spec);
  std::map<std::string, std::vector<std::string>> subscribers =
      Subscribers(spec);
  std::set<TopicPartition> taken;

  // 1. Keep every previous assignment that is still valid: the topic exists
  //    with that partition and the member still subscribes to it.
  for (const auto& [id, m] : spec.members) {
    for (const TopicPartition& tp : m.current) {
      auto t = spec.topics.find(tp.topic);
      if (t == spec.topics.end() || tp.partition < 0 ||
          tp.partition >= t->second || !Subscribes(m, tp.topic) ||
          taken.contains(tp)) {
        continue;
      }
      out[id].insert(tp);
      taken.insert(tp);
    }
  }

  // 2. Give each unassigned partition to the eligible member with the
  //    fewest partitions, topics with the fewest subscribers first (they
  //    have the least choice).
  std::vector<std::string> topic_order;
  for (const auto& [topic, ids] : subscribers) topic_order.push_back(topic);
  std::stable_sort(topic_order.begin(), topic_order.end(),
                   [&](const std::string& a, const std::string& b) {
                     return subscribers[a].size() < subscribers[b].size();
                   });
  for (const std::string& topic : topic_order) {
    const std::vector<std::string>& ids = subscribers[topic];
    for (int32_t p = 0; p < spec.topics.at(topic); p++) {
      TopicPartition tp{topic, p};
      if (taken.contains(tp)) continue;
      const std::string* best = &ids[0];
      for (const std::string& id : ids) {
        if (out[id].size() < out[*best].size()) best = &id;
      }
      out[*best].insert(tp);
      taken.insert(tp);
    }
  }

  // 3. Balance: while a member has at least two partitions more than a
  //    member that could take one of them, move one. Each move lowers the
  //    sum of squared counts, so this ends; only moves balance requires are
  //    made, which keeps the assignment sticky.
  std::vector<std::string> ids;
  for (const auto& [id, m] : spec.members) ids.push_back(id);
  for (;;) {
    std::vector<std::string> by_count = ids;
    std::stable_sort(by_count.begin(), by_count.end(),
                     [&](const std::string& a, const std::string& b) {
                       return out[a].size() > out[b].size();
                     });
    bool moved = false;
    for (const std::string& from : by_count) {
      // Receivers, fewest partitions first.
      for (auto to = by_count.rbegin(); to != by_count.rend(); ++to) {
        if (out[*to].size() + 2 > out[from].size()) break;
        const AssignmentMember& receiver = spec.members.at(*to);
        PartitionSet& give = out[from];
        // The highest partition the receiver can take.
        for (auto it = give.rbegin(); it != give.rend(); ++it) {
          if (Subscribes(receiver, it->topic)) {
            TopicPartition tp = *it;
            give.erase(tp);
            out[*to].insert(tp);
            moved = true;
            break;
          }
        }
        if (moved) break;
      }
      if (moved) break;
    }
    if (!moved) break;
  }
  return out;
}

std::unique_ptr<Assignor> MakeAssignor(std::string_view name) {
  if (name == "range") return std::make_unique<RangeAssignor>();
  if (name == "uniform") return std::make_unique<UniformAssignor>();
  return nullptr;
}

}  // namespace fjord::coordinator
