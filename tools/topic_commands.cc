// `fjord topic create|list|describe|delete|alter-config` and `fjord cluster
// describe`, through fjord::Admin (gRPC, --admin).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fjord/admin.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tools/commands.h"
#include "tools/text_table.h"

namespace fjord::tools {

namespace {

using Json = nlohmann::ordered_json;

void PrintJson(const Json& j) {
  fmt::print("{}\n", j.dump(2, ' ', false, Json::error_handler_t::replace));
}

// An Admin built from the global options, or the exit code of the usage
// error that prevented it.
absl::StatusOr<std::unique_ptr<Admin>> MakeAdmin(const GlobalOptions& g) {
  return Admin::Create(AdminProperties(g));
}

// The Admin's status said for people: an unknown topic by name.
int AdminFail(const GlobalOptions& g, std::string_view command,
              const std::string& topic, const absl::Status& s) {
  if (absl::IsNotFound(s) && !topic.empty()) {
    return Fail(command, fmt::format("topic '{}' not found", topic));
  }
  if (absl::IsAlreadyExists(s) && !topic.empty()) {
    return Fail(command, fmt::format("topic '{}' already exists", topic));
  }
  return Fail(command, AdminCallError(g, s));
}

Json PartitionsJson(const TopicDescription& d) {
  Json parts = Json::array();
  for (const auto& p : d.partitions) {
    Json part = {{"partition", p.index},
                 {"leader", p.leader},
                 {"replicas", p.replicas},
                 {"isr", p.isr}};
    // Unknown (no replica on the broker asked): null, not 0.
    if (p.has_log) {
      part["log_start_offset"] = p.log_start_offset;
      part["log_end_offset"] = p.log_end_offset;
      part["size_bytes"] = p.size_bytes;
      part["segments"] = p.segments;
    } else {
      part["log_start_offset"] = nullptr;
      part["log_end_offset"] = nullptr;
      part["size_bytes"] = nullptr;
      part["segments"] = nullptr;
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

Json ConfigsJson(const TopicDescription& d) {
  Json configs = Json::array();
  for (const auto& c : d.configs) {
    configs.push_back({{"name", c.name},
                       {"value", c.value},
                       {"source", c.is_override ? "override" : "default"}});
  }
  return configs;
}

Json TopicJson(const TopicDescription& d) {
  return {{"name", d.name},
          {"partitions", PartitionsJson(d)},
          {"configs", ConfigsJson(d)}};
}

// ------------------------------------------------------------ topic create

struct CreateOptions {
  std::string name;
  int32_t partitions = 0;
  std::vector<std::string> configs;
  bool dry_run = false;
  std::string format = "text";
};

int RunCreate(const GlobalOptions& g, const CreateOptions& o) {
  constexpr const char* kCommand = "topic create";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  NewTopic t;
  t.name = o.name;
  t.partitions = o.partitions;
  t.validate_only = o.dry_run;
  for (const auto& kv : o.configs) {
    auto parsed = ParseKeyValue(kv);
    if (!parsed.ok()) {
      return UsageError(kCommand,
                        "--config " + std::string(parsed.status().message()));
    }
    t.configs[parsed->first] = parsed->second;
  }
  auto admin = MakeAdmin(g);
  if (!admin.ok()) return UsageError(kCommand, admin.status());
  auto d = (*admin)->CreateTopic(t);
  if (!d.ok()) return AdminFail(g, kCommand, o.name, d.status());
  if (*format == OutputFormat::kJson) {
    Json j = TopicJson(*d);
    j["created"] = !o.dry_run;
    PrintJson(j);
    return kExitOk;
  }
  fmt::print("{} topic {} with {} partition{}\n",
             o.dry_run ? "would create (--dry-run)" : "created", d->name,
             d->partitions.size(), d->partitions.size() == 1 ? "" : "s");
  for (const auto& c : d->configs) {
    if (c.is_override) fmt::print("  {}={}\n", c.name, c.value);
  }
  return kExitOk;
}

// -------------------------------------------------------------- topic list

struct ListOptions {
  bool internal = false;
  std::string format = "text";
};

int RunList(const GlobalOptions& g, const ListOptions& o) {
  constexpr const char* kCommand = "topic list";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = MakeAdmin(g);
  if (!admin.ok()) return UsageError(kCommand, admin.status());
  auto topics = (*admin)->ListTopics(o.internal);
  if (!topics.ok()) return AdminFail(g, kCommand, "", topics.status());
  if (*format == OutputFormat::kJson) {
    Json j = Json::array();
    for (const auto& t : *topics) {
      j.push_back({{"name", t.name},
                   {"partitions", t.partitions},
                   {"internal", t.internal}});
    }
    PrintJson(j);
    return kExitOk;
  }
  TextTable table({"NAME", "PARTITIONS"});
  for (const auto& t : *topics) {
    table.AddRow({t.name + (t.internal ? " (internal)" : ""),
                  std::to_string(t.partitions)});
  }
  table.Print(stdout);
  return kExitOk;
}

// ---------------------------------------------------------- topic describe

struct DescribeOptions {
  std::string name;
  std::string format = "text";
};

void PrintTopicText(const TopicDescription& d) {
  int64_t bytes = 0;
  size_t unknown = 0;
  for (const auto& p : d.partitions) {
    bytes += p.size_bytes;
    unknown += p.has_log ? 0 : 1;
  }
  fmt::print("topic {}: {} partition{}, {} bytes ({}){}\n\n", d.name,
             d.partitions.size(), d.partitions.size() == 1 ? "" : "s", bytes,
             HumanBytes(static_cast<double>(bytes)),
             unknown == 0 ? ""
                          : fmt::format(" in the {} partitions with a replica "
                                        "on the broker asked",
                                        d.partitions.size() - unknown));
  TextTable parts({"PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START",
                   "LOG-END", "BYTES", "SEGMENTS"});
  // "-": not known to the broker asked (it holds no replica).
  auto known = [](const PartitionDescription& p, int64_t v) {
    return p.has_log ? std::to_string(v) : std::string("-");
  };
  for (const auto& p : d.partitions) {
    parts.AddRow({std::to_string(p.index),
                  p.leader < 0 ? std::string("none") : std::to_string(p.leader),
                  fmt::format("{}", fmt::join(p.replicas, ",")),
                  fmt::format("{}", fmt::join(p.isr, ",")),
                  known(p, p.log_start_offset), known(p, p.log_end_offset),
                  known(p, p.size_bytes), known(p, p.segments)});
  }
  parts.Print(stdout);
  fmt::print("\n");
  TextTable configs({"CONFIG", "VALUE", "SOURCE"});
  for (const auto& c : d.configs) {
    configs.AddRow({c.name, c.value, c.is_override ? "override" : "default"});
  }
  configs.Print(stdout);
}

int RunDescribe(const GlobalOptions& g, const DescribeOptions& o) {
  constexpr const char* kCommand = "topic describe";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = MakeAdmin(g);
  if (!admin.ok()) return UsageError(kCommand, admin.status());
  auto d = (*admin)->DescribeTopic(o.name);
  if (!d.ok()) return AdminFail(g, kCommand, o.name, d.status());
  if (*format == OutputFormat::kJson) {
    PrintJson(TopicJson(*d));
  } else {
    PrintTopicText(*d);
  }
  return kExitOk;
}

// ------------------------------------------------------------ topic delete

int RunDelete(const GlobalOptions& g, const DescribeOptions& o) {
  constexpr const char* kCommand = "topic delete";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = MakeAdmin(g);
  if (!admin.ok()) return UsageError(kCommand, admin.status());
  absl::Status s = (*admin)->DeleteTopic(o.name);
  if (!s.ok()) return AdminFail(g, kCommand, o.name, s);
  if (*format == OutputFormat::kJson) {
    PrintJson({{"name", o.name}, {"deleted", true}});
  } else {
    fmt::print("deleted topic {}\n", o.name);
  }
  return kExitOk;
}

// ------------------------------------------------------ topic alter-config

struct AlterOptions {
  std::string name;
  std::vector<std::string> set;
  std::vector<std::string> remove;
  std::string format = "text";
};

int RunAlter(const GlobalOptions& g, const AlterOptions& o) {
  constexpr const char* kCommand = "topic alter-config";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(kCommand, format.status());
  if (o.set.empty() && o.remove.empty()) {
    return UsageError(kCommand,
                      "nothing to change: give --set k=v or "
                      "--delete k");
  }
  std::map<std::string, std::string> set;
  for (const auto& kv : o.set) {
    auto parsed = ParseKeyValue(kv);
    if (!parsed.ok()) {
      return UsageError(kCommand,
                        "--set " + std::string(parsed.status().message()));
    }
    set[parsed->first] = parsed->second;
  }
  auto admin = MakeAdmin(g);
  if (!admin.ok()) return UsageError(kCommand, admin.status());
  auto d = (*admin)->AlterTopicConfigs(o.name, set, o.remove);
  if (!d.ok()) return AdminFail(g, kCommand, o.name, d.status());
  if (*format == OutputFormat::kJson) {
    PrintJson({{"name", d->name}, {"configs", ConfigsJson(*d)}});
    return kExitOk;
  }
  fmt::print("altered topic {}\n", d->name);
  for (const auto& c : d->configs) {
    const bool changed =
        set.count(c.name) > 0 ||
        std::find(o.remove.begin(), o.remove.end(), c.name) != o.remove.end();
    if (changed) {
      fmt::print("  {}={} ({})\n", c.name, c.value,
                 c.is_override ? "override" : "default");
    }
  }
  return kExitOk;
}

// -------------------------------------------------------- cluster describe

int RunCluster(const GlobalOptions& g, const std::string& format_name) {
  constexpr const char* kCommand = "cluster describe";
  auto format = ParseOutputFormat(format_name);
  if (!format.ok()) return UsageError(kCommand, format.status());
  auto admin = MakeAdmin(g);
  if (!admin.ok()) return UsageError(kCommand, admin.status());
  auto c = (*admin)->DescribeCluster();
  if (!c.ok()) return AdminFail(g, kCommand, "", c.status());
  auto topics = (*admin)->ListTopics(/*include_internal=*/true);
  if (!topics.ok()) return AdminFail(g, kCommand, "", topics.status());
  if (*format == OutputFormat::kJson) {
    Json brokers = Json::array();
    for (const auto& b : c->brokers) {
      brokers.push_back(
          {{"node_id", b.node_id},
           {"kafka", fmt::format("{}:{}", b.kafka_host, b.kafka_port)},
           {"grpc", fmt::format("{}:{}", b.grpc_host, b.grpc_port)}});
    }
    Json ts = Json::array();
    for (const auto& t : *topics) {
      ts.push_back({{"name", t.name},
                    {"partitions", t.partitions},
                    {"internal", t.internal}});
    }
    PrintJson({{"cluster_id", c->cluster_id},
               {"controller_id", c->controller_id},
               {"brokers", brokers},
               {"topics", ts}});
    return kExitOk;
  }
  fmt::print("cluster {}, controller {}\n\n", c->cluster_id, c->controller_id);
  TextTable brokers({"NODE", "KAFKA", "GRPC"});
  for (const auto& b : c->brokers) {
    brokers.AddRow({std::to_string(b.node_id),
                    fmt::format("{}:{}", b.kafka_host, b.kafka_port),
                    fmt::format("{}:{}", b.grpc_host, b.grpc_port)});
  }
  brokers.Print(stdout);
  fmt::print("\n");
  TextTable table({"TOPIC", "PARTITIONS"});
  for (const auto& t : *topics) {
    table.AddRow({t.name + (t.internal ? " (internal)" : ""),
                  std::to_string(t.partitions)});
  }
  table.Print(stdout);
  return kExitOk;
}

const char* kFormatHelp = "text or json";

}  // namespace

void SetExample(CLI::App* command, const char* example) {
  command->footer(fmt::format(
      "Example:\n  {}\n\nGlobal options (before or after the command): "
      "--brokers HOST:PORT (Kafka, default 127.0.0.1:9092, env FJORD_BROKERS), "
      "--admin HOST:PORT (gRPC, default 127.0.0.1:9093, env FJORD_ADMIN), "
      "--timeout-ms MS.\nExit codes: 0 success, 1 operation failed, 2 bad "
      "command line.",
      example));
}

void AddTopicCommands(CLI::App* app, const GlobalOptions* globals,
                      Action* action) {
  auto* topic = app->add_subcommand(
      "topic", "Create, list, describe, delete topics and change configs");
  topic->require_subcommand(1);
  SetExample(topic, "fjord topic describe orders");

  auto create_opts = std::make_shared<CreateOptions>();
  auto* create = topic->add_subcommand("create", "Create a topic");
  create->add_option("name", create_opts->name, "Topic name")->required();
  create
      ->add_option("-p,--partitions", create_opts->partitions,
                   "Partition count (0: the broker's num.partitions)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  create->add_option("-c,--config", create_opts->configs,
                     "Topic config override key=value (repeatable)");
  create->add_flag("--dry-run", create_opts->dry_run,
                   "Validate only: show what would be created");
  create->add_option("--format", create_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(create,
             "fjord topic create orders --partitions 6 --config "
             "retention.ms=86400000 --config cleanup.policy=delete");
  create->callback(
      [=] { *action = [=] { return RunCreate(*globals, *create_opts); }; });

  auto list_opts = std::make_shared<ListOptions>();
  auto* list = topic->add_subcommand("list", "List topics, sorted by name");
  list->add_flag("--internal", list_opts->internal,
                 "Include internal topics (__consumer_offsets)");
  list->add_option("--format", list_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(list, "fjord topic list --format json");
  list->callback(
      [=] { *action = [=] { return RunList(*globals, *list_opts); }; });

  auto describe_opts = std::make_shared<DescribeOptions>();
  auto* describe = topic->add_subcommand(
      "describe",
      "Show a topic's partitions (log start and end offsets, bytes, "
      "segments) and every config with its source");
  describe->add_option("name", describe_opts->name, "Topic name")->required();
  describe->add_option("--format", describe_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(describe, "fjord topic describe orders");
  describe->callback(
      [=] { *action = [=] { return RunDescribe(*globals, *describe_opts); }; });

  auto delete_opts = std::make_shared<DescribeOptions>();
  auto* del = topic->add_subcommand("delete", "Delete a topic and its data");
  del->add_option("name", delete_opts->name, "Topic name")->required();
  del->add_option("--format", delete_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(del, "fjord topic delete orders");
  del->callback(
      [=] { *action = [=] { return RunDelete(*globals, *delete_opts); }; });

  auto alter_opts = std::make_shared<AlterOptions>();
  auto* alter = topic->add_subcommand(
      "alter-config", "Set and remove topic config overrides (all or nothing)");
  alter->add_option("name", alter_opts->name, "Topic name")->required();
  alter->add_option("--set", alter_opts->set,
                    "Override key=value (repeatable)");
  alter->add_option("--delete", alter_opts->remove,
                    "Remove an override: the broker default applies again "
                    "(repeatable)");
  alter->add_option("--format", alter_opts->format, kFormatHelp)
      ->capture_default_str();
  SetExample(alter,
             "fjord topic alter-config orders --set retention.ms=3600000 "
             "--delete segment.bytes");
  alter->callback(
      [=] { *action = [=] { return RunAlter(*globals, *alter_opts); }; });

  auto* cluster = app->add_subcommand("cluster", "Describe the cluster");
  cluster->require_subcommand(1);
  SetExample(cluster, "fjord cluster describe");
  auto cluster_format = std::make_shared<std::string>("text");
  auto* cluster_describe = cluster->add_subcommand(
      "describe",
      "Brokers with their Kafka and gRPC addresses, topics with their "
      "partition counts");
  cluster_describe->add_option("--format", *cluster_format, kFormatHelp)
      ->capture_default_str();
  SetExample(cluster_describe, "fjord cluster describe --format json");
  cluster_describe->callback(
      [=] { *action = [=] { return RunCluster(*globals, *cluster_format); }; });
}

}  // namespace fjord::tools
