// FastMutex: std::mutex with Abseil's thread-safety annotations, for the
// locks taken once per record on the producer's Send path. bookworm's
// libabsl is built without NDEBUG, so every absl::Mutex operation also runs
// its deadlock detector (GraphCycles lookups), which profiling showed to
// cost several times an uncontended lock; everything that is not per record
// keeps absl::Mutex. Thread-safe.
#ifndef FJORD_CLIENT_INTERNAL_FAST_MUTEX_H_
#define FJORD_CLIENT_INTERNAL_FAST_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace fjord::client::internal {

class ABSL_LOCKABLE FastMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE FastMutexLock {
 public:
  explicit FastMutexLock(FastMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->Lock();
  }
  ~FastMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  FastMutexLock(const FastMutexLock&) = delete;
  FastMutexLock& operator=(const FastMutexLock&) = delete;

 private:
  FastMutex* const mu_;
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_FAST_MUTEX_H_
