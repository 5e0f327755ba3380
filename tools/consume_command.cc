// `fjord consume TOPIC`: prints records from chosen partitions and starting
// points, through fjord::Consumer (assigned partitions). With --group the
// progress is kept in a consumer group's committed offsets, committed from
// outside the group (tools/internal/coordinator_client.h): the client
// library has no group-managed subscription yet.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "fjord/consumer.h"
#include "fmt/format.h"
#include "tools/commands.h"
#include "tools/internal/coordinator_client.h"
#include "tools/partition_offsets.h"
#include "tools/record_format.h"

namespace fjord::tools {

namespace {

constexpr const char* kCommand = "consume";

struct ConsumeOptions {
  std::string topic;
  std::vector<int32_t> partitions;
  std::string offset = "beginning";
  std::string from_time;
  int64_t count = 0;
  std::string format = "text";
  bool base64 = false;
  bool print_offsets = false;
  bool exit_at_end = false;
  std::string group;
};

// How often --group commits while records are being printed (and once
// more at exit).
constexpr auto kCommitInterval = std::chrono::seconds(5);

// --offset, parsed.
struct StartSpec {
  enum Kind { kBeginning, kEnd, kAbsolute, kFromEnd, kTime } kind = kBeginning;
  int64_t value = 0;  // the offset, N of -N, or the time in ms
};

absl::StatusOr<StartSpec> ParseStart(const ConsumeOptions& o) {
  StartSpec spec;
  if (!o.from_time.empty()) {
    auto ts = ParseTimestamp(o.from_time);
    if (!ts.ok()) {
      return absl::InvalidArgumentError("--from-time " +
                                        std::string(ts.status().message()));
    }
    spec.kind = StartSpec::kTime;
    spec.value = *ts;
    return spec;
  }
  const std::string& s = o.offset;
  if (s == "beginning" || s == "earliest") {
    spec.kind = StartSpec::kBeginning;
  } else if (s == "end" || s == "latest") {
    spec.kind = StartSpec::kEnd;
  } else if (!s.empty() && s[0] == '-' &&
             absl::SimpleAtoi(absl::string_view(s).substr(1), &spec.value) &&
             spec.value >= 0) {
    spec.kind = StartSpec::kFromEnd;
  } else if (absl::SimpleAtoi(s, &spec.value) && spec.value >= 0) {
    spec.kind = StartSpec::kAbsolute;
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "--offset {}: expected beginning, end, an offset N or -N (N before "
        "the end)",
        s));
  }
  return spec;
}

int RunConsume(const GlobalOptions& g, const ConsumeOptions& o) {
  auto formatter = RecordFormatter::Create(o.format, o.base64);
  if (!formatter.ok()) return UsageError(kCommand, formatter.status());
  auto spec = ParseStart(o);
  if (!spec.ok()) return UsageError(kCommand, spec.status());
  if (o.count < 0) return UsageError(kCommand, "--count must be >= 0");

  if (absl::Status s = CheckBrokersReachable(g); !s.ok()) {
    return FailOrUsage(kCommand, s);
  }
  auto lookup = PartitionOffsets::Create(g, o.topic, o.partitions);
  if (!lookup.ok()) return FailOrUsage(kCommand, lookup.status());
  auto ranges = (*lookup)->Ranges();
  if (!ranges.ok()) return Fail(kCommand, ranges.status());

  // --group: where the group has committed, that is where a partition
  // starts (clamped into the log's range, as a reset would); elsewhere
  // --offset / --from-time decide.
  std::unique_ptr<internal::CoordinatorClient> group;
  std::vector<int64_t> committed(ranges->size(), -1);
  if (!o.group.empty()) {
    group =
        std::make_unique<internal::CoordinatorClient>(g.admin, g.timeout_ms);
    auto d = group->DescribeGroup(o.group);
    if (d.ok() && !d->members.empty()) {
      return Fail(kCommand,
                  fmt::format("group '{}' has {} members: consume --group "
                              "commits from outside the group and needs a "
                              "group without members",
                              o.group, d->members.size()));
    }
    if (!d.ok() && !absl::IsNotFound(d.status())) {
      return Fail(kCommand, d.status());
    }
    auto c = group->FetchOffsets(o.group, o.topic, (*lookup)->partitions());
    if (!c.ok()) return Fail(kCommand, c.status());
    for (size_t i = 0; i < c->size(); i++) committed[i] = (*c)[i].offset;
  }

  std::vector<int64_t> starts;
  if (spec->kind == StartSpec::kTime) {
    auto at = (*lookup)->OffsetsForTime(spec->value);
    if (!at.ok()) return Fail(kCommand, at.status());
    starts = *at;
  } else {
    for (const PartitionRange& r : *ranges) {
      if (committed[starts.size()] >= 0) {
        starts.push_back(0);  // set below
        continue;
      }
      switch (spec->kind) {
        case StartSpec::kBeginning:
          starts.push_back(r.start);
          break;
        case StartSpec::kEnd:
          starts.push_back(r.end);
          break;
        case StartSpec::kFromEnd:
          starts.push_back(std::max(r.start, r.end - spec->value));
          break;
        case StartSpec::kAbsolute:
          if (spec->value < r.start || spec->value > r.end) {
            return Fail(kCommand,
                        fmt::format("offset {} is out of range for partition "
                                    "{} of topic '{}': valid start offsets "
                                    "are {}..{} ({}){}",
                                    spec->value, r.partition, o.topic, r.start,
                                    r.end, RangeText(r),
                                    ranges->size() > 1
                                        ? "; an offset applies to every "
                                          "partition read, pick one with "
                                          "--partition"
                                        : ""));
          }
          starts.push_back(spec->value);
          break;
        case StartSpec::kTime:
          break;
      }
    }
  }
  for (size_t i = 0; i < starts.size(); i++) {
    if (committed[i] >= 0) {
      starts[i] =
          std::clamp(committed[i], (*ranges)[i].start, (*ranges)[i].end);
    }
  }

  Properties props = ClientProperties(g);
  props["auto.offset.reset"] = "none";
  auto consumer = Consumer::Create(props);
  if (!consumer.ok()) return FailOrUsage(kCommand, consumer.status());
  std::vector<TopicPartition> tps;
  for (const PartitionRange& r : *ranges) tps.push_back({o.topic, r.partition});
  if (absl::Status s = (*consumer)->Assign(tps); !s.ok()) {
    return Fail(kCommand, s);
  }
  for (size_t i = 0; i < tps.size(); i++) {
    if (absl::Status s = (*consumer)->Seek(tps[i], starts[i]); !s.ok()) {
      return Fail(kCommand, s);
    }
    if (o.print_offsets) {
      fmt::print(stderr, "{} partition {}: starting at offset {} ({}{})\n",
                 o.topic, tps[i].partition, starts[i], RangeText((*ranges)[i]),
                 committed[i] >= 0 ? fmt::format(", group {} committed {}",
                                                 o.group, committed[i])
                                   : std::string());
    }
  }

  InstallStopSignalHandlers();
  std::vector<int64_t> ends;
  for (const PartitionRange& r : *ranges) ends.push_back(r.end);
  // Where each partition's fetching has got to, and the offset after the
  // last record printed (where a later consume would resume).
  std::vector<int64_t> positions = starts;
  std::vector<int64_t> next = starts;
  std::map<int32_t, size_t> index;
  for (size_t i = 0; i < tps.size(); i++) index[tps[i].partition] = i;
  int64_t consumed = 0;
  // --group: commits `next` where it moved since the last commit.
  std::vector<int64_t> last_committed = committed;
  auto last_commit = std::chrono::steady_clock::now();
  auto commit = [&]() -> absl::Status {
    std::vector<internal::PartitionCommit> changed;
    for (size_t i = 0; i < tps.size(); i++) {
      if (next[i] != last_committed[i]) {
        changed.push_back({tps[i].partition, next[i]});
      }
    }
    last_commit = std::chrono::steady_clock::now();
    if (changed.empty()) return absl::OkStatus();
    absl::Status s = group->CommitOffsets(o.group, o.topic, changed);
    if (!s.ok()) {
      return absl::Status(
          s.code(), fmt::format("committing offsets of group '{}': {}", o.group,
                                s.message()));
    }
    for (size_t i = 0; i < tps.size(); i++) last_committed[i] = next[i];
    return absl::OkStatus();
  };
  std::string out;
  std::vector<log::RecordHeader> headers;
  auto last_progress = std::chrono::steady_clock::now();
  int exit_code = kExitOk;
  bool done = false;
  while (!done && !StopRequested()) {
    if (o.exit_at_end) {
      bool at_end = true;
      for (size_t i = 0; i < tps.size(); i++) {
        if (positions[i] < ends[i]) at_end = false;
      }
      if (at_end) {
        // Caught up with the ends seen so far: stop unless more came.
        auto now = (*lookup)->Ranges();
        if (!now.ok()) return Fail(kCommand, now.status());
        bool more = false;
        for (size_t i = 0; i < tps.size(); i++) {
          ends[i] = (*now)[i].end;
          if (positions[i] < ends[i]) more = true;
        }
        if (!more) break;
      }
    }
    auto records = (*consumer)->Poll(std::chrono::milliseconds(200));
    if (!records.ok()) {
      exit_code = Fail(kCommand, records.status());
      break;
    }
    out.clear();
    for (const ConsumerRecord& r : *records) {
      headers.assign(r.headers.begin(), r.headers.end());
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
      next[index[r.partition]] = r.offset + 1;
      consumed++;
      if (o.count > 0 && consumed >= o.count) {
        done = true;
        break;
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (!records->status().ok()) {
      exit_code = Fail(kCommand, records->status());
      break;
    }
    if (done) break;
    if (group &&
        std::chrono::steady_clock::now() - last_commit >= kCommitInterval) {
      if (absl::Status s = commit(); !s.ok()) {
        exit_code = Fail(kCommand, s);
        break;
      }
    }
    bool moved = false;
    for (size_t i = 0; i < tps.size(); i++) {
      auto pos = (*consumer)->Position(tps[i], std::chrono::milliseconds(0));
      if (pos.ok() && *pos != positions[i]) {
        positions[i] = *pos;
        moved = true;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (moved) last_progress = now;
    if (o.exit_at_end && !moved &&
        now - last_progress > std::chrono::milliseconds(g.timeout_ms)) {
      exit_code = Fail(
          kCommand, fmt::format("no records fetched for {} ms before reaching "
                                "the end of topic '{}' (brokers {})",
                                g.timeout_ms, o.topic, g.brokers));
      break;
    }
  }
  // What was printed is committed, also after a failure or Ctrl-C (at
  // least once: a record is printed before its offset is committed).
  if (group) {
    if (absl::Status s = commit(); !s.ok()) {
      const int failed = Fail(kCommand, s);
      if (exit_code == kExitOk) exit_code = failed;
    }
  }
  if (o.print_offsets) {
    for (size_t i = 0; i < tps.size(); i++) {
      fmt::print(stderr, "{} partition {}: next offset {}{}\n", o.topic,
                 tps[i].partition, next[i],
                 group ? fmt::format(" (committed to group {})", o.group)
                       : std::string());
    }
  }
  (*consumer)->Close();
  return exit_code;
}

}  // namespace

void AddConsumeCommand(CLI::App* app, const GlobalOptions* globals,
                       Action* action) {
  auto o = std::make_shared<ConsumeOptions>();
  auto* c = app->add_subcommand(
      "consume",
      "Print records of a topic. Runs until --count records, the end with "
      "--exit-at-end, or Ctrl-C. With --group, resumes from and commits to a "
      "consumer group's offsets");
  c->add_option("topic", o->topic, "Topic to read")->required();
  c->add_option("-p,--partition", o->partitions,
                "Partition to read (repeatable; default: all)");
  auto* offset =
      c->add_option(
           "-o,--offset", o->offset,
           "Where each partition starts: beginning, end, an offset N, or -N (N "
           "records before the end of each partition)")
          ->capture_default_str();
  c->add_option("--from-time", o->from_time,
                "Start at the first record at or after this time: RFC 3339 "
                "(2024-05-01T12:00:00Z), ms since the epoch, or -DURATION "
                "before now (-15m)")
      ->excludes(offset);
  c->add_option("-c,--count", o->count,
                "Stop after this many records in all (0: no limit)")
      ->capture_default_str();
  c->add_option("-f,--format", o->format,
                "json (one object per line), text (the value), or a template: "
                "%t topic %p partition %o offset %k key %v value %h headers "
                "%T timestamp ms %D timestamp RFC 3339 %K/%S key/value length, "
                "\\n \\t escapes")
      ->capture_default_str();
  c->add_flag("--base64", o->base64,
              "JSON: keys, values and headers always as key_base64 / "
              "value_base64 (otherwise only when they are not valid UTF-8)");
  c->add_flag("--print-offsets", o->print_offsets,
              "On stderr: each partition's starting offset, and at exit the "
              "next offset to read (to resume with --offset)");
  c->add_flag("-e,--exit-at-end", o->exit_at_end,
              "Exit once every partition is read up to its log end offset");
  c->add_option("-g,--group", o->group,
                "Keep progress in this consumer group: each partition starts "
                "at the group's committed offset (--offset / --from-time "
                "where it has none), and the offset after the last record "
                "printed is committed every 5 s and at exit. Commits from "
                "outside the group (no membership, no partition assignment), "
                "so the group must have no members");
  SetExample(c,
             "fjord consume orders --offset -10 --exit-at-end --format "
             "'%p/%o %k=%v %h'\n"
             "  fjord consume orders --partition 0 --from-time "
             "2024-05-01T12:00:00Z --count 100 --format json\n"
             "  fjord consume orders --group billing --count 1000");
  c->callback([=] { *action = [=] { return RunConsume(*globals, *o); }; });
}

}  // namespace fjord::tools
