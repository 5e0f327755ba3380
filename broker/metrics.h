// Metrics: the broker's counters, gauges and latency histograms, rendered in
// the Prometheus text exposition format for GET /metrics. Per-API series
// are fixed arrays of atomics (no lock on the request path); per-topic
// series take a reader lock to find their entry. Thread-safe.
#ifndef FJORD_BROKER_METRICS_H_
#define FJORD_BROKER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "broker/coordinator/group_coordinator.h"

namespace fjord::broker {

class Histogram {
 public:
  // Upper bounds in seconds: 50 us .. 10 s.
  static constexpr std::array<double, 14> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,    0.025,  0.05,    0.1,    0.5,   1.0,    10.0};
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines for `name{labels}`.
  void Render(std::string_view name, std::string_view labels,
              std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

class Metrics {
 public:
  static constexpr int kMaxApiKey = 64;

  // One request of `api_key` took `seconds`; `errors` partition- or
  // request-level non-zero error codes were returned.
  void RecordRequest(int16_t api_key, double seconds);
  void RecordError(int16_t api_key, int16_t error_code);
  void RecordProduce(std::string_view topic, uint64_t bytes, uint64_t records);
  void RecordFetch(std::string_view topic, uint64_t bytes, uint64_t records);
  void ConnectionOpened() {
    connections_.fetch_add(1);
    accepted_.fetch_add(1);
  }
  void ConnectionClosed() { connections_.fetch_sub(1); }
  void ConnectionRejected() { rejected_.fetch_add(1); }
  void BadFrame() { bad_frames_.fetch_add(1); }
  // A Produce record set recognised as an idempotent producer's retry.
  void DuplicateProduce() { duplicate_produces_.fetch_add(1); }

  // Text exposition; `append_gauges` may add scrape-time series (partitions,
  // log sizes) to the output.
  std::string Render(
      const std::function<void(std::string*)>& append_gauges = nullptr) const;

 private:
  struct TopicCounters {
    std::atomic<uint64_t> bytes_in{0}, records_in{0}, bytes_out{0},
        records_out{0};
  };
  TopicCounters& ForTopic(std::string_view topic);

  std::array<std::atomic<uint64_t>, kMaxApiKey> requests_{};
  std::array<Histogram, kMaxApiKey> latency_{};
  mutable absl::Mutex errors_mu_;
  absl::flat_hash_map<std::pair<int16_t, int16_t>, uint64_t> errors_
      ABSL_GUARDED_BY(errors_mu_);
  mutable absl::Mutex topics_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TopicCounters>> topics_
      ABSL_GUARDED_BY(topics_mu_);
  std::atomic<int64_t> connections_{0};
  std::atomic<uint64_t> accepted_{0}, rejected_{0}, bad_frames_{0},
      duplicate_produces_{0};
};

// Escapes a Prometheus label value.
std::string PromLabel(std::string_view v);

// Appends the consumer group coordinator's series: groups and members
// (gauges), heartbeats, rebalances (target assignments computed), offset
// commits and members expired by a session or rebalance timeout (counters).
void AppendCoordinatorMetrics(const coordinator::CoordinatorStats& stats,
                              std::string* out);

class TopicManager;
// Appends the scrape-time gauges of every partition `topics` serves: the
// partition count and, per partition, log size, start and end offsets and
// segment count.
void AppendPartitionGauges(const TopicManager& topics, std::string* out);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_METRICS_H_
