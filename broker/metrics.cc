#include "broker/metrics.h"

#include "absl/strings/str_format.h"
#include "broker/kafka/messages.h"
#include "broker/topic_manager.h"
#include "log/strings.h"

namespace fjord::broker {

std::string PromLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) i++;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9),
                    std::memory_order_relaxed);
}

void Histogram::Render(std::string_view name, std::string_view labels,
                       std::string* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); i++) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    absl::StrAppendFormat(out, "%s_bucket{%s,le=\"%g\"} %d\n", name, labels,
                          kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  absl::StrAppendFormat(out, "%s_bucket{%s,le=\"+Inf\"} %d\n", name, labels,
                        cumulative);
  absl::StrAppendFormat(out, "%s_sum{%s} %.9f\n", name, labels,
                        sum_ns_.load(std::memory_order_relaxed) / 1e9);
  absl::StrAppendFormat(out, "%s_count{%s} %d\n", name, labels,
                        count_.load(std::memory_order_relaxed));
}

void Metrics::RecordRequest(int16_t api_key, double seconds) {
  if (api_key < 0 || api_key >= kMaxApiKey) return;
  requests_[api_key].fetch_add(1, std::memory_order_relaxed);
  latency_[api_key].Observe(seconds);
}

void Metrics::RecordError(int16_t api_key, int16_t error_code) {
  absl::MutexLock l(&errors_mu_);
  errors_[{api_key, error_code}]++;
}

Metrics::TopicCounters& Metrics::ForTopic(std::string_view topic) {
  {
    absl::ReaderMutexLock l(&topics_mu_);
    auto it = topics_.find(ToAbsl(topic));
    if (it != topics_.end()) return *it->second;
  }
  absl::MutexLock l(&topics_mu_);
  auto& slot = topics_[std::string(topic)];
  if (slot == nullptr) slot = std::make_unique<TopicCounters>();
  return *slot;
}

void Metrics::RecordProduce(std::string_view topic, uint64_t bytes,
                            uint64_t records) {
  TopicCounters& c = ForTopic(topic);
  c.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
  c.records_in.fetch_add(records, std::memory_order_relaxed);
}

void Metrics::RecordFetch(std::string_view topic, uint64_t bytes,
                          uint64_t records) {
  TopicCounters& c = ForTopic(topic);
  c.bytes_out.fetch_add(bytes, std::memory_order_relaxed);
  c.records_out.fetch_add(records, std::memory_order_relaxed);
}

std::string Metrics::Render(
    const std::function<void(std::string*)>& append_gauges) const {
  std::string out;
  out +=
      "# HELP fjord_requests_total Kafka requests handled, by API.\n"
      "# TYPE fjord_requests_total counter\n";
  for (int k = 0; k < kMaxApiKey; k++) {
    uint64_t n = requests_[k].load(std::memory_order_relaxed);
    if (n > 0) {
      absl::StrAppendFormat(&out, "fjord_requests_total{api=\"%s\"} %d\n",
                            kafka::ApiName(static_cast<int16_t>(k)), n);
    }
  }
  out +=
      "# HELP fjord_request_duration_seconds Time to handle a Kafka request "
      "(long-poll waits included), by API.\n"
      "# TYPE fjord_request_duration_seconds histogram\n";
  for (int k = 0; k < kMaxApiKey; k++) {
    if (requests_[k].load(std::memory_order_relaxed) == 0) continue;
    latency_[k].Render(
        "fjord_request_duration_seconds",
        absl::StrFormat("api=\"%s\"", kafka::ApiName(static_cast<int16_t>(k))),
        &out);
  }
  out +=
      "# HELP fjord_request_errors_total Non-zero Kafka error codes "
      "returned, by API and code.\n"
      "# TYPE fjord_request_errors_total counter\n";
  {
    absl::MutexLock l(&errors_mu_);
    for (const auto& [key, n] : errors_) {
      absl::StrAppendFormat(
          &out, "fjord_request_errors_total{api=\"%s\",code=\"%d\"} %d\n",
          kafka::ApiName(key.first), key.second, n);
    }
  }
  {
    absl::ReaderMutexLock l(&topics_mu_);
    const std::pair<const char*, const char*> series[] = {
        {"fjord_topic_bytes_in_total", "Record batch bytes appended"},
        {"fjord_topic_records_in_total", "Records appended"},
        {"fjord_topic_bytes_out_total", "Record batch bytes fetched"},
        {"fjord_topic_records_out_total", "Records fetched"},
    };
    for (int i = 0; i < 4; i++) {
      absl::StrAppendFormat(&out,
                            "# HELP %s %s, by topic.\n# TYPE %s counter\n",
                            series[i].first, series[i].second, series[i].first);
      for (const auto& [topic, c] : topics_) {
        const std::atomic<uint64_t>* v[] = {&c->bytes_in, &c->records_in,
                                            &c->bytes_out, &c->records_out};
        absl::StrAppendFormat(&out, "%s{topic=\"%s\"} %d\n", series[i].first,
                              PromLabel(topic), v[i]->load());
      }
    }
  }
  absl::StrAppendFormat(
      &out,
      "# HELP fjord_connections Open Kafka client connections.\n"
      "# TYPE fjord_connections gauge\nfjord_connections %d\n"
      "# HELP fjord_connections_accepted_total Connections accepted.\n"
      "# TYPE fjord_connections_accepted_total counter\n"
      "fjord_connections_accepted_total %d\n"
      "# HELP fjord_connections_rejected_total Connections refused at "
      "max.connections.\n"
      "# TYPE fjord_connections_rejected_total counter\n"
      "fjord_connections_rejected_total %d\n"
      "# HELP fjord_bad_frames_total Connections closed for a malformed, "
      "truncated or oversized frame.\n"
      "# TYPE fjord_bad_frames_total counter\nfjord_bad_frames_total %d\n"
      "# HELP fjord_produce_duplicates_total Produce record sets not "
      "appended because they repeat an idempotent producer's batches.\n"
      "# TYPE fjord_produce_duplicates_total counter\n"
      "fjord_produce_duplicates_total %d\n",
      connections_.load(), accepted_.load(), rejected_.load(),
      bad_frames_.load(), duplicate_produces_.load());
  if (append_gauges) append_gauges(&out);
  return out;
}

void AppendCoordinatorMetrics(const coordinator::CoordinatorStats& stats,
                              std::string* out) {
  absl::StrAppendFormat(
      out,
      "# HELP fjord_coordinator_groups Consumer groups the coordinator "
      "holds.\n"
      "# TYPE fjord_coordinator_groups gauge\nfjord_coordinator_groups %d\n"
      "# HELP fjord_coordinator_members Members of those groups.\n"
      "# TYPE fjord_coordinator_members gauge\n"
      "fjord_coordinator_members %d\n"
      "# HELP fjord_coordinator_heartbeats_total Heartbeat and leave calls.\n"
      "# TYPE fjord_coordinator_heartbeats_total counter\n"
      "fjord_coordinator_heartbeats_total %d\n"
      "# HELP fjord_coordinator_rebalances_total Target assignments "
      "computed.\n"
      "# TYPE fjord_coordinator_rebalances_total counter\n"
      "fjord_coordinator_rebalances_total %d\n"
      "# HELP fjord_coordinator_offset_commits_total Offset commits "
      "acknowledged.\n"
      "# TYPE fjord_coordinator_offset_commits_total counter\n"
      "fjord_coordinator_offset_commits_total %d\n"
      "# HELP fjord_coordinator_members_expired_total Members removed by a "
      "session or rebalance timeout.\n"
      "# TYPE fjord_coordinator_members_expired_total counter\n"
      "fjord_coordinator_members_expired_total %d\n",
      stats.groups, stats.members, stats.heartbeats, stats.rebalances,
      stats.commits, stats.members_expired);
}

void AppendPartitionGauges(const TopicManager& topics, std::string* out) {
  std::string sizes, starts, ends, segments;
  int partitions = 0;
  for (const auto& t : topics.List()) {
    for (int32_t p = 0; p < t.partitions; p++) {
      auto part = topics.GetPartition(t.name, p);
      if (part == nullptr) continue;
      partitions++;
      std::string labels = absl::StrFormat("topic=\"%s\",partition=\"%d\"",
                                           PromLabel(t.name), p);
      const auto& log = part->log();
      absl::StrAppendFormat(&sizes, "fjord_log_size_bytes{%s} %d\n", labels,
                            log.size_bytes());
      absl::StrAppendFormat(&starts, "fjord_log_start_offset{%s} %d\n", labels,
                            log.log_start_offset().value());
      absl::StrAppendFormat(&ends, "fjord_log_end_offset{%s} %d\n", labels,
                            log.log_end_offset().value());
      absl::StrAppendFormat(&segments, "fjord_log_segments{%s} %d\n", labels,
                            log.segment_count());
    }
  }
  absl::StrAppendFormat(out,
                        "# HELP fjord_partitions Partitions served.\n"
                        "# TYPE fjord_partitions gauge\nfjord_partitions %d\n",
                        partitions);
  *out +=
      "# HELP fjord_log_size_bytes Bytes in a partition's segments.\n"
      "# TYPE fjord_log_size_bytes gauge\n" +
      sizes;
  *out +=
      "# HELP fjord_log_start_offset A partition's log start offset.\n"
      "# TYPE fjord_log_start_offset gauge\n" +
      starts;
  *out +=
      "# HELP fjord_log_end_offset A partition's log end offset.\n"
      "# TYPE fjord_log_end_offset gauge\n" +
      ends;
  *out +=
      "# HELP fjord_log_segments A partition's segment count.\n"
      "# TYPE fjord_log_segments gauge\n" +
      segments;
}

}  // namespace fjord::broker
