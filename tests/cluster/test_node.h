// An in-process cluster member for tests: its own connection to etcd
// through a TcpProxy (so the test can cut it off, as a crash or a network
// partition looks to etcd), a session, a metadata cache and a controller.
// Not thread-safe.
#ifndef FJORD_TESTS_CLUSTER_TEST_NODE_H_
#define FJORD_TESTS_CLUSTER_TEST_NODE_H_

#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "broker/cluster/broker_session.h"
#include "broker/cluster/controller.h"
#include "broker/cluster/etcd_client.h"
#include "broker/cluster/metadata_cache.h"
#include "tests/cluster/etcd_process.h"

namespace fjord::testing {

// The lease TTL the tests use: etcd's minimum.
inline constexpr int64_t kTestTtlSeconds = 2;

inline std::unique_ptr<cluster::EtcdClient> ConnectEtcd(
    const std::string& endpoint,
    absl::Duration request_timeout = absl::Seconds(1)) {
  cluster::EtcdOptions o;
  o.endpoints = {endpoint};
  o.request_timeout = request_timeout;
  auto c = cluster::EtcdClient::Connect(o);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

struct TestNodeOptions {
  bool start_controller = true;
  cluster::ControllerOptions controller;
  // Defaults to "/data/<node id>".
  std::string data_dir;
  absl::Duration takeover_wait = absl::Seconds(1);
};

class TestNode {
 public:
  TestNode(EtcdProcess& etcd, const cluster::KeyLayout& keys, int32_t id,
           TestNodeOptions options = {})
      : id_(id), keys_(keys) {
    proxy_ = std::make_unique<TcpProxy>(etcd.port());
    etcd_ = ConnectEtcd(proxy_->endpoint());
    auto cache = cluster::MetadataCache::Start(etcd_.get(), keys);
    INFO(cache.status().ToString());
    REQUIRE(cache.ok());
    cache_ = std::move(*cache);
    cluster::SessionOptions so;
    so.self.node_id = id;
    so.self.kafka = {"127.0.0." + std::to_string(id + 1), 9092};
    so.self.grpc = {"127.0.0." + std::to_string(id + 1), 9093};
    so.self.hostname = "test-host";
    so.self.data_dir = options.data_dir.empty() ? "/data/" + std::to_string(id)
                                                : options.data_dir;
    so.self.pid = getpid();
    so.ttl_seconds = kTestTtlSeconds;
    so.takeover_wait = options.takeover_wait;
    auto session = cluster::BrokerSession::Register(
        etcd_.get(), keys, so, [this](const absl::Status&) { fatal_ = true; });
    status_ = session.status();
    if (!session.ok()) return;
    session_ = std::move(*session);
    if (options.start_controller) {
      controller_ = std::make_unique<cluster::Controller>(
          etcd_.get(), keys, cache_.get(), session_.get(), options.controller);
      controller_->Start();
    }
  }
  ~TestNode() {
    if (controller_) controller_->Stop();
    session_.reset();
    cache_.reset();
  }

  int32_t id() const { return id_; }
  const absl::Status& status() const { return status_; }
  cluster::MetadataCache& cache() { return *cache_; }
  cluster::BrokerSession& session() { return *session_; }
  cluster::Controller& controller() { return *controller_; }
  cluster::EtcdClient& etcd() { return *etcd_; }
  TcpProxy& proxy() { return *proxy_; }
  bool fatal() const { return fatal_; }

  // From etcd's side the node is gone: its connections stall (its lease is
  // no longer kept alive). The node keeps running, cut off.
  void CutOff() { proxy_->SetBlackhole(true); }
  void Reconnect() { proxy_->SetBlackhole(false); }

 private:
  const int32_t id_;
  const cluster::KeyLayout keys_;
  std::unique_ptr<TcpProxy> proxy_;
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::MetadataCache> cache_;
  std::unique_ptr<cluster::BrokerSession> session_;
  std::unique_ptr<cluster::Controller> controller_;
  absl::Status status_;
  std::atomic<bool> fatal_{false};
};

// Polls `pred` every 20 ms until it holds or `timeout` passes; returns how
// long it took, or nullopt.
template <typename Pred>
std::optional<absl::Duration> WaitUntil(Pred pred, absl::Duration timeout) {
  const absl::Time t0 = absl::Now();
  while (absl::Now() - t0 < timeout) {
    if (pred()) return absl::Now() - t0;
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (pred()) return absl::Now() - t0;
  return std::nullopt;
}

}  // namespace fjord::testing

#endif  // FJORD_TESTS_CLUSTER_TEST_NODE_H_
