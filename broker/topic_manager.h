// TopicManager: the broker's topics (partition count and config overrides),
// persisted in "<data-dir>/topics" (written atomically, CRC-checked; the
// format is in log/FORMAT.md), and the Partition objects that serve them.
// Topic configs are Kafka topic config names applied over the broker's
// defaults. Thread-safe.
#ifndef FJORD_BROKER_TOPIC_MANAGER_H_
#define FJORD_BROKER_TOPIC_MANAGER_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/partition.h"
#include "log/log_config.h"
#include "log/log_manager.h"

namespace fjord::broker {

struct TopicInfo {
  std::string name;
  int32_t partitions = 0;
  std::map<std::string, std::string> overrides;  // topic configs set
  log::LogConfig config;                         // effective
  // In a cluster, the partitions with a replica on this broker, the only
  // ones with a local log; nullopt: all of them (a single node).
  std::optional<std::set<int32_t>> local;
  bool has_local(int32_t partition) const {
    return partition >= 0 && partition < partitions &&
           (!local || local->contains(partition));
  }
};

class TopicManager {
 public:
  // Loads the topics file and makes every topic's partitions exist with its
  // config. A data directory without a topics file but with partition
  // directories (say, written by `fjord storage-demo`) adopts them as topics
  // with default configs. Partition directories of topics not in the file
  // (a deletion interrupted by a crash) are removed.
  // `logs` must outlive the manager.
  static absl::StatusOr<std::unique_ptr<TopicManager>> Open(
      log::LogManager* logs, const log::LogConfig& defaults,
      const std::string& data_dir);

  // kInvalidArgument for a bad name, partition count or config (the message
  // names it); kAlreadyExists.
  // With `local`, only those partitions get a log here (a cluster topic
  // with replicas elsewhere).
  absl::StatusOr<TopicInfo> Create(
      std::string_view name, int32_t partitions,
      const std::map<std::string, std::string>& configs, bool validate_only,
      std::optional<std::set<int32_t>> local = std::nullopt);
  // kNotFound if there is no such topic; kInvalidArgument for an internal
  // topic.
  absl::Status Delete(std::string_view name);
  // Grows the topic to `partitions` partitions (Kafka's CreatePartitions).
  // kNotFound; kInvalidArgument for fewer partitions than now, the same
  // count, more than 100000, or an internal topic.
  absl::StatusOr<TopicInfo> CreatePartitions(std::string_view name,
                                             int32_t partitions);
  // Sets (or with an empty value, removes) topic config overrides.
  absl::StatusOr<TopicInfo> AlterConfigs(
      std::string_view name, const std::map<std::string, std::string>& set);

  std::optional<TopicInfo> Get(std::string_view name) const;
  // The topic's partition count (cheaper than Get), nullopt if none.
  std::optional<int32_t> PartitionCount(std::string_view name) const;
  std::vector<TopicInfo> List() const;
  // nullptr if the topic or partition does not exist.
  std::shared_ptr<Partition> GetPartition(std::string_view topic,
                                          int32_t partition) const;

  // The configs of a topic with `overrides` over the broker's defaults;
  // kInvalidArgument naming a bad value.
  absl::StatusOr<log::LogConfig> EffectiveConfig(
      const std::map<std::string, std::string>& overrides) const;

 private:
  TopicManager(log::LogManager* logs, const log::LogConfig& defaults,
               std::string path)
      : logs_(logs), defaults_(defaults), path_(std::move(path)) {}
  absl::Status Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OpenPartitions(const TopicInfo& topic)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  log::LogManager* const logs_;
  const log::LogConfig defaults_;
  const std::string path_;
  mutable absl::Mutex mu_;
  std::map<std::string, TopicInfo, std::less<>> topics_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int32_t>, std::shared_ptr<Partition>,
           std::less<>>
      partitions_ ABSL_GUARDED_BY(mu_);
};

// Topics the broker itself owns (__consumer_offsets): they can be neither
// deleted nor grown.
bool IsInternalTopic(std::string_view name);

// The topics file, for tests and tools.
std::string EncodeTopics(const std::vector<TopicInfo>& topics);
absl::StatusOr<std::vector<TopicInfo>> DecodeTopics(std::string_view text);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_TOPIC_MANAGER_H_
