// LoopGuard: who may run a network loop's code right now. The loop's own
// thread holds it while a handler runs (handlers are wrapped by Guarded),
// and another thread may take it when the loop is idle (TryHold), to do
// the loop's work itself instead of waking the loop's thread to do it:
// Producer::Send writes a ready request this way. On this class of machine
// each such wake-up costs tens of microseconds of latency and CPU.
//
// Everything "confined to the io thread" (Connection, NetworkClient, the
// producer's sender state) is touched only by the thread holding the
// guard. Asio's own internals are thread-safe; the guard serializes our
// uses of its objects. Thread-safe.
#ifndef FJORD_CLIENT_INTERNAL_LOOP_GUARD_H_
#define FJORD_CLIENT_INTERNAL_LOOP_GUARD_H_

#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

namespace fjord::client::internal {

class LoopGuard {
 public:
  LoopGuard() = default;
  LoopGuard(const LoopGuard&) = delete;
  LoopGuard& operator=(const LoopGuard&) = delete;

  // True on the thread holding the guard. (Only that thread stores its own
  // id, so a relaxed load is enough to tell "me" from "not me".)
  bool HeldHere() const {
    return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }

  // Holds the guard for its lifetime, waiting for it; a no-op on the
  // thread already holding it (a handler run from within another).
  class Hold {
   public:
    explicit Hold(LoopGuard* g) : g_(g->HeldHere() ? nullptr : g) {
      if (g_ != nullptr) {
        g_->mu_.lock();
        g_->SetOwner();
      }
    }
    ~Hold() {
      if (g_ != nullptr) g_->Release();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    LoopGuard* const g_;
  };

  // Takes the guard if nobody holds it, without waiting; never on the
  // thread that already holds it (its caller is in the middle of the
  // loop's work, which must not be re-entered).
  class TryHold {
   public:
    explicit TryHold(LoopGuard* g)
        : g_(!g->HeldHere() && g->mu_.try_lock() ? g : nullptr) {
      if (g_ != nullptr) g_->SetOwner();
    }
    ~TryHold() {
      if (g_ != nullptr) g_->Release();
    }
    explicit operator bool() const { return g_ != nullptr; }
    TryHold(const TryHold&) = delete;
    TryHold& operator=(const TryHold&) = delete;

   private:
    LoopGuard* const g_;
  };

 private:
  void SetOwner() {
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  void Release() {
    owner_.store(std::thread::id(), std::memory_order_relaxed);
    mu_.unlock();
  }

  std::mutex mu_;
  std::atomic<std::thread::id> owner_{};
};

// `f` wrapped to run holding `g` (for completion handlers and posted
// functions); with no guard (a loop only ever run by one thread at a
// time, like the consumer's) it runs as it is.
template <class F>
auto Guarded(LoopGuard* g, F f) {
  return [g, f = std::move(f)](auto&&... args) mutable {
    if (g == nullptr) {
      f(std::forward<decltype(args)>(args)...);
      return;
    }
    LoopGuard::Hold h(g);
    f(std::forward<decltype(args)>(args)...);
  };
}

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_LOOP_GUARD_H_
