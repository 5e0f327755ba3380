// The fjord client's idempotent producer (client/, enable.idempotence=true,
// max.in.flight.requests.per.connection=5) against a real fjord-broker,
// every connection through the fault-injecting proxy: 1,000,000 records of
// 100 bytes to 6 partitions while responses are dropped, connections reset
// and responses delayed; then the same with a kill -9 of the broker mid-run
// and a restart; then a harsher schedule (a tenth of the records, lz4, far
// more drops, resets and longer delays, and three kill -9s). The fjord
// consumer then reads everything back: each
// acknowledged record exactly once, in send order per partition (each value
// carries its partition and per-partition sequence number), at the offset
// its callback reported; a record whose callback failed at most once.
//
// Record counts: FJORD_E2E_RECORDS if set; otherwise 1,000,000, or 200,000
// in a sanitizer build (ASan + UBSan make client and broker several times
// slower). FJORD_E2E_SEED, if set, replaces the seeds of the fault
// schedules, to explore or reproduce others (the proxy's stats line shows
// what a schedule did).
//
// Hidden [.perf] case: producer throughput with idempotence on and off.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "catch2/catch.hpp"
#include "fjord/consumer.h"
#include "fjord/producer.h"
#include "tests/e2e/exactly_once.h"
#include "tests/e2e/proxied_broker.h"
#include "tests/util/broker_process.h"
#include "tests/util/fault_proxy.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define FJORD_E2E_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FJORD_E2E_SANITIZED 1
#endif
#endif

namespace fjord::testing {
namespace {

using Clock = std::chrono::steady_clock;

int64_t RecordCount() {
  if (const char* n = std::getenv("FJORD_E2E_RECORDS"); n != nullptr && *n) {
    return std::atoll(n);
  }
#ifdef FJORD_E2E_SANITIZED
  return 200'000;
#else
  return 1'000'000;
#endif
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Callbacks run on the producer's network thread (or on the sending
// thread for failures known at Send time); each writes only its own slot
// of `reports`, and the counters are atomic.
struct Tracker {
  explicit Tracker(int64_t total) : reports(NewReports(total)) {}

  void Report(int p, int64_t seq, const absl::Status& s, int64_t offset) {
    if (!s.ok()) {
      reports[p][seq] = kFailed;
      if (failed.fetch_add(1) == 0) {
        absl::MutexLock l(&mu);
        first_error = s.ToString();
      }
      return;
    }
    reports[p][seq] = offset >= 0 ? offset : kDelivered;
    delivered.fetch_add(1, std::memory_order_relaxed);
  }
  std::string FirstError() {
    absl::MutexLock l(&mu);
    return first_error;
  }

  Reports reports;
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  absl::Mutex mu;
  std::string first_error ABSL_GUARDED_BY(mu);
};

// Record i goes to partition i % 6 as that partition's sequence i / 6; its
// value is "p<partition>-s<sequence>-" padded with 'x' to 100 bytes.
void Produce(Producer& producer, const std::string& topic, Tracker* t,
             int64_t from, int64_t to) {
  char value[kValueSize + 1];
  std::memset(value, 'x', sizeof(value));
  ProducerRecord r;
  r.topic = topic;
  for (int64_t i = from; i < to; i++) {
    const int p = static_cast<int>(i % kPartitions);
    const int64_t seq = i / kPartitions;
    const int n = std::snprintf(value, sizeof(value), "p%d-s%09lld-", p,
                                static_cast<long long>(seq));
    value[n] = 'x';  // over snprintf's NUL
    r.partition = p;
    r.value = std::string_view(value, kValueSize);
    // Two words of capture: no allocation for the callback.
    const int64_t id = (static_cast<int64_t>(p) << 40) | seq;
    producer.Send(r, [t, id](const absl::Status& s, const RecordMetadata& md) {
      t->Report(static_cast<int>(id >> 40), id & ((int64_t{1} << 40) - 1), s,
                md.offset);
    });
  }
}

Properties ProducerProperties(const std::string& bootstrap, bool idempotent) {
  return {{"bootstrap.servers", bootstrap},
          {"enable.idempotence", idempotent ? "true" : "false"},
          {"max.in.flight.requests.per.connection", "5"},
          {"acks", "all"}};
}

// For the fault runs: 64 KiB batches (about 600 records), so that the
// faults hit many Produce requests, and quick retries and reconnects.
Properties FaultRunProperties(const std::string& bootstrap,
                              const Properties& extra = {}) {
  Properties p = ProducerProperties(bootstrap, true);
  for (const auto& [k, v] : extra) p[k] = v;
  p["batch.size"] = "65536";
  p["linger.ms"] = "5";
  p["retry.backoff.ms"] = "20";
  p["request.timeout.ms"] = "10000";
  return p;
}

// Every record of `topic`'s partitions from the log start to the log end
// (as it is when this starts), through the fjord consumer. Fails the test
// on a record that is not one this test sent to that partition.
std::vector<std::vector<Read>> ConsumeAll(const std::string& bootstrap,
                                          const std::string& topic) {
  auto consumer = Consumer::Create({{"bootstrap.servers", bootstrap},
                                    {"fetch.max.wait.ms", "50"},
                                    {"max.partition.fetch.bytes", "4194304"},
                                    {"auto.offset.reset", "none"}});
  REQUIRE(consumer.ok());
  Consumer& c = **consumer;
  std::vector<TopicPartition> all;
  for (int p = 0; p < kPartitions; p++) all.push_back({topic, p});
  REQUIRE(c.Assign(all).ok());
  REQUIRE(c.SeekToEnd({}).ok());
  std::vector<int64_t> end(kPartitions);
  for (int p = 0; p < kPartitions; p++) {
    auto position = c.Position(all[p]);
    INFO(position.status().ToString());
    REQUIRE(position.ok());
    end[p] = *position;
  }
  REQUIRE(c.SeekToBeginning({}).ok());
  for (int p = 0; p < kPartitions; p++) {
    auto position = c.Position(all[p]);
    INFO(position.status().ToString());
    REQUIRE(position.ok());
    REQUIRE(*position == 0);  // nothing was deleted
  }
  std::vector<std::vector<Read>> out(kPartitions);
  std::vector<int64_t> next(kPartitions, 0);
  int done = 0;
  for (int p = 0; p < kPartitions; p++) done += end[p] == 0 ? 1 : 0;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (done < kPartitions) {
    REQUIRE(Clock::now() < deadline);
    auto polled = c.Poll(std::chrono::milliseconds(200));
    INFO(polled.status().ToString());
    REQUIRE(polled.ok());
    for (const ConsumerRecord& r : *polled) {
      const int p = r.partition;
      INFO("partition " << p << " offset " << r.offset);
      REQUIRE(r.offset >= next[p]);
      REQUIRE(r.value.has_value());
      REQUIRE(r.value->size() == kValueSize);
      const int64_t seq = SequenceOf(p, *r.value);
      if (r.offset < end[p]) out[p].push_back({r.offset, seq});
      const bool was_done = next[p] >= end[p];
      next[p] = r.offset + 1;
      if (!was_done && next[p] >= end[p]) done++;
    }
    INFO(polled->status().ToString());
    REQUIRE(polled->status().ok());
  }
  c.Close();
  return out;
}

uint64_t Seed(uint64_t fallback) {
  const char* s = std::getenv("FJORD_E2E_SEED");
  return s != nullptr && *s ? std::strtoull(s, nullptr, 10) : fallback;
}

FaultOptions Faults() {
  FaultOptions f;
  f.grace_requests = 8;
  f.drop_response_every = 9;
  f.reset_probability = 0.03;
  f.delay_ms = 30;
  f.delay_probability = 0.05;
  f.seed = Seed(20240602);
  return f;
}

// The harsher schedule: about one response in seven dropped, one request
// in ten reset, one response in five held back 300 ms.
FaultOptions HarshFaults() {
  FaultOptions f;
  f.grace_requests = 8;
  f.drop_response_probability = 0.15;
  f.reset_probability = 0.1;
  f.delay_ms = 300;
  f.delay_probability = 0.2;
  f.seed = Seed(20261202);
  return f;
}

// Small segments (for 100 MB of records): rolls, and so producer-state
// snapshots, during the run.
std::vector<std::string> BrokerArgs() {
  return {"--set", "num.partitions=6", "--set", "log.segment.bytes=8388608"};
}

void PrintFaults(const char* what, const FaultProxyStats& f) {
  std::printf(
      "%s: %lld connections through the proxy; %lld responses dropped, %lld "
      "resets, %lld delayed\n",
      what, static_cast<long long>(f.connections),
      static_cast<long long>(f.dropped_responses),
      static_cast<long long>(f.resets), static_cast<long long>(f.delayed));
}

TEST_CASE(
    "fjord client: an idempotent producer through dropped responses, reset "
    "connections and delays writes every record exactly once, in order",
    "[e2e][client]") {
  const int64_t total = RecordCount();
  ProxiedBroker c(Faults(), BrokerArgs());
  Tracker t(total);
  auto producer = Producer::Create(FaultRunProperties(c.bootstrap()));
  INFO(producer.status().ToString());
  REQUIRE(producer.ok());
  const auto t0 = Clock::now();
  Produce(**producer, "exactly-once", &t, 0, total);
  const absl::Status flushed = (*producer)->Flush(std::chrono::seconds(120));
  const double produce_s = SecondsSince(t0);
  INFO("first failure: " << t.FirstError());
  REQUIRE(flushed.ok());
  REQUIRE(t.failed.load() == 0);
  REQUIRE(t.delivered.load() == total);
  REQUIRE((*producer)->Close(std::chrono::seconds(10)).ok());

  const FaultProxyStats faults = c.proxy.stats();
  INFO("proxy: " << faults.dropped_responses << " responses dropped, "
                 << faults.resets << " resets, " << faults.delayed
                 << " delayed, " << faults.connections << " connections");
  CHECK(faults.dropped_responses > 5);
  CHECK(faults.resets > 0);
  CHECK(faults.delayed > 0);
  // The broker did recognise retries (it is not just luck).
  const std::string metrics = HttpGet(c.broker->metrics_port(), "/metrics");
  const double duplicates =
      MetricValue(metrics, "fjord_produce_duplicates_total");
  CHECK(duplicates > 0);

  c.proxy.SetFaults(FaultOptions{});
  const auto t1 = Clock::now();
  auto read = ConsumeAll(c.bootstrap(), "exactly-once");
  const double consume_s = SecondsSince(t1);
  CHECK(VerifyExactlyOnce(read, t.reports, total) == total);
  std::printf(
      "fjord client exactly-once: %lld records of %zu bytes produced in "
      "%.1f s, read back in %.1f s; broker answered %.0f retries as "
      "duplicates\n",
      static_cast<long long>(total), kValueSize, produce_s, consume_s,
      duplicates);
  PrintFaults("fjord client exactly-once", faults);
  REQUIRE(c.broker->Stop().ok());
}

// Produces `total` records to `topic` through `faults` while the broker is
// killed with kill -9 and restarted `kills` times (the k-th kill once k /
// (kills + 2) of the records are acknowledged, while more are in flight and
// queued: the sending thread goes on, blocking when buffer.memory is full),
// then reads them back: each acknowledged record exactly once, in order.
void ProduceThroughKills(const FaultOptions& faults, int kills, int64_t total,
                         const std::string& topic, const Properties& extra) {
  ProxiedBroker c(faults, BrokerArgs());
  Tracker t(total);
  auto producer = Producer::Create(FaultRunProperties(c.bootstrap(), extra));
  REQUIRE(producer.ok());
  std::atomic<int64_t> at_first_kill{-1};
  std::atomic<int> restarts{0};
  std::string restart_error;
  std::thread killer([&] {
    for (int k = 1; k <= kills; k++) {
      const auto deadline = Clock::now() + std::chrono::seconds(120);
      while (t.delivered.load() < total * k / (kills + 2) &&
             Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (k == 1) at_first_kill = t.delivered.load();
      c.broker->Kill();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      absl::Status s = c.broker->Restart();
      if (!s.ok()) {
        restart_error = s.ToString();
        return;
      }
      c.proxy.SetTarget("127.0.0.1", c.broker->kafka_port());
      restarts++;
    }
  });
  const auto t0 = Clock::now();
  Produce(**producer, topic, &t, 0, total);
  const absl::Status flushed = (*producer)->Flush(std::chrono::seconds(120));
  const double produce_s = SecondsSince(t0);
  killer.join();
  INFO(restart_error);
  REQUIRE(restarts.load() == kills);
  REQUIRE(c.broker->Log().find("unclean stop") != std::string::npos);
  INFO("first failure: " << t.FirstError());
  REQUIRE(flushed.ok());
  // delivery.timeout.ms (120 s) is far longer than the outages: every
  // record is delivered in the end.
  CHECK(t.failed.load() == 0);
  CHECK(t.delivered.load() + t.failed.load() == total);
  CHECK(at_first_kill.load() < total);  // some were still to go at the kill
  REQUIRE((*producer)->Close(std::chrono::seconds(10)).ok());

  c.proxy.SetFaults(FaultOptions{});
  auto read = ConsumeAll(c.bootstrap(), topic);
  const int64_t n = VerifyExactlyOnce(read, t.reports, total);
  CHECK(n >= t.delivered.load());
  CHECK(n <= total);
  std::printf(
      "fjord client %d x kill -9 (%s): %lld of %lld records acknowledged "
      "before the first kill; %lld delivered, %lld failed; %lld read back, "
      "each once, in %.1f s of producing\n",
      kills, topic.c_str(), static_cast<long long>(at_first_kill.load()),
      static_cast<long long>(total), static_cast<long long>(t.delivered.load()),
      static_cast<long long>(t.failed.load()), static_cast<long long>(n),
      produce_s);
  PrintFaults(("fjord client " + topic).c_str(), c.proxy.stats());
  REQUIRE(c.broker->Stop().ok());
}

TEST_CASE(
    "fjord client: kill -9 of the broker mid-run and a restart lose and "
    "duplicate nothing that was acknowledged",
    "[e2e][client]") {
  FaultOptions mild;
  mild.grace_requests = 8;
  mild.drop_response_every = 25;
  mild.seed = Seed(8);
  ProduceThroughKills(mild, 1, RecordCount(), "kill9", {});
}

TEST_CASE(
    "fjord client: three kill -9s under frequent drops, resets and long "
    "delays, with lz4, still write every acknowledged record exactly once",
    "[e2e][client]") {
  ProduceThroughKills(HarshFaults(), 3, RecordCount() / 10, "harsh",
                      {{"compression.type", "lz4"}});
}

// ------------------------------------------------------------ the figure

// The cost of idempotence on producer throughput: the same records (100
// bytes, 6 partitions, acks=all, the client's defaults otherwise: linger.ms
// 5, batch.size 1000000, 5 in flight) with idempotence on and off, straight
// to the broker, alternating runs, medians.
TEST_CASE("fjord client: producer throughput with idempotence on and off",
          "[.perf]") {
  const int64_t total = std::getenv("FJORD_PERF_RECORDS")
                            ? std::atoll(std::getenv("FJORD_PERF_RECORDS"))
                            : 1'000'000;
  const int runs = std::getenv("FJORD_PERF_RUNS")
                       ? std::atoi(std::getenv("FJORD_PERF_RUNS"))
                       : 5;
  TempDir tmp;
  // One topic for every run, and modest preallocation.
  BrokerProcess::Options o;
  o.data_dir = tmp.Sub("data");
  o.args = {"--set", "num.partitions=6",
            "--set", "log.segment.bytes=134217728",
            "--set", "log.preallocate=false"};
  std::unique_ptr<BrokerProcess> broker = MustStartBroker(std::move(o));
  std::vector<double> on, off;
  for (int run = 0; run < 2 * runs; run++) {
    const bool idempotent = run % 2 == 0;
    Tracker t(total);
    auto producer =
        Producer::Create(ProducerProperties(broker->bootstrap(), idempotent));
    REQUIRE(producer.ok());
    const std::string topic = "perf";
    // Metadata and InitProducerId before the clock starts.
    Produce(**producer, topic, &t, 0, kPartitions);
    REQUIRE((*producer)->Flush(std::chrono::seconds(30)).ok());
    const auto t0 = Clock::now();
    Produce(**producer, topic, &t, kPartitions, total);
    REQUIRE((*producer)->Flush(std::chrono::seconds(300)).ok());
    const double s = SecondsSince(t0);
    INFO("first failure: " << t.FirstError());
    REQUIRE(t.delivered.load() == total);
    REQUIRE((*producer)->Close(std::chrono::seconds(10)).ok());
    (idempotent ? on : off).push_back((total - kPartitions) / s);
    std::printf("run %d idempotence=%s: %.0f records/s\n", run,
                idempotent ? "on" : "off", (total - kPartitions) / s);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "fjord client, median of %d runs, %lld records of %zu bytes to 6 "
      "partitions, acks=all: idempotence off %.0f records/s (%.1f MB/s), on "
      "%.0f records/s (%.1f MB/s) (%+.1f%%)\n",
      runs, static_cast<long long>(total), kValueSize, median(off),
      median(off) * kValueSize / (1 << 20), median(on),
      median(on) * kValueSize / (1 << 20),
      100.0 * (median(on) - median(off)) / median(off));
  REQUIRE(broker->Stop().ok());
}

}  // namespace
}  // namespace fjord::testing
