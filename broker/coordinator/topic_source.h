// TopicSource: what the group coordinator needs from the broker's topics:
// partition counts (for assignment and to validate commits), partition logs
// (for lag, offset resets, and __consumer_offsets itself), a hook after
// it appended to a log (the broker wakes parked fetches), and, in a
// cluster, a wait until an append is held by the partition's in-sync
// replicas. The broker implements it over its TopicManager; tests may too.
//
// Implementations must be thread-safe and must not call back into the
// coordinator.
#ifndef FJORD_BROKER_COORDINATOR_TOPIC_SOURCE_H_
#define FJORD_BROKER_COORDINATOR_TOPIC_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "log/log.h"

namespace fjord::coordinator {

class TopicSource {
 public:
  virtual ~TopicSource() = default;
  // nullopt if the topic does not exist.
  virtual std::optional<int32_t> PartitionCount(
      std::string_view topic) const = 0;
  // nullptr if the partition does not exist.
  virtual std::shared_ptr<log::Log> PartitionLog(std::string_view topic,
                                                 int32_t partition) const = 0;
  // The coordinator appended to `topic`/`partition`.
  virtual void Appended(std::string_view topic, int32_t partition) = 0;
  // Blocks until every record of `topic`/`partition` before `end` is held
  // by the partition's in-sync replicas (its high watermark reached `end`),
  // at most `timeout`: kDeadlineExceeded then, kFailedPrecondition if this
  // broker stopped leading the partition meanwhile. A single node has no
  // replicas: its records are committed once in its own log, so the
  // default is OK at once.
  virtual absl::Status WaitReplicated(std::string_view topic, int32_t partition,
                                      Offset end, absl::Duration timeout) {
    (void)topic, (void)partition, (void)end, (void)timeout;
    return absl::OkStatus();
  }
};

}  // namespace fjord::coordinator

#endif  // FJORD_BROKER_COORDINATOR_TOPIC_SOURCE_H_
