// Retry backoff: exponential from a base, capped, with +/-20% jitter (as
// Kafka's clients do), and the time source the client's timing logic reads.
// Backoff is thread-compatible; the functions are thread-safe.
#ifndef FJORD_CLIENT_INTERNAL_BACKOFF_H_
#define FJORD_CLIENT_INTERNAL_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <random>

namespace fjord::client::internal {

// Milliseconds on the monotonic clock (deadlines, linger, backoff).
inline int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
// Milliseconds since the Unix epoch (record timestamps).
inline int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Backoff {
 public:
  // base_ms * 2^(attempt-1), at most max_ms, times a factor drawn from
  // [1 - jitter, 1 + jitter] (and never above max_ms * (1 + jitter)).
  Backoff(int64_t base_ms, int64_t max_ms, double jitter = 0.2,
          uint64_t seed = std::random_device{}())
      : base_ms_(base_ms), max_ms_(max_ms), jitter_(jitter), rng_(seed) {}

  // The wait before retry number `attempt` (1 = the first retry).
  int64_t DelayMs(int attempt) {
    if (base_ms_ <= 0) return 0;
    double exp = static_cast<double>(base_ms_);
    for (int i = 1; i < attempt && exp < static_cast<double>(max_ms_); i++) {
      exp *= 2;
    }
    if (exp > static_cast<double>(max_ms_)) exp = static_cast<double>(max_ms_);
    std::uniform_real_distribution<double> dist(1.0 - jitter_, 1.0 + jitter_);
    return static_cast<int64_t>(exp * dist(rng_));
  }

 private:
  int64_t base_ms_;
  int64_t max_ms_;
  double jitter_;
  std::mt19937_64 rng_;
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_BACKOFF_H_
