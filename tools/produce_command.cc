// `fjord produce TOPIC`: one record per line of stdin, through
// fjord::Producer (idempotent by default), with a summary on stderr.
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fjord/producer.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tools/commands.h"

namespace fjord::tools {

namespace {

constexpr const char* kCommand = "produce";

struct ProduceOptions {
  std::string topic;
  std::string key_delimiter;
  std::vector<std::string> headers;
  int32_t partition = -1;
  std::string compression = "none";
  std::string acks = "all";
  std::string format = "text";
};

// What the delivery callbacks saw; they run on the producer's network
// thread while the main thread reads stdin.
struct Outcome {
  std::mutex mu;
  struct Partition {
    int64_t records = 0;
    int64_t first = -1;  // -1: no offset reported (acks=0)
    int64_t last = -1;
  };
  std::map<int32_t, Partition> partitions;
  int64_t delivered = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> errors;  // message -> how many
};

int RunProduce(const GlobalOptions& g, const ProduceOptions& o) {
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  std::vector<Header> headers;
  std::vector<std::pair<std::string, std::string>> header_storage;
  for (const auto& h : o.headers) {
    auto kv = ParseKeyValue(h);
    if (!kv.ok()) {
      return UsageError(kCommand,
                        "--header " + std::string(kv.status().message()));
    }
    header_storage.push_back(*std::move(kv));
  }
  for (const auto& [k, v] : header_storage) {
    headers.push_back({k, std::string_view(v)});
  }
  if (o.compression != "none" && o.compression != "lz4" &&
      o.compression != "zstd") {
    return UsageError(kCommand, fmt::format("--compression {}: expected none, "
                                            "lz4 or zstd",
                                            o.compression));
  }
  if (o.acks != "0" && o.acks != "1" && o.acks != "all" && o.acks != "-1") {
    return UsageError(kCommand,
                      fmt::format("--acks {}: expected 0, 1 or all", o.acks));
  }
  Properties props = ClientProperties(g);
  props["acks"] = o.acks;
  props["compression.type"] = o.compression;
  props["max.block.ms"] = std::to_string(g.timeout_ms);
  auto producer = Producer::Create(props);
  if (!producer.ok()) return UsageError(kCommand, producer.status());
  if (absl::Status s = CheckBrokersReachable(g); !s.ok()) {
    return FailOrUsage(kCommand, s);
  }
  if (o.partition >= 0) {
    auto count = (*producer)->PartitionCount(o.topic);
    if (!count.ok()) return Fail(kCommand, count.status());
    if (o.partition >= *count) {
      return Fail(kCommand,
                  fmt::format("partition {} of topic '{}' does not exist (it "
                              "has {})",
                              o.partition, o.topic, *count));
    }
  }

  Outcome outcome;
  ProducerRecord record;
  record.topic = o.topic;
  if (o.partition >= 0) record.partition = o.partition;
  record.headers = headers;
  char* line = nullptr;
  size_t capacity = 0;
  int64_t sent = 0;
  InstallStopSignalHandlers();
  for (;;) {
    ssize_t n = getline(&line, &capacity, stdin);
    if (n < 0) break;
    std::string_view text(line, static_cast<size_t>(n));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    record.key.reset();
    record.value = text;
    if (!o.key_delimiter.empty()) {
      const size_t at = text.find(o.key_delimiter);
      if (at != std::string_view::npos) {
        record.key = text.substr(0, at);
        record.value = text.substr(at + o.key_delimiter.size());
      }
    }
    (*producer)->Send(
        record, [&outcome](const absl::Status& s, const RecordMetadata& md) {
          std::lock_guard<std::mutex> l(outcome.mu);
          if (!s.ok()) {
            outcome.failed++;
            outcome.errors[std::string(s.message())]++;
            return;
          }
          outcome.delivered++;
          auto& p = outcome.partitions[md.partition];
          p.records++;
          if (md.offset >= 0) {
            if (p.first < 0 || md.offset < p.first) p.first = md.offset;
            p.last = std::max(p.last, md.offset);
          }
        });
    sent++;
    if (StopRequested()) break;
  }
  const bool read_error = std::ferror(stdin);
  free(line);
  absl::Status closed = (*producer)->Close();

  std::lock_guard<std::mutex> l(outcome.mu);
  if (*format == OutputFormat::kJson) {
    nlohmann::ordered_json parts = nlohmann::ordered_json::array();
    for (const auto& [p, r] : outcome.partitions) {
      parts.push_back({{"partition", p},
                       {"records", r.records},
                       {"first_offset", r.first},
                       {"last_offset", r.last}});
    }
    nlohmann::ordered_json errors = nlohmann::ordered_json::array();
    for (const auto& [m, n] : outcome.errors) {
      errors.push_back({{"error", m}, {"records", n}});
    }
    nlohmann::ordered_json j = {{"topic", o.topic},
                                {"records", outcome.delivered},
                                {"failed", outcome.failed},
                                {"partitions", parts},
                                {"errors", errors}};
    fmt::print("{}\n",
               j.dump(-1, ' ', false,
                      nlohmann::ordered_json::error_handler_t::replace));
  }
  std::string where;
  for (const auto& [p, r] : outcome.partitions) {
    where += where.empty() ? ": " : ", ";
    if (r.first >= 0) {
      where += fmt::format("partition {} offsets {}..{}", p, r.first, r.last);
    } else {
      where += fmt::format("partition {} ({} records, no offsets with acks=0)",
                           p, r.records);
    }
  }
  fmt::print(stderr, "produced {} record{} to {}{}\n", outcome.delivered,
             outcome.delivered == 1 ? "" : "s", o.topic, where);
  if (read_error) return Fail(kCommand, "reading stdin failed");
  if (outcome.failed > 0) {
    // The most frequent reason first.
    auto worst = outcome.errors.begin();
    for (auto it = outcome.errors.begin(); it != outcome.errors.end(); ++it) {
      if (it->second > worst->second) worst = it;
    }
    return Fail(
        kCommand,
        fmt::format("{} of {} records failed: {}{}", outcome.failed, sent,
                    worst->first,
                    outcome.errors.size() > 1
                        ? fmt::format(" ({} records; {} other reasons)",
                                      worst->second, outcome.errors.size() - 1)
                        : ""));
  }
  if (!closed.ok()) return Fail(kCommand, closed);
  return kExitOk;
}

}  // namespace

void AddProduceCommand(CLI::App* app, const GlobalOptions* globals,
                       Action* action) {
  auto o = std::make_shared<ProduceOptions>();
  auto* c = app->add_subcommand(
      "produce",
      "Publish each line of stdin as one record (the newline is not part of "
      "it); a summary goes to stderr; exit 1 if any record failed");
  c->add_option("topic", o->topic, "Topic to write")->required();
  c->add_option("-k,--key-delimiter", o->key_delimiter,
                "Split each line at the first occurrence: key before, value "
                "after (a line without it has a null key)");
  c->add_option("-H,--header", o->headers,
                "Header key=value added to every record (repeatable)");
  c->add_option("-p,--partition", o->partition,
                "Write every record to this partition (default: by key, "
                "murmur2 as Kafka; sticky for null keys)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("-z,--compression", o->compression, "none, lz4 or zstd")
      ->capture_default_str();
  c->add_option("--acks", o->acks,
                "0 (no answer), 1 (leader appended), all (appended and "
                "flushed on a single node)")
      ->capture_default_str();
  c->add_option("--format", o->format,
                "text, or json: the summary as a JSON object on stdout too")
      ->capture_default_str();
  SetExample(c,
             "printf 'k1\\tv1\\nk2\\tv2\\n' | fjord produce orders "
             "--key-delimiter $'\\t' --header source=cli --compression zstd");
  c->callback([=] { *action = [=] { return RunProduce(*globals, *o); }; });
}

}  // namespace fjord::tools
