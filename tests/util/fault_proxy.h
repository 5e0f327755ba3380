// FaultProxy: a TCP proxy for Kafka-protocol tests that injects the network
// faults an idempotent producer has to survive. It accepts connections on a
// local port, connects each to a target (a broker), and forwards whole
// size-prefixed Kafka frames in both directions; on a schedule ("every Nth")
// or with seeded randomness it
//
//  - drops a response: once a whole response frame has arrived from the
//    target it closes both connections instead of forwarding it, so the
//    request was processed but the client never learns of it;
//  - resets a connection: instead of forwarding a request it closes both
//    connections with a TCP RST, so the request never arrives;
//  - delays a response before forwarding it (per connection, in order).
//
// Requests and responses are counted across all connections. Clients reach
// the broker through the proxy only if the broker advertises the proxy's
// address (`--set advertised.listeners=127.0.0.1:<proxy port>`).
//
// Thread-safe: the proxy runs its own I/O thread; every method may be called
// from any thread at any time.
#ifndef FJORD_TESTS_UTIL_FAULT_PROXY_H_
#define FJORD_TESTS_UTIL_FAULT_PROXY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace fjord::testing {

struct FaultOptions {
  // Drop every Nth response (0: never), and/or each with probability p.
  int64_t drop_response_every = 0;
  double drop_response_probability = 0;
  // Reset the connection instead of forwarding every Nth request, and/or
  // each with probability p.
  int64_t reset_every = 0;
  double reset_probability = 0;
  // Delay responses by delay_ms, each with probability delay_probability.
  int64_t delay_ms = 0;
  double delay_probability = 1.0;
  // Seeds the random draws.
  uint64_t seed = 1;
  // No fault before this many requests have been forwarded, so clients can
  // get through their first handshakes.
  int64_t grace_requests = 0;
};

struct FaultProxyStats {
  int64_t connections = 0;        // accepted and connected to the target
  int64_t refused = 0;            // accepted with no reachable target
  int64_t requests = 0;           // request frames forwarded
  int64_t responses = 0;          // response frames forwarded
  int64_t dropped_responses = 0;  // response frames withheld (connection cut)
  int64_t resets = 0;             // connections reset instead of a request
  int64_t delayed = 0;            // responses delayed
};

class FaultProxy {
 public:
  explicit FaultProxy(const FaultOptions& faults = {});
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  // Stops.
  ~FaultProxy();

  // Listens on host:port (port 0: the kernel picks) and starts the I/O
  // thread. kUnavailable when it cannot listen.
  absl::Status Start(const std::string& host = "127.0.0.1", uint16_t port = 0);
  uint16_t port() const;

  // Where new connections go. Connections accepted while no target is set
  // (or the target refuses) are closed at once.
  void SetTarget(const std::string& host, uint16_t port);
  // Reads the target ("host:port") from `path` for each new connection, so
  // another process can move it (a broker restarted on a new port). A
  // missing or empty file is no target.
  void SetTargetFile(const std::string& path);
  // Takes effect for the next request or response.
  void SetFaults(const FaultOptions& faults);
  FaultProxyStats stats() const;
  // Resets every open connection now.
  void ResetAll();
  // Closes the listener and every connection, and joins the I/O thread.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fjord::testing

#endif  // FJORD_TESTS_UTIL_FAULT_PROXY_H_
