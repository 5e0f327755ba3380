#include "broker/cluster/placement.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace fjord::cluster {

absl::StatusOr<std::vector<std::vector<int32_t>>> AssignReplicas(
    std::span<const int32_t> brokers, int32_t partitions,
    int32_t replication_factor, int32_t start) {
  if (partitions < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "number of partitions must be at least 1, got %d", partitions));
  }
  if (replication_factor < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "replication factor must be at least 1, got %d", replication_factor));
  }
  const int32_t n = static_cast<int32_t>(brokers.size());
  if (start < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("start index must not be negative, got %d", start));
  }
  if (replication_factor > n) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "replication factor %d is larger than the %d live broker%s",
        replication_factor, n, n == 1 ? "" : "s"));
  }
  std::vector<std::vector<int32_t>> out;
  out.reserve(partitions);
  for (int32_t p = 0; p < partitions; p++) {
    // The partition's index in the sequence of every partition placed so
    // far: leaders go round robin along it, and the followers' shift grows
    // by one per round of n, as within one topic in Kafka.
    const int64_t g = static_cast<int64_t>(start) + p;
    const int32_t first = static_cast<int32_t>(g % n);
    const int64_t shift = g / n;
    std::vector<int32_t> replicas{brokers[first]};
    for (int32_t j = 0; j < replication_factor - 1; j++) {
      // Kafka's replicaIndex(): 1 + (shift + j) % (n - 1) steps on from the
      // first replica, never landing on it again.
      const int32_t step = static_cast<int32_t>(1 + (shift + j) % (n - 1));
      replicas.push_back(brokers[(first + step) % n]);
    }
    out.push_back(std::move(replicas));
  }
  return out;
}

int32_t DefaultReplicationFactor(int32_t configured, int32_t live_brokers) {
  if (configured >= 1) return configured;
  return std::max(1, std::min(3, live_brokers));
}

TopicState NewTopic(std::string name,
                    std::map<std::string, std::string> configs,
                    const std::vector<std::vector<int32_t>>& assignment,
                    int64_t controller_epoch) {
  TopicState t;
  t.name = std::move(name);
  t.configs = std::move(configs);
  t.replication_factor =
      assignment.empty() ? 0 : static_cast<int32_t>(assignment[0].size());
  for (size_t i = 0; i < assignment.size(); i++) {
    PartitionState p;
    p.partition = static_cast<int32_t>(i);
    p.replicas = assignment[i];
    p.leader = assignment[i].front();
    p.leader_epoch = 0;
    p.isr = assignment[i];
    p.controller_epoch = controller_epoch;
    t.partitions.push_back(std::move(p));
  }
  return t;
}

std::optional<PartitionState> ElectLeader(const PartitionState& p,
                                          const std::set<int32_t>& live,
                                          bool unclean,
                                          int64_t controller_epoch) {
  PartitionState next = p;
  std::vector<int32_t> live_isr;
  for (int32_t r : p.isr) {
    if (live.count(r)) live_isr.push_back(r);
  }
  if (!live_isr.empty()) next.isr = live_isr;
  auto in_isr = [&](int32_t id) {
    return std::find(live_isr.begin(), live_isr.end(), id) != live_isr.end();
  };
  if (p.leader != kNoLeader && in_isr(p.leader)) {
    next.leader = p.leader;
  } else {
    next.leader = kNoLeader;
    for (int32_t r : p.replicas) {
      if (in_isr(r)) {
        next.leader = r;
        break;
      }
    }
    if (next.leader == kNoLeader && unclean) {
      for (int32_t r : p.replicas) {
        if (live.count(r)) {
          next.leader = r;
          next.isr = {r};
          break;
        }
      }
    }
  }
  if (next.leader != p.leader) next.leader_epoch = p.leader_epoch + 1;
  if (next == p) return std::nullopt;
  next.controller_epoch = controller_epoch;
  return next;
}

std::optional<TopicState> ReconcileTopic(const TopicState& t,
                                         const std::set<int32_t>& live,
                                         bool unclean,
                                         int64_t controller_epoch) {
  std::optional<TopicState> out;
  for (size_t i = 0; i < t.partitions.size(); i++) {
    auto changed =
        ElectLeader(t.partitions[i], live, unclean, controller_epoch);
    if (!changed) continue;
    if (!out) out = t;
    out->partitions[i] = std::move(*changed);
  }
  return out;
}

}  // namespace fjord::cluster
