// RequestHandler: decodes one Kafka request frame, does what it asks against
// the topics and logs, and encodes the response. Transport-agnostic but for
// the two requests that park on an Asio timer of the calling coroutine's
// executor (the connection's io thread): the long-poll Fetch, until data
// arrives or MaxWaitTime passes, and the acks=all Produce, until its
// partitions' committed watermarks cover it (group commit) or its timeout
// passes. Thread-safe: connections call it concurrently.
#ifndef FJORD_BROKER_REQUEST_HANDLER_H_
#define FJORD_BROKER_REQUEST_HANDLER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <span>

#include "absl/status/statusor.h"
#include "asio.hpp"
#include "broker/broker_config.h"
#include "broker/kafka/messages.h"
#include "broker/metrics.h"
#include "broker/partition.h"
#include "broker/producer_ids.h"
#include "broker/topic_manager.h"

namespace fjord::broker {

class ClusterMember;
class ReplicaManager;
class ClusterCoordinator;

struct HandledRequest {
  int16_t api_key = -1;
  int16_t api_version = -1;
  // nullopt: no response (Produce with acks=0).
  std::unique_ptr<kafka::ResponseFrame> response;
};

class RequestHandler {
 public:
  // All pointers must outlive the handler; `metrics` may be null.
  // `commits` moves partitions' committed watermarks for acks=all
  // (broker/partition.h; the broker's GroupCommitter); null: a
  // GroupCommitter of the handler's own, with one thread.
  RequestHandler(const BrokerConfig* config, TopicManager* topics,
                 ProducerIdAllocator* producer_ids, Metrics* metrics = nullptr,
                 CommitDriver* commits = nullptr);
  ~RequestHandler();

  // kInvalidArgument for a frame that cannot be decoded: the caller closes
  // the connection. The frame is modified in place (batches are stamped with
  // their offsets) and must stay alive until the call returns.
  asio::awaitable<absl::StatusOr<HandledRequest>> Handle(
      std::span<uint8_t> frame);

  // Wakes parked fetches and makes later ones return at once (shutdown).
  void Shutdown() { shutting_down_ = true; }

  // Cluster mode: Metadata, CreateTopics and DeleteTopics are answered from
  // and through the cluster (request_handler_cluster.cc), and topics are
  // never created locally on their own. `member` must outlive the handler;
  // set it before serving.
  void SetCluster(ClusterMember* member) { cluster_ = member; }
  // Cluster mode: the data path follows leadership (broker/replica_manager.h):
  // Produce and consumers' Fetch and ListOffsets only on the leader,
  // consumers read up to the high watermark, acks=all waits for the
  // in-sync replicas, followers' Fetch feeds the leader's bookkeeping.
  // `replicas` must outlive the handler; set it before serving.
  void SetReplication(ReplicaManager* replicas) { replicas_ = replicas; }
  // Cluster mode: FindCoordinator names the leader of the group's partition
  // of __consumer_offsets. `coordinator` must outlive the handler; set it
  // before serving.
  void SetGroupCoordinator(ClusterCoordinator* coordinator) {
    group_coordinator_ = coordinator;
  }

 private:
  using Frame = std::unique_ptr<kafka::ResponseFrame>;
  // acks=all: appends, then waits (without blocking the thread) until
  // every appended partition's committed watermark covers its batches
  // (single node: flushed by group commit; in a cluster: held by the
  // in-sync replicas, the watermark driven by the ReplicaManager), or the
  // request's timeout passes (REQUEST_TIMED_OUT).
  asio::awaitable<Frame> HandleProduce(const kafka::RequestHeader& h,
                                       kafka::Reader& r, bool* no_response);
  asio::awaitable<Frame> HandleFetch(const kafka::RequestHeader& h,
                                     kafka::Reader& r);
  Frame HandleListOffsets(const kafka::RequestHeader& h, kafka::Reader& r);
  Frame HandleMetadata(const kafka::RequestHeader& h, kafka::Reader& r);
  Frame HandleCreateTopics(const kafka::RequestHeader& h, kafka::Reader& r);
  Frame HandleDeleteTopics(const kafka::RequestHeader& h, kafka::Reader& r);
  Frame HandleInitProducerId(const kafka::RequestHeader& h, kafka::Reader& r);
  Frame HandleFindCoordinator(const kafka::RequestHeader& h, kafka::Reader& r);
  Frame HandleOffsetForLeaderEpoch(const kafka::RequestHeader& h,
                                   kafka::Reader& r);

  // The topic, auto-created if allowed; kafka error code otherwise.
  std::optional<TopicInfo> FindOrCreateTopic(std::string_view name,
                                             bool allow_create, int16_t* error);

  // Cluster mode (request_handler_cluster.cc).
  Frame HandleClusterMetadata(const kafka::RequestHeader& h,
                              const kafka::MetadataRequest& req);
  asio::awaitable<Frame> HandleClusterCreateTopics(
      const kafka::RequestHeader& h, kafka::Reader& r);
  asio::awaitable<Frame> HandleClusterDeleteTopics(
      const kafka::RequestHeader& h, kafka::Reader& r);
  // For a topic with no local logs: the error to answer with, asking the
  // controller to create it if `allow_create` and auto-creation is on.
  int16_t ClusterTopicError(std::string_view name, bool allow_create);
  // For a partition of a known topic with no local log: LEADER_NOT_AVAILABLE
  // if it has no leader, else NOT_LEADER_OR_FOLLOWER (it is led elsewhere);
  // UNKNOWN_TOPIC_OR_PARTITION if the cluster has no such partition.
  int16_t ClusterPartitionError(std::string_view topic, int32_t partition);

  const BrokerConfig* const config_;
  TopicManager* const topics_;
  ProducerIdAllocator* const producer_ids_;
  Metrics* const metrics_;
  ClusterMember* cluster_ = nullptr;
  std::unique_ptr<CommitDriver> own_commits_;
  CommitDriver* const commits_;
  ReplicaManager* replicas_ = nullptr;
  ClusterCoordinator* group_coordinator_ = nullptr;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_REQUEST_HANDLER_H_
