// NetworkClient: the one network thread of a client (an Asio io_context run
// by a thread of its own), its connections to brokers by node id, and the
// cluster metadata (brokers, topics, partition leaders) it keeps current.
// Producer and Consumer each own one and do all their network work on its
// thread.
//
// Thread safety: Start, Stop, Post and OnIoThread may be called from any
// thread; everything else only on the io thread (from a posted function or
// a handler), and the listener runs there.
#ifndef FJORD_CLIENT_INTERNAL_NETWORK_CLIENT_H_
#define FJORD_CLIENT_INTERNAL_NETWORK_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "asio.hpp"
#include "client/internal/backoff.h"
#include "client/internal/config.h"
#include "client/internal/connection.h"

namespace fjord::client::internal {

struct PartitionMetadata {
  int32_t leader = -1;
  int16_t error = 0;
};
struct TopicMetadata {
  int16_t error = 0;  // UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC, ...
  std::vector<PartitionMetadata> partitions;
};

struct ClusterMetadata {
  absl::flat_hash_map<int32_t, HostPort> brokers;
  absl::flat_hash_map<std::string, TopicMetadata> topics;
  // Bumped by every metadata response.
  uint64_t version = 0;
};

class NetworkClient {
 public:
  NetworkClient(CommonConfig config, int max_in_flight,
                bool allow_auto_topic_creation);
  NetworkClient(const NetworkClient&) = delete;
  NetworkClient& operator=(const NetworkClient&) = delete;
  ~NetworkClient();

  // Called on the io thread whenever metadata changes or a connection
  // becomes ready or fails. Set before Start.
  void SetListener(std::function<void()> listener) {
    listener_ = std::move(listener);
  }
  void Start();
  // Closes every connection (failing what is outstanding) and joins the
  // thread. Idempotent. Not from the io thread.
  void Stop();
  void Post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }
  bool OnIoThread() const {
    return std::this_thread::get_id() == thread_.get_id();
  }
  asio::io_context& io() { return io_; }
  const CommonConfig& config() const { return config_; }

  // ------------------------------------------------------ io thread only
  // A ready connection to `node_id`, or nullptr after starting to connect
  // (unless a reconnect backoff is running).
  Connection* Ready(int32_t node_id);
  // Any ready connection (brokers before bootstrap servers), or nullptr
  // after starting to connect somewhere.
  Connection* AnyReady();
  const ClusterMetadata& metadata() const { return metadata_; }
  // Topics whose metadata to keep; adding one asks for an update.
  void AddTopic(const std::string& topic);
  void RemoveTopic(const std::string& topic);
  // Asks for a metadata update soon (no sooner than retry.backoff.ms after
  // the previous one).
  void RequestMetadataUpdate();
  // The last connection or metadata error, for messages to the caller.
  const absl::Status& last_error() const { return last_error_; }
  // True once any metadata response has arrived.
  bool has_metadata() const { return metadata_.version > 0; }

 private:
  struct Node {
    std::shared_ptr<Connection> connection;
    int failures = 0;
    int64_t retry_at_ms = 0;
  };
  void Connect(int32_t node_id, const HostPort& address, Node* node);
  void MaybeUpdateMetadata();
  void OnMetadata(const kafka::MetadataResponse& resp);
  void ScheduleTick(int64_t at_ms);
  void Notify() {
    if (listener_) listener_();
  }

  const CommonConfig config_;
  const int max_in_flight_;
  const bool allow_auto_topic_creation_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  bool stopped_ = false;
  std::function<void()> listener_;
  asio::steady_timer tick_;
  int64_t tick_at_ms_ = 0;

  // Bootstrap servers are nodes -1, -2, ...
  std::map<int32_t, Node> nodes_;
  ClusterMetadata metadata_;
  std::set<std::string> topics_;
  bool metadata_wanted_ = true;
  bool metadata_in_flight_ = false;
  int64_t last_metadata_request_ms_ = 0;
  int next_bootstrap_ = 0;
  Backoff reconnect_backoff_;
  absl::Status last_error_;
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_NETWORK_CLIENT_H_
