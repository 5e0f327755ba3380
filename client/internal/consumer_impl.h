// Consumer::Impl: the consumer's machinery behind fjord/consumer.h. The
// application thread (Poll, Seek, ...) and the network loop (fetcher.cc:
// Fetch and ListOffsets requests and their answers) share the partition
// states and the queue of completed fetches under one mutex. The loop has
// no thread of its own (NetworkClient::Mode::kCaller): Poll and Position
// run it while they wait, so a Fetch answer wakes Poll directly; each Poll
// first handles what arrived since the last one and sends the next
// fetches, which the broker answers while the application works. With group.id,
// a GroupMember (client/internal/group_member.h) runs the group protocol on
// threads of its own; consumer_group.cc is the application-thread half
// (Subscribe, commits, the rebalance events Poll handles).
//
// Thread safety: the public functions take mu_; fetcher.cc runs in the
// network loop (on the application thread, inside Poll or Position); the
// GroupHost functions run on the member's threads. Lock order:
// GroupMember::mu_, then mu_ (nothing is locked under mu_, and the member is
// never called with mu_ held).
#ifndef FJORD_CLIENT_INTERNAL_CONSUMER_IMPL_H_
#define FJORD_CLIENT_INTERNAL_CONSUMER_IMPL_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "client/internal/backoff.h"
#include "client/internal/config.h"
#include "client/internal/group_member.h"
#include "client/internal/network_client.h"
#include "fjord/consumer.h"

namespace fjord {

class Consumer::Impl final : public client::internal::GroupHost {
 public:
  explicit Impl(client::internal::ConsumerConfig config);
  ~Impl() override;
  void Start();

  // Consumer groups (consumer_group.cc).
  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener* listener);
  absl::Status Unsubscribe();
  std::vector<std::string> Subscription() const;
  GroupMemberMetadata GroupMetadata() const;
  absl::Status Commit(const OffsetMap* offsets);
  void CommitAsync(const OffsetMap* offsets, CommitCallback callback);
  absl::StatusOr<OffsetMap> Committed(
      const std::vector<TopicPartition>& partitions,
      std::chrono::milliseconds timeout);

  // GroupHost: from the member's threads.
  void StopPartitions(const std::vector<TopicPartition>& partitions) override;
  void WakePoll() override;

  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;
  absl::Status Seek(const TopicPartition& tp, int64_t offset);
  absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions);
  absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions);
  absl::Status SeekToTimestamp(const TopicPartition& tp, int64_t timestamp);
  absl::StatusOr<int64_t> Position(const TopicPartition& tp,
                                   std::chrono::milliseconds timeout);
  absl::StatusOr<ConsumerRecords> Poll(std::chrono::milliseconds timeout);
  void Pause(const std::vector<TopicPartition>& partitions, bool paused);
  std::vector<TopicPartition> Paused() const;
  void Close();

 private:
  enum class Reset { kNone, kEarliest, kLatest, kTimestamp };
  // A partition's prefetched answers: one being processed by the
  // application and one more waiting. With this many queued the fetcher
  // holds the partition back until Poll takes one.
  static constexpr int kMaxBufferedFetches = 2;

  struct PartitionState {
    TopicPartition tp;
    std::string_view topic;     // interned in topic_names_
    int64_t position = -1;      // the next offset Poll returns; -1: unknown
    int64_t fetch_offset = -1;  // the next offset to fetch (>= position)
    Reset reset = Reset::kNone;
    int64_t reset_timestamp = 0;
    // Bumped by every seek and reset: answers to older requests are
    // dropped.
    uint64_t epoch = 0;
    bool paused = false;
    bool fetch_in_flight = false;
    bool reset_in_flight = false;
    int64_t retry_at_ms = 0;  // after a failed fetch or ListOffsets
    int buffered = 0;         // completed fetches queued (current epoch)
    // The last Fetch found nothing past fetch_offset: a Fetch of only such
    // partitions waits fetch.max.wait.ms at the broker.
    bool caught_up = false;
    // The group is taking it away (revocation or loss under way): not
    // fetched, nothing of it returned or committed any more.
    bool stopped = false;
    absl::Status error;  // returned by Poll until a seek clears it
  };

  struct DoneCommit {
    CommitCallback callback;
    absl::Status status;
    OffsetMap offsets;
  };

  struct CompletedFetch {
    std::shared_ptr<PartitionState> state;
    uint64_t epoch;
    std::span<const uint8_t> records;  // whole batches
    std::shared_ptr<uint8_t[]> buffer;
  };

  // A partition's position is wanted again (seek to an end or timestamp).
  absl::Status SetReset(const TopicPartition& tp, Reset reset, int64_t ts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetInitialPosition(PartitionState* ps)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<PartitionState> Find(const TopicPartition& tp) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new partition state (its topic name interned), at auto.offset.reset.
  std::shared_ptr<PartitionState> NewPartition(const TopicPartition& tp)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeFetcher();
  // Runs the network loop on this thread (mu_ released meanwhile) until an
  // answer or other event has been handled, or `ms` passed: Poll and
  // Position wait for the network this way, so an answer wakes them
  // directly.
  void WaitForNetwork(int64_t ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first error Poll must report, OK if none.
  absl::Status PollError() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ConsumerRecords> PollRecords(
      std::chrono::milliseconds timeout);
  // Checks `taken` (with mu_ released meanwhile), advances the positions and
  // returns the records.
  absl::StatusOr<ConsumerRecords> TakeRecords(
      std::vector<CompletedFetch>& taken) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- consumer groups, application thread (consumer_group.cc)
  // CommitAsync callbacks, rebalance events, auto commit: what Poll (and
  // Commit, Unsubscribe, Close) run first. Takes mu_ itself.
  void RunGroupWork();
  void HandleGroupEvent(client::internal::GroupEvent& event);
  void RunCommitCallbacks();
  void MaybeAutoCommit();
  // The positions of the assigned partitions (all if `only` is null) that
  // are not being taken away and have one.
  OffsetMap ConsumedPositions(const std::vector<TopicPartition>* only);
  absl::Status CommitSync(OffsetMap offsets, uint64_t generation);
  void EnqueueCommit(OffsetMap offsets, uint64_t generation,
                     CommitCallback callback);
  // Revokes everything (callback, auto commit) and leaves: Unsubscribe and
  // Close.
  absl::Status LeaveGroup(bool temporary);
  void RemovePartitions(const std::vector<TopicPartition>& partitions);
  // Calls the listener with in_callback_ set.
  template <typename Fn>
  void Callback(Fn&& fn) {
    if (listener_ == nullptr) return;
    in_callback_ = true;
    fn(*listener_);
    in_callback_ = false;
  }

  // ---- network loop (fetcher.cc)
  void Run();
  void SendListOffsets(int32_t node,
                       std::vector<std::shared_ptr<PartitionState>> parts);
  void SendFetch(int32_t node,
                 std::vector<std::shared_ptr<PartitionState>> parts);
  void OnFetch(int32_t node, std::vector<std::shared_ptr<PartitionState>> parts,
               std::vector<uint64_t> epochs, int16_t version,
               absl::Status status, client::internal::Response resp);
  void OnListOffsets(std::vector<std::shared_ptr<PartitionState>> parts,
                     std::vector<uint64_t> epochs, int16_t version,
                     absl::Status status, client::internal::Response resp);
  void ScheduleRun(int64_t at_ms);
  int32_t LeaderOf(const PartitionState& ps, absl::Status* error);

  const client::internal::ConsumerConfig config_;
  client::internal::NetworkClient net_;

  mutable absl::Mutex mu_;
  absl::CondVar data_cv_;  // completed_, positions or errors changed
  std::map<TopicPartition, std::shared_ptr<PartitionState>> partitions_
      ABSL_GUARDED_BY(mu_);
  std::deque<CompletedFetch> completed_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> topic_names_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // The network loop's last connection or metadata error, for messages.
  absl::Status network_error_ ABSL_GUARDED_BY(mu_);
  // Group state the member's threads touch.
  bool group_wake_ ABSL_GUARDED_BY(mu_) = false;  // an event for Poll
  std::deque<DoneCommit> done_commits_ ABSL_GUARDED_BY(mu_);
  // The offsets this consumer last committed, so auto commit skips
  // partitions that did not move.
  std::map<TopicPartition, int64_t> last_committed_ ABSL_GUARDED_BY(mu_);

  // Application thread only.
  std::unique_ptr<client::internal::GroupMember> member_;  // with group.id
  RebalanceListener* listener_ = nullptr;
  bool subscribed_ = false;
  bool in_callback_ = false;
  int64_t next_auto_commit_ms_ = 0;

  std::atomic<bool> wake_pending_{false};

  // Network loop.
  asio::steady_timer run_timer_;
  int64_t run_timer_at_ms_ = 0;
  client::internal::Backoff backoff_;
  std::map<int32_t, bool> fetching_;  // node -> a Fetch is in flight
  int fetch_failures_ = 0;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INTERNAL_CONSUMER_IMPL_H_
