// Latency samples and their percentiles, as fjord-perf reports them. A
// recorder holds every sample it was given (callers bound the count), so
// the percentiles are exact, not estimated from buckets.
// Thread-compatible: one recorder per thread, merged at the end.
#ifndef FJORD_PERF_INTERNAL_LATENCY_H_
#define FJORD_PERF_INTERNAL_LATENCY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fjord::perf::internal {

// Percentiles in microseconds. `count` 0: nothing was measured (and every
// other member is 0).
struct LatencySummary {
  uint64_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

class LatencyRecorder {
 public:
  // Room for `expected` samples, so recording does not allocate.
  void Reserve(size_t expected) { samples_.reserve(expected); }
  void Record(int64_t nanos) { samples_.push_back(nanos); }
  void Merge(const LatencyRecorder& other);
  size_t count() const { return samples_.size(); }

  // The nearest-rank percentiles: pXX is the smallest sample that at least
  // XX% of the samples are at or below. Sorts the samples.
  LatencySummary Summarize();

 private:
  std::vector<int64_t> samples_;
};

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_LATENCY_H_
