// `fjord replay TOPIC`: reads an exact offset or time range, partition by
// partition and in offset order, and prints it or re-publishes it (keys,
// headers and timestamps kept) to another topic with the idempotent
// producer.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fjord/admin.h"
#include "fjord/consumer.h"
#include "fjord/producer.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tools/commands.h"
#include "tools/partition_offsets.h"
#include "tools/record_format.h"

namespace fjord::tools {

namespace {

constexpr const char* kCommand = "replay";
using Clock = std::chrono::steady_clock;

struct ReplayOptions {
  std::string topic;
  int64_t from_offset = -1;
  std::string from_time;
  std::vector<int32_t> partitions;
  int64_t to_offset = -1;
  int64_t count = -1;
  std::string to_topic;
  std::string format = "text";
  bool base64 = false;
};

// One partition's part of the replay.
struct Plan {
  int32_t partition = 0;
  int64_t from = 0;   // first offset
  int64_t stop = 0;   // offsets < stop are replayed
  int64_t limit = 0;  // at most this many records (--count), or INT64_MAX
  // Filled while replaying.
  int64_t records = 0;
  int64_t first = -1;
  int64_t last = -1;
};

// Failures reported by the producer's callbacks (its network thread).
struct Delivery {
  std::mutex mu;
  int64_t failed = 0;
  std::string first_error;
};

// "replayed 12,340/50,000 records (24%), 3.2 MB/s, ETA 4 s", redrawn in
// place: only on a terminal.
class Progress {
 public:
  explicit Progress(int64_t total)
      : enabled_(isatty(STDERR_FILENO) == 1), total_(total) {}
  void Update(int64_t records, int64_t bytes, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? records / seconds : 0;
    std::string eta = "?";
    if (rate > 0 && total_ > records) {
      eta = fmt::format("{:.0f} s", (total_ - records) / rate);
    } else if (total_ <= records) {
      eta = "0 s";
    }
    fmt::print(stderr, "\r\033[Kreplayed {}/{} records ({:.0f}%), {}/s, ETA {}",
               records, total_, total_ > 0 ? 100.0 * records / total_ : 100.0,
               HumanBytes(seconds > 0 ? bytes / seconds : 0), eta);
    shown_ = true;
  }
  void Clear() {
    if (shown_) fmt::print(stderr, "\r\033[K");
  }

 private:
  const bool enabled_;
  const int64_t total_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point last_{};
  bool shown_ = false;
};

int64_t RecordBytes(const ConsumerRecord& r) {
  int64_t n = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
  for (const auto& h : r.headers) {
    n += h.key.size() + (h.value ? h.value->size() : 0);
  }
  return n;
}

int RunReplay(const GlobalOptions& g, const ReplayOptions& o) {
  const bool republish = !o.to_topic.empty();
  // Validate everything the command line alone can tell.
  if ((o.from_offset >= 0) == !o.from_time.empty()) {
    return UsageError(kCommand,
                      "give exactly one of --from-offset N and --from-time T");
  }
  if (o.to_offset >= 0 && o.count >= 0) {
    return UsageError(kCommand, "give at most one of --to-offset and --count");
  }
  if (o.to_offset >= 0 && o.from_offset >= 0 && o.to_offset < o.from_offset) {
    return UsageError(kCommand,
                      fmt::format("--to-offset {} is before --from-offset {}",
                                  o.to_offset, o.from_offset));
  }
  if (republish && o.to_topic == o.topic) {
    return UsageError(kCommand, "--to-topic must be another topic");
  }
  int64_t from_time = -1;
  if (!o.from_time.empty()) {
    auto ts = ParseTimestamp(o.from_time);
    if (!ts.ok()) {
      return UsageError(kCommand,
                        "--from-time " + std::string(ts.status().message()));
    }
    from_time = *ts;
  }
  std::optional<RecordFormatter> formatter;
  OutputFormat summary_format = OutputFormat::kText;
  if (republish) {
    auto f = ParseOutputFormat(o.format);
    if (!f.ok()) return UsageError(kCommand, f.status());
    summary_format = *f;
  } else {
    auto f = RecordFormatter::Create(o.format, o.base64);
    if (!f.ok()) return UsageError(kCommand, f.status());
    formatter = *std::move(f);
  }

  if (absl::Status s = CheckBrokersReachable(g); !s.ok()) {
    return FailOrUsage(kCommand, s);
  }
  auto lookup = PartitionOffsets::Create(g, o.topic, o.partitions);
  if (!lookup.ok()) return FailOrUsage(kCommand, lookup.status());
  auto ranges = (*lookup)->Ranges();
  if (!ranges.ok()) return Fail(kCommand, ranges.status());
  std::vector<int64_t> at_time;
  if (from_time >= 0) {
    auto at = (*lookup)->OffsetsForTime(from_time);
    if (!at.ok()) return Fail(kCommand, at.status());
    at_time = *at;
  }

  // The plan, checked up front against each partition's range as of now.
  std::vector<Plan> plans;
  int64_t total = 0;
  for (size_t i = 0; i < ranges->size(); i++) {
    const PartitionRange& r = (*ranges)[i];
    const std::string where =
        fmt::format("partition {} of topic '{}'", r.partition, o.topic);
    const std::string valid =
        r.end > r.start ? fmt::format("the valid range is {}..{} ({})", r.start,
                                      r.end - 1, RangeText(r))
                        : fmt::format("it holds no records ({})", RangeText(r));
    Plan p;
    p.partition = r.partition;
    p.from = from_time >= 0 ? at_time[i] : o.from_offset;
    if (p.from < r.start) {
      return Fail(kCommand,
                  fmt::format("offset {} is below the log start of {}: {}",
                              p.from, where, valid));
    }
    if (p.from > r.end) {
      return Fail(kCommand,
                  fmt::format("offset {} is past the log end of {}: {}", p.from,
                              where, valid));
    }
    p.stop = r.end;
    if (o.to_offset >= 0) {
      if (o.to_offset >= r.end) {
        return Fail(kCommand,
                    fmt::format("--to-offset {} is beyond the last offset of "
                                "{}: {}",
                                o.to_offset, where, valid));
      }
      p.stop = std::max(p.from, o.to_offset + 1);
    }
    p.limit = o.count >= 0 ? o.count : INT64_MAX;
    total += std::min(p.limit, p.stop - p.from);
    plans.push_back(p);
  }

  std::unique_ptr<Producer> producer;
  auto delivery = std::make_shared<Delivery>();
  if (republish) {
    auto admin = Admin::Create(AdminProperties(g));
    if (!admin.ok()) return FailOrUsage(kCommand, admin.status());
    auto target = (*admin)->DescribeTopic(o.to_topic);
    if (absl::IsNotFound(target.status())) {
      return Fail(kCommand, fmt::format("--to-topic: topic '{}' not found "
                                        "(create it first with fjord topic "
                                        "create)",
                                        o.to_topic));
    }
    if (!target.ok()) return Fail(kCommand, AdminCallError(g, target.status()));
    const int32_t needed = plans.empty() ? 0 : plans.back().partition + 1;
    if (static_cast<int32_t>(target->partitions.size()) < needed) {
      return Fail(kCommand,
                  fmt::format("--to-topic '{}' has {} partitions; records are "
                              "replayed to the same partition number, so it "
                              "needs at least {}",
                              o.to_topic, target->partitions.size(), needed));
    }
    Properties props = ClientProperties(g);
    props["enable.idempotence"] = "true";
    props["acks"] = "all";
    props["max.block.ms"] = std::to_string(g.timeout_ms);
    auto p = Producer::Create(props);
    if (!p.ok()) return FailOrUsage(kCommand, p.status());
    producer = *std::move(p);
  }

  Properties props = ClientProperties(g);
  props["auto.offset.reset"] = "none";
  auto consumer = Consumer::Create(props);
  if (!consumer.ok()) return FailOrUsage(kCommand, consumer.status());

  InstallStopSignalHandlers();
  Progress progress(total);
  const auto started = Clock::now();
  int64_t records = 0;
  int64_t bytes = 0;
  std::string out;
  std::vector<Header> headers;
  int exit_code = kExitOk;
  for (Plan& p : plans) {
    if (p.from >= p.stop || p.limit == 0 || exit_code != kExitOk) continue;
    const TopicPartition tp{o.topic, p.partition};
    if (absl::Status s = (*consumer)->Assign({tp}); !s.ok()) {
      return Fail(kCommand, s);
    }
    if (absl::Status s = (*consumer)->Seek(tp, p.from); !s.ok()) {
      return Fail(kCommand, s);
    }
    int64_t position = p.from;
    auto last_progress = Clock::now();
    bool done = false;
    while (!done) {
      if (StopRequested()) {
        progress.Clear();
        exit_code = Fail(kCommand, "interrupted");
        break;
      }
      auto batch = (*consumer)->Poll(std::chrono::milliseconds(200));
      if (!batch.ok()) {
        progress.Clear();
        exit_code = Fail(kCommand, batch.status());
        break;
      }
      out.clear();
      for (const ConsumerRecord& r : *batch) {
        if (r.offset >= p.stop || p.records >= p.limit) {
          done = true;
          break;
        }
        headers.assign(r.headers.begin(), r.headers.end());
        if (republish) {
          ProducerRecord pr;
          pr.topic = o.to_topic;
          pr.partition = p.partition;
          pr.key = r.key;
          pr.value = r.value;
          pr.headers = headers;
          pr.timestamp = r.timestamp;
          producer->Send(
              pr, [delivery](const absl::Status& s, const RecordMetadata&) {
                if (s.ok()) return;
                std::lock_guard<std::mutex> l(delivery->mu);
                if (delivery->failed++ == 0) {
                  delivery->first_error = std::string(s.message());
                }
              });
        } else {
          RecordView v;
          v.topic = r.topic;
          v.partition = r.partition;
          v.offset = r.offset;
          v.timestamp = r.timestamp;
          v.log_append_time = r.timestamp_type == TimestampType::kLogAppendTime;
          v.key = r.key;
          v.value = r.value;
          v.headers = headers;
          formatter->Append(v, &out);
        }
        if (p.first < 0) p.first = r.offset;
        p.last = r.offset;
        p.records++;
        records++;
        bytes += RecordBytes(r);
      }
      if (!out.empty()) std::fwrite(out.data(), 1, out.size(), stdout);
      if (!batch->status().ok()) {
        progress.Clear();
        exit_code = Fail(kCommand, batch->status());
        break;
      }
      progress.Update(records, bytes);
      if (p.records >= p.limit) done = true;
      auto pos = (*consumer)->Position(tp, std::chrono::milliseconds(0));
      if (pos.ok() && *pos != position) {
        position = *pos;
        last_progress = Clock::now();
      }
      if (position >= p.stop) done = true;
      if (!done && Clock::now() - last_progress >
                       std::chrono::milliseconds(g.timeout_ms)) {
        progress.Clear();
        exit_code =
            Fail(kCommand,
                 fmt::format(
                     "stalled at offset {} of partition {} of topic '{}': "
                     "nothing fetched for {} ms (brokers {})",
                     position, p.partition, o.topic, g.timeout_ms, g.brokers));
        break;
      }
    }
  }
  std::fflush(stdout);
  (*consumer)->Close();
  if (producer) {
    absl::Status s = producer->Close();
    if (!s.ok() && exit_code == kExitOk) exit_code = Fail(kCommand, s);
  }
  progress.Update(records, bytes, /*force=*/true);
  progress.Clear();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - started).count();

  std::string parts;
  for (const Plan& p : plans) {
    parts += parts.empty() ? "" : "; ";
    if (p.records == 0) {
      parts += fmt::format("partition {}: none", p.partition);
    } else {
      parts += fmt::format("partition {}: offsets {}..{}", p.partition, p.first,
                           p.last);
    }
  }
  int64_t failed;
  std::string first_error;
  {
    std::lock_guard<std::mutex> l(delivery->mu);
    failed = delivery->failed;
    first_error = delivery->first_error;
  }
  if (republish && summary_format == OutputFormat::kJson) {
    nlohmann::ordered_json js = nlohmann::ordered_json::array();
    for (const Plan& p : plans) {
      js.push_back({{"partition", p.partition},
                    {"records", p.records},
                    {"first_offset", p.first},
                    {"last_offset", p.last}});
    }
    nlohmann::ordered_json j = {{"topic", o.topic},
                                {"to_topic", o.to_topic},
                                {"records", records - failed},
                                {"failed", failed},
                                {"bytes", bytes},
                                {"seconds", seconds},
                                {"partitions", js}};
    fmt::print("{}\n",
               j.dump(-1, ' ', false,
                      nlohmann::ordered_json::error_handler_t::replace));
  }
  fmt::print(stderr, "replayed {} record{} of {}{} ({}), {} in {:.3f} s\n",
             records - failed, records - failed == 1 ? "" : "s", o.topic,
             republish ? " to " + o.to_topic : "", parts,
             HumanBytes(static_cast<double>(bytes)), seconds);
  if (failed > 0 && exit_code == kExitOk) {
    exit_code = Fail(kCommand,
                     fmt::format("{} of {} records were not delivered to '{}': "
                                 "{}",
                                 failed, records, o.to_topic, first_error));
  }
  return exit_code;
}

}  // namespace

void AddReplayCommand(CLI::App* app, const GlobalOptions* globals,
                      Action* action) {
  auto o = std::make_shared<ReplayOptions>();
  auto* c = app->add_subcommand(
      "replay",
      "Read an exact range of a topic, partition by partition in offset "
      "order, and print it or re-publish it to another topic (keys, headers "
      "and timestamps kept, idempotent producer). The range ends at "
      "--to-offset, after --count records, or at the log end offset as of "
      "the start (records appended meanwhile are not replayed; nothing "
      "waits). A summary line goes to stderr; progress too when stderr is a "
      "terminal");
  c->add_option("topic", o->topic, "Topic to read")->required();
  auto* from_offset =
      c->add_option("--from-offset", o->from_offset,
                    "First offset (in each partition replayed); below the "
                    "log start or past the log end is an error")
          ->check(CLI::NonNegativeNumber);
  c->add_option("--from-time", o->from_time,
                "Start at each partition's first record at or after this "
                "time: RFC 3339, ms since the epoch, or -DURATION before now")
      ->excludes(from_offset);
  c->add_option("-p,--partition", o->partitions,
                "Partition to replay (repeatable; default: all)");
  auto* to_offset =
      c->add_option("--to-offset", o->to_offset,
                    "Last offset, inclusive (in each partition); beyond the "
                    "last offset is an error")
          ->check(CLI::NonNegativeNumber);
  c->add_option("-c,--count", o->count,
                "At most this many records from each partition")
      ->check(CLI::NonNegativeNumber)
      ->excludes(to_offset);
  c->add_option("--to-topic", o->to_topic,
                "Re-publish to this existing topic, each record to its "
                "source partition number, instead of printing");
  c->add_option("-f,--format", o->format,
                "Printing: json, text or a template as for consume; with "
                "--to-topic: text, or json for the summary on stdout")
      ->capture_default_str();
  c->add_flag("--base64", o->base64,
              "JSON: keys, values and headers always base64 (as consume)");
  SetExample(c,
             "fjord replay orders --partition 0 --from-offset 5000 "
             "--to-offset 5999 --format json\n"
             "  fjord replay orders --from-time 2024-05-01T12:00:00Z "
             "--to-topic orders-fixed");
  c->callback([=] { *action = [=] { return RunReplay(*globals, *o); }; });
}

}  // namespace fjord::tools
