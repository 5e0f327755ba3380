// `fjord consume TOPIC`: prints records from chosen partitions and starting
// points, through fjord::Consumer (assigned partitions). With --group the
// consumer joins the group as a member (Consumer::Subscribe), reads the
// partitions the group assigns it and commits the offsets of what it has
// printed. Runs on one thread (the rebalance callbacks run inside Poll).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "fjord/consumer.h"
#include "fmt/format.h"
#include "tools/commands.h"
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

// How often --group commits while records are being printed (also when
// partitions are revoked and at exit).
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

// Appends `r` formatted to `out`; `headers` is scratch space.
void AppendRecord(const RecordFormatter& formatter, const ConsumerRecord& r,
                  std::vector<log::RecordHeader>* headers, std::string* out) {
  headers->assign(r.headers.begin(), r.headers.end());
  RecordView v;
  v.topic = r.topic;
  v.partition = r.partition;
  v.offset = r.offset;
  v.timestamp = r.timestamp;
  v.log_append_time = r.timestamp_type == TimestampType::kLogAppendTime;
  v.key = r.key;
  v.value = r.value;
  v.headers = *headers;
  formatter.Append(v, out);
}

// The offset out of range message of --offset N.
std::string OffsetRangeError(const StartSpec& spec, const PartitionRange& r,
                             const std::string& topic, size_t partitions) {
  return fmt::format(
      "offset {} is out of range for partition {} of topic '{}': valid start "
      "offsets are {}..{} ({}){}",
      spec.value, r.partition, topic, r.start, r.end, RangeText(r),
      partitions > 1 ? "; an offset applies to every partition read, pick "
                       "one with --partition"
                     : "");
}

// A `consume --group` member's side of the group: where each partition it
// is given starts (the group's committed offset, else --offset /
// --from-time), the offset after the last record printed per partition,
// and the commits of those offsets (on revocation, periodically, at exit).
// Lives on the thread that calls Poll, as the callbacks do.
class GroupMember : public RebalanceListener {
 public:
  struct Partition {
    int64_t end = 0;  // log end offset when it was assigned (--exit-at-end)
    int64_t position = 0;    // where fetching has got to
    int64_t next = 0;        // the offset after the last record printed
    int64_t committed = -1;  // what the group has (-1: nothing)
  };

  GroupMember(const ConsumeOptions& options, const StartSpec& spec,
              PartitionOffsets* lookup, int64_t timeout_ms)
      : o_(options), spec_(spec), lookup_(lookup), timeout_ms_(timeout_ms) {}

  void set_consumer(Consumer* consumer) { consumer_ = consumer; }
  // The first error of a callback that the command cannot go on after (the
  // committed offsets or the start of a partition could not be found).
  const absl::Status& error() const { return error_; }
  std::map<int32_t, Partition>& partitions() { return partitions_; }
  // How many times partitions were assigned (a new assignment restarts the
  // --exit-at-end stall clock).
  int64_t assignments() const { return assignments_; }

  void OnPartitionsAssigned(const std::vector<TopicPartition>& tps) override {
    if (!error_.ok() || tps.empty()) return;
    assignments_++;
    auto committed =
        consumer_->Committed(tps, std::chrono::milliseconds(timeout_ms_));
    if (!committed.ok()) {
      return SetError(committed.status(), "reading the committed offsets");
    }
    auto ranges = lookup_->Ranges();
    if (!ranges.ok()) return SetError(ranges.status(), "");
    std::vector<int64_t> at_time;
    if (spec_.kind == StartSpec::kTime) {
      auto at = lookup_->OffsetsForTime(spec_.value);
      if (!at.ok()) return SetError(at.status(), "");
      at_time = *at;
    }
    for (const TopicPartition& tp : tps) {
      // The lookup resolved every partition, in partition order.
      const size_t i = static_cast<size_t>(tp.partition);
      if (i >= ranges->size()) {
        return SetError(absl::NotFoundError(fmt::format(
                            "partition {} of topic '{}' was assigned but is "
                            "not known",
                            tp.partition, tp.topic)),
                        "");
      }
      const PartitionRange& r = (*ranges)[i];
      Partition p;
      p.end = r.end;
      auto c = committed->find(tp);
      if (c != committed->end() && c->second.offset >= 0) {
        // Clamped into the log's range, as a reset would.
        p.committed = c->second.offset;
        p.position = std::clamp(p.committed, r.start, r.end);
      } else {
        switch (spec_.kind) {
          case StartSpec::kBeginning:
            p.position = r.start;
            break;
          case StartSpec::kEnd:
            p.position = r.end;
            break;
          case StartSpec::kFromEnd:
            p.position = std::max(r.start, r.end - spec_.value);
            break;
          case StartSpec::kAbsolute:
            if (spec_.value < r.start || spec_.value > r.end) {
              return SetError(absl::OutOfRangeError(OffsetRangeError(
                                  spec_, r, o_.topic, ranges->size())),
                              "");
            }
            p.position = spec_.value;
            break;
          case StartSpec::kTime:
            p.position = at_time[i];
            break;
        }
      }
      p.next = p.position;
      if (absl::Status s = consumer_->Seek(tp, p.position); !s.ok()) {
        return SetError(s, "");
      }
      if (o_.print_offsets) {
        fmt::print(stderr,
                   "{} partition {}: starting at offset {} ({}{}), assigned "
                   "by group {}\n",
                   o_.topic, tp.partition, p.position, RangeText(r),
                   p.committed >= 0 ? fmt::format(", group {} committed {}",
                                                  o_.group, p.committed)
                                    : std::string(),
                   o_.group);
      }
      partitions_[tp.partition] = p;
    }
  }

  // Commits what was printed of them before another member takes them.
  void OnPartitionsRevoked(const std::vector<TopicPartition>& tps) override {
    if (absl::Status s = Commit(tps); !s.ok()) {
      Warn(s);
      if (commit_error_.ok()) commit_error_ = s;
    }
    for (const TopicPartition& tp : tps) {
      auto it = partitions_.find(tp.partition);
      if (it == partitions_.end()) continue;
      if (o_.print_offsets) {
        fmt::print(stderr,
                   "{} partition {}: revoked, next offset {} (committed to "
                   "group {})\n",
                   o_.topic, tp.partition, it->second.next, o_.group);
      }
      partitions_.erase(it);
    }
  }

  // Others may own them already: nothing can be committed for them.
  void OnPartitionsLost(const std::vector<TopicPartition>& tps) override {
    for (const TopicPartition& tp : tps) {
      fmt::print(stderr,
                 "fjord: consume: lost partition {} of topic '{}' (this "
                 "member left group '{}' without a hand-over); records printed "
                 "after its last commit may be printed again by its next "
                 "owner\n",
                 tp.partition, tp.topic, o_.group);
      partitions_.erase(tp.partition);
    }
  }

  // Commits the offsets that moved since the last commit, of `tps` (every
  // assigned partition if empty). Waits for the coordinator.
  absl::Status Commit(const std::vector<TopicPartition>& tps = {}) {
    OffsetMap offsets;
    auto add = [&](int32_t partition, const Partition& p) {
      if (p.next != p.committed) {
        offsets[TopicPartition{o_.topic, partition}] = {p.next, ""};
      }
    };
    if (tps.empty()) {
      for (const auto& [partition, p] : partitions_) add(partition, p);
    } else {
      for (const TopicPartition& tp : tps) {
        auto it = partitions_.find(tp.partition);
        if (it != partitions_.end()) add(tp.partition, it->second);
      }
    }
    if (offsets.empty()) return absl::OkStatus();
    absl::Status s = consumer_->Commit(offsets);
    if (!s.ok()) {
      return absl::Status(s.code(),
                          fmt::format("committing offsets of group '{}': {}",
                                      o_.group, s.message()));
    }
    for (const auto& [tp, offset] : offsets) {
      auto it = partitions_.find(tp.partition);
      if (it != partitions_.end()) it->second.committed = offset.offset;
    }
    return absl::OkStatus();
  }
  // A commit made in a revocation that failed (the records stay printed;
  // the next owner prints them again).
  const absl::Status& commit_error() const { return commit_error_; }

  static void Warn(const absl::Status& s) {
    fmt::print(stderr, "fjord: consume: {}\n", s.message());
  }

 private:
  void SetError(const absl::Status& s, std::string_view what) {
    if (!error_.ok()) return;
    error_ =
        what.empty()
            ? s
            : absl::Status(s.code(), fmt::format("{}: {}", what, s.message()));
  }

  const ConsumeOptions& o_;
  const StartSpec spec_;
  PartitionOffsets* const lookup_;
  const int64_t timeout_ms_;
  Consumer* consumer_ = nullptr;
  std::map<int32_t, Partition> partitions_;
  int64_t assignments_ = 0;
  absl::Status error_;
  absl::Status commit_error_;
};

// `consume --group`: a member of the group, printing what it is assigned.
int RunGroupConsume(const GlobalOptions& g, const ConsumeOptions& o,
                    const StartSpec& spec, const RecordFormatter& formatter,
                    PartitionOffsets* lookup) {
  GroupMember member(o, spec, lookup, g.timeout_ms);
  Properties props = ClientProperties(g);
  props["group.id"] = o.group;
  // Offsets are committed here, for what was printed (a --count may stop in
  // the middle of what a Poll returned).
  props["enable.auto.commit"] = "false";
  // Where a position falls out of the log while reading (retention), and
  // the rule for a partition without a committed offset, which --offset
  // states (every start is set in OnPartitionsAssigned).
  props["auto.offset.reset"] =
      spec.kind == StartSpec::kEnd ? "latest" : "earliest";
  auto consumer = Consumer::Create(props);
  if (!consumer.ok()) return FailOrUsage(kCommand, consumer.status());
  member.set_consumer(consumer->get());
  if (absl::Status s = (*consumer)->Subscribe({o.topic}, &member); !s.ok()) {
    return Fail(kCommand, s);
  }

  InstallStopSignalHandlers();
  int64_t consumed = 0;
  std::string out;
  std::vector<log::RecordHeader> headers;
  auto last_commit = std::chrono::steady_clock::now();
  auto last_progress = std::chrono::steady_clock::now();
  int64_t assignments = 0;
  // --exit-at-end: whether, and since when, the member has been in the
  // group with no partitions.
  bool empty = false;
  std::chrono::steady_clock::time_point empty_since;
  int exit_code = kExitOk;
  bool done = false;
  while (!done && !StopRequested()) {
    const auto now = std::chrono::steady_clock::now();
    if (o.exit_at_end) {
      auto& parts = member.partitions();
      if (!parts.empty()) {
        empty = false;
        bool at_end = true;
        for (const auto& [partition, p] : parts) {
          if (p.position < p.end) at_end = false;
        }
        if (at_end) break;
      } else if ((*consumer)->GroupMetadata().member_epoch > 0) {
        if (!empty) {
          empty = true;
          empty_since = now;
        }
        if (now - empty_since > std::chrono::milliseconds(g.timeout_ms)) {
          fmt::print(stderr,
                     "fjord: consume: group '{}' gave this member no "
                     "partition of topic '{}' for {} ms; exiting "
                     "(--exit-at-end)\n",
                     o.group, o.topic, g.timeout_ms);
          break;
        }
      }
    }
    auto records = (*consumer)->Poll(std::chrono::milliseconds(200));
    if (!member.error().ok()) {
      exit_code = Fail(kCommand, member.error());
      break;
    }
    if (!records.ok()) {
      exit_code = Fail(kCommand, records.status());
      break;
    }
    out.clear();
    auto& parts = member.partitions();
    for (const ConsumerRecord& r : *records) {
      AppendRecord(formatter, r, &headers, &out);
      auto it = parts.find(r.partition);
      if (it != parts.end()) it->second.next = r.offset + 1;
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
    if (std::chrono::steady_clock::now() - last_commit >= kCommitInterval) {
      last_commit = std::chrono::steady_clock::now();
      // A failed periodic commit is said and retried at the next one.
      if (absl::Status s = member.Commit(); !s.ok()) GroupMember::Warn(s);
    }
    bool moved = false;
    bool behind = false;
    for (auto& [partition, p] : parts) {
      auto pos = (*consumer)->Position({o.topic, partition},
                                       std::chrono::milliseconds(0));
      if (pos.ok() && *pos != p.position) {
        p.position = *pos;
        moved = true;
      }
      if (p.position < p.end) behind = true;
    }
    if (moved || !behind || member.assignments() != assignments) {
      last_progress = std::chrono::steady_clock::now();
      assignments = member.assignments();
    }
    if (o.exit_at_end && behind &&
        std::chrono::steady_clock::now() - last_progress >
            std::chrono::milliseconds(g.timeout_ms)) {
      exit_code = Fail(
          kCommand, fmt::format("no records fetched for {} ms before reaching "
                                "the end of topic '{}' (brokers {})",
                                g.timeout_ms, o.topic, g.brokers));
      break;
    }
  }
  // What was printed is committed, also after a failure or a signal (at
  // least once: a record is printed before its offset is committed).
  absl::Status final_commit = member.Commit();
  if (!final_commit.ok()) {
    const int failed = Fail(kCommand, final_commit);
    if (exit_code == kExitOk) exit_code = failed;
  }
  if (o.print_offsets) {
    for (const auto& [partition, p] : member.partitions()) {
      fmt::print(stderr,
                 "{} partition {}: next offset {} (committed to group {})\n",
                 o.topic, partition, p.next, o.group);
    }
  }
  // Committed: nothing is left for the revocation in Close to do (after a
  // failed commit it tries once more).
  if (final_commit.ok()) member.partitions().clear();
  // Revokes and leaves the group, so the partitions move to the other
  // members at once.
  (*consumer)->Close();
  if (exit_code == kExitOk && !member.commit_error().ok()) {
    exit_code = kExitFailed;
  }
  return exit_code;
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
  if (!o.group.empty()) {
    return RunGroupConsume(g, o, *spec, *formatter, lookup->get());
  }
  auto ranges = (*lookup)->Ranges();
  if (!ranges.ok()) return Fail(kCommand, ranges.status());

  std::vector<int64_t> starts;
  if (spec->kind == StartSpec::kTime) {
    auto at = (*lookup)->OffsetsForTime(spec->value);
    if (!at.ok()) return Fail(kCommand, at.status());
    starts = *at;
  } else {
    for (const PartitionRange& r : *ranges) {
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
                        OffsetRangeError(*spec, r, o.topic, ranges->size()));
          }
          starts.push_back(spec->value);
          break;
        case StartSpec::kTime:
          break;
      }
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
      fmt::print(stderr, "{} partition {}: starting at offset {} ({})\n",
                 o.topic, tps[i].partition, starts[i], RangeText((*ranges)[i]));
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
      AppendRecord(*formatter, r, &headers, &out);
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
  if (o.print_offsets) {
    for (size_t i = 0; i < tps.size(); i++) {
      fmt::print(stderr, "{} partition {}: next offset {}\n", o.topic,
                 tps[i].partition, next[i]);
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
      "--exit-at-end, or Ctrl-C (or SIGTERM). With --group, joins a consumer "
      "group as a member: reads the partitions the group assigns it and "
      "commits what it has printed");
  c->add_option("topic", o->topic, "Topic to read")->required();
  auto* partition =
      c->add_option("-p,--partition", o->partitions,
                    "Partition to read (repeatable; default: all; not with "
                    "--group, whose coordinator assigns the partitions)");
  auto* offset =
      c->add_option(
           "-o,--offset", o->offset,
           "Where each partition starts: beginning, end, an offset N, or -N (N "
           "records before the end of each partition). With --group only "
           "where the group has no committed offset (as auto.offset.reset): "
           "a committed offset wins")
          ->capture_default_str();
  c->add_option("--from-time", o->from_time,
                "Start at the first record at or after this time: RFC 3339 "
                "(2024-05-01T12:00:00Z), ms since the epoch, or -DURATION "
                "before now (-15m). With --group, as --offset: only where the "
                "group has no committed offset")
      ->excludes(offset);
  c->add_option("-c,--count", o->count,
                "Stop after this many records in all (0: no limit); with "
                "--group, the records this member prints")
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
              "Exit once every partition is read up to its log end offset. "
              "With --group: once every partition assigned to this member is "
              "read up to the log end offset it had when it was assigned "
              "(records appended later are left to the next run); a member "
              "the group gives no partition exits after --timeout-ms");
  c->add_option("-g,--group", o->group,
                "Join this consumer group as a member (as kcat -G / rpk -g): "
                "the group's coordinator spreads the topic's partitions over "
                "its members, so several consumes with one group share them. "
                "Each assigned partition starts at the group's committed "
                "offset (--offset / --from-time where it has none); the "
                "offset after the last record printed is committed every 5 s, "
                "when a partition is handed to another member, and at exit "
                "(also on Ctrl-C or SIGTERM)")
      ->excludes(partition);
  SetExample(c,
             "fjord consume orders --offset -10 --exit-at-end --format "
             "'%p/%o %k=%v %h'\n"
             "  fjord consume orders --partition 0 --from-time "
             "2024-05-01T12:00:00Z --count 100 --format json\n"
             "  fjord consume orders --group billing --count 1000");
  c->callback([=] { *action = [=] { return RunConsume(*globals, *o); }; });
}

}  // namespace fjord::tools
