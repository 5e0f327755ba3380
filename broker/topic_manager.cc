#include "broker/topic_manager.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "log/crc32c.h"
#include "log/file_names.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace {
constexpr std::string_view kHeader = "fjord topics 1";
}

bool IsInternalTopic(std::string_view name) {
  return name == "__consumer_offsets";
}

std::string EncodeTopics(const std::vector<TopicInfo>& topics) {
  std::string out = absl::StrFormat("%s\n", kHeader);
  for (const auto& t : topics) {
    absl::StrAppendFormat(&out, "topic %s %d\n", t.name, t.partitions);
    if (t.local) {
      absl::StrAppendFormat(&out, "local %s\n", absl::StrJoin(*t.local, ","));
    }
    for (const auto& [k, v] : t.overrides) {
      absl::StrAppendFormat(&out, "config %s %s\n", k, v);
    }
  }
  absl::StrAppendFormat(&out, "crc32c %08x\n",
                        log::crc32c::Value(out.data(), out.size()));
  return out;
}

absl::StatusOr<std::vector<TopicInfo>> DecodeTopics(std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  auto bad = [](std::string_view why) {
    return absl::DataLossError(absl::StrFormat("corrupt topics file: %s", why));
  };
  size_t crc_at = text.rfind("crc32c ");
  if (crc_at == absl::string_view::npos) return bad("no crc32c line");
  absl::string_view crc = absl::StripSuffix(text.substr(crc_at + 7), "\n");
  uint32_t stored;
  if (crc.size() != 8 || !absl::SimpleHexAtoi(crc, &stored) ||
      stored != log::crc32c::Value(text.data(), crc_at)) {
    return bad("CRC mismatch");
  }
  std::vector<TopicInfo> topics;
  std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, crc_at), '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != ToAbsl(kHeader)) return bad("bad header");
  for (size_t i = 1; i < lines.size(); i++) {
    std::vector<absl::string_view> f =
        absl::StrSplit(lines[i], absl::MaxSplits(' ', 2));
    if (f.size() == 3 && f[0] == "topic") {
      TopicInfo t;
      t.name = std::string(f[1]);
      if (!absl::SimpleAtoi(f[2], &t.partitions) || t.partitions < 1) {
        return bad("bad partition count");
      }
      topics.push_back(std::move(t));
    } else if (f.size() == 3 && f[0] == "config" && !topics.empty()) {
      topics.back().overrides[std::string(f[1])] = std::string(f[2]);
    } else if (f.size() == 2 && f[0] == "local" && !topics.empty()) {
      std::set<int32_t> local;
      for (absl::string_view n : absl::StrSplit(f[1], ',')) {
        int32_t p = 0;
        if (!absl::SimpleAtoi(n, &p) || p < 0 ||
            p >= topics.back().partitions) {
          return bad("bad local partition list");
        }
        local.insert(p);
      }
      topics.back().local = std::move(local);
    } else {
      return bad(absl::StrFormat("bad line '%s'", ToStd(lines[i])));
    }
  }
  return topics;
}

absl::StatusOr<std::unique_ptr<TopicManager>> TopicManager::Open(
    log::LogManager* logs, const log::LogConfig& defaults,
    const std::string& data_dir) {
  std::unique_ptr<TopicManager> m(
      new TopicManager(logs, defaults, data_dir + "/topics"));
  log::FileSystem* fs = log::PosixFileSystem();
  std::vector<TopicInfo> topics;
  const bool have_file = fs->Exists(m->path_);
  if (have_file) {
    ASSIGN_OR_RETURN(std::string text, fs->ReadFile(m->path_));
    ASSIGN_OR_RETURN(topics, DecodeTopics(text));
  } else {
    // Adopt partition directories found without a topics file.
    std::map<std::string, int32_t> seen;
    for (const auto& tp : logs->List()) {
      seen[tp.topic] = std::max(seen[tp.topic], tp.partition + 1);
    }
    for (const auto& [name, n] : seen) {
      topics.push_back(TopicInfo{name, n, {}, {}, std::nullopt});
      spdlog::info("adopting topic {} with {} partitions found in {}", name, n,
                   data_dir);
    }
  }
  absl::MutexLock l(&m->mu_);
  for (auto& t : topics) {
    auto config = m->EffectiveConfig(t.overrides);
    if (!config.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "topic %s in %s: %s", t.name, m->path_, config.status().message()));
    }
    t.config = *config;
    m->topics_[t.name] = t;
    RETURN_IF_ERROR(m->OpenPartitions(t));
  }
  for (const auto& tp : logs->List()) {
    auto it = m->topics_.find(tp.topic);
    if (it == m->topics_.end() || !it->second.has_local(tp.partition)) {
      spdlog::warn(
          "removing partition {} of a deleted topic (or one with "
          "no replica here)",
          tp.ToString());
      RETURN_IF_ERROR(logs->Delete(tp));
    }
  }
  if (!have_file) RETURN_IF_ERROR(m->Persist());
  return m;
}

absl::StatusOr<log::LogConfig> TopicManager::EffectiveConfig(
    const std::map<std::string, std::string>& overrides) const {
  log::LogConfig config = defaults_;
  for (const auto& [k, v] : overrides) RETURN_IF_ERROR(config.Set(k, v));
  return config;
}

absl::Status TopicManager::OpenPartitions(const TopicInfo& t) {
  for (int32_t p = 0; p < t.partitions; p++) {
    if (!t.has_local(p)) continue;
    TopicPartition tp{t.name, p};
    ASSIGN_OR_RETURN(auto log, logs_->GetOrCreate(tp, t.config));
    RETURN_IF_ERROR(log->SetConfig(t.config));
    auto key = std::make_pair(t.name, p);
    if (!partitions_.contains(key)) {
      partitions_[key] = std::make_shared<Partition>(tp, log);
    }
  }
  return absl::OkStatus();
}

absl::Status TopicManager::Persist() {
  std::vector<TopicInfo> topics;
  for (const auto& [name, t] : topics_) topics.push_back(t);
  return log::PosixFileSystem()->WriteFileAtomically(path_,
                                                     EncodeTopics(topics));
}

absl::StatusOr<TopicInfo> TopicManager::Create(
    std::string_view name, int32_t partitions,
    const std::map<std::string, std::string>& configs, bool validate_only,
    std::optional<std::set<int32_t>> local) {
  if (!log::IsValidTopicName(name)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invalid topic name '%s': use 1-249 characters of [a-zA-Z0-9._-]",
        name));
  }
  if (partitions < 1 || partitions > 100000) {
    return absl::OutOfRangeError(absl::StrFormat(
        "invalid partition count %d for topic %s", partitions, name));
  }
  TopicInfo t{std::string(name), partitions, configs, {}, std::move(local)};
  if (t.local && !t.local->empty() &&
      (*t.local->begin() < 0 || *t.local->rbegin() >= partitions)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topic %s: local partitions outside [0, %d)", name, partitions));
  }
  ASSIGN_OR_RETURN(t.config, EffectiveConfig(configs));
  absl::MutexLock l(&mu_);
  if (topics_.contains(t.name)) {
    return absl::AlreadyExistsError(
        absl::StrFormat("topic %s already exists", name));
  }
  if (validate_only) return t;
  topics_[t.name] = t;
  absl::Status s = Persist();
  if (!s.ok()) {
    topics_.erase(t.name);
    return s;
  }
  RETURN_IF_ERROR(OpenPartitions(t));
  spdlog::info("created topic {} with {} partitions", name, partitions);
  return t;
}

absl::Status TopicManager::Delete(std::string_view name) {
  if (IsInternalTopic(name)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s is an internal topic of the broker and cannot be deleted", name));
  }
  std::vector<std::shared_ptr<Partition>> removed;
  {
    absl::MutexLock l(&mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
      return absl::NotFoundError(absl::StrFormat("no topic %s", name));
    }
    TopicInfo t = it->second;
    topics_.erase(it);
    RETURN_IF_ERROR(Persist());
    for (int32_t p = 0; p < t.partitions; p++) {
      auto pit = partitions_.find(std::make_pair(t.name, p));
      if (pit != partitions_.end()) {
        removed.push_back(pit->second);
        partitions_.erase(pit);
      }
      absl::Status s = logs_->Delete(TopicPartition{t.name, p});
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
  }
  for (auto& p : removed) p->NotifyAppend();  // parked fetches re-check
  spdlog::info("deleted topic {}", name);
  return absl::OkStatus();
}

absl::StatusOr<TopicInfo> TopicManager::CreatePartitions(std::string_view name,
                                                         int32_t partitions) {
  if (IsInternalTopic(name)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s is an internal topic of the broker: its partition count is fixed",
        name));
  }
  absl::MutexLock l(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return absl::NotFoundError(absl::StrFormat("no topic %s", name));
  }
  const int32_t now = it->second.partitions;
  if (partitions <= now || partitions > 100000) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topic %s has %d partitions: the new count must be larger, and at "
        "most 100000; got %d",
        name, now, partitions));
  }
  it->second.partitions = partitions;
  if (absl::Status s = Persist(); !s.ok()) {
    it->second.partitions = now;
    return s;
  }
  RETURN_IF_ERROR(OpenPartitions(it->second));
  spdlog::info("topic {} grew from {} to {} partitions", name, now, partitions);
  return it->second;
}

absl::StatusOr<TopicInfo> TopicManager::AlterConfigs(
    std::string_view name, const std::map<std::string, std::string>& set) {
  absl::MutexLock l(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return absl::NotFoundError(absl::StrFormat("no topic %s", name));
  }
  TopicInfo t = it->second;
  for (const auto& [k, v] : set) {
    if (v.empty()) {
      t.overrides.erase(k);
    } else {
      t.overrides[k] = v;
    }
  }
  ASSIGN_OR_RETURN(t.config, EffectiveConfig(t.overrides));
  TopicInfo old = it->second;
  it->second = t;
  absl::Status s = Persist();
  if (!s.ok()) {
    it->second = old;
    return s;
  }
  for (int32_t p = 0; p < t.partitions; p++) {
    auto pit = partitions_.find(std::make_pair(t.name, p));
    if (pit != partitions_.end()) {
      RETURN_IF_ERROR(pit->second->log().SetConfig(t.config));
    }
  }
  return t;
}

std::optional<TopicInfo> TopicManager::Get(std::string_view name) const {
  absl::MutexLock l(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> TopicManager::PartitionCount(
    std::string_view name) const {
  absl::MutexLock l(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second.partitions;
}

std::vector<TopicInfo> TopicManager::List() const {
  absl::MutexLock l(&mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, t] : topics_) out.push_back(t);
  return out;
}

std::shared_ptr<Partition> TopicManager::GetPartition(std::string_view topic,
                                                      int32_t partition) const {
  absl::MutexLock l(&mu_);
  auto it = partitions_.find(std::make_pair(std::string(topic), partition));
  return it == partitions_.end() ? nullptr : it->second;
}

}  // namespace fjord::broker
