// What one peer benchmark run measured, and the clocks it is measured
// with. Value types; thread-compatible.
#ifndef FJORD_PERF_INTERNAL_BENCH_H_
#define FJORD_PERF_INTERNAL_BENCH_H_

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "perf/internal/connection.h"

namespace fjord::perf::internal {

struct RunResult {
  // Records acknowledged by the server (produce) or read back (consume).
  uint64_t records = 0;
  // Wall time from the first request of the measured phase to the last
  // acknowledgement or record; set-up (connect, creating streams or
  // consumers) and the checks afterwards are outside it.
  double seconds = 0;
  // CPU time (user + system) this process used over the same interval: a
  // value near `seconds` means the client, not the server, was the limit.
  double client_cpu_seconds = 0;
  std::string server_version;
  // What the server reports holding afterwards (stream messages, XLEN).
  int64_t server_count = -1;
};

// Wall and CPU time of this process, started on construction.
class RunTimer {
 public:
  RunTimer() : wall_start_(Clock::now()), cpu_start_(CpuSeconds()) {}
  void Stop(RunResult& result) const {
    result.seconds =
        std::chrono::duration<double>(Clock::now() - wall_start_).count();
    result.client_cpu_seconds = CpuSeconds() - cpu_start_;
  }

 private:
  static double CpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) *
               1e-6;
  }
  Clock::time_point wall_start_;
  double cpu_start_;
};

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_BENCH_H_
