#include "broker/cluster_coordinator.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "broker/coordinator/errors.h"
#include "broker/coordinator/records.h"
#include "broker/coordinator_service.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace co = ::fjord::coordinator;

namespace {

absl::Status NotAvailable(std::string_view why) {
  return co::ReasonError(absl::StatusCode::kUnavailable,
                         co::kCoordinatorNotAvailable,
                         std::string(why) + "; retry");
}

// Parked on a Partition's committed watermark for WaitReplicated. Shared:
// it may be woken after the waiting thread gave up.
class BlockingCommitWaiter final : public CommitWaiter {
 public:
  void Done(const absl::Status& status) override {
    absl::MutexLock l(&mu_);
    done_ = true;
    status_ = status;
  }
  absl::Status Wait(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    if (!done_) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "not replicated within %d ms", absl::ToInt64Milliseconds(timeout)));
    }
    return status_;
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

class ClusterTopicSource final : public co::TopicSource {
 public:
  ClusterTopicSource(TopicManager* topics, ClusterMember* cluster,
                     ReplicaManager* replicas)
      : local_(MakeTopicSource(topics)),
        topics_(topics),
        cluster_(cluster),
        replicas_(replicas) {}

  std::optional<int32_t> PartitionCount(std::string_view topic) const override {
    auto snap = cluster_->Snapshot();
    if (const cluster::TopicState* t = snap->topic(topic)) {
      return static_cast<int32_t>(t->partitions.size());
    }
    return std::nullopt;
  }
  std::shared_ptr<log::Log> PartitionLog(std::string_view topic,
                                         int32_t partition) const override {
    return local_->PartitionLog(topic, partition);
  }
  void Appended(std::string_view topic, int32_t partition) override {
    std::shared_ptr<Partition> p = topics_->GetPartition(topic, partition);
    if (p == nullptr) return;
    replicas_->Appended(*p);
    p->NotifyAppend();  // followers' parked fetches
  }
  absl::Status WaitReplicated(std::string_view topic, int32_t partition,
                              Offset end, absl::Duration timeout) override {
    std::shared_ptr<Partition> p = topics_->GetPartition(topic, partition);
    if (p == nullptr) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "no partition %d of %s here", partition, std::string(topic)));
    }
    auto waiter = std::make_shared<BlockingCommitWaiter>();
    // In a cluster the ReplicaManager moves the committed watermark to the
    // high watermark by itself: nothing to request.
    p->WaitForCommit(end, waiter);
    return waiter->Wait(timeout);
  }

 private:
  const std::unique_ptr<co::TopicSource> local_;
  TopicManager* const topics_;
  ClusterMember* const cluster_;
  ReplicaManager* const replicas_;
};

}  // namespace

std::unique_ptr<co::TopicSource> MakeClusterTopicSource(
    TopicManager* topics, ClusterMember* cluster, ReplicaManager* replicas) {
  return std::make_unique<ClusterTopicSource>(topics, cluster, replicas);
}

struct ClusterCoordinator::Creation {
  absl::Mutex mu;
  bool in_flight ABSL_GUARDED_BY(mu) = false;
  int64_t last_ms ABSL_GUARDED_BY(mu) = 0;
};

ClusterCoordinator::ClusterCoordinator(const BrokerConfig* config,
                                       TopicManager* topics,
                                       ClusterMember* cluster,
                                       ReplicaManager* replicas,
                                       log::Clock* clock)
    : config_(config),
      cluster_(cluster),
      replicas_(replicas),
      clock_(clock),
      creation_(std::make_shared<Creation>()),
      source_(MakeClusterTopicSource(topics, cluster, replicas)) {}

ClusterCoordinator::~ClusterCoordinator() { Stop(); }

void ClusterCoordinator::Start() {
  // Also every 100 ms: the ReplicaManager takes a new role on its own
  // thread, after the view that gave it.
  follower_.Start(cluster_->metadata(), absl::Milliseconds(100),
                  [this](bool) { Sync(); });
}

void ClusterCoordinator::Stop() { follower_.Stop(); }

void ClusterCoordinator::RequestOffsetsTopic() {
  if (cluster_->Snapshot()->topic(co::kOffsetsTopic) != nullptr) return;
  const int64_t now = clock_->NowMs();
  {
    absl::MutexLock l(&creation_->mu);
    if (creation_->in_flight || now - creation_->last_ms < 1000) return;
    creation_->in_flight = true;
    creation_->last_ms = now;
  }
  const co::CoordinatorOptions& o = config_->coordinator;
  const int32_t live =
      static_cast<int32_t>(cluster_->Snapshot()->brokers.size());
  const int32_t rf =
      std::max(1, std::min(o.offsets_topic_replication_factor, live));
  if (rf < o.offsets_topic_replication_factor) {
    spdlog::warn(
        "creating {} with replication factor {}: "
        "offsets.topic.replication.factor is {} but only {} brokers are live",
        co::kOffsetsTopic, rf, o.offsets_topic_replication_factor, live);
  }
  // Waits for the controller's answer: a refusal (say the controller saw
  // fewer live brokers than this view when it placed the topic) deletes
  // the refused request, so the next call asks again, with the then live
  // count. Submitting without waiting would leave a refused request in
  // place for as long as this broker's session lasts, and nobody would
  // create the topic.
  cluster_->CreateTopic(std::string(co::kOffsetsTopic),
                        o.offsets_topic_partitions, rf, OffsetsTopicConfigs(o),
                        absl::Seconds(10), [c = creation_](absl::Status s) {
                          if (!s.ok()) {
                            spdlog::warn("asking the controller for {}: {}",
                                         co::kOffsetsTopic, s.message());
                          }
                          absl::MutexLock l(&c->mu);
                          c->in_flight = false;
                        });
}

absl::StatusOr<CoordinatorLocation> ClusterCoordinator::LocatePartition(
    const cluster::ClusterSnapshot& s, int32_t p) const {
  const cluster::PartitionState* state = s.partition(co::kOffsetsTopic, p);
  if (state == nullptr) {
    return NotAvailable(
        absl::StrFormat("%s has no partition %d", co::kOffsetsTopic, p));
  }
  if (!cluster_->serving()) {
    return NotAvailable(
        "this broker is not serving (its cluster session is being "
        "re-established), so it cannot tell who coordinates");
  }
  const cluster::BrokerInfo* b =
      state->leader == cluster::kNoLeader ? nullptr : s.broker(state->leader);
  if (b == nullptr) {
    return NotAvailable(absl::StrFormat("partition %d of %s has no live leader",
                                        p, co::kOffsetsTopic));
  }
  return CoordinatorLocation{p, b->node_id, state->leader_epoch, b->kafka,
                             b->grpc};
}

absl::StatusOr<CoordinatorLocation> ClusterCoordinator::Locate(
    std::string_view group_id) {
  auto snap = cluster_->Snapshot();
  const cluster::TopicState* t = snap->topic(co::kOffsetsTopic);
  if (t == nullptr || t->partitions.empty()) {
    RequestOffsetsTopic();
    return NotAvailable(
        absl::StrFormat("%s is being created", co::kOffsetsTopic));
  }
  return LocatePartition(
      *snap, co::OffsetsPartitionFor(
                 group_id, static_cast<int32_t>(t->partitions.size())));
}

std::optional<std::string> ClusterCoordinator::RemoteOf(int32_t p) const {
  auto snap = cluster_->Snapshot();
  absl::StatusOr<CoordinatorLocation> at = LocatePartition(*snap, p);
  if (!at.ok()) return std::string();  // nobody: COORDINATOR_NOT_AVAILABLE
  if (at->node_id == cluster_->node_id()) return std::nullopt;
  return at->grpc.ToString();
}

void ClusterCoordinator::Sync() {
  auto snap = cluster_->Snapshot();
  const cluster::TopicState* t = snap->topic(co::kOffsetsTopic);
  if (t == nullptr || t->partitions.empty()) return;
  const int32_t partitions = static_cast<int32_t>(t->partitions.size());
  if (owned_ == nullptr) {
    auto opened = co::GroupCoordinator::OpenUnloaded(
        config_->coordinator, source_.get(), partitions, clock_,
        [this](int32_t p) { return RemoteOf(p); });
    if (!opened.ok()) {
      spdlog::error("group coordinator: {}", opened.status().message());
      return;
    }
    owned_ = std::move(*opened);
    coordinator_.store(owned_.get(), std::memory_order_release);
    spdlog::info("group coordinator: {} has {} partitions", co::kOffsetsTopic,
                 partitions);
  }
  co::GroupCoordinator& c = *owned_;
  for (int32_t p = 0; p < std::min(partitions, c.offsets_partitions()); p++) {
    const TopicPartition tp{std::string(co::kOffsetsTopic), p};
    std::optional<LeaderEpoch> epoch = replicas_->LeaderEpochOf(tp);
    const bool leads = epoch.has_value() && cluster_->Leads(tp, *epoch);
    const std::optional<int32_t> loaded = c.LoadedEpoch(p);
    if (leads && loaded != epoch->value()) {
      co::LoadReport report;
      absl::Status s = c.LoadPartition(p, epoch->value(), &report);
      if (s.ok()) {
        spdlog::info(
            "group coordinator: leading {}-{} at epoch {}: loaded {} groups, "
            "{} offsets from {} records in {} ms",
            co::kOffsetsTopic, p, epoch->value(), report.groups, report.offsets,
            report.records, report.elapsed_ms);
      } else {
        spdlog::error("group coordinator: loading {}-{}: {}", co::kOffsetsTopic,
                      p, s.message());
      }
    } else if (!leads && loaded.has_value()) {
      c.UnloadPartition(p);
      spdlog::info(
          "group coordinator: no longer leading {}-{}: unloaded its groups",
          co::kOffsetsTopic, p);
    }
  }
}

}  // namespace fjord::broker
