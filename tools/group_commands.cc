// `fjord group list|describe|reset-offsets|delete`: consumer groups, through
// fjord::Admin's group operations (asked of the group's coordinator).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "fjord/admin.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tools/commands.h"
#include "tools/text_table.h"

namespace fjord::tools {

namespace {

using Json = nlohmann::ordered_json;

// Partitions sorted by topic then partition (as Admin returns them), per
// topic.
struct GroupPartitions {
  std::string topic;
  std::vector<int32_t> partitions;
};

std::vector<GroupPartitions> ByTopic(const std::vector<TopicPartition>& in) {
  std::vector<GroupPartitions> out;
  for (const TopicPartition& tp : in) {
    if (out.empty() || out.back().topic != tp.topic) {
      out.push_back({tp.topic, {}});
    }
    out.back().partitions.push_back(tp.partition);
  }
  return out;
}

void PrintJson(const Json& j) {
  fmt::print("{}\n", j.dump(2, ' ', false, Json::error_handler_t::replace));
}

std::string PartitionsText(const std::vector<TopicPartition>& in) {
  std::vector<std::string> parts;
  for (const auto& t : ByTopic(in)) {
    parts.push_back(t.topic + ":" + absl::StrJoin(t.partitions, ","));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

Json PartitionsJson(const std::vector<TopicPartition>& in) {
  Json out = Json::array();
  for (const auto& t : ByTopic(in)) {
    out.push_back({{"topic", t.topic}, {"partitions", t.partitions}});
  }
  return out;
}

std::string OffsetText(int64_t v) { return v < 0 ? "-" : std::to_string(v); }

struct GroupOptions {
  std::string group;
  std::string format = "text";
};

int GroupFail(const GlobalOptions& g, std::string_view command,
              const std::string& group, const absl::Status& s) {
  if (absl::IsNotFound(s) && !group.empty()) {
    return Fail(command, fmt::format("group '{}' not found", group));
  }
  return Fail(command, AdminCallError(g, s));
}

int RunList(const GlobalOptions& g, const GroupOptions& o) {
  constexpr const char* kCommand = "group list";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = Admin::Create(AdminProperties(g));
  if (!admin.ok()) return FailOrUsage(kCommand, admin.status());
  auto groups = (*admin)->ListGroups();
  if (!groups.ok()) return Fail(kCommand, AdminCallError(g, groups.status()));
  if (*format == OutputFormat::kJson) {
    Json j = Json::array();
    for (const auto& gr : *groups) {
      j.push_back({{"group", gr.group_id},
                   {"state", GroupStateName(gr.state)},
                   {"members", gr.members}});
    }
    PrintJson(j);
    return kExitOk;
  }
  TextTable t({"GROUP", "STATE", "MEMBERS"});
  for (const auto& gr : *groups) {
    t.AddRow({gr.group_id, std::string(GroupStateName(gr.state)),
              std::to_string(gr.members)});
  }
  t.Print(stdout);
  return kExitOk;
}

int RunDescribe(const GlobalOptions& g, const GroupOptions& o) {
  constexpr const char* kCommand = "group describe";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = Admin::Create(AdminProperties(g));
  if (!admin.ok()) return FailOrUsage(kCommand, admin.status());
  auto d = (*admin)->DescribeGroup(o.group);
  if (!d.ok()) return GroupFail(g, kCommand, o.group, d.status());
  int64_t total_lag = 0;
  bool lag_known = true;
  for (const auto& p : d->partitions) {
    if (p.lag >= 0) {
      total_lag += p.lag;
    } else {
      lag_known = false;
    }
  }
  if (*format == OutputFormat::kJson) {
    Json members = Json::array();
    for (const auto& m : d->members) {
      members.push_back({{"member_id", m.member_id},
                         {"instance_id", m.instance_id},
                         {"client_host", m.client_host},
                         {"member_epoch", m.member_epoch},
                         {"state", GroupMemberStateName(m.state)},
                         {"subscribed_topics", m.subscribed_topics},
                         {"assigned", PartitionsJson(m.assigned)},
                         {"revoking", PartitionsJson(m.revoking)},
                         {"pending", PartitionsJson(m.pending)},
                         {"target", PartitionsJson(m.target)}});
    }
    Json partitions = Json::array();
    for (const auto& p : d->partitions) {
      partitions.push_back({{"topic", p.partition.topic},
                            {"partition", p.partition.partition},
                            {"committed_offset", p.committed_offset},
                            {"log_end_offset", p.log_end_offset},
                            {"lag", p.lag},
                            {"member_id", p.member_id}});
    }
    PrintJson({{"group", d->group_id},
               {"state", GroupStateName(d->state)},
               {"group_epoch", d->group_epoch},
               {"assignment_epoch", d->assignment_epoch},
               {"assignor", d->assignor},
               {"offsets_partition", d->offsets_partition},
               {"coordinator", d->coordinator},
               {"members", members},
               {"partitions", partitions},
               {"total_lag", total_lag}});
    return kExitOk;
  }
  fmt::print(
      "group {}: {}, {} member{}, group epoch {}, assignment epoch {}, "
      "assignor {}, __consumer_offsets partition {}\n",
      d->group_id, GroupStateName(d->state), d->members.size(),
      d->members.size() == 1 ? "" : "s", d->group_epoch, d->assignment_epoch,
      d->assignor.empty() ? "-" : d->assignor, d->offsets_partition);
  fmt::print("total lag {}{}\n", total_lag,
             lag_known ? ""
                       : " (partitions without a committed offset not "
                         "counted)");
  if (!d->members.empty()) {
    fmt::print("\n");
    TextTable members({"MEMBER", "INSTANCE", "HOST", "EPOCH", "STATE",
                       "ASSIGNED", "REVOKING", "PENDING"});
    for (const auto& m : d->members) {
      members.AddRow({m.member_id, m.instance_id.empty() ? "-" : m.instance_id,
                      m.client_host.empty() ? "-" : m.client_host,
                      std::to_string(m.member_epoch),
                      std::string(GroupMemberStateName(m.state)),
                      PartitionsText(m.assigned), PartitionsText(m.revoking),
                      PartitionsText(m.pending)});
    }
    members.Print(stdout);
  }
  fmt::print("\n");
  TextTable parts(
      {"TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "OWNER"});
  for (const auto& p : d->partitions) {
    parts.AddRow({p.partition.topic, std::to_string(p.partition.partition),
                  OffsetText(p.committed_offset), OffsetText(p.log_end_offset),
                  OffsetText(p.lag), p.member_id.empty() ? "-" : p.member_id});
  }
  parts.Print(stdout);
  return kExitOk;
}

struct ResetOptions {
  std::string group;
  std::string topic;
  std::vector<int32_t> partitions;
  bool to_earliest = false;
  bool to_latest = false;
  int64_t to_offset = -1;
  std::string to_time;
  bool dry_run = false;
  std::string format = "text";
};

int RunReset(const GlobalOptions& g, const ResetOptions& o) {
  constexpr const char* kCommand = "group reset-offsets";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  const int strategies = int{o.to_earliest} + int{o.to_latest} +
                         int{o.to_offset >= 0} + int{!o.to_time.empty()};
  if (strategies != 1) {
    return UsageError(kCommand,
                      "give exactly one of --to-earliest, --to-latest, "
                      "--to-offset N, --to-time T");
  }
  using Strategy = OffsetResetSpec::Strategy;
  OffsetResetSpec spec;
  spec.partitions.push_back({o.topic, o.partitions});
  spec.dry_run = o.dry_run;
  if (o.to_earliest) spec.strategy = Strategy::kEarliest;
  if (o.to_latest) spec.strategy = Strategy::kLatest;
  if (o.to_offset >= 0) {
    spec.strategy = Strategy::kOffset;
    spec.offset = o.to_offset;
  }
  if (!o.to_time.empty()) {
    auto ts = ParseTimestamp(o.to_time);
    if (!ts.ok()) {
      return UsageError(kCommand,
                        "--to-time " + std::string(ts.status().message()));
    }
    spec.strategy = Strategy::kTimestamp;
    spec.timestamp_ms = std::max<int64_t>(*ts, 0);
  }
  auto admin = Admin::Create(AdminProperties(g));
  if (!admin.ok()) return FailOrUsage(kCommand, admin.status());
  auto changes = (*admin)->ResetGroupOffsets(o.group, spec);
  if (!changes.ok()) {
    return Fail(kCommand, AdminCallError(g, changes.status()));
  }
  if (*format == OutputFormat::kJson) {
    Json j = Json::array();
    for (const auto& c : *changes) {
      j.push_back({{"topic", c.partition.topic},
                   {"partition", c.partition.partition},
                   {"previous_offset", c.previous_offset},
                   {"new_offset", c.new_offset}});
    }
    PrintJson({{"group", o.group}, {"dry_run", o.dry_run}, {"changes", j}});
    return kExitOk;
  }
  fmt::print("{} offsets of group {}{}\n",
             o.dry_run ? "would reset (--dry-run, nothing changed)" : "reset",
             o.group,
             o.to_offset >= 0
                 ? " (offsets outside a partition's log start..log end are "
                   "clamped to it)"
                 : "");
  TextTable t({"TOPIC", "PARTITION", "PREVIOUS", "NEW"});
  for (const auto& c : *changes) {
    t.AddRow({c.partition.topic, std::to_string(c.partition.partition),
              OffsetText(c.previous_offset), std::to_string(c.new_offset)});
  }
  t.Print(stdout);
  return kExitOk;
}

int RunDelete(const GlobalOptions& g, const GroupOptions& o) {
  constexpr const char* kCommand = "group delete";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = Admin::Create(AdminProperties(g));
  if (!admin.ok()) return FailOrUsage(kCommand, admin.status());
  absl::Status s = (*admin)->DeleteGroup(o.group);
  if (!s.ok()) return GroupFail(g, kCommand, o.group, s);
  if (*format == OutputFormat::kJson) {
    PrintJson({{"group", o.group}, {"deleted", true}});
  } else {
    fmt::print("deleted group {} and its committed offsets\n", o.group);
  }
  return kExitOk;
}

const char* kFormatHelp = "text or json";

}  // namespace

void AddGroupCommands(CLI::App* app, const GlobalOptions* globals,
                      Action* action) {
  auto* group = app->add_subcommand(
      "group",
      "Consumer groups: list, describe (members, committed offsets, lag), "
      "reset offsets, delete");
  group->require_subcommand(1);
  SetExample(group, "fjord group describe billing");

  auto list_opts = std::make_shared<GroupOptions>();
  auto* list = group->add_subcommand(
      "list",
      "Consumer groups with state and member count (of the coordinators at "
      "--admin; on a single node all)");
  list->add_option("--format", list_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(list, "fjord group list");
  list->callback(
      [=] { *action = [=] { return RunList(*globals, *list_opts); }; });

  auto describe_opts = std::make_shared<GroupOptions>();
  auto* describe = group->add_subcommand(
      "describe",
      "A group's state, members and assignments, and per partition the "
      "committed offset, log end offset and lag, with the total lag");
  describe->add_option("group", describe_opts->group, "Group id")->required();
  describe->add_option("--format", describe_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(describe, "fjord group describe billing --format json");
  describe->callback(
      [=] { *action = [=] { return RunDescribe(*globals, *describe_opts); }; });

  auto reset_opts = std::make_shared<ResetOptions>();
  auto* reset = group->add_subcommand(
      "reset-offsets",
      "Move a group's committed offsets for a topic (only while the group "
      "has no members); creates the group's offsets if it has none");
  reset->add_option("group", reset_opts->group, "Group id")->required();
  reset->add_option("-t,--topic", reset_opts->topic, "Topic")->required();
  reset->add_option("-p,--partition", reset_opts->partitions,
                    "Partition (repeatable; default: all of the topic)");
  reset->add_flag("--to-earliest", reset_opts->to_earliest,
                  "To each partition's log start offset");
  reset->add_flag("--to-latest", reset_opts->to_latest,
                  "To each partition's log end offset");
  reset
      ->add_option("--to-offset", reset_opts->to_offset,
                   "To this offset (clamped into log start..log end)")
      ->check(CLI::NonNegativeNumber);
  reset->add_option("--to-time", reset_opts->to_time,
                    "To the first offset at or after this time (RFC 3339, ms "
                    "since the epoch, or -DURATION); the log end if none");
  reset->add_flag("--dry-run", reset_opts->dry_run,
                  "Show the changes, change nothing");
  reset->add_option("--format", reset_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(reset,
             "fjord group reset-offsets billing --topic orders --to-time "
             "2024-05-01T12:00:00Z --dry-run");
  reset->callback(
      [=] { *action = [=] { return RunReset(*globals, *reset_opts); }; });

  auto delete_opts = std::make_shared<GroupOptions>();
  auto* del = group->add_subcommand(
      "delete", "Delete a group without members and its committed offsets");
  del->add_option("group", delete_opts->group, "Group id")->required();
  del->add_option("--format", delete_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(del, "fjord group delete billing");
  del->callback(
      [=] { *action = [=] { return RunDelete(*globals, *delete_opts); }; });
}

}  // namespace fjord::tools
