#include "perf/internal/latency.h"

#include <algorithm>
#include <cmath>

namespace fjord::perf::internal {

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
}

LatencySummary LatencyRecorder::Summarize() {
  LatencySummary s;
  if (samples_.empty()) return s;
  std::sort(samples_.begin(), samples_.end());
  const size_t n = samples_.size();
  // Nearest rank: the ceil(q * n)-th smallest sample (1-based).
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    return static_cast<double>(samples_[rank - 1]) / 1000.0;
  };
  double sum = 0;
  for (int64_t v : samples_) sum += static_cast<double>(v);
  s.count = n;
  s.mean_us = sum / static_cast<double>(n) / 1000.0;
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  s.p999_us = at(0.999);
  s.max_us = static_cast<double>(samples_.back()) / 1000.0;
  return s;
}

}  // namespace fjord::perf::internal
