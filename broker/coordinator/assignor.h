// Assignor: computes a consumer group's target assignment on the server,
// from its members' subscriptions, the subscribed topics' partition counts
// and the previous target assignment. Two implementations:
//
//  - "range": per topic, the topic's subscribers sorted by instance id (or
//    member id for dynamic members) get contiguous ranges, the first
//    (partitions % members) one partition more. Deterministic, not sticky.
//  - "uniform": balanced over all of a member's partitions (counts differ by
//    at most one among members that can take the same partitions) and
//    sticky: it keeps every previous assignment it can and moves only what
//    balance requires (adding a member moves just what the newcomer gets,
//    removing one moves just what it had).
//
// Both assign every partition of every subscribed topic to exactly one
// member subscribed to that topic. Stateless; thread-safe.
#ifndef FJORD_BROKER_COORDINATOR_ASSIGNOR_H_
#define FJORD_BROKER_COORDINATOR_ASSIGNOR_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "log/types.h"

namespace fjord::coordinator {

using PartitionSet = std::set<TopicPartition>;

struct AssignmentMember {
  std::optional<std::string> instance_id;
  // Sorted, unique; may name topics that do not exist.
  std::vector<std::string> topics;
  // The member's partitions in the previous target assignment.
  PartitionSet current;
};

struct AssignmentSpec {
  // By member id.
  std::map<std::string, AssignmentMember> members;
  // Partition count of every subscribed topic that exists.
  std::map<std::string, int32_t> topics;
};

// Member id -> its target partitions; every member of the spec is present.
using GroupAssignment = std::map<std::string, PartitionSet>;

class Assignor {
 public:
  virtual ~Assignor() = default;
  virtual std::string_view name() const = 0;
  virtual GroupAssignment Assign(const AssignmentSpec& spec) const = 0;
};

class RangeAssignor final : public Assignor {
 public:
  std::string_view name() const override { return "range"; }
  GroupAssignment Assign(const AssignmentSpec& spec) const override;
};

class UniformAssignor final : public Assignor {
 public:
  std::string_view name() const override { return "uniform"; }
  GroupAssignment Assign(const AssignmentSpec& spec) const override;
};

// The assignor called `name`, or nullptr.
std::unique_ptr<Assignor> MakeAssignor(std::string_view name);

}  // namespace fjord::coordinator

#endif  // FJORD_BROKER_COORDINATOR_ASSIGNOR_H_
