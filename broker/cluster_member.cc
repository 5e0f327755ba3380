#include "broker/cluster_member.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "broker/cluster/producer_id_blocks.h"
#include "broker/cluster/topic_requests.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace {

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string AbsoluteDir(const std::string& dir) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(dir, ec);
  return ec ? dir : abs.lexically_normal().string();
}

cluster::ControllerOptions ControllerOptionsFor(const BrokerConfig& config) {
  cluster::ControllerOptions o;
  o.default_replication_factor = config.cluster.default_replication_factor;
  o.unclean_leader_election = config.cluster.unclean_leader_election;
  return o;
}

}  // namespace

ClusterMember::ClusterMember(const BrokerConfig& config)
    : node_id_(config.node_id),
      data_dir_(AbsoluteDir(config.data_dir)),
      keys_(config.cluster_id),
      controller_options_(ControllerOptionsFor(config)),
      session_ttl_seconds_((config.cluster.session_timeout_ms + 999) / 1000) {}

ClusterMember::~ClusterMember() { Leave(); }

absl::StatusOr<std::unique_ptr<ClusterMember>> ClusterMember::Connect(
    const BrokerConfig& config) {
  if (!config.cluster.enabled()) {
    return absl::FailedPreconditionError(
        "cluster mode needs metadata.etcd.endpoints");
  }
  RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<ClusterMember> m(new ClusterMember(config));
  cluster::EtcdOptions o;
  o.endpoints = config.cluster.etcd_endpoints;
  o.connect_timeout =
      absl::Milliseconds(config.cluster.etcd_connect_timeout_ms);
  o.request_timeout =
      absl::Milliseconds(config.cluster.etcd_request_timeout_ms);
  ASSIGN_OR_RETURN(m->etcd_, cluster::EtcdClient::Connect(o));
  ASSIGN_OR_RETURN(m->cache_,
                   cluster::MetadataCache::Start(m->etcd_.get(), m->keys_));
  m->jobs_thread_ = std::thread([p = m.get()] { p->RunJobs(); });
  return m;
}

absl::Status ClusterMember::Join(
    const HostPort& kafka, const HostPort& grpc, TopicManager* topics,
    std::function<void(const absl::Status&)> on_fatal) {
  cluster::SessionOptions so;
  so.self.node_id = node_id_;
  so.self.kafka = {kafka.host, kafka.port};
  so.self.grpc = {grpc.host, grpc.port};
  so.self.hostname = Hostname();
  so.self.data_dir = data_dir_;
  so.self.pid = static_cast<int32_t>(getpid());
  so.ttl_seconds = session_ttl_seconds_;
  // A registration of this node id held by someone else may be a broker
  // that just died: give its lease time to run out before refusing.
  so.takeover_wait = absl::Seconds(session_ttl_seconds_) + absl::Seconds(1);
  ASSIGN_OR_RETURN(session_, cluster::BrokerSession::Register(
                                 etcd_.get(), keys_, so, std::move(on_fatal)));
  // The broker serves once its view has its own registration (serving()):
  // wait for the watch to deliver it, so that it serves once it has joined.
  const int64_t registered = session_->registration_revision();
  if (cache_->WaitFor(
          [registered](const cluster::ClusterSnapshot& s) {
            return s.revision >= registered;
          },
          absl::Seconds(5)) == nullptr) {
    spdlog::warn(
        "node {}: the metadata view has not reached the registration "
        "(revision {}) yet; serving once it has",
        node_id_, registered);
  }
  controller_ = std::make_unique<cluster::Controller>(
      etcd_.get(), keys_, cache_.get(), session_.get(), controller_options_);
  controller_->Start();
  topics_ = topics;
  listener_ = cache_->Subscribe([this](const auto&) {
    absl::MutexLock l(&mu_);
    sync_needed_ = true;
  });
  {
    absl::MutexLock l(&mu_);
    sync_needed_ = true;
  }
  sync_thread_ = std::thread([this] { RunReplicaSync(); });
  return absl::OkStatus();
}

void ClusterMember::Leave() {
  {
    absl::MutexLock l(&mu_);
    if (left_) return;
    left_ = true;
    stop_ = true;
  }
  if (controller_) controller_->Stop();
  if (session_) session_->Close();
  if (listener_ >= 0) cache_->Unsubscribe(listener_);
  if (jobs_thread_.joinable()) jobs_thread_.join();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (cache_) cache_->Stop();
}

namespace {

// `session`'s registration is live and `view` is at least as new as it.
bool ServingWith(const cluster::BrokerSession* session,
                 const cluster::ClusterSnapshot& view) {
  if (session == nullptr) return false;
  // Read before alive(): 0 once the session is lost.
  const int64_t registered = session->registration_revision();
  return registered > 0 && session->alive() && view.revision >= registered;
}

}  // namespace

bool ClusterMember::serving() const {
  return ServingWith(session_.get(), *cache_->Snapshot());
}

bool ClusterMember::Leads(const TopicPartition& tp,
                          LeaderEpoch leader_epoch) const {
  const std::shared_ptr<const cluster::ClusterSnapshot> view =
      cache_->Snapshot();
  if (!ServingWith(session_.get(), *view)) return false;
  const cluster::PartitionState* p = view->partition(tp.topic, tp.partition);
  return p != nullptr && p->leader == node_id_ &&
         LeaderEpoch(p->leader_epoch) == leader_epoch;
}

bool ClusterMember::is_controller() const {
  return controller_ != nullptr && controller_->active();
}

void ClusterMember::CreateTopic(std::string name, int32_t partitions,
                                int32_t replication_factor,
                                std::map<std::string, std::string> configs,
                                absl::Duration wait, Done done) {
  cluster::TopicRequest r;
  r.name = std::move(name);
  r.operation = cluster::TopicRequest::Operation::kCreate;
  r.partitions = partitions;
  r.replication_factor = replication_factor;
  r.configs = std::move(configs);
  r.requested_by = node_id_;
  absl::MutexLock l(&mu_);
  jobs_.push_back([this, r = std::move(r), wait, done = std::move(done)] {
    const int64_t lease =
        session_ != nullptr && session_->alive() ? session_->lease_id() : 0;
    if (lease == 0) {
      done(absl::UnavailableError(
          "this broker is not registered in etcd (its session is lost)"));
      return;
    }
    absl::Status s = SubmitTopicRequest(etcd_.get(), keys_, r, lease);
    if (wait <= absl::ZeroDuration()) {
      done(s.ok() || absl::IsAlreadyExists(s) || absl::IsFailedPrecondition(s)
               ? absl::OkStatus()
               : s);
      return;
    }
    if (!s.ok()) {
      done(s);
      return;
    }
    done(AwaitTopicRequest(etcd_.get(), keys_, cache_.get(), r.name,
                           r.operation, wait));
  });
}

void ClusterMember::DeleteTopic(std::string name, absl::Duration wait,
                                Done done) {
  cluster::TopicRequest r;
  r.name = std::move(name);
  r.operation = cluster::TopicRequest::Operation::kDelete;
  r.requested_by = node_id_;
  absl::MutexLock l(&mu_);
  jobs_.push_back([this, r = std::move(r), wait, done = std::move(done)] {
    const int64_t lease =
        session_ != nullptr && session_->alive() ? session_->lease_id() : 0;
    if (lease == 0) {
      done(absl::UnavailableError(
          "this broker is not registered in etcd (its session is lost)"));
      return;
    }
    absl::Status s = SubmitTopicRequest(etcd_.get(), keys_, r, lease);
    if (!s.ok() || wait <= absl::ZeroDuration()) {
      done(s);
      return;
    }
    done(AwaitTopicRequest(etcd_.get(), keys_, cache_.get(), r.name,
                           r.operation, wait));
  });
}

absl::StatusOr<std::pair<int64_t, int64_t>> ClusterMember::ReserveProducerIds(
    int64_t size) {
  ASSIGN_OR_RETURN(
      cluster::ProducerIdBlock block,
      cluster::ReserveProducerIdBlock(etcd_.get(), keys_, node_id_, size));
  return std::make_pair(block.first, block.end);
}

absl::StatusOr<int64_t> ClusterMember::AlterIsr(const TopicPartition& tp,
                                                int32_t leader_epoch,
                                                std::vector<int32_t> isr) {
  auto snap = cache_->Snapshot();
  const cluster::TopicState* t = snap->topic(tp.topic);
  const cluster::PartitionState* p = snap->partition(tp.topic, tp.partition);
  if (t == nullptr || p == nullptr) {
    return absl::NotFoundError(
        absl::StrFormat("no partition %s in the cluster", tp.ToString()));
  }
  if (p->leader != node_id_ || p->leader_epoch != leader_epoch) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: led by %d at epoch %d, not by this broker (%d) at epoch %d",
        tp.ToString(), p->leader, p->leader_epoch, node_id_, leader_epoch));
  }
  const int64_t lease =
      session_ != nullptr && session_->alive() ? session_->lease_id() : 0;
  if (lease == 0) {
    return absl::UnavailableError(
        "this broker is not registered in etcd (its session is lost)");
  }
  cluster::TopicState next = *t;
  next.partitions[tp.partition].isr = std::move(isr);
  if (absl::Status v =
          cluster::ValidatePartition(next.partitions[tp.partition]);
      !v.ok()) {
    return v;
  }
  // Guarded as the controller's writes are: by the topic as it was seen
  // (a decision on a stale snapshot fails) and by this broker's own
  // registration still being under its lease (a broker etcd already
  // declared dead cannot change an isr).
  const std::string key = keys_.topic(tp.topic);
  auto txn =
      etcd_->Txn({cluster::Compare::ModRevision(key, t->mod_revision),
                  {keys_.broker(node_id_),
                   cluster::Compare::Target::kLease,
                   cluster::Compare::Result::kEqual,
                   lease,
                   {}}},
                 {cluster::Op::Put(key, cluster::EncodeTopic(next))}, {});
  if (!txn.ok()) return txn.status();
  if (!txn->succeeded) {
    return absl::AbortedError(absl::StrFormat(
        "%s: the topic changed since revision %d (or this broker's "
        "registration did)",
        tp.ToString(), t->mod_revision));
  }
  return txn->revision;
}

void ClusterMember::RunJobs() {
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this] { return stop_ || !jobs_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
      if (stop_) {
        // Answer what is queued without doing it.
        jobs_.clear();
      }
    }
    job();
  }
}

void ClusterMember::RunReplicaSync() {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      auto wake = [this] { return stop_ || sync_needed_; };
      // Also retried every second, in case creating a log failed.
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Seconds(1));
      if (stop_) return;
      sync_needed_ = false;
    }
    SyncLocalTopics(*cache_->Snapshot());
  }
}

void ClusterMember::SyncLocalTopics(const cluster::ClusterSnapshot& s) {
  for (const auto& [name, t] : s.topics) {
    std::set<int32_t> here;
    for (const auto& p : t->partitions) {
      if (std::find(p.replicas.begin(), p.replicas.end(), node_id_) !=
          p.replicas.end()) {
        here.insert(p.partition);
      }
    }
    if (here.empty()) continue;
    seen_topics_.insert(name);
    auto local = topics_->Get(name);
    if (local) {
      if (local->partitions != static_cast<int32_t>(t->partitions.size())) {
        spdlog::warn(
            "cluster topic {} has {} partitions but its local copy {}; the "
            "local copy is kept as is",
            name, t->partitions.size(), local->partitions);
      }
      continue;
    }
    // Logs only for the partitions with a replica here.
    auto created =
        topics_->Create(name, static_cast<int32_t>(t->partitions.size()),
                        t->configs, false, here);
    if (created.ok()) {
      spdlog::info(
          "cluster topic {}: created the logs of its partitions "
          "[{}] here",
          name, absl::StrJoin(here, ","));
    } else if (!absl::IsAlreadyExists(created.status())) {
      spdlog::error("cluster topic {}: cannot create its local logs: {}", name,
                    created.status().message());
    }
  }
  for (auto it = seen_topics_.begin(); it != seen_topics_.end();) {
    if (s.topic(*it) != nullptr) {
      ++it;
      continue;
    }
    absl::Status d = topics_->Delete(*it);
    if (d.ok()) {
      spdlog::info("cluster topic {} was deleted: removed its local logs", *it);
    } else if (!absl::IsNotFound(d)) {
      spdlog::error("cluster topic {} was deleted; removing its logs: {}", *it,
                    d.message());
      ++it;
      continue;
    }
    it = seen_topics_.erase(it);
  }
}

}  // namespace fjord::broker
