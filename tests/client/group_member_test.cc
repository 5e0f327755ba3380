// The member's reconciliation of a heartbeat answer (GroupMember's pure
// part): which partitions to start, revoke, release or count as lost.
#include "client/internal/group_member.h"

#include "catch2/catch.hpp"

namespace fjord::client::internal {
namespace {

PartitionSet Set(std::initializer_list<int32_t> ps) {
  PartitionSet out;
  for (int32_t p : ps) out.insert(TopicPartition{"t", p});
  return out;
}

std::vector<TopicPartition> List(std::initializer_list<int32_t> ps) {
  std::vector<TopicPartition> out;
  for (int32_t p : ps) out.push_back(TopicPartition{"t", p});
  return out;
}

TEST_CASE("Reconcile: a join's assignment starts every partition",
          "[client][group]") {
  Reconciliation r = Reconcile({}, {}, {}, Set({0, 1, 2}), {});
  CHECK(r.newly_assigned == List({0, 1, 2}));
  CHECK(r.to_revoke.empty());
  CHECK(r.released_unstarted.empty());
  CHECK(r.gone.empty());
}

TEST_CASE(
    "Reconcile: partitions kept across a rebalance are neither started "
    "again nor revoked",
    "[client][group]") {
  // Owns 0-3; keeps 0 and 1, must give up 2 and 3, gains nothing yet.
  Reconciliation r =
      Reconcile(Set({0, 1, 2, 3}), {}, {}, Set({0, 1}), Set({2, 3}));
  CHECK(r.newly_assigned.empty());
  CHECK(r.to_revoke == List({2, 3}));
  CHECK(r.gone.empty());
  // The next answer repeats the revocation: it is not asked for twice.
  r = Reconcile(Set({0, 1, 2, 3}), {}, Set({2, 3}), Set({0, 1}), Set({2, 3}));
  CHECK(r.to_revoke.empty());
  CHECK(r.gone.empty());
  // Revoked (no longer owned), then a new partition arrives.
  r = Reconcile(Set({0, 1}), {}, {}, Set({0, 1, 5}), {});
  CHECK(r.newly_assigned == List({5}));
  CHECK(r.gone.empty());
}

TEST_CASE(
    "Reconcile: a partition revoked before its committed offset was fetched "
    "is released at once",
    "[client][group]") {
  Reconciliation r = Reconcile(Set({0, 1}), Set({1}), {}, Set({0}), Set({1}));
  CHECK(r.released_unstarted == List({1}));
  CHECK(r.to_revoke.empty());
  CHECK(r.gone.empty());
}

TEST_CASE("Reconcile: an owned partition in neither list is lost, not revoked",
          "[client][group]") {
  Reconciliation r = Reconcile(Set({0, 1, 2}), {}, {}, Set({0}), Set({1}));
  CHECK(r.to_revoke == List({1}));
  CHECK(r.gone == List({2}));
  // A revocation already released by the coordinator's view is ignored.
  r = Reconcile(Set({0}), {}, {}, Set({0}), Set({4}));
  CHECK(r.to_revoke.empty());
  CHECK(r.released_unstarted.empty());
}

}  // namespace
}  // namespace fjord::client::internal
