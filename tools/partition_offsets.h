// PartitionOffsets: what `fjord consume` and `fjord replay` must know
// before they read: a topic's partitions (from fjord::Admin on --admin),
// each partition's log start and end offsets and the first offset at a
// time (from the brokers with ListOffsets, through a Consumer whose
// partitions stay paused, so the offsets are the ones a Fetch honours).
// Errors are worded for the command line: "topic 'x' not found",
// "partition 7 of topic 'x' does not exist (it has 3)". Confined to one
// thread.
#ifndef FJORD_TOOLS_PARTITION_OFFSETS_H_
#define FJORD_TOOLS_PARTITION_OFFSETS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fjord/consumer.h"
#include "tools/cli.h"

namespace fjord::tools {

struct PartitionRange {
  int32_t partition = 0;
  int64_t start = 0;  // log start offset: the first offset still there
  int64_t end = 0;    // log end offset: the next offset to be written
};

class PartitionOffsets {
 public:
  // Resolves `partitions` of `topic` (empty: all of them), in partition
  // order; kNotFound for an unknown topic or partition.
  static absl::StatusOr<std::unique_ptr<PartitionOffsets>> Create(
      const GlobalOptions& options, const std::string& topic,
      const std::vector<int32_t>& partitions);
  PartitionOffsets(const PartitionOffsets&) = delete;
  PartitionOffsets& operator=(const PartitionOffsets&) = delete;

  const std::vector<int32_t>& partitions() const { return partitions_; }
  int32_t partition_count() const { return partition_count_; }

  // The current log start and end offsets of every resolved partition.
  absl::StatusOr<std::vector<PartitionRange>> Ranges();
  // Per resolved partition, the first offset whose record timestamp is
  // >= `timestamp_ms`, or the log end offset when there is none.
  absl::StatusOr<std::vector<int64_t>> OffsetsForTime(int64_t timestamp_ms);

 private:
  PartitionOffsets(const GlobalOptions& options, std::string topic)
      : options_(options), topic_(std::move(topic)) {}
  // Positions of every partition after the seeks already made.
  absl::StatusOr<std::vector<int64_t>> Positions();

  const GlobalOptions options_;
  const std::string topic_;
  std::vector<int32_t> partitions_;
  int32_t partition_count_ = 0;
  std::vector<TopicPartition> assigned_;
  std::unique_ptr<Consumer> consumer_;
};

// "offset 12 is out of range for partition 0 of topic 'x': ..." helpers.
std::string RangeText(const PartitionRange& r);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_PARTITION_OFFSETS_H_
