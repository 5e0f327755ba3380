// Reading a broker's Prometheus /metrics from a test: a plain HTTP/1.0 GET
// on loopback and the value of one sample in the text it returns.
// Thread-safe (no shared state).
#ifndef FJORD_TESTS_UTIL_METRICS_SCRAPE_H_
#define FJORD_TESTS_UTIL_METRICS_SCRAPE_H_

#include <cstdint>
#include <string>

namespace fjord::testing {

// GET http://127.0.0.1:<port><path>; the body, or "" on failure.
std::string HttpGet(int port, const std::string& path);

// The value of the unlabelled sample `name` in Prometheus text `metrics`,
// or -1 when there is none.
double MetricValue(const std::string& metrics, const std::string& name);

}  // namespace fjord::testing

#endif  // FJORD_TESTS_UTIL_METRICS_SCRAPE_H_
