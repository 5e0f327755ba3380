// Clock: wall time in milliseconds, injectable so tests can move time for
// segment.ms rolls and flush.ms flushes. SystemClock is thread-safe;
// ManualClock is thread-safe.
#ifndef FJORD_LOG_CLOCK_H_
#define FJORD_LOG_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace fjord::log {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static Clock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : now_(now_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void AdvanceMs(int64_t d) { now_ += d; }
  void SetMs(int64_t t) { now_ = t; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace fjord::log

#endif  // FJORD_LOG_CLOCK_H_
