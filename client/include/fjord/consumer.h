// fjord::Consumer: reads records from assigned partitions. Each Poll
// sends the next Fetch to each broker before it returns, and the broker
// answers it while the application works, so the next Poll usually finds
// the records already here. The network work happens on the thread that
// calls Poll (and Position), inside those calls, as in Kafka's Java
// consumer: there is no network thread to hand records over, so a record
// that arrives while Poll waits wakes Poll itself. Poll hands them out as
// lazily decoded views into the fetched bytes (fjord/consumer_records.h).
// Positions advance as Poll returns records. Semantics, properties and errors:
// client/README.md.
//
// Partitions are either assigned explicitly with Assign, or managed by a
// consumer group (group.id) with Subscribe: the group's coordinator
// (proto/coordinator.proto) spreads the subscribed topics' partitions over
// the group's members and moves them incrementally when members come and
// go. A consumer uses one or the other. Offsets are committed to the group
// (Commit, CommitAsync, enable.auto.commit) and a newly assigned partition
// starts at its committed offset. The group's heartbeats run on a thread of
// the consumer's own; the rebalance callbacks (RebalanceListener) and the
// CommitAsync callbacks run on the thread that calls Poll, inside Poll (or
// Commit, Unsubscribe, Close).
//
// Externally synchronized: call a Consumer from one thread at a time.
#ifndef FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_H_
#define FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fjord/config.h"
#include "fjord/consumer_records.h"
#include "fjord/record.h"

namespace fjord {

// A committed position: the offset of the next record to consume (Kafka's
// convention: the last processed offset + 1) and free text kept with it.
struct OffsetAndMetadata {
  int64_t offset = -1;
  std::string metadata;
  friend bool operator==(const OffsetAndMetadata&,
                         const OffsetAndMetadata&) = default;
};
using OffsetMap = std::map<TopicPartition, OffsetAndMetadata>;

// What a subscribed consumer is told when its partitions change. Called on
// the thread that calls Poll, inside Poll (also inside Unsubscribe and
// Close, and the destructor, which calls Close): the listener must outlive
// the Consumer or the subscription. Calling the Consumer from a callback
// is allowed (Commit, Seek, Position, Pause, ...), except Poll,
// Subscribe, Unsubscribe and Close.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Partitions newly given to this consumer (never the ones it keeps).
  // Each starts at its committed offset, else where auto.offset.reset
  // says; a Seek here starts it elsewhere.
  virtual void OnPartitionsAssigned(
      const std::vector<TopicPartition>& partitions) {}
  // Partitions this consumer gives up in an orderly way (another member
  // takes them, Unsubscribe, Close). Their records are no longer returned;
  // commit what was processed here. With enable.auto.commit the consumer
  // commits their positions right after this returns, before it tells the
  // coordinator they are released.
  virtual void OnPartitionsRevoked(
      const std::vector<TopicPartition>& partitions) {}
  // Partitions this consumer lost without an orderly hand-over: it was
  // fenced or dropped from the group (its session expired, the coordinator
  // restarted or could not be reached for session.timeout.ms, it did not
  // Poll for max.poll.interval.ms), so other members may own them already
  // and nothing of them is committed any more. Defaults to
  // OnPartitionsRevoked, as in Kafka's Java client; a commit made from
  // there is refused.
  virtual void OnPartitionsLost(const std::vector<TopicPartition>& partitions) {
    OnPartitionsRevoked(partitions);
  }
};

// A subscribed consumer's place in its group, for diagnostics.
struct GroupMemberMetadata {
  std::string group_id;
  std::string member_id;     // "" before the first join
  int32_t member_epoch = 0;  // 0: not (yet) in the group
  std::string instance_id;   // group.instance.id
};

class Consumer {
 public:
  // Validates `properties` (kInvalidArgument naming the first bad one);
  // with group.id, starts the group's threads.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const Properties& properties);
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  ~Consumer();

  // Replaces the assigned partitions. A partition that stays assigned keeps
  // its position; a new one starts where auto.offset.reset says (earliest,
  // latest) unless Seek gives it a position first; with
  // auto.offset.reset=none, Poll fails until it has one. (Committed offsets
  // are not looked up: use Committed and Seek.) kFailedPrecondition while
  // subscribed.
  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  // The partitions assigned explicitly, or by the group (those whose
  // OnPartitionsAssigned has run and OnPartitionsRevoked/Lost not yet).
  std::vector<TopicPartition> Assignment() const;

  // Joins group.id's consumer group (kFailedPrecondition without group.id
  // or while partitions are assigned with Assign) and consumes the
  // partitions of `topics` it is given; topics that do not exist yet are
  // assigned once they are created. Returns at once: the join, the
  // assignment and `listener`'s callbacks happen in later Polls. Calling it
  // again changes the subscription (and the listener); an empty list is
  // Unsubscribe. `listener` may be null; if not, it must outlive the
  // subscription (see RebalanceListener).
  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener* listener = nullptr);
  // Revokes every partition (OnPartitionsRevoked, then, with auto commit,
  // a commit of their positions), leaves the group and forgets the
  // subscription. Also drops an Assign assignment. A consumer that is not
  // subscribed returns OK.
  absl::Status Unsubscribe();
  std::vector<std::string> Subscription() const;
  GroupMemberMetadata GroupMetadata() const;

  // Commits, and waits for the coordinator to store (and fsync), the
  // positions of every assigned partition (what Poll has returned), or
  // `offsets`. Bounded by request.timeout.ms. Errors: kFailedPrecondition
  // without group.id, or when this member was fenced or has left (its
  // partitions may be someone else's: the commit is refused);
  // kUnavailable / kDeadlineExceeded when the coordinator did not answer in
  // time; kInvalidArgument (metadata too long), kNotFound (no such topic or
  // partition). A consumer using Assign commits as a simple consumer,
  // which the coordinator accepts only while the group has no members.
  // Commits (sync, async, automatic) reach the coordinator in call order.
  // Pending CommitAsync callbacks run before it returns.
  absl::Status Commit();
  absl::Status Commit(const OffsetMap& offsets);
  // The same, without waiting; `callback` (may be null) runs with the
  // outcome and the offsets in a later Poll, Commit or Close, on that
  // thread.
  using CommitCallback =
      std::function<void(const absl::Status&, const OffsetMap&)>;
  void CommitAsync(CommitCallback callback = nullptr);
  void CommitAsync(const OffsetMap& offsets, CommitCallback callback);
  // The group's committed offsets of `partitions`; a partition with none
  // committed is absent from the map. kFailedPrecondition without group.id.
  absl::StatusOr<OffsetMap> Committed(
      const std::vector<TopicPartition>& partitions,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

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
  //
  // Subscribed, Poll also runs the group's side of the application thread:
  // CommitAsync callbacks, rebalance callbacks (and the commit of revoked
  // partitions), and, every auto.commit.interval.ms, an asynchronous
  // commit of the positions of the records returned by earlier Polls. It
  // fails with kUnavailable (after waiting `timeout` for a rejoin) while
  // the consumer is out of the group because the coordinator could not be
  // reached for session.timeout.ms (it keeps trying to rejoin; the
  // partitions' OnPartitionsLost has run by then); at once
  // with kFailedPrecondition when another process took group.instance.id,
  // and with kInvalidArgument when the coordinator refuses the member's
  // settings (session.timeout.ms outside its bounds, group.remote.assignor).
  absl::StatusOr<ConsumerRecords> Poll(std::chrono::milliseconds timeout);

  // Paused partitions are not fetched and Poll returns nothing for them;
  // what was prefetched is kept for Resume.
  void Pause(const std::vector<TopicPartition>& partitions);
  void Resume(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Paused() const;

  // Subscribed: revokes every partition (OnPartitionsRevoked), commits
  // their positions with enable.auto.commit, and leaves the group (a static
  // member, with group.instance.id, leaves temporarily: its partitions wait
  // session.timeout.ms for it to come back). With Assign and auto commit,
  // commits the positions. Then stops the consumer's threads; later calls
  // fail with kFailedPrecondition. Idempotent; the destructor calls it.
  void Close();

  class Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INCLUDE_FJORD_CONSUMER_H_
