// Producer::Impl: the producer's machinery behind fjord/producer.h. Send
// threads choose a partition and append to the RecordAccumulator; the
// network thread (NetworkClient) runs the sender: it takes ready batches,
// stamps producer id and sequence numbers (idempotence), sends one Produce
// request per broker at a time per turn with up to max.in.flight pipelined,
// and completes, retries or fails batches from the answers.
//
// Thread safety: the public functions are thread-safe; members marked
// "network thread" are touched only there, or by a Send holding the
// loop's guard (SendNow), which the network thread holds while it works. Lock
// order: topics_mu_, then the accumulator's locks.
#ifndef FJORD_CLIENT_INTERNAL_PRODUCER_IMPL_H_
#define FJORD_CLIENT_INTERNAL_PRODUCER_IMPL_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "client/internal/accumulator.h"
#include "client/internal/backoff.h"
#include "client/internal/config.h"
#include "client/internal/network_client.h"
#include "fjord/producer.h"

namespace fjord {

class Producer::Impl {
 public:
  explicit Impl(client::internal::ProducerConfig config);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void Start();
  void Send(const ProducerRecord& record, DeliveryCallback callback);
  absl::Status Flush(std::chrono::milliseconds timeout);
  absl::Status Close(std::chrono::milliseconds timeout);
  absl::StatusOr<int32_t> PartitionCount(std::string_view topic);

 private:
  using Batch = client::internal::ProducerBatch;
  using Queue = client::internal::PartitionQueue;
  using Topic = client::internal::TopicEntry;

  // ---- Send path (any thread)
  // The topic's entry once its partition count is known, waiting for
  // metadata until `deadline_ms`; otherwise the reason, for the caller.
  // Entries are never removed, so the pointer stays valid.
  absl::StatusOr<Topic*> WaitForTopic(std::string_view name,
                                      int64_t deadline_ms)
      ABSL_LOCKS_EXCLUDED(topics_mu_);
  void WakeSender();
  // Sends what is ready from this thread, if the network thread is idle
  // (it holds the loop's guard while it works), saving the wake-up of that
  // thread; false if it must be woken to do it instead.
  bool SendNow();
  // Steady-clock time when a Send blocked from now must give up.
  int64_t BlockDeadline() const;

  // ---- network thread (sender.cc)
  void Run();
  void OnNetworkEvent();
  void ApplyMetadata();
  int64_t ExpireBatches(int64_t now);
  void MaybeInitProducerId();
  // Whether some partition's oldest unanswered batch may be in the log
  // although no answer said so (idempotence; see MayBeAppended).
  bool AnyPartitionInDoubt();
  // Sends what is ready; with `in_doubt_only` (a producer id reset is
  // pending) only such batches, under their old id.
  int64_t SendReady(int64_t now, bool in_doubt_only = false);
  bool PrepareBatch(Batch* b);
  void SendProduce(client::internal::Connection* conn,
                   std::vector<Batch*> batches);
  void OnProduceResponse(std::vector<Batch*> batches, int16_t version,
                         absl::Status status,
                         client::internal::Response response);
  void HandleOutcome(Batch* b, int16_t error, bool network_error,
                     const absl::Status& network_status, int64_t base_offset,
                     int64_t log_append_time);
  void Retry(Batch* b, const absl::Status& why);
  void Complete(Batch* b, const absl::Status& status, int64_t base_offset,
                int64_t log_append_time);
  void RequestProducerIdReset(const absl::Status& why);
  void FailEverything(const absl::Status& status);
  void ScheduleRun(int64_t at_ms);
  bool Expired(const Batch* b, int64_t now) const {
    return now >= b->created_ms + config_.delivery_timeout_ms;
  }

  const client::internal::ProducerConfig config_;
  client::internal::RecordAccumulator acc_;
  client::internal::MemoryPool memory_;
  client::internal::NetworkClient net_;

  absl::Mutex topics_mu_;
  absl::CondVar topics_cv_;
  absl::flat_hash_map<std::string, std::unique_ptr<Topic>> topics_
      ABSL_GUARDED_BY(topics_mu_);
  // What Send reads without a lock: an immutable copy of the topic table,
  // replaced (under topics_mu_) when a topic is added; old copies are kept
  // until the producer goes, so a reader's copy stays valid.
  struct TopicSnapshot {
    absl::flat_hash_map<std::string, Topic*> topics;
  };
  std::atomic<const TopicSnapshot*> snapshot_{nullptr};
  // The topic of the last Send through the snapshot (Send's fast path).
  std::atomic<Topic*> last_topic_{nullptr};
  std::vector<std::unique_ptr<TopicSnapshot>> snapshots_
      ABSL_GUARDED_BY(topics_mu_);
  // Why metadata is missing, from the network thread, for Send's errors.
  absl::Status network_error_ ABSL_GUARDED_BY(topics_mu_);
  // A failure that ends the producer (no producer id can be had).
  absl::Status fatal_error_ ABSL_GUARDED_BY(topics_mu_);

  std::atomic<bool> closed_{false};
  std::atomic<int> sends_in_progress_{0};
  std::atomic<bool> wake_pending_{false};
  std::atomic<int> flushing_{0};
  std::atomic<bool> abort_{false};  // Close timed out: fail what is left

  // Network thread.
  asio::steady_timer run_timer_;
  int64_t run_timer_at_ms_ = 0;
  client::internal::Backoff backoff_;
  enum class PidState { kNone, kRequesting, kReady, kResetPending };
  PidState pid_state_ = PidState::kNone;
  int64_t producer_id_ = -1;
  int16_t producer_epoch_ = -1;
  int pid_attempts_ = 0;
  int64_t pid_retry_at_ms_ = 0;
  int inflight_requests_ = 0;
  uint64_t applied_metadata_version_ = 0;
  // Every partition queue, grouped by topic, and each one's leader.
  std::vector<Queue*> queues_;
  std::vector<int32_t> leaders_;
  struct Plan {
    int32_t node;
    client::internal::Connection* conn;
    std::vector<Batch*> batches;
  };
  std::vector<Plan> plans_;
  // SendReady is running inside a Send (SendNow), which leaves what needs
  // more than sending to Run; run_wanted_: something was left.
  bool sending_inline_ = false;
  bool run_wanted_ = false;
};

}  // namespace fjord

#endif  // FJORD_CLIENT_INTERNAL_PRODUCER_IMPL_H_
