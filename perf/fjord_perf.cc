// build/bin/fjord-perf: load on a fjord cluster through the client
// library, in the manner of Kafka's perf tools: `produce` (throughput),
// `consume` (throughput), `e2e` (Send-to-Poll latency at a fixed rate).
// Every successful run ends with one JSON line on stdout holding its
// parameters and results, the shape perf/peers.sh and perf/run.sh read;
// a human summary goes to stderr. Any failure, or --timeout passing, is
// one line on stderr and exit status 1. See perf/README.md.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "fmt/format.h"
#include "perf/internal/fjord_load.h"
#include "perf/internal/json.h"

namespace {

using fjord::perf::internal::Clock;
using fjord::perf::internal::JsonObject;
using fjord::perf::internal::LoadOptions;
using fjord::perf::internal::LoadResult;

// What every subcommand accepts.
struct Flags {
  LoadOptions load;
  double timeout = 120;
  std::vector<std::string> properties;     // key=value
  std::vector<std::string> topic_configs;  // key=value
};

void AddCommon(CLI::App* cmd, Flags& f) {
  LoadOptions& o = f.load;
  cmd->add_option("--brokers", o.brokers, "bootstrap.servers, host:port[,...]")
      ->capture_default_str();
  cmd->add_option("--admin", o.admin,
                  "gRPC admin host:port (default: the brokers' hosts, port "
                  "9093); creates and describes the topic");
  cmd->add_option("--topic", o.topic)->capture_default_str();
  cmd->add_option("--records", o.records, "Records to send or read")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--record-size", o.record_size, "Bytes of value per record")
      ->check(CLI::Range(size_t{1}, size_t{64} << 20))
      ->capture_default_str();
  cmd->add_option("--duration", o.duration,
                  "Seconds the measured phase may last (0: no cap)")
      ->capture_default_str();
  cmd->add_option("--timeout", f.timeout,
                  "Seconds the whole run may take, set-up included; exit 1 "
                  "when they pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--property", f.properties,
                  "Client property key=value, applied last (repeatable)");
}

void AddProducerFlags(CLI::App* cmd, Flags& f) {
  LoadOptions& o = f.load;
  cmd->add_option("--acks", o.acks)
      ->check(CLI::IsMember({"0", "1", "all", "-1"}))
      ->capture_default_str();
  cmd->add_option("--compression", o.compression)
      ->check(CLI::IsMember({"none", "lz4", "zstd"}))
      ->capture_default_str();
  cmd->add_option("--partitions", o.partitions,
                  "Partitions of the topic when it is created here (an "
                  "existing topic must have as many)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "batch.size, bytes")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  cmd->add_option("--topic-config", f.topic_configs,
                  "Topic config key=value for a topic created here "
                  "(repeatable)");
}

absl::StatusOr<std::map<std::string, std::string>> ParsePairs(
    const std::vector<std::string>& pairs, std::string_view flag) {
  std::map<std::string, std::string> out;
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          fmt::format("{} '{}' is not key=value", flag, p));
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

JsonObject ResultJson(std::string_view op, const Flags& f,
                      const LoadResult& r) {
  const LoadOptions& o = f.load;
  const double rate =
      r.seconds > 0 ? static_cast<double>(r.records) / r.seconds : 0;
  // MiB (2^20 bytes) of record values, as Kafka's perf tools count.
  const double mb = r.seconds > 0 ? static_cast<double>(r.payload_bytes) /
                                        (1024.0 * 1024.0) / r.seconds
                                  : 0;
  JsonObject j;
  j.Add("system", "fjord")
      .Add("op", op)
      .Add("records", r.records)
      .Add("record_size", static_cast<uint64_t>(o.record_size))
      .Add("records_per_sec", rate)
      .Add("mb_per_sec", mb)
      .Add("seconds", r.seconds)
      .Add("client_cpu_seconds", r.client_cpu_seconds)
      .Add("topic", o.topic)
      .Add("partitions", r.partitions);
  if (op != "consume") {
    j.Add("acks", o.acks)
        .Add("compression", o.compression)
        .Add("batch_size", o.batch_size)
        .Add("linger_ms", o.linger_set ? o.linger_ms : (op == "e2e" ? 0 : 5))
        .Add("throughput", o.throughput)
        .Add("failed", r.failed);
  }
  if (op == "produce") j.Add("producers", o.producers);
  if (op == "e2e") j.Add("warmup_records", o.warmup_records);
  if (op == "consume") j.Add("verified", o.verify);
  if (o.duration > 0) j.Add("stopped_by_duration", r.stopped_by_duration);
  if (!o.properties.empty()) {
    JsonObject props;
    for (const auto& [k, v] : o.properties) props.Add(k, v);
    j.Add("properties", props);
  }
  if (r.latency.count > 0) {
    JsonObject l;
    l.Add("count", r.latency.count)
        .Add("mean", r.latency.mean_us)
        .Add("p50", r.latency.p50_us)
        .Add("p99", r.latency.p99_us)
        .Add("p99.9", r.latency.p999_us)
        .Add("max", r.latency.max_us);
    if (op == "produce") l.Add("sampled_one_in", uint64_t{16});
    j.Add("latency_us", l);
  }
  fmt::print(stderr,
             "fjord {}: {} records of {} B in {:.3f} s: {:.0f} records/s, "
             "{:.2f} MiB/s (client CPU {:.2f} s)",
             op, r.records, o.record_size, r.seconds, rate, mb,
             r.client_cpu_seconds);
  if (r.latency.count > 0) {
    fmt::print(stderr,
               "; latency us p50 {:.0f} p99 {:.0f} p99.9 {:.0f} max {:.0f}",
               r.latency.p50_us, r.latency.p99_us, r.latency.p999_us,
               r.latency.max_us);
  }
  fmt::print(stderr, "\n");
  return j;
}

// Ends the process if the run is still going `grace` after its deadline
// (a client call that does not honour its own bound must not hang a
// script).
void StartWatchdog(Clock::time_point deadline, std::string cmd) {
  std::thread([deadline, cmd = std::move(cmd)] {
    std::this_thread::sleep_until(deadline + std::chrono::seconds(15));
    fmt::print(stderr, "fjord-perf {}: still running 15 s after --timeout\n",
               cmd);
    std::fflush(stderr);
    std::_Exit(1);
  }).detach();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fjord-perf: produce, consume and end-to-end latency load "
      "through the fjord client library"};
  app.require_subcommand(1);
  Flags produce, consume, e2e;

  CLI::App* p = app.add_subcommand("produce", "Producer throughput");
  AddCommon(p, produce);
  AddProducerFlags(p, produce);
  p->add_option("--throughput", produce.load.throughput,
                "Cap, records/s over all producers (<= 0: none)")
      ->capture_default_str();
  p->add_option("--producers", produce.load.producers,
                "Producers, each with its own thread and connection")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  p->add_option("--linger-ms", produce.load.linger_ms, "linger.ms")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();

  CLI::App* c = app.add_subcommand("consume", "Consumer throughput");
  AddCommon(c, consume);
  c->add_flag("--verify", consume.load.verify,
              "Check every record's bytes and that each arrives once "
              "(records as fjord-perf produce writes them)");

  CLI::App* e = app.add_subcommand(
      "e2e", "End-to-end latency, Send to Poll, at a fixed rate");
  AddCommon(e, e2e);
  AddProducerFlags(e, e2e);
  e2e.load.throughput = 10000;
  e2e.load.records = 100000;
  e->add_option("--throughput", e2e.load.throughput, "Send rate, records/s")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  e->add_option("--linger-ms", e2e.load.linger_ms, "linger.ms (default 0)")
      ->check(CLI::Range(0, 60000));
  e->add_option("--warmup-records", e2e.load.warmup_records,
                "Records sent first and not measured")
      ->capture_default_str();

  CLI::App* d = app.add_subcommand(
      "delete", "Deletes the topic (between runs of a script)");
  Flags del;
  d->add_option("--brokers", del.load.brokers)->capture_default_str();
  d->add_option("--admin", del.load.admin);
  d->add_option("--topic", del.load.topic)->required();

  CLI11_PARSE(app, argc, argv);
  if (d->parsed()) {
    absl::Status s = fjord::perf::internal::DeleteTopic(del.load);
    if (!s.ok()) {
      fmt::print(stderr, "fjord-perf delete: {}\n", s.ToString());
      return 1;
    }
    return 0;
  }

  const std::string cmd = app.get_subcommands().front()->get_name();
  Flags& f = cmd == "produce" ? produce : cmd == "consume" ? consume : e2e;
  CLI::App* sub = app.get_subcommands().front();
  if (sub->get_option_no_throw("--linger-ms") != nullptr &&
      sub->get_option("--linger-ms")->count() > 0) {
    f.load.linger_set = true;
  }
  auto props = ParsePairs(f.properties, "--property");
  auto configs = ParsePairs(f.topic_configs, "--topic-config");
  if (!props.ok() || !configs.ok()) {
    fmt::print(
        stderr, "fjord-perf {}: {}\n", cmd,
        std::string(
            (!props.ok() ? props.status() : configs.status()).message()));
    return 1;
  }
  f.load.properties = *props;
  f.load.topic_configs = *configs;

  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(f.timeout));
  StartWatchdog(deadline, cmd);
  absl::StatusOr<LoadResult> r = cmd == "produce" ? RunProduce(f.load, deadline)
                                 : cmd == "consume"
                                     ? RunConsume(f.load, deadline)
                                     : RunEndToEnd(f.load, deadline);
  if (!r.ok()) {
    fmt::print(stderr, "fjord-perf {}: {}\n", cmd, r.status().ToString());
    return 1;
  }
  std::printf("%s\n", ResultJson(cmd, f, *r).str().c_str());
  std::fflush(stdout);
  return 0;
}
