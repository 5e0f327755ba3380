// ViewFollower: a thread that follows the cluster's metadata: it runs
// `step(changed)` once after Start, after every new view the MetadataCache
// publishes (changed = true), and at least every `tick` (changed = false
// when no new view came meanwhile), until Stop. Several views published
// during one step make one more step.
//
// Start and Stop are called by the owner (not concurrently); `step` runs on
// the follower's thread only.
#ifndef FJORD_BROKER_INTERNAL_VIEW_FOLLOWER_H_
#define FJORD_BROKER_INTERNAL_VIEW_FOLLOWER_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/cluster/metadata_cache.h"

namespace fjord::broker::internal {

class ViewFollower {
 public:
  using Step = std::function<void(bool changed)>;

  ViewFollower() = default;
  ViewFollower(const ViewFollower&) = delete;
  ViewFollower& operator=(const ViewFollower&) = delete;
  // Stops.
  ~ViewFollower();

  // REQUIRES: not started. `cache` must outlive Stop().
  void Start(cluster::MetadataCache* cache, absl::Duration tick, Step step);
  // Unsubscribes and ends the thread, waiting for a running step.
  // Idempotent; a no-op if never started.
  void Stop();

 private:
  void Run();

  cluster::MetadataCache* cache_ = nullptr;
  absl::Duration tick_;
  Step step_;
  int listener_ = -1;
  std::thread thread_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fjord::broker::internal

#endif  // FJORD_BROKER_INTERNAL_VIEW_FOLLOWER_H_
