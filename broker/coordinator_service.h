// CoordinatorService: the broker's consumer group coordinator, served as
// fjord.coordinator.v1.Coordinator (proto/coordinator.proto) over gRPC. It
// owns the transport-independent coordinator::GroupCoordinator and its view
// of the broker's topics, creates the internal topic __consumer_offsets at
// start if it is missing, and translates between the protos and the
// coordinator (errors through ToGrpcStatus). Registered on the broker's
// GrpcServer next to AdminService. In cluster mode the coordinator and
// __consumer_offsets belong to a ClusterCoordinator (cluster_coordinator.h)
// and FindCoordinator names the leader of the group's partition.
//
// Thread-safe: gRPC calls the service from its own threads, concurrently.
#ifndef FJORD_BROKER_COORDINATOR_SERVICE_H_
#define FJORD_BROKER_COORDINATOR_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "broker/broker_config.h"
#include "broker/cluster_coordinator.h"
#include "broker/coordinator/group_coordinator.h"
#include "broker/coordinator/topic_source.h"
#include "broker/grpc_server.h"
#include "broker/topic_manager.h"
#include "log/clock.h"

namespace fjord::broker {

class CoordinatorService {
 public:
  // Creates __consumer_offsets if missing (cleanup.policy=compact,
  // offsets.topic.num.partitions partitions, offsets.topic.segment.bytes
  // segments, not preallocated), then opens the coordinator, which replays
  // it. `config`, `topics`, `server` (asked for the gRPC port) and `clock`
  // must outlive the service. `report`, if given, receives what the replay
  // found.
  static absl::StatusOr<std::unique_ptr<CoordinatorService>> Open(
      const BrokerConfig* config, TopicManager* topics,
      const GrpcServer* server, log::Clock* clock = log::SystemClock::Get(),
      coordinator::LoadReport* report = nullptr);
  // Cluster mode: serves `cluster`'s coordinator (COORDINATOR_NOT_AVAILABLE
  // until __consumer_offsets exists). All pointers must outlive the
  // service.
  static std::unique_ptr<CoordinatorService> OpenCluster(
      const BrokerConfig* config, const GrpcServer* server,
      ClusterCoordinator* cluster);
  CoordinatorService(const CoordinatorService&) = delete;
  CoordinatorService& operator=(const CoordinatorService&) = delete;
  ~CoordinatorService();

  // To register on the GrpcServer.
  grpc::Service* service();
  // nullptr in a cluster until __consumer_offsets exists.
  coordinator::GroupCoordinator* coordinator();
  // The coordinator's counters (zero while there is none).
  coordinator::CoordinatorStats Stats() const;

 private:
  class Impl;
  explicit CoordinatorService(std::unique_ptr<Impl> impl);
  const std::unique_ptr<Impl> impl_;
};

// The coordinator's view of a TopicManager. `topics` must outlive it.
std::unique_ptr<coordinator::TopicSource> MakeTopicSource(TopicManager* topics);

// The topic configs of __consumer_offsets (compacted, segments of
// offsets.topic.segment.bytes with indexes sized for them, not
// preallocated).
std::map<std::string, std::string> OffsetsTopicConfigs(
    const coordinator::CoordinatorOptions& options);

// Creates __consumer_offsets in `topics` if it is missing, with `options`;
// an existing topic keeps its partition count (a warning names a configured
// count that differs). Returns its partition count.
absl::StatusOr<int32_t> EnsureOffsetsTopic(
    TopicManager* topics, const coordinator::CoordinatorOptions& options);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_COORDINATOR_SERVICE_H_
