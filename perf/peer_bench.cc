// build/bin/fjord-peer-bench: produce and consume load against the peers
// fjord is measured beside, NATS JetStream and Redis Streams, speaking
// their wire protocols directly (neither ships a C++ client in Debian).
// Every run ends with one JSON line on stdout, shaped like fjord-perf's, so
// perf/peers.sh can tabulate all of them together. See perf/README.md.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "fmt/format.h"
#include "log/strings.h"
#include "perf/internal/json.h"
#include "perf/internal/nats_bench.h"
#include "perf/internal/payload.h"
#include "perf/internal/redis_bench.h"

namespace {

using fjord::perf::internal::AckPolicy;
using fjord::perf::internal::JsonObject;
using fjord::perf::internal::NatsConsumeOptions;
using fjord::perf::internal::NatsProduceOptions;
using fjord::perf::internal::RedisConsumeOptions;
using fjord::perf::internal::RedisProduceOptions;
using fjord::perf::internal::RunResult;

constexpr uint64_t kMaxRecords = fjord::perf::internal::kMaxRecordIndex + 1;
constexpr size_t kMaxRecordSize = 64 * 1024 * 1024;

// The members every run's JSON line has, in this order.
JsonObject Common(std::string_view system, std::string_view op,
                  const RunResult& r, size_t record_size) {
  double rate = r.seconds > 0 ? static_cast<double>(r.records) / r.seconds : 0;
  // MB is 2^20 bytes of record payload, as in Kafka's perf tools.
  double mb = rate * static_cast<double>(record_size) / (1024.0 * 1024.0);
  JsonObject j;
  j.Add("system", system)
      .Add("op", op)
      .Add("records", r.records)
      .Add("record_size", static_cast<uint64_t>(record_size))
      .Add("records_per_sec", rate)
      .Add("mb_per_sec", mb)
      .Add("seconds", r.seconds)
      .Add("client_cpu_seconds", r.client_cpu_seconds)
      .Add("server_version", r.server_version);
  fmt::print(stderr,
             "{} {}: {} records of {} B in {:.3f} s: {:.0f} records/s, "
             "{:.2f} MB/s (client CPU {:.2f} s)\n",
             system, op, r.records, record_size, r.seconds, rate, mb,
             r.client_cpu_seconds);
  return j;
}

int Fail(std::string_view cmd, const absl::Status& st) {
  fmt::print(stderr, "fjord-peer-bench {}: {}\n", cmd, st.message());
  return 1;
}

void AddCommon(CLI::App* cmd, std::string& host, int& port, uint64_t& records,
               size_t& record_size, double& timeout) {
  cmd->add_option("--host", host, "Server address")->capture_default_str();
  cmd->add_option("--port", port, "Server port")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  cmd->add_option("--records", records, "Number of records")
      ->required()
      ->check(CLI::Range(uint64_t{1}, kMaxRecords));
  cmd->add_option("--record-size", record_size,
                  fmt::format("Bytes per record (at least {})",
                              fjord::perf::internal::kMinRecordSize))
      ->check(CLI::Range(fjord::perf::internal::kMinRecordSize, kMaxRecordSize))
      ->capture_default_str();
  cmd->add_option("--timeout", timeout,
                  "Seconds the whole run may take, set-up included; exit 1 "
                  "when they pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

const CLI::Validator kStreamName(
    [](std::string& s) -> std::string {
      if (s.empty()) return "empty";
      for (char c : s) {
        if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
          return "only letters, digits, '-' and '_'";
        }
      }
      return "";
    },
    "NAME");

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fjord-peer-bench: produce/consume load on NATS JetStream and Redis "
      "Streams; prints one JSON line per run"};
  app.require_subcommand(1);

  NatsProduceOptions np;
  auto* np_cmd = app.add_subcommand(
      "nats-produce",
      "Publish to a fresh file-store JetStream stream, asynchronously with a "
      "window of unacknowledged publishes; count PubAcks");
  AddCommon(np_cmd, np.host, np.port, np.records, np.record_size,
            np.timeout_seconds);
  np_cmd->add_option("--stream", np.stream, "Stream (deleted and recreated)")
      ->check(kStreamName)
      ->capture_default_str();
  np_cmd->add_option("--connections", np.connections, "Publishing connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  np_cmd
      ->add_option("--window", np.window,
                   "Unacknowledged publishes per connection")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  np_cmd->add_flag("--wait-for-window", np.wait_for_window,
                   "Publish a window, wait for all its PubAcks, then the next "
                   "(as nats bench --js --pubbatch does); default: sliding");

  NatsConsumeOptions nc;
  std::string ack = "none";
  auto* nc_cmd = app.add_subcommand(
      "nats-consume",
      "Read the stream from its start through a fresh durable pull consumer");
  AddCommon(nc_cmd, nc.host, nc.port, nc.records, nc.record_size,
            nc.timeout_seconds);
  nc_cmd->add_option("--stream", nc.stream, "Stream")
      ->check(kStreamName)
      ->capture_default_str();
  nc_cmd
      ->add_option("--consumer", nc.consumer,
                   "Durable consumer (deleted, recreated, deleted after)")
      ->check(kStreamName)
      ->capture_default_str();
  nc_cmd->add_option("--batch", nc.batch, "Messages per pull request")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  nc_cmd->add_option("--window", nc.pulls, "Pull requests outstanding at once")
      ->check(CLI::Range(1, 512))
      ->capture_default_str();
  nc_cmd
      ->add_option("--ack-policy", ack,
                   "none, or all (one ack per batch acknowledges it)")
      ->check(CLI::IsMember({"none", "all"}))
      ->capture_default_str();
  nc_cmd->add_flag("--verify", nc.verify,
                   "Check every record's bytes and that each is read once");

  RedisProduceOptions rp;
  auto* rp_cmd = app.add_subcommand(
      "redis-produce", "XADD to a fresh stream, pipelined over connections");
  AddCommon(rp_cmd, rp.host, rp.port, rp.records, rp.record_size,
            rp.timeout_seconds);
  rp_cmd->add_option("--key", rp.key, "Stream key (deleted first)")
      ->capture_default_str();
  rp_cmd->add_option("--connections", rp.connections, "Connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  rp_cmd
      ->add_option("--pipeline", rp.pipeline, "Unanswered XADDs per connection")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();

  RedisConsumeOptions rc;
  auto* rc_cmd = app.add_subcommand(
      "redis-consume", "XREAD the stream from its start in COUNT batches");
  AddCommon(rc_cmd, rc.host, rc.port, rc.records, rc.record_size,
            rc.timeout_seconds);
  rc_cmd->add_option("--key", rc.key, "Stream key")->capture_default_str();
  rc_cmd->add_option("--batch", rc.batch, "Entries per XREAD COUNT")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  rc_cmd->add_flag("--verify", rc.verify,
                   "Check every record's bytes and that each is read once");

  CLI11_PARSE(app, argc, argv);

  if (np_cmd->parsed()) {
    absl::StatusOr<RunResult> r = RunNatsProduce(np);
    if (!r.ok()) return Fail("nats-produce", r.status());
    JsonObject j = Common("nats-jetstream", "produce", *r, np.record_size);
    j.Add("connections", np.connections)
        .Add("window", np.window)
        .Add("window_mode", np.wait_for_window ? "wait-for-window" : "sliding")
        .Add("storage", "file")
        .Add("stream_messages", r->server_count);
    fmt::print("{}\n", j.str());
  } else if (nc_cmd->parsed()) {
    nc.ack_policy = ack == "all" ? AckPolicy::kAll : AckPolicy::kNone;
    absl::StatusOr<RunResult> r = RunNatsConsume(nc);
    if (!r.ok()) return Fail("nats-consume", r.status());
    JsonObject j = Common("nats-jetstream", "consume", *r, nc.record_size);
    j.Add("connections", 1)
        .Add("batch", nc.batch)
        .Add("window", nc.pulls)
        .Add("ack_policy", ack)
        .Add("verified", nc.verify)
        .Add("stream_messages", r->server_count);
    fmt::print("{}\n", j.str());
  } else if (rp_cmd->parsed()) {
    absl::StatusOr<fjord::perf::internal::RedisProduceResult> r =
        RunRedisProduce(rp);
    if (!r.ok()) return Fail("redis-produce", r.status());
    JsonObject j = Common("redis-streams", "produce", r->run, rp.record_size);
    j.Add("connections", rp.connections)
        .Add("pipeline", rp.pipeline)
        .Add("appendonly", r->appendonly)
        .Add("appendfsync", r->appendfsync)
        .Add("stream_entries", r->run.server_count);
    fmt::print("{}\n", j.str());
  } else if (rc_cmd->parsed()) {
    absl::StatusOr<RunResult> r = RunRedisConsume(rc);
    if (!r.ok()) return Fail("redis-consume", r.status());
    JsonObject j = Common("redis-streams", "consume", *r, rc.record_size);
    j.Add("connections", 1)
        .Add("batch", rc.batch)
        .Add("verified", rc.verify)
        .Add("stream_entries", r->server_count);
    fmt::print("{}\n", j.str());
  }
  return 0;
}
