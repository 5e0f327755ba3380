// The controller's decisions as pure functions, testable without etcd:
// where the replicas of a new topic go, what replication factor a topic
// gets, and who leads a partition after brokers come and go.
//
// Pure functions; thread-safe.
#ifndef FJORD_BROKER_CLUSTER_PLACEMENT_H_
#define FJORD_BROKER_CLUSTER_PLACEMENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/cluster/metadata.h"

namespace fjord::cluster {

// Replica lists for `partitions` partitions over `brokers` (distinct ids,
// sorted ascending), in the manner of Kafka's rack-unaware
// assignReplicasToBrokers, continued across topics: `start` is the number
// of partitions placed before this topic (the controller passes it, taken
// modulo n * (n - 1), after which the pattern repeats). Partition p is the
// g = start + p'th placed: its first replica (the preferred leader) is
// brokers[g % n], so leaders go round robin over topics too, and each
// follower is 1 + (g / n + j) % (n - 1) brokers further on, so followers
// spread as well. With start 0 this is exactly Kafka's assignment with
// fixed start index 0.
// kInvalidArgument if replication_factor < 1, partitions < 1 or start < 0;
// kFailedPrecondition ("replication factor 3 is larger than the 2 live
// brokers") if replication_factor > brokers.size().
absl::StatusOr<std::vector<std::vector<int32_t>>> AssignReplicas(
    std::span<const int32_t> brokers, int32_t partitions,
    int32_t replication_factor, int32_t start);

// The replication factor of a topic created without one: `configured`
// (default.replication.factor) if >= 1, else min(3, live_brokers).
int32_t DefaultReplicationFactor(int32_t configured, int32_t live_brokers);

// A new topic's record: leader = first replica, leader epoch 0, isr = all
// replicas.
TopicState NewTopic(std::string name,
                    std::map<std::string, std::string> configs,
                    const std::vector<std::vector<int32_t>>& assignment,
                    int64_t controller_epoch);

// A partition's state once the brokers in `live` are the live ones, or
// nullopt if nothing changes:
//  - dead brokers leave the isr, except that the isr never becomes empty:
//    if no member is alive it keeps its members (they were in sync when
//    last seen, so each may lead again cleanly when it returns);
//  - a live leader in the isr stays; otherwise the first replica (in
//    replica order) that is alive and in the isr leads;
//  - failing that, with `unclean` (unclean.leader.election.enable) the
//    first live replica leads and the isr becomes just it; without, the
//    leader is kNoLeader (clients get LEADER_NOT_AVAILABLE);
//  - every change of leader bumps leader_epoch; a changed partition gets
//    `controller_epoch`.
std::optional<PartitionState> ElectLeader(const PartitionState& p,
                                          const std::set<int32_t>& live,
                                          bool unclean,
                                          int64_t controller_epoch);

// ElectLeader over every partition of `t`; nullopt if none changes.
std::optional<TopicState> ReconcileTopic(const TopicState& t,
                                         const std::set<int32_t>& live,
                                         bool unclean,
                                         int64_t controller_epoch);

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_PLACEMENT_H_
