// fjord::Consumer: reads records from assigned partitions. One network
// thread per Consumer keeps a Fetch in flight to each broker while the
// application works, so Poll usually finds the next records already here;
// Poll hands them out as lazily decoded views into the fetched bytes
// (fjord/consumer_records.h). Positions advance as Poll returns records.
// Semantics, properties and errors: client/README.md.
//
// Partitions are assigned explicitly with Assign. Consumer groups (issue 7)
// will add Subscribe(topics, listener) with group-managed assignment and
// offset commits; a consumer will use either Assign or Subscribe, and the
// group's rebalance callbacks will run inside Poll, on the caller's thread.
//
// Externally synchronized: call a Consumer from one thread at a time.
#ifndef FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_H_
#define FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/config.h"
#include "fjord/consumer_records.h"
#include "fjord/record.h"

namespace fjord {

class Consumer {
 public:
  // Validates `properties` (kInvalidArgument naming the first bad one) and
  // starts the network thread.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const Properties& properties);
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  ~Consumer();

  // Replaces the assigned partitions. A partition that stays assigned keeps
  // its position; a new one starts where auto.offset.reset says (earliest,
  // latest) unless Seek gives it a position first; with
  // auto.offset.reset=none, Poll fails until it has one.
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;

  // The next record Poll returns for `partition` will be the one at
  // `offset` (or the first after it). kFailedPrecondition if not assigned.
  absl::Status Seek(const TopicPartition& partition, int64_t offset);
  // To the log start / log end of each partition (all assigned if empty).
  absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions);
  absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions);
  // To the first record whose timestamp is >= `timestamp_ms`, or the log
  // end when there is none.
  absl::Status SeekToTimestamp(const TopicPartition& partition,
                               int64_t timestamp_ms);

  // The offset of the next record Poll will return for `partition`,
  // waiting up to `timeout` for a pending seek or reset to resolve.
  absl::StatusOr<int64_t> Position(
      const TopicPartition& partition,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Records fetched for the assigned, unpaused partitions, waiting up to
  // `timeout` for some; empty when none arrived. Fails (and returns no
  // records) while a partition is in error: kOutOfRange for an offset out
  // of range with auto.offset.reset=none, kFailedPrecondition for a
  // partition without position under that policy, kNotFound for a topic or
  // partition that does not exist, kDataLoss for a corrupt batch. Seek (or
  // Assign without the partition) clears a partition's error.
  absl::StatusOr<ConsumerRecords> Poll(std::chrono::milliseconds timeout);

  // Paused partitions are not fetched and Poll returns nothing for them;
  // what was prefetched is kept for Resume.
  void Pause(const std::vector<TopicPartition>& partitions);
  void Resume(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Paused() const;

  // Stops the network thread; later calls fail with kFailedPrecondition.
  // Idempotent.
  void Close();

  class Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_H_
