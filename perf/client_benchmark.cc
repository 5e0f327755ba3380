// build/bin/fjord_client_benchmark: producer and consumer throughput of the
// client library against a running broker (a stopgap until fjord-perf,
// issue 9). Prints one JSON line with the parameters and records_per_sec,
// mb_per_sec.
//
//   fjord_client_benchmark produce --bootstrap 127.0.0.1:9092 --topic t
//       --records 5000000 --record-size 100 --partitions 1 --acks 1
//   fjord_client_benchmark consume --bootstrap 127.0.0.1:9092 --topic t
//       --records 5000000
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "fjord/admin.h"
#include "fjord/consumer.h"
#include "fjord/producer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

int Produce(const std::string& bootstrap, const std::string& admin_addr,
            const std::string& topic, long records, int record_size,
            int partitions, const std::string& acks,
            const std::string& compression, int batch_size, int linger_ms,
            const std::string& idempotence) {
  if (!admin_addr.empty()) {
    auto admin = fjord::Admin::Create({{"admin.servers", admin_addr}});
    if (!admin.ok()) return 1;
    fjord::NewTopic t;
    t.name = topic;
    t.partitions = partitions;
    auto created = (*admin)->CreateTopic(t);
    if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
      std::fprintf(stderr, "create topic: %s\n",
                   std::string(created.status().message()).c_str());
      return 1;
    }
  }
  auto producer =
      fjord::Producer::Create({{"bootstrap.servers", bootstrap},
                               {"acks", acks},
                               {"compression.type", compression},
                               {"batch.size", std::to_string(batch_size)},
                               {"linger.ms", std::to_string(linger_ms)},
                               {"enable.idempotence", idempotence}});
  if (!producer.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(producer.status().message()).c_str());
    return 1;
  }
  std::string value(static_cast<size_t>(record_size), 'x');
  for (size_t i = 0; i < value.size(); i++) value[i] = 'a' + i % 26;
  std::atomic<long> failed{0};
  fjord::ProducerRecord r;
  r.topic = topic;
  r.value = value;
  // Warm up: metadata, connection, producer id.
  if (!(*producer)->Send(r).get().ok()) return 1;
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < records; i++) {
    (*producer)->Send(
        r, [&failed](const absl::Status& s, const fjord::RecordMetadata&) {
          if (!s.ok()) failed.fetch_add(1, std::memory_order_relaxed);
        });
  }
  absl::Status flushed = (*producer)->Flush();
  const double secs = Seconds(start);
  std::printf(
      "{\"mode\":\"produce\",\"records\":%ld,\"record_size\":%d,"
      "\"partitions\":%d,\"acks\":\"%s\",\"compression\":\"%s\","
      "\"batch_size\":%d,\"linger_ms\":%d,\"idempotence\":%s,"
      "\"failed\":%ld,\"seconds\":%.3f,\"records_per_sec\":%.0f,"
      "\"mb_per_sec\":%.1f}\n",
      records, record_size, partitions, acks.c_str(), compression.c_str(),
      batch_size, linger_ms, idempotence.c_str(), failed.load(), secs,
      records / secs, records * static_cast<double>(record_size) / secs / 1e6);
  return flushed.ok() && failed.load() == 0 ? 0 : 1;
}

int Consume(const std::string& bootstrap, const std::string& topic,
            long records, int partitions, int max_partition_fetch_bytes) {
  auto consumer =
      fjord::Consumer::Create({{"bootstrap.servers", bootstrap},
                               {"auto.offset.reset", "earliest"},
                               {"max.partition.fetch.bytes",
                                std::to_string(max_partition_fetch_bytes)}});
  if (!consumer.ok()) return 1;
  std::vector<fjord::TopicPartition> tps;
  for (int p = 0; p < partitions; p++) tps.push_back({topic, p});
  if (!(*consumer)->Assign(tps).ok()) return 1;
  long got = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  while (got < records) {
    auto polled = (*consumer)->Poll(std::chrono::seconds(5));
    if (!polled.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(polled.status().message()).c_str());
      return 1;
    }
    if (polled->empty()) break;
    for (const fjord::ConsumerRecord& rec : *polled) {
      got++;
      bytes += rec.value ? static_cast<long>(rec.value->size()) : 0;
    }
  }
  const double secs = Seconds(start);
  std::printf(
      "{\"mode\":\"consume\",\"records\":%ld,\"partitions\":%d,"
      "\"seconds\":%.3f,\"records_per_sec\":%.0f,\"mb_per_sec\":%.1f}\n",
      got, partitions, secs, got / secs, bytes / secs / 1e6);
  return got >= records ? 0 : 1;
}

// End-to-end latency at a fixed rate: each value carries the steady-clock
// time of its Send; a consumer on another thread measures arrival minus
// that.
int Latency(const std::string& bootstrap, const std::string& topic,
            long records, int record_size, long rate, const std::string& acks) {
  auto producer = fjord::Producer::Create(
      {{"bootstrap.servers", bootstrap}, {"acks", acks}, {"linger.ms", "0"}});
  auto consumer = fjord::Consumer::Create(
      {{"bootstrap.servers", bootstrap}, {"fetch.max.wait.ms", "100"}});
  if (!producer.ok() || !consumer.ok()) return 1;
  std::string value(std::max<size_t>(record_size, 8), 'x');
  fjord::ProducerRecord r;
  r.topic = topic;
  r.partition = 0;
  r.value = value;
  if (!(*producer)->Send(r).get().ok()) return 1;  // creates the topic
  if (!(*consumer)->Assign({{topic, 0}}).ok()) return 1;
  if (!(*consumer)->SeekToEnd({}).ok()) return 1;
  if (!(*consumer)->Position({topic, 0}).ok()) return 1;
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(records));
  std::thread reader([&] {
    while (static_cast<long>(latencies.size()) < records) {
      auto polled = (*consumer)->Poll(std::chrono::seconds(5));
      if (!polled.ok() || polled->empty()) return;
      const int64_t now =
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now().time_since_epoch())
              .count();
      for (const fjord::ConsumerRecord& rec : *polled) {
        int64_t sent;
        std::memcpy(&sent, rec.value->data(), 8);
        latencies.push_back(now - sent);
      }
    }
  });
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < records; i++) {
    const auto due = start + std::chrono::nanoseconds(i * 1'000'000'000 / rate);
    std::this_thread::sleep_until(due);
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    std::memcpy(value.data(), &now, 8);
    (*producer)->Send(r, nullptr);
  }
  (void)(*producer)->Flush();
  reader.join();
  if (latencies.empty()) return 1;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(q * latencies.size()))] /
           1000.0;
  };
  std::printf(
      "{\"mode\":\"e2e\",\"records\":%zu,\"rate\":%ld,\"acks\":\"%s\","
      "\"latency_us\":{\"p50\":%.0f,\"p99\":%.0f,\"p99.9\":%.0f,"
      "\"max\":%.0f}}\n",
      latencies.size(), rate, acks.c_str(), pct(0.5), pct(0.99), pct(0.999),
      latencies.back() / 1000.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fjord client throughput"};
  std::string mode = "produce", bootstrap = "127.0.0.1:9092", admin, topic,
              acks = "1", compression = "none", idempotence = "true";
  long records = 1000000;
  int record_size = 100, partitions = 1, batch_size = 1000000, linger_ms = 5,
      fetch_bytes = 1048576;
  app.add_option("mode", mode, "produce, consume, e2e or delete (the topic)")
      ->required();
  app.add_option("--bootstrap", bootstrap);
  app.add_option("--admin", admin, "gRPC admin host:port (creates the topic)");
  app.add_option("--topic", topic)->required();
  app.add_option("--records", records);
  app.add_option("--record-size", record_size);
  app.add_option("--partitions", partitions);
  app.add_option("--acks", acks);
  app.add_option("--compression", compression);
  app.add_option("--batch-size", batch_size);
  app.add_option("--linger-ms", linger_ms);
  app.add_option("--idempotence", idempotence);
  app.add_option("--max-partition-fetch-bytes", fetch_bytes);
  long throughput = 10000;
  app.add_option("--throughput", throughput, "e2e: records/s");
  CLI11_PARSE(app, argc, argv);
  if (mode == "delete") {
    auto a = fjord::Admin::Create({{"admin.servers", admin}});
    if (!a.ok()) return 1;
    absl::Status s = (*a)->DeleteTopic(topic);
    return s.ok() ? 0 : 1;
  }
  if (mode == "e2e") {
    return Latency(bootstrap, topic, records, record_size, throughput, acks);
  }
  if (mode == "produce") {
    return Produce(bootstrap, admin, topic, records, record_size, partitions,
                   acks, compression, batch_size, linger_ms, idempotence);
  }
  return Consume(bootstrap, topic, records, partitions, fetch_bytes);
}
