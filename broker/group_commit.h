// GroupCommitter: the single-node CommitDriver (broker/partition.h). An
// acks=all Produce appends, parks on its partition's committed watermark
// and asks for a commit; a few flusher threads take partitions from a
// queue, flush each one's log (log::Log::Flush, whose fsyncs run without
// the log's lock, so appends go on meanwhile) and advance its watermark to
// what the flush made durable. A partition is queued once however many
// requests wait on it, and one flush covers every append made before it
// began: concurrent producers share the fsync (group commit). A failed
// flush fails, with its storage error, every waiter it was to cover and
// acknowledges none of them.
//
// Thread-safe.
#ifndef FJORD_BROKER_GROUP_COMMIT_H_
#define FJORD_BROKER_GROUP_COMMIT_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "broker/partition.h"

namespace fjord::broker {

class GroupCommitter final : public CommitDriver {
 public:
  // Starts `threads` (>= 1) flusher threads.
  explicit GroupCommitter(int threads);
  // Stop().
  ~GroupCommitter() override;
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  void RequestCommit(std::shared_ptr<Partition> partition) override;

  // Flushes what is queued, then joins the threads; later requests fail
  // their partition's waiters with kUnavailable. Idempotent.
  void Stop();

  // Log flushes done so far (each covering any number of waiters).
  uint64_t flushes() const;

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Partition>> queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Partition*> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flushes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_GROUP_COMMIT_H_
