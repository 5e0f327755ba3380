// Set algebra on sorted partition sets, for the coordinator's
// reconciliation. Free functions; thread-compatible.
#ifndef FJORD_BROKER_COORDINATOR_INTERNAL_PARTITION_SETS_H_
#define FJORD_BROKER_COORDINATOR_INTERNAL_PARTITION_SETS_H_

#include <algorithm>
#include <iterator>

#include "broker/coordinator/assignor.h"

namespace fjord::coordinator::internal {

inline PartitionSet Intersection(const PartitionSet& a, const PartitionSet& b) {
  PartitionSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(),
                        std::inserter(out, out.end()));
  return out;
}

// a - b
inline PartitionSet Difference(const PartitionSet& a, const PartitionSet& b) {
  PartitionSet out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(),
                      std::inserter(out, out.end()));
  return out;
}

inline bool Intersects(const PartitionSet& a, const PartitionSet& b) {
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      return true;
    }
  }
  return false;
}

inline bool IsSubset(const PartitionSet& sub, const PartitionSet& of) {
  return std::includes(of.begin(), of.end(), sub.begin(), sub.end());
}

}  // namespace fjord::coordinator::internal

#endif  // FJORD_BROKER_COORDINATOR_INTERNAL_PARTITION_SETS_H_
