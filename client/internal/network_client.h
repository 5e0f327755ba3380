// NetworkClient: a client's network loop (an Asio io_context), its
// connections to brokers by node id, and the cluster metadata (brokers,
// topics, partition leaders) it keeps current. Producer and Consumer each
// own one and do all their network work in its loop.
//
// Who runs the loop: with Mode::kThread (the producer) a thread of its
// own; with Mode::kCaller (the consumer) whoever calls Drive, so that a
// response wakes the thread that waits for it (Poll) and not a network
// thread that would then have to wake it: on this class of machine each
// such hand-off costs tens of microseconds of latency. "The io thread"
// below is that thread, or the thread inside Drive.
//
// Thread safety: Start, Stop, Post, Interrupt, OnIoThread and guard may be
// called from any thread, Drive and DriveReady from one thread at a time
// (kCaller, and not from within the loop); everything else only on the io
// thread (from a posted function or a handler, or, kThread, holding the
// loop's guard), and the listener runs there.
#ifndef FJORD_CLIENT_INTERNAL_NETWORK_CLIENT_H_
#define FJORD_CLIENT_INTERNAL_NETWORK_CLIENT_H_

#include <chrono>
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
#include "client/internal/loop_guard.h"

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
  enum class Mode { kThread, kCaller };
  NetworkClient(CommonConfig config, int max_in_flight,
                bool allow_auto_topic_creation, Mode mode = Mode::kThread);
  NetworkClient(const NetworkClient&) = delete;
  NetworkClient& operator=(const NetworkClient&) = delete;
  ~NetworkClient();

  // Called on the io thread whenever metadata changes or a connection
  // becomes ready or fails. Set before Start.
  void SetListener(std::function<void()> listener) {
    listener_ = std::move(listener);
  }
  void Start();
  // Closes every connection (failing what is outstanding) and ends the loop
  // (kThread: joins the thread). Idempotent. Not from the io thread.
  void Stop();
  void Post(std::function<void()> fn) {
    asio::post(io_, Guarded(guard(), std::move(fn)));
  }
  // kThread: the guard the loop's thread holds while it runs handlers; a
  // thread that takes it (LoopGuard::TryHold) may do the loop's work. Null
  // for kCaller, whose loop only the driving thread runs (Drive holds the
  // guard for its whole run, so handlers need not take it).
  LoopGuard* guard() { return mode_ == Mode::kThread ? &guard_ : nullptr; }
  // Makes a thread waiting in Drive return (it re-checks what it waits
  // for).
  void Interrupt() {
    Post([] {});
  }
  // True on the thread running the loop's code now (holding its guard).
  bool OnIoThread() const;

  // kCaller: runs the loop on this thread until one handler has run or
  // `timeout` has passed; at once after Stop.
  void Drive(std::chrono::milliseconds timeout);
  // kCaller: runs what is ready (answers that arrived, posted work)
  // without waiting.
  void DriveReady();
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
  // Closes the connections and lets the loop end; on the io thread.
  void Shutdown();

  const CommonConfig config_;
  const int max_in_flight_;
  const bool allow_auto_topic_creation_;
  const Mode mode_;
  asio::io_context io_;
  LoopGuard guard_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;  // kThread
  // Set by Shutdown, on the io thread (kCaller: the thread that drives,
  // which is Stop's too, never at the same time).
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
