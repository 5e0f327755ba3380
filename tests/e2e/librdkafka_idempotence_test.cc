// librdkafka's idempotent producer (enable.idempotence=true) against a real
// fjord-broker, every connection through the fault-injecting proxy: 200,000
// records to 6 partitions while responses are dropped and connections
// reset, then a kill -9 of the broker mid-run and a restart. A consumer then
// reads everything back: each record exactly once, in send order per
// partition (each value carries its per-partition sequence number), at the
// offset its delivery report gave.
//
// Hidden [.perf] case: producer throughput with idempotence on and off.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/exactly_once.h"
#include "tests/e2e/proxied_broker.h"
#include "tests/util/broker_process.h"
#include "tests/util/fault_proxy.h"
#include "tests/util/metrics_scrape.h"
#include "tests/util/test_util.h"

namespace fjord::testing {
namespace {

struct Tracker {
  explicit Tracker(int64_t total) : reports(NewReports(total)) {}
  Reports reports;  // what librdkafka's delivery reports said
  int64_t delivered = 0;
  int64_t failed = 0;
  std::string first_error;
  // librdkafka's log lines, the newest few, for a failure message.
  std::mutex log_mu;
  std::deque<std::string> log;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* t = static_cast<Tracker*>(opaque);
  const auto id = reinterpret_cast<uintptr_t>(m->_private);
  const int p = static_cast<int>(id >> 32);
  const int64_t seq = static_cast<int64_t>(id & 0xffffffffu);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    t->reports[p][seq] = kFailed;
    if (t->failed++ == 0) t->first_error = rd_kafka_err2str(m->err);
  } else {
    t->reports[p][seq] = m->offset >= 0 ? m->offset : kDelivered;
    t->delivered++;
  }
}

void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* t = static_cast<Tracker*>(rd_kafka_opaque(rk));
  if (t == nullptr) return;
  std::lock_guard l(t->log_mu);
  t->log.push_back(std::string(fac) + ": " + buf);
  if (t->log.size() > 40) t->log.pop_front();
}

std::string LogTail(Tracker& t) {
  std::lock_guard l(t.log_mu);
  std::string out;
  for (const auto& line : t.log) out += line + "\n";
  return out;
}

void Set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  INFO(key << "=" << value);
  REQUIRE(rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof(err)) ==
          RD_KAFKA_CONF_OK);
}

// `for_faults`: small batches (many Produce requests, so that many faults
// hit them), quick retries and reconnects; otherwise librdkafka's defaults,
// which the throughput figure uses.
rd_kafka_t* MakeProducer(uint16_t port, Tracker* t, bool idempotent,
                         bool for_faults = true) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", "127.0.0.1:" + std::to_string(port));
  Set(conf, "enable.idempotence", idempotent ? "true" : "false");
  Set(conf, "acks", "all");  // what idempotence implies, in both modes
  if (for_faults) {
    Set(conf, "linger.ms", "5");
    Set(conf, "batch.num.messages", "1000");
    Set(conf, "message.timeout.ms", "90000");
    Set(conf, "request.timeout.ms", "10000");
    Set(conf, "retry.backoff.ms", "20");
    Set(conf, "reconnect.backoff.ms", "10");
    Set(conf, "reconnect.backoff.max.ms", "200");
    Set(conf, "api.version.request.timeout.ms", "5000");
    Set(conf, "log.connection.close", "false");
  }
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_log_cb(conf, OnLog);
  rd_kafka_conf_set_opaque(conf, t);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  INFO(err);
  REQUIRE(rk != nullptr);
  return rk;
}

std::string Value(int partition, int64_t seq) {
  char buf[96];
  int n = std::snprintf(buf, sizeof(buf), "p%d-s%08lld-", partition,
                        static_cast<long long>(seq));
  std::string v(buf, n);
  v.resize(64, 'x');
  return v;
}

// Produces records [from, to) of `topic` (record i goes to partition i % 6
// as that partition's sequence i / 6), calling `each(i)` after each.
void Produce(rd_kafka_t* rk, const std::string& topic, int64_t from, int64_t to,
             const std::function<void(int64_t)>& each = {}) {
  for (int64_t i = from; i < to; i++) {
    const int p = static_cast<int>(i % kPartitions);
    const int64_t seq = i / kPartitions;
    const std::string v = Value(p, seq);
    const auto id =
        (static_cast<uintptr_t>(p) << 32) | static_cast<uintptr_t>(seq);
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
          RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(id)), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 5);
        continue;
      }
      INFO(rd_kafka_err2str(err));
      REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
      break;
    }
    if (i % 512 == 0) rd_kafka_poll(rk, 0);
    if (each) each(i);
  }
}

void RequireNoFatalError(rd_kafka_t* rk, Tracker& t) {
  char err[512] = "";
  rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, err, sizeof(err));
  INFO("librdkafka log:\n" << LogTail(t));
  INFO("fatal: " << err);
  REQUIRE(fatal == RD_KAFKA_RESP_ERR_NO_ERROR);
}

// Every record of `topic` read back: per partition, (offset, value).
std::vector<std::vector<Read>> ConsumeAll(uint16_t port,
                                          const std::string& topic) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", "127.0.0.1:" + std::to_string(port));
  Set(conf, "fetch.wait.max.ms", "50");
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  REQUIRE(rk != nullptr);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  std::vector<std::vector<Read>> out(kPartitions);
  for (int p = 0; p < kPartitions; p++) {
    int64_t low = -1, high = -1;
    REQUIRE(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high,
                                             10000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(low == 0);
    REQUIRE(rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING) == 0);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int64_t next = 0;
    while (next < high) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      rd_kafka_message_t* m = rd_kafka_consume(rkt, p, 1000);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        out[p].push_back(
            {m->offset,
             SequenceOf(p, std::string_view(
                               static_cast<const char*>(m->payload), m->len))});
        next = m->offset + 1;
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        FAIL_CHECK("consume: " << rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consume_stop(rkt, p);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return out;
}

// Small segments: rolls, and so snapshots, during the run.
struct Cluster : ProxiedBroker {
  explicit Cluster(const FaultOptions& faults)
      : ProxiedBroker(faults, {"--set", "num.partitions=6", "--set",
                               "log.segment.bytes=1048576"}) {}
  void KillAndRestart() {
    ProxiedBroker::KillAndRestart(std::chrono::milliseconds(300));
  }
};

FaultOptions Faults() {
  FaultOptions f;
  f.grace_requests = 8;
  f.drop_response_every = 9;
  f.reset_probability = 0.03;
  f.delay_ms = 30;
  f.delay_probability = 0.05;
  f.seed = 20240601;
  return f;
}

TEST_CASE(
    "librdkafka: an idempotent producer through dropped responses and reset "
    "connections writes every record exactly once, in order",
    "[e2e][librdkafka]") {
  constexpr int64_t kTotal = 200'000;
  Cluster c(Faults());
  Tracker t(kTotal);
  rd_kafka_t* rk = MakeProducer(c.proxy.port(), &t, true);
  Produce(rk, "exactly-once", 0, kTotal);
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 100'000);
  RequireNoFatalError(rk, t);
  INFO("librdkafka log:\n" << LogTail(t));
  REQUIRE(flushed == RD_KAFKA_RESP_ERR_NO_ERROR);
  INFO("first delivery error: " << t.first_error);
  REQUIRE(t.failed == 0);
  REQUIRE(t.delivered == kTotal);
  rd_kafka_destroy(rk);

  const FaultProxyStats faults = c.proxy.stats();
  INFO("proxy: " << faults.dropped_responses << " responses dropped, "
                 << faults.resets << " resets, " << faults.delayed
                 << " delayed, " << faults.connections << " connections");
  CHECK(faults.dropped_responses > 5);
  CHECK(faults.resets > 0);
  // The broker did recognise retries (it is not just luck).
  const std::string metrics = HttpGet(c.broker->metrics_port(), "/metrics");
  CHECK(MetricValue(metrics, "fjord_produce_duplicates_total") > 0);

  c.proxy.SetFaults(FaultOptions{});
  auto read = ConsumeAll(c.proxy.port(), "exactly-once");
  CHECK(VerifyExactlyOnce(read, t.reports, kTotal) == kTotal);
  std::printf(
      "exactly-once: %lld records through %lld connections; %lld responses "
      "dropped, %lld resets, %lld delayed; broker answered %.0f retries as "
      "duplicates\n",
      static_cast<long long>(kTotal),
      static_cast<long long>(faults.connections),
      static_cast<long long>(faults.dropped_responses),
      static_cast<long long>(faults.resets),
      static_cast<long long>(faults.delayed),
      MetricValue(metrics, "fjord_produce_duplicates_total"));
  REQUIRE(c.broker->Stop().ok());
}

TEST_CASE(
    "librdkafka: kill -9 of the broker mid-run and a restart lose and "
    "duplicate nothing that was acknowledged",
    "[e2e][librdkafka]") {
  constexpr int64_t kTotal = 120'000;
  FaultOptions mild;
  mild.grace_requests = 8;
  mild.drop_response_every = 25;
  mild.seed = 7;
  Cluster c(mild);
  Tracker t(kTotal);
  rd_kafka_t* rk = MakeProducer(c.proxy.port(), &t, true);
  bool killed = false;
  int64_t at_kill = 0;  // acknowledged when the broker died
  Produce(rk, "kill9", 0, kTotal, [&](int64_t i) {
    // Kill once a third is acknowledged, with more in flight and queued.
    if (!killed && i % 256 == 0 && t.delivered >= kTotal / 3) {
      at_kill = t.delivered;
      killed = true;
      c.KillAndRestart();
      REQUIRE(c.broker->Log().find("unclean stop") != std::string::npos);
    }
  });
  if (!killed) {
    // Everything was queued before a third was acknowledged: kill now.
    while (t.delivered < kTotal / 3) rd_kafka_poll(rk, 10);
    at_kill = t.delivered;
    killed = true;
    c.KillAndRestart();
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 100'000);
  RequireNoFatalError(rk, t);
  INFO("librdkafka log:\n" << LogTail(t));
  REQUIRE(flushed == RD_KAFKA_RESP_ERR_NO_ERROR);
  INFO("first delivery error: " << t.first_error);
  CHECK(t.failed == 0);
  CHECK(t.delivered == kTotal);
  CHECK(at_kill < kTotal);  // some were still to go at the kill
  rd_kafka_destroy(rk);

  c.proxy.SetFaults(FaultOptions{});
  auto read = ConsumeAll(c.proxy.port(), "kill9");
  const int64_t n = VerifyExactlyOnce(read, t.reports, kTotal);
  CHECK(n == t.delivered);
  std::printf(
      "kill -9: %lld of %lld records acknowledged before the kill; all %lld "
      "read back exactly once; %lld responses dropped\n",
      static_cast<long long>(at_kill), static_cast<long long>(kTotal),
      static_cast<long long>(n),
      static_cast<long long>(c.proxy.stats().dropped_responses));
  REQUIRE(c.broker->Stop().ok());
}

// ------------------------------------------------------------ the figure

TEST_CASE("librdkafka: producer throughput with idempotence on and off",
          "[.perf]") {
  const int64_t total = std::getenv("FJORD_PERF_RECORDS")
                            ? std::atoll(std::getenv("FJORD_PERF_RECORDS"))
                            : 1'000'000;
  const int runs = std::getenv("FJORD_PERF_RUNS")
                       ? std::atoi(std::getenv("FJORD_PERF_RUNS"))
                       : 5;
  TempDir tmp;
  // One topic for every run, and modest preallocation: 6 partitions of
  // 1 GiB segments per run would fill a disk.
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
    // librdkafka's defaults: the throughput a user gets.
    rd_kafka_t* rk = MakeProducer(broker->kafka_port(), &t, idempotent,
                                  /*for_faults=*/false);
    const std::string topic = "perf";
    // Metadata and InitProducerId before the clock starts.
    Produce(rk, topic, 0, kPartitions);
    REQUIRE(rd_kafka_flush(rk, 30'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    const auto t0 = std::chrono::steady_clock::now();
    Produce(rk, topic, kPartitions, total);
    REQUIRE(rd_kafka_flush(rk, 300'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    REQUIRE(t.delivered == total);
    rd_kafka_destroy(rk);
    (idempotent ? on : off).push_back((total - kPartitions) / s);
    std::printf("run %d idempotence=%s: %.0f records/s\n", run,
                idempotent ? "on" : "off", (total - kPartitions) / s);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "median of %d runs, %lld records of 64 bytes to 6 partitions, acks=all: "
      "idempotence off %.0f records/s, on %.0f records/s (%+.1f%%)\n",
      runs, static_cast<long long>(total), median(off), median(on),
      100.0 * (median(on) - median(off)) / median(off));
  REQUIRE(broker->Stop().ok());
}

}  // namespace
}  // namespace fjord::testing
