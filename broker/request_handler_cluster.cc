// RequestHandler in cluster mode: Metadata from the cluster's metadata
// cache (every live broker with its advertised address, each partition's
// leader, replicas and isr, LEADER_NOT_AVAILABLE where there is no live
// leader), CreateTopics and DeleteTopics through the controller.
#include <chrono>
#include <mutex>

#include "absl/strings/str_format.h"
#include "broker/cluster/placement.h"
#include "broker/cluster_member.h"
#include "broker/kafka/errors.h"
#include "broker/request_handler.h"
#include "log/file_names.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

using kafka::Reader;
using kafka::RequestHeader;
using kafka::ResponseFrame;

namespace {

// Longest a CreateTopics/DeleteTopics waits for the controller, whatever
// the request's timeout_ms says.
constexpr absl::Duration kMaxTopicWait = absl::Seconds(30);

// Starts `start(done)` and waits, without blocking the thread, until
// `done` is called or `timeout` passes (then kDeadlineExceeded). `done` may
// run on any thread, and later than the wait (after a timeout, or once the
// io_context is gone): it owns only the mailbox, never an Asio object, and
// wakes the timer only while the waiting coroutine still exists, through
// a handler posted to the coroutine's executor, which checks again. A result
// that races with the wait is never lost: it is checked before each wait.
asio::awaitable<absl::Status> AwaitDone(
    const std::function<void(ClusterMember::Done)>& start,
    absl::Duration timeout) {
  struct Mailbox {
    std::mutex mu;
    std::optional<absl::Status> result;
    asio::steady_timer* timer = nullptr;  // null once the waiter is gone
  };
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto mb = std::make_shared<Mailbox>();
  mb->timer = &timer;
  struct Detach {
    Mailbox* mb;
    ~Detach() {
      std::lock_guard<std::mutex> l(mb->mu);
      mb->timer = nullptr;
    }
  } detach{mb.get()};
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
  start([mb](absl::Status s) {
    std::lock_guard<std::mutex> l(mb->mu);
    mb->result = std::move(s);
    if (mb->timer == nullptr) return;
    asio::post(mb->timer->get_executor(), [mb] {
      std::lock_guard<std::mutex> l(mb->mu);
      if (mb->timer != nullptr) mb->timer->cancel();
    });
  });
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mb->mu);
      if (mb->result) co_return *mb->result;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return absl::DeadlineExceededError("timed out");
    }
    timer.expires_at(deadline);
    std::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

absl::Duration TopicWait(int32_t timeout_ms) {
  return std::min(absl::Milliseconds(std::max(0, timeout_ms)), kMaxTopicWait);
}

}  // namespace

int16_t RequestHandler::ClusterTopicError(std::string_view name,
                                          bool allow_create) {
  auto snap = cluster_->Snapshot();
  if (const cluster::TopicState* t = snap->topic(name)) {
    for (const auto& p : t->partitions) {
      if (std::find(p.replicas.begin(), p.replicas.end(),
                    cluster_->node_id()) != p.replicas.end()) {
        return kafka::kLeaderNotAvailable;  // its local logs are on the way
      }
    }
    return kafka::kNotLeaderOrFollower;
  }
  if (!allow_create || !config_->auto_create_topics) {
    return kafka::kUnknownTopicOrPartition;
  }
  // As Kafka does: creation starts, and the client retries until the topic
  // has leaders.
  cluster_->CreateTopic(
      std::string(name), config_->num_partitions, -1, {}, absl::ZeroDuration(),
      [n = std::string(name)](absl::Status s) {
        if (!s.ok()) {
          spdlog::warn("auto-creating topic {}: {}", n, s.message());
        }
      });
  return kafka::kLeaderNotAvailable;
}

int16_t RequestHandler::ClusterPartitionError(std::string_view topic,
                                              int32_t partition) {
  auto snap = cluster_->Snapshot();
  const cluster::PartitionState* p = snap->partition(topic, partition);
  if (p == nullptr) return kafka::kUnknownTopicOrPartition;
  if (p->leader == cluster::kNoLeader) return kafka::kLeaderNotAvailable;
  return kafka::kNotLeaderOrFollower;
}

RequestHandler::Frame RequestHandler::HandleClusterMetadata(
    const RequestHeader& h, const kafka::MetadataRequest& req) {
  auto snap = cluster_->Snapshot();
  // A broker whose registration is not known to be in etcd may have been
  // declared dead: it reports no leaders rather than stale ones.
  const bool serving = cluster_->serving();
  kafka::MetadataResponse resp;
  for (const auto& [id, b] : snap->brokers) {
    resp.brokers.push_back({id, b.kafka.host, b.kafka.port});
  }
  resp.cluster_id = config_->cluster_id;
  resp.controller_id = snap->controller ? snap->controller->node_id : -1;
  auto describe = [&](const cluster::TopicState& t) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    rt.is_internal = t.name.rfind("__", 0) == 0;
    for (const cluster::PartitionState& p : t.partitions) {
      int32_t leader = p.leader;
      // A leader whose registration is gone is no leader a client can use.
      if (!serving || snap->broker(leader) == nullptr) {
        leader = cluster::kNoLeader;
      }
      rt.partitions.push_back({leader == cluster::kNoLeader
                                   ? int16_t{kafka::kLeaderNotAvailable}
                                   : int16_t{kafka::kNone},
                               p.partition, leader, p.replicas, p.isr});
    }
  };
  if (!req.topics) {
    for (const auto& [name, t] : snap->topics) describe(*t);
  } else {
    for (std::string_view name : *req.topics) {
      if (const cluster::TopicState* t = snap->topic(name)) {
        describe(*t);
        continue;
      }
      auto& rt = resp.topics.emplace_back();
      rt.name = std::string(name);
      rt.error = log::IsValidTopicName(name)
                     ? ClusterTopicError(name, req.allow_auto_topic_creation)
                     : int16_t{kafka::kInvalidTopic};
      // Not ours to name: the topic does not exist in the cluster yet.
      if (rt.error == kafka::kNotLeaderOrFollower) {
        rt.error = kafka::kLeaderNotAvailable;
      }
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::Encode(*f, h.api_version, resp);
  return f;
}

asio::awaitable<RequestHandler::Frame>
RequestHandler::HandleClusterCreateTopics(const RequestHeader& h, Reader& r) {
  kafka::CreateTopicsRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) co_return nullptr;
  std::vector<kafka::TopicResult> results;
  for (const auto& t : req.topics) {
    auto& res = results.emplace_back();
    res.name = std::string(t.name);
    auto fail = [&](int16_t code, std::string message) {
      res.error = code;
      res.message = std::move(message);
    };
    if (!log::IsValidTopicName(t.name)) {
      fail(kafka::kInvalidTopic,
           absl::StrFormat("invalid topic name '%s'", t.name));
      continue;
    }
    if (t.has_assignments) {
      fail(kafka::kInvalidRequest,
           "manual replica assignments are not supported; the controller "
           "places replicas");
      continue;
    }
    const int32_t partitions =
        t.num_partitions == -1 ? config_->num_partitions : t.num_partitions;
    if (partitions < 1 || partitions > 100000) {
      fail(kafka::kInvalidPartitions,
           absl::StrFormat("number of partitions must be in [1, 100000], "
                           "got %d",
                           partitions));
      continue;
    }
    auto snap = cluster_->Snapshot();
    const int32_t live = static_cast<int32_t>(snap->brokers.size());
    if (t.replication_factor != -1 &&
        (t.replication_factor < 1 || t.replication_factor > live)) {
      fail(kafka::kInvalidReplicationFactor,
           t.replication_factor < 1
               ? absl::StrFormat("replication factor must be at least 1, "
                                 "got %d",
                                 t.replication_factor)
               : absl::StrFormat(
                     "replication factor %d is larger than the %d live "
                     "broker%s",
                     t.replication_factor, live, live == 1 ? "" : "s"));
      continue;
    }
    std::map<std::string, std::string> configs;
    log::LogConfig effective = config_->log_defaults;
    absl::Status config_status;
    for (const auto& c : t.configs) {
      if (!c.value) continue;
      configs[std::string(c.name)] = std::string(*c.value);
      if (config_status.ok()) {
        config_status = effective.Set(c.name, *c.value);
      }
    }
    if (config_status.ok()) config_status = effective.Validate();
    if (!config_status.ok()) {
      fail(kafka::kInvalidConfig, std::string(config_status.message()));
      continue;
    }
    if (snap->topic(t.name) != nullptr) {
      fail(kafka::kTopicAlreadyExists,
           absl::StrFormat("topic '%s' already exists", t.name));
      continue;
    }
    if (req.validate_only) continue;
    const absl::Duration wait = TopicWait(req.timeout_ms);
    absl::Status s = co_await AwaitDone(
        [&](ClusterMember::Done done) {
          cluster_->CreateTopic(std::string(t.name), partitions,
                                t.replication_factor, configs, wait,
                                std::move(done));
        },
        wait + absl::Seconds(5));
    if (s.ok()) continue;
    if (absl::IsAlreadyExists(s) || absl::IsFailedPrecondition(s)) {
      fail(kafka::kTopicAlreadyExists, std::string(s.message()));
    } else if (absl::IsInvalidArgument(s)) {
      fail(kafka::kInvalidReplicationFactor, std::string(s.message()));
    } else if (absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) {
      fail(kafka::kRequestTimedOut, std::string(s.message()));
    } else {
      fail(kafka::kUnknownServerError, std::string(s.message()));
    }
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::EncodeCreateTopicsResponse(*f, h.api_version, results);
  co_return f;
}

asio::awaitable<RequestHandler::Frame>
RequestHandler::HandleClusterDeleteTopics(const RequestHeader& h, Reader& r) {
  kafka::DeleteTopicsRequest req;
  if (!kafka::Decode(r, h.api_version, &req)) co_return nullptr;
  std::vector<kafka::TopicResult> results;
  for (std::string_view name : req.topics) {
    auto& res = results.emplace_back();
    res.name = std::string(name);
    if (cluster_->Snapshot()->topic(name) == nullptr) {
      res.error = kafka::kUnknownTopicOrPartition;
      continue;
    }
    const absl::Duration wait = TopicWait(req.timeout_ms);
    absl::Status s = co_await AwaitDone(
        [&](ClusterMember::Done done) {
          cluster_->DeleteTopic(std::string(name), wait, std::move(done));
        },
        wait + absl::Seconds(5));
    if (s.ok()) continue;
    if (absl::IsNotFound(s)) {
      res.error = kafka::kUnknownTopicOrPartition;
    } else if (absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) {
      res.error = kafka::kRequestTimedOut;
    } else {
      res.error = kafka::kUnknownServerError;
    }
    spdlog::warn("deleting topic {}: {}", name, s.message());
  }
  auto f = std::make_unique<ResponseFrame>(h.correlation_id);
  kafka::EncodeDeleteTopicsResponse(*f, h.api_version, results);
  co_return f;
}

}  // namespace fjord::broker
