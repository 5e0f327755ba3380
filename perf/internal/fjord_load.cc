#include "perf/internal/fjord_load.h"

#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "fjord/admin.h"
#include "fjord/consumer.h"
#include "fjord/producer.h"
#include "fmt/format.h"
#include "log/status_macros.h"
#include "perf/internal/bench.h"
#include "perf/internal/payload.h"

namespace fjord::perf::internal {

namespace {

// Produce: one record in kLatencySample gets its Send -> callback time
// measured (reading the clock for every record would cost more than the
// rest of Send at millions of records a second).
constexpr uint64_t kLatencySample = 16;
// Consume and e2e give up when nothing arrives for this long.
constexpr auto kIdleLimit = std::chrono::seconds(10);

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds Until(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

absl::Status TimedOut(std::string_view what) {
  return absl::DeadlineExceededError(
      fmt::format("--timeout passed while {}", what));
}

Properties ClientProperties(const LoadOptions& o) {
  Properties p{{"bootstrap.servers", o.brokers}};
  if (!o.admin.empty()) p["admin.servers"] = o.admin;
  return p;
}

Properties ProducerProperties(const LoadOptions& o, int default_linger_ms) {
  Properties p = ClientProperties(o);
  p["acks"] = o.acks;
  p["compression.type"] = o.compression;
  p["batch.size"] = std::to_string(o.batch_size);
  p["linger.ms"] =
      std::to_string(o.linger_set ? o.linger_ms : default_linger_ms);
  for (const auto& [k, v] : o.properties) p[k] = v;
  return p;
}

Properties ConsumerProperties(const LoadOptions& o) {
  Properties p = ClientProperties(o);
  p["auto.offset.reset"] = "earliest";
  for (const auto& [k, v] : o.properties) p[k] = v;
  return p;
}

// The topic's partition count, creating the topic with `create_partitions`
// (when > 0) if it does not exist. An existing topic with another count
// than asked for is kFailedPrecondition: its figures would not be the
// scenario's.
absl::StatusOr<int> PrepareTopic(const LoadOptions& o, int create_partitions) {
  Properties ap = ClientProperties(o);
  ap["request.timeout.ms"] = "10000";
  ASSIGN_OR_RETURN(auto admin, Admin::Create(ap));
  auto described = admin->DescribeTopic(o.topic);
  if (described.ok()) {
    const int n = static_cast<int>(described->partitions.size());
    if (create_partitions > 0 && n != create_partitions) {
      return absl::FailedPreconditionError(fmt::format(
          "topic '{}' exists with {} partitions, not the {} asked for: "
          "delete it or pick another --topic",
          o.topic, n, create_partitions));
    }
    return n;
  }
  if (!absl::IsNotFound(described.status())) {
    return absl::Status(
        described.status().code(),
        fmt::format("describing topic '{}' through the admin service "
                    "(--admin): {}",
                    o.topic, std::string(described.status().message())));
  }
  if (create_partitions <= 0) {
    return absl::NotFoundError(
        fmt::format("topic '{}' does not exist", o.topic));
  }
  NewTopic t;
  t.name = o.topic;
  t.partitions = create_partitions;
  t.configs = o.topic_configs;
  auto created = admin->CreateTopic(t);
  if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
    return absl::Status(created.status().code(),
                        fmt::format("creating topic '{}': {}", o.topic,
                                    std::string(created.status().message())));
  }
  return create_partitions;
}

// What one producer's delivery callbacks saw. Callbacks run on that
// producer's network thread only; the sending thread reads the counts
// after Flush, which waits for every callback.
struct DeliveryStats {
  uint64_t delivered = 0;
  uint64_t failed = 0;
  std::string first_error;
  LatencyRecorder latency;
};

// Keeps a sender at `rate` records/s from `start` on (rate <= 0: no cap).
class Throttle {
 public:
  Throttle(double rate, Clock::time_point start) : rate_(rate), start_(start) {}
  // Sleeps until record `sent` (0-based) is due.
  void Wait(uint64_t sent) const {
    if (rate_ <= 0) return;
    const auto due = start_ + std::chrono::nanoseconds(static_cast<int64_t>(
                                  static_cast<double>(sent) * 1e9 / rate_));
    if (Clock::now() < due) std::this_thread::sleep_until(due);
  }

 private:
  const double rate_;
  const Clock::time_point start_;
};

}  // namespace

absl::Status DeleteTopic(const LoadOptions& o) {
  Properties ap = ClientProperties(o);
  ap["request.timeout.ms"] = "30000";
  ASSIGN_OR_RETURN(auto admin, Admin::Create(ap));
  return admin->DeleteTopic(o.topic);
}

// ---------------------------------------------------------------- produce

absl::StatusOr<LoadResult> RunProduce(const LoadOptions& o, Deadline deadline) {
  if (o.producers < 1) return absl::InvalidArgumentError("--producers < 1");
  if (o.records > kMaxRecordIndex + 1) {
    return absl::InvalidArgumentError("too many --records");
  }
  LoadResult result;
  ASSIGN_OR_RETURN(result.partitions, PrepareTopic(o, o.partitions));
  std::vector<std::unique_ptr<Producer>> producers;
  for (int i = 0; i < o.producers; i++) {
    ASSIGN_OR_RETURN(auto p, Producer::Create(ProducerProperties(o, 5)));
    // Metadata (and the connection) before the clock starts.
    auto n = p->PartitionCount(o.topic);
    if (!n.ok()) return n.status();
    producers.push_back(std::move(p));
  }
  std::vector<DeliveryStats> stats(producers.size());
  std::atomic<bool> stop_by_duration{false}, stop_by_deadline{false};
  const std::optional<Clock::time_point> end_by =
      o.duration > 0
          ? std::optional(Clock::now() +
                          std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o.duration)))
          : std::nullopt;
  std::vector<absl::Status> flushed(producers.size());
  RunTimer timer;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t k = 0; k < producers.size(); k++) {
    threads.emplace_back([&, k] {
      Producer& producer = *producers[k];
      DeliveryStats* st = &stats[k];
      st->latency.Reserve(o.records / producers.size() / kLatencySample + 16);
      const uint64_t begin = o.records * k / producers.size();
      const uint64_t end = o.records * (k + 1) / producers.size();
      const bool indexed = o.record_size >= kMinRecordSize;
      std::optional<PayloadFormat> format;
      if (indexed) format.emplace(o.record_size);
      std::string value(o.record_size, 'x');
      for (size_t j = 0; j < value.size(); j++) value[j] = 'a' + j % 26;
      ProducerRecord r;
      r.topic = o.topic;
      r.value = value;
      const Throttle throttle(o.throughput / producers.size(), start);
      for (uint64_t i = begin; i < end; i++) {
        if ((i & 1023) == 0) {
          const auto now = Clock::now();
          if (end_by && now >= *end_by) {
            stop_by_duration = true;
            break;
          }
          if (now >= deadline) {
            stop_by_deadline = true;
            break;
          }
        }
        throttle.Wait(i - begin);
        if (indexed) {
          if (i == begin) {
            format->Fill(i, value.data());
          } else {
            format->Next(i, value.data());
          }
        }
        const int64_t sent = i % kLatencySample == 0 ? NowNanos() : -1;
        producer.Send(r,
                      [st, sent](const absl::Status& s, const RecordMetadata&) {
                        if (!s.ok()) {
                          if (st->failed++ == 0) st->first_error = s.ToString();
                          return;
                        }
                        st->delivered++;
                        if (sent >= 0) st->latency.Record(NowNanos() - sent);
                      });
      }
      flushed[k] = producer.Flush(Until(deadline));
    });
  }
  for (auto& t : threads) t.join();
  RunResult rr;
  timer.Stop(rr);
  result.seconds = rr.seconds;
  result.client_cpu_seconds = rr.client_cpu_seconds;
  result.stopped_by_duration = stop_by_duration;
  LatencyRecorder latency;
  for (auto& st : stats) {
    result.records += st.delivered;
    result.failed += st.failed;
    if (result.first_error.empty()) result.first_error = st.first_error;
    latency.Merge(st.latency);
  }
  result.latency = latency.Summarize();
  result.payload_bytes = result.records * o.record_size;
  for (auto& p : producers) (void)p->Close(std::chrono::seconds(5));
  if (stop_by_deadline) return TimedOut("sending");
  for (const absl::Status& s : flushed) {
    if (!s.ok()) return TimedOut("waiting for deliveries (Flush)");
  }
  if (result.failed > 0) {
    return absl::UnavailableError(fmt::format(
        "{} of {} records were not delivered; the first: {}", result.failed,
        result.failed + result.records, result.first_error));
  }
  return result;
}

// ---------------------------------------------------------------- consume

absl::StatusOr<LoadResult> RunConsume(const LoadOptions& o, Deadline deadline) {
  if (o.verify && o.record_size < kMinRecordSize) {
    return absl::InvalidArgumentError(
        fmt::format("--verify needs --record-size >= {}", kMinRecordSize));
  }
  LoadResult result;
  ASSIGN_OR_RETURN(result.partitions, PrepareTopic(o, 0));
  ASSIGN_OR_RETURN(auto consumer, Consumer::Create(ConsumerProperties(o)));
  std::vector<TopicPartition> tps;
  for (int p = 0; p < result.partitions; p++) tps.push_back({o.topic, p});
  RETURN_IF_ERROR(consumer->Assign(tps));
  RETURN_IF_ERROR(consumer->SeekToBeginning({}));
  for (const auto& tp : tps) {
    auto pos = consumer->Position(tp, Until(deadline));
    if (!pos.ok()) return pos.status();
  }
  std::optional<PayloadFormat> format;
  std::vector<bool> seen;
  if (o.verify) {
    format.emplace(o.record_size);
    seen.resize(o.records, false);
  }
  const auto end_by =
      o.duration > 0
          ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration))
          : Clock::time_point::max();
  RunTimer timer;
  auto last_data = Clock::now();
  uint64_t got = 0, bytes = 0;
  absl::Status error;
  while (got < o.records) {
    const auto now = Clock::now();
    if (now >= deadline) {
      error =
          TimedOut(fmt::format("reading ({} of {} records)", got, o.records));
      break;
    }
    if (now >= end_by) {
      result.stopped_by_duration = true;
      break;
    }
    if (now - last_data > kIdleLimit) {
      error = absl::DeadlineExceededError(fmt::format(
          "nothing arrived for {} s after {} of {} records",
          std::chrono::duration_cast<std::chrono::seconds>(kIdleLimit).count(),
          got, o.records));
      break;
    }
    auto polled = consumer->Poll(std::chrono::milliseconds(100));
    if (!polled.ok()) {
      error = polled.status();
      break;
    }
    if (polled->empty()) continue;
    last_data = Clock::now();
    for (const ConsumerRecord& rec : *polled) {
      got++;
      if (rec.value) bytes += rec.value->size();
      if (!format) continue;
      if (!rec.value) {
        error = absl::DataLossError(
            fmt::format("record at offset {} has a null value", rec.offset));
        break;
      }
      auto index = format->Check(*rec.value);
      if (!index.ok()) {
        error = absl::DataLossError(
            fmt::format("offset {} of partition {}: {}", rec.offset,
                        rec.partition, std::string(index.status().message())));
        break;
      }
      if (*index >= o.records || seen[*index]) {
        error = absl::DataLossError(
            fmt::format("record {} (offset {} of partition {}) is {}", *index,
                        rec.offset, rec.partition,
                        *index >= o.records ? "past --records" : "a repeat"));
        break;
      }
      seen[*index] = true;
    }
    if (!error.ok()) break;
  }
  RunResult rr;
  timer.Stop(rr);
  consumer->Close();
  RETURN_IF_ERROR(error);
  result.records = got;
  result.payload_bytes = bytes;
  result.seconds = rr.seconds;
  result.client_cpu_seconds = rr.client_cpu_seconds;
  return result;
}

// -------------------------------------------------------------------- e2e

absl::StatusOr<LoadResult> RunEndToEnd(const LoadOptions& o,
                                       Deadline deadline) {
  if (o.throughput <= 0) {
    return absl::InvalidArgumentError("e2e needs --throughput > 0");
  }
  if (o.record_size < sizeof(int64_t)) {
    return absl::InvalidArgumentError("e2e needs --record-size >= 8");
  }
  LoadResult result;
  ASSIGN_OR_RETURN(result.partitions, PrepareTopic(o, o.partitions));
  ASSIGN_OR_RETURN(auto producer, Producer::Create(ProducerProperties(o, 0)));
  Properties cp = ConsumerProperties(o);
  if (!o.properties.count("fetch.max.wait.ms")) cp["fetch.max.wait.ms"] = "500";
  ASSIGN_OR_RETURN(auto consumer, Consumer::Create(cp));
  RETURN_IF_ERROR(producer->PartitionCount(o.topic).status());
  const TopicPartition tp{o.topic, 0};
  RETURN_IF_ERROR(consumer->Assign({tp}));
  RETURN_IF_ERROR(consumer->SeekToEnd({}));
  ASSIGN_OR_RETURN(const int64_t first_offset,
                   consumer->Position(tp, Until(deadline)));
  const uint64_t total = o.warmup_records + o.records;

  // The reader: every record's latency, the warm-up's dropped.
  LatencyRecorder latency;
  latency.Reserve(o.records);
  std::atomic<bool> sending_done{false};
  std::atomic<uint64_t> target{total};  // records the reader waits for
  absl::Status read_error;
  uint64_t read = 0;
  std::thread reader([&] {
    auto last_data = Clock::now();
    while (read < target.load()) {
      if (Clock::now() >= deadline) {
        read_error = TimedOut("waiting for records to arrive");
        return;
      }
      if (sending_done && Clock::now() - last_data > kIdleLimit) {
        read_error = absl::DeadlineExceededError(
            fmt::format("only {} of {} records arrived", read, target.load()));
        return;
      }
      auto polled = consumer->Poll(std::chrono::milliseconds(100));
      if (!polled.ok()) {
        read_error = polled.status();
        return;
      }
      if (polled->empty()) continue;
      const int64_t now = NowNanos();
      last_data = Clock::now();
      for (const ConsumerRecord& rec : *polled) {
        read++;
        if (rec.offset - first_offset <
            static_cast<int64_t>(o.warmup_records)) {
          continue;
        }
        int64_t sent;
        if (!rec.value || rec.value->size() < sizeof(sent)) continue;
        std::memcpy(&sent, rec.value->data(), sizeof(sent));
        latency.Record(now - sent);
      }
    }
  });

  // The sender, on this thread: record i is due at start + i / rate;
  // records that fell behind (a slow wake-up) go at once, each stamped
  // with its own Send time.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // sleeps end on time (50 us default)
  DeliveryStats st;
  std::string value(o.record_size, 'x');
  ProducerRecord r;
  r.topic = o.topic;
  r.partition = 0;
  r.value = value;
  const auto start = Clock::now();
  const Throttle throttle(o.throughput, start);
  const auto end_by =
      o.duration > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(o.duration))
                     : Clock::time_point::max();
  RunTimer timer;
  bool timed_out = false;
  uint64_t sent = 0;
  for (; sent < total; sent++) {
    throttle.Wait(sent);
    const auto now = Clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (sent >= o.warmup_records && now >= end_by) {
      result.stopped_by_duration = true;
      break;
    }
    const int64_t t = NowNanos();
    std::memcpy(value.data(), &t, sizeof(t));
    producer->Send(r, [&st](const absl::Status& s, const RecordMetadata&) {
      if (s.ok()) {
        st.delivered++;
      } else if (st.failed++ == 0) {
        st.first_error = s.ToString();
      }
    });
  }
  absl::Status flushed = producer->Flush(Until(deadline));
  // The reader waits for what was sent, no more.
  target = sent;
  sending_done = true;
  reader.join();
  RunResult rr;
  timer.Stop(rr);
  (void)producer->Close(std::chrono::seconds(5));
  consumer->Close();
  if (timed_out) return TimedOut("sending");
  if (!flushed.ok()) return TimedOut("waiting for deliveries (Flush)");
  if (st.failed > 0) {
    return absl::UnavailableError(
        fmt::format("{} records were not delivered; the first: {}", st.failed,
                    st.first_error));
  }
  RETURN_IF_ERROR(read_error);
  result.latency = latency.Summarize();
  result.records = result.latency.count;
  result.payload_bytes = result.records * o.record_size;
  result.seconds = rr.seconds;
  result.client_cpu_seconds = rr.client_cpu_seconds;
  return result;
}

}  // namespace fjord::perf::internal
