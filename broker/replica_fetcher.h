// ReplicaFetcher: the follower's side of replication for every partition
// this broker follows from one leader broker, over one connection to it
// (Kafka's ReplicaFetcherThread, as a coroutine on the broker's
// io_context). For each partition it first finds where its log stops
// agreeing with the leader's: it asks the leader, with OffsetForLeaderEpoch,
// where its own latest leader epoch ends there and truncates to that point
// (log::NextTruncationStep), not merely to its high watermark. Then it
// fetches (Kafka Fetch, replica_id = its node id, the current leader epoch
// of the partition), appends what comes back as it is
// (log::Log::AppendAsFollower) and learns the leader's high watermark. The
// offset each fetch asks for tells the leader how far this follower has
// got.
//
// Every write to a log is guarded by the leader epoch the partition was
// added with (the Log refuses it once the partition's role changed), so a
// response that races a change of leadership is never applied.
//
// Thread-safe: Add, Remove and Stop may be called from any thread; the
// fetching itself runs on a strand of its own.
#ifndef FJORD_BROKER_REPLICA_FETCHER_H_
#define FJORD_BROKER_REPLICA_FETCHER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "broker/broker_config.h"
#include "broker/partition.h"
#include "log/types.h"

namespace fjord::broker {

namespace internal {
class PeerConnection;
}

struct ReplicaFetcherOptions {
  int32_t self = 0;  // this broker's node id, sent as replica_id
  int32_t max_wait_ms = 500;
  int32_t partition_max_bytes = 1 << 20;
  int32_t max_bytes = 16 << 20;
  std::chrono::milliseconds connect_timeout{3000};
  // Added to max_wait_ms for a fetch's deadline.
  std::chrono::milliseconds request_timeout{10000};
  // After a failed connection or a partition's error.
  std::chrono::milliseconds backoff{200};
};

class ReplicaFetcher : public std::enable_shared_from_this<ReplicaFetcher> {
 public:
  // The leader's advertised Kafka address, nullopt if it is not known now.
  using Resolver = std::function<std::optional<HostPort>(int32_t node_id)>;

  ReplicaFetcher(asio::io_context& io, int32_t leader,
                 ReplicaFetcherOptions options, Resolver resolve);
  ~ReplicaFetcher();
  ReplicaFetcher(const ReplicaFetcher&) = delete;
  ReplicaFetcher& operator=(const ReplicaFetcher&) = delete;

  // Starts the coroutine (it holds a reference to the fetcher until it
  // ends).
  void Start();
  // Ends the coroutine soon (closes the connection). Idempotent.
  void Stop();

  int32_t leader() const { return leader_; }
  // Follows `partition` under `epoch` (its log is already a follower's
  // under it), starting with truncation; `high_watermark` is what this
  // replica knew before (the fallback truncation point when the leader
  // cannot compare epoch histories). Replaces an earlier Add of it.
  void Add(std::shared_ptr<Partition> partition, LeaderEpoch epoch,
           Offset high_watermark);
  // Stops following `tp`; returns the high watermark learned for it
  // (nullopt if it was not followed here).
  std::optional<Offset> Remove(const TopicPartition& tp);
  bool empty() const;
  // The high watermark learned for `tp`, if followed here.
  std::optional<Offset> high_watermark(const TopicPartition& tp) const;

 private:
  struct Followed {
    std::shared_ptr<Partition> partition;
    LeaderEpoch epoch;
    Offset high_watermark;
    bool truncating = true;
    // The epoch to ask about next while truncating (kNoLeaderEpoch: the
    // log's latest).
    LeaderEpoch ask_epoch = kNoLeaderEpoch;
    std::chrono::steady_clock::time_point retry_at{};
  };
  // A copy of one partition's work for this round.
  struct Work {
    TopicPartition tp;
    std::shared_ptr<Partition> partition;
    LeaderEpoch epoch;
    Offset high_watermark;
    LeaderEpoch ask_epoch;
  };

  asio::awaitable<void> Run();
  // One OffsetForLeaderEpoch round for `work`; false on a connection error.
  asio::awaitable<bool> Truncate(std::vector<Work> work);
  // One Fetch round; false on a connection error.
  asio::awaitable<bool> Fetch(std::vector<Work> work);
  asio::awaitable<void> Sleep(std::chrono::milliseconds d);
  // Updates a partition's state if it is still followed under `epoch`.
  void Update(const TopicPartition& tp, LeaderEpoch epoch,
              const std::function<void(Followed&)>& fn);
  void Backoff(const TopicPartition& tp, LeaderEpoch epoch);

  const int32_t leader_;
  const ReplicaFetcherOptions options_;
  const Resolver resolve_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer wake_;                               // strand only
  std::unique_ptr<internal::PeerConnection> connection_;  // strand only
  int32_t next_correlation_id_ = 1;                       // strand only
  std::atomic<bool> stopped_{false};

  mutable absl::Mutex mu_;
  std::map<TopicPartition, Followed> partitions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_REPLICA_FETCHER_H_
