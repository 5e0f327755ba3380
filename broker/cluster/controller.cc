#include "broker/cluster/controller.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "broker/cluster/placement.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::cluster {

Controller::Controller(EtcdClient* etcd, const KeyLayout& keys,
                       MetadataCache* cache, BrokerSession* session,
                       ControllerOptions options)
    : etcd_(etcd),
      keys_(keys),
      cache_(cache),
      session_(session),
      options_(options) {}

Controller::~Controller() { Stop(); }

void Controller::Start() {
  {
    absl::MutexLock l(&mu_);
    changed_ = true;  // campaign at once, not after the first tick
  }
  listener_ = cache_->Subscribe([this](const auto&) {
    absl::MutexLock l(&mu_);
    changed_ = true;
  });
  thread_ = std::thread([this] { Run(); });
}

void Controller::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) {
    cache_->Unsubscribe(listener_);
    listener_ = -1;
  }
  active_ = false;
}

void Controller::Run() {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      auto wake = [this] { return stop_ || changed_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), options_.tick);
      if (stop_) return;
      changed_ = false;
    }
    Step(*cache_->Snapshot());
  }
}

void Controller::WarnThrottled(const std::string& message) {
  // While etcd is unreachable every tick fails the same way: say so once
  // every few seconds, not twice a second.
  const absl::Time now = absl::Now();
  if (now - last_warning_ < absl::Seconds(5)) {
    suppressed_warnings_++;
    return;
  }
  if (suppressed_warnings_ > 0) {
    spdlog::warn("{} (and {} similar warnings in the last {} s)", message,
                 suppressed_warnings_,
                 absl::ToInt64Seconds(now - last_warning_));
  } else {
    spdlog::warn("{}", message);
  }
  last_warning_ = now;
  suppressed_warnings_ = 0;
}

void Controller::Resign(std::string_view why) {
  if (!active_) return;
  spdlog::warn("node {}: no longer the controller (epoch {}): {}",
               session_->node_id(), epoch_.load(), why);
  active_ = false;
  epoch_ = 0;
  term_lease_ = 0;
}

void Controller::Step(const ClusterSnapshot& s) {
  if (!session_->alive()) {
    Resign("this broker's session is lost");
    return;
  }
  const int64_t lease = session_->lease_id();
  if (active_ && lease != term_lease_) {
    Resign("this broker's session has a new lease");
  }
  // A snapshot that already includes this term's election but shows another
  // (or no) controller means the term is over.
  if (active_ && s.revision >= epoch_ &&
      (!s.controller || s.controller->epoch != epoch_ ||
       s.controller->lease != term_lease_)) {
    Resign("the controller key was deleted or replaced");
  }
  if (!active_) Campaign(s);
  if (active_) Reconcile(s);
}

void Controller::Campaign(const ClusterSnapshot& s) {
  const int64_t lease = session_->lease_id();
  if (lease == 0) return;
  if (s.controller && s.controller->lease != lease) return;  // wait for it
  ControllerInfo me;
  me.node_id = session_->node_id();
  me.elected_at_ms = absl::ToUnixMillis(absl::Now());
  const std::string key = keys_.controller();
  auto txn =
      etcd_->Txn({Compare::Absent(key)},
                 {Op::Put(key, EncodeController(me), lease)}, {Op::Get(key)});
  if (!txn.ok()) {
    WarnThrottled(absl::StrFormat("node %d: controller election: %s",
                                  me.node_id, txn.status().message()));
    return;
  }
  int64_t epoch = 0;
  if (txn->succeeded) {
    epoch = txn->revision;
  } else if (!txn->reads.empty() && !txn->reads[0].kvs.empty() &&
             txn->reads[0].kvs[0].lease == lease) {
    epoch = txn->reads[0].kvs[0].create_revision;  // already ours
  } else {
    return;
  }
  epoch_ = epoch;
  term_lease_ = lease;
  active_ = true;
  terms_++;
  spdlog::info("node {}: elected controller (epoch {})", me.node_id, epoch);
}

bool Controller::GuardedTxn(std::vector<Compare> compares, std::vector<Op> ops,
                            std::string_view what) {
  // The term: the key this broker created, still bound to its lease (a
  // key deleted and re-created, or overwritten, fails the guard).
  compares.insert(compares.begin(),
                  {Compare::CreateRevision(keys_.controller(), epoch_),
                   {keys_.controller(),
                    Compare::Target::kLease,
                    Compare::Result::kEqual,
                    term_lease_,
                    {}}});
  auto txn = etcd_->Txn(compares, ops, {Op::Get(keys_.controller())});
  if (!txn.ok()) {
    WarnThrottled(
        absl::StrFormat("controller: %s: %s", what, txn.status().message()));
    return false;
  }
  if (txn->succeeded) return true;
  if (txn->reads.empty() || txn->reads[0].kvs.empty() ||
      txn->reads[0].kvs[0].create_revision != epoch_ ||
      txn->reads[0].kvs[0].lease != term_lease_) {
    Resign(absl::StrFormat("%s: the controller key is no longer this term's",
                           what));
  }
  // Otherwise the data changed since the snapshot; the next one retries.
  return false;
}

void Controller::Reconcile(const ClusterSnapshot& s) {
  // Decide only from a view that includes this term's election.
  if (s.revision < epoch_) return;
  const std::set<int32_t> live = s.live_broker_ids();
  for (const auto& [name, t] : s.topics) {
    auto changed =
        ReconcileTopic(*t, live, options_.unclean_leader_election, epoch_);
    if (!changed || !active_) continue;
    std::vector<Compare> guard{
        Compare::ModRevision(keys_.topic(name), t->mod_revision)};
    // A new leader must still be the registration it was seen as.
    std::set<int32_t> guarded;
    for (size_t i = 0; i < t->partitions.size(); i++) {
      const PartitionState& before = t->partitions[i];
      const PartitionState& after = changed->partitions[i];
      if (before == after) continue;
      spdlog::info(
          "controller: {}-{}: leader {} -> {} (leader epoch {}), isr [{}] -> "
          "[{}]",
          name, i, before.leader, after.leader, after.leader_epoch,
          absl::StrJoin(before.isr, ","), absl::StrJoin(after.isr, ","));
      if (after.leader != kNoLeader && after.leader != before.leader &&
          guarded.insert(after.leader).second) {
        guard.push_back(Compare::CreateRevision(
            keys_.broker(after.leader),
            s.brokers.at(after.leader).create_revision));
      }
    }
    GuardedTxn(std::move(guard),
               {Op::Put(keys_.topic(name), EncodeTopic(*changed))},
               absl::StrFormat("leader election for topic %s", name));
  }
  for (const auto& [name, r] : s.topic_requests) {
    if (!active_) return;
    if (r.error == TopicRequest::Error::kNone) HandleRequest(s, r);
  }
}

void Controller::Refuse(const TopicRequest& r, TopicRequest::Error error,
                        std::string message) {
  TopicRequest refused = r;
  refused.error = error;
  refused.error_message = std::move(message);
  spdlog::info("controller: refusing the request for topic {}: {}", r.name,
               refused.error_message);
  const std::string rkey = keys_.topic_request(r.name);
  GuardedTxn({Compare::ModRevision(rkey, r.mod_revision)},
             {Op::Put(rkey, EncodeTopicRequest(refused), r.lease)},
             absl::StrFormat("refusing the request for topic %s", r.name));
}

void Controller::HandleRequest(const ClusterSnapshot& s,
                               const TopicRequest& r) {
  const std::string key = keys_.topic(r.name);
  const std::string rkey = keys_.topic_request(r.name);
  if (r.operation == TopicRequest::Operation::kDelete) {
    if (s.topic(r.name) == nullptr) {
      Refuse(r, TopicRequest::Error::kUnknownTopic,
             absl::StrFormat("topic '%s' does not exist", r.name));
      return;
    }
    if (GuardedTxn({Compare::ModRevision(rkey, r.mod_revision)},
                   {Op::Delete(key), Op::Delete(rkey)},
                   absl::StrFormat("deleting topic %s", r.name))) {
      spdlog::info("controller: deleted topic {}", r.name);
    }
    return;
  }
  if (s.topic(r.name) != nullptr) {
    Refuse(r, TopicRequest::Error::kTopicAlreadyExists,
           absl::StrFormat("topic '%s' already exists", r.name));
    return;
  }
  if (r.partitions < 1) {
    Refuse(r, TopicRequest::Error::kInvalidPartitions,
           absl::StrFormat("number of partitions must be at least 1, got %d",
                           r.partitions));
    return;
  }
  std::vector<int32_t> brokers;
  for (const auto& [id, b] : s.brokers) brokers.push_back(id);
  const int32_t rf =
      r.replication_factor == -1
          ? DefaultReplicationFactor(options_.default_replication_factor,
                                     static_cast<int32_t>(brokers.size()))
          : r.replication_factor;
  int64_t placed = 0;
  for (const auto& [name, t] : s.topics) placed += t->partitions.size();
  // Each topic continues where the previous ones left off, so leaders
  // and followers stay balanced across topics.
  const int64_t n = std::max<int64_t>(1, brokers.size());
  auto assignment = AssignReplicas(
      brokers, r.partitions, rf,
      static_cast<int32_t>(placed % (n * std::max<int64_t>(1, n - 1))));
  if (!assignment.ok()) {
    Refuse(r, TopicRequest::Error::kInvalidReplicationFactor,
           std::string(assignment.status().message()));
    return;
  }
  TopicState t = NewTopic(r.name, r.configs, *assignment, epoch_);
  if (GuardedTxn(
          {Compare::Absent(key), Compare::ModRevision(rkey, r.mod_revision)},
          {Op::Put(key, EncodeTopic(t)), Op::Delete(rkey)},
          absl::StrFormat("creating topic %s", r.name))) {
    std::vector<std::string> parts;
    for (const auto& p : t.partitions) {
      parts.push_back(absl::StrFormat("[%s]", absl::StrJoin(p.replicas, ",")));
    }
    spdlog::info(
        "controller: created topic {} ({} partitions, replication factor "
        "{}): replicas {}",
        r.name, t.partitions.size(), rf, absl::StrJoin(parts, " "));
  }
}

}  // namespace fjord::cluster
