// ProxiedBroker: a real fjord-broker (tests/util/broker_process.h) that
// clients reach only through a FaultProxy (tests/util/fault_proxy.h): the
// broker advertises the proxy's address (advertised.listeners), so every
// connection a client makes after bootstrap goes through the proxy too.
// Failing to start fails the current Catch2 test.
//
// Not thread-safe, except as BrokerProcess and FaultProxy are: a test may
// call KillAndRestart from one thread while clients run on others.
#ifndef FJORD_TESTS_E2E_PROXIED_BROKER_H_
#define FJORD_TESTS_E2E_PROXIED_BROKER_H_

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catch2/catch.hpp"
#include "tests/util/broker_process.h"
#include "tests/util/fault_proxy.h"
#include "tests/util/test_util.h"

namespace fjord::testing {

struct ProxiedBroker {
  // `args` are added to the broker's command line.
  explicit ProxiedBroker(const FaultOptions& faults,
                         std::vector<std::string> args = {})
      : proxy(faults) {
    REQUIRE(proxy.Start().ok());
    BrokerProcess::Options o;
    o.data_dir = tmp.Sub("data");
    o.args = {"--set",
              "advertised.listeners=127.0.0.1:" + std::to_string(proxy.port())};
    o.args.insert(o.args.end(), args.begin(), args.end());
    broker = MustStartBroker(std::move(o));
    proxy.SetTarget("127.0.0.1", broker->kafka_port());
  }

  // "127.0.0.1:<proxy port>": what clients bootstrap from.
  std::string bootstrap() const {
    return "127.0.0.1:" + std::to_string(proxy.port());
  }

  // kill -9, a pause, and a restart on the same data directory (and Kafka
  // port); the proxy's target follows the broker.
  void KillAndRestart(std::chrono::milliseconds pause) {
    broker->Kill();
    std::this_thread::sleep_for(pause);
    absl::Status s = broker->Restart();
    INFO(s.ToString());
    REQUIRE(s.ok());
    proxy.SetTarget("127.0.0.1", broker->kafka_port());
  }

  TempDir tmp;
  FaultProxy proxy;
  std::unique_ptr<BrokerProcess> broker;
};

}  // namespace fjord::testing

#endif  // FJORD_TESTS_E2E_PROXIED_BROKER_H_
